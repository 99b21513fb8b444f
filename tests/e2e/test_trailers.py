"""Trailers and chunk extensions through the real proxy: refused or re-framed, never a hang.

mitmproxy 12.3 raises NotImplementedError on an HTTP/1 chunked message with trailers (the
client waits forever) and AssertionError when it would send HTTP/2 request trailers to an
HTTP/1 vendor. The gateway refuses requests with trailers with a 400 (rule `trailers`), hands
a vendor's trailers to HTTP/2 clients and drops them for HTTP/1 ones (docs/gateway.md).
"""

from __future__ import annotations

import json
import socket
import ssl
from dataclasses import dataclass, field
from typing import Any

import h2.config
import h2.connection
import h2.events
import httpx

from bench.harness import STREAM_PREFIX, TcpStream, TcpVendor
from tests.e2e.harness import EMAIL, SSN, Proxy, Vendor, client_tls_context, poll

TIMEOUT = 30.0  # seconds a client waits for an answer: a hang fails the test, it does not stall

CRASHED = "mitmproxy has crashed!"


def _http1_exchange(address: tuple[str, int], *requests: bytes) -> list[bytes]:
    """Send each raw request on one connection and read its whole answer (Content-Length)."""
    answers = []
    with socket.create_connection(address, timeout=TIMEOUT) as sock:
        buffer = b""
        for request in requests:
            sock.sendall(request)
            while b"\r\n\r\n" not in buffer:
                buffer += _recv(sock)
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            while len(buffer) < length:
                buffer += _recv(sock)
            answers.append(head + b"\r\n\r\n" + buffer[:length])
            buffer = buffer[length:]
    return answers


def _recv(sock: socket.socket) -> bytes:
    data = sock.recv(65536)
    assert data, "the proxy closed the connection before answering"
    return data


def _chunked(path: str, chunks: bytes, host: str = "vendor") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/plain\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode() + chunks


def _json_body(answer: bytes) -> Any:
    return json.loads(answer.partition(b"\r\n\r\n")[2])


def _refusal(proxy: Proxy, incident_id: str) -> dict[str, Any]:
    """The decision logged with `incident_id` (a refused request's path is not logged)."""
    found = poll(
        f"the decision of incident {incident_id}",
        lambda: [d for d in proxy.decisions() if d.get("incident_id") == incident_id],
    )
    assert len(found) == 1, found
    return dict(found[0])


def test_http1_request_trailers_get_a_400_and_the_connection_goes_on(
    reverse_proxy: Proxy, http_vendor: Vendor, unique_path: str
) -> None:
    """A chunked request with a trailer: a JSON 400 under rule `trailers`, logged; no hang."""
    trailer_request = _chunked(
        unique_path, b"5\r\nhello\r\n0\r\nX-Customer-Ssn: " + SSN.encode() + b"\r\n\r\n"
    )
    plain = _chunked(f"{unique_path}/after", b"5\r\nhello\r\n0\r\n\r\n")
    refused, after = _http1_exchange(("127.0.0.1", reverse_proxy.port), trailer_request, plain)
    assert refused.startswith(b"HTTP/1.1 400 ")
    answer = _json_body(refused)
    assert (answer["error"], answer["rule"]) == ("request_trailers_not_supported", "trailers")
    assert SSN.encode() not in refused
    assert after.startswith(b"HTTP/1.1 200 ")  # the same connection serves the next request
    assert http_vendor.received(unique_path) == []
    assert http_vendor.only(f"{unique_path}/after").body == b"hello"
    decision = _refusal(reverse_proxy, answer["incident_id"])
    assert (decision["outcome"], decision["blocking_rule"]) == ("blocked", "trailers")
    assert decision["path"] == "/<withheld>/<withheld>/<withheld>"  # nothing was inspected
    assert CRASHED not in reverse_proxy.stderr()


@dataclass
class _H2Answer:
    """What an HTTP/2 client got for one request."""

    status: int = 0
    body: bytes = b""
    trailers: dict[str, str] = field(default_factory=dict)
    reset: bool = False


def _h2_request(
    proxy: Proxy,
    vendor: Vendor,
    path: str,
    body: bytes,
    trailers: list[tuple[str, str]] | None = None,
    content_type: str = "application/json",
) -> _H2Answer:
    """One HTTP/2 request through the explicit proxy's CONNECT tunnel to the HTTPS vendor."""
    authority = f"127.0.0.1:{vendor.port}"
    raw = socket.create_connection(("127.0.0.1", proxy.port), timeout=TIMEOUT)
    with raw:
        raw.sendall(f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += _recv(raw)
        assert head.startswith(b"HTTP/1.1 200"), head
        context = client_tls_context(proxy.ca_cert)
        context.set_alpn_protocols(["h2"])
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
            assert sock.selected_alpn_protocol() == "h2"
            return _h2_exchange(sock, authority, path, body, trailers, content_type)


def _h2_exchange(
    sock: ssl.SSLSocket,
    authority: str,
    path: str,
    body: bytes,
    trailers: list[tuple[str, str]] | None,
    content_type: str,
) -> _H2Answer:
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    stream = conn.get_next_available_stream_id()
    headers = [
        (":method", "POST"),
        (":path", path),
        (":authority", authority),
        (":scheme", "https"),
        ("content-type", content_type),
        ("content-length", str(len(body))),
    ]
    conn.send_headers(stream, headers)
    conn.send_data(stream, body, end_stream=trailers is None)
    if trailers is not None:
        conn.send_headers(stream, trailers, end_stream=True)
    sock.sendall(conn.data_to_send())
    answer = _H2Answer()
    while True:
        for event in conn.receive_data(_recv(sock)):
            if isinstance(event, h2.events.ResponseReceived):
                answer.status = int(dict(event.headers)[b":status"])
            elif isinstance(event, h2.events.DataReceived):
                answer.body += event.data
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.TrailersReceived):
                answer.trailers = {k.decode(): v.decode() for k, v in event.headers}
            elif isinstance(event, h2.events.StreamReset):
                answer.reset = True
                return answer
            elif isinstance(event, h2.events.StreamEnded):
                return answer
        sock.sendall(conn.data_to_send())


