"""Undo the disguises that make PII invisible to pattern recognizers, keeping offsets.

Full-width and other Unicode digits become ASCII digits, no-break and other odd spaces become
plain spaces, zero-width characters and soft hyphens disappear, and compatibility forms are
folded (NFKC). Recognizers run on the normalised text; `Normalized.span` maps a match back to
the original text, so the rewrite covers the disguised characters too.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = ["Normalized", "embedded_encodings", "normalize"]

# Characters that render as nothing and are used to break up a value.
_INVISIBLE = frozenset(
    "\u00ad"  # soft hyphen
    "\u180e"  # Mongolian vowel separator
    "\u200b\u200c\u200d"  # zero-width space, non-joiner, joiner
    "\u2060\u2061\u2062\u2063\u2064"  # word joiner and invisible operators
    "\ufeff"  # zero-width no-break space / BOM
)


@dataclass(frozen=True)
class Normalized:
    """Normalised text and, for each of its characters, the index it came from."""

    text: str
    # Where each character came from; None when each came from its own index (plain ASCII),
    # which most texts are: no tuple of indexes is built for them.
    folded_origins: tuple[int, ...] | None
    original_length: int
    changed: bool = False

    @property
    def origins(self) -> tuple[int, ...]:
        """For each character of `text`, the index in the original it came from."""
        if self.folded_origins is None:
            return tuple(range(len(self.text)))
        return self.folded_origins

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that `text[start:end]` came from."""
        if self.folded_origins is None:
            if start >= end:
                start = min(start, self.original_length)
                return start, start
            return start, end
        origins = self.folded_origins
        if start >= end:
            origin = origins[start] if start < len(origins) else self.original_length
            return origin, origin
        return origins[start], origins[end - 1] + 1


def normalize(text: str) -> Normalized:
    """Fold `text` for detection; cheap when there is nothing to fold (plain ASCII)."""
    if text.isascii():
        return Normalized(text, None, len(text))
    chars: list[str] = []
    origins: list[int] = []
    for index, char in enumerate(text):
        for folded in _fold(char):
            chars.append(folded)
            origins.append(index)
    folded = "".join(chars)
    return Normalized(folded, tuple(origins), len(text), changed=folded != text)


def _fold(char: str) -> str:
    if char.isascii():
        return char
    if char in _INVISIBLE:
        return ""
    if unicodedata.category(char) == "Nd":  # any decimal digit (Arabic-Indic, full-width)
        return str(unicodedata.digit(char))
    if char.isspace() or unicodedata.category(char) == "Zs":
        return " "
    if unicodedata.category(char) == "Pd":  # every dash: en, em, figure, non-breaking
        return "-"
    folded = unicodedata.normalize("NFKC", char)
    # NFKC can expand one character into several (ﬁ -> fi); each keeps the same origin.
    return folded


_EMBEDDED_BASE64 = re.compile(r"(?<![\w+/=-])[A-Za-z0-9+/_-]{12,}={0,2}(?![\w+/=-])")
_EMBEDDED_PERCENT = re.compile(r"[^\s%]*(?:%[0-9A-Fa-f]{2}[^\s%]*)+")


_EMBEDDED_HEX = re.compile(r"(?<![0-9A-Za-z])(?:[0-9A-Fa-f]{2}){8,}(?![0-9A-Za-z])")
_DATA_URI = re.compile(
    r"data:(?P<type>[A-Za-z]+/[A-Za-z0-9.+-]+)?(?P<params>(?:;[A-Za-z0-9-]+=[^;,\s\"']*)*)"
    r"(?P<base64>;base64)?,(?P<data>[A-Za-z0-9+/=%_.~!$&'()*-]*)"
)
# A data: URI is decoded when its payload is at most this long (the body's own limits bound it).
DATA_URI_MAX_CHARS = 16 * 1024 * 1024


def embedded_encodings(text: str) -> list[tuple[int, int, str]]:
    """`(start, end, decoded)` for each encoded word inside `text`.

    Base64, percent-encoding, hex of UTF-8 text (`3231392d...`) and `data:` URIs (text, or an
    image whose metadata text is read; an image that cannot be read is `UndecodableBody`).
    Whole values in base64 and percent-encoding are decoded by the codecs; this finds them
    written inside a sentence (`The card MjQ4MDky... was charged`, `call %39%30%34%2D...`).
    """
    from dlp_proxy.core.codecs.values import decode_base64_text, unquote_exact

    found = [*_hex_words(text), *_data_uris(text)]
    for match in _EMBEDDED_BASE64.finditer(text):
        decoded = decode_base64_text(match.group())
        if decoded is not None:
            found.append((match.start(), match.end(), decoded[0]))
    for match in _EMBEDDED_PERCENT.finditer(text):
        word, layers = match.group(), 0
        while layers < 3 and (unquoted := unquote_exact(word)) is not None:
            word, layers = unquoted, layers + 1
        if layers:
            found.append((match.start(), match.end(), word))
    return found


def _hex_words(text: str) -> list[tuple[int, int, str]]:
    """Hex words (eight bytes or more) that decode to printable UTF-8: hashes do not."""
    from dlp_proxy.core.codecs.binary import mostly_printable

    found = []
    for match in _EMBEDDED_HEX.finditer(text):
        try:
            decoded = bytes.fromhex(match.group()).decode("utf-8")
        except UnicodeDecodeError:
            continue
        if mostly_printable(decoded):
            found.append((match.start(), match.end(), decoded))
    return found


def _data_uris(text: str) -> list[tuple[int, int, str]]:
    """`data:` URIs: the text they hold, or the text in the metadata of the image they hold."""
    if "data:" not in text:
        return []
    found = []
    for match in _DATA_URI.finditer(text):
        payload = match.group("data")
        if not payload or len(payload) > DATA_URI_MAX_CHARS:
            continue
        content = _data_uri_bytes(payload, bool(match.group("base64")))
        if content is None:
            continue
        readable = _data_uri_text((match.group("type") or "text/plain").lower(), content)
        if readable:
            found.append((match.start(), match.end(), readable))
    return found


def _data_uri_bytes(payload: str, is_base64: bool) -> bytes | None:
    import base64
    import binascii
    from urllib.parse import unquote_to_bytes

    if not is_base64:
        return unquote_to_bytes(payload)
    try:
        return base64.b64decode(unquote_to_bytes(payload) + b"=" * (-len(payload) % 4))
    except (binascii.Error, ValueError):
        return None


def _data_uri_text(media_type: str, content: bytes) -> str:
    """What a reader of the URI gets as text; an image that cannot be read fails closed."""
    from dlp_proxy.core.codecs.binary import sniff_text
    from dlp_proxy.core.codecs.images import ImageDocument, image_format
    from dlp_proxy.errors import UndecodableBody

    if media_type.startswith("image/") or image_format(content) is not None:
        image = ImageDocument(content)  # UndecodableBody for what is not a readable image
        if image.uninspectable:
            raise UndecodableBody(
                "a data: URI holds an image with parts that cannot be inspected: "
                + ", ".join(image.uninspectable)
            )
        return "\n".join(s.text for s in image.segments)
    sniffed = sniff_text(content)
    if sniffed is None:
        raise UndecodableBody(f"a data: URI of type {media_type} is not text dlp-proxy reads")
    return sniffed[0]
