"""`python -m bench.throughput` (`make bench`): what inspection costs in throughput and latency.

The same payloads go, with 16 busy connections from wrk, through plain `mitmdump --mode
reverse:...` and through `dlp-proxy run --mode reverse:...` with policies/default.yaml, in front
of one fast vendor server on 127.0.0.1. For each payload: requests/s, p50 and p99 of each proxy,
their ratio and the p99 that inspection adds, against the targets of issue 6. Also: the time to
inspect one 1 MB CSV export, the peak memory of the whole gateway (proxy and workers), and how
much one connection sending 1 MB exports back to back raises p99 for small requests on others.

After every dlp-proxy run the vendor's copy of the bodies is checked: none of the payload's raw
PII may be in it, the protected form must be, and every forwarded request must have a decision in
the log. A gateway that does not inspect makes the figures worthless, so that fails the run.

The exit status is 0 whatever the figures (this is a measurement: docs/performance.md), 2 when
the benchmark itself is broken: wrk missing, a proxy not starting, a protection check failing.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, Literal

from tabulate import tabulate

from bench.harness import DEFAULT_POLICY, ROOT, HarnessError, free_ports
from bench.loadgen import (
    BenchError,
    Gateway,
    SinkVendor,
    TreeRss,
    Wrk,
    WrkResult,
    cpu_seconds,
    dlp_gateway,
    mitmdump_gateway,
    process_tree,
)
from bench.values import card_number, phone_number
from dlp_proxy.gateway.workers import WorkerSettings

__all__ = [
    "CSV_INSPECT_TARGET",
    "DLP_TARGETS",
    "MEMORY_TARGET",
    "SLOW_BODY_TARGET",
    "Payload",
    "Target",
    "ThroughputRow",
    "check_protection",
    "clean_ticket",
    "csv_export",
    "customer_record",
    "main",
    "other_checks",
    "payloads",
    "report",
    "transcript_ticket",
    "verdict",
]

DEFAULT_SEED = 20261129
CSV_BYTES = 1024 * 1024
RESULTS = ROOT / "var" / "bench" / "results.json"
GATEWAY_TIMEOUT = WorkerSettings().timeout  # dlp-proxy's default --timeout, in seconds
EXPORT_TIMEOUT = WorkerSettings().bulk_timeout  # and --bulk-timeout, for bodies over 64 KiB
MB = 1_000_000


# --- payloads ---------------------------------------------------------------------------------

_FIRST = (
    "Maria", "Robert", "Aisha", "Daniel", "Sofia", "James", "Priya", "Lukas", "Elena", "Kwame",
    "Hannah", "Mateo", "Grace", "Oliver", "Yuki", "Fatima", "Samuel", "Chloe", "Ivan", "Amara",
)  # fmt: skip
_LAST = (
    "Gonzalez", "Chen", "Okafor", "Murphy", "Rossi", "Johnson", "Patel", "Schneider", "Novak",
    "Mensah", "Fischer", "Alvarez", "Kim", "Brennan", "Tanaka", "Haddad", "Walker", "Dubois",
    "Petrov", "Nwosu",
)  # fmt: skip
_STREETS = ("Elm Street", "Maple Avenue", "Oak Lane", "Cedar Road", "Pine Street", "Birch Drive")
_CITIES = (
    ("Springfield", "IL", "62704"),
    ("Portland", "OR", "97205"),
    ("Austin", "TX", "78701"),
    ("Madison", "WI", "53703"),
    ("Raleigh", "NC", "27601"),
    ("Denver", "CO", "80202"),
)
_PLANS = ("basic", "plus", "family", "business")


@dataclass(frozen=True)
class Payload:
    """One body sent under load, and what the vendor may and must get of it through dlp-proxy.

    `secrets` are raw values that must never reach the vendor through dlp-proxy (for the CSV
    export a sample of its rows: checking every value of 1 MB would take longer than the run),
    `markers` text every protected copy must contain (a card token), and `unchanged` says the
    vendor must get the body byte for byte (a clean payload: inspected, and left alone).
    """

    name: str
    title: str
    content_type: str
    body: bytes
    secrets: tuple[str, ...] = ()
    markers: tuple[str, ...] = ()
    unchanged: bool = False


def _person(rng: random.Random) -> tuple[str, str]:
    return rng.choice(_FIRST), rng.choice(_LAST)


def _email(first: str, last: str, n: int = 0) -> str:
    suffix = str(n) if n else ""
    return f"{first.lower()}.{last.lower()}{suffix}@example.com"


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def transcript_ticket(seed: int = DEFAULT_SEED) -> Payload:
    """A support ticket (~1 KB JSON) whose call transcript names people and gives contacts.

    Only NER finds the names; the email and phone number are in free text, found by pattern and
    context words. Through the default policy: names replaced, email and phone masked.
    """
    rng = random.Random(seed)
    first, last = "Maria", "Gonzalez"
    partner = "Robert Chen"
    email = _email(first, last)
    _, phone = phone_number(rng)
    transcript = (
        "Agent: Thank you for calling Northwind support, this is Daniel. Who am I speaking with "
        f"today?\nCustomer: Hi, this is {first} {last}. I was charged twice for my October plan "
        "and I would like one of the charges refunded.\n"
        f"Agent: I'm sorry to hear that, Ms. {last}. Can you confirm the email address on the "
        "account?\n"
        f"Customer: Sure, it's {email}. My husband {partner} uses the same account.\n"
        "Agent: Thank you. And a phone number we can reach you on if we get cut off?\n"
        f"Customer: You can call me back on {phone}, any time after five.\n"
        "Agent: I can see both charges. I'll raise a refund for the duplicate now; it should "
        "show on your statement within five working days.\nCustomer: Great, thanks for your help."
    )
    ticket = {
        "ticket_id": "T-104233",
        "queue": "billing",
        "channel": "phone",
        "priority": "normal",
        "subject": "Charge disputed on the October invoice",
        "transcript": transcript,
        "tags": ["refund", "duplicate-charge"],
    }
    return Payload(
        "transcript",
        "call transcript ticket (NER)",
        "application/json",
        _json(ticket),
        secrets=(f"{first} {last}", partner, f"Ms. {last}", email, phone),
    )


def customer_record(seed: int = DEFAULT_SEED) -> Payload:
    """A structured customer record (JSON): name, email, phone, address, card, date of birth.

    Through the default policy the card becomes a `dlp:v1:` token and the rest is redacted.
    """
    rng = random.Random(seed + 1)
    first, last = "Aisha", "Okafor"
    email = _email(first, last)
    _, phone = phone_number(rng)
    digits = card_number(rng)
    card = " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))
    number = f"{rng.randint(100, 9899)} {rng.choice(_STREETS)}"
    city, state, zip_code = rng.choice(_CITIES)
    record = {
        "customer_id": "C-0048213",
        "name": f"{first} {last}",
        "email": email,
        "phone": phone,
        "address": {"street": number, "city": city, "state": state, "zip": zip_code},
        "date_of_birth": "1984-07-12",
        "payment": {"card_number": card, "expiry": "09/28"},
        "plan": "family",
        "marketing_opt_in": False,
    }
    return Payload(
        "record",
        "structured customer record",
        "application/json",
        _json(record),
        secrets=(email, phone, card, digits, number, "1984-07-12"),
        markers=("dlp:v1:",),
    )


def clean_ticket() -> Payload:
    """A support ticket (~1 KB JSON) with no personal data: the gateway must pass it unchanged."""
    ticket = {
        "ticket_id": "T-104871",
        "queue": "technical",
        "channel": "web",
        "priority": "high",
        "subject": "Sync stops after the latest app update",
        "description": (
            "Since the update to version four of the mobile app, calendar sync stops after a few "
            "minutes and only resumes when the app is restarted. The problem shows on both the "
            "tablet and the phone app, on the home network and on mobile data. Clearing the cache "
            "did not help, and neither did signing out and back in. The web version keeps "
            "working normally. The sync log shows repeated timeouts while the app uploads "
            "attachments larger than a few megabytes, then the queue stops. Expected: sync "
            "continues in the background and large attachments are retried later. Please "
            "advise whether a fix is planned for the next release, or whether there is a "
            "setting that limits attachment uploads to wireless networks in the meantime."
        ),
        "product": "calendar",
        "app_version": "4.0",
        "tags": ["sync", "regression", "mobile"],
    }
    return Payload(
        "clean", "clean ticket (no PII)", "application/json", _json(ticket), unchanged=True
    )


def csv_export(size: int = CSV_BYTES, seed: int = DEFAULT_SEED) -> Payload:
    """A customer export of at least `size` bytes (CSV with a header row, `text/csv`).

    Every row has a name, an email address and a phone number; the secrets checked are those of
    the first 20 rows and of every 100th row after.
    """
    rng = random.Random(seed + 2)
    lines = ["customer_id,name,email,phone,city,state,plan,signup_date,balance"]
    secrets: list[str] = []
    total = len(lines[0]) + 1
    row = 0
    while total < size:
        row += 1
        first, last = _person(rng)
        email = _email(first, last, row)
        _, phone = phone_number(rng)
        city, state, _ = rng.choice(_CITIES)
        signup = f"20{rng.randint(15, 25):02d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        balance = f"{rng.randint(0, 99999) / 100:.2f}"
        line = (
            f"C-{row:07d},{first} {last},{email},{phone},{city},{state},"
            f"{rng.choice(_PLANS)},{signup},{balance}"
        )
        lines.append(line)
        total += len(line) + 1
        if row <= 20 or row % 100 == 0:
            secrets += [email, phone]
    body = ("\n".join(lines) + "\n").encode()
    return Payload("csv", "1 MB CSV export", "text/csv", body, secrets=tuple(secrets))


def payloads(seed: int = DEFAULT_SEED, csv_bytes: int = CSV_BYTES) -> tuple[Payload, ...]:
    """The four payloads, in the order they run."""
    return (
        transcript_ticket(seed),
        customer_record(seed),
        clean_ticket(),
        csv_export(csv_bytes, seed),
    )


# --- evaluation -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A goal of issue 6: `metric` `op` `limit` (e.g. ratio >= 0.7)."""

    metric: str
    op: Literal[">=", "<="]
    limit: float
    unit: str = ""

    def met(self, value: float | None) -> bool | None:
        """Whether `value` meets the target; None when there is no value to judge."""
        if value is None:
            return None
        return value >= self.limit if self.op == ">=" else value <= self.limit

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.limit:g}{self.unit}"


