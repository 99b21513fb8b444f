"""The metadata images carry, read into segments: EXIF, XMP, IPTC, and text of no set format.

`images` walks an image's structure and hands each metadata block found in it to a reader here,
with the `Found` that collects what the image holds: segments, uninspectable parts, and how a
rewritable text is written back (`Writer`). The same blocks occur in several formats (EXIF in a
JPEG APP1 segment, a PNG eXIf chunk and a WebP EXIF chunk), hence one reader for each:

    read_exif       a TIFF header and its directories (IFD0, its Exif, GPS and interoperability
                    directories, IFD1), each read once, `MAX_IFDS` of `MAX_IFD_ENTRIES` at most:
                    every ASCII and UTF-8 value, UserComment and the GPS texts by their charset
                    code, the Windows XP tags (UTF-16LE), BYTE and UNDEFINED values that are text;
                    located `exif:0x9286`, `exif:gps:0x001b`, `exif:interop:0x0001`
    read_xmp        an XMP packet, its XML as one text (UTF-8, or UTF-16/32 by its mark)
    read_photoshop  Photoshop image resources (JPEG APP13): IPTC-NAA (`read_iptc`) and XMP
    read_iptc       IPTC-NAA datasets of the application record, located `iptc:2:120`
    read_raw_profile  ImageMagick's "Raw profile type ..." PNG texts (EXIF, XMP, IPTC in hex):
                    what the hex holds, under the chunk (`png:zTXt[0]>exif:0x010e`)
    any_text        bytes that may be text: a segment when they are, skipped when binary

A block that should hold text and does not parse (EXIF whose offsets point outside it, XMP that
does not decode) is uninspectable; binary values (thumbnails, maker notes that are not text) are
skipped, as pixel data is. Compressed text inflates within `MAX_INFLATED_BYTES` per image and
`MAX_INFLATE_RATIO` per block.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from dlp_proxy.core.codecs.binary import mostly_printable, sniff_text
from dlp_proxy.core.codecs.values import SEP, context_words
from dlp_proxy.detection.detector import Segment
from dlp_proxy.errors import UndecodableBody
from dlp_proxy.policy.model import DEFAULT_MAX_DECOMPRESSION_RATIO

__all__ = [
    "INFLATE_FLOOR",
    "MAX_IFDS",
    "MAX_IFD_ENTRIES",
    "MAX_IMAGE_PARTS",
    "MAX_IMAGE_TEXTS",
    "MAX_INFLATED_BYTES",
    "MAX_INFLATE_RATIO",
    "MAX_METADATA_BLOCKS",
    "Found",
    "Writer",
    "any_text",
    "read_exif",
    "read_iptc",
    "read_photoshop",
    "read_raw_profile",
    "read_xmp",
    "sniffed_text",
    "text_in",
    "utf8_or_latin1",
]

# Compressed text in one image inflates to this many bytes at most, all blocks together ...
MAX_INFLATED_BYTES = 4 * 1024 * 1024
# ... and each block to this many times its compressed size (but always to `INFLATE_FLOOR`).
MAX_INFLATE_RATIO = DEFAULT_MAX_DECOMPRESSION_RATIO
INFLATE_FLOOR = 64 * 1024
# An image carrying more texts than this is refused (each is a segment to analyse) ...
MAX_IMAGE_TEXTS = 1000
# ... and so is one with more metadata blocks (texts, binary blocks looked at, broken ones) ...
MAX_METADATA_BLOCKS = 5000
# ... or more structures (chunks, marker segments, GIF blocks and sub-blocks) to walk.
MAX_IMAGE_PARTS = 1_000_000
# EXIF: at most this many directories, each of at most this many entries.
MAX_IFDS = 16
MAX_IFD_ENTRIES = 1000

_INDEX = re.compile(r"\[\d+\]")


@dataclass(frozen=True)
class Writer:
    """How a rewritable text is written back: the span it replaces and the new bytes there."""

    start: int
    end: int
    write: Callable[[str], bytes]


class Found:
    """What a parser found in one image: segments, uninspectable parts, writers."""

    def __init__(self, prefix: str, context: tuple[str, ...]) -> None:
        self.prefix = prefix
        self.context = context
        self.segments: list[Segment] = []
        self.uninspectable: list[str] = []
        self.writers: dict[str, Writer] = {}
        self.inflated = 0
        self._counts: dict[str, int] = {}
        self._looked = 0
        self._walked = 0

    def walk(self) -> None:
        """Count one structure walked; `UndecodableBody` past `MAX_IMAGE_PARTS`."""
        self._walked += 1
        if self._walked > MAX_IMAGE_PARTS:
            raise UndecodableBody(f"image has more than {MAX_IMAGE_PARTS} parts")

    def look(self) -> None:
        """Count one metadata block looked at; `UndecodableBody` past `MAX_METADATA_BLOCKS`."""
        self._looked += 1
        if self._looked > MAX_METADATA_BLOCKS:
            raise UndecodableBody(f"image has more than {MAX_METADATA_BLOCKS} metadata blocks")

    def next(self, kind: str) -> str:
        """`kind[0]`, then `kind[1]` ...: the name of the next part of that kind."""
        count = self._counts.get(kind, 0)
        self._counts[kind] = count + 1
        return f"{kind}[{count}]"

    def unique(self, name: str) -> str:
        """`name`, then `name[1]`, `name[2]` ... when it repeats."""
        count = self._counts.get(name, 0)
        self._counts[name] = count + 1
        return f"{name}[{count}]" if count else name

    def text(
        self,
        name: str,
        text: str,
        words: tuple[str, ...] = (),
        writer: Writer | None = None,
    ) -> None:
        """Record `text` at `name` (unless it is blank); rewritable when it has a writer."""
        self.look()
        if not text.strip("\x00 \t\r\n\ufeff"):
            return
        if len(self.segments) >= MAX_IMAGE_TEXTS:
            raise UndecodableBody(f"image carries more than {MAX_IMAGE_TEXTS} texts")
        location = self.prefix + name
        field = _INDEX.sub("", location)
        self.segments.append(
            Segment(location, text, words or self.context, field, rewritable=writer is not None)
        )
        if writer is not None:
            self.writers[location] = writer

    def broken(self, name: str) -> None:
        """Record the part at `name` as uninspectable."""
        self.look()
        self.uninspectable.append(self.prefix + name)

    def inflate(self, data: bytes, what: str) -> bytes:
        """The zlib `data` inflated within the image's limits; `UndecodableBody` past them."""
        left = MAX_INFLATED_BYTES - self.inflated
        limit = min(left, max(INFLATE_FLOOR, len(data) * MAX_INFLATE_RATIO))
        inflater = zlib.decompressobj()
        try:
            out = inflater.decompress(data, limit + 1)
        except zlib.error:
            raise UndecodableBody(f"{what} does not inflate: its data is corrupt") from None
        if len(out) > limit:
            raise UndecodableBody(
                f"{what} inflates past {limit} bytes (MAX_INFLATED_BYTES, MAX_INFLATE_RATIO); "
                "a decompression bomb is never expanded further"
            )
        if not inflater.eof:
            raise UndecodableBody(f"{what} does not inflate: its data is cut short")
        self.inflated += len(out)
        return out


