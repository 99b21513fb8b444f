"""Images (PNG, JPEG, GIF, WebP), read for the text they carry: their metadata, never their pixels.

An image is parsed structure by structure (PNG chunks, JPEG marker segments, GIF blocks, RIFF
chunks), every length checked against the body; a truncated or malformed structure makes the
image uninspectable (`UndecodableBody`). Its text-bearing parts become segments:

    PNG   tEXt, zTXt, iTXt (the keyword too, and iTXt's language tag and translated keyword;
          compressed text inflated within limits; a "Raw profile type" text's hex read for the
          EXIF, XMP or IPTC in it), eXIf, and any other chunk that is text
    JPEG  COM, APP1 EXIF and XMP (extended XMP joined up), APP13 Photoshop IPTC and XMP, any other
          APPn segment that is text
    GIF   comment and plain-text extensions, XMP, any other extension that is text
    WebP  EXIF, XMP, any other chunk that is text

EXIF, XMP and IPTC are read by `metadata`. The bytes after the image's end (PNG IEND, JPEG EOI,
GIF trailer, the end of the RIFF) are another image (an MPO's second picture), text, padding
(NUL and white space only, ignored), or else uninspectable (`png:trailer`): binary there could be
an archive. Pixel data (IDAT, JPEG scans, GIF image data, VP8) and binary values (ICC profiles,
thumbnails, maker notes that are not text) are not read: a screenshot of a customer record is
not OCR'd. Metadata that should be text and is not (a binary COM, XMP that does not decode, EXIF
that does not parse, zTXt that does not inflate within limits) is uninspectable.

The text of a PNG tEXt, zTXt or iTXt chunk and of a JPEG COM segment can be changed: rebuild
writes that chunk or segment anew (length, compression, CRC). Every other segment, names
included, is `rewritable=False`, and asking rebuild to change one raises `UndecodableBody`
rather than forwarding the image unchanged.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Callable, Mapping

from dlp_proxy.core.codecs.metadata import (
    MAX_IMAGE_TEXTS,
    Found,
    Writer,
    any_text,
    read_exif,
    read_photoshop,
    read_raw_profile,
    read_xmp,
    sniffed_text,
    text_in,
    utf8_or_latin1,
)
from dlp_proxy.core.codecs.values import MAX_NESTING, NAME_MARK, SEP, TextNode, context_words
from dlp_proxy.detection.detector import Segment
from dlp_proxy.errors import UndecodableBody

__all__ = ["IMAGE_TYPES", "ImageDocument", "image_format", "is_image"]

# Media types read as images (a body of one of these, or an untyped or octet-stream one, whose
# bytes are an image this module reads).
IMAGE_TYPES = frozenset(
    {
        "image/png",
        "image/apng",
        "image/x-png",
        "image/jpeg",
        "image/jpg",
        "image/pjpeg",
        "image/gif",
        "image/webp",
    }
)
# Untyped bodies whose magic numbers are looked at.
_SNIFFED = frozenset({"", "application/octet-stream"})

_PNG = b"\x89PNG\r\n\x1a\n"


def image_format(body: bytes) -> str | None:
    """`png`, `jpeg`, `gif` or `webp` by the body's magic number; None for anything else."""
    if body.startswith(_PNG):
        return "png"
    if body.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if body.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if body.startswith(b"RIFF") and body[8:12] == b"WEBP":
        return "webp"
    return None


def is_image(mime: str, body: bytes) -> bool:
    """True when `body` is read as an image: its bytes are one, its type an image or none."""
    return (mime in IMAGE_TYPES or mime in _SNIFFED) and image_format(body) is not None


