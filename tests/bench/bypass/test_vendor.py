"""The vendors' answers over real sockets (no proxy): HTTP/1.1, upgrades, HTTP/2, raw TCP.

Also the harness's `TcpVendor` they run on: it keeps every byte of every connection.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import h2.connection
import h2.events
import pytest

from bench.bypass.vendor import DEFAULT_REPLY, H2Reply, Script, http_response, serve
from bench.bypass.wire import (
    CLOSE,
    PING,
    PONG,
    TEXT,
    HttpRequest,
    h2_config,
    parse_ws_frames,
    ws_frame,
)
from bench.harness import TcpVendor, acknowledge, greet, make_vendor_certificate


def talk(port: int, data: bytes, until: bytes, sock: socket.socket | None = None) -> bytes:
    """Send `data`, read until `until` has come (or 5 s)."""
    sock = sock or socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(data)
    got = b""
    deadline = time.monotonic() + 5
    while until not in got and time.monotonic() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            break
        got += chunk
    sock.close()
    return got


@pytest.fixture
def vendors() -> Iterator[list[TcpVendor]]:
    """Vendors to close after the test."""
    made: list[TcpVendor] = []
    yield made
    for v in made:
        v.close()


def test_the_tcp_vendor_records_every_byte_and_what_it_sent(vendors: list[TcpVendor]) -> None:
    """Client first: each read acknowledged; server first: the banner goes out first."""
    vendors += [TcpVendor(acknowledge), TcpVendor(greet(b"220 hi\r\n"))]
    assert talk(vendors[0].port, b"hello", b"\n") == b"ACK 5\n"
    assert talk(vendors[1].port, b"x", b"ACK") == b"220 hi\r\nACK 1\n"
    assert vendors[0].wait_closed(5)
    assert vendors[1].wait_closed(5)
    [session] = vendors[0].snapshot()
    assert (bytes(session.received), bytes(session.sent)) == (b"hello", b"ACK 5\n")
    assert bytes(vendors[1].snapshot()[0].sent).startswith(b"220 hi")


def test_http_requests_get_the_scripted_reply(vendors: list[TcpVendor]) -> None:
    """Every complete request, one after another, gets `reply`."""
    reply = http_response(200, (("Content-Type", "text/plain"),), b"fine")
    vendors.append(TcpVendor(serve(lambda: Script(reply=reply))))
    one = HttpRequest("POST", "/a", body=b"12345").wire("/a", "h")
    got = talk(vendors[0].port, one + one, b"fine" + reply)
    assert got == reply + reply
    assert DEFAULT_REPLY.startswith(b"HTTP/1.1 200 OK\r\n")


def test_a_websocket_upgrade_answers_pings_and_the_close(vendors: list[TcpVendor]) -> None:
    """101 with the accept token and the first subprotocol; pongs; the close echoed."""
    vendors.append(TcpVendor(serve(lambda: Script(upgrade="websocket", ws_send=(b"welcome",)))))
    headers = (
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Protocol", "chat, other"),
    )
    frames = ws_frame(PING, b"p") + ws_frame(CLOSE, b"\x03\xe8")
    got = talk(
        vendors[0].port, HttpRequest("GET", "/ws", headers).wire("/ws", "h") + frames, b"\x88"
    )
    head, _, rest = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101")
    assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head
    assert b"Sec-WebSocket-Protocol: chat" in head
    replies, _ = parse_ws_frames(rest)
    assert [(f.opcode, f.payload) for f in replies] == [
        (TEXT, b"welcome"),
        (PONG, b"p"),
        (CLOSE, b"\x03\xe8"),
    ]


def test_a_custom_upgrade_records_the_raw_bytes_after_it(vendors: list[TcpVendor]) -> None:
    """Upgrade: foo gets a 101; what follows is acknowledged as raw bytes."""
    vendors.append(TcpVendor(serve(lambda: Script(upgrade="foo"))))
    request = HttpRequest("GET", "/", (("Upgrade", "foo/1"), ("Connection", "Upgrade")))
    sock = socket.create_connection(("127.0.0.1", vendors[0].port), timeout=5)
    sock.sendall(request.wire("/", "h"))
    assert sock.recv(4096).startswith(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: foo/1")
    sock.sendall(b"raw record")
    assert sock.recv(100) == b"ACK 10\n"
    sock.close()
    assert vendors[0].wait_closed(5)
    assert bytes(vendors[0].snapshot()[0].received).endswith(b"\r\n\r\nraw record")


def test_http2_over_tls_gets_the_h2_reply(vendors: list[TcpVendor], tmp_path: Path) -> None:
    """With ALPN h2 the vendor speaks HTTP/2 and answers each stream with its `h2` reply."""
    cert, key = make_vendor_certificate(tmp_path)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    server.set_alpn_protocols(["h2", "http/1.1"])
    vendors.append(TcpVendor(serve(lambda: Script(h2=H2Reply(201, body=b"made"))), tls=server))
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.load_verify_locations(cert)
    client.set_alpn_protocols(["h2"])
    raw = socket.create_connection(("127.0.0.1", vendors[0].port), timeout=5)
    sock = client.wrap_socket(raw, server_hostname="127.0.0.1")
    conn = h2.connection.H2Connection(h2_config(client_side=True))
    conn.initiate_connection()
    conn.send_headers(
        1,
        [(":method", "GET"), (":scheme", "https"), (":authority", "v"), (":path", "/")],
        end_stream=True,
    )
    sock.sendall(conn.data_to_send())
    status, body = None, b""
    while not body:
        for event in conn.receive_data(sock.recv(65536)):
            if isinstance(event, h2.events.ResponseReceived):
                status = dict(event.headers)[b":status"]
            elif isinstance(event, h2.events.DataReceived):
                body += event.data
        sock.sendall(conn.data_to_send())
    sock.close()
    assert (status, body) == (b"201", b"made")
    assert vendors[0].snapshot()[0].alpn == "h2"