def sniffed_text(raw: bytes) -> tuple[str, str] | None:
    """`sniff_text`, with bytes that merely look like UTF-16 taken for binary."""
    try:
        return sniff_text(raw)
    except UndecodableBody:
        return None


def text_in(raw: bytes) -> tuple[str, str] | None:
    """`(text, charset)` for metadata bytes that are text (Latin-1 too), trailing NULs dropped."""
    raw = raw.rstrip(b"\x00")
    if not raw:
        return None
    # Stripping NULs takes the last high byte off UTF-16LE text: it is tried with one put back.
    sniffed = sniffed_text(raw) or sniffed_text(raw + b"\x00")
    if sniffed is not None:
        return sniffed
    text = raw.decode("latin-1")
    return (text, "latin-1") if mostly_printable(text) else None


def utf8_or_latin1(raw: bytes) -> tuple[str, str]:
    """Text that should be Latin-1 (PNG) but is often UTF-8: UTF-8 when it decodes as such."""
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "latin-1"


def any_text(found: Found, name: str, data: bytes) -> None:
    """Record a part that may or may not hold text: text is a segment, binary is skipped."""
    found.look()
    sniffed = text_in(data)
    if sniffed is not None:
        found.text(name, sniffed[0])


# The hex group takes the white space after the length too: a `\s+` there would backtrack in
# quadratic time over a long run of spaces.
_RAW_PROFILE = re.compile(r"\s*(\S+)\s+(\d{1,10})([0-9A-Fa-f\s]*)")
_XMP_START = (b"<?xpacket", b"<x:xmpmeta", b"http://ns.adobe.com/xap/1.0/\x00")


def read_raw_profile(found: Found, name: str, text: str) -> None:
    r"""A "Raw profile type ..." text (ImageMagick's EXIF, XMP, IPTC in hex): its contents too.

    The text is `\n<type>\n<length>\n<hex digits in lines>`; what the hex holds is read
    under `name>` (`png:zTXt[0]>exif:0x010e`). ICC profiles and other binary are skipped.
    """
    match = _RAW_PROFILE.fullmatch(text)
    if match is None:
        found.broken(name)
        return
    try:
        data = bytes.fromhex("".join(match.group(3).split()))
    except ValueError:  # an odd number of hex digits
        data = b""
    if len(data) != int(match.group(2)) or not data:
        found.broken(name)
        return
    at = name + SEP
    if data.startswith(b"Exif\x00"):
        read_exif(found, at + "exif", data[6:])
    elif data.startswith(_XMP_START):
        read_xmp(found, at + "xmp", data.removeprefix(_XMP_START[2]))
    elif data.startswith(b"8BIM"):
        read_photoshop(found, data, at)
    elif match.group(1).lower() == "iptc":
        read_iptc(found, data, at)


