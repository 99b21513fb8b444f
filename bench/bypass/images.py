"""PNG, JPEG and GIF files built in code, with text hidden where image viewers do not show it.

No imaging library: the PNG is an 8x8 RGB image (zlib and CRC from the standard library), the
JPEG an 8x8 grey baseline image (one block, one-symbol Huffman tables), the GIF a 1x1 image.
Text goes into PNG tEXt, iTXt and zTXt chunks, a JPEG comment, EXIF (ImageDescription,
Artist, UserComment, ...), an XMP packet, a GIF comment, or after the end of the image (PNG
IEND, JPEG EOI, GIF trailer), where decoders stop reading.
"""

from __future__ import annotations

import struct
import zlib

__all__ = [
    "exif_segment",
    "gif",
    "jpeg",
    "jpeg_segment",
    "png",
    "png_chunk",
    "png_chunks",
    "xmp_segment",
]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
XMP_NAMESPACE = b"http://ns.adobe.com/xap/1.0/\x00"


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC."""
    return struct.pack("!I", len(data)) + kind + data + struct.pack("!I", zlib.crc32(kind + data))


def png(extra_chunks: tuple[bytes, ...] = (), after_end: bytes = b"") -> bytes:
    """An 8x8 RGB PNG with `extra_chunks` before IDAT and `after_end` after IEND."""
    header = png_chunk(b"IHDR", struct.pack("!IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
    pixels = b"".join(
        b"\x00" + b"".join(bytes((30 * x, 100 + y, 180)) for x in range(8)) for y in range(8)
    )
    data = png_chunk(b"IDAT", zlib.compress(pixels))
    return (
        PNG_SIGNATURE + header + b"".join(extra_chunks) + data + png_chunk(b"IEND", b"") + after_end
    )


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """The (type, data) of every chunk of a PNG, up to IEND (what a decoder reads)."""
    if not data.startswith(PNG_SIGNATURE):
        return []
    chunks, at = [], len(PNG_SIGNATURE)
    while at + 8 <= len(data):
        (length,) = struct.unpack("!I", data[at : at + 4])
        kind = data[at + 4 : at + 8]
        chunks.append((kind, data[at + 8 : at + 8 + length]))
        at += 12 + length
        if kind == b"IEND":
            break
    return chunks


def jpeg_segment(marker: int, payload: bytes) -> bytes:
    """One JPEG marker segment: FF, marker, length (payload + 2), payload."""
    return bytes((0xFF, marker)) + struct.pack("!H", len(payload) + 2) + payload


def jpeg(segments: tuple[bytes, ...] = (), after_end: bytes = b"") -> bytes:
    """An 8x8 grey baseline JPEG with `segments` after SOI and `after_end` after EOI."""
    jfif = jpeg_segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    quant = jpeg_segment(0xDB, b"\x00" + b"\x01" * 64)
    frame = jpeg_segment(0xC0, b"\x08\x00\x08\x00\x08\x01\x01\x11\x00")
    # One symbol per table, code length 1: DC category 0, AC end-of-block.
    dc = jpeg_segment(0xC4, b"\x00" + b"\x01" + b"\x00" * 15 + b"\x00")
    ac = jpeg_segment(0xC4, b"\x10" + b"\x01" + b"\x00" * 15 + b"\x00")
    scan = jpeg_segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
    entropy = b"\x3f"  # DC diff 0 ("0"), EOB ("0"), padded with ones
    return (
        b"\xff\xd8"
        + jfif
        + b"".join(segments)
        + quant
        + frame
        + dc
        + ac
        + scan
        + entropy
        + b"\xff\xd9"
        + after_end
    )


def _ifd(entries: list[tuple[int, int, bytes]], offset: int, next_ifd: int = 0) -> bytes:
    """A little-endian TIFF IFD at `offset`: entries (tag, type, value bytes), data after it."""
    count = len(entries)
    data_at = offset + 2 + 12 * count + 4
    table, data = b"", b""
    for tag, kind, value in entries:
        unit = {2: 1, 4: 4, 7: 1}[kind]
        n = len(value) // unit
        if len(value) <= 4:
            table += struct.pack("<HHI", tag, kind, n) + value.ljust(4, b"\x00")
        else:
            table += struct.pack("<HHII", tag, kind, n, data_at + len(data))
            data += value + (b"\x00" if len(value) % 2 else b"")
    return struct.pack("<H", count) + table + struct.pack("<I", next_ifd) + data


def exif_segment(
    description: str = "",
    user_comment: str = "",
    *,
    make: str = "",
    model: str = "",
    artist: str = "",
    software: str = "",
    date_taken: str = "",
) -> bytes:
    """An APP1 EXIF segment.

    IFD0: ImageDescription, Make, Model, Software, Artist; the Exif IFD: DateTimeOriginal
    (`YYYY:MM:DD HH:MM:SS`) and UserComment. Empty ones are left out.
    """
    tiff_header = b"II*\x00" + struct.pack("<I", 8)
    ascii_tags = [(0x010E, description), (0x010F, make), (0x0110, model)]
    ascii_tags += [(0x0131, software), (0x013B, artist)]
    entries = [(tag, 2, text.encode() + b"\x00") for tag, text in ascii_tags if text]
    exif_entries: list[tuple[int, int, bytes]] = []
    if date_taken:
        exif_entries.append((0x9003, 2, date_taken.encode() + b"\x00"))
    if user_comment:
        exif_entries.append((0x9286, 7, b"ASCII\x00\x00\x00" + user_comment.encode()))
    exif_ifd = b""
    if exif_entries:
        entries.append((0x8769, 4, b"\x00\x00\x00\x00"))  # the Exif IFD's offset, set below
        ifd0_len = len(_ifd(entries, 8))
        exif_ifd = _ifd(exif_entries, 8 + ifd0_len)
        entries[-1] = (0x8769, 4, struct.pack("<I", 8 + ifd0_len))
    return jpeg_segment(0xE1, b"Exif\x00\x00" + tiff_header + _ifd(entries, 8) + exif_ifd)


def xmp_segment(description: str) -> bytes:
    """An APP1 XMP packet whose dc:description is `description`."""
    packet = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f'<dc:description><rdf:Alt><rdf:li xml:lang="x-default">{description}</rdf:li>'
        "</rdf:Alt></dc:description></rdf:Description></rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    )
    return jpeg_segment(0xE1, XMP_NAMESPACE + packet.encode())


def gif(comment: bytes = b"", after_end: bytes = b"") -> bytes:
    """A 1x1 GIF89a with a Comment Extension holding `comment`, and `after_end` after it ends."""
    head = b"GIF89a" + struct.pack("<HH", 1, 1) + b"\x80\x00\x00" + b"\x00\x00\x00\xff\xff\xff"
    extension = b""
    if comment:
        blocks = b"".join(
            bytes((len(comment[i : i + 255]),)) + comment[i : i + 255]
            for i in range(0, len(comment), 255)
        )
        extension = b"\x21\xfe" + blocks + b"\x00"
    image = b"\x2c" + struct.pack("<HHHH", 0, 0, 1, 1) + b"\x00" + b"\x02\x02\x44\x01\x00"
    return head + extension + image + b"\x3b" + after_end
