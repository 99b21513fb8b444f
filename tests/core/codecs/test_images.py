"""Tests for dlp_proxy/core/codecs/images.py: PNG, JPEG, GIF and WebP read for their metadata."""

from __future__ import annotations

import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlp_proxy.core.codecs import ImageDocument, TextDocument, metadata, parse_body
from dlp_proxy.core.codecs.images import IMAGE_TYPES, image_format, is_image
from dlp_proxy.core.codecs.metadata import MAX_IMAGE_TEXTS, MAX_METADATA_BLOCKS
from dlp_proxy.errors import UndecodableBody
from tests.core.codecs.pictures import (
    IDAT,
    IEND,
    IHDR,
    PNG_SIGNATURE,
    SSN,
    ascii_entry,
    exif_segment,
    gif,
    gif_extension,
    gif_xmp,
    iptc,
    itext_chunk,
    jpeg,
    jpeg_segment,
    photoshop,
    photoshop_segment,
    png,
    png_chunk,
    png_chunks,
    riff_chunk,
    text_chunk,
    tiff,
    webp,
    xmp_packet,
    xmp_segment,
    ztext_chunk,
)
from tests.core.codecs.support import by_location, multipart

NOTE = f"Customer SSN {SSN}"


def texts(body: bytes, content_type: str = "application/octet-stream") -> dict[str, str]:
    """The segments of an image body by location, after checking it has no uninspectable part."""
    doc = parse_body(content_type, body)
    assert isinstance(doc, ImageDocument)
    assert doc.uninspectable == ()
    return by_location(doc.segments)


# --- which bodies are images ---------------------------------------------------------------------


CLEAN = {"png": png(), "jpeg": jpeg(), "gif": gif(), "webp": webp()}


@pytest.mark.parametrize("kind", sorted(CLEAN))
def test_clean_images_have_no_segments_and_are_inspectable(kind: str) -> None:
    """A screenshot-like image (header, pixels, end) gives no segments and nothing uninspectable."""
    body = CLEAN[kind]
    assert image_format(body) == kind
    doc = parse_body("application/octet-stream", body)
    assert isinstance(doc, ImageDocument)
    assert (doc.segments, doc.uninspectable) == ((), ())
    assert doc.rebuild({}) == body


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("image/png", png()),
        ("image/jpeg", jpeg()),
        ("image/jpg", jpeg()),
        ("image/pjpeg", jpeg()),
        ("image/gif", gif()),
        ("image/webp", webp()),
        ("", png()),
        ("application/octet-stream", jpeg()),
        ("image/png", jpeg()),  # labelled PNG, really a JPEG: read as what it is
        ("image/jpeg; charset=utf-8", webp()),
    ],
)
def test_image_types_and_untyped_images_are_read_as_images(content_type: str, body: bytes) -> None:
    """Image types and untyped or octet-stream bodies with an image's magic number are images."""
    assert isinstance(parse_body(content_type, body), ImageDocument)


def test_an_image_type_that_holds_text_is_read_as_text() -> None:
    """A body labelled image/png that is text is inspected as text."""
    doc = parse_body("image/png", NOTE.encode())
    assert isinstance(doc, TextDocument)
    assert by_location(doc.segments) == {"text:0": NOTE}


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("image/png", b"\x00\x01\x02\xff\xfe\xfd not an image"),
        ("image/bmp", b"BM\x36\x00\x00\x00\x00\x00\x00\x00\x36\x00\xff"),
        ("text/plain", png()),  # a PNG said to be text is not read as an image (nor is it text)
    ],
    ids=["png-label-on-binary", "bmp", "png-labelled-text"],
)
def test_bodies_that_are_neither_a_read_image_nor_text_are_undecodable(
    content_type: str, body: bytes
) -> None:
    """Binary that is not a PNG, JPEG, GIF or WebP stays uninspectable, whatever its label."""
    with pytest.raises(UndecodableBody, match=r"cannot inspect|not valid utf-8"):
        parse_body(content_type, body)


