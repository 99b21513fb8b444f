"""Images built byte by byte for the image codec's tests: PNG, JPEG, GIF, WebP and EXIF.

Only the structure is real (chunk lengths and CRCs, marker segments, GIF blocks, RIFF sizes,
TIFF directories); the PNG's pixels decode, the other formats' image data is filler.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

SSN = "078-05-1120"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# A TIFF directory entry: tag, type, count, and the value's bytes.
Entry = tuple[int, int, int, bytes]


# --- PNG ----------------------------------------------------------------------------------------


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """A PNG chunk with its length and CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


IHDR = png_chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))  # 2x2, 8-bit RGB
IDAT = png_chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00\x00\xff\x00" * 2))
IEND = png_chunk(b"IEND", b"")


def png(*chunks: bytes, trailer: bytes = b"") -> bytes:
    """A 2x2 PNG with `chunks` between IHDR and its pixels, and `trailer` after IEND."""
    return PNG_SIGNATURE + IHDR + b"".join(chunks) + IDAT + IEND + trailer


def text_chunk(keyword: str, text: str) -> bytes:
    """A tEXt chunk (Latin-1)."""
    return png_chunk(b"tEXt", keyword.encode("latin-1") + b"\x00" + text.encode("latin-1"))


def ztext_chunk(keyword: str, text: str | bytes) -> bytes:
    """A zTXt chunk: `text` compressed."""
    raw = text if isinstance(text, bytes) else text.encode("latin-1")
    return png_chunk(b"zTXt", keyword.encode("latin-1") + b"\x00\x00" + zlib.compress(raw, 9))


def itext_chunk(
    keyword: str,
    text: str | bytes,
    *,
    compressed: bool = False,
    language: str = "",
    translated: str = "",
) -> bytes:
    """An iTXt chunk (UTF-8), its text compressed or not."""
    raw = text if isinstance(text, bytes) else text.encode("utf-8")
    head = keyword.encode("latin-1") + b"\x00" + (b"\x01" if compressed else b"\x00") + b"\x00"
    head += language.encode("ascii") + b"\x00" + translated.encode("utf-8") + b"\x00"
    return png_chunk(b"iTXt", head + (zlib.compress(raw, 9) if compressed else raw))


def png_chunks(body: bytes) -> list[tuple[bytes, bytes, int]]:
    """(type, data, CRC as stored) of every chunk of a PNG, up to and including IEND."""
    chunks, pos = [], len(PNG_SIGNATURE)
    while True:
        (length,) = struct.unpack_from(">I", body, pos)
        kind = body[pos + 4 : pos + 8]
        data = body[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack_from(">I", body, pos + 8 + length)
        chunks.append((kind, data, crc))
        pos += 12 + length
        if kind == b"IEND":
            return chunks


# --- EXIF (TIFF) --------------------------------------------------------------------------------


def ascii_entry(tag: int, text: str) -> Entry:
    """An ASCII entry, NUL-terminated."""
    raw = text.encode("utf-8") + b"\x00"
    return tag, 2, len(raw), raw


def xp_entry(tag: int, text: str) -> Entry:
    """A Windows XP tag: BYTE values holding UTF-16LE."""
    raw = text.encode("utf-16-le") + b"\x00\x00"
    return tag, 1, len(raw), raw


def coded_entry(tag: int, code: bytes, raw: bytes) -> Entry:
    """An UNDEFINED entry starting with an 8-byte charset code (UserComment)."""
    value = code + raw
    return tag, 7, len(value), value


def tiff(
    ifd0: Sequence[Entry],
    exif: Sequence[Entry] = (),
    gps: Sequence[Entry] = (),
    *,
    order: str = "<",
) -> bytes:
    """A TIFF header and IFD0, with Exif and GPS directories when they have entries."""
    subs = [(tag, list(entries)) for tag, entries in ((0x8769, exif), (0x8825, gps)) if entries]
    sizes = [2 + 12 * (len(ifd0) + len(subs)) + 4] + [2 + 12 * len(e) + 4 for _, e in subs]
    offsets = [8]
    for size in sizes[:-1]:
        offsets.append(offsets[-1] + size)
    data_start = offsets[-1] + sizes[-1]
    data = bytearray()

    def directory(entries: Sequence[Entry]) -> bytes:
        out = struct.pack(order + "H", len(entries))
        for tag, kind, count, payload in sorted(entries):
            if len(payload) <= 4:
                field = payload.ljust(4, b"\x00")
            else:
                field = struct.pack(order + "I", data_start + len(data))
                data.extend(payload + b"\x00" * (len(payload) % 2))
            out += struct.pack(order + "HHI", tag, kind, count) + field
        return out + struct.pack(order + "I", 0)

    pointers = [
        (tag, 4, 1, struct.pack(order + "I", offsets[i + 1])) for i, (tag, _) in enumerate(subs)
    ]
    blob = directory([*ifd0, *pointers]) + b"".join(directory(e) for _, e in subs)
    header = (b"II*\x00" if order == "<" else b"MM\x00*") + struct.pack(order + "I", 8)
    return header + blob + bytes(data)


# --- JPEG ---------------------------------------------------------------------------------------


def jpeg_segment(marker: int, data: bytes) -> bytes:
    """A JPEG marker segment with its length."""
    return bytes([0xFF, marker]) + struct.pack(">H", len(data) + 2) + data


JFIF = jpeg_segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
_TABLES = (
    jpeg_segment(0xDB, b"\x00" + bytes(range(1, 65)))
    + jpeg_segment(0xC0, b"\x08\x00\x01\x00\x01\x01\x01\x11\x00")
    + jpeg_segment(0xC4, b"\x00" + b"\x01" + bytes(15) + b"\x00")
    + jpeg_segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
)
# Entropy-coded data with a stuffed 0xFF00 and a restart marker in it.
SCAN = b"\x12\x34\xff\x00\x56\xff\xd0\x78\x9a\xff\x00"


def jpeg(*segments: bytes, trailer: bytes = b"") -> bytes:
    """A JPEG with `segments` after its JFIF header, one scan, EOI, and `trailer`."""
    return b"\xff\xd8" + JFIF + b"".join(segments) + _TABLES + SCAN + b"\xff\xd9" + trailer


def exif_segment(data: bytes) -> bytes:
    """An APP1 EXIF segment."""
    return jpeg_segment(0xE1, b"Exif\x00\x00" + data)


def xmp_packet(text: str) -> bytes:
    """An XMP packet whose description holds `text`."""
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
        f'22-rdf-syntax-ns#"><rdf:Description>{text}</rdf:Description></rdf:RDF></x:xmpmeta>'
        '<?xpacket end="w"?>'
    ).encode()