class ImageDocument:
    """A PNG, JPEG, GIF or WebP image: the text in its metadata, located by format and part.

    Locations: `png:tEXt[0]` (the text) and `png:tEXt[0]#name` (its keyword), `png:zTXt[0]`,
    `png:iTXt[0]` with `#name`, `#language` and `#translated`, `png:exif:0x010e`,
    `png:<chunk type>[0]`; `jpeg:COM[0]`, `jpeg:exif:0x9286` (`jpeg:exif:gps:0x001b`,
    `jpeg:exif:interop:0x0001` for those directories; repeats `[1]`), `jpeg:xmp`,
    `jpeg:xmp-extended`, `jpeg:iptc:2:120`, `jpeg:APP12[0]`; `gif:comment[0]`, `gif:text[0]`,
    `gif:xmp`, `gif:app[0]`, `gif:ext[0]`; `webp:exif:...`, `webp:xmp`, `webp:<fourcc>[0]`; and
    `<format>:trailer>text:0` or `<format>:trailer>jpeg:COM[0]` for what follows the image.
    Fields are the locations without their `[n]`.
    """

    def __init__(self, body: bytes, context: tuple[str, ...] = (), depth: int = 0) -> None:
        kind = image_format(body)
        if kind is None:
            raise UndecodableBody("body is not a PNG, JPEG, GIF or WebP image")
        self._body = body
        found = Found(kind + ":", context)
        end = _PARSERS[kind](body, found)
        _trailer(found, body[end:], depth)
        self.segments = tuple(found.segments)
        self.uninspectable = tuple(found.uninspectable)
        self._writers = found.writers
        self._locations = frozenset(s.location for s in found.segments)

    def rebuild(self, replacements: Mapping[str, str]) -> bytes:
        """The image with the replaced texts written into their chunks; the rest byte for byte.

        `UndecodableBody` for a segment the image cannot carry changed (`rewritable=False`).
        """
        pieces: list[tuple[int, int, bytes]] = []
        for location, text in replacements.items():
            writer = self._writers.get(location)
            if writer is None:
                if location in self._locations:
                    raise UndecodableBody(
                        f"{location} cannot be changed in the image: a finding there blocks it"
                    )
                raise KeyError(f"no segment at {location!r}")
            pieces.append((writer.start, writer.end, writer.write(text)))
        out: list[bytes] = []
        done = 0
        for start, end, data in sorted(pieces):
            out += [self._body[done:start], data]
            done = end
        out.append(self._body[done:])
        return b"".join(out)


def _trailer(found: Found, rest: bytes, depth: int) -> None:
    """What follows the image: another image, text, padding, or an uninspectable part."""
    if not rest.strip(b"\x00 \t\r\n"):
        return
    name = found.prefix + "trailer"
    if image_format(rest) is not None and depth + 1 < MAX_NESTING:
        inner = ImageDocument(rest, found.context, depth + 1)
        found.uninspectable.extend(name + SEP + u for u in inner.uninspectable)
        segments = inner.segments
    else:
        sniffed = sniffed_text(rest)
        if sniffed is None:
            found.uninspectable.append(name)
            return
        segments = TextNode(sniffed[0], found.context).segments
    if len(found.segments) + len(segments) > MAX_IMAGE_TEXTS:
        raise UndecodableBody(f"image carries more than {MAX_IMAGE_TEXTS} texts")
    found.segments.extend(
        Segment(name + SEP + s.location, s.text, s.context, name + SEP + s.field, False)
        for s in segments
    )


def _truncated(what: str, where: int) -> UndecodableBody:
    return UndecodableBody(f"{what} is cut short or malformed at byte {where}")


# --- PNG -----------------------------------------------------------------------------------------

# Chunks that hold no text: pixels, colour, timing, animation.
_PNG_BINARY = frozenset(
    b"IHDR PLTE IDAT tRNS cHRM gAMA iCCP sBIT sRGB cICP mDCV mDCv cLLI cLLi bKGD hIST pHYs sPLT "
    b"tIME acTL fcTL fdAT oFFs sCAL pCAL gIFg".split()
)


