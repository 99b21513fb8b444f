"""The machinery of `bench.throughput`: a fast vendor, wrk, the two proxies, /proc accounting.

- `SinkVendor`: an HTTP server on 127.0.0.1 that answers 200 at once and keeps only the last few
  bodies per path (`bench.harness.Vendor` keeps every body: gigabytes over a run of 1 MB CSVs).
- `Wrk`: runs wrk (Debian's `wrk` package) with a Lua script that POSTs one fixed body and prints
  its summary as a JSON line, read by `parse_wrk`.
- `Gateway`: `bench.harness.Proxy` with its own readiness test, for plain mitmdump (which logs no
  events) and `dlp-proxy run` without `--log-stdout` (the default deployment).
- `TreeRss` and `cpu_seconds`: memory and CPU of a process and everything below it, from /proc.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict, deque
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol

from bench.harness import BIN, Proxy, read_request_body

__all__ = [
    "WRK_SCRIPT",
    "BenchError",
    "Body",
    "Gateway",
    "SinkVendor",
    "TreeRss",
    "Wrk",
    "WrkResult",
    "cpu_seconds",
    "dlp_gateway",
    "mitmdump_gateway",
    "parse_wrk",
    "process_tree",
    "rss_bytes",
    "wrk_argv",
]


class BenchError(RuntimeError):
    """The benchmark itself is broken: its figures would mean nothing (exit status 2)."""


class Body(Protocol):
    """What wrk sends: a named body with its Content-Type (`bench.throughput.Payload`)."""

    @property
    def name(self) -> str: ...

    @property
    def content_type(self) -> str: ...

    @property
    def body(self) -> bytes: ...


# --- the vendor -------------------------------------------------------------------------------

_RESPONSE = (
    b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}'
)


class _SinkHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _SinkServer

    def _handle(self) -> None:
        self.server.sink.record(self.path, self._read_body())
        self.wfile.write(_RESPONSE)  # one write, none of send_response's logging and headers

    do_GET = do_POST = do_PUT = _handle

    def _read_body(self) -> bytes:
        return read_request_body(self)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _SinkServer(ThreadingHTTPServer):
    daemon_threads = True  # keep-alive handler threads end with the proxies' connections
    block_on_close = False
    request_queue_size = 128  # 16 connections opening at once must not wait for SYN retries
    sink: SinkVendor

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Count the error; a peer resetting its connection (wrk stopping) is not one."""
        error = sys.exc_info()[1]
        if not isinstance(error, ConnectionError):
            self.sink.errors.append(f"{client_address}: {type(error).__name__}: {error}")


class SinkVendor:
    """A vendor on 127.0.0.1 that answers every request 200 with an 11-byte JSON body.

    It counts the requests per path (query cut off) and keeps only the last `keep` bodies of
    each: `bench.harness.Vendor` keeps every body, which over a run of 1 MB exports is gigabytes.
    """

    def __init__(self, keep: int = 8) -> None:
        self.keep = keep
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._bodies: dict[str, deque[bytes]] = defaultdict(lambda: deque(maxlen=self.keep))
        self.server = _SinkServer(("127.0.0.1", 0), _SinkHandler)
        self.server.sink = self
        self.port = int(self.server.server_address[1])
        self.origin = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, args=(0.05,), name="sink-vendor", daemon=True
        )
        self._thread.start()

    def record(self, path: str, body: bytes) -> None:
        """Count one request for `path` and keep its body among the last few."""
        path = path.split("?", 1)[0]
        with self._lock:
            self._counts[path] += 1
            self._bodies[path].append(body)

    def count(self, path: str) -> int:
        """How many requests reached `path`."""
        with self._lock:
            return self._counts[path]

    def bodies(self, path: str) -> list[bytes]:
        """The last bodies received for `path`, oldest first."""
        with self._lock:
            return list(self._bodies.get(path, ()))

    def close(self) -> None:
        """Stop accepting; handler threads end when their connections do."""
        self.server.shutdown()
        self._thread.join()
        self.server.server_close()

    def __enter__(self) -> SinkVendor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- wrk --------------------------------------------------------------------------------------

