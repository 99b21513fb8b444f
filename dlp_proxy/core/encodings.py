r"""Encoded words inside text, decoded, so that what they hide is inspected and acted on whole.

Whole values in base64 or percent-encoding are nested documents (`codecs.values.sniff`); this
finds what is written inside a sentence, or nested deeper than those documents go:

- base64 (standard or URL-safe, padded or not), base32 (RFC 4648), hex (`3231...`, upper or
  lower case, bytes separated by spaces, colons or dashes), whose bytes are UTF-8 text, UTF-16
  text (.NET, PowerShell `-EncodedCommand`) or gzip/zlib of text (inflated within bounds);
- percent-encoding, any number of times; `data:` URIs (text, or an image's metadata text);
- quoted-printable (`=32=31`, soft line breaks), C and JSON escapes (`\x32`, `\u0032`, octal
  `\062`), HTML/XML character references (`&#50;`, `&#x32;`, `&hyphen;`);
- markup and Markdown between digits (`<b>219</b>-09-9999`, `219\-09`, `**219**-09`);
- numbers written as words (`dlp_proxy.core.numberwords`).

Each finding is `(start, end, decoded)`: `text[start:end]` is the encoded word, `decoded` what
a reader gets from it, with the encoded words inside that decoded too (base64 of base64 ...).
A finding in `decoded` covers the whole word, so a rewrite replaces the word. Every decoder
runs only when a cheap test says its encoding may be there (`"&" in text`, a regex scan).

Bounds, each failing closed (`UndecodableBody`) when hit, since skipping would be a bypass: the
decoded output of one message (`DecodeBudget`, `DECODE_BUDGET_CHARS`), the layers of words
inside words (`MAX_LAYERS`), and what one compressed word inflates to (`INFLATE_MAX_BYTES`,
`INFLATE_MAX_RATIO`).
"""

from __future__ import annotations

import base64
import binascii
import html
import re
import zlib
from collections.abc import Callable, Iterator
from urllib.parse import unquote_to_bytes

from dlp_proxy.core.normalize import normalize
from dlp_proxy.core.numberwords import number_words
from dlp_proxy.errors import UndecodableBody

__all__ = [
    "DECODE_BUDGET_CHARS",
    "INFLATE_MAX_BYTES",
    "INFLATE_MAX_RATIO",
    "MAX_LAYERS",
    "DecodeBudget",
    "embedded_encodings",
]

# All the encoded words of one message decode to at most this many characters (all layers).
DECODE_BUDGET_CHARS = 32 * 1024 * 1024
# Encoded words inside decoded words are read this deep; one more layer fails closed.
MAX_LAYERS = 8
# A compressed word (base64 of gzip) inflates to at most this many bytes ...
INFLATE_MAX_BYTES = 1024 * 1024
# ... and to at most this many times its compressed size.
INFLATE_MAX_RATIO = 200
# A data: URI is decoded when its payload is at most this long (the body's own limits bound it).
DATA_URI_MAX_CHARS = 16 * 1024 * 1024

Word = tuple[int, int, str]


class DecodeBudget:
    """What is left of one message's decoding budget, in characters of decoded output."""

    def __init__(self, chars: int = DECODE_BUDGET_CHARS) -> None:
        self.limit = chars
        self.left = chars

    def spend(self, chars: int) -> None:
        """Count `chars` decoded characters; over the budget, the message fails closed."""
        self.left -= chars
        if self.left < 0:
            raise UndecodableBody(
                f"encoded words in the body decode to more than {self.limit} characters; "
                "a body that cannot be read whole is not forwarded"
            )


def embedded_encodings(text: str, budget: DecodeBudget | None = None) -> list[Word]:
    """`(start, end, decoded)` for each encoded word inside `text` (see the module docstring).

    `budget` is shared by the calls for one message; without one each call has its own.
    """
    return _layer(text, budget or DecodeBudget(), 1)