def test_is_image_needs_an_image_or_untyped_type_and_a_magic_number() -> None:
    """`is_image` asks for both the type and the bytes."""
    assert is_image("image/png", png())
    assert is_image("", gif())
    assert not is_image("application/pdf", png())
    assert not is_image("image/png", b"GIF8")
    assert {"image/png", "image/jpeg", "image/gif", "image/webp"} <= IMAGE_TYPES


# --- PNG -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("chunk", "location"),
    [
        (text_chunk("Comment", NOTE), "png:tEXt[0]"),
        (ztext_chunk("Description", NOTE), "png:zTXt[0]"),
        (itext_chunk("Comment", NOTE), "png:iTXt[0]"),
        (itext_chunk("Comment", NOTE, compressed=True), "png:iTXt[0]"),
        (png_chunk(b"eXIf", tiff([ascii_entry(0x010E, NOTE)])), "png:exif:0x010e"),
        (png_chunk(b"prVt", NOTE.encode("utf-16")), "png:prVt[0]"),
    ],
    ids=["tEXt", "zTXt", "iTXt", "iTXt-compressed", "eXIf", "private-chunk"],
)
def test_png_text_parts_are_segments(chunk: bytes, location: str) -> None:
    """Every PNG chunk that carries text gives it as a segment, the SSN in it."""
    assert texts(png(chunk))[location].lstrip("\ufeff") == NOTE


def test_png_names_and_itxt_fields_are_segments_of_their_own() -> None:
    """Keywords are `#name`; an iTXt's language and translated keyword are segments too."""
    body = png(
        text_chunk(f"ssn {SSN}", "x"),
        itext_chunk("Author", "Zoë", language=f"en-{SSN}", translated=f"Autor {SSN}"),
    )
    doc = parse_body("image/png", body)
    assert [(s.location, s.text, s.field, s.rewritable) for s in doc.segments] == [
        ("png:tEXt[0]#name", f"ssn {SSN}", "png:tEXt#name", False),
        ("png:tEXt[0]", "x", "png:tEXt", True),
        ("png:iTXt[0]#name", "Author", "png:iTXt#name", False),
        ("png:iTXt[0]#language", f"en-{SSN}", "png:iTXt#language", False),
        ("png:iTXt[0]#translated", f"Autor {SSN}", "png:iTXt#translated", False),
        ("png:iTXt[0]", "Zoë", "png:iTXt", True),
    ]
    assert {s.location: s.context for s in doc.segments}["png:iTXt[0]"] == ("author",)


def test_png_repeated_chunks_are_numbered_by_type() -> None:
    """The n-th chunk of one type is `[n]`, counted per type."""
    body = png(text_chunk("a", "one"), ztext_chunk("b", "two"), text_chunk("c", "three"))
    located = texts(body)
    assert (located["png:tEXt[0]"], located["png:zTXt[0]"], located["png:tEXt[1]"]) == (
        "one",
        "two",
        "three",
    )


def test_png_text_that_is_utf8_is_read_as_utf8() -> None:
    """tEXt should be Latin-1, but UTF-8 text (as many writers put there) is read as UTF-8."""
    body = png(png_chunk(b"tEXt", b"Comment\x00" + "Zoë Núñez".encode()))
    assert texts(body)["png:tEXt[0]"] == "Zoë Núñez"