# wrk calls init(args) in each thread before it formats the request, and done() once at the end
# with exact figures (microseconds); its text report rounds them, so we print our own line.
WRK_SCRIPT = """\
-- bench/throughput.py: POST one fixed body; args: body file, Content-Type.
wrk.method = "POST"

function init(args)
  local f = assert(io.open(args[1], "rb"))
  wrk.body = f:read("*a")
  f:close()
  wrk.headers["Content-Type"] = args[2]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, ' ..
    '"read_errors": %d, "write_errors": %d, "non_2xx": %d, "timeouts": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
"""
WRK_MARK = "WRK_RESULT "
WRK_TIMEOUT = "60s"  # per request: a 1 MB export through the gateway is slow, not an error


@dataclass(frozen=True)
class WrkResult:
    """One wrk run: completed requests, wall time, latency percentiles (ms), error counts.

    `non_2xx` counts answers with another status (a 403 from the gateway), which wrk includes
    in `requests` and in the latencies.
    """

    requests: int
    duration_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    non_2xx: int = 0
    connect_errors: int = 0
    read_errors: int = 0
    write_errors: int = 0
    timeouts: int = 0

    @property
    def rps(self) -> float:
        """Completed requests per second."""
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def errors(self) -> int:
        """Socket errors and timeouts (not counting non-2xx answers)."""
        return self.connect_errors + self.read_errors + self.write_errors + self.timeouts

    def to_json(self) -> dict[str, Any]:
        """The figures, with requests/s."""
        return {**asdict(self), "rps": round(self.rps, 1)}


def parse_wrk(output: str) -> WrkResult:
    """The result line our wrk script prints at the end of `output`; `BenchError` if none."""
    for line in reversed(output.splitlines()):
        if line.startswith(WRK_MARK):
            try:
                raw = json.loads(line[len(WRK_MARK) :])
                return WrkResult(
                    requests=int(raw["requests"]),
                    duration_s=raw["duration_us"] / 1e6,
                    p50_ms=raw["p50_us"] / 1000,
                    p90_ms=raw["p90_us"] / 1000,
                    p99_ms=raw["p99_us"] / 1000,
                    max_ms=raw["max_us"] / 1000,
                    mean_ms=raw["mean_us"] / 1000,
                    non_2xx=int(raw["non_2xx"]),
                    connect_errors=int(raw["connect_errors"]),
                    read_errors=int(raw["read_errors"]),
                    write_errors=int(raw["write_errors"]),
                    timeouts=int(raw["timeouts"]),
                )
            except (ValueError, KeyError, TypeError) as e:
                raise BenchError(f"cannot read wrk's result line {line!r}: {e}") from e
    raise BenchError(f"wrk printed no {WRK_MARK.strip()} line; its output:\n{output}")


def wrk_argv(
    wrk: str,
    url: str,
    script: Path,
    body: Path,
    content_type: str,
    *,
    connections: int,
    threads: int,
    duration: float,
) -> list[str]:
    """The wrk command that POSTs the file `body` to `url` for `duration` seconds."""
    return [
        wrk,
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{max(round(duration), 1)}s",  # wrk takes whole seconds only
        "--latency",
        "--timeout",
        WRK_TIMEOUT,
        "-s",
        str(script),
        url,
        "--",
        str(body),
        content_type,
    ]


class Wrk:
    """Runs wrk with the script and the payload files in one scratch directory."""

    def __init__(self, executable: str, workdir: Path, threads: int) -> None:
        self.executable = executable
        self.workdir = workdir
        self.threads = threads
        self.script = workdir / "post.lua"
        self.script.write_text(WRK_SCRIPT, encoding="utf-8")

    def body_file(self, payload: Body) -> Path:
        """The payload's body as a file wrk reads (written once)."""
        path = self.workdir / f"{payload.name}.body"
        if not path.exists():
            path.write_bytes(payload.body)
        return path

    def start(
        self, url: str, payload: Body, connections: int, duration: float
    ) -> subprocess.Popen[str]:
        """Start a run in the background; `finish` waits for its result."""
        argv = wrk_argv(
            self.executable,
            url,
            self.script,
            self.body_file(payload),
            payload.content_type,
            connections=connections,
            threads=self.threads,
            duration=duration,
        )
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    @staticmethod
    def finish(process: subprocess.Popen[str], duration: float) -> WrkResult:
        """Wait for a run started with `start` and read its result."""
        try:
            output, _ = process.communicate(timeout=duration + 120)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
            raise BenchError(f"wrk did not finish: {output}") from None
        if process.returncode != 0:
            raise BenchError(f"wrk exited with status {process.returncode}: {output}")
        return parse_wrk(output)

    def run(self, url: str, payload: Body, connections: int, duration: float) -> WrkResult:
        """One run, waited for."""
        return self.finish(self.start(url, payload, connections, duration), duration)