def _png(body: bytes, found: Found) -> int:
    """Walk the chunks of a PNG to IEND; the offset just past it."""
    pos, index = len(_PNG), 0
    while True:
        found.walk()
        if pos + 12 > len(body):
            raise _truncated("PNG image (no IEND chunk)", pos)
        length: int
        kind: bytes
        length, kind = struct.unpack_from(">I4s", body, pos)
        end = pos + 12 + length
        if length > 0x7FFFFFFF or end > len(body):
            raise _truncated(f"PNG chunk {index}", pos)
        if not kind.isalpha():
            raise UndecodableBody(f"PNG chunk {index} at byte {pos} has no valid chunk type")
        if index == 0 and kind != b"IHDR":
            raise UndecodableBody("PNG image does not start with an IHDR chunk")
        if kind == b"IEND":
            return end
        name = kind.decode("ascii")
        data = body[pos + 8 : end - 4] if kind not in (b"IDAT", b"fdAT") else b""
        if kind in _PNG_TEXT:
            _PNG_TEXT[kind](found, found.next(name), kind, data, pos, end)
        elif kind == b"eXIf":
            read_exif(found, "exif", data)
        elif kind not in _PNG_BINARY:
            any_text(found, found.next(name), data)
        pos, index = end, index + 1


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    """A PNG chunk: length, type, data, CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_keyword(found: Found, name: str, data: bytes) -> tuple[bytes, bytes] | None:
    """(keyword, rest) of a text chunk, the keyword recorded; None (uninspectable) if malformed."""
    keyword, nul, rest = data.partition(b"\x00")
    if not nul or not keyword:
        found.broken(name)
        return None
    found.text(name + NAME_MARK, keyword.decode("latin-1"))
    return keyword, rest


def _png_text(found: Found, name: str, kind: bytes, data: bytes, start: int, end: int) -> None:
    """A tEXt chunk: keyword and Latin-1 (or UTF-8) text; the text can be rewritten."""
    parts = _png_keyword(found, name, data)
    if parts is None:
        return
    keyword, raw = parts
    text, charset = utf8_or_latin1(raw)

    def write(new: str) -> bytes:
        return _png_chunk(kind, keyword + b"\x00" + new.encode(charset, "replace"))

    _record(found, name, keyword, text, Writer(start, end, write))


def _png_ztext(found: Found, name: str, kind: bytes, data: bytes, start: int, end: int) -> None:
    """A zTXt chunk: keyword and compressed text, inflated within limits; rewritable."""
    parts = _png_keyword(found, name, data)
    if parts is None:
        return
    keyword, rest = parts
    if rest[:1] != b"\x00":
        found.broken(name)  # the only compression method is 0, deflate
        return
    try:
        raw = found.inflate(rest[1:], f"PNG {name}")
    except UndecodableBody:
        found.broken(name)
        return
    text, charset = utf8_or_latin1(raw)

    def write(new: str) -> bytes:
        packed = zlib.compress(new.encode(charset, "replace"))
        return _png_chunk(kind, keyword + b"\x00\x00" + packed)

    _record(found, name, keyword, text, Writer(start, end, write))


def _png_itext(found: Found, name: str, kind: bytes, data: bytes, start: int, end: int) -> None:
    """An iTXt chunk: keyword, language, translated keyword, UTF-8 text; rewritable."""
    parts = _png_keyword(found, name, data)
    if parts is None:
        return
    keyword, rest = parts
    flag, method = rest[:1], rest[1:2]
    language, nul1, after_language = rest[2:].partition(b"\x00")
    translated, nul2, payload = after_language.partition(b"\x00")
    if not (nul1 and nul2) or flag not in (b"\x00", b"\x01") or method != b"\x00":
        found.broken(name)
        return
    found.text(name + "#language", language.decode("latin-1"))
    found.text(name + "#translated", utf8_or_latin1(translated)[0])
    raw = payload
    if flag == b"\x01":
        try:
            raw = found.inflate(payload, f"PNG {name}")
        except UndecodableBody:
            found.broken(name)
            return
    text, charset = utf8_or_latin1(raw)
    head = data[: len(data) - len(payload)]

    def write(new: str) -> bytes:
        encoded = new.encode(charset, "replace")
        return _png_chunk(kind, head + (zlib.compress(encoded) if flag == b"\x01" else encoded))

    _record(found, name, keyword, text, Writer(start, end, write))


def _record(found: Found, name: str, keyword: bytes, text: str, writer: Writer) -> None:
    """A text chunk's text, with its keyword's words as context; a raw profile's contents too."""
    found.text(name, text, context_words(keyword.decode("latin-1")), writer)
    if keyword.startswith(b"Raw profile type "):
        read_raw_profile(found, name, text)


_PNG_TEXT: dict[bytes, Callable[[Found, str, bytes, bytes, int, int], None]] = {
    b"tEXt": _png_text,
    b"zTXt": _png_ztext,
    b"iTXt": _png_itext,
}


# --- JPEG ----------------------------------------------------------------------------------------

# The end of entropy-coded data: a marker, which is 0xFF followed by neither a stuffed 0x00 nor
# a restart marker (fill bytes 0xFF before a marker match too).
_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7]")
_FILL = re.compile(rb"\xff+")
_XMP = b"http://ns.adobe.com/xap/1.0/\x00"
_XMP_EXTENDED = b"http://ns.adobe.com/xmp/extension/\x00"
_PHOTOSHOP = b"Photoshop 3.0\x00"
# APPn segments known to hold binary only.
_JPEG_BINARY = (b"JFIF\x00", b"JFXX\x00", b"ICC_PROFILE\x00", b"MPF\x00", b"FPXR\x00", b"Adobe")