@pytest.mark.parametrize(
    ("chunk", "location"),
    [
        (text_chunk("Comment", NOTE), "png:tEXt[0]"),
        (ztext_chunk("Comment", NOTE), "png:zTXt[0]"),
        (itext_chunk("Comment", NOTE, language="en", translated="Kommentar"), "png:iTXt[0]"),
        (itext_chunk("Comment", NOTE, compressed=True), "png:iTXt[0]"),
    ],
    ids=["tEXt", "zTXt", "iTXt", "iTXt-compressed"],
)
def test_png_text_rebuilds_into_a_valid_chunk(chunk: bytes, location: str) -> None:
    """A replaced text is written into its chunk with a right length and CRC; the rest stays."""
    body = png(png_chunk(b"prVt", b"paint"), chunk)
    doc = parse_body("image/png", body)
    rebuilt = doc.rebuild({location: "Customer SSN <US_SSN> ü"})
    assert texts(rebuilt)[location] == "Customer SSN <US_SSN> ü"
    assert texts(rebuilt)["png:prVt[0]"] == "paint"
    for kind, data, crc in png_chunks(rebuilt):
        assert zlib.crc32(kind + data) == crc, kind
    before, after = png_chunks(body), png_chunks(rebuilt)
    assert [c for c in after if c[0] != chunk[4:8]] == [c for c in before if c[0] != chunk[4:8]]
    assert rebuilt.startswith(PNG_SIGNATURE + IHDR)
    assert rebuilt.endswith(IDAT + IEND)


def test_replacing_what_an_image_cannot_carry_changed_is_refused() -> None:
    """Names, EXIF and trailers are rewritable=False: rebuild refuses to change them."""
    body = png(text_chunk("Comment", "x"), png_chunk(b"eXIf", tiff([ascii_entry(0x013B, NOTE)])))
    doc = parse_body("image/png", body)
    assert {s.location: s.rewritable for s in doc.segments} == {
        "png:tEXt[0]#name": False,
        "png:tEXt[0]": True,
        "png:exif:0x013b": False,
    }
    for location in ("png:tEXt[0]#name", "png:exif:0x013b"):
        with pytest.raises(UndecodableBody, match="cannot be changed in the image"):
            doc.rebuild({location: "<X>"})
    with pytest.raises(KeyError, match="no segment at"):
        doc.rebuild({"png:tEXt[9]": "<X>"})


def _cuts(body: bytes) -> list[bytes]:
    return [body[:n] for n in range(1, len(body))]


def test_every_truncated_png_is_undecodable() -> None:
    """A PNG cut short anywhere before the end of IEND cannot be inspected."""
    body = png(text_chunk("Comment", NOTE), ztext_chunk("z", "zz"))
    for cut in _cuts(body):
        with pytest.raises(UndecodableBody):
            ImageDocument(cut)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (PNG_SIGNATURE + struct.pack(">I", 999) + b"IHDR" + bytes(20), "PNG chunk 0"),
        (PNG_SIGNATURE + IHDR + png_chunk(b"tE\x00t", b"x") + IEND, "no valid chunk type"),
        (PNG_SIGNATURE + IDAT + IEND, "does not start with an IHDR"),
        (PNG_SIGNATURE + IHDR + b"\xff\xff\xff\xff" + b"IDAT" + bytes(8), "PNG chunk 1"),
    ],
    ids=["length-past-end", "bad-type", "no-ihdr", "huge-length"],
)
def test_malformed_pngs_are_undecodable(body: bytes, message: str) -> None:
    """Chunk lengths past the body, invalid types and a missing IHDR are refused, saying where."""
    with pytest.raises(UndecodableBody, match=message):
        ImageDocument(body)


@pytest.mark.parametrize(
    ("chunk", "location"),
    [
        (png_chunk(b"tEXt", b"no keyword separator"), "png:tEXt[0]"),
        (png_chunk(b"zTXt", b"k\x00\x00not zlib"), "png:zTXt[0]"),
        (png_chunk(b"zTXt", b"k\x00\x01" + zlib.compress(b"x")), "png:zTXt[0]"),
        (png_chunk(b"zTXt", b"k\x00\x00" + zlib.compress(b"x" * 100)[:-6]), "png:zTXt[0]"),
        (png_chunk(b"iTXt", b"k\x00\x02\x00\x00\x00text"), "png:iTXt[0]"),
        (png_chunk(b"iTXt", b"k\x00\x00\x00no terminators"), "png:iTXt[0]"),
    ],
    ids=["tEXt-no-nul", "zTXt-corrupt", "zTXt-method", "zTXt-cut", "iTXt-flag", "iTXt-short"],
)
def test_malformed_text_chunks_are_uninspectable(chunk: bytes, location: str) -> None:
    """A text chunk that does not parse or inflate makes the image uninspectable at that chunk."""
    doc = ImageDocument(png(chunk))
    assert doc.uninspectable == (location,)


