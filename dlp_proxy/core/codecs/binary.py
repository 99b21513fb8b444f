"""Text in bodies that do not say they are text: UTF-8, UTF-16 and UTF-32 told apart by their bytes.

An `application/octet-stream` or untyped body, a binary WebSocket frame (the gateway hands it over
as `application/octet-stream`) or a piece of image metadata may hold text in a charset nobody
named. `sniff_text` finds out which: a byte order mark says UTF-32 or UTF-16 (either order) or
UTF-8; without one, text in UTF-32 or UTF-16 shows itself by its NUL bytes (ASCII in UTF-16LE
has a NUL at every odd offset, in UTF-16BE at every even one, in UTF-32LE three in every four);
otherwise the body must be UTF-8. Whatever the
charset, the decoded text must be mostly printable to count as text.

The charset returned always names the byte order (`utf-16-le`, never `utf-16`), and a byte order
mark stays in the text as U+FEFF: encoding the text back in that charset gives the same bytes, so
a document rebuilt from it keeps its charset and its mark.
"""

from __future__ import annotations

import re
import unicodedata

from dlp_proxy.core.codecs.values import PRINTABLE_SHARE
from dlp_proxy.errors import UndecodableBody

__all__ = [
    "NUL_SHARE",
    "SIGNATURES",
    "SNIFF_BYTES",
    "mostly_printable",
    "signature_matches",
    "sniff_text",
]

# The NUL pattern of UTF-16 is looked for in this many bytes at the start of a body.
SNIFF_BYTES = 1024
# Text is taken for UTF-16 when at least this share of its odd (LE) or even (BE) bytes is NUL ...
NUL_SHARE = 0.4
# ... and at most this share of the other bytes is.
OTHER_NUL_SHARE = 0.1
# Unassigned and private-use characters are counted in this many characters at the start.
SAMPLE_CHARS = 4096

# The longest marks first: UTF-32LE's starts with UTF-16LE's.
_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
# Control characters that do not occur in text (tab, line feed, form feed and return do), and
# the characters a decoder puts in place of what it could not read.
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ufffd\ufffe\uffff]")
_NOT_CHARACTERS = frozenset({"Cn", "Co", "Cs"})


def sniff_text(body: bytes) -> tuple[str, str] | None:
    """`(text, charset)` when `body` is mostly printable text in UTF-8, UTF-16 or UTF-32.

    UTF-32 and UTF-16 are known by a mark or by their NUL bytes (UTF-32's two or three NULs in
    every four bytes, UTF-16's one in two). None when
    `body` is not text (binary, or UTF-8 that is not mostly printable). `UndecodableBody` when a
    mark or the NUL pattern says UTF-16 or UTF-32 but the bytes are not valid text in it: such a
    body must not be read as UTF-8 instead (its NULs would hide every value from the detector).
    """
    marked = next((charset for bom, charset in _BOMS if body.startswith(bom)), None)
    charset = marked or _utf32_by_nuls(body) or _utf16_by_nuls(body) or "utf-8"
    try:
        text = body.decode(charset)
    except UnicodeDecodeError as e:
        if charset == "utf-8":
            return None
        how = "its byte order mark" if marked else "its NUL bytes"
        raise UndecodableBody(
            f"body looks like {charset.upper()} text by {how} but is not valid {charset} "
            f"(byte {e.start})"
        ) from None
    if mostly_printable(text):
        return text, charset
    if charset == "utf-8":
        return None
    raise UndecodableBody(f"body decodes as {charset.upper()} but is not text (too many controls)")


def mostly_printable(text: str) -> bool:
    """True when at most 5% of `text` are control characters, and of its start non-characters.

    Tab, line feed, form feed and carriage return are text; unassigned and private-use code
    points and lone surrogates are not.
    """
    allowed = len(text) * (1 - PRINTABLE_SHARE)
    if len(_CONTROL.findall(text)) > allowed:
        return False
    sample = text[:SAMPLE_CHARS]
    odd = sum(1 for c in sample if unicodedata.category(c) in _NOT_CHARACTERS)
    return odd <= len(sample) * (1 - PRINTABLE_SHARE)