def _jpeg(body: bytes, found: Found) -> int:
    """Walk the marker segments of a JPEG to EOI; the offset just past it."""
    pos = 2
    extended: dict[bytes, list[tuple[int, bytes]]] = {}
    while True:
        found.walk()
        fill = _FILL.match(body, pos)  # a marker's 0xFF, and any fill bytes before it
        if fill is None:
            raise _truncated("JPEG image (no EOI marker)", pos)
        start, pos = pos, fill.end()
        if pos >= len(body):
            raise _truncated("JPEG image (no EOI marker)", pos)
        marker = body[pos]
        pos += 1
        if marker == 0xD9:
            _xmp_extended(found, extended)
            return pos
        if 0xD0 <= marker <= 0xD7:  # a restart marker: the scan goes on
            pos = _scan_end(body, pos)
            continue
        if marker in (0x00, 0xD8):
            raise UndecodableBody(f"JPEG image has a stray marker at byte {start}")
        if marker == 0x01:
            continue
        if pos + 2 > len(body):
            raise _truncated("JPEG image", pos)
        (length,) = struct.unpack_from(">H", body, pos)
        end = pos + length
        if length < 2 or end > len(body):
            raise _truncated(f"JPEG segment 0x{marker:02X}", start)
        data = body[pos + 2 : end] if marker != 0xDA else b""
        if marker == 0xFE:
            _jpeg_comment(found, data, start, end)
        elif 0xE0 <= marker <= 0xEF:
            _jpeg_app(found, marker, data, extended)
        pos = _scan_end(body, end) if marker == 0xDA else end


def _scan_end(body: bytes, pos: int) -> int:
    """Where the entropy-coded data starting at `pos` ends: at the next marker."""
    match = _SCAN_END.search(body, pos)
    if match is None:
        raise _truncated("JPEG scan data (no EOI marker)", pos)
    return match.start()


def _jpeg_comment(found: Found, data: bytes, start: int, end: int) -> None:
    """A COM segment: text (rewritable, within a segment's 65533 bytes), or uninspectable."""
    name = found.next("COM")
    sniffed = text_in(data)
    if sniffed is None:
        if data.strip(b"\x00"):
            found.broken(name)
        return
    text, charset = sniffed

    def write(new: str) -> bytes:
        encoded = new.encode(charset, "replace")
        if len(encoded) > 0xFFFF - 2:
            raise UndecodableBody(f"jpeg:{name} would be too long for a JPEG comment")
        return b"\xff\xfe" + struct.pack(">H", len(encoded) + 2) + encoded

    found.text(name, text, (), Writer(start, end, write))


def _jpeg_app(
    found: Found, marker: int, data: bytes, extended: dict[bytes, list[tuple[int, bytes]]]
) -> None:
    """An APPn segment: EXIF, XMP, Photoshop's IPTC, other text; binary is skipped."""
    if marker == 0xE1 and data.startswith(b"Exif\x00"):
        read_exif(found, "exif", data[6:])
    elif marker == 0xE1 and data.startswith(_XMP):
        read_xmp(found, "xmp", data[len(_XMP) :])
    elif marker == 0xE1 and data.startswith(_XMP_EXTENDED):
        chunk = data[len(_XMP_EXTENDED) :]
        if len(chunk) < 40:
            found.broken("xmp-extended")
            return
        (offset,) = struct.unpack_from(">I", chunk, 36)
        extended.setdefault(chunk[:32], []).append((offset, chunk[40:]))
    elif marker == 0xED and data.startswith(_PHOTOSHOP):
        read_photoshop(found, data[len(_PHOTOSHOP) :])
    elif not data.startswith(_JPEG_BINARY):
        any_text(found, found.next(f"APP{marker - 0xE0}"), data)


def _xmp_extended(found: Found, extended: Mapping[bytes, list[tuple[int, bytes]]]) -> None:
    """Each extended XMP packet, its chunks joined in order, as one text."""
    for chunks in extended.values():
        read_xmp(found, found.unique("xmp-extended"), b"".join(c for _, c in sorted(chunks)))


# --- GIF -----------------------------------------------------------------------------------------

_GIF_XMP = b"XMP DataXMP"
# After XMP in a GIF: a "magic trailer" of 0x01, 0xFF down to 0x00, and the block terminator.
_GIF_XMP_TRAILER = b"\x01" + bytes(range(255, -1, -1)) + b"\x00"


