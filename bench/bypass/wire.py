"""HTTP/1.1, WebSocket and HTTP/2 as bytes: what a case sends, and parsers for what arrived.

The parsers read a vendor's record (the bytes of one connection) after the fact, so scoring
needs no live state: `parse_http1` splits requests (chunk extensions and trailers kept),
`parse_ws_frames` unmasks WebSocket frames, control frames included, and `parse_h2` replays an
HTTP/2 connection through a fresh `h2` server. They are lenient: what cannot be parsed is
returned as the remainder, so the scorer can still scan it as raw bytes.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import os
import struct
import zlib
from dataclasses import dataclass

import h2.config
import h2.connection
import h2.events
import h2.exceptions

__all__ = [
    "BINARY",
    "CLOSE",
    "CONTINUATION",
    "PING",
    "PONG",
    "TEXT",
    "Chunk",
    "H2Stream",
    "Http1Request",
    "Http1Response",
    "HttpRequest",
    "WsFrame",
    "parse_h2",
    "parse_http1",
    "parse_http1_response",
    "parse_ws_frames",
    "websocket_key",
    "ws_frame",
]

Headers = tuple[tuple[str, str], ...]

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


# --- building ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chunk:
    """One chunk of a chunked body, with an optional chunk extension (`;name=value`)."""

    data: bytes
    extension: str = ""


@dataclass(frozen=True)
class HttpRequest:
    """An HTTP/1.1 request as a case writes it, byte for byte.

    `target` is the origin-form target (path, query, even a fragment: sent as given); a channel
    to an explicit proxy writes it in absolute form unless `absolute` gives that form itself.
    With `chunks` the body is sent chunked (`body` is ignored) and `trailers` follow the last
    chunk. A Host header is added when the case sets none. In `absolute`, `{authority}` stands
    for the vendor's host:port.
    """

    method: str
    target: str
    headers: Headers = ()
    body: bytes = b""
    chunks: tuple[Chunk, ...] | None = None
    trailers: Headers = ()
    absolute: str | None = None

    def header(self, name: str) -> str | None:
        """The first value of header `name` (case-insensitive)."""
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def wire(self, request_target: str, host: str) -> bytes:
        """The request's bytes with `request_target` on the request line."""
        headers = list(self.headers)
        if self.header("host") is None:
            headers.insert(0, ("Host", host))
        if self.chunks is not None:
            headers.append(("Transfer-Encoding", "chunked"))
        elif self.body or self.method in ("POST", "PUT", "PATCH"):
            headers.append(("Content-Length", str(len(self.body))))
        head = f"{self.method} {request_target} HTTP/1.1\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
        out = head.encode("latin-1")
        if self.chunks is None:
            return out + self.body
        for chunk in self.chunks:
            ext = f";{chunk.extension}" if chunk.extension else ""
            out += f"{len(chunk.data):x}{ext}\r\n".encode("latin-1") + chunk.data + b"\r\n"
        trailers = "".join(f"{k}: {v}\r\n" for k, v in self.trailers)
        return out + b"0\r\n" + trailers.encode("latin-1") + b"\r\n"


def websocket_key() -> str:
    """A fresh Sec-WebSocket-Key."""
    return base64.b64encode(os.urandom(16)).decode()