@pytest.mark.parametrize("compressed", ["zTXt", "iTXt"])
def test_decompression_bombs_in_text_chunks_are_bounded(compressed: str) -> None:
    """A zTXt or iTXt that inflates to 64 MiB is not expanded: the chunk is uninspectable, fast."""
    bomb = b"\x00" * (64 * 1024 * 1024)
    chunk = (
        ztext_chunk("bomb", bomb)
        if compressed == "zTXt"
        else itext_chunk("bomb", bomb, compressed=True)
    )
    assert len(chunk) < 100_000
    doc = ImageDocument(png(chunk))
    assert doc.uninspectable == (f"png:{compressed}[0]",)


def test_an_image_with_too_many_texts_is_refused() -> None:
    """More than MAX_IMAGE_TEXTS texts in one image is UndecodableBody."""
    body = png(*(text_chunk("k", f"v{i}") for i in range(MAX_IMAGE_TEXTS)))
    with pytest.raises(UndecodableBody, match=f"more than {MAX_IMAGE_TEXTS} texts"):
        ImageDocument(body)


def test_images_of_countless_tiny_parts_are_refused_quickly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Too many metadata blocks or structures is UndecodableBody, found without reading on."""
    blocks = png(*[png_chunk(b"abCd", b"\x00\x01")] * (MAX_METADATA_BLOCKS + 1))
    with pytest.raises(UndecodableBody, match="metadata blocks"):
        ImageDocument(blocks)
    monkeypatch.setattr(metadata, "MAX_IMAGE_PARTS", 1000)
    for body in (
        png(*[png_chunk(b"IDAT", b"")] * 1000),
        b"\xff\xd8" + jpeg_segment(0xDB, b"") * 1000 + b"\xff\xd9",
        gif(b"\x21\xfe" + b"\x01a" * 1000 + b"\x00"),
    ):
        with pytest.raises(UndecodableBody, match="more than 1000 parts"):
            ImageDocument(body)


def test_raw_profiles_are_read_for_what_their_hex_holds() -> None:
    """ImageMagick's "Raw profile type exif" (EXIF in hex) is read as EXIF, under the chunk."""
    data = b"Exif\x00\x00" + tiff([ascii_entry(0x013B, NOTE)])
    hexed = data.hex()
    text = f"\nexif\n{len(data):8d}\n" + "\n".join(
        hexed[i : i + 72] for i in range(0, len(hexed), 72)
    )
    located = texts(png(ztext_chunk("Raw profile type exif", text + "\n")))
    assert located["png:zTXt[0]>exif:0x013b"] == NOTE


# --- trailers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "prefix"),
    [(png, "png"), (jpeg, "jpeg"), (gif, "gif"), (webp, "webp")],
    ids=["png", "jpeg", "gif", "webp"],
)
def test_trailing_bytes_are_text_padding_an_image_or_uninspectable(
    make: object, prefix: str
) -> None:
    """After the image: text is inspected, padding ignored, binary (a zip) is uninspectable."""
    assert callable(make)
    text = make(trailer=NOTE.encode())
    assert texts(text) == {f"{prefix}:trailer>text:0": NOTE}
    wide = make(trailer=NOTE.encode("utf-16-le"))
    assert texts(wide) == {f"{prefix}:trailer>text:0": NOTE}
    assert texts(make(trailer=b"\x00" * 64 + b"\r\n")) == {}
    zipped = ImageDocument(make(trailer=b"PK\x03\x04\x14\x00\x00\x00\x08\x00\xff\xfe\x01"))
    assert zipped.uninspectable == (f"{prefix}:trailer",)


