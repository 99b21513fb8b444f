"""The images built in code: well-formed, with their text where it was put."""

from __future__ import annotations

import struct
import zlib

from bench.bypass.images import (
    exif_segment,
    jpeg,
    jpeg_segment,
    png,
    png_chunk,
    png_chunks,
    xmp_segment,
)


def test_a_png_has_valid_chunks_and_keeps_what_follows_iend() -> None:
    """Every chunk's CRC is right, extra chunks sit before IDAT, bytes after IEND stay."""
    data = png((png_chunk(b"tEXt", b"Comment\x00hi"),), after_end=b"tail")
    chunks = png_chunks(data)
    assert [k for k, _ in chunks] == [b"IHDR", b"tEXt", b"IDAT", b"IEND"]
    assert data.endswith(b"IEND\xaeB`\x82tail")
    assert len(zlib.decompress(dict(chunks)[b"IDAT"])) == 8 * (1 + 8 * 3)
    at = 8
    while at < len(data) - 4:
        (length,) = struct.unpack("!I", data[at : at + 4])
        body = data[at + 4 : at + 8 + length]
        assert struct.unpack("!I", data[at + 8 + length : at + 12 + length])[0] == zlib.crc32(body)
        at += 12 + length
        if body[:4] == b"IEND":
            break


def test_a_jpeg_has_its_markers_and_segments_in_place() -> None:
    """SOI first, the given segments right after JFIF, EOI before what follows it."""
    com = jpeg_segment(0xFE, b"note")
    data = jpeg((com,), after_end=b"tail")
    assert data.startswith(b"\xff\xd8\xff\xe0")
    assert data.endswith(b"\xff\xd9tail")
    assert (
        data.index(com)
        < data.index(b"\xff\xdb")
        < data.index(b"\xff\xc0")
        < data.index(b"\xff\xda")
    )
    assert com == b"\xff\xfe\x00\x06note"


def test_exif_and_xmp_carry_their_text() -> None:
    """ImageDescription and UserComment are in the EXIF segment, the description in XMP."""
    exif = exif_segment(description="desc here", user_comment="comment here")
    assert exif.startswith(b"\xff\xe1")
    assert b"Exif\x00\x00II*\x00" in exif
    assert b"desc here\x00" in exif
    assert b"ASCII\x00\x00\x00comment here" in exif
    assert struct.unpack("!H", exif[2:4])[0] == len(exif) - 2
    xmp = xmp_segment("shown nowhere")
    assert b"http://ns.adobe.com/xap/1.0/\x00" in xmp
    assert b"shown nowhere" in xmp
