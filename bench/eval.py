"""`python -m bench.eval` (`make eval`): measure detection on a labelled corpus.

1. Generate the corpus (`bench.corpus`, seeded).
2. Start two recording vendors on 127.0.0.1 (HTTP, and HTTPS for HTTP/2) and the real proxy,
   `dlp-proxy run` with the policy (default: policies/default.yaml), a temporary confdir and
   data dir, listening in reverse mode in front of the HTTP vendor and as an explicit proxy.
3. Send every case: HTTP/1.1 to the reverse proxy, HTTP/2 over TLS through the explicit proxy,
   WebSocket messages through the reverse proxy. Record what each vendor received.
4. Stop the proxy; run the same corpus through plain Presidio (`bench.baseline`).
5. Score both (`bench.score`) and print one report (`bench.report`); `--json FILE` writes
   every leak and failure by case id, format, disguise and entity, never a value.

The exit status is 0 whatever the figures are (this is a measurement); 2 on an error.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx

from bench.baseline import PlainPresidio, baseline_transfer
from bench.cases import Case, Transfer
from bench.corpus import DEFAULT_SEED, DEFAULT_SIZE, generate, locales_of
from bench.harness import (
    BIN,
    DEFAULT_POLICY,
    ROOT,
    HarnessError,
    Proxy,
    Received,
    Vendor,
    client_tls_context,
    dlp_proxy_argv,
    free_ports,
    make_vendor_certificate,
    send_websocket,
)
from bench.report import Summary, render, summarise, to_json
from bench.score import Delivery, Outcome, score_case
from dlp_proxy.detection.presidio import DEFAULT_MODEL

__all__ = ["Answer", "Gateway", "git_state", "main", "run_baseline", "run_proxy"]

CASE_HEADER = "X-Bench-Case"
SEND_TIMEOUT = 120.0  # seconds for one request through the proxy
RECORD_TIMEOUT = 10.0  # seconds for the vendor to record a WebSocket session after its close
DEFAULT_CONCURRENCY = 4


def _log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


# --- the gateway under test -------------------------------------------------------------------


@dataclass
class Gateway:
    """The running proxy and the vendors behind it."""

    proxy: Proxy
    http_vendor: Vendor
    https_vendor: Vendor
    reverse_port: int
    explicit_port: int


@contextmanager
def running_gateway(workdir: Path, policy: Path, workers: int | None) -> Iterator[Gateway]:
    """Vendors and `dlp-proxy run` (reverse and explicit listeners); stopped on exit."""
    cert, key = make_vendor_certificate(workdir)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.set_alpn_protocols(["http/1.1"])
    http_vendor, https_vendor = Vendor(), Vendor(tls=context)
    confdir, data_dir = workdir / "conf", workdir / "data"
    try:
        subprocess.run(
            [str(BIN / "dlp-proxy"), "init", "--confdir", str(confdir)],
            check=True,
            capture_output=True,
            timeout=120,
            cwd=ROOT,
        )
        reverse_port, explicit_port = free_ports(2)
        modes = [f"reverse:{http_vendor.origin}@{reverse_port}", f"regular@{explicit_port}"]
        extra = ["--set", f"ssl_verify_upstream_trusted_ca={cert}"]
        # Lazily connecting upstream lets mitmproxy offer HTTP/2 to the client although the
        # vendor speaks HTTP/1.1 only.
        extra += ["--set", "connection_strategy=lazy"]
        if workers:
            extra += ["--workers", str(workers)]
        argv = dlp_proxy_argv(policy, modes, reverse_port, confdir, data_dir, *extra)
        proxy = Proxy("dlp-proxy", argv, workdir / "proxy", reverse_port, confdir, data_dir)
        proxy.start()
        try:
            yield Gateway(proxy, http_vendor, https_vendor, reverse_port, explicit_port)
        except BaseException:
            proxy.stop(check=False)
            raise
        proxy.stop()
    finally:
        http_vendor.close()
        https_vendor.close()


@dataclass(frozen=True)
class Answer:
    """What the client saw: its status, and whether that was the gateway's policy block.

    The status is 101 for an accepted WebSocket and 0 for a transport failure.
    """

    status: int
    blocked: bool = False


def _is_block(status: int, body: bytes) -> bool:
    if status != 403:
        return False
    try:
        return bool(json.loads(body).get("error") == "blocked_by_dlp_policy")
    except (ValueError, AttributeError):
        return False


@dataclass
class _Sender:
    """Sends cases through the gateway; each thread keeps its own HTTP/1.1 and HTTP/2 clients."""

    gateway: Gateway
    _local: threading.local = field(default_factory=threading.local)
    _clients: list[httpx.Client] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _client(self, http2: bool) -> httpx.Client:
        name = "h2" if http2 else "h1"
        client: httpx.Client | None = getattr(self._local, name, None)
        if client is None:
            if http2:
                verify = client_tls_context(self.gateway.proxy.ca_cert, prefer_h2=True)
                client = httpx.Client(
                    proxy=f"http://127.0.0.1:{self.gateway.explicit_port}",
                    verify=verify,
                    http2=True,
                    trust_env=False,
                    timeout=SEND_TIMEOUT,
                )
            else:
                client = httpx.Client(
                    base_url=f"http://127.0.0.1:{self.gateway.reverse_port}",
                    trust_env=False,
                    timeout=SEND_TIMEOUT,
                )
            setattr(self._local, name, client)
            with self._lock:
                self._clients.append(client)
        return client

    def send(self, case: Case) -> Answer:
        """Send one case the way its transport says; never raises for a transport failure."""
        headers = [*case.headers, (CASE_HEADER, case.id)]
        if case.transport == "websocket":
            try:
                outcome = send_websocket(
                    ("127.0.0.1", self.gateway.reverse_port),
                    case.path,
                    headers,
                    [m.decode() for m in case.messages],
                    timeout=SEND_TIMEOUT,
                )
            except OSError:
                return Answer(0)
            return Answer(outcome.status, _is_block(outcome.status, outcome.body))
        http2 = case.transport == "http/2"
        url = self.gateway.https_vendor.origin + case.path if http2 else case.path
        try:
            response = self._client(http2).request(
                case.method, url, headers=headers, content=case.body or None
            )
        except httpx.HTTPError:
            return Answer(0)
        return Answer(response.status_code, _is_block(response.status_code, response.content))

    def close(self) -> None:
        """Close every client opened."""
        for client in self._clients:
            client.close()


def _transfer(received: Received) -> Transfer:
    """What the vendor received, without the bench's own case header."""
    headers = tuple((k, v) for k, v in received.headers if k.lower() != CASE_HEADER.lower())
    return Transfer(received.path, headers, received.body, received.messages)


