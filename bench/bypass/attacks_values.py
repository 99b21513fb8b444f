"""Issue 15, encodings inside values: `value_encodings`, `unicode_digits`, `number_words`.

`value_encodings`: the secret inside a value in an encoding any script undoes (hex with and
without separators, base32, base64url, base64 nested deep, of UTF-16 or of gzip, data URIs,
quoted-printable, C and JSON escapes, percent-encoding five deep, character references, markup
and Markdown between its digits). `unicode_digits`: its digits in another Unicode form, glued to
letters, with odd separators or invisible characters between them. `number_words`: its digits
spoken, as speech-to-text writes call transcripts. Benign twins of each register as controls.
Every class here is in `registry.MATRIX`.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import contextlib
import gzip
import html
import json
import quopri
import re
import unicodedata
import zlib
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

from bench.bypass import undo as u
from bench.bypass.cases import BENIGN, FORM, Made, b64, post, post_json
from bench.bypass.client import Http1
from bench.bypass.controls import case as control
from bench.bypass.pii import Secret
from bench.bypass.registry import CARD, HTTP, HTTPS, REVERSE, SSN, case
from bench.bypass.seen import Seen

__all__: list[str] = []

Headers = tuple[tuple[str, str], ...]
TEXT = (("Content-Type", "text/plain; charset=utf-8"),)
HTML = (("Content-Type", "text/html; charset=utf-8"),)
MARKDOWN = (("Content-Type", "text/markdown; charset=utf-8"),)


def note(text: str) -> Http1:
    """A JSON note whose text is `text`, in raw UTF-8 as browsers send it (no escapes)."""
    doc = json.dumps({"ticket": "TCK-4821", "text": text}, ensure_ascii=False)
    return post("/v1/notes", doc.encode(), (("Content-Type", "application/json; charset=utf-8"),))


def plain(text: str, headers: Headers = TEXT) -> Http1:
    """A text body (text/plain unless `headers` say otherwise), raw UTF-8."""
    return post("/v1/notes", text.encode(), headers)


def form(**fields: str) -> Http1:
    """A urlencoded form of `fields`."""
    body = "&".join(f"{k}={quote(v, safe='')}" for k, v in fields.items())
    return post("/v1/verify", body, FORM)


# --- what a vendor that knows the trick reads ---------------------------------------------------


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _texts(seen: Seen) -> Iterator[tuple[str, str]]:
    """Each body as text, each JSON string in it, and each form value in it."""
    for label, data in u.bodies(seen):
        text = data.decode("utf-8", "replace")
        yield label, text
        with contextlib.suppress(ValueError, RecursionError):
            for value in _strings(json.loads(text)):
                yield "JSON string", value
        if "=" in text and not text.lstrip().startswith(("{", "[")):
            for _, value in parse_qsl(text, keep_blank_values=True):
                yield "form value", value


def reading(name: str, read: Callable[[str], str | None]) -> u.Undo:
    """An undo that applies `read` to every text of the record (bodies, JSON strings, forms)."""

    def candidates(seen: Seen) -> u.Candidates:
        out = []
        for label, text in _texts(seen):
            with contextlib.suppress(ValueError, UnicodeError, binascii.Error, zlib.error):
                if (found := read(text)) is not None:
                    out.append((label, found.encode("utf-8", "replace")))
        return out

    return u.Undo(name, candidates)


def _hex_read(text: str) -> str:
    runs = re.findall(r"(?:[0-9A-Fa-f]{2}[ :-]?){6,}", text)
    return "\n".join(bytes.fromhex(re.sub("[ :-]", "", r)).decode("utf-8", "replace") for r in runs)


def _words_of(alphabet: str, text: str) -> list[str]:
    return re.findall(f"[{alphabet}]{{12,}}=*", text)


def _b32_read(text: str) -> str:
    out = []
    for word in _words_of("A-Z2-7", text):
        with contextlib.suppress(binascii.Error, ValueError):
            body = word.rstrip("=")
            out.append(base64.b32decode(body + "=" * (-len(body) % 8)).decode("utf-8", "replace"))
    return "\n".join(out)


def _b64_raw(word: str) -> bytes:
    body = word.rstrip("=")
    return base64.urlsafe_b64decode(
        body.replace("+", "-").replace("/", "_") + "=" * (-len(body) % 4)
    )


def _b64_deep(text: str) -> str:
    """Base64 words decoded again and again while they decode to text."""
    out = []
    for word in _words_of(r"A-Za-z0-9+/_-", text):
        for _ in range(12):
            try:
                word = _b64_raw(word).decode("utf-8")
            except (binascii.Error, ValueError):
                break
        out.append(word)
    return "\n".join(out)


def _b64_utf16(text: str) -> str:
    return "\n".join(
        _b64_raw(w).decode("utf-16-le", "replace") for w in _words_of(r"A-Za-z0-9+/_-", text)
    )


def _b64_inflate(text: str) -> str:
    out = []
    for word in _words_of(r"A-Za-z0-9+/_-", text):
        with contextlib.suppress(binascii.Error, ValueError, zlib.error):
            out.append(zlib.decompress(_b64_raw(word), 47).decode("utf-8", "replace"))  # gz or zlib
    return "\n".join(out)


def _unquote_deep(text: str) -> str:
    for _ in range(12):
        text = unquote(text)
    return text


def _c_escapes(text: str) -> str:
    return codecs.decode(text.encode("latin-1", "backslashreplace"), "unicode_escape")


def _markup(text: str) -> str:
    text = re.sub(r"<!--.*?-->", "", text, flags=re.DOTALL)
    return html.unescape(re.sub(r"<[^>]*>", "", text))


def _markdown(text: str) -> str:
    return re.sub(r"[*`~]", "", re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text))


def _unicode_digits(text: str) -> str:
    """What `int()` and a digit-minded reader make of it: every digit form 0-9, invisibles gone."""
    out = []
    for ch in text:
        if unicodedata.category(ch) in ("Mn", "Me", "Cf", "Cc") and ch not in "\n":
            continue
        if ch in "\u3164\u115f\u1160\uffa0":
            continue
        digit = unicodedata.digit(ch, None)
        out.append(str(digit) if digit is not None else unicodedata.normalize("NFKC", ch))
    return "".join(out)


SPOKEN = {
    **{
        w: str(i)
        for i, w in enumerate(
            ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
        )
    },
    "oh": "0",
    **{
        w: str(i)
        for i, w in enumerate(
            ["cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve"]
        )
    },
}
TEENS = [
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def _spoken(text: str) -> str:
    """Number words as digits, as a transcript analytics tool reads them."""
    words = re.findall(r"[a-z]+|\d+", text.lower())
    out, i = [], 0
    while i < len(words):
        w, nxt = words[i], words[i + 1] if i + 1 < len(words) else ""
        if w in ("double", "triple") and nxt in SPOKEN:
            out.append(SPOKEN[nxt] * (2 if w == "double" else 3))
            i += 2
            continue
        if w in TENS:
            tens = str(TENS.index(w) + 2)
            if nxt in SPOKEN and SPOKEN[nxt] != "0" and nxt != "oh":
                out.append(tens + SPOKEN[nxt])
                i += 2
                continue
            out.append(tens + "0")
        elif w in TEENS:
            out.append(str(10 + TEENS.index(w)))
        elif w in SPOKEN or w.isdigit():
            out.append(SPOKEN.get(w, w))
        i += 1
    return "".join(out)


HEX = reading("hex bytes", _hex_read)
B32 = reading("base32", _b32_read)
B64_DEEP = reading("base64 again and again", _b64_deep)
B64_UTF16 = reading("base64 of UTF-16LE", _b64_utf16)
B64_INFLATE = reading("base64 of gzip or zlib", _b64_inflate)
QP = reading(
    "quoted-printable", lambda t: quopri.decodestring(t.encode()).decode("utf-8", "replace")
)
C_ESCAPES = reading("C and JSON escapes", _c_escapes)
PERCENT_DEEP = reading("percent-decode until it stops", _unquote_deep)
MARKUP = reading("markup and character references", _markup)
MARKDOWN_READ = reading("Markdown rendered", _markdown)
DIGIT_FORMS = reading("Unicode digit forms", _unicode_digits)
SPOKEN_DIGITS = reading("number words", _spoken)


# --- value_encodings ------------------------------------------------------------------------------

VALUES = "value_encodings"


def hex_bytes(text: str, sep: str = "", upper: bool = False) -> str:
    """`text` as hex of its UTF-8 bytes, `sep` between bytes."""
    pairs = [f"{b:02X}" if upper else f"{b:02x}" for b in text.encode()]
    return sep.join(pairs)


@case(VALUES, SSN, HTTP, undo=(HEX,), own=True)
def hex_upper_free_text(s: Secret) -> Made:
    """Upper-case hex of the text in a plain-text note."""
    return plain(f"customer record follows {hex_bytes('ssn ' + s.dashed, upper=True)} end")


@case(VALUES, CARD, HTTPS, undo=(HEX,), own=True)
def hex_spaced_bytes(s: Secret) -> Made:
    """Hex bytes with spaces between them, in a JSON field."""
    return post_json("/v1/records", {"dump": hex_bytes(f"card {s.spaced}", " ")})


@case(VALUES, SSN, REVERSE, undo=(HEX,), own=True)
def hex_colon_bytes(s: Secret) -> Made:
    """Hex bytes with colons between them, in a form field."""
    return form(ref=hex_bytes(f"ssn {s.dashed}", ":"), kind="dump")


def _byte_list_read(text: str) -> str:
    runs = re.findall(r"(?:0x[0-9A-Fa-f]{2},?\s*){6,}", text)
    return "\n".join(
        bytes.fromhex(re.sub(r"0x|[,\s]", "", r)).decode("utf-8", "replace") for r in runs
    )


BYTE_LIST = reading("C byte list", _byte_list_read)


@case(VALUES, CARD, HTTPS, undo=(BYTE_LIST,), own=True)
def hex_byte_list_c(s: Secret) -> Made:
    """A C array of bytes (`0x63, 0x61, ...`) in a pasted code snippet."""
    array = ", ".join(f"0x{b:02x}" for b in f"card {s.spaced}".encode())
    return plain(f"static const char key[] = {{{array}}};\n")


@case(VALUES, CARD, HTTP, undo=(B32,), own=True)
def base32_padded(s: Secret) -> Made:
    """Base32 (RFC 4648, padded) of the text, in a JSON field."""
    return post_json(
        "/v1/records", {"blob": base64.b32encode(f"card {s.spaced}".encode()).decode()}
    )


@case(VALUES, SSN, HTTPS, undo=(B32,), own=True)
def base32_unpadded_text(s: Secret) -> Made:
    """Base32 without padding inside a sentence."""
    word = base64.b32encode(f"ssn {s.dashed}".encode()).decode().rstrip("=")
    return plain(f"the code {word} was read out by the caller")


@case(VALUES, CARD, REVERSE, undo=(B64_DEEP,), own=True)
def base64url_unpadded_text(s: Secret) -> Made:
    """Base64url without padding inside a sentence."""
    return plain(f"token {b64(f'card {s.digits}?', urlsafe=True)} attached to the ticket")


def b64_layers(text: str, layers: int) -> str:
    """`text` base64-encoded `layers` times."""
    for _ in range(layers):
        text = b64(text)
    return text


@case(VALUES, SSN, HTTP, undo=(B64_DEEP,), own=True)
def base64_six_deep(s: Secret) -> Made:
    """Base64 of base64 ... six times, in a JSON field (deeper than the nesting limit)."""
    return post_json("/v1/records", {"payload": b64_layers(f"ssn {s.dashed}", 6)})


@case(VALUES, CARD, HTTPS, undo=(B64_DEEP,), own=True)
def base64_nested_in_text(s: Secret) -> Made:
    """A base64 word in a sentence whose decoding is base64 again, three layers."""
    return plain(f"see blob {b64_layers(f'card {s.spaced}', 3)} from the export")


@case(VALUES, SSN, REVERSE, undo=(B64_UTF16,), own=True)
def base64_utf16_powershell(s: Secret) -> Made:
    """A PowerShell -EncodedCommand (base64 of UTF-16LE) in a plain-text log line."""
    command = base64.b64encode(f"Set-Ssn -Value '{s.dashed}'".encode("utf-16-le")).decode()
    return plain(f"ran: powershell.exe -NoProfile -EncodedCommand {command}\nexit 0\n")


@case(VALUES, CARD, HTTP, undo=(B64_UTF16,), own=True)
def base64_utf16_json(s: Secret) -> Made:
    """Base64 of UTF-16LE text (.NET Convert.ToBase64String of Encoding.Unicode) in JSON."""
    blob = base64.b64encode(f"card {s.spaced}".encode("utf-16-le")).decode()
    return post_json("/v1/records", {"blob": blob})


@case(VALUES, CARD, HTTPS, undo=(B64_INFLATE,), own=True)
def base64_gzip_json(s: Secret) -> Made:
    """Base64 of gzip-compressed text in a JSON field."""
    blob = b64(gzip.compress(f"card {s.spaced} exp 12/29".encode(), mtime=0))
    return post_json("/v1/records", {"archive": blob})


@case(VALUES, SSN, REVERSE, undo=(B64_INFLATE,), own=True)
def base64_zlib_text(s: Secret) -> Made:
    """Base64 of zlib-compressed text inside a sentence."""
    return plain(f"state {b64(zlib.compress(f'ssn {s.dashed}'.encode()))} saved")


@case(VALUES, SSN, HTTP, undo=(u.data_uris(),), own=True)
def data_uri_percent_form(s: Secret) -> Made:
    """A percent-encoded text/plain data URI in a form field."""
    return form(attachment=f"data:text/plain,ssn%20{s.dashed}", kind="note")


@case(VALUES, CARD, HTTPS, undo=(B64_DEEP,), own=True)
def data_uri_in_html(s: Secret) -> Made:
    """A base64 data URI in an HTML body's link."""
    uri = "data:text/plain;base64," + b64(f"card {s.spaced}")
    return plain(f'<html><body><a href="{uri}">receipt</a></body></html>', HTML)


