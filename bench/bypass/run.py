"""`python -m bench.bypass` (`make bypass`): run the adversary's suite against the real proxy.

1. Start `dlp-proxy run` (default policy, real Presidio workers) with two listeners: an
   explicit proxy and a reverse proxy in front of a recording vendor.
2. Send every case (`bench.bypass.attacks`, `bench.bypass.controls`) once, each to a vendor
   of its own on 127.0.0.1 that records every byte (the reverse listener's cases one at a
   time, to its one vendor); a case that gets neither an answer nor a refusal in 5 s hangs.
3. Score each case by what its vendor could recover (`bench.bypass.score`); for the response
   direction, by what the client got and whether a decision line logged a finding.
4. Scan every file of the proxy's data dir and its stdout and stderr for each secret in every
   spelling, and stderr for crashes; print the table, write var/bypass/report.json.

Exit status: 0 when nothing leaked, no log holds a raw secret, at most one benign control was
blocked, nothing hung and nothing crashed; 1 otherwise; 2 when the suite could not run.

`--plain` runs the same through plain mitmdump, a gateway that changes nothing: then it exits
0 only when every attack leaked (but where mitmproxy itself stops it, `bench.bypass.plain`) and
every control passed intact, the check that each case can fail at all.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench.bypass import attacks, controls
from bench.bypass.cases import BENIGN, Case, build
from bench.bypass.client import Answer, Channel, Endpoints, H2Request, Http1, exchange
from bench.bypass.pii import DEFAULT_SEED, Secret
from bench.bypass.plain import mitmproxy_stops
from bench.bypass.score import Outcome, Verdict, score
from bench.bypass.seen import Record, Seen, seen_from
from bench.bypass.vendor import Script, serve
from bench.harness import (
    BIN,
    DEFAULT_POLICY,
    ROOT,
    HarnessError,
    Proxy,
    TcpVendor,
    dlp_proxy_argv,
    free_ports,
    make_vendor_certificate,
    read_jsonl,
)

__all__ = [
    "CASE_TIMEOUT",
    "CaseResult",
    "Suite",
    "all_cases",
    "describe",
    "dump",
    "exit_problems",
    "log_hits",
    "main",
    "render",
    "run_suite",
    "scrub",
    "to_json",
]

CASE_TIMEOUT = 5.0  # seconds a case may take before it counts as a hang
SETTLE_TIMEOUT = 2.0  # seconds for the vendor's connections to end after the client closed
LOG_SETTLE = 1.0  # seconds for the last decision lines to be written
DEFAULT_JOBS = 4
DEFAULT_WORKDIR = ROOT / "var" / "bypass"
CRASH_MARKERS = ("mitmproxy has crashed!", "Traceback (most recent call last)")


def _log(message: str) -> None:
    print(f"bypass: {message}", file=sys.stderr, flush=True)


# --- running the cases ------------------------------------------------------------------------


@dataclass
class _Lab:
    """The proxy under test, the reverse listener's vendor and the vendors' TLS context."""

    proxy: Proxy
    endpoints: Endpoints
    reverse_vendor: TcpVendor
    vendor_tls: ssl.SSLContext
    reverse_script: list[Script] = field(default_factory=lambda: [Script()])
    reverse_lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class CaseResult:
    """A case, what the client saw, what the vendor got, the verdict, the vendor's port."""

    case: Case
    answer: Answer
    seen: Seen
    verdict: Verdict
    vendor_port: int
    seconds: float


@dataclass
class _PlainProxy(Proxy):
    """Plain mitmdump, no addon: ready once each of its listeners accepts a connection."""

    listeners: tuple[int, ...] = ()

    def _ready(self) -> bool:
        for port in self.listeners:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            except OSError:
                return False
        return True


def _plain_argv(modes: list[str], confdir: Path, cert: Path) -> list[str]:
    """`mitmdump` with the same listeners and CA as the gateway, and nothing else."""
    argv = [str(BIN / "mitmdump"), "--quiet", "--listen-host", "127.0.0.1"]
    for mode in modes:
        argv += ["--mode", mode]
    return [*argv, "--set", f"confdir={confdir}", "--set", f"ssl_verify_upstream_trusted_ca={cert}"]