def test_an_image_after_an_image_is_read_too() -> None:
    """A second picture after the first (an MPO) is read as an image, under `trailer>`."""
    body = jpeg(trailer=jpeg(jpeg_segment(0xFE, NOTE.encode())))
    doc = ImageDocument(body)
    assert [(s.location, s.text, s.field, s.rewritable) for s in doc.segments] == [
        ("jpeg:trailer>jpeg:COM[0]", NOTE, "jpeg:trailer>jpeg:COM", False)
    ]
    broken = ImageDocument(png(trailer=png(trailer=b"\xff\x00\xfe")))
    assert broken.uninspectable == ("png:trailer>png:trailer",)


# --- JPEG ----------------------------------------------------------------------------------------


def test_jpeg_text_parts_are_segments() -> None:
    """COM, EXIF, XMP, extended XMP, Photoshop IPTC and text APPn segments are all segments."""
    extended = xmp_packet(f"long {SSN}")
    guid = b"0123456789ABCDEF0123456789ABCDEF"
    ext_head = b"http://ns.adobe.com/xmp/extension/\x00" + guid + struct.pack(">I", len(extended))
    body = jpeg(
        jpeg_segment(0xFE, NOTE.encode()),
        exif_segment(tiff([ascii_entry(0x010E, NOTE)], exif=[ascii_entry(0xA430, "Maria")])),
        xmp_segment(xmp_packet(NOTE)),
        # the extended packet in two chunks, sent out of order
        jpeg_segment(0xE1, ext_head + struct.pack(">I", 20) + extended[20:]),
        jpeg_segment(0xE1, ext_head + struct.pack(">I", 0) + extended[:20]),
        photoshop_segment(photoshop((0x0404, iptc((2, 0, b"\x00\x04"), (2, 120, NOTE.encode()))))),
        jpeg_segment(0xEC, NOTE.encode()),
        jpeg_segment(0xE2, b"ICC_PROFILE\x00\x01\x01" + bytes(range(256))),
    )
    located = texts(body, "image/jpeg")
    assert located == {
        "jpeg:COM[0]": NOTE,
        "jpeg:exif:0x010e": NOTE,
        "jpeg:exif:0xa430": "Maria",
        "jpeg:xmp": xmp_packet(NOTE).decode(),
        "jpeg:iptc:2:120": NOTE,
        "jpeg:APP12[0]": NOTE,
        "jpeg:xmp-extended": extended.decode(),
    }


def test_jpeg_comment_rebuilds_with_its_new_length() -> None:
    """A replaced COM is written with its new length; every other byte stays."""
    comment = jpeg_segment(0xFE, NOTE.encode())
    body = jpeg(comment, jpeg_segment(0xFE, b"second"))
    doc = ImageDocument(body)
    assert {s.location: s.rewritable for s in doc.segments} == {
        "jpeg:COM[0]": True,
        "jpeg:COM[1]": True,
    }
    rebuilt = doc.rebuild({"jpeg:COM[0]": "SSN <US_SSN>"})
    assert rebuilt == body.replace(comment, jpeg_segment(0xFE, b"SSN <US_SSN>"))
    with pytest.raises(UndecodableBody, match="too long for a JPEG comment"):
        doc.rebuild({"jpeg:COM[1]": "x" * 70_000})


def test_jpeg_binary_comment_is_uninspectable_and_binary_app_segments_are_skipped() -> None:
    """A COM that is not text is uninspectable; APPn segments that are binary are skipped."""
    body = jpeg(jpeg_segment(0xEB, bytes(range(200))), jpeg_segment(0xFE, bytes(range(200))))
    doc = ImageDocument(body)
    assert (doc.segments, doc.uninspectable) == ((), ("jpeg:COM[0]",))


def test_jpeg_scans_fill_bytes_and_restart_markers_are_walked() -> None:
    """Fill bytes before markers, stuffed 0xFF00 and RSTn in scans, and two scans all parse."""
    comment = jpeg_segment(0xFE, NOTE.encode())
    second_scan = jpeg_segment(0xDA, b"\x01\x01\x00\x00\x3f\x00") + b"\xaa\xff\x00\xff\xd7\xbb"
    body = jpeg(b"\xff\xff" + comment)[:-2] + second_scan + b"\xff\xff\xd9"
    assert texts(body) == {"jpeg:COM[0]": NOTE}