def quoted_printable(text: str, line: int = 0) -> str:
    """Every character of `text` as `=XX`, a soft line break after every `line` escapes."""
    escapes = [f"={b:02X}" for b in text.encode()]
    if not line:
        return "".join(escapes)
    return "=\r\n".join("".join(escapes[i : i + line]) for i in range(0, len(escapes), line))


@case(VALUES, SSN, REVERSE, undo=(QP,), own=True)
def quoted_printable_text(s: Secret) -> Made:
    """Quoted-printable escapes of every character, in a plain-text note."""
    return plain(f"ssn {quoted_printable(s.dashed)} confirmed")


@case(VALUES, CARD, HTTP, undo=(QP,), own=True)
def quoted_printable_soft_breaks(s: Secret) -> Made:
    """Quoted-printable with soft line breaks in the middle, in a JSON field."""
    return post_json("/v1/records", {"mail": "card " + quoted_printable(s.spaced, 5)})


@case(VALUES, SSN, HTTPS, undo=(C_ESCAPES,), own=True)
def c_hex_escapes_text(s: Secret) -> Made:
    r"""C hex escapes (`\x32\x31...`) in a plain-text note."""
    return plain("ssn " + "".join(f"\\x{ord(c):02x}" for c in s.dashed))


@case(VALUES, CARD, REVERSE, undo=(C_ESCAPES,), own=True)
def json_unicode_escapes_in_value(s: Secret) -> Made:
    r"""`\u0034`-style escapes written into a JSON string value (escaped once more)."""
    return post_json(
        "/v1/records", {"note": "card " + "".join(f"\\u{ord(c):04x}" for c in s.spaced)}
    )