@contextmanager
def _lab(workdir: Path, confdir: Path, policy: Path, plain: bool = False) -> Iterator[_Lab]:
    """Start the proxy (explicit and reverse listeners) and the reverse vendor; stop them.

    `plain`: plain mitmdump instead of dlp-proxy, a gateway that changes nothing.
    """
    proxy_dir = workdir / "proxy"
    if proxy_dir.exists():
        shutil.rmtree(proxy_dir)
    proxy_dir.mkdir(parents=True)
    cert, key = make_vendor_certificate(proxy_dir)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    tls.set_alpn_protocols(["h2", "http/1.1"])
    holder: list[Script] = [Script()]
    reverse_vendor = TcpVendor(serve(lambda: holder[0]))
    try:
        explicit, reverse = free_ports(2)
        modes = [f"regular@{explicit}", f"reverse:http://127.0.0.1:{reverse_vendor.port}@{reverse}"]
        extra = ["--set", f"ssl_verify_upstream_trusted_ca={cert}"]
        argv = dlp_proxy_argv(policy, modes, explicit, confdir, proxy_dir / "data", *extra)
        proxy = Proxy("dlp-proxy", argv, proxy_dir, explicit, confdir, proxy_dir / "data")
        if plain:
            argv = _plain_argv(modes, confdir, cert)
            data_dir = proxy_dir / "data"
            proxy = _PlainProxy(
                "mitmdump",
                argv,
                proxy_dir,
                explicit,
                confdir,
                data_dir,
                listeners=(explicit, reverse),
            )
        proxy.start()
        endpoints = Endpoints(explicit, reverse, proxy.ca_cert)
        try:
            yield _Lab(proxy, endpoints, reverse_vendor, tls, holder)
        finally:
            proxy.stop(check=False)
    finally:
        reverse_vendor.close()


def _records(vendor: TcpVendor, start: int = 0) -> list[Record]:
    return [Record(bytes(s.received), bytes(s.sent), s.alpn) for s in vendor.snapshot()[start:]]


def _run_case(lab: _Lab, case: Case) -> CaseResult:
    """Send one case and read back what its vendor got."""
    started = time.monotonic()
    if case.channel is Channel.REVERSE:
        with lab.reverse_lock:
            lab.reverse_script[0] = case.script
            before = len(lab.reverse_vendor.snapshot())
            answer = exchange(case.exchange, case.channel, lab.endpoints, 0, CASE_TIMEOUT)
            lab.reverse_vendor.wait_closed(SETTLE_TIMEOUT)
            records, port = _records(lab.reverse_vendor, before), lab.reverse_vendor.port
    else:
        tls = lab.vendor_tls if case.channel.tls else None
        vendor = TcpVendor(serve(lambda: case.script), tls=tls)
        try:
            answer = exchange(case.exchange, case.channel, lab.endpoints, vendor.port, CASE_TIMEOUT)
            vendor.wait_closed(SETTLE_TIMEOUT)
        finally:
            vendor.close()
        records, port = _records(vendor), vendor.port
    seen = seen_from(records)
    verdict = score(case, seen, answer)
    return CaseResult(case, answer, seen, verdict, port, time.monotonic() - started)


def _path(case: Case) -> str:
    if isinstance(case.exchange, Http1):
        return case.exchange.request.target.split("?", 1)[0].split("#", 1)[0]
    if isinstance(case.exchange, H2Request):
        return case.exchange.path.split("?", 1)[0]
    return ""


def _logged(result: CaseResult, decisions: list[dict[str, Any]]) -> bool:
    """Whether a response decision with a finding was logged for the case's flow."""
    for d in decisions:
        if d.get("direction") != "response" or d.get("port") != result.vendor_port:
            continue
        if result.case.channel is Channel.REVERSE and not str(d.get("path", "")).startswith(
            _path(result.case)
        ):
            continue
        if d.get("entities"):
            return True
    return False


def _rescore_responses(results: list[CaseResult], proxy: Proxy) -> list[CaseResult]:
    """Score the response cases again, now with the decision log at hand."""
    time.sleep(LOG_SETTLE)
    decisions = [e for e in read_jsonl(proxy.decisions_path) if e.get("event") == "decision"]
    out = []
    for r in results:
        if r.case.direction == "response" and r.case.secret is not None:
            verdict = score(r.case, r.seen, r.answer, logged=_logged(r, decisions))
            r = CaseResult(r.case, r.answer, r.seen, verdict, r.vendor_port, r.seconds)
        out.append(r)
    return out


