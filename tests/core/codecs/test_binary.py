"""Tests for dlp_proxy/core/codecs/binary.py: text told apart from binary by its bytes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlp_proxy.core.codecs import TextDocument, parse_body, sniff_text
from dlp_proxy.core.codecs.binary import mostly_printable
from dlp_proxy.errors import UndecodableBody
from tests.core.codecs.support import by_location

NOTE = "Customer Maria Gonzalez, SSN 078-05-1120\n"


@pytest.mark.parametrize(
    ("body", "charset"),
    [
        (NOTE.encode(), "utf-8"),
        (b"\xef\xbb\xbf" + NOTE.encode(), "utf-8"),
        (NOTE.encode("utf-16-le"), "utf-16-le"),
        (NOTE.encode("utf-16-be"), "utf-16-be"),
        (b"\xff\xfe" + NOTE.encode("utf-16-le"), "utf-16-le"),
        (b"\xfe\xff" + NOTE.encode("utf-16-be"), "utf-16-be"),
        (b"\xff\xfe\x00\x00" + NOTE.encode("utf-32-le"), "utf-32-le"),
        (b"\x00\x00\xfe\xff" + NOTE.encode("utf-32-be"), "utf-32-be"),
        ("Zoë Núñez, née 1980".encode("utf-16-le"), "utf-16-le"),
    ],
    ids=[
        "utf8",
        "utf8-bom",
        "utf16le",
        "utf16be",
        "utf16le-bom",
        "utf16be-bom",
        "utf32le",
        "utf32be",
        "utf16le-latin",
    ],
)
def test_text_is_found_in_its_charset(body: bytes, charset: str) -> None:
    """UTF-8, UTF-16 (by mark or NULs) and UTF-32 (by mark) are read; the mark stays as U+FEFF."""
    sniffed = sniff_text(body)
    assert sniffed is not None
    text, found = sniffed
    assert found == charset
    assert text.lstrip("\ufeff") in (NOTE, "Zoë Núñez, née 1980")
    assert text.encode(found) == body


@pytest.mark.parametrize(
    "body",
    [
        bytes(range(256)),
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00",
        b"plain ascii but \x01\x02\x03\x04\x05\x06\x07\x08 controls",
        b"\xe9t\xe9 latin-1",
    ],
    ids=["all-bytes", "png", "zip", "controls", "latin1"],
)
def test_binary_and_other_charsets_are_not_text(body: bytes) -> None:
    """Binary, UTF-8 full of controls, and text that is not UTF-8 give None."""
    assert sniff_text(body) is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\xff\xfe" + NOTE.encode("utf-16-le")[:-1], "by its byte order mark"),
        (NOTE.encode("utf-16-le") + b"!", "by its NUL bytes"),
        ("\x01\x02\x03\x04 hi".encode("utf-16-le"), "not text"),
        (b"\xff\xfe\x00\x00" + b"\xff\xff\xff\xff", "UTF-32-LE"),
    ],
    ids=["bom-odd-length", "nuls-odd-length", "utf16-controls", "utf32-invalid"],
)
def test_what_says_utf16_or_utf32_but_is_not_is_undecodable(body: bytes, message: str) -> None:
    """A mark or NUL pattern that says UTF-16/32 over bytes that are not is never read as UTF-8."""
    with pytest.raises(UndecodableBody, match=message):
        sniff_text(body)


def test_mostly_printable_counts_controls_and_non_characters() -> None:
    """Tabs and line ends are text; controls and private-use characters over 5% are not."""
    assert mostly_printable("a\tb\r\nc\x0c" * 10)
    assert mostly_printable("x" * 95 + "\x00" * 5)
    assert not mostly_printable("x" * 94 + "\x00" * 6)
    assert not mostly_printable("x" * 90 + "\ue000" * 10)
    assert mostly_printable("")


@pytest.mark.parametrize("content_type", ["application/octet-stream", "", "text/plain"])
@pytest.mark.parametrize("charset", ["utf-16-le", "utf-16-be", "utf-16", "utf-32"])
def test_untyped_wide_text_is_inspected_as_text(content_type: str, charset: str) -> None:
    """A binary WebSocket frame or untyped upload in UTF-16/32 is text, its SSN a segment."""
    body = NOTE.encode(charset)
    doc = parse_body(content_type, body)
    assert isinstance(doc, TextDocument)
    assert [s.text.lstrip("\ufeff") for s in doc.segments] == [NOTE]
    assert doc.rebuild({}) == body


def test_wide_text_rebuilds_in_its_charset_with_its_mark() -> None:
    """A replaced UTF-16BE text with a byte order mark is written back in UTF-16BE, mark first."""
    body = b"\xfe\xff" + NOTE.encode("utf-16-be")
    doc = parse_body("application/octet-stream", body)
    (segment,) = doc.segments
    rebuilt = doc.rebuild({segment.location: segment.text.replace("078-05-1120", "<US_SSN>")})
    assert rebuilt == b"\xfe\xff" + NOTE.replace("078-05-1120", "<US_SSN>").encode("utf-16-be")


def test_a_declared_charset_is_not_second_guessed() -> None:
    """A body whose Content-Type names a charset is read in that charset, not sniffed."""
    body = "ab".encode("utf-16-le")
    doc = parse_body("text/plain; charset=utf-8", body)
    assert by_location(doc.segments) == {"text:0": "a\x00b\x00"}


def test_wide_binary_is_refused_rather_than_read_as_utf8() -> None:
    """Bytes with UTF-16's NULs that are not UTF-16 text are uninspectable, not UTF-8 text."""
    with pytest.raises(UndecodableBody, match="by its NUL bytes"):
        parse_body("application/octet-stream", NOTE.encode("utf-16-le") + b"\n")