# --- XMP, Photoshop, IPTC ----------------------------------------------------------------------


def read_xmp(found: Found, name: str, raw: bytes) -> None:
    """An XMP packet: its XML as one text (UTF-8, or UTF-16/32 by its mark), or uninspectable."""
    packet = raw.rstrip(b"\x00")
    if not packet:
        return
    sniffed = sniffed_text(raw) or sniffed_text(packet)  # NULs may end UTF-16 text, or pad it
    if sniffed is None:
        found.broken(name)
        return
    found.text(name, sniffed[0].rstrip("\x00"))


def read_photoshop(found: Found, data: bytes, at: str = "") -> None:
    """Photoshop image resources (APP13): IPTC-NAA (0x0404) and XMP (0x0424) are read.

    `at` goes before the names (`photoshop`, `iptc:2:120`, `xmp`) of what is found.
    """
    pos = 0
    while pos < len(data):
        if data[pos:].strip(b"\x00") == b"":
            return  # padding
        if pos + 7 > len(data) or data[pos : pos + 4] not in (b"8BIM", b"MeSa", b"PHUT", b"AgHg"):
            found.broken(at + "photoshop")
            return
        (resource,) = struct.unpack_from(">H", data, pos + 4)
        name_length = data[pos + 6]
        pos += 7 + name_length + (1 - name_length % 2)  # the name is padded to an even size
        if pos + 4 > len(data):
            found.broken(at + "photoshop")
            return
        (size,) = struct.unpack_from(">I", data, pos)
        pos += 4
        if pos + size > len(data):
            found.broken(at + "photoshop")
            return
        block = data[pos : pos + size]
        if resource == 0x0404:
            read_iptc(found, block, at)
        elif resource == 0x0424:
            read_xmp(found, found.unique(at + "xmp"), block)
        pos += size + size % 2


# IPTC datasets of record 2 that hold no text: the record version and the object preview.
_IPTC_BINARY = frozenset({0, 200, 201, 202})
_IPTC_NAMES = {
    5: "object name",
    25: "keywords",
    80: "by-line",
    85: "by-line title",
    90: "city",
    92: "sublocation",
    95: "province state",
    101: "country",
    105: "headline",
    110: "credit",
    115: "source",
    116: "copyright notice",
    118: "contact",
    120: "caption",
    122: "writer",
}


def read_iptc(found: Found, data: bytes, at: str = "") -> None:
    """IPTC-NAA records: every text dataset of the application record (2) is a segment.

    `at` goes before the names (`iptc:2:120`) of what is found.
    """
    pos = 0
    while pos < len(data):
        if data[pos] != 0x1C:
            if data[pos:].strip(b"\x00"):
                found.broken(at + "iptc")
            return
        if pos + 5 > len(data):
            found.broken(at + "iptc")
            return
        record, dataset = data[pos + 1], data[pos + 2]
        (size,) = struct.unpack_from(">H", data, pos + 3)
        pos += 5
        if size & 0x8000:  # an extended dataset: the size's size, then the size
            width = size & 0x7FFF
            if width > 4 or pos + width > len(data):
                found.broken(at + "iptc")
                return
            size = int.from_bytes(data[pos : pos + width], "big")
            pos += width
        if pos + size > len(data):
            found.broken(at + "iptc")
            return
        if record == 2 and dataset not in _IPTC_BINARY:
            text = utf8_or_latin1(data[pos : pos + size])[0]
            words = context_words(_IPTC_NAMES.get(dataset, ""))
            found.text(found.unique(f"{at}iptc:2:{dataset}"), text, words)
        pos += size


# --- EXIF (TIFF directories) ---------------------------------------------------------------------

_TIFF_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_BYTE, _ASCII, _UNDEFINED, _UTF8 = 1, 2, 7, 129
_SUB_IFDS = {0x8769: "", 0x8825: "gps:", 0xA005: "interop:"}
_XP_TAGS = frozenset({0x9C9B, 0x9C9C, 0x9C9D, 0x9C9E, 0x9C9F})
# Tags whose value starts with an 8-byte charset code: UserComment, GPSProcessingMethod and
# GPSAreaInformation.
_CODED_TAGS = {("", 0x9286), ("gps:", 0x001B), ("gps:", 0x001C)}
_TAG_NAMES = {
    0x010D: "document name",
    0x010E: "image description",
    0x010F: "make",
    0x0110: "model",
    0x0131: "software",
    0x013B: "artist",
    0x013C: "host computer",
    0x8298: "copyright",
    0x9286: "user comment",
    0x9C9B: "title",
    0x9C9C: "comment",
    0x9C9D: "author",
    0x9C9E: "keywords",
    0x9C9F: "subject",
    0xA420: "image unique id",
    0xA430: "camera owner name",
    0xA431: "body serial number",
    0xA435: "lens serial number",
}
_CHARSET_CODES = {
    b"ASCII\x00\x00\x00": "latin-1",
    b"JIS\x00\x00\x00\x00\x00": "shift_jis",
}