def _send_all(lab: _Lab, cases: Sequence[Case], jobs: int) -> list[CaseResult]:
    """Every case: the reverse listener's in a lane of their own, the rest `jobs` at a time."""
    reverse = [c for c in cases if c.channel is Channel.REVERSE]
    others = [c for c in cases if c.channel is not Channel.REVERSE]
    with ThreadPoolExecutor(max_workers=jobs + 1) as pool:
        lane = pool.submit(lambda: [_run_case(lab, c) for c in reverse])
        rest = list(pool.map(lambda c: _run_case(lab, c), others))
        by_name = {r.case.name: r for r in [*lane.result(), *rest]}
    return [by_name[c.name] for c in cases]


# --- the logs ---------------------------------------------------------------------------------


# A run of digits with the separators a spelling may have between them (dash, space, dot).
_NUMBERISH = re.compile(rb"[0-9](?:[0-9 .-]*[0-9])?")
_NUMBER_START = re.compile(rb"(?<![0-9])[0-9]")
_NUMBER_END = re.compile(rb"[0-9](?![0-9])")


def _whole_numbers(data: bytes, longest: int) -> Iterator[bytes]:
    """Every span of `data` up to `longest` bytes that starts and ends at a number's edge.

    A span starts at a digit with no digit before it and ends at a digit with no digit after
    it, so `219-09-9999` is found in `ssn 219-09-9999.` but not in `12190999991`. One pass over
    the data, whatever the number of secrets looked for.
    """
    for run in _NUMBERISH.finditer(data):
        text = run.group()
        ends = {m.end() for m in _NUMBER_END.finditer(text)}
        for start in (m.start() for m in _NUMBER_START.finditer(text)):
            for end in range(start + 1, min(len(text), start + longest) + 1):
                if end in ends:
                    yield text[start:end]


def log_hits(files: Sequence[Path], cases: Sequence[Case]) -> dict[str, list[str]]:
    """For each file that holds a secret in any spelling: the cases whose secret it holds.

    A spelling counts as a whole number only (no digit right before or after it).
    """
    owners: dict[bytes, list[str]] = {}
    for c in cases:
        if c.secret is not None:
            for spelling in c.secret.spellings():
                owners.setdefault(spelling.encode(), []).append(c.name)
    longest = max((len(s) for s in owners), default=0)
    hits: dict[str, list[str]] = {}
    for path in files:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        found = {name for span in _whole_numbers(data, longest) for name in owners.get(span, ())}
        if found:
            hits[str(path)] = [c.name for c in cases if c.name in found]
    return hits


def _log_files(proxy: Proxy) -> list[Path]:
    files = sorted(p for p in proxy.data_dir.rglob("*") if p.is_file())
    return [*files, proxy.stdout_path, proxy.stderr_path]


def _crashes(proxy: Proxy) -> list[str]:
    text = proxy.stderr() + proxy.stdout()
    return [marker for marker in CRASH_MARKERS if marker in text]


# --- the suite --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Suite:
    """A whole run: every case's result, the raw-PII log scan, the crashes, the timing."""

    seed: int
    results: tuple[CaseResult, ...]
    log_hits: dict[str, list[str]]
    crashes: tuple[str, ...]
    seconds: float
    meta: dict[str, Any]

    def of(self, outcome: Outcome, category: str | None = None) -> list[CaseResult]:
        """The results with `outcome` (in `category`, if given)."""
        return [
            r
            for r in self.results
            if r.verdict.outcome is outcome and category in (None, r.case.category)
        ]

    def hangs(self, category: str | None = None) -> list[CaseResult]:
        """The results whose client hung (in `category`, if given)."""
        return [r for r in self.results if r.verdict.hang and category in (None, r.case.category)]


def all_cases(seed: int) -> list[Case]:
    """Every case of the run seeded `seed`: the attacks, then the benign controls."""
    return build([*attacks.CATALOG, *controls.CATALOG], seed)