@case(VALUES, SSN, HTTP, undo=(C_ESCAPES,), own=True)
def octal_escapes_form(s: Secret) -> Made:
    r"""Octal escapes (`\062\061...`) in a form field."""
    return form(note="ssn " + "".join(f"\\{ord(c):03o}" for c in s.dashed))


@case(VALUES, CARD, HTTPS, undo=(PERCENT_DEEP,), own=True)
def percent_five_deep(s: Secret) -> Made:
    """The text percent-encoded five times, in a JSON field."""
    text = f"card {s.spaced}"
    for _ in range(5):
        text = quote(text, safe="")
    return post_json("/v1/records", {"q": text})


@case(VALUES, SSN, REVERSE, undo=(MARKUP,), own=True)
def char_refs_decimal_text(s: Secret) -> Made:
    """Decimal character references for every character, in a plain-text note."""
    return plain("ssn " + "".join(f"&#{ord(c)};" for c in s.dashed))


@case(VALUES, CARD, HTTP, undo=(MARKUP,), own=True)
def char_refs_hex_json(s: Secret) -> Made:
    """Hex character references for every digit, in a JSON field."""
    return post_json(
        "/v1/records", {"html": "card " + "".join(f"&#x{ord(c):x};" for c in s.spaced)}
    )


@case(VALUES, SSN, HTTPS, undo=(MARKUP,), own=True)
def char_refs_named_dashes(s: Secret) -> Made:
    """Named references for the dashes (`&hyphen;`, `&minus;`) in an HTML body."""
    a, b, c = s.parts
    return plain(f"<p>ssn {a}&hyphen;{b}&minus;{c}</p>", HTML)