def test_every_truncated_jpeg_is_undecodable() -> None:
    """A JPEG cut short anywhere before its EOI cannot be inspected."""
    body = jpeg(jpeg_segment(0xFE, NOTE.encode()), exif_segment(tiff([ascii_entry(0x10E, "x")])))
    for cut in _cuts(body):
        with pytest.raises(UndecodableBody):
            ImageDocument(cut)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\xff\xd8\xff\xfe\x00\x01", "JPEG segment 0xFE"),
        (b"\xff\xd8\xff\xd8\xff\xd9", "stray marker"),
        (b"\xff\xd8\xff\xfe\x00\x04ab\x00\xff\xd9", "no EOI"),
    ],
    ids=["length-below-2", "second-soi", "no-marker-after-segment"],
)
def test_malformed_jpegs_are_undecodable(body: bytes, message: str) -> None:
    """Bad segment lengths, stray markers and bytes where a marker must be are refused."""
    with pytest.raises(UndecodableBody, match=message):
        ImageDocument(body)


# --- GIF and WebP --------------------------------------------------------------------------------


def test_gif_text_parts_are_segments() -> None:
    """Comments, plain text, XMP and text application data in a GIF are segments."""
    body = gif(
        gif_extension(0xF9, b"\x00\x00\x00\x00"),
        gif_extension(0xFE, NOTE.encode() * 20),  # several sub-blocks, joined
        gif_extension(0x01, NOTE.encode(), head=bytes(12)),
        gif_xmp(xmp_packet(NOTE)),
        gif_extension(0xFF, NOTE.encode(), head=b"NOTEAPP1.0\x00"),
        gif_extension(0xFF, b"\x01\x00\x00", head=b"NETSCAPE2.0"),
    )
    assert texts(body, "image/gif") == {
        "gif:comment[0]": NOTE * 20,
        "gif:text[0]": NOTE,
        "gif:xmp": xmp_packet(NOTE).decode(),
        "gif:app[0]": NOTE,
    }


def test_gif_without_its_trailer_is_read_but_a_cut_block_is_not() -> None:
    """A GIF that ends after a whole block (no trailer) is read; one cut inside a block is not."""
    body = gif(gif_extension(0xFE, NOTE.encode()), end=b"")
    assert texts(body) == {"gif:comment[0]": NOTE}
    with pytest.raises(UndecodableBody, match="GIF data sub-blocks"):
        ImageDocument(body[:-2])
    with pytest.raises(UndecodableBody, match="unknown block"):
        ImageDocument(gif(b"\x99"))


def test_webp_text_chunks_are_segments() -> None:
    """EXIF (with or without its `Exif` header), XMP and text chunks of a WebP are segments."""
    body = webp(
        riff_chunk(b"EXIF", b"Exif\x00\x00" + tiff([ascii_entry(0x013B, NOTE)], order=">")),
        riff_chunk(b"XMP ", xmp_packet(NOTE)),
        riff_chunk(b"note", NOTE.encode()),
        riff_chunk(b"ICCP", bytes(range(100))),
    )
    assert texts(body, "image/webp") == {
        "webp:exif:0x013b": NOTE,
        "webp:xmp": xmp_packet(NOTE).decode(),
        "webp:note[0]": NOTE,
    }


def test_webp_with_a_wrong_size_is_undecodable() -> None:
    """A RIFF size past the body, or a chunk past the RIFF, is refused."""
    body = webp(riff_chunk(b"XMP ", b"x"))
    with pytest.raises(UndecodableBody, match="RIFF size"):
        ImageDocument(body[:-1])
    inner = b"WEBP" + b"XMP " + struct.pack("<I", 100) + b"xx"
    with pytest.raises(UndecodableBody, match="WebP chunk"):
        ImageDocument(b"RIFF" + struct.pack("<I", len(inner)) + inner)