def xmp_segment(packet: bytes) -> bytes:
    """An APP1 XMP segment."""
    return jpeg_segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + packet)


def iptc(*datasets: tuple[int, int, bytes]) -> bytes:
    """IPTC-NAA datasets (record, dataset, value)."""
    return b"".join(
        bytes([0x1C, record, dataset]) + struct.pack(">H", len(value)) + value
        for record, dataset, value in datasets
    )


def photoshop(*resources: tuple[int, bytes]) -> bytes:
    """Photoshop image resources (8BIM blocks with empty names), without the APP13 header."""
    return b"".join(
        b"8BIM"
        + struct.pack(">H", resource)
        + b"\x00\x00"
        + struct.pack(">I", len(data))
        + data
        + b"\x00" * (len(data) % 2)
        for resource, data in resources
    )


def photoshop_segment(resources: bytes) -> bytes:
    """An APP13 Photoshop segment."""
    return jpeg_segment(0xED, b"Photoshop 3.0\x00" + resources)


# --- GIF ----------------------------------------------------------------------------------------


def sub_blocks(data: bytes, size: int = 255) -> bytes:
    """`data` as GIF data sub-blocks of `size` bytes at most, and the terminator."""
    pieces = [data[i : i + size] for i in range(0, len(data), size)]
    return b"".join(bytes([len(p)]) + p for p in pieces) + b"\x00"


def gif_extension(label: int, data: bytes, head: bytes | None = None) -> bytes:
    """A GIF extension: an optional first sub-block `head`, then `data` in sub-blocks."""
    first = bytes([len(head)]) + head if head is not None else b""
    return bytes([0x21, label]) + first + sub_blocks(data)


GIF_IMAGE = b"\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00" + b"\x02" + sub_blocks(b"\x44\x01")


def gif(*extensions: bytes, trailer: bytes = b"", end: bytes = b"\x3b") -> bytes:
    """A 1x1 GIF89a (a two-colour table) with `extensions` before its image."""
    screen = b"GIF89a\x01\x00\x01\x00\x80\x00\x00" + b"\x00\x00\x00\xff\xff\xff"
    return screen + b"".join(extensions) + GIF_IMAGE + end + trailer


def gif_xmp(packet: bytes) -> bytes:
    """XMP as a GIF application extension: the raw packet, then the "magic trailer"."""
    magic = b"\x01" + bytes(range(255, -1, -1)) + b"\x00"
    return b"\x21\xff\x0bXMP DataXMP" + packet + magic


# --- WebP ---------------------------------------------------------------------------------------


def riff_chunk(fourcc: bytes, data: bytes) -> bytes:
    """A RIFF chunk, padded to an even size."""
    return fourcc + struct.pack("<I", len(data)) + data + b"\x00" * (len(data) % 2)


def webp(*chunks: bytes, trailer: bytes = b"") -> bytes:
    """A WebP file: a (filler) VP8L chunk, then `chunks`, then `trailer` after the RIFF."""
    inner = b"WEBP" + riff_chunk(b"VP8L", b"\x2f\x00\x00\x00\x00") + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(inner)) + inner + trailer