@case(VALUES, SSN, REVERSE, own=True)
def markup_bold_area(s: Secret) -> Made:
    """`<b>219</b>-09-9999` in an HTML body."""
    a, b, c = s.parts
    return plain(f"<html><body><p>SSN: <b>{a}</b>-{b}-{c}</p></body></html>", HTML)


@case(VALUES, SSN, HTTP, own=True)
def markup_span_dashes(s: Secret) -> Made:
    """`219<span>-</span>09<span>-</span>9999` in a JSON field."""
    a, b, c = s.parts
    return post_json("/v1/records", {"html": f"ssn {a}<span>-</span>{b}<span>-</span>{c}"})


@case(VALUES, CARD, HTTPS, own=True)
def markup_comments_between_groups(s: Secret) -> Made:
    """`<!-- -->` between the card's groups in an HTML body."""
    return plain("<div>card " + "<!-- -->".join(s.parts) + "</div>", HTML)


@case(VALUES, SSN, REVERSE, undo=(MARKDOWN_READ,), own=True)
def markdown_escaped_dashes(s: Secret) -> Made:
    r"""`219\-09\-9999` in a Markdown body."""
    return plain("# Ticket\n\nssn " + "\\-".join(s.parts) + "\n", MARKDOWN)


@case(VALUES, SSN, HTTP, undo=(MARKDOWN_READ,), own=True)
def markdown_bold_area(s: Secret) -> Made:
    """`**219**-09-9999` in a Markdown note in JSON."""
    a, b, c = s.parts
    return note(f"customer ssn **{a}**-{b}-{c}")


