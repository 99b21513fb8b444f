"""The images built in code: well-formed, with their text where it was put."""

from __future__ import annotations

import struct
import zlib

from bench.bypass.images import (
    exif_segment,
    gif,
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


def test_exif_carries_camera_tags_and_a_date_taken() -> None:
    """Make, Model, Artist in IFD0 (tag order); DateTimeOriginal in the Exif IFD it points to."""
    exif = exif_segment(
        make="Canon", model="EOS R6", artist="A. B.", date_taken="2025:11:03 14:22:07"
    )
    tiff = exif[10:]
    (count,) = struct.unpack("<H", tiff[8:10])
    tags = [struct.unpack("<H", tiff[10 + 12 * i : 12 + 12 * i])[0] for i in range(count)]
    assert tags == [0x010F, 0x0110, 0x013B, 0x8769]
    (exif_at,) = struct.unpack("<I", tiff[10 + 12 * 3 + 8 : 10 + 12 * 3 + 12])
    assert struct.unpack("<H", tiff[exif_at + 2 : exif_at + 4])[0] == 0x9003
    for text in (b"Canon\x00", b"EOS R6\x00", b"A. B.\x00", b"2025:11:03 14:22:07\x00"):
        assert text in exif


def test_a_gif_has_its_comment_in_sub_blocks_and_keeps_what_follows_its_trailer() -> None:
    """GIF89a, a comment extension split into sub-blocks of at most 255 bytes, then `;`."""
    data = gif(b"x" * 300, after_end=b"tail")
    assert data.startswith(b"GIF89a")
    at = data.index(b"\x21\xfe")
    assert data[at + 2] == 255
    assert data[at + 3 + 255] == 45
    assert data[at + 3 + 255 + 1 + 45] == 0
    assert data.endswith(b"\x3btail")
    assert b"\x21\xfe" not in gif()