def verdict(checks: Sequence[bool | None]) -> str:
    """PASS when every check is met, FAIL when one is not, n/a when one could not be judged."""
    if not checks:
        return "-"
    if any(c is False for c in checks):
        return "FAIL"
    if any(c is None for c in checks):
        return "n/a"
    return "PASS"


# Per payload, ratios are dlp-proxy's requests/s over plain mitmdump's in the same run.
DLP_TARGETS: dict[str, tuple[Target, ...]] = {
    "transcript": (Target("ratio", ">=", 0.25), Target("added p99", "<=", 150, " ms")),
    "record": (Target("ratio", ">=", 0.5),),
    "clean": (Target("ratio", ">=", 0.7),),
    "csv": (),
}
CSV_INSPECT_TARGET = Target("seconds", "<=", 2.0, " s")
MEMORY_TARGET = Target("MB", "<=", 1500, " MB")
SLOW_BODY_TARGET = Target("p99 ratio", "<=", 2.0)


@dataclass(frozen=True)
class ThroughputRow:
    """One payload through both proxies under the same load."""

    payload: Payload
    plain: WrkResult | None
    dlp: WrkResult | None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """dlp-proxy's requests/s over plain mitmdump's."""
        if self.plain is None or self.dlp is None or self.plain.rps == 0:
            return None
        return self.dlp.rps / self.plain.rps

    @property
    def added_p99_ms(self) -> float | None:
        """dlp-proxy's p99 minus plain mitmdump's."""
        if self.plain is None or self.dlp is None:
            return None
        return self.dlp.p99_ms - self.plain.p99_ms

    def value(self, metric: str) -> float | None:
        """The figure a target names."""
        return {"ratio": self.ratio, "added p99": self.added_p99_ms}[metric]

    @property
    def targets(self) -> tuple[Target, ...]:
        """The payload's targets."""
        return DLP_TARGETS.get(self.payload.name, ())

    @property
    def verdict(self) -> str:
        """PASS, FAIL, n/a, or - (no target)."""
        return verdict([t.met(self.value(t.metric)) for t in self.targets])

    def to_json(self) -> dict[str, Any]:
        """The row's figures and verdict."""
        return {
            "payload": self.payload.name,
            "bytes": len(self.payload.body),
            "plain": self.plain.to_json() if self.plain else None,
            "dlp": self.dlp.to_json() if self.dlp else None,
            "ratio": _round(self.ratio, 3),
            "added_p99_ms": _round(self.added_p99_ms, 1),
            "targets": [str(t) for t in self.targets],
            "verdict": self.verdict,
            "note": self.note,
        }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


