"""Tests for dlp_proxy/core/codecs/metadata.py: EXIF, XMP, IPTC and the texts images carry."""

from __future__ import annotations

import os
import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlp_proxy.core.codecs.metadata import (
    MAX_IFD_ENTRIES,
    MAX_IMAGE_PARTS,
    MAX_IMAGE_TEXTS,
    MAX_INFLATED_BYTES,
    MAX_METADATA_BLOCKS,
    Found,
    read_exif,
    read_iptc,
    read_photoshop,
    read_raw_profile,
    read_xmp,
    text_in,
    utf8_or_latin1,
)
from dlp_proxy.errors import UndecodableBody
from tests.core.codecs.pictures import (
    SSN,
    ascii_entry,
    coded_entry,
    iptc,
    photoshop,
    tiff,
    xmp_packet,
    xp_entry,
)
from tests.core.codecs.support import by_location

NOTE = f"Customer SSN {SSN}"


def exif_texts(data: bytes) -> tuple[dict[str, str], list[str]]:
    """What `read_exif` finds in `data`: texts by location, and uninspectable locations."""
    found = Found("jpeg:", ())
    read_exif(found, "exif", data)
    return by_location(tuple(found.segments)), found.uninspectable


# --- Found ---------------------------------------------------------------------------------------


def test_found_names_parts_and_fields() -> None:
    """Parts are numbered per kind, repeats of a name get `[n]`, fields drop every `[n]`."""
    found = Found("png:", ("upload",))
    assert [found.next("tEXt"), found.next("tEXt"), found.next("zTXt")] == [
        "tEXt[0]",
        "tEXt[1]",
        "zTXt[0]",
    ]
    assert [found.unique("exif:0x010e"), found.unique("exif:0x010e")] == [
        "exif:0x010e",
        "exif:0x010e[1]",
    ]
    found.text("tEXt[1]", NOTE)
    found.text("tEXt[2]", " \x00\n")  # blank: no segment
    (segment,) = found.segments
    assert (segment.location, segment.field, segment.context, segment.rewritable) == (
        "png:tEXt[1]",
        "png:tEXt",
        ("upload",),
        False,
    )


def test_found_refuses_more_texts_than_the_limit() -> None:
    """The MAX_IMAGE_TEXTS+1-th text is UndecodableBody."""
    found = Found("png:", ())
    for i in range(MAX_IMAGE_TEXTS):
        found.text(f"t[{i}]", "x")
    with pytest.raises(UndecodableBody, match="more than"):
        found.text("one more", "x")


def test_found_counts_the_blocks_it_looks_at_and_the_parts_walked() -> None:
    """More than MAX_METADATA_BLOCKS blocks, or MAX_IMAGE_PARTS parts, is UndecodableBody."""
    found = Found("png:", ())
    for _ in range(MAX_METADATA_BLOCKS):
        found.look()
    with pytest.raises(UndecodableBody, match="metadata blocks"):
        found.look()
    for _ in range(MAX_IMAGE_PARTS):
        found.walk()
    with pytest.raises(UndecodableBody, match="parts"):
        found.walk()