printable = st.text(
    alphabet=st.characters(categories=("L", "M", "N", "P", "S", "Zs"), exclude_characters="\ufeff"),
    min_size=1,
    max_size=200,
)


@given(
    text=printable,
    encoding=st.sampled_from(
        [
            ("utf-8", b""),
            ("utf-16-le", b"\xff\xfe"),
            ("utf-16-be", b"\xfe\xff"),
            ("utf-32-le", b"\xff\xfe\x00\x00"),
            ("utf-32-be", b"\x00\x00\xfe\xff"),
        ]
    ),
)
def test_marked_text_round_trips(text: str, encoding: tuple[str, bytes]) -> None:
    """Any printable text with a byte order mark is found in its charset and encodes back."""
    charset, bom = encoding
    body = bom + text.encode(charset)
    sniffed = sniff_text(body)
    assert sniffed is not None
    assert sniffed[1] == charset
    assert sniffed[0] == ("\ufeff" if bom else "") + text
    assert sniffed[0].encode(charset) == body


@given(text=st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=2))
def test_unmarked_ascii_in_utf16_round_trips(text: str) -> None:
    """ASCII text in UTF-16 without a mark is found by its NULs, in the right byte order."""
    for charset in ("utf-16-le", "utf-16-be"):
        body = text.encode(charset)
        assert sniff_text(body) == (text, charset)


@given(body=st.binary(max_size=2048))
def test_any_bytes_are_text_none_or_undecodable(body: bytes) -> None:
    """Any bytes give text that encodes back to them, None, or UndecodableBody."""
    try:
        sniffed = sniff_text(body)
    except UndecodableBody:
        return
    if sniffed is not None:
        assert sniffed[0].encode(sniffed[1]) == body


@given(
    text=st.text(
        alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_categories=["Cc"]),
        min_size=2,
    )
)
def test_unmarked_utf32_round_trips(text: str) -> None:
    """Latin-1 range text in UTF-32 without a mark is found by its NULs, in the right order."""
    for charset in ("utf-32-le", "utf-32-be"):
        body = text.encode(charset)
        assert sniff_text(body) == (text, charset)


def test_utf32_sniffing_needs_whole_units() -> None:
    """A body whose length is no multiple of four is never taken for UTF-32."""
    body = "ab".encode("utf-32-le") + b"\x00"
    sniffed = sniff_text(body)
    assert sniffed is None or sniffed[1] != "utf-32-le"
