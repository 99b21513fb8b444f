"""End-to-end: the channels that are not plain HTTP, through the real explicit proxy.

Raw TCP tunnels after CONNECT (the client or the server speaking first) are refused, inspected
or allowed per vendor; protocol upgrades other than WebSocket are refused and a vendor's 101 to
anything else ends the connection; WebSocket ping, pong and close payloads never cross. The
proxies are `dlp-proxy run` and `mitmdump -s addons/dlp.py` (whose addon order differs), with
real Presidio workers; the vendors are servers in this process that record every byte.
"""

from __future__ import annotations

import contextlib
import json
import socket
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Event,
    Ping,
    Pong,
    Request,
    TextMessage,
)

from tests.e2e.harness import (
    BIN,
    CARD,
    EMAIL,
    ROOT,
    SSN,
    Proxy,
    Vendor,
    dlp_proxy_argv,
    free_port,
    pii_spellings,
    poll,
)

TIMEOUT = 30.0  # seconds a client waits for the proxy
QUIET = 1.5  # seconds of silence that show nothing is coming
ALLOW_REASON = "The file vendor's SFTP is end-to-end encrypted under contract 17."

CHANNELS_POLICY = f"""
version: 1
name: channels
vendors:
  - id: chat
    hosts: ["127.0.0.2"]
    tunnels: inspect
  - id: files
    hosts: ["127.0.0.3"]
    tunnels: {{action: allow, reason: "{ALLOW_REASON}"}}
rules:
  - id: block-ssn
    entities: [US_SSN]
    action: block
  - id: redact-emails
    entities: [EMAIL_ADDRESS]
    action: redact
"""


# --- servers that record every byte -------------------------------------------------------------


class RawServer:
    """A TCP server that records what each connection sends; it may greet, and answer."""

    def __init__(self, host: str = "127.0.0.1", greeting: bytes = b"", reply: bytes = b""):
        self.greeting, self.reply = greeting, reply
        self.sock = socket.create_server((host, 0))
        self.host, self.port = host, int(self.sock.getsockname()[1])
        self.connections: list[bytearray] = []
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            record = bytearray()
            with self._lock:
                self.connections.append(record)
            thread = threading.Thread(target=self._serve, args=(conn, record), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, conn: socket.socket, record: bytearray) -> None:
        with conn:
            conn.settimeout(TIMEOUT)
            with contextlib.suppress(OSError):
                if self.greeting:
                    conn.sendall(self.greeting)
                while data := conn.recv(65536):
                    with self._lock:
                        record += data
                    if self.reply:
                        conn.sendall(self.reply)

    def received(self) -> bytes:
        """Everything every connection sent, joined."""
        with self._lock:
            return b"".join(bytes(r) for r in self.connections)

    def close(self) -> None:
        """Stop accepting; the connection threads end with their clients."""
        self.sock.close()
        self._accepting.join(5)


class SwitchingVendor(RawServer):
    """An HTTP server that answers every request `101 Switching Protocols` to a raw protocol,
    then streams its own bytes and records whatever else the client sends."""

    STREAM = b"VENDOR-RAW-STREAM-after-101"

    def _serve(self, conn: socket.socket, record: bytearray) -> None:
        with conn:
            conn.settimeout(TIMEOUT)
            with contextlib.suppress(OSError):
                head = b""
                while b"\r\n\r\n" not in head and (data := conn.recv(65536)):
                    head += data
                with self._lock:
                    record += head
                conn.sendall(
                    b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                    b"Upgrade: raw-stream\r\n\r\n" + self.STREAM
                )
                while data := conn.recv(65536):
                    with self._lock:
                        record += data