def test_inflate_is_bounded_by_ratio_and_by_a_total_per_image() -> None:
    """One block may not inflate past its ratio; all blocks together not past MAX_INFLATED_BYTES."""
    found = Found("png:", ())
    with pytest.raises(UndecodableBody, match="decompression bomb"):
        found.inflate(zlib.compress(b"a" * 10_000_000), "zTXt")
    # Random bytes barely compress: each is within its ratio, but together they pass the total.
    block = zlib.compress(os.urandom(1024 * 1024))
    for _ in range(MAX_INFLATED_BYTES // (1024 * 1024)):
        assert len(found.inflate(block, "zTXt")) == 1024 * 1024
    with pytest.raises(UndecodableBody, match="inflates past"):
        found.inflate(block, "zTXt")


def test_text_in_reads_utf8_utf16_and_latin1_and_skips_binary() -> None:
    """Metadata bytes are text in UTF-8, UTF-16 (trailing NULs too) or Latin-1, or binary."""
    assert text_in(NOTE.encode() + b"\x00") == (NOTE, "utf-8")
    assert text_in(NOTE.encode("utf-16-le") + b"\x00\x00") == (NOTE, "utf-16-le")
    assert text_in("Müller".encode("latin-1")) == ("Müller", "latin-1")
    assert text_in(bytes(range(64))) is None
    assert text_in(b"\x00\x00") is None
    assert utf8_or_latin1(b"\xe9") == ("é", "latin-1")
    assert utf8_or_latin1("é".encode()) == ("é", "utf-8")


# --- EXIF ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("order", ["<", ">"])
def test_exif_string_tags_are_segments(order: str) -> None:
    """ASCII, UserComment (each charset code), XP tags and GPS texts are read, either byte order."""
    wide = "utf-16-le" if order == "<" else "utf-16-be"
    data = tiff(
        [ascii_entry(0x010E, NOTE), xp_entry(0x9C9C, NOTE), (0x0100, 3, 1, b"\x02\x00\x00\x00")],
        exif=[
            coded_entry(0x9286, b"UNICODE\x00", NOTE.encode(wide)),
            ascii_entry(0xA430, "Maria Gonzalez"),
            (0x9000, 7, 4, b"0232"),
            (0x9101, 7, 4, b"\x01\x02\x03\x00"),  # binary UNDEFINED: skipped
        ],
        gps=[coded_entry(0x001B, b"ASCII\x00\x00\x00", NOTE.encode()), ascii_entry(0x0001, "N")],
        order=order,
    )
    texts, broken = exif_texts(data)
    assert broken == []
    assert texts == {
        "jpeg:exif:0x010e": NOTE,
        "jpeg:exif:0x9c9c": NOTE,
        "jpeg:exif:0x9286": NOTE,
        "jpeg:exif:0xa430": "Maria Gonzalez",
        "jpeg:exif:0x9000": "0232",
        "jpeg:exif:gps:0x001b": NOTE,
        "jpeg:exif:gps:0x0001": "N",
    }


@pytest.mark.parametrize(
    ("code", "raw"),
    [
        (b"ASCII\x00\x00\x00", NOTE.encode() + b"   "),
        (b"UNICODE\x00", b"\xff\xfe" + NOTE.encode("utf-16-le")),
        (b"JIS\x00\x00\x00\x00\x00", NOTE.encode("shift_jis")),
        (b"\x00" * 8, NOTE.encode()),
    ],
    ids=["ascii", "unicode-bom", "jis", "undefined"],
)
def test_user_comment_is_read_by_its_charset_code(code: bytes, raw: bytes) -> None:
    """UserComment's 8-byte code names its charset; an undefined code is sniffed."""
    texts, _ = exif_texts(tiff([], exif=[coded_entry(0x9286, code, raw)]))
    assert texts["jpeg:exif:0x9286"].lstrip("\ufeff") == NOTE


def test_exif_context_comes_from_the_tag_name() -> None:
    """A tag's name gives its context words (Artist: `artist`)."""
    found = Found("jpeg:", ())
    read_exif(found, "exif", tiff([ascii_entry(0x013B, "Maria Gonzalez")]))
    assert found.segments[0].context == ("artist",)


def _self_pointing_tiff(pointer: int) -> bytes:
    """A TIFF whose IFD0 points back at itself through an Exif pointer and its next offset."""
    entries = [(0x8769, 4, 1, struct.pack("<I", pointer)), ascii_entry(0x010E, "abc")]
    body = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", len(entries))
    for tag, kind, count, payload in entries:
        body += struct.pack("<HHI", tag, kind, count) + payload.ljust(4, b"\x00")
    return body + struct.pack("<I", 8)


def test_exif_directories_that_point_back_are_read_once() -> None:
    """An IFD pointing at itself (as Exif IFD and as the next IFD) is read once: no loop."""
    texts, broken = exif_texts(_self_pointing_tiff(8))
    assert (texts, broken) == ({"jpeg:exif:0x010e": "abc"}, [])


@pytest.mark.parametrize(
    "data",
    [
        b"II*\x00",
        b"XX*\x00\x08\x00\x00\x00",
        b"II*\x00\xff\x00\x00\x00",
        _self_pointing_tiff(5000),
        b"II*\x00\x08\x00\x00\x00" + struct.pack("<H", 3) + bytes(12),
        b"II*\x00\x08\x00\x00\x00" + struct.pack("<H", 1) + struct.pack("<HHII", 0x10E, 2, 50, 999),
        b"II*\x00\x08\x00\x00\x00" + struct.pack("<H", MAX_IFD_ENTRIES + 1) + bytes(12_100),
    ],
    ids=[
        "short",
        "no-order",
        "ifd0-past-end",
        "subifd-past-end",
        "entries-cut",
        "value-out",
        "too-many-entries",
    ],
)
def test_malformed_exif_is_uninspectable(data: bytes) -> None:
    """EXIF whose header, directories or values lie outside it is uninspectable as a whole."""
    _, broken = exif_texts(data)
    assert broken == ["jpeg:exif"]


@settings(deadline=2000)
@given(data=st.binary(max_size=600))
def test_any_exif_bytes_give_texts_or_uninspectable(data: bytes) -> None:
    """Any bytes after a TIFF header end in texts or an uninspectable EXIF, never another error."""
    exif_texts(b"II*\x00\x08\x00\x00\x00" + data)
    exif_texts(b"MM\x00*\x00\x00\x00\x08" + data)


# --- IPTC, Photoshop, XMP, raw profiles ----------------------------------------------------------


def test_iptc_text_datasets_are_segments() -> None:
    """Every dataset of record 2 but the binary ones; extended sizes and padding are read."""
    long_caption = NOTE.encode() * 3
    extended = bytes([0x1C, 2, 120]) + b"\x80\x04" + struct.pack(">I", len(long_caption))
    data = (
        iptc((1, 90, b"\x1b%G"), (2, 0, b"\x00\x04"), (2, 80, "Zoë".encode()), (2, 25, b"kw"))
        + iptc((2, 25, b"kw2"))
        + extended
        + long_caption
        + b"\x00\x00"
    )
    found = Found("jpeg:", ())
    read_iptc(found, data)
    assert found.uninspectable == []
    assert by_location(tuple(found.segments)) == {
        "jpeg:iptc:2:80": "Zoë",
        "jpeg:iptc:2:25": "kw",
        "jpeg:iptc:2:25[1]": "kw2",
        "jpeg:iptc:2:120": long_caption.decode(),
    }
    assert found.segments[0].context == ("by-line", "by", "line")


@pytest.mark.parametrize(
    "data",
    [b"\x1c\x02", b"\x1c\x02\x78\x00\x10abc", b"\x1c\x02\x78\x80\x09", b"junk"],
    ids=["short-header", "size-past-end", "extended-too-wide", "not-a-dataset"],
)
def test_malformed_iptc_is_uninspectable(data: bytes) -> None:
    """IPTC that does not parse is uninspectable."""
    found = Found("jpeg:", ())
    read_iptc(found, data)
    assert found.uninspectable == ["jpeg:iptc"]


def test_photoshop_resources_give_iptc_and_xmp() -> None:
    """IPTC-NAA and XMP resources are read; other resources (thumbnails) are skipped."""
    data = photoshop(
        (0x040C, bytes(range(255))),
        (0x0404, iptc((2, 120, NOTE.encode()))),
        (0x0424, xmp_packet(NOTE)),
    )
    found = Found("jpeg:", ())
    read_photoshop(found, data)
    assert by_location(tuple(found.segments)) == {
        "jpeg:iptc:2:120": NOTE,
        "jpeg:xmp": xmp_packet(NOTE).decode(),
    }
    broken = Found("jpeg:", ())
    read_photoshop(broken, b"8BIM\x04\x04\x00\x00\x00\x00\xff\xff")
    assert broken.uninspectable == ["jpeg:photoshop"]


def test_xmp_that_is_not_text_is_uninspectable() -> None:
    """An XMP packet is one text; one that does not decode is uninspectable."""
    found = Found("jpeg:", ())
    read_xmp(found, "xmp", xmp_packet(NOTE).decode().encode("utf-16"))
    read_xmp(found, "xmp[1]", b"\xff\xfe\x00\xd8")
    assert [s.text.lstrip("\ufeff") for s in found.segments] == [xmp_packet(NOTE).decode()]
    assert found.uninspectable == ["jpeg:xmp[1]"]


def _raw_profile(kind: str, data: bytes, length: int | None = None) -> str:
    hexed = data.hex()
    lines = "\n".join(hexed[i : i + 72] for i in range(0, len(hexed), 72))
    return f"\n{kind}\n{length if length is not None else len(data):8d}\n{lines}\n"


@pytest.mark.parametrize(
    ("kind", "data", "location"),
    [
        ("exif", b"Exif\x00\x00" + tiff([ascii_entry(0x010E, NOTE)]), "png:zTXt[0]>exif:0x010e"),
        ("xmp", xmp_packet(NOTE), "png:zTXt[0]>xmp"),
        ("iptc", iptc((2, 120, NOTE.encode())), "png:zTXt[0]>iptc:2:120"),
        ("8bim", photoshop((0x0404, iptc((2, 120, NOTE.encode())))), "png:zTXt[0]>iptc:2:120"),
    ],
)
def test_raw_profiles_are_read_for_their_contents(kind: str, data: bytes, location: str) -> None:
    """ImageMagick's hex profiles hold EXIF, XMP, IPTC or Photoshop resources: all are read."""
    found = Found("png:", ())
    read_raw_profile(found, "zTXt[0]", _raw_profile(kind, data))
    assert found.uninspectable == []
    assert NOTE in by_location(tuple(found.segments))[location]


@pytest.mark.parametrize(
    "text",
    [
        "\nexif\n   4\nabc\n",
        _raw_profile("exif", b"Exif\x00\x00abc", length=99),
        "no profile here",
        "\nexif\n       0\n\n",
        "\nexif\n 4" + " " * 100_000 + "x",
    ],
    ids=["odd-hex", "wrong-length", "no-header", "empty", "long-space-run"],
)
def test_malformed_raw_profiles_are_uninspectable(text: str) -> None:
    """A raw profile whose hex or length is wrong is uninspectable."""
    found = Found("png:", ())
    read_raw_profile(found, "zTXt[0]", text)
    assert found.uninspectable == ["png:zTXt[0]"]