def ws_frame(
    opcode: int, payload: bytes, fin: bool = True, mask: bool = True, rsv1: bool = False
) -> bytes:
    """One WebSocket frame; a client's frames are masked (`mask`), a server's are not."""
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    n = len(payload)
    bit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", first, bit | n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", first, bit | 126, n)
    else:
        head = struct.pack("!BBQ", first, bit | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


# --- parsing HTTP/1.1 -------------------------------------------------------------------------


@dataclass(frozen=True)
class Http1Request:
    """A request as parsed from a connection's bytes: everything the vendor could read of it."""

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
class Http1Response:
    """A response as parsed from bytes: status, headers, body (de-chunked), trailers."""

    status: int
    headers: Headers
    body: bytes
    trailers: Headers = ()
    complete: bool = True

    def header(self, name: str) -> str | None:
        """The first value of header `name` (case-insensitive)."""
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


def _head(data: bytes) -> tuple[str, Headers, int] | None:
    """The start line, the headers and where the body starts; None while the head is incomplete."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = data[:end].decode("latin-1").split("\r\n")
    headers = tuple(
        (k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:])
    )
    return lines[0], headers, end + 4


def _chunked(data: bytes, at: int) -> tuple[bytes, tuple[str, ...], Headers, int] | None:
    """A chunked body from `at`: data, extensions, trailers, end; None while incomplete."""
    body, extensions = bytearray(), []
    while True:
        eol = data.find(b"\r\n", at)
        if eol < 0:
            return None
        size_text, _, ext = data[at:eol].decode("latin-1").partition(";")
        try:
            size = int(size_text.strip(), 16)
        except ValueError:
            return None
        if ext:
            extensions.append(ext)
        at = eol + 2
        if size == 0:
            break
        if len(data) < at + size + 2:
            return None
        body += data[at : at + size]
        at += size + 2
    trailers = []
    while True:
        eol = data.find(b"\r\n", at)
        if eol < 0:
            return None
        line = data[at:eol].decode("latin-1")
        at = eol + 2
        if not line:
            break
        name, _, value = line.partition(":")
        trailers.append((name.strip(), value.strip()))
    return bytes(body), tuple(extensions), tuple(trailers), at


def _header(headers: Headers, name: str) -> str:
    return next((v for k, v in headers if k.lower() == name), "")


def parse_http1(data: bytes, upgraded: bool = False) -> tuple[list[Http1Request], bytes]:
    """Every request in a connection's bytes, and what follows them.

    With `upgraded` (the vendor answered 101), the bytes after the first request that asked for
    an upgrade are the remainder. An incomplete last request is returned with `complete=False`
    and what of its body arrived.
    """
    requests: list[Http1Request] = []
    at = 0
    while at < len(data):
        head = _head(data[at:])
        if head is None or " " not in head[0]:
            break
        line, headers, body_at = head
        method, _, rest = line.partition(" ")
        target = rest.rpartition(" ")[0] or rest
        start = at + body_at
        if "chunked" in _header(headers, "transfer-encoding").lower():
            parsed = _chunked(data, start)
            if parsed is None:
                partial = Http1Request(method, target, headers, data[start:], complete=False)
                requests.append(partial)
                return requests, b""
            body, extensions, trailers, at = parsed
            requests.append(Http1Request(method, target, headers, body, trailers, extensions))
        else:
            length = int(_header(headers, "content-length") or 0)
            body = data[start : start + length]
            at = start + length
            requests.append(
                Http1Request(method, target, headers, body, complete=len(body) == length)
            )
        if upgraded and _header(headers, "upgrade"):
            return requests, data[at:]
    return requests, data[at:]


def parse_http1_response(data: bytes, closed: bool) -> tuple[Http1Response | None, bytes]:
    """The first response in `data` and the bytes after it; None while it is incomplete.

    A body with neither Content-Length nor chunking runs to the end of the connection, so it
    is whole only once the connection is `closed`. A 101's body is empty: the rest follows it.
    """
    head = _head(data)
    if head is None:
        return None, data
    line, headers, at = head
    try:
        status = int(line.split(" ")[1])
    except (IndexError, ValueError):
        return None, data
    if status == 101 or 100 <= status < 200 or status in (204, 304):
        return Http1Response(status, headers, b""), data[at:]
    if "chunked" in _header(headers, "transfer-encoding").lower():
        parsed = _chunked(data, at)
        if parsed is None:
            return (
                Http1Response(status, headers, data[at:], complete=False) if closed else None
            ), b""
        body, _, trailers, end = parsed
        return Http1Response(status, headers, body, trailers), data[end:]
    length = _header(headers, "content-length")
    if length:
        if len(data) < at + int(length):
            return (
                Http1Response(status, headers, data[at:], complete=False) if closed else None
            ), b""
        return Http1Response(status, headers, data[at : at + int(length)]), data[at + int(length) :]
    if not closed:
        return None, data
    return Http1Response(status, headers, data[at:]), b""


# --- parsing WebSocket frames -----------------------------------------------------------------


@dataclass(frozen=True)
class WsFrame:
    """One WebSocket frame as it arrived, its payload unmasked (and inflated if RSV1 was set)."""

    opcode: int
    payload: bytes
    fin: bool = True
    rsv1: bool = False


def parse_ws_frames(data: bytes) -> tuple[list[WsFrame], bytes]:
    """Every whole frame in `data`, and the bytes after the last one."""
    frames: list[WsFrame] = []
    at = 0
    while len(data) - at >= 2:
        first, second = data[at], data[at + 1]
        n, head = second & 0x7F, at + 2
        if n == 126:
            if len(data) < head + 2:
                break
            (n,) = struct.unpack("!H", data[head : head + 2])
            head += 2
        elif n == 127:
            if len(data) < head + 8:
                break
            (n,) = struct.unpack("!Q", data[head : head + 8])
            head += 8
        key = b""
        if second & 0x80:
            key, head = data[head : head + 4], head + 4
        if len(data) < head + n:
            break
        payload = data[head : head + n]
        if key:
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        rsv1 = bool(first & 0x40)
        if rsv1:
            with contextlib.suppress(zlib.error):  # not deflated after all: keep the bytes
                payload = zlib.decompressobj(-15).decompress(payload + b"\x00\x00\xff\xff")
        frames.append(WsFrame(first & 0x0F, payload, bool(first & 0x80), rsv1))
        at = head + n
    return frames, data[at:]


# --- parsing HTTP/2 ---------------------------------------------------------------------------


@dataclass(frozen=True)
class H2Stream:
    """One HTTP/2 request stream as a server read it: headers (pseudo ones too), data, trailers."""

    stream_id: int
    headers: Headers
    data: bytes
    trailers: Headers = ()
    ended: bool = False

    def header(self, name: str) -> str | None:
        """The first value of header `name` (pseudo-headers too: `:path`)."""
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


def _text(headers: object) -> Headers:
    pairs = headers if isinstance(headers, list) else []
    return tuple(
        (
            k.decode("latin-1") if isinstance(k, bytes) else k,
            v.decode("latin-1") if isinstance(v, bytes) else v,
        )
        for k, v in pairs
    )


def h2_config(client_side: bool) -> h2.config.H2Configuration:
    """A lenient h2 configuration: bytes headers, no header validation."""
    return h2.config.H2Configuration(
        client_side=client_side,
        header_encoding=None,
        validate_inbound_headers=False,
        validate_outbound_headers=False,
        normalize_inbound_headers=False,
        normalize_outbound_headers=False,
    )


def _replay(conn: h2.connection.H2Connection, data: bytes) -> list[h2.events.Event]:
    """Feed `data` frame by frame, acknowledging data as a live server does; stop at an error."""
    events: list[h2.events.Event] = []
    preface = 24
    frames = [data[:preface]]
    at = preface
    while len(data) - at >= 9:
        end = at + 9 + int.from_bytes(data[at : at + 3], "big")
        frames.append(data[at:end])
        at = end
    for frame in frames:
        try:
            new = conn.receive_data(frame)
        except h2.exceptions.H2Error:
            break
        for event in new:
            if isinstance(event, h2.events.DataReceived) and event.flow_controlled_length:
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        events += new
    return events


def parse_h2(data: bytes) -> list[H2Stream]:
    """Every request stream of an HTTP/2 connection's bytes (client to server), replayed."""
    conn = h2.connection.H2Connection(h2_config(client_side=False))
    conn.initiate_connection()
    streams: dict[int, H2Stream] = {}
    for event in _replay(conn, data):
        sid = getattr(event, "stream_id", 0)
        if isinstance(event, h2.events.RequestReceived):
            streams[sid] = H2Stream(sid, _text(event.headers), b"")
            continue
        if sid not in streams:
            continue  # connection-level events, and streams the client never opened
        stream = streams[sid]
        if isinstance(event, h2.events.DataReceived):
            streams[sid] = dataclasses.replace(stream, data=stream.data + (event.data or b""))
        elif isinstance(event, h2.events.TrailersReceived):
            streams[sid] = dataclasses.replace(stream, trailers=_text(event.headers))
        elif isinstance(event, h2.events.StreamEnded):
            streams[sid] = dataclasses.replace(stream, ended=True)
    return [streams[sid] for sid in sorted(streams)]