def run_suite(
    seed: int = DEFAULT_SEED,
    workdir: Path = DEFAULT_WORKDIR,
    confdir: Path = ROOT / "certs",
    policy: Path = DEFAULT_POLICY,
    jobs: int = DEFAULT_JOBS,
    only: str = "",
    plain: bool = False,
) -> Suite:
    """Run the suite against a proxy of its own; raises `HarnessError` if it cannot start.

    `plain` runs it through plain mitmdump instead: what a gateway that changes nothing lets
    through, the check that every attack can leak at all and every control passes mitmproxy.
    """
    started = time.monotonic()
    cases = [c for c in all_cases(seed) if only in c.name or only == c.category]
    if not (confdir / "mitmproxy-ca-cert.pem").exists():
        cli = [str(BIN / "dlp-proxy"), "init", "--confdir", str(confdir)]
        subprocess.run(cli, check=True, capture_output=True, timeout=120, cwd=ROOT)
    with _lab(workdir, confdir, policy, plain) as lab:
        _log(f"proxy ready; {len(cases)} cases, {jobs} at a time, seed {seed}")
        results = _rescore_responses(_send_all(lab, cases, jobs), lab.proxy)
    hits = log_hits(_log_files(lab.proxy), cases)
    meta = {
        "seed": seed,
        "policy": str(policy.resolve().relative_to(ROOT, walk_up=True)),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "python": sys.version.split()[0],
        "versions": {p: version(p) for p in ("mitmproxy", "presidio-analyzer", "h2")},
        "data_dir": str(lab.proxy.data_dir),
        "gateway": "plain mitmdump" if plain else "dlp-proxy",
    }
    return Suite(
        seed, tuple(results), hits, tuple(_crashes(lab.proxy)), time.monotonic() - started, meta
    )


# --- reporting --------------------------------------------------------------------------------

_DIGIT_RUN = re.compile(r"\d{5,}")


def scrub(text: str, secret: Secret | None = None) -> str:
    """`text` without `secret` in any spelling and without any run of five or more digits.

    Status codes stay readable; a secret, or a long number that could be one, does not.
    """
    if secret is not None:
        for spelling in sorted(secret.spellings(), key=len, reverse=True):
            text = text.replace(spelling, "<secret>")
    return _DIGIT_RUN.sub("#####", text)


def _plain(suite: Suite) -> bool:
    return suite.meta.get("gateway") == "plain mitmdump"


def not_leaked(suite: Suite) -> list[CaseResult]:
    """The attacks a plain mitmdump run did not leak though mitmproxy itself delivers them.

    Those cases prove nothing (they cannot leak, whatever the gateway does); the ones
    mitmproxy keeps from the vendor by itself (`bench.bypass.plain`) are not among them.
    """
    return [
        r
        for r in suite.results
        if r.case.secret is not None
        and r.verdict.outcome is not Outcome.LEAKED
        and not mitmproxy_stops(r.case)
    ]


def exit_problems(suite: Suite) -> list[str]:
    """Why the run fails its check (empty when it passes).

    Through plain mitmdump the check is the other way round: every attack must leak (else
    the case cannot fail and proves nothing) but where mitmproxy itself stops it, and every
    control must be intact. Its crashes are mitmproxy's own (HTTP/1.1 trailers), not counted.
    """
    if _plain(suite):
        problems = []
        if stopped := not_leaked(suite):
            problems.append(f"{len(stopped)} attacks did not leak through plain mitmproxy")
        spoiled = [
            r
            for r in suite.results
            if r.case.secret is None and r.verdict.outcome is not Outcome.INTACT
        ]
        if spoiled:
            problems.append(f"{len(spoiled)} benign controls did not pass plain mitmproxy intact")
        return problems
    problems = []
    if leaked := suite.of(Outcome.LEAKED):
        problems.append(f"{len(leaked)} cases leaked")
    if suite.log_hits:
        problems.append(f"raw secrets in {len(suite.log_hits)} log files")
    if len(false_blocks := suite.of(Outcome.FALSE_BLOCK)) > 1:
        problems.append(f"{len(false_blocks)} benign controls were blocked (at most 1 allowed)")
    if hangs := suite.hangs():
        problems.append(f"{len(hangs)} cases hung")
    if suite.crashes:
        problems.append("the proxy crashed: " + ", ".join(suite.crashes))
    return problems


_COLUMNS = (
    "category",
    "cases",
    "leaked",
    "blocked",
    "changed",
    "logged",
    "false blocks",
    "false changes",
    "hangs",
)