@case(VALUES, CARD, HTTPS, undo=(MARKDOWN_READ,), own=True)
def markdown_backticks(s: Secret) -> Made:
    """Each group of the card in backticks, in a Markdown body."""
    return plain("card " + " ".join(f"`{p}`" for p in s.parts) + "\n", MARKDOWN)


# --- unicode_digits -------------------------------------------------------------------------------

DIGITS = "unicode_digits"
SUPERSCRIPT = "⁰¹²³⁴⁵⁶⁷⁸⁹"
SUBSCRIPT = "₀₁₂₃₄₅₆₇₈₉"
CIRCLED = "⓪①②③④⑤⑥⑦⑧⑨"
NEGATIVE_CIRCLED = "⓿❶❷❸❹❺❻❼❽❾"


def digit_forms(text: str, forms: str | Callable[[int], str]) -> str:
    """`text` with each ASCII digit d replaced by `forms[d]` (or `forms(d)`)."""
    pick = forms.__getitem__ if isinstance(forms, str) else forms
    return "".join(pick(int(c)) if c.isdigit() else c for c in text)


def after_each_digit(text: str, mark: str) -> str:
    """`text` with `mark` after every digit."""
    return "".join(c + mark if c.isdigit() else c for c in text)


@case(DIGITS, SSN, HTTP, own=True)
def ssn_glued_to_letters(s: Secret) -> Made:
    """`SSN219-09-9999`: the label glued to the number."""
    return note(f"customer SSN{s.dashed} on file")


@case(DIGITS, CARD, HTTPS, own=True)
def card_glued_dashed(s: Secret) -> Made:
    """A dashed card number glued to letters on both sides."""
    return note("ref visa" + "-".join(s.parts) + "exp")


@case(DIGITS, SSN, REVERSE, own=True)
def ssn_mixed_separators(s: Secret) -> Made:
    """An SSN with a slash and then a dash between its groups."""
    a, b, c = s.parts
    return plain(f"ssn {a}/{b}-{c} verified")