def test_http2_request_trailers_are_refused_before_the_http1_vendor(
    explicit_proxy: Proxy, https_vendor: Vendor, unique_path: str
) -> None:
    """HTTP/2 trailers to an HTTP/1.1 vendor (mitmproxy's AssertionError): a 400 instead."""
    answer = _h2_request(
        explicit_proxy,
        https_vendor,
        unique_path,
        b'{"note": "hello"}',
        trailers=[("x-customer-email", EMAIL)],
    )
    assert answer.status == 400
    assert json.loads(answer.body)["rule"] == "trailers"
    assert EMAIL.encode() not in answer.body
    assert https_vendor.received(unique_path) == []
    decision = _refusal(explicit_proxy, json.loads(answer.body)["incident_id"])
    assert decision["blocking_rule"] == "trailers"
    assert CRASHED not in explicit_proxy.stderr()


def _stream_spec(chunks: list[str], trailers: list[list[str]]) -> bytes:
    return json.dumps(
        {"content_type": "text/plain", "chunks": chunks, "trailers": trailers}
    ).encode()


def test_a_vendors_trailers_reach_an_http2_client(
    explicit_proxy: Proxy, https_vendor: Vendor, unique_path: str
) -> None:
    """HTTP/1 response trailers (mitmproxy's NotImplementedError) go on to an HTTP/2 client."""
    path = f"{STREAM_PREFIX}{unique_path.lstrip('/')}"
    spec = _stream_spec(["hello ", "world"], [["X-Checksum", "abc"]])
    answer = _h2_request(explicit_proxy, https_vendor, path, spec)
    assert (answer.status, answer.body, answer.reset) == (200, b"hello world", False)
    assert answer.trailers == {"x-checksum": "abc"}
    assert CRASHED not in explicit_proxy.stderr()


def test_a_vendors_trailers_are_dropped_for_an_http1_client(
    reverse_client: httpx.Client, reverse_proxy: Proxy, unique_path: str
) -> None:
    """An HTTP/1 client gets the body and a proper end, without the trailers it cannot get."""
    path = f"{STREAM_PREFIX}{unique_path.lstrip('/')}"
    response = reverse_client.post(
        path, content=_stream_spec(["hello ", "world"], [["X-Checksum", "abc"]])
    )
    assert (response.status_code, response.text) == (200, "hello world")
    assert CRASHED not in reverse_proxy.stderr()


def _read_chunked_request(stream: TcpStream) -> None:
    """A vendor that reads one chunked request to its end and answers 200."""
    data = b""
    while not data.endswith(b"\r\n0\r\n\r\n"):
        more = stream.recv(TIMEOUT)
        if not more:
            return
        data += more
    stream.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")


def test_chunk_extensions_never_reach_the_vendor(explicit_proxy: Proxy, unique_path: str) -> None:
    """mitmproxy drops chunk extensions (h11 discards them) and re-frames the inspected body."""
    vendor = TcpVendor(_read_chunked_request)
    try:
        url = f"http://127.0.0.1:{vendor.port}{unique_path}"
        second = f" call {EMAIL}".encode()
        chunks = (
            f"5;note={EMAIL}\r\nhello\r\n".encode()
            + f'{len(second):x};sig="{SSN}"\r\n'.encode()
            + second
            + b"\r\n0\r\n\r\n"
        )
        [answer] = _http1_exchange(("127.0.0.1", explicit_proxy.port), _chunked(url, chunks))
        assert answer.startswith(b"HTTP/1.1 200 ")
        assert vendor.wait_closed(TIMEOUT)
        [session] = vendor.snapshot()
        received = bytes(session.received)
    finally:
        vendor.close()
    head, _, body = received.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower()
    assert b";" not in body  # no extension, no quoted signature
    assert SSN.encode() not in received
    size, _, rest = body.partition(b"\r\n")
    data, _, end = rest.partition(b"\r\n")
    assert end == b"0\r\n\r\n"  # one chunk, mitmproxy's own framing
    assert int(size, 16) == len(data)
    assert data.startswith(b"hello call ")
    assert EMAIL.encode() not in data  # the body was inspected: the email is masked
    decision = explicit_proxy.decision_for(unique_path)
    assert decision["outcome"] == "redacted"
