"""The client side against vendors directly (no proxy): exchanges, refusals, hangs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.bypass.client import Channel, Endpoints, Http1, RawTcp, exchange
from bench.bypass.vendor import Script, serve
from bench.bypass.wire import BINARY, TEXT, HttpRequest, ws_frame
from bench.harness import TcpStream, TcpVendor, acknowledge


@pytest.fixture
def vendors() -> Iterator[list[TcpVendor]]:
    """Vendors to close after the test."""
    made: list[TcpVendor] = []
    yield made
    for v in made:
        v.close()


def direct(vendor: TcpVendor) -> Endpoints:
    """Endpoints whose 'reverse listener' is the vendor itself."""
    return Endpoints(explicit=vendor.port, reverse=vendor.port, ca=Path("unused.pem"))


def test_an_http_exchange_reads_the_answer(vendors: list[TcpVendor]) -> None:
    """Status and body come back; the vendor saw the request as written, fragment and all."""
    vendors.append(TcpVendor(serve(Script)))
    request = HttpRequest("GET", "/a?b#frag", (("X-A", "1"),))
    answer = exchange(Http1(request), Channel.REVERSE, direct(vendors[0]), 0, timeout=5)
    assert (answer.status, answer.error, answer.hang) == (200, "", False)
    assert answer.body == b'{"ok": true, "ticket": "accepted"}'
    assert vendors[0].wait_closed(5)
    assert bytes(vendors[0].snapshot()[0].received).startswith(b"GET /a?b#frag HTTP/1.1\r\n")


def test_a_websocket_exchange_sends_its_frames_and_closes(vendors: list[TcpVendor]) -> None:
    """After the 101 the frames go out, a close follows, the vendor's close comes back."""
    vendors.append(TcpVendor(serve(lambda: Script(upgrade="websocket"))))
    headers = (("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Key", "a2V5"))
    ex = Http1(
        HttpRequest("GET", "/ws", headers), frames=(ws_frame(TEXT, b"hi"), ws_frame(BINARY, b"b"))
    )
    answer = exchange(ex, Channel.REVERSE, direct(vendors[0]), 0, timeout=5)
    assert answer.status == 101
    assert [f.opcode for f in answer.frames] == [0x8]


def test_a_tunnel_refused_is_reported_with_its_status(vendors: list[TcpVendor]) -> None:
    """A CONNECT answered 403 ends the exchange: status 403, error `connect`."""

    def refuse(stream: TcpStream) -> None:
        stream.recv()
        stream.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")

    vendors.append(TcpVendor(refuse))
    answer = exchange(RawTcp((b"x",)), Channel.TUNNEL, direct(vendors[0]), 1, timeout=5)
    assert (answer.status, answer.error) == (403, "connect")


def test_silence_past_the_deadline_is_a_hang(vendors: list[TcpVendor]) -> None:
    """A server that never answers: the exchange returns at its deadline, marked as a hang."""
    vendors.append(TcpVendor(lambda stream: None))
    started = time.monotonic()
    answer = exchange(Http1(HttpRequest("GET", "/")), Channel.REVERSE, direct(vendors[0]), 0, 0.5)
    assert answer.hang
    assert answer.error == "timeout"
    assert time.monotonic() - started < 3


def test_raw_bytes_are_acknowledged_and_a_closed_peer_is_not_a_hang(
    vendors: list[TcpVendor],
) -> None:
    """Raw bytes get their ACK; a peer that closes at once is `closed`, not a hang."""
    vendors += [TcpVendor(acknowledge), TcpVendor(lambda stream: stream.sock.close())]
    answer = exchange(RawTcp((b"abc",)), Channel.REVERSE, direct(vendors[0]), 0, timeout=5)
    assert (answer.status, answer.received) == (200, b"ACK 3\n")
    closed = exchange(RawTcp((b"abc",)), Channel.REVERSE, direct(vendors[1]), 0, timeout=5)
    assert not closed.hang
    assert closed.error