@case(DIGITS, CARD, HTTP, own=True)
def card_underscores(s: Secret) -> Made:
    """A card number with underscores between its groups."""
    return note("card " + "_".join(s.parts))


@case(DIGITS, CARD, HTTPS, own=True)
def card_line_wrapped(s: Secret) -> Made:
    """A card number wrapped over four lines of a plain-text body."""
    return plain("card number:\n" + "\n".join(s.parts) + "\nthanks\n")


@case(DIGITS, CARD, REVERSE, own=True)
def card_spaced_dashes(s: Secret) -> Made:
    """A card number with ` - ` and ` | ` between its groups."""
    a, b, c, d = s.parts
    return note(f"card {a} - {b} | {c} - {d}")


@case(DIGITS, SSN, HTTP, undo=(DIGIT_FORMS,), own=True)
def ssn_superscripts(s: Secret) -> Made:
    """An SSN in superscript digits."""
    return note("ssn " + digit_forms(s.dashed, SUPERSCRIPT))


@case(DIGITS, CARD, HTTPS, undo=(DIGIT_FORMS,), own=True)
def card_circled(s: Secret) -> Made:
    """A card number in circled digits, subscripts for the last group."""
    a, b, c, d = s.parts
    return note("card " + digit_forms(f"{a} {b} {c} ", CIRCLED) + digit_forms(d, SUBSCRIPT))


@case(DIGITS, SSN, REVERSE, undo=(DIGIT_FORMS,), own=True)
def ssn_math_bold_digits(s: Secret) -> Made:
    """An SSN in mathematical bold digits (U+1D7CE...) in a plain-text body."""
    return plain("ssn " + digit_forms(s.dashed, lambda d: chr(0x1D7CE + d)))


@case(DIGITS, SSN, HTTP, undo=(DIGIT_FORMS,), own=True)
def ssn_negative_circled(s: Secret) -> Made:
    """An SSN in dingbat negative circled digits (❷❶❾)."""
    return note("ssn " + digit_forms(s.dashed, NEGATIVE_CIRCLED))


@case(DIGITS, SSN, HTTPS, own=True)
def ssn_keycaps(s: Secret) -> Made:
    r"""An SSN in keycap emoji (`2\ufe0f\u20e3`)."""
    return note("ssn " + after_each_digit(s.dashed, "\ufe0f\u20e3"))


@case(DIGITS, CARD, REVERSE, own=True)
def card_combining_underline(s: Secret) -> Made:
    """A card number with a combining low line (U+0332) after each digit."""
    return note("card " + after_each_digit(s.spaced, "\u0332"))


@case(DIGITS, SSN, HTTP, undo=(DIGIT_FORMS,), own=True)
def ssn_combining_acute(s: Secret) -> Made:
    """An SSN in fullwidth digits, each with a combining acute (U+0301)."""
    return note(
        "ssn " + after_each_digit(digit_forms(s.dashed, lambda d: chr(0xFF10 + d)), "\u0301")
    )


@case(DIGITS, CARD, HTTPS, own=True)
def card_variation_selectors(s: Secret) -> Made:
    """Variation selectors (U+FE0E, U+E0100) after the card's digits."""
    marks = ["\ufe0e", "\U000e0100"]
    text = "".join(c + marks[i % 2] if c.isdigit() else c for i, c in enumerate(s.dashed))
    return note("card " + text)


@case(DIGITS, SSN, REVERSE, own=True)
def ssn_tag_characters(s: Secret) -> Made:
    """Tag characters (U+E0020...) between the SSN's digits."""
    return note("ssn " + after_each_digit(s.dashed, "\U000e0041\U000e0020"))


@case(DIGITS, CARD, HTTP, own=True)
def card_nul_between_digits(s: Secret) -> Made:
    """NUL and other C0 controls between a card number's digits, in a plain-text body."""
    text = "".join(c + ("\x00" if i % 2 else "\x1f") for i, c in enumerate(s.digits))
    return plain("card " + text)


@case(DIGITS, SSN, HTTPS, own=True)
def ssn_bidi_controls(s: Secret) -> Made:
    """Bidi controls (LRM, RLO, PDF, LRI, PDI) between the SSN's characters."""
    marks = ["\u200e", "\u202e", "\u202c", "\u2066", "\u2069", "\u200f"]
    return note("ssn " + "".join(c + marks[i % 6] for i, c in enumerate(s.dashed)))


