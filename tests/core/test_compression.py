"""Tests for dlp_proxy/core/compression.py: Content-Encoding with limits against bombs."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable

import brotli
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlp_proxy.core.compression import decode_body, encode_body, encodings_of
from dlp_proxy.errors import BodyTooLarge, UndecodableBody

try:  # Python 3.14 has zstd in the standard library
    from compression import zstd  # type: ignore[import-not-found,unused-ignore]
except ImportError:
    from backports import zstd  # type: ignore[no-redef,unused-ignore]

CODINGS = ["gzip", "deflate", "br", "zstd", "gzip, br", "identity", ""]


@given(st.binary(max_size=4096), st.sampled_from(CODINGS))
def test_round_trip(body: bytes, coding: str) -> None:
    """Whatever is encoded decodes back to the same bytes."""
    assert decode_body(encode_body(body, coding), coding, 10**6, 10**6) == body


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
def test_truncated_body_is_undecodable(coding: str) -> None:
    """A compressed body cut short is refused, not half-inspected."""
    encoded = encode_body(b'{"email": "maria@example.com"}' * 50, coding)
    with pytest.raises(UndecodableBody, match=f"cannot decode Content-Encoding '{coding}'"):
        decode_body(encoded[: len(encoded) // 2], coding, 10**6, 1000)


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
def test_garbage_is_undecodable(coding: str) -> None:
    """Bytes that are not in the declared encoding are refused."""
    with pytest.raises(UndecodableBody):
        decode_body(b"this is not compressed at all, honestly", coding, 10**6, 1000)


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
def test_bomb_stops_at_the_ratio_limit(coding: str) -> None:
    """A body that expands past max_ratio times its size is refused before it is expanded."""
    bomb = encode_body(b"0" * 20_000_000, coding)
    assert len(bomb) < 100_000
    with pytest.raises(BodyTooLarge, match="compression bomb"):
        decode_body(bomb, coding, 10**9, 100)


def test_bomb_stops_at_max_bytes() -> None:
    """The absolute limit applies even when the ratio would allow more."""
    with pytest.raises(BodyTooLarge):
        decode_body(gzip.compress(b"a" * 100_000), "gzip", 50_000, 10**6)


def test_raw_deflate_is_accepted() -> None:
    """Servers that send raw deflate instead of zlib-wrapped are understood."""
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw = compressor.compress(b"hello") + compressor.flush()
    assert decode_body(raw, "deflate", 1000, 1000) == b"hello"


def test_unknown_encoding_is_undecodable() -> None:
    """An encoding dlp-proxy does not know cannot be inspected."""
    with pytest.raises(UndecodableBody, match="unsupported Content-Encoding 'compress'"):
        decode_body(b"x", "compress", 1000, 1000)


def test_encodings_of_header() -> None:
    """Codings are listed in the order they were applied, identity dropped."""
    assert encodings_of("gzip, identity, BR") == ["gzip", "br"]


def test_every_gzip_member_is_decoded() -> None:
    """`gzip -d` reads every member: a second member is inspected, not skipped."""
    body = gzip.compress(b"hello ") + gzip.compress(b"219-09-9999")
    assert decode_body(body, "gzip", 10**6, 200) == b"hello 219-09-9999"


def test_every_zstd_frame_is_decoded() -> None:
    """`zstd -d` reads every frame."""
    body = zstd.compress(b"one ") + zstd.compress(b"two")
    assert decode_body(body, "zstd", 10**6, 200) == b"one two"


@pytest.mark.parametrize(
    ("coding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("zstd", zstd.compress),
        ("br", brotli.compress),
    ],
)
def test_bytes_after_the_end_of_a_stream_are_refused(
    coding: str, compress: Callable[[bytes], bytes]
) -> None:
    """A reader may or may not use what follows the end: the body cannot be inspected as read."""
    with pytest.raises(UndecodableBody):
        decode_body(compress(b"note") + b"SSN 219-09-9999", coding, 10**6, 200)


def test_nul_padding_after_the_last_gzip_member_is_allowed() -> None:
    """gzip tools skip NUL padding (tape blocks); it holds nothing to inspect."""
    assert decode_body(gzip.compress(b"a") + b"\x00" * 8, "gzip", 10**6, 200) == b"a"


def test_the_limit_counts_every_member() -> None:
    """Many small members cannot add up past max_body_bytes."""
    body = gzip.compress(b"x" * 600) * 4
    with pytest.raises(BodyTooLarge):
        decode_body(body, "gzip", 2000, 1000)


def _gzip_member(data: bytes, name: bytes = b"", comment: bytes = b"") -> bytes:
    flags = (0x08 if name else 0) | (0x10 if comment else 0)
    header = b"\x1f\x8b\x08" + bytes([flags]) + b"\x00" * 4 + b"\x00\xff"
    header += (name + b"\x00" if name else b"") + (comment + b"\x00" if comment else b"")
    deflate = zlib.compressobj(wbits=-15)
    body = deflate.compress(data) + deflate.flush()
    return header + body + zlib.crc32(data).to_bytes(4, "little") + len(data).to_bytes(4, "little")


def test_gzip_header_texts_of_every_member_are_collected() -> None:
    """File names and comments in gzip headers, which decompression drops, are handed back."""
    raw = _gzip_member(b"a", name=b"first.txt") + _gzip_member(b"b", comment=b"ssn 219-09-9999")
    texts: list[str] = []
    assert decode_body(raw, "gzip", 1 << 20, 100, texts) == b"ab"
    assert texts == ["first.txt", "ssn 219-09-9999"]


@given(st.binary(max_size=64), st.binary(max_size=40), st.binary(max_size=40))
def test_gzip_header_texts_round_trip(data: bytes, name: bytes, comment: bytes) -> None:
    """Any name and comment without NUL come back as Latin-1 text, the content intact."""
    name, comment = name.replace(b"\x00", b""), comment.replace(b"\x00", b"")
    texts: list[str] = []
    assert decode_body(_gzip_member(data, name, comment), "gzip", 1 << 20, 1e6, texts) == data
    expected = [t.decode("latin-1") for t in (name, comment) if t.decode("latin-1").strip("\x00 ")]
    assert texts == expected