class WebSocketVendor(RawServer):
    """A WebSocket server that records ping and pong payloads, texts and the close it gets.

    It answers pings as RFC 6455 says (the same payload back), and on the text `ping me`
    pings the client with `VENDOR_PING`.
    """

    VENDOR_PING = b"vendor-session-token-77"

    def __init__(self) -> None:
        self.pings: list[bytes] = []
        self.pongs: list[bytes] = []
        self.texts: list[str] = []
        self.closes: list[tuple[int, str | None]] = []
        super().__init__()

    def _serve(self, conn: socket.socket, record: bytearray) -> None:
        ws = WSConnection(ConnectionType.SERVER)
        with conn:
            conn.settimeout(TIMEOUT)
            with contextlib.suppress(OSError):
                while data := conn.recv(65536):
                    ws.receive_data(data)
                    for event in ws.events():
                        if self._handle(event, ws, conn):
                            return

    def _handle(self, event: Event, ws: WSConnection, conn: socket.socket) -> bool:
        with self._lock:
            if isinstance(event, Request):
                conn.sendall(ws.send(AcceptConnection()))
            elif isinstance(event, Ping):
                self.pings.append(bytes(event.payload))
                conn.sendall(ws.send(event.response()))
            elif isinstance(event, Pong):
                self.pongs.append(bytes(event.payload))
            elif isinstance(event, TextMessage):
                self.texts.append(event.data)
                if event.data == "ping me":
                    conn.sendall(ws.send(Ping(payload=self.VENDOR_PING)))
            elif isinstance(event, CloseConnection):
                self.closes.append((event.code, event.reason))
                conn.sendall(ws.send(event.response()))
                return True
        return False


# --- clients ---------------------------------------------------------------------------------


class Tunnel:
    """A CONNECT tunnel to host:port through a proxy, its 200 read.

    Bytes that came right behind the 200 (a greeting relayed at once) are handed out first.
    """

    def __init__(self, proxy: Proxy, host: str, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=TIMEOUT)
        self.sock.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            data = self.sock.recv(65536)
            assert data, f"the proxy closed the CONNECT to {host}:{port}: {head!r}"
            head += data
        status, _, self.early = head.partition(b"\r\n\r\n")
        assert status.startswith(b"HTTP/1.1 200"), head

    def __enter__(self) -> Tunnel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def sendall(self, data: bytes) -> None:
        """Send through the tunnel."""
        self.sock.sendall(data)

    def recv(self) -> bytes:
        """The next bytes from the tunnel (waits)."""
        if self.early:
            data, self.early = self.early, b""
            return data
        return self.sock.recv(65536)

    def read_all(self, quiet: float = QUIET) -> tuple[bytes, bool]:
        """What arrives until the tunnel closes (True) or stays silent for `quiet` seconds."""
        early, self.early = self.early, b""
        data, closed = read_all(self.sock, quiet)
        return early + data, closed


def connect_through(proxy: Proxy, host: str, port: int) -> Tunnel:
    """A CONNECT tunnel to host:port through `proxy`."""
    return Tunnel(proxy, host, port)


def read_all(sock: socket.socket, quiet: float = QUIET) -> tuple[bytes, bool]:
    """What arrives on `sock` until it closes (True) or stays silent for `quiet` seconds."""
    sock.settimeout(quiet)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except TimeoutError:
        return data, False
    except ConnectionResetError:
        pass
    return data, True


def tunnel_decisions(proxy: Proxy, port: int) -> list[dict[str, Any]]:
    """The decisions logged for tunnels to `port`."""
    return [d for d in proxy.decisions() if d["port"] == port and d["method"] in {"TCP", "UDP"}]


def one_tunnel_decision(proxy: Proxy, port: int) -> dict[str, Any]:
    """The one decision for a tunnel to `port` (waits for it)."""
    (found,) = poll(f"a tunnel decision for port {port}", lambda: tunnel_decisions(proxy, port))
    return dict(found)


def send_raw(proxy: Proxy, request: bytes) -> bytes:
    """Send a raw HTTP request to the proxy; everything it answers until it closes or idles."""
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=TIMEOUT) as sock:
        sock.sendall(request)
        data, _ = read_all(sock, quiet=5.0)
        return data


def assert_no_pii_in_outputs(proxy: Proxy) -> None:
    """No PII spelling in the proxy's decisions, incidents, stdout or stderr."""
    for path in (proxy.decisions_path, proxy.incidents_path, proxy.stdout_path, proxy.stderr_path):
        text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
        leaks = [s for s in pii_spellings() if s in text]
        assert leaks == [], f"{leaks} in {path}"