@case(DIGITS, CARD, REVERSE, own=True)
def card_hangul_fillers(s: Secret) -> Made:
    """Hangul fillers (U+3164, U+FFA0) between the card's digits."""
    return note("card " + "".join(c + "\u3164\uffa0" for c in s.digits))


# --- number_words ---------------------------------------------------------------------------------

WORDS = "number_words"
ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def spoken(digits: str, zero: str = "zero", sep: str = " ") -> str:
    """`digits` as words, `zero` for 0, `sep` between words."""
    return sep.join(zero if d == "0" else ONES[int(d)] for d in digits)


@case(WORDS, SSN, HTTP, undo=(SPOKEN_DIGITS,), own=True)
def ssn_spoken_transcript(s: Secret) -> Made:
    """`my social is two one nine zero nine ...` in a call transcript (JSON)."""
    turns = [
        {"speaker": "agent", "text": "can you confirm your social security number please"},
        {"speaker": "caller", "text": f"yeah my social is {spoken(s.digits)}"},
    ]
    return post_json("/v1/transcripts", {"call": "C-2291", "turns": turns})


@case(WORDS, CARD, HTTPS, undo=(SPOKEN_DIGITS,), own=True)
def card_spoken_transcript(s: Secret) -> Made:
    """A card number read out digit by digit, in a plain-text transcript."""
    return plain(f"agent: the card number please\ncaller: sure it's {spoken(s.digits)}\n")


@case(WORDS, SSN, REVERSE, undo=(SPOKEN_DIGITS,), own=True)
def ssn_spoken_oh(s: Secret) -> Made:
    """`oh` for zero, as people read numbers out."""
    return note(f"caller gave her social as {spoken(s.digits, zero='oh')}")


def grouped_words(digits: str) -> str:
    """`digits` as words with `double` and `triple` for repeated digits."""
    out, i = [], 0
    while i < len(digits):
        run = len(digits[i:]) - len(digits[i:].lstrip(digits[i]))
        n = min(run, 3)
        word = ONES[int(digits[i])]
        out.append({1: word, 2: f"double {word}", 3: f"triple {word}"}[n])
        i += n
    return " ".join(out)


@case(WORDS, CARD, HTTP, undo=(SPOKEN_DIGITS,), own=True)
def card_spoken_double_triple(s: Secret) -> Made:
    """`double nine`, `triple two` for repeated digits."""
    return note(f"card is {grouped_words(s.digits)}")


@case(WORDS, SSN, HTTPS, undo=(SPOKEN_DIGITS,), own=True)
def ssn_spoken_hyphens_commas(s: Secret) -> Made:
    """Hyphens inside a group and commas between groups."""
    text = ", ".join(spoken(p, sep="-") for p in s.parts)
    return plain(f"caller: my social security number is {text}.\n")


@case(WORDS, SSN, REVERSE, undo=(SPOKEN_DIGITS,), own=True)
def ssn_digits_and_words(s: Secret) -> Made:
    """Digits and words mixed: `219 oh nine 9999`."""
    a, b, c = s.parts
    return note(f"social {a} {spoken(b, zero='oh')} {c}")


def pairs_as_tens(digits: str) -> str:
    """`digits` read two at a time (`forty five thirty nine ...`), single digits for 0x pairs."""
    out = []
    for i in range(0, len(digits), 2):
        pair = digits[i : i + 2]
        tens, ones = int(pair[0]), int(pair[-1])
        if len(pair) == 1 or tens == 0:
            out.append(spoken(pair, zero="oh"))
        elif tens == 1:
            out.append(TEENS[ones])
        else:
            out.append(TENS[tens - 2] + ("" if ones == 0 else " " + ONES[ones]))
    return " ".join(out)


@case(WORDS, CARD, HTTPS, undo=(SPOKEN_DIGITS,), own=True)
def card_spoken_in_pairs(s: Secret) -> Made:
    """A card number read in pairs: `forty five thirty nine fourteen ...`."""
    return plain(f"caller: it's {pairs_as_tens(s.digits)}\n")