def read_exif(found: Found, name: str, tiff: bytes) -> None:
    """Every text value in EXIF data (a TIFF header and its directories), or uninspectable."""
    try:
        for ifd, tag, kind, value in _tiff_values(tiff):
            text = _exif_text(ifd, tag, kind, value, tiff[:2] == b"MM")
            if text:
                location = found.unique(f"{name}:{ifd}0x{tag:04x}")
                found.text(location, text, context_words(_TAG_NAMES.get(tag, "")))
    except UndecodableBody:
        found.broken(name)


def _tiff_values(tiff: bytes) -> Iterator[tuple[str, int, int, bytes]]:
    """(directory, tag, type, value bytes) of every text-typed entry; each directory once."""
    if tiff[:4] == b"II*\x00":
        order = "<"
    elif tiff[:4] == b"MM\x00*":
        order = ">"
    else:
        raise UndecodableBody("EXIF data has no TIFF header")
    if len(tiff) < 8:
        raise UndecodableBody("EXIF data is cut short")
    (first,) = struct.unpack_from(order + "I", tiff, 4)
    queue, seen = [(first, "")], set()
    while queue:
        offset, ifd = queue.pop(0)
        if offset in seen:
            continue
        seen.add(offset)
        if len(seen) > MAX_IFDS or offset + 2 > len(tiff):
            raise UndecodableBody("EXIF directories are too many or out of bounds")
        (count,) = struct.unpack_from(order + "H", tiff, offset)
        entries = offset + 2
        if count > MAX_IFD_ENTRIES or entries + 12 * count > len(tiff):
            raise UndecodableBody("EXIF directory has too many entries or is cut short")
        for i in range(count):
            at = entries + 12 * i
            tag, kind, n = struct.unpack_from(order + "HHI", tiff, at)
            if tag in _SUB_IFDS and kind in (4, 13) and n == 1 and not ifd:
                (pointer,) = struct.unpack_from(order + "I", tiff, at + 8)
                if pointer:
                    queue.append((pointer, _SUB_IFDS[tag]))
            elif kind in (_BYTE, _ASCII, _UNDEFINED, _UTF8) and n:
                yield ifd, tag, kind, _tiff_value(tiff, order, n, at + 8)
        after = entries + 12 * count
        if after + 4 <= len(tiff) and not ifd:
            (following,) = struct.unpack_from(order + "I", tiff, after)
            if following:
                queue.append((following, ""))


def _tiff_value(tiff: bytes, order: str, size: int, field: int) -> bytes:
    """The `size` bytes of a value: inside the entry's field when they fit, else at its offset."""
    if size <= 4:
        return tiff[field : field + size]
    (offset,) = struct.unpack_from(order + "I", tiff, field)
    if offset + size > len(tiff):
        raise UndecodableBody("EXIF value lies outside the EXIF data")
    return tiff[offset : offset + size]


def _exif_text(ifd: str, tag: int, kind: int, value: bytes, big_endian: bool) -> str | None:
    """The text of an EXIF value, or None when it is binary."""
    if tag in _XP_TAGS and not ifd and kind == _BYTE:
        return value.decode("utf-16-le", "replace").rstrip("\x00")
    if (ifd, tag) in _CODED_TAGS and kind == _UNDEFINED and len(value) >= 8:
        return _coded_text(value[:8], value[8:], big_endian)
    if kind in (_ASCII, _UTF8):
        return utf8_or_latin1(value.rstrip(b"\x00"))[0].replace("\x00", "\n")
    sniffed = text_in(value)
    return sniffed[0] if sniffed else None


def _coded_text(code: bytes, raw: bytes, big_endian: bool) -> str | None:
    """A UserComment-style value: text in the charset its 8-byte code names."""
    if code == b"UNICODE\x00":
        sniffed = sniffed_text(raw)
        if sniffed is None:
            order = "utf-16-be" if big_endian else "utf-16-le"
            return raw.decode(order, "replace").rstrip("\x00 ")
        return sniffed[0].rstrip("\x00 ")
    charset = _CHARSET_CODES.get(code)
    if charset is not None:
        return raw.decode(charset, "replace").rstrip("\x00 ")
    sniffed = text_in(raw)
    return sniffed[0].rstrip(" ") if sniffed else None
