"""The client side of a case: the channel it goes through and the exchange it makes.

Channels: `http` (an explicit proxy, absolute-form requests), `https` (CONNECT, then TLS with
the proxy's CA), `h2` (the same with ALPN h2), `tunnel` (CONNECT, no TLS: raw TCP and plain
WebSocket) and `reverse` (the reverse-mode listener, as if it were the vendor). Exchanges are
written as bytes (`bench.bypass.wire`), so a case sends exactly what it says. Every exchange
has a deadline: a proxy that neither answers nor refuses by then is a hang.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import h2.connection
import h2.events
import h2.exceptions

from bench.bypass.wire import (
    CLOSE,
    Http1Response,
    HttpRequest,
    WsFrame,
    h2_config,
    parse_http1_response,
    parse_ws_frames,
    ws_frame,
)

__all__ = [
    "Answer",
    "Channel",
    "Endpoints",
    "H2Request",
    "Http1",
    "RawTcp",
    "exchange",
]

Headers = tuple[tuple[str, str], ...]


class Channel(StrEnum):
    """How a case reaches the vendor through the proxy."""

    HTTP = "http"
    HTTPS = "https"
    H2 = "h2"
    TUNNEL = "tunnel"
    REVERSE = "reverse"

    @property
    def tls(self) -> bool:
        """Whether the vendor behind this channel serves TLS."""
        return self in (Channel.HTTPS, Channel.H2)


@dataclass(frozen=True)
class Http1:
    """An HTTP/1.1 request; after a 101, `after_upgrade` raw bytes or WebSocket `frames`.

    `frames` are whole client frames (masked, `wire.ws_frame`); a close frame is added after
    them unless they end with one. `alpn` is what TLS offers (HTTPS only).
    """

    request: HttpRequest
    after_upgrade: bytes = b""
    frames: tuple[bytes, ...] = ()
    alpn: tuple[str, ...] = ("http/1.1",)


@dataclass(frozen=True)
class H2Request:
    """One HTTP/2 request stream: headers, data, trailers.

    `authority` is the `:authority` sent (the vendor's address when empty).
    """

    method: str
    path: str
    headers: Headers = ()
    body: bytes = b""
    trailers: Headers = ()
    authority: str = ""


@dataclass(frozen=True)
class RawTcp:
    """Raw bytes after the tunnel (and TLS, over HTTPS); `wait_banner`: the server speaks first.

    `gap` is how long the client waits between two messages (so they go out as writes of
    their own); `alpn` what TLS offers (HTTPS only).
    """

    messages: tuple[bytes, ...]
    wait_banner: bool = False
    alpn: tuple[str, ...] = ()
    gap: float = 0.0


Exchange = Http1 | H2Request | RawTcp


@dataclass(frozen=True)
class Endpoints:
    """The proxy's listeners and the CA its clients trust."""

    explicit: int
    reverse: int
    ca: Path


@dataclass(frozen=True)
class Answer:
    """What the client saw.

    `status` is the HTTP status it got (101 for an accepted upgrade, the CONNECT's status when
    the tunnel was refused, None for none); `error` what ended the exchange early (`timeout`,
    `closed`, `reset`, `tls`, `connect`); `received` every byte the client read after the
    tunnel, `body` the response body (HTTP/2: its data), `frames` WebSocket frames from the
    vendor's side. `hang`: the deadline passed with neither an answer nor a refusal.
    """

    status: int | None = None
    error: str = ""
    received: bytes = b""
    body: bytes = b""
    headers: Headers = ()
    trailers: Headers = ()
    frames: tuple[WsFrame, ...] = ()
    hang: bool = False


class _Timeout(Exception):
    """The exchange's deadline passed."""


@dataclass
class _Conn:
    """A socket with a deadline, keeping what it read."""

    sock: socket.socket
    deadline: float
    received: bytearray = field(default_factory=bytearray)
    eof: bool = False

    def recv(self) -> bytes:
        """The next bytes (b"" at EOF); raises `_Timeout` after the deadline."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise _Timeout
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            raise _Timeout from None
        if not data:
            self.eof = True
        self.received += data
        return data

    def send(self, data: bytes) -> None:
        """Send all of `data`."""
        self.sock.settimeout(max(0.01, self.deadline - time.monotonic()))
        self.sock.sendall(data)


def _read_response(conn: _Conn, start: int) -> tuple[Http1Response | None, bytes]:
    """The next final response (or 101) from `start`; None if the connection closed first.

    Interim responses (`100 Continue`, `103 Early Hints`) are read past, as clients do.
    """
    while True:
        response, rest = parse_http1_response(bytes(conn.received[start:]), conn.eof)
        if response is not None and 100 <= response.status < 200 and response.status != 101:
            start = len(conn.received) - len(rest)
            continue
        if response is not None or conn.eof:
            return response, rest
        conn.recv()


def _tunnel(conn: _Conn, vendor_port: int) -> int:
    """CONNECT to the vendor; the proxy's status (200 when the tunnel is open)."""
    target = f"127.0.0.1:{vendor_port}"
    conn.send(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    while b"\r\n\r\n" not in conn.received:
        if not conn.recv():
            return 0
    head, _, rest = bytes(conn.received).partition(b"\r\n\r\n")
    conn.received = bytearray(rest)
    try:
        return int(head.split(b" ")[1])
    except (IndexError, ValueError):
        return 0


def _tls(conn: _Conn, ca: Path, alpn: tuple[str, ...]) -> None:
    """Wrap the tunnel in TLS, trusting only the proxy's CA."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=str(ca))
    if alpn:
        context.set_alpn_protocols(list(alpn))
    conn.sock.settimeout(max(0.01, conn.deadline - time.monotonic()))
    conn.sock = context.wrap_socket(conn.sock, server_hostname="127.0.0.1")


def _http1(conn: _Conn, ex: Http1, target: str, host: str) -> Answer:
    conn.send(ex.request.wire(target, host))
    response, rest = _read_response(conn, 0)
    if response is None:
        return Answer(error="closed", received=bytes(conn.received))
    frames: list[WsFrame] = []
    if response.status == 101 and ex.after_upgrade:
        conn.send(ex.after_upgrade)
        conn.recv()
    elif response.status == 101 and ex.frames:
        closing = ex.frames if ex.frames[-1][0] & 0x0F == CLOSE else (*ex.frames, _close())
        for frame in closing:
            conn.send(frame)
        upgraded = len(conn.received) - len(rest)
        while not any(f.opcode == CLOSE for f in frames):
            if not conn.recv():
                break
            frames, _ = parse_ws_frames(bytes(conn.received[upgraded:]))
    return Answer(
        response.status,
        received=bytes(conn.received),
        body=response.body,
        headers=response.headers,
        trailers=response.trailers,
        frames=tuple(frames),
    )


def _close() -> bytes:
    return ws_frame(CLOSE, b"\x03\xe8")


@dataclass
class _Upload:
    """A request body going out on an HTTP/2 stream as fast as the peer's windows allow."""

    sid: int
    body: bytes
    trailers: Headers
    sent: int = 0
    done: bool = False

    def pump(self, conn: h2.connection.H2Connection) -> None:
        """Send what the windows allow now; the trailers (or the end) once the body is out."""
        try:
            while not self.done and self.sent < len(self.body):
                room = min(conn.local_flow_control_window(self.sid), conn.max_outbound_frame_size)
                n = min(room, len(self.body) - self.sent)
                if n <= 0:
                    return  # wait for a WINDOW_UPDATE
                last = self.sent + n == len(self.body)
                piece = self.body[self.sent : self.sent + n]
                conn.send_data(self.sid, piece, end_stream=last and not self.trailers)
                self.sent += n
            if not self.done and self.trailers:
                conn.send_headers(self.sid, list(self.trailers), end_stream=True)
        except h2.exceptions.H2Error:
            pass  # the stream was reset or closed: nothing more to send
        self.done = True


def _h2(conn: _Conn, ex: H2Request) -> Answer:
    h2conn = h2.connection.H2Connection(h2_config(client_side=True))
    h2conn.initiate_connection()
    sid = h2conn.get_next_available_stream_id()
    authority = ex.authority or "127.0.0.1"
    pseudo = [(":method", ex.method), (":scheme", "https"), (":authority", authority)]
    headers = [*pseudo, (":path", ex.path), *ex.headers]
    h2conn.send_headers(sid, headers, end_stream=not ex.body and not ex.trailers)
    upload = _Upload(sid, ex.body, ex.trailers, done=not ex.body and not ex.trailers)
    upload.pump(h2conn)
    conn.send(h2conn.data_to_send())
    status: int | None = None
    got: list[tuple[str, str]] = []
    trailers: list[tuple[str, str]] = []
    body = b""
    while True:
        data = conn.recv()
        if not data:
            return Answer(status, "closed", bytes(conn.received), body, tuple(got))
        try:
            events = h2conn.receive_data(data)
        except h2.exceptions.H2Error:
            return Answer(status, "h2 protocol error", bytes(conn.received), body, tuple(got))
        for event in events:
            if isinstance(event, h2.events.ResponseReceived) and event.stream_id == sid:
                got = [(k.decode(), v.decode()) for k, v in event.headers]
                status = int(dict(got).get(":status", "0"))
            elif isinstance(event, h2.events.DataReceived) and event.stream_id == sid:
                body += event.data
                h2conn.acknowledge_received_data(event.flow_controlled_length, sid)
            elif isinstance(event, h2.events.TrailersReceived):
                trailers = [(k.decode(), v.decode()) for k, v in event.headers]
            elif isinstance(event, h2.events.StreamEnded) and event.stream_id == sid:
                return Answer(status, "", bytes(conn.received), body, tuple(got), tuple(trailers))
            elif isinstance(event, h2.events.StreamReset) and event.stream_id == sid:
                return Answer(status, "reset", bytes(conn.received), body, tuple(got))
            elif isinstance(event, h2.events.ConnectionTerminated):
                return Answer(status, "closed", bytes(conn.received), body, tuple(got))
        upload.pump(h2conn)
        with contextlib.suppress(OSError):
            conn.send(h2conn.data_to_send())


def _raw(conn: _Conn, ex: RawTcp) -> Answer:
    if ex.wait_banner and not conn.received and not conn.recv():
        return Answer(error="closed")
    before = len(conn.received)
    for i, message in enumerate(ex.messages):
        if i and ex.gap:
            time.sleep(ex.gap)
        conn.send(message)
    while len(conn.received) == before:
        if not conn.recv():
            return Answer(error="closed", received=bytes(conn.received))
    return Answer(200, received=bytes(conn.received))


def exchange(
    ex: Exchange, channel: Channel, endpoints: Endpoints, vendor_port: int, timeout: float
) -> Answer:
    """Make one exchange through `channel` to the vendor on `vendor_port`; never raises."""
    deadline = time.monotonic() + timeout
    port = endpoints.reverse if channel is Channel.REVERSE else endpoints.explicit
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    except OSError as e:
        return Answer(error=f"connect: {e}")
    conn = _Conn(sock, deadline)
    try:
        return _run(conn, ex, channel, endpoints, vendor_port)
    except _Timeout:
        return Answer(error="timeout", received=bytes(conn.received), hang=True)
    except ssl.SSLError as e:
        return Answer(error=f"tls: {e.reason}", received=bytes(conn.received))
    except ConnectionResetError:
        return Answer(error="reset", received=bytes(conn.received))
    except OSError as e:
        return Answer(error=f"closed: {type(e).__name__}", received=bytes(conn.received))
    finally:
        with contextlib.suppress(OSError):
            conn.sock.close()


def _run(
    conn: _Conn, ex: Exchange, channel: Channel, endpoints: Endpoints, vendor_port: int
) -> Answer:
    host = f"127.0.0.1:{vendor_port}"
    if channel in (Channel.HTTPS, Channel.H2, Channel.TUNNEL):
        status = _tunnel(conn, vendor_port)
        if status != 200:
            return Answer(status or None, "connect", bytes(conn.received))
        if channel.tls:
            alpn = ex.alpn if isinstance(ex, Http1 | RawTcp) else ("h2",)
            _tls(conn, endpoints.ca, alpn)
    if isinstance(ex, RawTcp):
        return _raw(conn, ex)
    if isinstance(ex, H2Request):
        return _h2(conn, ex)
    target = ex.request.target
    if channel is Channel.HTTP:
        target = f"http://{host}{target}"
        if ex.request.absolute:
            target = ex.request.absolute.replace("{authority}", host)
    elif channel is Channel.REVERSE:
        host = f"127.0.0.1:{endpoints.reverse}"
    return _http1(conn, ex, target, host)