def _row(suite: Suite, category: str | None) -> list[str]:
    rows = [r for r in suite.results if category in (None, r.case.category)]
    own = sum(r.case.own for r in rows)
    count = f"{len(rows)}" + (f" ({own} own)" if own else "")

    def n(outcome: Outcome) -> str:
        return str(sum(r.verdict.outcome is outcome for r in rows))

    benign = category == BENIGN
    attack = category != BENIGN
    dash = "-"
    return [
        category or "total",
        count,
        n(Outcome.LEAKED) if attack else dash,
        n(Outcome.BLOCKED) if attack else dash,
        n(Outcome.CHANGED) if attack else dash,
        n(Outcome.LOGGED) if attack else dash,
        n(Outcome.FALSE_BLOCK) if benign or category is None else dash,
        n(Outcome.FALSE_CHANGE) if benign or category is None else dash,
        str(sum(r.verdict.hang for r in rows)),
    ]


def _channel_rows(suite: Suite) -> list[list[str]]:
    """Per channel: attacks, what became of them, controls and theirs (ported cases included)."""
    head = ["channel", "attacks", "leaked", "blocked", "changed", "logged", "controls"]
    rows = [[*head, "false blocks", "false changes", "hangs"]]
    for channel in Channel:
        mine = [r for r in suite.results if r.case.channel is channel]
        if not mine:
            continue
        attacks_ = [r for r in mine if r.case.secret is not None]

        def n(outcome: Outcome, of: list[CaseResult] = mine) -> str:
            return str(sum(r.verdict.outcome is outcome for r in of))

        rows.append(
            [
                channel.value,
                str(len(attacks_)),
                n(Outcome.LEAKED, attacks_),
                n(Outcome.BLOCKED, attacks_),
                n(Outcome.CHANGED, attacks_),
                n(Outcome.LOGGED, attacks_),
                str(len(mine) - len(attacks_)),
                n(Outcome.FALSE_BLOCK),
                n(Outcome.FALSE_CHANGE),
                str(sum(r.verdict.hang for r in mine)),
            ]
        )
    return rows