def _layer(text: str, budget: DecodeBudget, depth: int) -> list[Word]:
    found: list[Word] = []
    seen: set[Word] = set()
    for start, end, decoded in _words(text, budget):
        inner = normalize(decoded).text
        nested = _layer(inner, budget, depth + 1) if depth < MAX_LAYERS else _none(inner, budget)
        # The decoding as it is, and with the words inside it decoded: a number that happens
        # to be hex of text (`5378277131444744`) must stay readable as the number too.
        readings = [(start, end, inner)]
        if nested:
            readings += [(start, end, _substituted(inner, nested))]
            readings += _alternatives(start, end, nested)
        for word in readings:
            if word not in seen:
                seen.add(word)
                found.append(word)
    return found


def _none(text: str, budget: DecodeBudget) -> list[Word]:
    """Nothing, when `text` holds no further encoded word; else the message fails closed."""
    if next(iter(_words(text, budget)), None) is not None:
        raise UndecodableBody(
            f"the body has values encoded more than {MAX_LAYERS} times over; "
            "they are not decoded further"
        )
    return []


def _substituted(text: str, nested: list[Word]) -> str:
    """`text` with its encoded words replaced by their decoding (the first of overlapping ones)."""
    out, at = [], 0
    for start, end, decoded in sorted(nested, key=lambda w: (w[0], -w[1])):
        if start >= at:
            out += [text[at:start], decoded]
            at = end
    return "".join(out) + text[at:]


def _alternatives(start: int, end: int, nested: list[Word]) -> Iterator[Word]:
    """The inner words' decodings that `_substituted` did not use, over the outer word."""
    used, at = set(), 0
    for word in sorted(nested, key=lambda w: (w[0], -w[1])):
        if word[0] >= at:
            used.add(word)
            at = word[1]
    for word in nested:
        if word not in used:
            yield start, end, word[2]


def _words(text: str, budget: DecodeBudget) -> Iterator[Word]:
    """Each encoded word of one layer, decoded once, its decoding counted against `budget`."""
    for decoder in _DECODERS:
        for start, end, decoded in decoder(text, budget):
            if decoded and decoded != text[start:end]:
                budget.spend(len(decoded))
                yield start, end, decoded


# --- bytes that are text ----------------------------------------------------------------------


def _readable(raw: bytes, budget: DecodeBudget) -> str | None:
    """The text a reader gets from decoded bytes: UTF-8, UTF-16/32, or gzip/zlib of those."""
    from dlp_proxy.core.codecs.binary import sniff_text

    if _compressed(raw):
        raw = _inflated(raw, budget)
    try:
        sniffed = sniff_text(raw)
    except UndecodableBody:  # the NUL pattern of UTF-16 in bytes that are not UTF-16
        return None
    return sniffed[0] if sniffed else None


def _compressed(raw: bytes) -> bool:
    """The gzip magic number, or a zlib header (deflate, a window size, its check bits)."""
    if raw[:2] == b"\x1f\x8b":
        return True
    return (
        len(raw) > 2
        and raw[0] & 0x0F == 8
        and raw[0] >> 4 <= 7
        and int.from_bytes(raw[:2]) % 31 == 0
    )


def _inflated(raw: bytes, budget: DecodeBudget) -> bytes:
    """Gzip or zlib data inflated within the bounds; corrupt data stays as it is."""
    limit = min(INFLATE_MAX_BYTES, len(raw) * INFLATE_MAX_RATIO)
    inflater = zlib.decompressobj(wbits=47)  # 32 + 15: a gzip or a zlib header
    try:
        out = inflater.decompress(raw, limit + 1)
    except zlib.error:
        return raw
    if len(out) > limit:
        raise UndecodableBody(
            f"a compressed value in the body inflates to more than {limit} bytes "
            f"({INFLATE_MAX_BYTES} bytes or {INFLATE_MAX_RATIO} times its size at most)"
        )
    budget.spend(len(out))
    return out


# --- base64, base32, hex --------------------------------------------------------------------------