# --- the protection check ---------------------------------------------------------------------


def check_protection(
    payload: Payload,
    bodies: Sequence[bytes],
    forwarded: int,
    decided: int,
    *,
    must_forward: bool = True,
) -> list[str]:
    """What is wrong with what the vendor got of `payload` through dlp-proxy (empty: nothing).

    `bodies` are the last bodies the vendor received, `forwarded` how many requests reached it,
    `decided` how many request decisions dlp-proxy logged for the same path. Raw secrets, a
    missing marker, a clean body changed, fewer decisions than forwarded requests (bodies went
    through uninspected) are problems; so is nothing forwarded at all when `must_forward`.
    """
    name = payload.name
    problems = []
    if forwarded == 0 and must_forward:
        problems.append(
            f"{name}: the vendor received no request through dlp-proxy, so the run measured "
            f"refusals ({decided} decisions logged), not inspection"
        )
    if decided < forwarded:
        problems.append(
            f"{name}: {forwarded} requests reached the vendor but dlp-proxy logged only "
            f"{decided} decisions: bodies went through uninspected"
        )
    if forwarded and not bodies:
        problems.append(f"{name}: {forwarded} requests reached the vendor but none was kept")
    leaky = [b for b in bodies if any(s.encode() in b for s in payload.secrets)]
    if leaky:
        leaked = sorted({s for s in payload.secrets if any(s.encode() in b for b in leaky)})
        problems.append(
            f"{name}: RAW PII REACHED THE VENDOR in {len(leaky)} of the {len(bodies)} bodies "
            f"checked: {', '.join(leaked[:5])}{' ...' if len(leaked) > 5 else ''}"
        )
    for marker in payload.markers:
        missing = sum(marker.encode() not in b for b in bodies)
        if missing:
            problems.append(
                f"{name}: {missing} of {len(bodies)} bodies lack {marker!r}: not protected as "
                f"the policy says"
            )
    if payload.unchanged:
        changed = sum(b != payload.body for b in bodies)
        if changed:
            problems.append(
                f"{name}: {changed} of {len(bodies)} bodies were changed although the payload "
                f"is meant to be clean (a false positive: fix the payload)"
            )
    return problems


