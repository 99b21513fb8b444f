"""How a case's vendor answers: HTTP/1.1, WebSocket, a custom upgrade, HTTP/2, raw TCP.

The vendor is a `bench.harness.TcpVendor`, which records every byte; this module only decides
what it sends back (a `Script`), parsing no more of the request than it needs to answer. The
scorer reads the record again from its bytes (`bench.bypass.seen`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import h2.connection
import h2.events
import h2.exceptions
from wsproto.utilities import generate_accept_token

from bench.bypass.wire import (
    CLOSE,
    PING,
    Http1Request,
    h2_config,
    parse_http1,
    parse_ws_frames,
    ws_frame,
)
from bench.harness import TcpStream, acknowledge

__all__ = [
    "DEFAULT_REPLY",
    "H2Reply",
    "Script",
    "http_response",
    "serve",
]

Headers = tuple[tuple[str, str], ...]


def http_response(
    status: int, headers: Headers, body: bytes, chunked: tuple[bytes, ...] | None = None
) -> bytes:
    """An HTTP/1.1 response's bytes: with Content-Length, or chunked into `chunked`."""
    reason = {200: "OK", 101: "Switching Protocols"}.get(status, "Status")
    head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    if chunked is not None:
        head += "Transfer-Encoding: chunked\r\n\r\n"
        data = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunked) + b"0\r\n\r\n"
        return head.encode("latin-1") + data
    head += f"Content-Length: {len(body)}\r\n\r\n"
    return head.encode("latin-1") + body


DEFAULT_BODY = json.dumps({"ok": True, "ticket": "accepted"}).encode()
DEFAULT_REPLY = http_response(200, (("Content-Type", "application/json"),), DEFAULT_BODY)


@dataclass(frozen=True)
class H2Reply:
    """An HTTP/2 vendor's answer to every request stream."""

    status: int = 200
    headers: Headers = (("content-type", "application/json"),)
    body: bytes = DEFAULT_BODY
    trailers: Headers = ()


@dataclass(frozen=True)
class Script:
    """What a case's vendor does.

    `kind`: `http` answers each request with `reply`, and a request asking `upgrade` for its
    protocol with a 101 (then WebSocket frames, or raw bytes acknowledged); `tcp` acknowledges
    raw bytes, sending `banner` first when it is set (server speaks first). Over TLS with ALPN
    h2, every request stream gets `h2`. After a WebSocket 101 the vendor sends `ws_send` (text
    frames), answers pings and the close.
    """

    kind: str = "http"
    reply: bytes = DEFAULT_REPLY
    upgrade: str = ""
    ws_send: tuple[bytes, ...] = ()
    banner: bytes = b""
    h2: H2Reply = H2Reply()


def _switch(stream: TcpStream, request: Http1Request, script: Script) -> None:
    """Answer an upgrade with 101; then speak WebSocket or record raw bytes."""
    headers = [("Upgrade", request.header("upgrade") or script.upgrade), ("Connection", "Upgrade")]
    if script.upgrade == "websocket":
        key = (request.header("sec-websocket-key") or "").encode()
        headers.append(("Sec-WebSocket-Accept", generate_accept_token(key).decode()))
        if offered := request.header("sec-websocket-protocol"):
            headers.append(("Sec-WebSocket-Protocol", offered.split(",")[0].strip()))
    head = "HTTP/1.1 101 Switching Protocols\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    stream.sendall((head + "\r\n").encode("latin-1"))


def _websocket(stream: TcpStream, buffer: bytes, script: Script) -> None:
    """Speak WebSocket after a 101: send `ws_send`, answer pings, echo the close."""
    for message in script.ws_send:
        stream.sendall(ws_frame(0x1, message, mask=False))
    seen = 0
    data = buffer
    while True:
        frames, _ = parse_ws_frames(data)
        for frame in frames[seen:]:
            if frame.opcode == PING:
                stream.sendall(ws_frame(0xA, frame.payload, mask=False))
            elif frame.opcode == CLOSE:
                stream.sendall(ws_frame(CLOSE, frame.payload[:2], mask=False))
                return
        seen = len(frames)
        more = stream.recv()
        if not more:
            return
        data += more


def _http1(stream: TcpStream, script: Script) -> None:
    """Answer each request; switch protocols on an upgrade the script accepts."""
    data, answered = b"", 0
    while True:
        requests, _ = parse_http1(data)
        for request in requests[answered:]:
            if not request.complete:
                break
            answered += 1
            upgrade = (request.header("upgrade") or "").lower()
            if script.upgrade and upgrade.startswith(script.upgrade.lower()):
                _switch(stream, request, script)
                _, rest = parse_http1(data, upgraded=True)
                if script.upgrade == "websocket":
                    _websocket(stream, rest, script)
                else:
                    acknowledge(stream)
                return
            stream.sendall(script.reply)
        more = stream.recv()
        if not more:
            return
        data += more


def _h2(stream: TcpStream, script: Script) -> None:
    """An HTTP/2 server: every request stream that ends gets the script's `h2` reply."""
    conn = h2.connection.H2Connection(h2_config(client_side=False))
    conn.initiate_connection()
    stream.sendall(conn.data_to_send())
    reply = script.h2
    while data := stream.recv():
        try:
            events = conn.receive_data(data)
        except h2.exceptions.H2Error:
            return
        for event in events:
            if isinstance(event, h2.events.DataReceived) and event.flow_controlled_length:
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                sid = event.stream_id
                headers = [(":status", str(reply.status)), *reply.headers]
                conn.send_headers(sid, headers, end_stream=not reply.body and not reply.trailers)
                if reply.body:
                    conn.send_data(sid, reply.body, end_stream=not reply.trailers)
                if reply.trailers:
                    conn.send_headers(sid, list(reply.trailers), end_stream=True)
        stream.sendall(conn.data_to_send())


def serve(script: Callable[[], Script]) -> Callable[[TcpStream], None]:
    """A `TcpVendor` server that answers as `script()` (read per connection) says."""

    def run(stream: TcpStream) -> None:
        current = script()
        if stream.session.alpn == "h2":
            _h2(stream, current)
        elif current.kind == "tcp":
            if current.banner:
                stream.sendall(current.banner)
            acknowledge(stream)
        else:
            _http1(stream, current)

    return run