# --- multipart ----------------------------------------------------------------------------------


def _upload(content_type: str, content: bytes, filename: str = "shot.png") -> bytes:
    head = f'Content-Disposition: form-data; name="shot"; filename="{filename}"\r\n'
    if content_type:
        head += f"Content-Type: {content_type}\r\n"
    return multipart(
        b'Content-Disposition: form-data; name="note"\r\n\r\nScreen attached.',
        head.encode() + b"\r\n" + content,
        boundary="img",
    )


@pytest.mark.parametrize("content_type", ["image/png", "application/octet-stream", ""])
def test_multipart_image_parts_are_read(content_type: str) -> None:
    """A PNG in a multipart upload is read: clean, it is inspectable; its text is a segment."""
    clean = parse_body("multipart/form-data; boundary=img", _upload(content_type, png()))
    assert clean.uninspectable == ()
    assert by_location(clean.segments)["multipart:note"] == "Screen attached."
    assert not [s for s in clean.segments if s.location.startswith("multipart:shot>")]
    body = _upload(content_type, png(text_chunk("Comment", NOTE)))
    doc = parse_body("multipart/form-data; boundary=img", body)
    assert by_location(doc.segments)["multipart:shot>png:tEXt[0]"] == NOTE
    rebuilt = doc.rebuild({"multipart:shot>png:tEXt[0]": "<X>"})
    again = parse_body("multipart/form-data; boundary=img", rebuilt)
    assert by_location(again.segments)["multipart:shot>png:tEXt[0]"] == "<X>"


def test_multipart_image_parts_that_are_not_images_stay_uninspectable() -> None:
    """A part typed image/png that is not an image this codec reads is uninspectable."""
    doc = parse_body("multipart/form-data; boundary=img", _upload("image/png", b"\x89PNG\r\n"))
    assert doc.uninspectable == ("multipart:shot",)
    doc = parse_body("multipart/form-data; boundary=img", _upload("image/tiff", b"II*\x00\x08"))
    assert doc.uninspectable == ("multipart:shot",)


# --- any bytes -----------------------------------------------------------------------------------

MAGIC = [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"RIFF\x10\x00\x00\x00WEBP"]
SAMPLES = [
    png(text_chunk("a", NOTE), ztext_chunk("b", NOTE), itext_chunk("c", NOTE, compressed=True)),
    jpeg(jpeg_segment(0xFE, b"c"), exif_segment(tiff([ascii_entry(0x10E, NOTE)], [], []))),
    gif(gif_extension(0xFE, NOTE.encode()), gif_xmp(xmp_packet("x"))),
    webp(riff_chunk(b"EXIF", tiff([ascii_entry(0x10E, NOTE)])), riff_chunk(b"XMP ", b"<x/>")),
]


def _read(body: bytes) -> None:
    """Parse `body` as an image; a document must rebuild unchanged and with texts replaced."""
    try:
        doc = ImageDocument(body)
    except UndecodableBody:
        return
    assert doc.rebuild({}) == body
    writable = {s.location: "<X>" for s in doc.segments if s.rewritable}
    ImageDocument(doc.rebuild(writable))


@settings(deadline=2000)
@given(magic=st.sampled_from(MAGIC), rest=st.binary(max_size=400))
def test_random_bytes_after_a_magic_number_parse_or_are_undecodable(
    magic: bytes, rest: bytes
) -> None:
    """Any bytes behind an image's magic number give a document or UndecodableBody, quickly."""
    _read(magic + rest)


@settings(deadline=2000)
@given(
    sample=st.sampled_from(SAMPLES),
    changes=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6),
    cut=st.integers(0, 10_000),
)
def test_damaged_images_parse_or_are_undecodable(
    sample: bytes, changes: list[tuple[int, int]], cut: int
) -> None:
    """Images with bytes changed and cut short give a document or UndecodableBody, quickly."""
    body = bytearray(sample)
    for at, value in changes:
        body[at % len(body)] = value
    _read(bytes(body[: max(1, cut % (len(body) + 1))]))
