"""Content-Encoding, decoded with limits so that a compression bomb cannot exhaust memory.

`decode_body` undoes `Content-Encoding` (gzip, deflate, br, zstd, or a list of them) and stops
as soon as the output passes `max_bytes` or `max_ratio` times the compressed size, raising
`BodyTooLarge`; truncated or corrupt data raises `UndecodableBody`. `encode_body` applies the
same encodings again after a change.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import brotli

from dlp_proxy.errors import BodyTooLarge, UndecodableBody

try:  # Python 3.14 has zstd in the standard library
    from compression import zstd  # type: ignore[import-not-found,unused-ignore]
except ImportError:
    from backports import zstd  # type: ignore[no-redef,unused-ignore]

__all__ = ["decode_body", "encode_body", "encodings_of", "gzip_header_texts"]

_CHUNK = 64 * 1024


def encodings_of(header: str) -> list[str]:
    """The codings of a Content-Encoding header, in the order they were applied."""
    return [c.strip().lower() for c in header.split(",") if c.strip() and c.strip() != "identity"]


def decode_body(
    raw: bytes,
    content_encoding: str,
    max_bytes: int,
    max_ratio: float,
    header_texts: list[str] | None = None,
) -> bytes:
    """The body with every Content-Encoding undone, within the size and ratio limits.

    The text in gzip members' headers (file name, comment, extra field), which `gzip -lN`
    shows and decompression drops, is appended to `header_texts` when it is given.
    """
    body = raw
    limit = min(max_bytes, int(max(len(raw), 1) * max_ratio))
    for coding in reversed(encodings_of(content_encoding)):
        decoder = _DECODERS.get(coding)
        if decoder is None:
            raise UndecodableBody(f"unsupported Content-Encoding {coding!r}")
        body = _gzip(body, limit, header_texts) if decoder is _gzip else decoder(body, limit)
    return body


def gzip_header_texts(raw: bytes) -> list[str]:
    """The extra field, file name and comment of the gzip member `raw` starts with (RFC 1952).

    They are Latin-1 text; empty ones are left out.
    """
    texts: list[str] = []
    if len(raw) < 10 or not raw.startswith(_GZIP_MAGIC):
        return texts
    flags, position = raw[3], 10
    if flags & _FEXTRA:
        size = int.from_bytes(raw[position : position + 2], "little")
        texts.append(raw[position + 2 : position + 2 + size].decode("latin-1"))
        position += 2 + size
    for flag in (_FNAME, _FCOMMENT):
        if flags & flag:
            end = raw.find(b"\x00", position)
            if end < 0:
                break
            texts.append(raw[position:end].decode("latin-1"))
            position = end + 1
    return [t for t in texts if t.strip("\x00 ")]


def encode_body(body: bytes, content_encoding: str) -> bytes:
    """The body with the Content-Encoding applied again, in order."""
    for coding in encodings_of(content_encoding):
        body = _ENCODERS[coding](body)
    return body


def _corrupt(name: str, error: Exception) -> UndecodableBody:
    return UndecodableBody(
        f"cannot decode Content-Encoding {name!r}: the body is corrupt ({error})"
    )


def _truncated(name: str) -> UndecodableBody:
    return UndecodableBody(f"cannot decode Content-Encoding {name!r}: the body is truncated")


def _too_large(limit: int) -> BodyTooLarge:
    return BodyTooLarge(
        f"decompressed body exceeds {limit} bytes (max_body_bytes or max_decompression_ratio); "
        "a compression bomb is never expanded further"
    )


def _zlib_stream(raw: bytes, limit: int, wbits: int, name: str) -> tuple[bytes, bytes]:
    """One zlib, raw deflate or gzip stream decoded, and the bytes after its end."""
    decompressor = zlib.decompressobj(wbits=wbits)
    out = bytearray()
    data = raw
    try:
        while True:
            out += decompressor.decompress(data, _CHUNK)
            if len(out) > limit:
                raise _too_large(limit)
            data = decompressor.unconsumed_tail
            if decompressor.eof or not data:
                break
    except zlib.error as e:
        raise _corrupt(name, e) from None
    if not decompressor.eof:
        raise _truncated(name)
    return bytes(out), decompressor.unused_data


def _zlib(raw: bytes, limit: int, wbits: int, name: str) -> bytes:
    """A single stream; bytes after its end are refused (a reader may or may not use them)."""
    out, rest = _zlib_stream(raw, limit, wbits, name)
    if rest:
        raise _after_end(name, len(rest))
    return out


def _after_end(name: str, size: int) -> UndecodableBody:
    return UndecodableBody(
        f"cannot decode Content-Encoding {name!r}: {size} bytes follow the end of the compressed "
        "data, which a reader may or may not use"
    )


def _gzip(raw: bytes, limit: int, header_texts: list[str] | None = None) -> bytes:
    """Every member, as `gzip -d` and Python's `gzip.decompress` read them all.

    Only members, and NUL padding after the last one (which gzip tools skip), may follow the
    first: anything else after the end is refused. Each member's header texts go to
    `header_texts` when it is given.
    """
    out = bytearray()
    rest = raw
    while True:
        if header_texts is not None:
            header_texts.extend(gzip_header_texts(rest))
        member, rest = _zlib_stream(rest, limit - len(out), 16 + zlib.MAX_WBITS, "gzip")
        out += member
        if not rest.strip(b"\x00"):
            return bytes(out)
        if not rest.startswith(_GZIP_MAGIC):
            raise _after_end("gzip", len(rest))


_GZIP_MAGIC = b"\x1f\x8b"
_FEXTRA, _FNAME, _FCOMMENT = 0x04, 0x08, 0x10
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def _deflate(raw: bytes, limit: int) -> bytes:
    # "deflate" is meant to be zlib-wrapped, but many servers send raw deflate.
    try:
        return _zlib(raw, limit, zlib.MAX_WBITS, "deflate")
    except UndecodableBody as wrapped:
        try:
            return _zlib(raw, limit, -zlib.MAX_WBITS, "deflate")
        except UndecodableBody:
            raise wrapped from None  # what is wrong with it read as zlib, the usual form


def _brotli(raw: bytes, limit: int) -> bytes:
    decompressor = brotli.Decompressor()
    out = bytearray()
    try:
        out += decompressor.process(raw, output_buffer_limit=_CHUNK)
        while not decompressor.can_accept_more_data() and not decompressor.is_finished():
            if len(out) > limit:
                raise _too_large(limit)
            out += decompressor.process(b"", output_buffer_limit=_CHUNK)
    except brotli.error as e:
        raise _corrupt("br", e) from None
    if len(out) > limit:
        raise _too_large(limit)
    if not decompressor.is_finished():
        raise _truncated("br")
    return bytes(out)


def _zstd(raw: bytes, limit: int) -> bytes:
    """Every frame, as `zstd -d` reads them all; anything else after the end is refused."""
    out = bytearray()
    rest = raw
    while True:
        frame, rest = _zstd_frame(rest, limit - len(out))
        out += frame
        if not rest:
            return bytes(out)
        if not rest.startswith(_ZSTD_MAGIC):
            raise _after_end("zstd", len(rest))


def _zstd_frame(raw: bytes, limit: int) -> tuple[bytes, bytes]:
    decompressor = zstd.ZstdDecompressor()
    out = bytearray()
    try:
        out += decompressor.decompress(raw, max_length=_CHUNK)
        while not decompressor.eof and not decompressor.needs_input:
            if len(out) > limit:
                raise _too_large(limit)
            out += decompressor.decompress(b"", max_length=_CHUNK)
    except zstd.ZstdError as e:
        raise _corrupt("zstd", e) from None
    if len(out) > limit:
        raise _too_large(limit)
    if not decompressor.eof:
        raise _truncated("zstd")
    return bytes(out), decompressor.unused_data


_DECODERS: dict[str, Callable[[bytes, int], bytes]] = {
    "gzip": _gzip,
    "x-gzip": _gzip,
    "deflate": _deflate,
    "br": _brotli,
    "zstd": _zstd,
}

_ENCODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": lambda b: zlib.compress(b, wbits=16 + zlib.MAX_WBITS),
    "x-gzip": lambda b: zlib.compress(b, wbits=16 + zlib.MAX_WBITS),
    "deflate": zlib.compress,
    "br": lambda b: brotli.compress(b, quality=4),
    "zstd": lambda b: zstd.compress(b, level=3),
}