def _received_by_case(gateway: Gateway) -> dict[str, Received]:
    found: dict[str, Received] = {}
    for vendor in (gateway.http_vendor, gateway.https_vendor):
        for request in vendor.snapshot():
            case_id = next((v for k, v in request.headers if k.lower() == CASE_HEADER.lower()), "")
            found[case_id] = request
    return found


def run_proxy(
    cases: Sequence[Case], workdir: Path, policy: Path, concurrency: int, workers: int | None
) -> list[Delivery]:
    """Send every case through the real proxy; what each vendor received, per case."""
    with running_gateway(workdir, policy, workers) as gateway:
        _log(f"proxy ready; sending {len(cases)} cases ({concurrency} at a time)")
        sender = _Sender(gateway)
        try:
            with ThreadPoolExecutor(max_workers=concurrency) as pool:
                answers = list(pool.map(sender.send, cases))
        finally:
            sender.close()
        expected = {c.id for c, a in zip(cases, answers, strict=True) if a.status == 101}
        deadline = time.monotonic() + RECORD_TIMEOUT
        while not expected <= set(_received_by_case(gateway)) and time.monotonic() < deadline:
            time.sleep(0.05)
        received = _received_by_case(gateway)
    return [
        Delivery(
            _transfer(received[c.id]) if c.id in received else None, answer.status, answer.blocked
        )
        for c, answer in zip(cases, answers, strict=True)
    ]


def run_baseline(cases: Sequence[Case], model: str) -> list[Delivery]:
    """What the vendor would receive from each case through plain Presidio."""
    presidio = PlainPresidio(model)
    return [Delivery(baseline_transfer(c, presidio.redact), 200) for c in cases]


# --- reporting --------------------------------------------------------------------------------


