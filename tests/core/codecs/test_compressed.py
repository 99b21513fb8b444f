"""Compressed files as bodies: read inside, bounded, never rewritten."""

from __future__ import annotations

import contextlib
import gzip
import string
import zlib

import pytest
from backports import zstd
from hypothesis import given
from hypothesis import strategies as st

from dlp_proxy.core.codecs import compressed, parse_body
from dlp_proxy.errors import UndecodableBody


def _texts(content_type: str, body: bytes) -> dict[str, str]:
    return {s.location: s.text for s in parse_body(content_type, body).segments}


@pytest.mark.parametrize(
    "content_type", ["application/gzip", "text/plain", "", "application/octet-stream"]
)
def test_a_gzip_file_is_read_inside(content_type: str) -> None:
    """A `.gz` upload (or gzip bytes under no or a vague type) is read as what it holds."""
    body = gzip.compress(b'{"ssn": "219-09-9999"}', mtime=0)
    assert _texts(content_type, body)["gzip>$.ssn"] == "219-09-9999"


def test_a_zstd_file_is_read_inside() -> None:
    """A zstd file is read the same way."""
    assert _texts("application/zstd", zstd.compress(b"card 4111 1111 1111 1111")) == {
        "zstd>text:0": "card 4111 1111 1111 1111"
    }


def test_gzip_header_texts_are_segments() -> None:
    """The member's file name, which `gunzip -N` restores, is a segment."""
    data = b"see attached"
    deflate = zlib.compressobj(wbits=-15)
    raw = deflate.compress(data) + deflate.flush()
    body = (
        b"\x1f\x8b\x08\x08\x00\x00\x00\x00\x00\xff219-09-9999.txt\x00"
        + raw
        + zlib.crc32(data).to_bytes(4, "little")
        + len(data).to_bytes(4, "little")
    )
    assert _texts("application/gzip", body)["gzip#header:0"] == "219-09-9999.txt"


def test_nothing_inside_is_rewritable() -> None:
    """Compressing again would change the client's bytes: a redaction there blocks instead."""
    body = gzip.compress(b"ssn 219-09-9999", mtime=0)
    document = parse_body("application/gzip", body)
    assert not any(s.rewritable for s in document.segments)
    assert document.rebuild({}) == body
    with pytest.raises(UndecodableBody, match="cannot be rewritten"):
        document.rebuild({"gzip>text:0": "ssn <SSN>"})


def test_a_bomb_is_refused_at_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """A file that decompresses past MAX_BYTES (or MAX_RATIO) is refused, not expanded."""
    monkeypatch.setattr(compressed, "MAX_BYTES", 1 << 20)
    body = gzip.compress(b"0" * (4 << 20), mtime=0)
    with pytest.raises(UndecodableBody, match="exceeds"):
        parse_body("application/gzip", body)


def test_nesting_is_bounded() -> None:
    """gzip in gzip in gzip ... past MAX_NESTING is refused."""
    body = b"deep"
    for _ in range(12):
        body = gzip.compress(body, mtime=0)
    with pytest.raises(UndecodableBody, match="nested"):
        parse_body("application/gzip", body)


def test_a_corrupt_file_is_refused() -> None:
    """gzip magic followed by garbage is refused (the vendor's gunzip fails too)."""
    with pytest.raises(UndecodableBody, match="cannot be read"):
        parse_body("application/gzip", b"\x1f\x8b\x08\x00garbage-garbage")


@given(
    st.text(alphabet=string.ascii_letters + string.digits + " .,-", max_size=300).filter(str.strip)
)
def test_round_trip_of_text(text: str) -> None:
    """Any plain text gzip-compressed comes back whole as the inner document's text."""
    body = gzip.compress(text.encode(), mtime=0)
    document = parse_body("application/gzip", body)
    inner = "".join(s.text for s in document.segments if s.location.startswith("gzip>text:"))
    assert inner == text


@given(st.binary(max_size=300))
def test_any_bytes_after_the_magic_are_read_or_refused(tail: bytes) -> None:
    """gzip magic and anything after it: a document or UndecodableBody, nothing else."""
    with contextlib.suppress(UndecodableBody):
        parse_body("application/gzip", b"\x1f\x8b\x08" + tail)