# --- the run ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """How hard and how long to push."""

    duration: int = 10
    warmup: int = 3
    connections: int = 16
    threads: int = 2
    csv_repeats: int = 3
    workers: int | None = None
    policy: Path = DEFAULT_POLICY


@dataclass(frozen=True)
class Single:
    """One request sent on its own: HTTP status and seconds until the whole answer was read."""

    status: int
    seconds: float


def post_once(port: int, path: str, payload: Payload, timeout: float) -> Single:
    """POST `payload` to 127.0.0.1:`port` on a fresh connection and time it."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    started = time.perf_counter()
    try:
        connection.request("POST", path, payload.body, {"Content-Type": payload.content_type})
        response = connection.getresponse()
        response.read()
        return Single(response.status, time.perf_counter() - started)
    except TimeoutError:
        return Single(0, time.perf_counter() - started)  # status 0: no answer in time
    except OSError as e:
        raise BenchError(f"POST {path} to 127.0.0.1:{port} failed: {e}") from e
    finally:
        connection.close()


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _url(port: int, path: str) -> str:
    return f"http://127.0.0.1:{port}{path}"


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


class Benchmark:
    """One `make bench`: the runs, the checks, the figures for the report."""

    def __init__(
        self,
        settings: Settings,
        payload_set: Sequence[Payload],
        vendor: SinkVendor,
        wrk: Wrk,
        workdir: Path,
    ) -> None:
        self.settings = settings
        self.payloads = {p.name: p for p in payload_set}
        self.vendor = vendor
        self.wrk = wrk
        self.workdir = workdir
        self.notes: list[str] = []
        self.checked: list[dict[str, Any]] = []
        self.results: dict[str, Any] = {}

    # --- building blocks ---

    def load(self, port: int, path: str, payload: Payload, pid: int | None = None) -> WrkResult:
        """A warm-up (on its own path), then the measured run.

        With the proxy's `pid`, the CPU time its process and its workers spent per request
        during the measured run is kept too (`results["cpu_ms_per_request"]`).
        """
        s = self.settings
        if s.warmup > 0:
            self.wrk.run(_url(port, f"/warmup{path}"), payload, s.connections, s.warmup)
        before = self._cpu(pid)
        result = self.wrk.run(_url(port, path), payload, s.connections, s.duration)
        cpu = ""
        if pid is not None and result.requests:
            after = self._cpu(pid)
            proxy = (after[0] - before[0]) * 1000 / result.requests
            workers = (after[1] - before[1]) * 1000 / result.requests
            self.results.setdefault("cpu_ms_per_request", {})[path] = {
                "proxy": round(proxy, 2),
                "workers": round(workers, 2),
            }
            cpu = f"  CPU/request: proxy {proxy:.1f} ms, workers {workers:.1f} ms"
        _log(
            f"  {path:<18} {result.rps:7.1f} req/s  p50 {result.p50_ms:7.1f} ms  "
            f"p99 {result.p99_ms:7.1f} ms  non-2xx {result.non_2xx}  errors {result.errors}{cpu}"
        )
        return result

    @staticmethod
    def _cpu(pid: int | None) -> tuple[float, float]:
        """CPU seconds so far of the proxy process and of its (live) descendants."""
        if pid is None:
            return 0.0, 0.0
        used = cpu_seconds(process_tree(pid))
        return used.get(pid, 0.0), sum(v for k, v in used.items() if k != pid)

    @contextmanager
    def started(self, gateway: Gateway) -> Iterator[Gateway]:
        """The gateway, started (a `BenchError` if it cannot) and stopped afterwards."""
        began = time.monotonic()
        try:
            gateway.start()
        except HarnessError as e:
            raise BenchError(f"{gateway.name} did not start:\n{e}") from e
        self.results.setdefault("startup_s", {})[gateway.name] = round(time.monotonic() - began, 1)
        _log(f"{gateway.name} ready in {time.monotonic() - began:.1f} s on port {gateway.port}")
        try:
            yield gateway
        finally:
            try:
                gateway.stop()
            except HarnessError as e:
                first = str(e).splitlines()[0]
                self.notes.append(f"{gateway.name} did not stop cleanly: {first}")
                _log(f"  note: {self.notes[-1]}")

    def decisions(self, gateway: Gateway, path: str) -> list[dict[str, Any]]:
        """The request decisions dlp-proxy logged for `path`."""
        return [
            d
            for d in gateway.decisions()
            if d.get("path", "").split("?", 1)[0] == path and d.get("direction") == "request"
        ]

    def check(
        self, gateway: Gateway, payload: Payload, path: str, must_forward: bool = True
    ) -> list[dict[str, Any]]:
        """Check what the vendor got on `path`; a `BenchError` (loudly) if it was not protected."""
        deadline = time.monotonic() + 10
        while True:  # a decision is logged before the body is forwarded, but the file is read
            forwarded, decided = self.vendor.count(path), self.decisions(gateway, path)
            if len(decided) >= forwarded or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        bodies = self.vendor.bodies(path)
        problems = check_protection(
            payload, bodies, forwarded, len(decided), must_forward=must_forward
        )
        outcomes = Counter(str(d.get("outcome")) for d in decided)
        errors = Counter(str(d["error"]).split(":", 1)[0] for d in decided if d.get("error"))
        inspection = [float(d["inspection_ms"]) for d in decided if "inspection_ms" in d]
        self.checked.append(
            {
                "path": path,
                "payload": payload.name,
                "forwarded": forwarded,
                "decisions": len(decided),
                "bodies_checked": len(bodies),
                "outcomes": dict(outcomes),
                "errors": dict(errors),
                "inspection_ms_p50": _round(_median(inspection), 1),
                "problems": problems,
            }
        )
        if problems:
            banner = "PROTECTION CHECK FAILED: the figures of this run are worthless"
            raise BenchError("\n".join([banner, *problems]))
        if errors and must_forward:
            self.notes.append(
                f"{path}: {sum(errors.values())} of {len(decided)} inspections failed and were "
                f"blocked (on_error): {dict(errors)}"
            )
        return decided

    # --- the phases ---

    def direct(self) -> WrkResult:
        """The vendor without a proxy, to show it is not the bottleneck."""
        _log("vendor, no proxy:")
        return self.load(self.vendor.port, "/direct/clean", self.payloads["clean"])

    def plain(self) -> dict[str, WrkResult]:
        """Every payload through plain mitmdump; one CSV export at a time too."""
        port = free_ports(1)[0]
        gateway = mitmdump_gateway(self.workdir / "mitmdump", port, self.vendor.origin)
        runs: dict[str, WrkResult] = {}
        with self.started(gateway), TreeRss(pid := self.gateway_pid(gateway)) as memory:
            for payload in self.payloads.values():
                runs[payload.name] = self.load(port, f"/plain/{payload.name}", payload, pid)
            csv = self.payloads["csv"]
            singles = [
                post_once(port, "/plain/csv-single", csv, 60)
                for _ in range(self.settings.csv_repeats)
            ]
        self.results["plain_csv_single"] = [asdict(s) for s in singles]
        self.results["plain_peak_rss_mb"] = round(memory.peak / MB, 1)
        return runs

    def dlp(self) -> dict[str, WrkResult]:
        """Every payload through dlp-proxy, each run checked; the CSV and slow-body tests."""
        s = self.settings
        port = free_ports(1)[0]
        gateway = dlp_gateway(
            self.workdir / "dlp-proxy", port, self.vendor.origin, s.policy, s.workers
        )
        runs: dict[str, WrkResult] = {}
        with self.started(gateway), TreeRss(pid := self.gateway_pid(gateway)) as memory:
            self.results["dlp_idle_rss_mb"] = round(memory.first / MB, 1) if memory.first else None
            for payload in self.payloads.values():
                if payload.name == "csv":
                    continue
                path = f"/dlp/{payload.name}"
                runs[payload.name] = self.load(port, path, payload, pid)
                self.check(gateway, payload, path)
            csv_run = self.csv(gateway)
            if csv_run is not None:
                runs["csv"] = csv_run
            self.slow_body(gateway)
        self.results["dlp_peak_rss_mb"] = round(memory.peak / MB, 1)
        self.results["rss_samples"] = memory.samples
        return runs

    def csv(self, gateway: Gateway) -> WrkResult | None:
        """Time single exports through the idle gateway; load it with exports if they pass."""
        csv, port = self.payloads["csv"], gateway.port
        path = "/dlp/csv-single"
        singles: list[Single] = []
        for _ in range(self.settings.csv_repeats):
            singles.append(post_once(port, path, csv, EXPORT_TIMEOUT + 30))
            _log(f"  {path:<24} status {singles[-1].status} in {singles[-1].seconds:.2f} s")
            if singles[-1].status != 200:
                break  # failed closed (a timeout): once is enough to know, and it is slow
        decided = self.check(gateway, csv, path, must_forward=False)
        errors = [str(d["error"]) for d in decided if d.get("error")]
        self.results["dlp_csv_single"] = {
            "requests": [asdict(x) for x in singles],
            "median_s": _round(_median([x.seconds for x in singles]), 2),
            "inspection_ms": [d.get("inspection_ms") for d in decided],
            "outcomes": [d.get("outcome") for d in decided],
            "errors": errors,
        }
        if any(x.status != 200 for x in singles):
            self.notes.append(
                f"1 MB CSV through dlp-proxy: status {singles[-1].status} after "
                f"{singles[-1].seconds:.1f} s ({'; '.join(errors) or 'no error logged'}); the "
                f"CSV load run through dlp-proxy was skipped: every export would fail the same way"
            )
            return None
        result = self.load(port, "/dlp/csv", csv, self.gateway_pid(gateway))
        self.check(gateway, csv, "/dlp/csv", must_forward=False)
        return result

    def slow_body(self, gateway: Gateway) -> None:
        """p99 of clean tickets on 15 connections, alone and beside one connection of exports.

        Both windows last longer than the gateway's inspection timeout for small bodies, so a
        small request that times out (and the worker replaced then) falls inside the
        measurement.
        """
        s, port = self.settings, gateway.port
        clean, csv = self.payloads["clean"], self.payloads["csv"]
        others = max(s.connections - 1, 1)
        window = max(s.duration, round(GATEWAY_TIMEOUT) + 5)
        _log(f"slow body: {others} connections of clean tickets, {window} s each:")
        # Settle first: a worker replaced after a timeout loads the model again.
        self.wrk.run(_url(port, "/warmup/slow/clean"), clean, others, max(s.warmup, 5))
        alone = self.wrk.run(_url(port, "/slow/alone/clean"), clean, others, window)
        small = self.wrk.start(_url(port, "/slow/beside/clean"), clean, others, window)
        large = self.wrk.start(_url(port, "/slow/beside/csv"), csv, 1, window)
        beside, sender = self.wrk.finish(small, window), self.wrk.finish(large, window)
        for label, result in (("alone", alone), ("beside a 1 MB sender", beside)):
            _log(
                f"  clean {label:<21} {result.rps:8.1f} req/s  p50 {result.p50_ms:8.1f} ms  "
                f"p99 {result.p99_ms:8.1f} ms  non-2xx {result.non_2xx}"
            )
        _log(f"  1 MB sender: {sender.requests} answered ({sender.non_2xx} non-2xx)")
        self.check(gateway, clean, "/slow/alone/clean")
        self.check(gateway, clean, "/slow/beside/clean")
        self.check(gateway, csv, "/slow/beside/csv", must_forward=False)
        self.results["slow_body"] = {
            "seconds": window,
            "connections": {"small": others, "large": 1},
            "alone": alone.to_json(),
            "beside": beside.to_json(),
            "sender": sender.to_json(),
            "p99_ratio": _round(beside.p99_ms / alone.p99_ms if alone.p99_ms else None, 2),
        }

    @staticmethod
    def gateway_pid(gateway: Gateway) -> int:
        """The process id of a started gateway."""
        assert gateway.process is not None
        return gateway.process.pid


# --- the report -------------------------------------------------------------------------------


def _ms(result: WrkResult | None) -> str:
    if result is None:
        return "-"
    return f"{result.p50_ms:.1f} / {result.p99_ms:.1f}"


def _rps(result: WrkResult | None) -> str:
    if result is None:
        return "-"
    flag = f" ({result.non_2xx} non-2xx)" if result.non_2xx else ""
    return f"{result.rps:.1f}{flag}"


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def throughput_table(rows: Sequence[ThroughputRow]) -> str:
    """The per-payload table: both proxies, the ratio, the added p99, the targets."""
    headers = [
        "payload",
        "bytes",
        "plain req/s",
        "dlp req/s",
        "ratio",
        "plain p50/p99 ms",
        "dlp p50/p99 ms",
        "added p99 ms",
        "target",
        "result",
    ]
    table = [
        [
            row.payload.title,
            len(row.payload.body),
            _rps(row.plain),
            _rps(row.dlp),
            _num(row.ratio, ".2f"),
            _ms(row.plain),
            _ms(row.dlp),
            _num(row.added_p99_ms, ".1f"),
            ", ".join(str(t) for t in row.targets) or "-",
            row.verdict,
        ]
        for row in rows
    ]
    return tabulate(table, headers, disable_numparse=True)


def other_checks(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The CSV, memory and slow-body targets, judged."""
    checks = []
    single = results.get("dlp_csv_single") or {}
    seconds = single.get("median_s")
    statuses = sorted({r["status"] for r in single.get("requests", [])})
    shown = "-" if seconds is None else f"{seconds:.2f} s (status {', '.join(map(str, statuses))})"
    checks.append(
        ("1 MB CSV through dlp-proxy, one at a time (median)", seconds, shown, CSV_INSPECT_TARGET)
    )
    peak = results.get("dlp_peak_rss_mb")
    checks.append(
        ("gateway peak RSS, proxy + workers", peak, _num(peak, ".0f") + " MB", MEMORY_TARGET)
    )
    slow = results.get("slow_body") or {}
    ratio = slow.get("p99_ratio")
    shown = "-"
    if slow:
        beside = slow["beside"]
        failed = (
            f", {beside['non_2xx']} of {beside['requests']} not 2xx" if beside["non_2xx"] else ""
        )
        shown = (
            f"{_num(ratio, '.2f')}x ({slow['alone']['p99_ms']:.1f} -> "
            f"{beside['p99_ms']:.1f} ms{failed})"
        )
    checks.append(("clean p99 beside a 1 MB sender / alone", ratio, shown, SLOW_BODY_TARGET))
    return [
        {"check": what, "value": value, "shown": shown, "target": str(target),
         "verdict": verdict([target.met(value)])}
        for what, value, shown, target in checks
    ]  # fmt: skip