@case(WORDS, SSN, HTTP, undo=(SPOKEN_DIGITS,), own=True)
def ssn_spoken_form(s: Secret) -> Made:
    """Spoken digits in a form field, capitalised."""
    return form(summary="Caller verified with SSN " + spoken(s.digits).title(), queue="billing")


@case(WORDS, CARD, REVERSE, undo=(SPOKEN_DIGITS,), own=True)
def card_spoken_spanish(s: Secret) -> Made:
    """A card number read out in Spanish (`cuatro cinco tres nueve ...`)."""
    es = ["cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve"]
    return note("tarjeta " + " ".join(es[int(d)] for d in s.digits))


# --- benign twins ---------------------------------------------------------------------------------

BENIGN_CALL = (
    "agent: thanks for calling, this should only take one or two minutes\n"
    "caller: I called three times already and waited twenty minutes each time\n"
    "agent: sorry about that, it was a one-off outage on the first of the month\n"
    "caller: I have two printers and one of them shows error four, the other is fine\n"
    "agent: please restart both, then wait five or ten seconds and try page one again\n"
    "caller: ok, one moment... that worked, thank you, have a good one\n"
)


@control(BENIGN, None, HTTP)
def benign_transcript_number_words(s: Secret) -> Made:
    """A call transcript with ordinary number words (one or two, three times, twenty minutes)."""
    return plain(BENIGN_CALL)


@control(BENIGN, None, HTTPS)
def benign_html_prices(s: Secret) -> Made:
    """An HTML order page with character references and markup around order numbers and prices."""
    page = (
        "<html><body><h1>Order <b>PO-7731</b> &ndash; shipped</h1>"
        "<p>Total: <strong>&euro;&#160;1&#x202F;249.00</strong> &middot; 3&nbsp;items</p>"
        "<p>Ref <span>48</span>-<span>2213</span> &copy; 2026 Acme &amp; Co.</p>"
        "<!-- rendered 2026-11-14 --><p>Call <i>ext.</i> 4821</p></body></html>"
    )
    return plain(page, HTML)


# A 1x1 transparent PNG.
PIXEL = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
    "YPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


@control(BENIGN, None, REVERSE)
def benign_json_blobs(s: Secret) -> Made:
    """JSON with a base64 image, a SHA-256, hex ids and a base64url nonce."""
    doc = {
        "avatar": "data:image/png;base64," + PIXEL,
        "thumbnail": PIXEL,
        "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "object_id": "5f2b8c1e9a7d3f4b6c8e0a12",
        "trace": "4bf92f3577b34da6a3ce929d0e0e4736",
        "nonce": "Zm9vYmFyYmF6cXV4LTEyMw",
    }
    return post_json("/v1/profiles", doc)


@control(BENIGN, None, HTTP)
def benign_markdown_ticket(s: Secret) -> Made:
    """A Markdown ticket with escapes, emphasis and code spans."""
    text = (
        "# The queue is stuck again\n\n**Priority:** high \\- floor 3\n\n"
        "Steps: run `lpstat -p` then `systemctl restart cups`\\*\n\n"
        "1\\. restart\n2\\. print page *1* of 2\n\n> version 4.2\\_1 \\#4821\n"
    )
    return plain(text, MARKDOWN)


@control(BENIGN, None, HTTPS)
def benign_emoji_chat(s: Secret) -> Made:
    """A chat with emoji, variation selectors, keycaps and a ZWJ family."""
    text = (
        "1\ufe0f\u20e3 step one: unplug it \u2764\ufe0f\n2\ufe0f\u20e3 wait 10 s \u23f1\ufe0f\n"
        "3\ufe0f\u20e3 plug it back \U0001f468\u200d\U0001f469\u200d\U0001f467 thanks!!"
        " \u2615\ufe0e"
    )
    return note(text)


@control(BENIGN, None, REVERSE)
def benign_hash_list(s: Secret) -> Made:
    """A list of hex-encoded file hashes, colon fingerprints and a base32 TOTP secret."""
    text = (
        "sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709 setup.exe\n"
        "md5 D41D8CD98F00B204E9800998ECF8427E readme.txt\n"
        "fingerprint 16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48\n"
        "totp JBSWY3DPEHPK3PXP\n"
    )
    return plain(text)