# Runs of the base64 alphabet (base32 words are such runs too), of letters and digits (hex
# words are), and of hex bytes with a separator. Every run is taken whole (possessive `+`) and
# checked in Python: a pattern that can fail at its end would be tried again from each of its
# characters, which on a long run is quadratic.
_BASE64_WORD = re.compile(r"[A-Za-z0-9+/_=-]{12,}+")
_BASE32 = re.compile(r"[A-Z2-7]{16,}={0,6}")
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")
_HEX_WORD = re.compile(r"[0-9A-Za-z]{16,}+")
_SEPARATED_HEX = re.compile(
    r"[0-9A-Fa-f]{2}(?P<sep>[ :-])[0-9A-Fa-f]{2}(?:(?P=sep)[0-9A-Fa-f]{2}){6,}+"
)
# ... and the cheap scans that say whether a hex word of text may be there: any ASCII byte is
# 0x20-0x7e, so hex of text has a digit 2-7 before every third hex digit or so (the digits of
# a number are 0x30-0x39 bytes). These start with a character class, which the regex engine
# skips to quickly; the full patterns run only where these match.
_HEX_PROBE = re.compile(r"[2-7][0-9A-Fa-f][0-9A-Fa-f]{0,4}[2-7][0-9A-Fa-f]")
# C and Python byte lists: `0x32, 0x31, ...`, `0x32 0x31 ...`.
_PREFIXED_HEX = re.compile(r"0[xX][0-9A-Fa-f]{2}(?:,?[ \t]?0[xX][0-9A-Fa-f]{2}){7,}+")
_NOT_HEX_DIGITS = re.compile(r"0[xX]|[^0-9A-Fa-f]")
_SEPARATED_HEX_PROBE = re.compile(r"[2-7][0-9A-Fa-f][ :-][2-7][0-9A-Fa-f][ :-]")


def _starts_word(text: str, start: int, joiners: str) -> bool:
    """No letter, digit, `_` or one of `joiners` right before `start`."""
    return start == 0 or not _joins(text[start - 1], joiners)


def _ends_word(text: str, end: int, joiners: str) -> bool:
    """No letter, digit, `_` or one of `joiners` right at `end`."""
    return end == len(text) or not _joins(text[end], joiners)


def _joins(char: str, joiners: str) -> bool:
    return char.isalnum() or char == "_" or char in joiners


def _base64(text: str, budget: DecodeBudget) -> Iterator[Word]:
    """Base64 words, and base32 words among them."""
    from dlp_proxy.core.codecs.values import base64_bytes

    for match in _BASE64_WORD.finditer(text):
        word = match.group()
        if "=" in word.rstrip("=") or not _starts_word(text, match.start(), "+/=-"):
            continue  # `=` inside: `key=value`, not one base64 word
        if not _ends_word(text, match.end(), ""):
            continue
        found = base64_bytes(word) if len(word.rstrip("=")) + 2 >= len(word) else None
        decoded = _readable(found[0], budget) if found is not None else None
        if decoded is None and _BASE32.fullmatch(word):
            decoded = _base32(word, budget)
        if decoded is not None:
            yield match.start(), match.end(), decoded


def _base32(word: str, budget: DecodeBudget) -> str | None:
    """The text in a base32 word (RFC 4648, padded or not), as an encoder writes it."""
    body = word.rstrip("=")
    if len(body) % 8 in (1, 3, 6) or (len(body) < len(word) and len(word) % 8):
        return None
    try:
        raw = base64.b32decode(body + "=" * (-len(body) % 8))
    except (binascii.Error, ValueError):
        return None
    if base64.b32encode(raw).decode("ascii").rstrip("=") != body:
        return None  # trailing bits set: not what an encoder writes
    return _readable(raw, budget)


def _hex(text: str, budget: DecodeBudget) -> Iterator[Word]:
    """Hex words (eight bytes or more) of text: hashes decode to bytes that are no text."""
    for match in _hex_words(text):
        raw = bytes.fromhex(_NOT_HEX_DIGITS.sub("", match.group()))
        if (decoded := _readable(raw, budget)) is not None:
            yield match.start(), match.end(), decoded


def _hex_words(text: str) -> Iterator[re.Match[str]]:
    """`3231...`, `32 31 ...` (or `:`, `-` between bytes), `0x32, 0x31, ...`, as words."""
    if _HEX_PROBE.search(text):
        yield from (m for m in _HEX_WORD.finditer(text) if _HEX.fullmatch(m.group()))
    if _SEPARATED_HEX_PROBE.search(text):
        for match in _SEPARATED_HEX.finditer(text):
            if _starts_word(text, match.start(), ":-") and _ends_word(text, match.end(), ":-"):
                yield match
    if "0x" in text or "0X" in text:
        for match in _PREFIXED_HEX.finditer(text):
            if _starts_word(text, match.start(), "") and _ends_word(text, match.end(), ""):
                yield match