def git_state(root: Path = ROOT) -> str:
    """The commit checked out, read from .git without running git ("unknown" if unreadable)."""
    git = root / ".git"
    try:
        head = (git / "HEAD").read_text(encoding="utf-8").strip()
        if not head.startswith("ref: "):
            return f"commit {head[:12]} (detached)"
        ref = head.removeprefix("ref: ")
        branch = ref.removeprefix("refs/heads/")
        if (git / ref).is_file():
            return f"commit {(git / ref).read_text(encoding='utf-8').strip()[:12]} ({branch})"
        for line in (git / "packed-refs").read_text(encoding="utf-8").splitlines():
            if line.endswith(" " + ref):
                return f"commit {line.split()[0][:12]} ({branch})"
        return f"branch {branch}, no commit yet"
    except OSError:
        return "unknown"


def _locales(locales: Sequence[str]) -> str:
    return f"locale {locales[0]}" if len(locales) == 1 else f"{len(locales)} locales"


def _heading(meta: dict[str, Any]) -> str:
    return (
        f"dlp-proxy detection evaluation: seed {meta['seed']}, "
        f"{_locales(meta.get('locales', ['en_US']))}, {meta['cases']} cases "
        f"({meta['clean_cases']} clean, {meta['labels']} PII values, {meta['benign']} benign "
        f"values), policy {meta['policy']}, model {meta['model']}\n"
        f"measured {meta['date']} on {meta['git']} (uncommitted changes not detected); "
        f"{meta['seconds']:.0f} s"
    )


def _transit_failures(outcomes: Sequence[Outcome]) -> list[str]:
    """Cases that failed in transit (no answer, or a 5xx from the gateway)."""
    return [o.case_id for o in outcomes if o.status == 0 or o.status >= 500]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.eval", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="corpus seed")
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE, help="number of cases")
    parser.add_argument("--policy", type=Path, default=DEFAULT_POLICY, help="policy to enforce")
    parser.add_argument("--json", type=Path, help="write the full results to this file")
    parser.add_argument(
        "--concurrency", type=int, default=DEFAULT_CONCURRENCY, help="requests in flight"
    )
    parser.add_argument("--workers", type=int, help="proxy inspection processes (default: cores)")
    parser.add_argument("--no-baseline", action="store_true", help="skip plain Presidio")
    parser.add_argument(
        "--locales",
        default="en_US",
        help="the customers' Faker locales, comma-separated, or 'intl' (16 countries)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the evaluation; 0 when it ran (whatever the figures), 2 on an error."""
    args = _parser().parse_args(argv)
    started = time.monotonic()
    locales = locales_of(args.locales)
    cases = generate(args.seed, args.size, locales)
    _log(f"corpus: {len(cases)} cases (seed {args.seed}, {len(locales)} locales)")
    try:
        with tempfile.TemporaryDirectory(prefix="dlp-bench-") as tmp:
            deliveries = run_proxy(cases, Path(tmp), args.policy, args.concurrency, args.workers)
    except (HarnessError, OSError, subprocess.SubprocessError) as e:
        print(f"bench: the proxy run failed: {e}", file=sys.stderr)
        return 2
    proxy_outcomes = [score_case(c, d) for c, d in zip(cases, deliveries, strict=True)]
    proxy_summary = summarise(proxy_outcomes)
    baseline: tuple[Summary, list[Outcome]] | None = None
    if not args.no_baseline:
        _log("running the corpus through plain Presidio")
        base = run_baseline(cases, DEFAULT_MODEL)
        base_outcomes = [score_case(c, d) for c, d in zip(cases, base, strict=True)]
        baseline = (summarise(base_outcomes), base_outcomes)
    meta = {
        "seed": args.seed,
        "locales": list(locales),
        "cases": len(cases),
        "clean_cases": sum(c.clean for c in cases),
        "labels": sum(len(c.labels) for c in cases),
        "benign": sum(len(c.benign) for c in cases),
        "policy": str(args.policy.resolve().relative_to(ROOT, walk_up=True)),
        "model": DEFAULT_MODEL,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "git": git_state(),
        "seconds": time.monotonic() - started,
        "python": platform.python_version(),
        "versions": {p: version(p) for p in ("mitmproxy", "presidio-analyzer", "faker")},
        "transit_failures": _transit_failures(proxy_outcomes),
    }
    print(render(proxy_summary, baseline[0] if baseline else None, _heading(meta)))
    if meta["transit_failures"]:
        print(f"\n{len(meta['transit_failures'])} requests failed in transit: see --json")
    if args.json:
        results = to_json(meta, (proxy_summary, proxy_outcomes), baseline)
        args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
        _log(f"full results in {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
