"""The real thing to measure against: a recording vendor server and the proxy as a subprocess.

Shared by the end-to-end tests (`tests/e2e/harness.py` re-exports it) and by `bench.eval`.
Nothing here is mocked: the proxy is `dlp-proxy run` (or `mitmdump -s addons/dlp.py`) with real
Presidio workers, and the vendor is an HTTP(S) server in this process that records exactly what
reached it, WebSocket text messages included. A request under `/echo/` is answered with its own
body, as a vendor that sends back what it was given (the tokens a gateway restores).
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from wsproto import ConnectionType, WSConnection
from wsproto.connection import Connection, ConnectionState
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Event,
    Ping,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)
from wsproto.utilities import generate_accept_token

__all__ = [
    "BIN",
    "DEFAULT_POLICY",
    "ECHO_PREFIX",
    "ROOT",
    "STREAM_PREFIX",
    "HarnessError",
    "Proxy",
    "Received",
    "TcpSession",
    "TcpStream",
    "TcpVendor",
    "Vendor",
    "WebSocketOutcome",
    "acknowledge",
    "client_tls_context",
    "dlp_proxy_argv",
    "free_port",
    "free_ports",
    "greet",
    "make_vendor_certificate",
    "poll",
    "read_jsonl",
    "send_websocket",
]

ROOT = Path(__file__).resolve().parents[1]
# The venv's console scripts sit beside the interpreter running this code.
BIN = Path(sys.executable).parent
DEFAULT_POLICY = ROOT / "policies" / "default.yaml"
# Requests under this path are answered with their own body, content type and encoding.
ECHO_PREFIX = "/echo/"
# Requests under this path say in their JSON body how to answer: a chunked stream (`_stream`).
STREAM_PREFIX = "/stream/"
STREAM_PAUSE = 0.05  # seconds between the chunks of a streamed answer, so each is sent apart
STREAM_GATE_TIMEOUT = 30.0  # seconds a streamed answer waits at its gate before going on

READY_TIMEOUT = 120.0  # seconds for a proxy to start its workers and load the model
LOG_TIMEOUT = 10.0  # seconds for a decision line to appear after the response came back
STOP_TIMEOUT = 15.0  # seconds for a proxy (and its workers) to exit after SIGTERM
WS_TIMEOUT = 60.0  # seconds a WebSocket client waits for the other side


def read_request_body(handler: BaseHTTPRequestHandler) -> bytes:
    """A request's body: Content-Length bytes, or the chunks of a chunked body joined."""
    if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
        chunks = []
        while size := int(handler.rfile.readline().split(b";")[0], 16):
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
        while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return b"".join(chunks)
    return handler.rfile.read(int(handler.headers.get("Content-Length", 0)))


class HarnessError(RuntimeError):
    """The proxy or the vendor did not behave: not ready in time, exited, left processes."""