def _table(rows: list[list[str]], total: bool = True) -> str:
    """Rows as aligned columns, a rule under the head (and above the total row, if `total`)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for k, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells))
        if k == 0 or (total and k == len(rows) - 2):
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def describe(r: CaseResult, why: str = "") -> str:
    """One line for a case: category/name, channel, and how it ended, or `why` (scrubbed)."""
    mark = " (own)" if r.case.own else ""
    how = scrub(why or r.verdict.how, r.case.secret)
    return f"  {r.case.category}/{r.case.name}{mark} [{r.case.channel.value}]: {how}"


def render(suite: Suite) -> str:
    """The table and the lists of what went wrong (never a secret)."""
    categories = list(dict.fromkeys(r.case.category for r in suite.results))
    rows = [list(_COLUMNS), *(_row(suite, c) for c in categories), _row(suite, None)]
    gateway = suite.meta.get("gateway", "dlp-proxy")
    out = [
        f"{gateway} bypass suite: seed {suite.seed}, {len(suite.results)} cases, policy "
        f"{suite.meta.get('policy')}, {suite.seconds:.0f} s",
        "",
        _table(rows),
        "",
        _table(_channel_rows(suite), total=False),
    ]
    sections = [
        ("Leaked", suite.of(Outcome.LEAKED)),
        ("Hung", suite.hangs()),
        ("False blocks", suite.of(Outcome.FALSE_BLOCK)),
        ("False changes", suite.of(Outcome.FALSE_CHANGE)),
    ]
    if _plain(suite):
        stopped = [r for r in suite.results if r.case.secret and mitmproxy_stops(r.case)]
        sections = [
            (
                "Not leaked though mitmproxy delivers them (these cases prove nothing)",
                not_leaked(suite),
            ),
            ("Kept from the vendor by mitmproxy itself", stopped),
            ("False blocks", suite.of(Outcome.FALSE_BLOCK)),
            ("False changes", suite.of(Outcome.FALSE_CHANGE)),
        ]
    for title, found in sections:
        if found:
            lines = [describe(r, mitmproxy_stops(r.case) if _plain(suite) else "") for r in found]
            out += ["", f"{title} ({len(found)}):", *lines]
    out += ["", "Raw secrets in the proxy's logs:"]
    if suite.log_hits:
        out += [
            f"  {path}: {len(names)} cases ({', '.join(names)})"
            for path, names in suite.log_hits.items()
        ]
    else:
        out.append("  none")
    out.append("Crashes: " + (", ".join(suite.crashes) if suite.crashes else "none"))
    problems = exit_problems(suite)
    out += ["", "FAIL: " + "; ".join(problems) if problems else "PASS"]
    return "\n".join(out)


def to_json(suite: Suite) -> dict[str, Any]:
    """The report: per category and per case, outcomes and how, never a secret."""
    categories = list(dict.fromkeys(r.case.category for r in suite.results))
    return {
        "meta": {**suite.meta, "seconds": round(suite.seconds, 1), "cases": len(suite.results)},
        "summary": {
            c: dict(zip(_COLUMNS[1:], _row(suite, c)[1:], strict=True)) for c in [*categories]
        },
        "by_channel": {
            row[0]: dict(zip(head[1:], row[1:], strict=True))
            for head, *body in [_channel_rows(suite)]
            for row in body
        },
        "cases": [
            {
                "name": r.case.name,
                "category": r.case.category,
                "own": r.case.own,
                "channel": r.case.channel.value,
                "ported_from": r.case.ported_from.value if r.case.ported_from else None,
                "secret_kind": r.case.secret.kind.value if r.case.secret else None,
                "direction": r.case.direction,
                "note": r.case.note,
                "outcome": r.verdict.outcome.value,
                "how": scrub(r.verdict.how, r.case.secret),
                "hang": r.verdict.hang,
                "client_status": r.answer.status,
                "client_error": scrub(r.answer.error, r.case.secret),
                "vendor_connections": len(r.seen.raw),
                "vendor_requests": len(r.seen.requests),
                "seconds": round(r.seconds, 2),
            }
            for r in suite.results
        ],
        "log_hits": suite.log_hits,
        "crashes": list(suite.crashes),
        "problems": exit_problems(suite),
    }


def dump(suite: Suite, directory: Path) -> None:
    """Write each case's vendor record and client answer to `directory` (raw: secrets too)."""
    directory.mkdir(parents=True, exist_ok=True)
    for r in suite.results:
        lines = [
            f"{r.case.name}: {r.verdict.outcome.value} ({r.verdict.how})",
            f"client: {r.answer!r}",
        ]
        lines += [f"vendor connection {i}: {raw!r}" for i, raw in enumerate(r.seen.raw)]
        lines += [f"vendor request: {q!r}" for q in r.seen.requests]
        lines += [f"vendor frame: {f!r}" for f in r.seen.frames]
        lines.append(f"after the upgrade: {r.seen.upgraded!r}")
        (directory / f"{r.case.name}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bypass", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="secrets' seed (held out: 1414)"
    )
    parser.add_argument("--policy", type=Path, default=DEFAULT_POLICY, help="policy to enforce")
    parser.add_argument(
        "--confdir", type=Path, default=ROOT / "certs", help="the proxy's CA and keyring"
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=DEFAULT_WORKDIR,
        help="the proxy's logs and data dir go here",
    )
    parser.add_argument("--report", type=Path, help="JSON report (default: WORKDIR/report.json)")
    parser.add_argument("--jobs", type=int, default=DEFAULT_JOBS, help="cases in flight")
    parser.add_argument(
        "--only", default="", help="run only cases whose name contains this, or one category"
    )
    parser.add_argument(
        "--plain",
        action="store_true",
        help="run through plain mitmdump (a gateway that changes nothing): every attack must "
        "leak and every control pass, or the case proves nothing",
    )
    parser.add_argument(
        "--dump",
        type=Path,
        help="write what each case's vendor and client got to DIR/<case>.txt (holds the secrets)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite; 0 when it passes its check, 1 when it does not, 2 when it cannot run."""
    args = _parser().parse_args(argv)
    try:
        suite = run_suite(
            args.seed, args.workdir, args.confdir, args.policy, args.jobs, args.only, args.plain
        )
    except (HarnessError, OSError, subprocess.SubprocessError) as e:
        print(f"bypass: the suite could not run: {scrub(str(e))}", file=sys.stderr)
        return 2
    print(render(suite))
    if args.dump:
        dump(suite, args.dump)
    report = args.report or args.workdir / "report.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps(to_json(suite), indent=1) + "\n", encoding="utf-8")
    _log(f"report in {report}")
    return 1 if exit_problems(suite) else 0