def _gif(body: bytes, found: Found) -> int:
    """Walk the blocks of a GIF to its trailer (or the body's end); the offset past it."""
    if len(body) < 13:
        raise _truncated("GIF image", len(body))
    pos = 13 + _color_table(body[10])
    while True:
        found.walk()
        if pos >= len(body):  # many writers leave the trailer out: the blocks end here too
            return pos
        block = body[pos]
        if block == 0x3B:
            return pos + 1
        if block == 0x2C:  # an image: descriptor, local colour table, LZW code size, data
            if pos + 11 > len(body):
                raise _truncated("GIF image descriptor", pos)
            pos = _sub_blocks(body, pos + 11 + _color_table(body[pos + 9]), found)[0]
        elif block == 0x21 and pos + 2 <= len(body):
            pos = _gif_extension(found, body, body[pos + 1], pos + 2)
        else:
            raise UndecodableBody(f"GIF image has an unknown block at byte {pos}")


def _color_table(packed: int) -> int:
    """The size of the colour table a GIF descriptor's packed byte announces."""
    return 3 << ((packed & 7) + 1) if packed & 0x80 else 0


def _sub_blocks(body: bytes, pos: int, found: Found, keep: bool = False) -> tuple[int, bytes]:
    """The offset past the data sub-blocks at `pos` and their terminator; their data if `keep`."""
    pieces = []
    while True:
        found.walk()
        if pos >= len(body):
            raise _truncated("GIF data sub-blocks", pos)
        size = body[pos]
        if keep:
            pieces.append(body[pos + 1 : pos + 1 + size])
        pos += 1 + size
        if size == 0:
            return pos, b"".join(pieces)


def _gif_extension(found: Found, body: bytes, label: int, start: int) -> int:
    """A GIF extension: comments, plain text and text-bearing application data are read."""
    if label == 0xFF and start < len(body) and body[start] == 11:
        head, rest = body[start + 1 : start + 12], start + 12  # the application's name
    else:
        head, rest = b"", start
    end, data = _sub_blocks(body, rest, found, keep=label != 0xF9)
    if label == 0xFE:
        sniffed = text_in(data)
        name = found.next("comment")
        if sniffed is None:
            found.broken(name)
        else:
            found.text(name, sniffed[0])
    elif label == 0x01:  # plain text: a 12-byte grid description, then the text
        any_text(found, found.next("text"), data[12:])
    elif head == _GIF_XMP and body[rest:end].endswith(_GIF_XMP_TRAILER):
        read_xmp(found, "xmp", body[rest : end - len(_GIF_XMP_TRAILER)])
    elif label == 0xFF:
        any_text(found, found.next("app"), data)
    elif label != 0xF9:  # a graphic control extension holds timing and transparency only
        any_text(found, found.next("ext"), data)
    return end


# --- WebP ----------------------------------------------------------------------------------------

_WEBP_BINARY = frozenset({b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP"})
_FOURCC = re.compile(rb"[A-Za-z0-9]{1,4} *")


def _webp(body: bytes, found: Found) -> int:
    """Walk the RIFF chunks of a WebP image; the offset where the RIFF ends."""
    size: int = struct.unpack_from("<I", body, 4)[0]
    riff_end = 8 + size
    if size < 4 or riff_end > len(body):
        raise _truncated("WebP image (RIFF size)", 4)
    pos = 12
    while pos < riff_end:
        found.walk()
        if pos + 8 > riff_end:
            raise _truncated("WebP chunk", pos)
        fourcc: bytes
        length: int
        fourcc, length = struct.unpack_from("<4sI", body, pos)
        end = pos + 8 + length
        if end > riff_end:
            raise _truncated("WebP chunk", pos)
        data = body[pos + 8 : end]
        if fourcc == b"EXIF":
            read_exif(found, "exif", data[6:] if data.startswith(b"Exif\x00") else data)
        elif fourcc == b"XMP ":
            read_xmp(found, "xmp", data)
        elif fourcc not in _WEBP_BINARY:
            label = fourcc.decode("ascii").strip() if _FOURCC.fullmatch(fourcc) else fourcc.hex()
            any_text(found, found.next(label), data)
        pos = end + length % 2
    return riff_end


_PARSERS: dict[str, Callable[[bytes, Found], int]] = {
    "png": _png,
    "jpeg": _jpeg,
    "gif": _gif,
    "webp": _webp,
}