# --- the proxies -----------------------------------------------------------------------------


def _policy_file(workdir: Path) -> Path:
    path = workdir / "channels.yaml"
    path.write_text(textwrap.dedent(CHANNELS_POLICY).lstrip(), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def channels_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """`dlp-proxy run` in regular (explicit) mode enforcing CHANNELS_POLICY.

    mitmproxy's default connection strategy (eager): a CONNECT opens the server connection at
    once, so a server that speaks first is heard before the client says anything.
    """
    workdir = tmp_path_factory.mktemp("channels-proxy")
    confdir, data_dir, port = workdir / "conf", workdir / "data", free_port()
    argv = dlp_proxy_argv(
        _policy_file(workdir), ["regular"], port, confdir, data_dir, "--workers", "1"
    )
    proxy = Proxy("channels proxy", argv, workdir, port, confdir, data_dir)
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def channels_mitmdump(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """mitmdump -s addons/dlp.py in regular mode: the addon runs before mitmproxy's NextLayer,
    and mitmproxy's own log lines (WebSocket pings among them) go to stdout."""
    workdir = tmp_path_factory.mktemp("channels-mitmdump")
    confdir, data_dir, port = workdir / "conf", workdir / "data", free_port()
    argv = [
        str(BIN / "mitmdump"),
        "-s",
        str(ROOT / "addons" / "dlp.py"),
        "--mode",
        "regular",
        "--listen-host",
        "127.0.0.1",
        "--listen-port",
        str(port),
        "--set",
        f"confdir={confdir}",
        "--set",
        f"dlp_policy={_policy_file(workdir)}",
        "--set",
        f"dlp_data_dir={data_dir}",
        "--set",
        "dlp_log_stdout=true",
        "--set",
        "dlp_workers=1",
        "--set",
        "flow_detail=0",
    ]
    proxy = Proxy("channels mitmdump", argv, workdir, port, confdir, data_dir)
    proxy.start()
    yield proxy
    proxy.stop()


# --- raw TCP tunnels ---------------------------------------------------------------------------


def test_a_raw_tunnel_is_refused_before_a_client_byte_reaches_the_server(
    channels_proxy: Proxy,
) -> None:
    """CONNECT then bytes that are neither TLS nor HTTP: closed; the server gets nothing."""
    server = RawServer()
    try:
        with connect_through(channels_proxy, server.host, server.port) as sock:
            sock.sendall(f"LOGIN:{EMAIL}\x00".encode())
            answer, closed = sock.read_all(quiet=TIMEOUT)
        assert (answer, closed) == (b"", True)
        time.sleep(0.5)
        assert server.received() == b""
        decision = one_tunnel_decision(channels_proxy, server.port)
        assert decision["outcome"] == "blocked"
        assert decision["blocking_rule"] == "tunnels"
        assert (decision["host"], decision["scheme"], decision["path"]) == (
            "127.0.0.1",
            "tcp",
            "/",
        )
        assert channels_proxy.incident(decision["incident_id"])["blocking_rule"] == "tunnels"
    finally:
        server.close()


def test_a_server_that_speaks_first_is_never_heard_by_the_client(channels_proxy: Proxy) -> None:
    """An SMTP-like greeting from the vendor is not relayed: the tunnel closes unheard."""
    server = RawServer(greeting=f"220 mail ready for {EMAIL}\r\n".encode())
    try:
        with connect_through(channels_proxy, server.host, server.port) as sock:
            answer, closed = sock.read_all(quiet=TIMEOUT)
            assert (answer, closed) == (b"", True)
        assert one_tunnel_decision(channels_proxy, server.port)["blocking_rule"] == "tunnels"
        assert server.received() == b""
    finally:
        server.close()


def test_an_inspected_tunnel_is_redacted_and_ends_at_the_first_block(
    channels_proxy: Proxy,
) -> None:
    """Vendor `chat` (127.0.0.2) inspects: an email is redacted, the SSN message ends it all."""
    server = RawServer(host="127.0.0.2", reply=b"OK\n")
    try:
        with connect_through(channels_proxy, server.host, server.port) as sock:
            sock.sendall(json.dumps({"note": f"write to {EMAIL}"}).encode() + b"\n")
            answer, closed = sock.read_all(quiet=5.0)
            assert (answer, closed) == (b"OK\n", False)  # the vendor's answer passes
            received = poll("the redacted message", server.received)
            assert EMAIL.encode() not in received
            assert json.loads(received)["note"].startswith("write to <")
            sock.sendall(json.dumps({"ssn": SSN}).encode() + b"\n")
            answer, closed = sock.read_all(quiet=TIMEOUT)
            assert closed
        time.sleep(0.5)
        assert SSN.encode() not in server.received()
        outcomes = [d["outcome"] for d in tunnel_decisions(channels_proxy, server.port)]
        assert outcomes == ["redacted", "blocked"]
        blocked = tunnel_decisions(channels_proxy, server.port)[-1]
        assert blocked["rules"] == ["block-ssn"]
        assert blocked["vendor"] == "chat"
    finally:
        server.close()


def test_an_allowed_tunnel_is_relayed_unread_with_its_reason_logged(
    channels_proxy: Proxy,
) -> None:
    """Vendor `files` (127.0.0.3) is allowed tunnels: bytes pass as they are, reason logged."""
    server = RawServer(host="127.0.0.3", greeting=b"SSH-2.0-vendor\r\n", reply=b"ack")
    try:
        with connect_through(channels_proxy, server.host, server.port) as sock:
            greeting = sock.recv()
            sock.sendall(b"SSH-2.0-client\r\n\x00\x01\x02")
            answer, _ = sock.read_all(quiet=3.0)
        assert greeting == b"SSH-2.0-vendor\r\n"
        assert answer == b"ack"
        assert server.received() == b"SSH-2.0-client\r\n\x00\x01\x02"
        decision = one_tunnel_decision(channels_proxy, server.port)
        assert decision["outcome"] == "allowed"
        assert decision["allowed_by"] == [{"id": "tunnels", "reason": ALLOW_REASON}]
    finally:
        server.close()


def test_with_a_lazy_connection_strategy_a_refused_tunnel_never_reaches_the_server(
    explicit_proxy: Proxy,
) -> None:
    """The shared proxy connects lazily (default.yaml refuses tunnels): no greeting is heard,
    and once the client speaks the tunnel is closed without the server ever being contacted."""
    server = RawServer(greeting=b"220 ready\r\n")
    try:
        with connect_through(explicit_proxy, server.host, server.port) as sock:
            assert sock.read_all() == (b"", False)  # nothing: the vendor was not even contacted
            sock.sendall(b"\x00\x01binary-login")
            assert sock.read_all(quiet=TIMEOUT) == (b"", True)
        assert server.connections == []
        assert one_tunnel_decision(explicit_proxy, server.port)["blocking_rule"] == "tunnels"
    finally:
        server.close()


# --- UDP -----------------------------------------------------------------------------------------


class UdpServer:
    """A UDP server on 127.0.0.1 that records each datagram and answers `pong`."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.datagrams: list[bytes] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                data, peer = self.sock.recvfrom(65536)
                self.datagrams.append(data)
                self.sock.sendto(b"pong", peer)

    def close(self) -> None:
        """Stop serving."""
        self.sock.close()
        self._thread.join(5)


@pytest.fixture(scope="module")
def udp_server() -> Iterator[UdpServer]:
    """The UDP vendor the reverse proxy below forwards to."""
    server = UdpServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def udp_proxy(tmp_path_factory: pytest.TempPathFactory, udp_server: UdpServer) -> Iterator[Proxy]:
    """`dlp-proxy run --mode reverse:udp://...`: every datagram is a UDP tunnel's."""
    workdir = tmp_path_factory.mktemp("channels-udp")
    confdir, data_dir, port = workdir / "conf", workdir / "data", free_port()
    mode = f"reverse:udp://127.0.0.1:{udp_server.port}@{port}"
    argv = dlp_proxy_argv(_policy_file(workdir), [mode], port, confdir, data_dir, "--workers", "1")
    proxy = Proxy("udp proxy", argv, workdir, port, confdir, data_dir)
    proxy.start()
    yield proxy
    proxy.stop()


def test_udp_is_refused_by_default(udp_proxy: Proxy, udp_server: UdpServer) -> None:
    """A datagram to a host whose tunnels are refused never reaches it, nor does an answer."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.settimeout(3.0)
        client.sendto(f"lookup {SSN}".encode(), ("127.0.0.1", udp_proxy.port))
        with pytest.raises(TimeoutError):
            client.recvfrom(65536)
    assert udp_server.datagrams == []
    (decision,) = poll("the UDP decision", udp_proxy.decisions)
    assert (decision["method"], decision["scheme"], decision["blocking_rule"]) == (
        "UDP",
        "udp",
        "tunnels",
    )
    assert_no_pii_in_outputs(udp_proxy)


# --- protocol upgrades -------------------------------------------------------------------------


def upgrade_request(vendor_port: int, path: str, *headers: str) -> bytes:
    """An absolute-form request through the explicit proxy, with `headers`."""
    lines = [f"GET http://127.0.0.1:{vendor_port}{path} HTTP/1.1", f"Host: 127.0.0.1:{vendor_port}"]
    return ("\r\n".join([*lines, *headers]) + "\r\n\r\n").encode()


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(
            ("Connection: Upgrade, HTTP2-Settings", "Upgrade: h2c", "HTTP2-Settings: AAMAAABk"),
            id="h2c",
        ),
        pytest.param(
            (
                "Connection: Upgrade",
                "Upgrade: websocket",
                "Sec-WebSocket-Version: 8",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            ),
            id="websocket-version-8",
        ),
        pytest.param(("Connection: Upgrade", "Upgrade: tcp-tunnel"), id="custom"),
    ],
)
def test_an_upgrade_to_anything_but_websocket_is_refused_with_403(
    channels_proxy: Proxy, http_vendor: Vendor, unique_path: str, headers: tuple[str, ...]
) -> None:
    """h2c, an old WebSocket, a homemade protocol: 403 with the JSON block, never forwarded."""
    answer = send_raw(channels_proxy, upgrade_request(http_vendor.port, unique_path, *headers))
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 403"), answer
    blocked = json.loads(body)
    assert blocked["rule"] == "upgrade"
    assert blocked["error"] == "blocked_by_dlp_policy"
    assert http_vendor.received(unique_path) == []
    decision = channels_proxy.decision_for(unique_path)
    assert decision["blocking_rule"] == "upgrade"
    assert decision["incident_id"] == blocked["incident_id"]


def test_a_vendors_101_to_something_not_a_websocket_ends_the_connection(
    channels_proxy: Proxy, unique_path: str
) -> None:
    """The client sees neither the 101 nor the raw bytes after it; its own bytes go nowhere."""
    vendor = SwitchingVendor()
    try:
        with socket.create_connection(("127.0.0.1", channels_proxy.port), timeout=TIMEOUT) as s:
            s.sendall(upgrade_request(vendor.port, unique_path))
            answer, closed = read_all(s, quiet=TIMEOUT)
            with contextlib.suppress(OSError):
                s.sendall(b"CLIENT-RAW-BYTES")
        assert closed
        assert b"101" not in answer
        assert SwitchingVendor.STREAM not in answer
        assert b"CLIENT-RAW-BYTES" not in vendor.received()
        decisions = [
            d for d in channels_proxy.decisions() if d["path"].split("?")[0] == unique_path
        ]
        killed = [d for d in decisions if d["direction"] == "response"]
        assert [d["blocking_rule"] for d in killed] == ["upgrade"]
    finally:
        vendor.close()


# --- WebSocket control frames ------------------------------------------------------------------


class WebSocketClient:
    """A wsproto client through the explicit proxy to `vendor` (plain HTTP, absolute form)."""

    def __init__(self, proxy: Proxy, vendor: WebSocketVendor, path: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=TIMEOUT)
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.pending: list[Event] = []
        target = f"http://127.0.0.1:{vendor.port}{path}"
        self.sock.sendall(self.ws.send(Request(host=f"127.0.0.1:{vendor.port}", target=target)))
        assert isinstance(self.next(), AcceptConnection)

    def send(self, event: Event) -> None:
        """Send one event to the vendor."""
        self.sock.sendall(self.ws.send(event))

    def next(self) -> Event:
        """The next event from the vendor (waits)."""
        while not self.pending:
            data = self.sock.recv(65536)
            assert data, "the proxy closed the WebSocket"
            self.ws.receive_data(data)
            self.pending += list(self.ws.events())
        return self.pending.pop(0)

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()


@pytest.fixture
def ws_vendor() -> Iterator[WebSocketVendor]:
    """A WebSocket vendor that records control frames."""
    vendor = WebSocketVendor()
    yield vendor
    vendor.close()


def test_websocket_ping_pong_and_close_payloads_never_cross(
    channels_proxy: Proxy, ws_vendor: WebSocketVendor, unique_path: str
) -> None:
    """Pings carry nonces across and come back with their own payload; close loses its reason."""
    client = WebSocketClient(channels_proxy, ws_vendor, unique_path)
    try:
        client.send(Ping(payload=CARD.encode()))
        assert client.next() == Pong(payload=CARD.encode())  # its own payload, echoed
        client.send(TextMessage(data="ping me"))
        ping = client.next()
        assert isinstance(ping, Ping)
        assert WebSocketVendor.VENDOR_PING not in bytes(ping.payload)
        client.send(ping.response())
        client.send(CloseConnection(code=4000, reason=f"bye {EMAIL}"))
        closing = client.next()
        assert isinstance(closing, CloseConnection)
        assert closing.code == 4000
    finally:
        client.close()
    poll("the vendor's close", lambda: ws_vendor.closes)
    (ping_payload,) = ws_vendor.pings
    assert CARD.encode() not in ping_payload
    assert len(ping_payload) == 8
    assert ws_vendor.pongs == [WebSocketVendor.VENDOR_PING]  # its own payload back
    assert ws_vendor.texts == ["ping me"]
    assert [code for code, _ in ws_vendor.closes] == [4000]
    assert all(not reason for _, reason in ws_vendor.closes)
    assert_no_pii_in_outputs(channels_proxy)


# --- under mitmdump ----------------------------------------------------------------------------


def test_under_mitmdump_a_raw_tunnel_is_refused_too(channels_mitmdump: Proxy) -> None:
    """The addon runs before mitmproxy's NextLayer there: it asks it first, then refuses."""
    server = RawServer(greeting=b"220 ready\r\n")
    try:
        with connect_through(channels_mitmdump, server.host, server.port) as sock:
            assert sock.read_all(quiet=TIMEOUT) == (b"", True)
        assert server.received() == b""
        assert one_tunnel_decision(channels_mitmdump, server.port)["blocking_rule"] == "tunnels"
    finally:
        server.close()


def test_mitmproxys_ping_log_line_holds_no_payload(
    channels_mitmdump: Proxy, ws_vendor: WebSocketVendor, unique_path: str
) -> None:
    """mitmdump prints `Received WebSocket ping ... (payload: ...)`: no payload is in it.

    Two things keep it out: the guard empties the payload before mitmproxy formats the line
    (tests/gateway/test_channels.py shows the line it formats), and the log scrubber
    (gateway/logs.py) withholds the details of such lines.
    """
    client = WebSocketClient(channels_mitmdump, ws_vendor, unique_path)
    try:
        client.send(Ping(payload=CARD.encode()))
        assert client.next() == Pong(payload=CARD.encode())
        client.send(CloseConnection(code=1000))
        client.next()
    finally:
        client.close()
    line = "Received WebSocket ping from client"
    poll("mitmproxy's ping log line", lambda: line in channels_mitmdump.stdout())
    assert_no_pii_in_outputs(channels_mitmdump)