def _utf32_by_nuls(body: bytes) -> str | None:
    """`utf-32-le` or `utf-32-be` when the start of `body` has UTF-32's NUL pattern.

    Text below U+10000 in UTF-32 has two NUL bytes in every four (the upper half), text below
    U+0100 three: the third and fourth byte of each unit (LE) or the first and second (BE).
    """
    sample = body[: SNIFF_BYTES - SNIFF_BYTES % 4]
    if len(sample) < 8 or len(body) % 4:
        return None
    nul = [sample[i::4].count(0) >= len(sample) / 4 * (1 - OTHER_NUL_SHARE) for i in range(4)]
    few = [sample[i::4].count(0) <= len(sample) / 4 * OTHER_NUL_SHARE for i in range(4)]
    if nul[2] and nul[3] and few[0]:
        return "utf-32-le"
    if nul[0] and nul[1] and few[3]:
        return "utf-32-be"
    return None


def _utf16_by_nuls(body: bytes) -> str | None:
    """`utf-16-le` or `utf-16-be` when the start of `body` has UTF-16's NUL pattern."""
    sample = body[:SNIFF_BYTES]
    even, odd = sample[0::2], sample[1::2]
    if not odd:
        return None
    even_share, odd_share = even.count(0) / len(even), odd.count(0) / len(odd)
    if odd_share >= NUL_SHARE and even_share <= OTHER_NUL_SHARE:
        return "utf-16-le"
    if even_share >= NUL_SHARE and odd_share <= OTHER_NUL_SHARE:
        return "utf-16-be"
    return None


# The first bytes of formats a policy may let through unread (`binary: allow`): a body claiming one
# of these types must start like it. Each is (offset, bytes); one match is enough.
SIGNATURES: dict[str, tuple[tuple[int, bytes], ...]] = {
    "image/tiff": ((0, b"II*\x00"), (0, b"MM\x00*")),
    "image/bmp": ((0, b"BM"),),
    "image/x-icon": ((0, b"\x00\x00\x01\x00"),),
    "image/vnd.microsoft.icon": ((0, b"\x00\x00\x01\x00"),),
    "image/heic": ((4, b"ftypheic"), (4, b"ftypheix"), (4, b"ftypmif1"), (4, b"ftypmsf1")),
    "image/heif": ((4, b"ftypmif1"), (4, b"ftypheic"), (4, b"ftypmsf1")),
    "image/avif": ((4, b"ftypavif"), (4, b"ftypavis")),
    "image/png": ((0, b"\x89PNG\r\n\x1a\n"),),
    "image/jpeg": ((0, b"\xff\xd8\xff"),),
    "image/gif": ((0, b"GIF87a"), (0, b"GIF89a")),
    "image/webp": ((8, b"WEBP"),),
    "application/pdf": ((0, b"%PDF-"),),
    "application/zip": ((0, b"PK\x03\x04"), (0, b"PK\x05\x06")),
    "application/x-zip-compressed": ((0, b"PK\x03\x04"), (0, b"PK\x05\x06")),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ((0, b"PK\x03\x04"),),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (
        (0, b"PK\x03\x04"),
    ),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (
        (0, b"PK\x03\x04"),
    ),
    "application/vnd.ms-excel.sheet.macroenabled.12": ((0, b"PK\x03\x04"),),
    "application/vnd.oasis.opendocument.text": ((0, b"PK\x03\x04"),),
    "application/vnd.oasis.opendocument.spreadsheet": ((0, b"PK\x03\x04"),),
    "application/vnd.oasis.opendocument.presentation": ((0, b"PK\x03\x04"),),
    "application/gzip": ((0, b"\x1f\x8b"),),
    "audio/mpeg": ((0, b"ID3"), (0, b"\xff\xfb"), (0, b"\xff\xf3"), (0, b"\xff\xf2")),
    "audio/wav": ((8, b"WAVE"),),
    "audio/x-wav": ((8, b"WAVE"),),
    "audio/ogg": ((0, b"OggS"),),
    "video/mp4": ((4, b"ftyp"),),
}


def signature_matches(content_type: str, body: bytes) -> bool | None:
    """Whether `body` starts as `content_type`'s format does; None when no signature is known.

    `content_type` may carry parameters and any case; only its essence (`image/tiff`) counts.
    """
    essence = content_type.split(";", 1)[0].strip().lower()
    signatures = SIGNATURES.get(essence)
    if signatures is None:
        return None
    return any(body[offset : offset + len(magic)] == magic for offset, magic in signatures)
