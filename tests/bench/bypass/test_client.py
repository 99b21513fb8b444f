"""The client side against vendors directly (no proxy): exchanges, refusals, hangs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import h2.connection
import h2.events
import pytest

from bench.bypass.client import Channel, Endpoints, Http1, RawTcp, _Upload, exchange
from bench.bypass.vendor import Script, serve
from bench.bypass.wire import BINARY, TEXT, HttpRequest, h2_config, ws_frame
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


def test_an_interim_response_is_read_past(vendors: list[TcpVendor]) -> None:
    """A 100 Continue (or 103) before the answer: the client reports the final status."""

    def early(stream: TcpStream) -> None:
        stream.recv()
        stream.sendall(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s>\r\n\r\n"
        )
        stream.sendall(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")

    vendors.append(TcpVendor(early))
    request = HttpRequest("POST", "/", (("Expect", "100-continue"),), b"{}")
    answer = exchange(Http1(request), Channel.REVERSE, direct(vendors[0]), 0, timeout=5)
    assert (answer.status, answer.body) == (201, b"ok")


def test_raw_messages_go_out_as_writes_of_their_own(vendors: list[TcpVendor]) -> None:
    """With a gap between them, two messages reach the vendor as two reads."""
    vendors.append(TcpVendor(acknowledge))
    exchange(RawTcp((b"one", b"two"), gap=0.3), Channel.REVERSE, direct(vendors[0]), 0, 5)
    assert vendors[0].wait_closed(5)
    assert bytes(vendors[0].snapshot()[0].received) == b"onetwo"


def test_an_h2_body_larger_than_the_window_goes_out_as_the_windows_open() -> None:
    """A 200 KB body over a 64 KB window: sent in frames as WINDOW_UPDATEs come, trailers last."""
    client = h2.connection.H2Connection(h2_config(client_side=True))
    server = h2.connection.H2Connection(h2_config(client_side=False))
    client.initiate_connection()
    server.initiate_connection()
    pseudo = [(":method", "POST"), (":scheme", "https"), (":authority", "v"), (":path", "/")]
    client.send_headers(1, pseudo)
    body = bytes(range(256)) * 800
    upload = _Upload(1, body, (("x-t", "1"),))
    got, trailers, rounds = b"", [], 0
    while rounds < 50:
        upload.pump(client)
        data = client.data_to_send()
        if not data and upload.done:
            break
        for event in server.receive_data(data):
            if isinstance(event, h2.events.DataReceived):
                got += event.data
                server.acknowledge_received_data(event.flow_controlled_length, 1)
            elif isinstance(event, h2.events.TrailersReceived):
                trailers = list(event.headers)
        client.receive_data(server.data_to_send())
        rounds += 1
    assert got == body
    assert trailers == [(b"x-t", b"1")]
    assert rounds > 2  # it waited for the windows to open
