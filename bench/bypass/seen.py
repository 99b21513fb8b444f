"""What a vendor got for one case, read back from the raw bytes of its connections.

A `TcpVendor` keeps the bytes; `seen_from` parses them after the fact (HTTP/1.1 requests with
chunk extensions and trailers, WebSocket frames after a 101, HTTP/2 streams, the raw bytes of
anything else) and `views` lists every piece the vendor could read, each under a label that
says where it came from, for the scorer to search.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import brotli  # mitmproxy's own dependency, as is backports.zstd
from backports import zstd

from bench.bypass.wire import (
    BINARY,
    CLOSE,
    CONTINUATION,
    PING,
    PONG,
    TEXT,
    WsFrame,
    parse_h2,
    parse_http1,
    parse_ws_frames,
)

__all__ = ["FRAME_NAMES", "Record", "Seen", "SeenRequest", "decoded_body", "seen_from", "views"]

Headers = tuple[tuple[str, str], ...]

FRAME_NAMES = {
    CONTINUATION: "continuation",
    TEXT: "text",
    BINARY: "binary",
    CLOSE: "close",
    PING: "ping",
    PONG: "pong",
}
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


@dataclass(frozen=True)
class Record:
    """One connection as the vendor kept it: bytes in, bytes out, the TLS protocol agreed."""

    received: bytes
    sent: bytes = b""
    alpn: str | None = None


@dataclass(frozen=True)
class SeenRequest:
    """One HTTP request the vendor read (HTTP/1.1 or HTTP/2, pseudo-headers among the headers)."""

    protocol: str
    method: str
    target: str
    headers: Headers
    body: bytes
    trailers: Headers = ()
    extensions: tuple[str, ...] = ()
    complete: bool = True

    def header(self, name: str) -> str | None:
        """The first value of header `name` (case-insensitive)."""
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


@dataclass(frozen=True)
class Seen:
    """Everything the vendor got for one case, parsed; `raw` keeps each connection's bytes."""

    raw: tuple[bytes, ...] = ()
    requests: tuple[SeenRequest, ...] = ()
    frames: tuple[WsFrame, ...] = ()
    upgraded: bytes = b""
    other: bytes = b""

    @property
    def request(self) -> SeenRequest | None:
        """The first request, if any arrived."""
        return self.requests[0] if self.requests else None

    def frames_of(self, *opcodes: int) -> list[WsFrame]:
        """The frames with one of `opcodes`."""
        return [f for f in self.frames if f.opcode in opcodes]


def _answered_101(sent: bytes) -> bool:
    return sent.startswith(b"HTTP/1.1 101") or b"\r\nHTTP/1.1 101" in sent


def _from_http1(record: Record) -> Seen:
    upgraded = _answered_101(record.sent)
    parsed, rest = parse_http1(record.received, upgraded=upgraded)
    requests = tuple(
        SeenRequest(
            "http/1.1", r.method, r.target, r.headers, r.body, r.trailers, r.extensions, r.complete
        )
        for r in parsed
    )
    frames: tuple[WsFrame, ...] = ()
    if upgraded and any((r.header("upgrade") or "").lower() == "websocket" for r in parsed):
        found, rest = parse_ws_frames(rest)
        frames = tuple(found)
    if upgraded:
        return Seen((record.received,), requests, frames, rest)
    return Seen((record.received,), requests, other=rest)


def _from_h2(record: Record) -> Seen:
    requests = tuple(
        SeenRequest(
            "h2",
            s.header(":method") or "",
            s.header(":path") or "",
            s.headers,
            s.data,
            s.trailers,
            complete=s.ended,
        )
        for s in parse_h2(record.received)
    )
    return Seen((record.received,), requests)


def _one(record: Record) -> Seen:
    if record.alpn == "h2" or record.received.startswith(H2_PREFACE):
        return _from_h2(record)
    seen = _from_http1(record)
    if not seen.requests:
        return Seen((record.received,), other=record.received)
    return seen


def seen_from(records: Sequence[Record]) -> Seen:
    """What the vendor got over all of a case's connections, in the order they came."""
    parts = [_one(r) for r in records]
    return Seen(
        raw=tuple(r for p in parts for r in p.raw),
        requests=tuple(q for p in parts for q in p.requests),
        frames=tuple(f for p in parts for f in p.frames),
        upgraded=b"".join(p.upgraded for p in parts),
        other=b"".join(p.other for p in parts),
    )


def _decode(coding: str, data: bytes) -> bytes:
    """`data` with one content coding undone; raises on a broken or unknown coding."""
    if coding in ("gzip", "x-gzip"):
        return gzip.decompress(data)
    if coding == "deflate":
        try:
            return zlib.decompress(data)
        except zlib.error:
            return zlib.decompress(data, -15)  # raw deflate, as some servers send it
    if coding == "br":
        return bytes(brotli.decompress(data))
    if coding == "zstd":
        return bytes(zstd.decompress(data))
    if coding == "identity":
        return data
    raise ValueError(f"unknown content coding {coding!r}")


def decoded_body(request: SeenRequest) -> bytes | None:
    """The body with its Content-Encoding undone, None if not encoded or broken.

    gzip, deflate (zlib or raw), br and zstd; stacked codings (`gzip, br`) are undone last
    first, as RFC 9110 lists them in the order they were applied; every Content-Encoding
    header counts.
    """
    values = [v for k, v in request.headers if k.lower() == "content-encoding"]
    codings = [c.strip().lower() for v in values for c in v.split(",") if c.strip()]
    if not codings:
        return None
    data = request.body
    try:
        for coding in reversed(codings):
            data = _decode(coding, data)
    except (OSError, EOFError, ValueError, zlib.error, brotli.error, zstd.ZstdError):
        return None
    return data


def views(seen: Seen) -> list[tuple[str, bytes]]:
    """Every piece of the record the vendor could read, labelled by where it came from.

    The connections' whole bytes are not among them: `Seen.raw` is read apart (a digits-only
    reading of a whole connection would join unrelated numbers, a Content-Length and a body).
    """
    out: list[tuple[str, bytes]] = []
    for r in seen.requests:
        out.append(("request method", r.method.encode("latin-1", "replace")))
        out.append(("request target", r.target.encode("latin-1", "replace")))
        out += [(f"header {k}", v.encode("latin-1", "replace")) for k, v in r.headers]
        out += [("header name", k.encode("latin-1", "replace")) for k, _ in r.headers]
        out.append(("body", r.body))
        if (decoded := decoded_body(r)) is not None:
            out.append(("body (Content-Encoding undone)", decoded))
        out += [(f"trailer {k}", v.encode("latin-1", "replace")) for k, v in r.trailers]
        out += [("chunk extension", e.encode("latin-1", "replace")) for e in r.extensions]
    for f in seen.frames:
        out.append((f"websocket {FRAME_NAMES.get(f.opcode, hex(f.opcode))} frame", f.payload))
    data = [f.payload for f in seen.frames if f.opcode in (TEXT, BINARY, CONTINUATION)]
    if len(data) > 1:
        out.append(("websocket message (frames joined)", b"".join(data)))
    if seen.upgraded:
        out.append(("bytes after the upgrade", seen.upgraded))
    if seen.other:
        out.append(("raw bytes", seen.other))
    return out