# --- the proxies ------------------------------------------------------------------------------


@dataclass
class Gateway(Proxy):
    """`bench.harness.Proxy` with its own test of readiness: plain mitmdump logs no events.

    Ready when `ready_text` is in its stderr or, without one, when its port accepts connections.
    """

    ready_text: str = ""

    def _ready(self) -> bool:
        if self.ready_text:
            return self.ready_text in self.stderr()
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            return False
        return True


def mitmdump_gateway(workdir: Path, port: int, upstream: str) -> Gateway:
    """Plain mitmdump in reverse mode, quiet (no flow printing: dlp-proxy prints none either)."""
    confdir = workdir / "conf"
    argv = [
        str(BIN / "mitmdump"),
        "--mode",
        f"reverse:{upstream}",
        "--listen-host",
        "127.0.0.1",
        "--listen-port",
        str(port),
        "--quiet",
        "--set",
        f"confdir={confdir}",
    ]
    return Gateway("mitmdump", argv, workdir, port, confdir, workdir / "data")


def dlp_gateway(
    workdir: Path, port: int, upstream: str, policy: Path, workers: int | None
) -> Gateway:
    """`dlp-proxy run` in reverse mode with its own confdir and data dir, default settings."""
    confdir, data_dir = workdir / "conf", workdir / "data"
    argv = [str(BIN / "dlp-proxy"), "run", "--policy", str(policy), "--mode", f"reverse:{upstream}"]
    argv += ["--listen-host", "127.0.0.1", "--listen-port", str(port)]
    argv += ["--confdir", str(confdir), "--data-dir", str(data_dir)]
    if workers:
        argv += ["--workers", str(workers)]
    return Gateway(
        "dlp-proxy", argv, workdir, port, confdir, data_dir, ready_text="dlp-proxy ready on"
    )


# --- memory -----------------------------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = defaultdict(list)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # exited while we looked
        children[int(fields[1])].append(int(stat.parent.name))
    return children


def process_tree(pid: int) -> set[int]:
    """`pid` and every process below it."""
    children = _children()
    found, frontier = {pid}, [pid]
    while frontier:
        frontier = [c for p in frontier for c in children.get(p, ()) if c not in found]
        found.update(frontier)
    return found


def rss_bytes(pid: int) -> int:
    """The resident set size of `pid` (0 once it has exited)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: set[int] | frozenset[int]) -> dict[int, float]:
    """User plus system CPU seconds used so far by each of `pids` that is still running."""
    used = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        used[pid] = (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime
    return used


class TreeRss:
    """Samples the summed RSS of a process and its descendants in a thread; keeps the peak.

    The sum counts pages shared between processes more than once: an upper bound, which is
    what a memory limit for the whole gateway has to allow for. The tree is re-read every
    second (workers come and go), the RSS every `interval` seconds.
    """

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self.first = 0
        self.samples = 0
        self._pids: set[int] = set()
        self._refreshed = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tree-rss", daemon=True)

    def sample(self) -> int:
        """Take one sample now; return it."""
        if time.monotonic() - self._refreshed >= 1.0:
            self._pids, self._refreshed = process_tree(self.pid), time.monotonic()
        total = sum(rss_bytes(p) for p in self._pids)
        self.first = self.first or total
        self.peak = max(self.peak, total)
        self.samples += 1
        return total

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> TreeRss:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