# --- files ------------------------------------------------------------------------------------


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every JSON line of a file (none if it does not exist yet)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def poll(what: str, find: Callable[[], Any], timeout: float = LOG_TIMEOUT) -> Any:
    """Call `find` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = find()
        if found:
            return found
        if time.monotonic() > deadline:
            raise HarnessError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.05)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now."""
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """`count` different TCP ports on 127.0.0.1 nothing listens on right now."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]


def make_vendor_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost; returns (cert.pem, key.pem)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dlp-proxy e2e vendor")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "vendor-cert.pem", directory / "vendor-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class _H2FirstContext(ssl.SSLContext):
    """Offers h2 before http/1.1 in ALPN, as browsers and curl do.

    httpcore always offers `http/1.1, h2` in that order, and mitmproxy picks the client's first
    choice it supports, so an unmodified httpx client never gets HTTP/2 from mitmproxy.
    """

    def set_alpn_protocols(self, alpn_protocols: Iterable[str]) -> None:
        super().set_alpn_protocols(sorted(alpn_protocols, key=lambda p: p != "h2"))


def client_tls_context(ca_file: Path, prefer_h2: bool = False) -> ssl.SSLContext:
    """A client context that trusts only `ca_file` (the proxy's CA)."""
    context = (_H2FirstContext if prefer_h2 else ssl.SSLContext)(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=str(ca_file))
    return context


# --- the vendor -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """One request as the vendor got it: method, path with query, headers, body bytes.

    For a WebSocket connection: the upgrade request, and in `messages` each text message the
    vendor received on it (UTF-8 bytes), in order.
    """

    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    messages: tuple[bytes, ...] = ()

    def header(self, name: str) -> str | None:
        """The first value of header `name` (case-insensitive), if present."""
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


class _VendorHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _VendorServer

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()  # here, in the handler thread, not in accept()
        super().setup()

    def _handle(self) -> None:
        if self.headers.get("Upgrade", "").lower() == "websocket":
            self._websocket()
            return
        body = self._read_body()
        self.server.vendor.record(
            Received(self.command, self.path, tuple(self.headers.items()), body)
        )
        if self.path.startswith(STREAM_PREFIX):
            self._stream(json.loads(body))
            return
        headers = [("Content-Type", "application/json")]
        payload = json.dumps({"ok": True, "received_bytes": len(body)}).encode()
        if self.path.startswith(ECHO_PREFIX):
            payload = body
            headers = [
                (name, value)
                for name in ("Content-Type", "Content-Encoding")
                if (value := self.headers.get(name)) is not None
            ]
        self.send_response(200)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    def _read_body(self) -> bytes:
        return read_request_body(self)

    def _stream(self, spec: dict[str, Any]) -> None:
        """Answer as `spec` says: `chunks` (text) of a chunked body under `content_type`.

        Each chunk is sent and flushed on its own. If the test opened a gate for this path
        (`Vendor.gate`), the last chunk waits until the gate is set. `trailers` (name, value
        pairs) follow the last chunk.
        """
        chunks = [chunk.encode() for chunk in spec["chunks"]]
        self.send_response(200)
        self.send_header("Content-Type", spec.get("content_type", "application/octet-stream"))
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        gate = self.server.vendor.gates.get(self.path)
        for n, chunk in enumerate(chunks):
            if n == len(chunks) - 1 and gate is not None:
                gate.wait(STREAM_GATE_TIMEOUT)
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.flush()
            time.sleep(STREAM_PAUSE)
        trailers = "".join(f"{name}: {value}\r\n" for name, value in spec.get("trailers", ()))
        self.wfile.write(f"0\r\n{trailers}\r\n".encode())
        self.wfile.flush()

    def _websocket(self) -> None:
        """Accept the upgrade, record every text message until the client closes."""
        key = self.headers.get("Sec-WebSocket-Key", "").encode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", generate_accept_token(key).decode())
        self.end_headers()
        self.close_connection = True
        connection = Connection(ConnectionType.SERVER)
        messages: list[bytes] = []
        parts: list[str] = []
        while connection.state is ConnectionState.OPEN:
            data = self.rfile.read1(65536)
            connection.receive_data(data or None)
            for event in connection.events():
                if isinstance(event, TextMessage):
                    parts.append(event.data)
                    if event.message_finished:
                        messages.append("".join(parts).encode())
                        parts = []
                elif isinstance(event, (CloseConnection, Ping)):
                    self.wfile.write(connection.send(event.response()))
            if not data:
                break
        self.server.vendor.record(
            Received(self.command, self.path, tuple(self.headers.items()), b"", tuple(messages))
        )

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the vendor's record is `Vendor.requests`


class _VendorServer(ThreadingHTTPServer):
    # Handler threads are tracked and joined by server_close(), after their sockets are shut.
    daemon_threads = False
    block_on_close = True
    vendor: Vendor


class Vendor:
    """An HTTP (or HTTPS) server on 127.0.0.1 that records every request and answers 200 JSON.

    A request whose path starts with `ECHO_PREFIX` is answered with its own body, under its own
    Content-Type and Content-Encoding, instead; one under `STREAM_PREFIX` with a chunked
    stream its body describes (`_VendorHandler._stream`).
    """

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        # A streamed answer to a path in `gates` holds its last chunk until the event is set.
        self.gates: dict[str, threading.Event] = {}
        self.requests: list[Received] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self.server = _VendorServer(("127.0.0.1", 0), _VendorHandler)
        self.server.vendor = self
        self.server.handle_error = self._handle_error  # type: ignore[method-assign]
        process_request = self.server.process_request

        def track(request: Any, client_address: Any) -> None:
            with self._lock:
                self._connections.add(request)
            process_request(request, client_address)

        self.server.process_request = track  # type: ignore[method-assign]
        if tls is not None:
            self.server.socket = tls.wrap_socket(
                self.server.socket, server_side=True, do_handshake_on_connect=False
            )
        self.scheme = "https" if tls else "http"
        self.port = int(self.server.server_address[1])
        self.origin = f"{self.scheme}://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, name=f"vendor-{self.scheme}", daemon=True
        )
        self._thread.start()

    def record(self, received: Received) -> None:
        """Keep one received request."""
        with self._lock:
            self.requests.append(received)

    def snapshot(self) -> list[Received]:
        """Every request received so far."""
        with self._lock:
            return list(self.requests)

    def received(self, path: str) -> list[Received]:
        """The requests received for `path` (compared without the query string)."""
        with self._lock:
            return [r for r in self.requests if r.path.split("?", 1)[0] == path]

    def only(self, path: str) -> Received:
        """The one request received for `path`."""
        found = self.received(path)
        assert len(found) == 1, f"vendor got {len(found)} requests for {path}: {found}"
        return found[0]

    def _handle_error(self, request: Any, client_address: Any) -> None:
        kind, error, _ = sys.exc_info()
        with self._lock:
            self.errors.append(f"{client_address}: {kind.__name__ if kind else ''}: {error}")

    def close(self) -> None:
        """Stop serving, end open keep-alive connections, join the handler threads."""
        self.server.shutdown()
        self._thread.join()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):  # already closed by its handler
                conn.shutdown(socket.SHUT_RDWR)
        self.server.server_close()


# --- a raw TCP vendor -------------------------------------------------------------------------

TCP_IDLE = 0.1  # seconds a TcpVendor's reads wait before checking whether it is closing


@dataclass
class TcpSession:
    """One connection a `TcpVendor` accepted: every byte it brought and every byte sent back.

    `received` is exactly what arrived (after TLS, when the vendor serves TLS), `alpn` the
    protocol TLS agreed on, `closed` set once the connection has ended and the record is whole.
    """

    received: bytearray = field(default_factory=bytearray)
    sent: bytearray = field(default_factory=bytearray)
    alpn: str | None = None
    closed: threading.Event = field(default_factory=threading.Event)


class TcpStream:
    """The vendor's end of one connection; every byte through it is kept in its `TcpSession`."""

    def __init__(self, sock: socket.socket, session: TcpSession, stopping: threading.Event):
        self.sock, self.session, self._stopping = sock, session, stopping
        self.eof = False

    def recv(self, timeout: float | None = None) -> bytes:
        """The next bytes the peer sent; b"" at end of stream, on `timeout`, or when closing."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.eof and not self._stopping.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                return b""
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                data = b""
            if not data:
                self.eof = True
                return b""
            self.session.received += data
            return data
        return b""

    def sendall(self, data: bytes) -> None:
        """Send `data` to the peer (a peer that has gone is not an error: it is recorded)."""
        self.session.sent += data
        with contextlib.suppress(OSError):
            self.sock.sendall(data)


def acknowledge(stream: TcpStream) -> None:
    """A client-speaks-first server: answers each read with an `ACK <bytes>` line until EOF."""
    while data := stream.recv():
        stream.sendall(b"ACK %d\n" % len(data))


def greet(banner: bytes) -> Callable[[TcpStream], None]:
    """A server-speaks-first server: sends `banner` on accepting, then acknowledges reads."""

    def serve(stream: TcpStream) -> None:
        stream.sendall(banner)
        acknowledge(stream)

    return serve


class TcpVendor:
    """A TCP (or TLS) server on 127.0.0.1 that records every byte of every connection.

    Each accepted connection runs `serve(stream)` in its own thread; what the peer sends after
    `serve` returns is still read and recorded until the peer closes, so a session's `received`
    is everything that reached the vendor. Nothing is parsed here: the record is the bytes.
    """

    def __init__(
        self, serve: Callable[[TcpStream], None], tls: ssl.SSLContext | None = None
    ) -> None:
        self.sessions: list[TcpSession] = []
        self.errors: list[str] = []
        self._serve, self._tls = serve, tls
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(TCP_IDLE)
        self.port = int(self._listener.getsockname()[1])
        self._accepting = threading.Thread(target=self._accept, name="tcp-vendor", daemon=True)
        self._accepting.start()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            session = TcpSession()
            thread = threading.Thread(
                target=self._handle, args=(sock, session), name="tcp-vendor-conn", daemon=True
            )
            with self._lock:
                self.sessions.append(session)
                self._sockets.append(sock)
                self._threads.append(thread)
            thread.start()

    def _handle(self, sock: socket.socket, session: TcpSession) -> None:
        try:
            sock.settimeout(TCP_IDLE)
            if self._tls is not None:
                sock.settimeout(WS_TIMEOUT)
                sock = self._tls.wrap_socket(sock, server_side=True)
                sock.settimeout(TCP_IDLE)
                session.alpn = sock.selected_alpn_protocol()
                with self._lock:
                    self._sockets.append(sock)
            stream = TcpStream(sock, session, self._stopping)
            self._serve(stream)
            while stream.recv():
                pass  # keep recording until the peer closes
        except Exception as e:  # noqa: BLE001 - a broken connection is recorded, not raised
            with self._lock:
                self.errors.append(f"{type(e).__name__}: {e}")
        finally:
            with contextlib.suppress(OSError):
                sock.close()
            session.closed.set()

    def snapshot(self) -> list[TcpSession]:
        """Every connection accepted so far (their records may still grow unless closed)."""
        with self._lock:
            return list(self.sessions)

    def wait_closed(self, timeout: float) -> bool:
        """Wait until every connection accepted so far has ended; False if some still run."""
        deadline = time.monotonic() + timeout
        return all(s.closed.wait(max(0.0, deadline - time.monotonic())) for s in self.snapshot())

    def close(self) -> None:
        """Stop accepting, end every connection (its record stays), join the threads."""
        self._stopping.set()
        self._accepting.join()
        self._listener.close()
        with self._lock:
            sockets, threads = list(self._sockets), list(self._threads)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(STOP_TIMEOUT)


# --- a WebSocket client -----------------------------------------------------------------------


@dataclass(frozen=True)
class WebSocketOutcome:
    """How a WebSocket exchange went.

    `status` is the handshake's (101 when accepted, 0 when the connection ended first), `body`
    a rejection's body, `completed` whether every message went out and the close was answered.
    """

    status: int
    body: bytes = b""
    completed: bool = False


def send_websocket(
    address: tuple[str, int],
    path: str,
    headers: Sequence[tuple[str, str]],
    messages: Sequence[str],
    timeout: float = WS_TIMEOUT,
) -> WebSocketOutcome:
    """Open a WebSocket to `address` at `path`, send `messages` as text, close cleanly."""
    ws = WSConnection(ConnectionType.CLIENT)
    with socket.create_connection(address, timeout=timeout) as sock:
        extra = [(name.encode(), value.encode()) for name, value in headers]
        host = f"{address[0]}:{address[1]}"
        sock.sendall(ws.send(Request(host=host, target=path, extra_headers=extra)))
        answer = _next_event(sock, ws, (AcceptConnection, RejectConnection))
        if answer is None:
            return WebSocketOutcome(0)
        if isinstance(answer, RejectConnection):
            return WebSocketOutcome(answer.status_code, _rejection_body(sock, ws, answer))
        for message in messages:
            sock.sendall(ws.send(TextMessage(data=message)))
        sock.sendall(ws.send(CloseConnection(code=1000)))
        closed = _next_event(sock, ws, (CloseConnection,))
        return WebSocketOutcome(101, completed=closed is not None)


def _next_event(
    sock: socket.socket, ws: WSConnection, kinds: tuple[type[Event], ...]
) -> Event | None:
    """The next event of one of `kinds` (pings answered, the rest skipped); None at EOF."""
    while True:
        for event in ws.events():
            if isinstance(event, kinds):
                return event
            if isinstance(event, Ping):
                sock.sendall(ws.send(event.response()))
        try:
            data = sock.recv(65536)
        except OSError:
            return None
        if not data:
            return None
        ws.receive_data(data)


def _rejection_body(sock: socket.socket, ws: WSConnection, rejection: RejectConnection) -> bytes:
    """The body that came with a refused handshake (empty if it had none)."""
    if not rejection.has_body:
        return b""
    chunks: list[bytes] = []
    while (event := _next_event(sock, ws, (RejectData,))) is not None:
        assert isinstance(event, RejectData)
        chunks.append(event.data)
        if event.body_finished:
            break
    return b"".join(chunks)


# --- the proxy --------------------------------------------------------------------------------


def _descendants(pid: int) -> set[int]:
    """Every live process below `pid` (workers, multiprocessing's helpers)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited while we looked
        if fields[0] != "Z":
            parents[int(stat.parent.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@dataclass
class Proxy:
    """A dlp-proxy (or mitmdump) process with its own confdir, data dir and output files."""

    name: str
    argv: Sequence[str]
    workdir: Path
    port: int
    confdir: Path
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    _outputs: list[IO[bytes]] = field(default_factory=list)

    @property
    def stdout_path(self) -> Path:
        return self.workdir / "stdout.log"

    @property
    def stderr_path(self) -> Path:
        return self.workdir / "stderr.log"

    @property
    def decisions_path(self) -> Path:
        return self.data_dir / "decisions.jsonl"

    @property
    def incidents_path(self) -> Path:
        return self.data_dir / "incidents.jsonl"

    @property
    def keyring(self) -> Path:
        return self.confdir / "dlp-keyring.json"

    @property
    def ca_cert(self) -> Path:
        return self.confdir / "mitmproxy-ca-cert.pem"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stdout(self) -> str:
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def start(self) -> None:
        """Start the process and wait (bounded) until it says its workers are ready."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        out, err = open(self.stdout_path, "wb"), open(self.stderr_path, "wb")  # noqa: SIM115 - closed in stop()
        self._outputs = [out, err]
        self.process = subprocess.Popen(
            list(self.argv), stdout=out, stderr=err, cwd=ROOT, env={**os.environ, **self.env}
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop(check=False)
            raise

    def _events(self) -> Iterator[dict[str, Any]]:
        for line in self.stdout().splitlines():
            if line.startswith("{"):
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line being written right now

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + READY_TIMEOUT
        while not self._ready():
            if self.process.poll() is not None:
                raise HarnessError(
                    f"{self.name} exited with status {self.process.returncode} before it was "
                    f"ready\n{self.report()}"
                )
            if time.monotonic() > deadline:
                raise HarnessError(
                    f"{self.name} not ready after {READY_TIMEOUT:g}s\n{self.report()}"
                )
            time.sleep(0.1)

    def _ready(self) -> bool:
        """Whether the proxy is serving: dlp-proxy logs `proxy_ready` and says so on stderr."""
        events = {e.get("event") for e in self._events()}
        if "workers_failed" in events:
            raise HarnessError(f"{self.name}: workers failed to start\n{self.report()}")
        return "proxy_ready" in events and "dlp-proxy ready" in self.stderr()

    def report(self) -> str:
        """The command and its output so far, for failure messages."""
        return f"$ {' '.join(self.argv)}\n--- stdout\n{self.stdout()}\n--- stderr\n{self.stderr()}"

    def stop(self, check: bool = True) -> None:
        """SIGTERM, then kill; check it and its worker processes exited (and with status 0)."""
        problems = []
        if self.process is not None:
            workers = _descendants(self.process.pid)
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
                    problems.append(f"did not exit within {STOP_TIMEOUT:g}s of SIGTERM")
            if self.process.returncode != 0:
                problems.append(f"exited with status {self.process.returncode}")
            deadline = time.monotonic() + STOP_TIMEOUT
            while (left := {p for p in workers if _alive(p)}) and time.monotonic() < deadline:
                time.sleep(0.05)
            for pid in left:
                os.kill(pid, signal.SIGKILL)
            if left:
                problems.append(f"left worker processes running: {sorted(left)}")
        for f in self._outputs:
            f.close()
        self._outputs = []
        if check and problems:
            raise HarnessError(f"{self.name}: " + "; ".join(problems) + "\n" + self.report())

    # --- the logs ---

    def decisions(self) -> list[dict[str, Any]]:
        """The decision events logged so far."""
        return [e for e in read_jsonl(self.decisions_path) if e.get("event") == "decision"]

    def incidents(self) -> list[dict[str, Any]]:
        """The incident events logged so far."""
        return [e for e in read_jsonl(self.incidents_path) if e.get("event") == "incident"]

    def decision_for(self, path: str) -> dict[str, Any]:
        """The one request decision logged for `path` (waits for it to appear)."""

        def find() -> list[dict[str, Any]]:
            return [
                d
                for d in self.decisions()
                if d["path"].split("?", 1)[0] == path and d["direction"] == "request"
            ]

        found = poll(f"a decision for {path} in {self.decisions_path}", find)
        assert len(found) == 1, found
        return dict(found[0])

    def incident(self, incident_id: str) -> dict[str, Any]:
        """The incident logged with `incident_id` (waits for it to appear)."""
        found = poll(
            f"incident {incident_id} in {self.incidents_path}",
            lambda: [i for i in self.incidents() if i.get("incident_id") == incident_id],
        )
        assert len(found) == 1, found
        return dict(found[0])


def dlp_proxy_argv(
    policy: Path, modes: Sequence[str], port: int, confdir: Path, data_dir: Path, *extra: str
) -> list[str]:
    """`dlp-proxy run ...` for one proxy."""
    argv = [str(BIN / "dlp-proxy"), "run", "--policy", str(policy)]
    for mode in modes:
        argv += ["--mode", mode]
    argv += [
        "--listen-host",
        "127.0.0.1",
        "--listen-port",
        str(port),
        "--confdir",
        str(confdir),
        "--data-dir",
        str(data_dir),
        "--log-stdout",
        *extra,
    ]
    return argv