# --- percent-encoding, data: URIs -------------------------------------------------------------

_PERCENT_WORD = re.compile(r"(?<![^\s%])[^\s%]*+(?:%[0-9A-Fa-f]{2}[^\s%]*+)++")
_DATA_URI = re.compile(
    r"data:(?P<type>[A-Za-z]+/[A-Za-z0-9.+-]+)?(?P<params>(?:;[A-Za-z0-9-]+=[^;,\s\"']*)*)"
    r"(?P<base64>;base64)?,(?P<data>[A-Za-z0-9+/=%_.~!$&'()*-]*)"
)


def _percent(text: str, budget: DecodeBudget) -> Iterator[Word]:
    """Percent-encoded words, decoded as many times as they decode (each time shortens them)."""
    from dlp_proxy.core.codecs.values import unquote_exact

    if "%" not in text:
        return
    for match in _PERCENT_WORD.finditer(text):
        word, layers = match.group(), 0
        while (unquoted := unquote_exact(word)) is not None:
            word, layers = unquoted, layers + 1
            budget.spend(len(word))
        if layers:
            yield match.start(), match.end(), word


def _data_uris(text: str, budget: DecodeBudget) -> Iterator[Word]:
    """`data:` URIs: the text they hold, or the text in the metadata of the image they hold."""
    if "data:" not in text:
        return
    for match in _DATA_URI.finditer(text):
        payload = match.group("data")
        if not payload or len(payload) > DATA_URI_MAX_CHARS:
            continue
        content = _data_uri_bytes(payload, bool(match.group("base64")))
        if content is None:
            continue
        readable = _data_uri_text((match.group("type") or "text/plain").lower(), content, budget)
        if readable:
            yield match.start(), match.end(), readable


def _data_uri_bytes(payload: str, is_base64: bool) -> bytes | None:
    if not is_base64:
        return unquote_to_bytes(payload)
    try:
        return base64.b64decode(unquote_to_bytes(payload) + b"=" * (-len(payload) % 4))
    except (binascii.Error, ValueError):
        return None


def _data_uri_text(media_type: str, content: bytes, budget: DecodeBudget) -> str:
    """What a reader of the URI gets as text; an image that cannot be read fails closed."""
    from dlp_proxy.core.codecs.images import ImageDocument, image_format

    if media_type.startswith("image/") or image_format(content) is not None:
        image = ImageDocument(content)  # UndecodableBody for what is not a readable image
        if image.uninspectable:
            raise UndecodableBody(
                "a data: URI holds an image with parts that cannot be inspected: "
                + ", ".join(image.uninspectable)
            )
        return "\n".join(s.text for s in image.segments)
    readable = _readable(content, budget)
    if readable is None:
        raise UndecodableBody(f"a data: URI of type {media_type} is not text dlp-proxy reads")
    return readable


# --- escapes: quoted-printable, C and JSON, character references ------------------------------


def _run_of(word: str) -> re.Pattern[str]:
    """Words matching `word`, and runs of them with a few spaces between (`&#50; &#49;`).

    `word` starts with a lookbehind for the start of a word, and takes what it matches whole:
    tried again from inside a word, or backtracking, it would be quadratic on long words.
    """
    return re.compile(rf"{word}(?:[ \t]{{1,3}}{word})*+")


_QP_WORD = _run_of(r"(?<![^\s=])[^\s=]*+(?:(?:=[0-9A-Fa-f]{2}|=\r?\n)[^\s=]*+)++")
_QP_ESCAPE = re.compile(r"=[0-9A-Fa-f]{2}")
_QP_MIN_ESCAPES = 3  # fewer are `key=42` in prose, not quoted-printable
_C_ESCAPE = r"\\(?:x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|u\{[0-9A-Fa-f]{1,6}\}|[0-7]{3})"
_C_WORD = _run_of(rf"(?<![^\s\\])[^\s\\]*+(?:{_C_ESCAPE}[^\s\\]*+)++")
_ONE_C_ESCAPE = re.compile(_C_ESCAPE)
_REFERENCE = r"&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});?"
_REFERENCE_WORD = _run_of(rf"(?<![^\s&])[^\s&]*+(?:{_REFERENCE}[^\s&]*+)++")