def cpu_table(rows: Sequence[ThroughputRow], cpu: dict[str, dict[str, float]]) -> str:
    """CPU milliseconds per request: mitmdump, and dlp-proxy's process and its workers."""
    table = []
    for row in rows:
        plain = cpu.get(f"/plain/{row.payload.name}", {})
        dlp = cpu.get(f"/dlp/{row.payload.name}", {})
        if plain or dlp:
            table.append(
                [
                    row.payload.title,
                    _num(plain.get("proxy"), ".2f"),
                    _num(dlp.get("proxy"), ".2f"),
                    _num(dlp.get("workers"), ".2f"),
                ]
            )
    if not table:
        return ""
    headers = ["CPU ms per request", "mitmdump", "dlp-proxy process", "dlp-proxy workers"]
    return tabulate(table, headers, disable_numparse=True)


def report(rows: Sequence[ThroughputRow], results: dict[str, Any]) -> str:
    """The whole report as printed."""
    checks = other_checks(results)
    lines = [throughput_table(rows), ""]
    lines.append(
        tabulate(
            [[c["check"], c["shown"], c["target"], c["verdict"]] for c in checks],
            ["check", "measured", "target", "result"],
            disable_numparse=True,
        )
    )
    cpu = cpu_table(rows, results.get("cpu_ms_per_request", {}))
    if cpu:
        lines += ["", cpu]
    direct, plain_clean = results.get("direct"), results.get("plain_clean_rps")
    lines.append("")
    if direct:
        lines.append(
            f"vendor alone (clean ticket, no proxy): {direct['rps']:.1f} req/s, p99 "
            f"{direct['p99_ms']:.1f} ms; plain mitmdump: {_num(plain_clean, '.1f')} req/s"
        )
    startup = results.get("startup_s", {})
    lines.append(
        "startup: "
        + ", ".join(f"{name} {seconds:g} s" for name, seconds in startup.items())
        + f"; plain mitmdump peak RSS {_num(results.get('plain_peak_rss_mb'), '.0f')} MB"
    )
    lines += [f"note: {n}" for n in results.get("notes", [])]
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    wrk = shutil.which("wrk")
    wrk_version = ""
    if wrk:
        out = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)
        wrk_version = (out.stdout or out.stderr).splitlines()[0] if out.stdout or out.stderr else ""
    return {
        "cores": len(os.sched_getaffinity(0)),
        "cpu": _cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "mitmproxy": version("mitmproxy"),
        "presidio_analyzer": version("presidio-analyzer"),
        "wrk": wrk_version,
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


# --- main -------------------------------------------------------------------------------------


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.throughput",
        description="Throughput and latency of dlp-proxy against plain mitmdump (issue 6).",
    )
    d = Settings()
    parser.add_argument("--duration", type=int, default=d.duration, help="seconds per run")
    parser.add_argument("--warmup", type=int, default=d.warmup, help="seconds before each run")
    parser.add_argument("--connections", type=int, default=d.connections)
    parser.add_argument("--threads", type=int, default=d.threads, help="wrk threads")
    parser.add_argument("--csv-repeats", type=int, default=d.csv_repeats)
    parser.add_argument("--workers", type=int, default=None, help="dlp-proxy --workers")
    parser.add_argument("--policy", type=Path, default=d.policy)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--json", type=Path, default=RESULTS, help="where the results go")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the tables, write the JSON; 2 if the benchmark is broken."""
    args = _arguments(argv)
    settings = Settings(
        duration=args.duration,
        warmup=args.warmup,
        connections=args.connections,
        threads=args.threads,
        csv_repeats=args.csv_repeats,
        workers=args.workers,
        policy=args.policy,
    )
    executable = shutil.which("wrk")
    if executable is None:
        _log("bench: wrk is not installed: `sudo apt-get install wrk` (or `make bench`)")
        return 2
    payload_set = payloads(args.seed)
    _log("payloads: " + ", ".join(f"{p.name} {len(p.body):,} bytes" for p in payload_set))
    started = time.monotonic()
    results: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench.throughput", *(argv or sys.argv[1:])]),
        "machine": machine(),
        "settings": {**asdict(settings), "policy": str(settings.policy)},
        "payloads": [
            {"name": p.name, "title": p.title, "content_type": p.content_type, "bytes": len(p.body)}
            for p in payload_set
        ],
    }
    with tempfile.TemporaryDirectory(prefix="dlp-bench-") as tmp, SinkVendor() as vendor:
        wrk = Wrk(executable, Path(tmp), settings.threads)
        bench = Benchmark(settings, payload_set, vendor, wrk, Path(tmp))
        try:
            direct = bench.direct()
            plain = bench.plain()
            dlp = bench.dlp()
        except BenchError as e:
            _log(f"\nbench: BROKEN: {e}")
            return 2
    results.update(bench.results)
    rows = [
        ThroughputRow(
            p,
            plain.get(p.name),
            dlp.get(p.name),
            "" if p.name in dlp else "not run through dlp-proxy: see notes",
        )
        for p in payload_set
    ]
    results["direct"] = direct.to_json()
    results["plain_clean_rps"] = round(plain["clean"].rps, 1)
    results["throughput"] = [row.to_json() for row in rows]
    results["checks"] = other_checks(results)
    results["protection"] = bench.checked
    if vendor.errors:
        bench.notes.append(f"the vendor had {len(vendor.errors)} errors: {vendor.errors[0]}")
    results["notes"] = bench.notes
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    print(report(rows, results))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    _log(f"\nresults: {args.json} ({results['elapsed_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