def _quoted_printable(text: str, budget: DecodeBudget) -> Iterator[Word]:
    if "=" not in text:
        return
    for match in _QP_WORD.finditer(text):
        word = match.group()
        if len(_QP_ESCAPE.findall(word)) < _QP_MIN_ESCAPES:
            continue
        try:
            decoded = binascii.a2b_qp(word.encode("utf-8")).decode("utf-8")
        except (UnicodeDecodeError, binascii.Error):
            continue
        yield match.start(), match.end(), decoded


def _c_escapes(text: str, budget: DecodeBudget) -> Iterator[Word]:
    if "\\" not in text:
        return
    for match in _C_WORD.finditer(text):
        yield match.start(), match.end(), _unescape_c(match.group())


def _unescape_c(word: str) -> str:
    r"""`\x`, octal (bytes, read as UTF-8 when they are) and `\u` escapes (characters) undone."""
    out: list[str] = []
    pending = bytearray()

    def flush() -> None:
        if pending:
            try:
                out.append(pending.decode("utf-8"))
            except UnicodeDecodeError:
                out.append(pending.decode("latin-1"))
            pending.clear()

    at = 0
    for match in _ONE_C_ESCAPE.finditer(word):
        if match.start() > at:
            flush()
            out.append(word[at : match.start()])
        escape = match.group()[1:]
        if escape[0] == "x":
            pending.append(int(escape[1:], 16))
        elif escape[0] in "uU":
            flush()
            code = int(escape[1:].strip("{}"), 16)
            out.append(chr(code) if code <= 0x10FFFF and not 0xD800 <= code < 0xE000 else "\ufffd")
        else:
            pending.append(int(escape, 8) & 0xFF)
        at = match.end()
    flush()
    return "".join(out) + word[at:]


def _references(text: str, budget: DecodeBudget) -> Iterator[Word]:
    if "&" not in text:
        return
    for match in _REFERENCE_WORD.finditer(text):
        yield match.start(), match.end(), html.unescape(match.group())


# --- markup and Markdown between digits -----------------------------------------------------------

_TAG = r"<!--.{0,256}?-->|<[^<>\n]{0,256}>"
_SEPARATOR = r"[ \t.\-/_|:\\]"
# Each step atomic: a comment is a tag too, and retrying every way to read a long run of them
# when the run does not end in a digit would take exponential time.
_MARKUP_RUN = re.compile(rf"\d(?>\d|{_SEPARATOR}|{_TAG}|{_REFERENCE})*\d")
_MARKUP = re.compile(_TAG, re.DOTALL)
_MARKDOWN_RUN = re.compile(r"\d(?>[\d \t.\-/|:*`~]|\\[!-/:-@\[-`{-~])*\d")
_MARKDOWN_MARK = re.compile(r"[\\*`~]")
_MARKDOWN_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def _markup(text: str, budget: DecodeBudget) -> Iterator[Word]:
    """Digits with tags or comments between them: `<b>219</b>-09`, `219<!-- -->09`."""
    if "<" not in text:
        return
    for match in _MARKUP_RUN.finditer(text):
        run = match.group()
        if "<" in run:
            yield match.start(), match.end(), html.unescape(_MARKUP.sub("", run))


def _markdown(text: str, budget: DecodeBudget) -> Iterator[Word]:
    r"""Digits with Markdown between them: `219\-09`, `**219**-09`, `` `4539` `1488` ``."""
    if not _MARKDOWN_MARK.search(text):
        return
    for match in _MARKDOWN_RUN.finditer(text):
        run = match.group()
        rendered = re.sub(r"[*`~]", "", _MARKDOWN_ESCAPE.sub(r"\1", run))
        if rendered != run:
            yield match.start(), match.end(), rendered


def _spoken(text: str, budget: DecodeBudget) -> Iterator[Word]:
    yield from number_words(text)


_DECODERS: tuple[Callable[[str, DecodeBudget], Iterator[Word]], ...] = (
    _hex,
    _data_uris,
    _base64,
    _percent,
    _quoted_printable,
    _c_escapes,
    _references,
    _markup,
    _markdown,
    _spoken,
)
