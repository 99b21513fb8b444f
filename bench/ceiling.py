"""`python -m bench.ceiling`: how fast dlp-proxy could go on this machine if it inspected less.

`make bench` compares dlp-proxy with the default policy to plain mitmdump. This asks what part
of the gap each layer costs, under the same load (16 busy connections from wrk, the same
vendor on 127.0.0.1), by running the small payloads through plain mitmdump and then through
dlp-proxy with three policies made from `--policy` (policies/default.yaml):

- `addon only`: every rule limited to a path the load never uses, so no message is inspected:
  the cost of the addon, the decision log and mitmproxy's own work, no worker involved;
- `email only`: one rule, for email addresses: a message without an `@` (the clean ticket) is
  parsed and handed to a worker, which finds nothing to ask the analyzer: the cost of the
  worker round trip;
- `no NER`: the rules without entity types only NER finds (PERSON, LOCATION, NRP,
  ORGANIZATION): Presidio's pattern recognizers and ours, no spaCy model at run time;
- `default`: the policy itself.

Each line gives requests/s, the ratio to plain mitmdump in the same run, p50/p99 and the CPU
milliseconds per request of the proxy process and of its workers. The first three policies
protect less by design, so their vendor copies are not checked: these figures are ceilings,
not results (`make bench` has the results). The exit status is 0 whatever the figures, 2 when
the benchmark is broken.

    .venv/bin/python -m bench.ceiling [--duration 10] [--warmup 3] [--payload clean ...]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from tabulate import tabulate

from bench.harness import DEFAULT_POLICY, free_ports
from bench.loadgen import BenchError, SinkVendor, Wrk, WrkResult, dlp_gateway, mitmdump_gateway
from bench.throughput import DEFAULT_SEED, Benchmark, Payload, Settings, payloads
from dlp_proxy.detection.prefilter import PROPER_NOUN_ENTITIES

__all__ = ["CeilingPolicy", "ceiling_policies"]

# A path the load never sends to: rules limited to it apply to no message.
NEVER_PATH = "/ceiling/never-sent"
SMALL_PAYLOADS = ("transcript", "record", "clean")


@dataclass(frozen=True)
class CeilingPolicy:
    """One policy the ceiling runs use: a name for the table and the file."""

    name: str
    path: Path


def ceiling_policies(policy: Path, directory: Path) -> list[CeilingPolicy]:
    """The ceiling policies in the order they run; all but `default` written to `directory`.

    `addon only`, `email only`, `no NER` are made from `policy`; `default` is `policy` itself.
    """
    document = yaml.safe_load(policy.read_text(encoding="utf-8"))
    addon_only = {
        **document,
        "rules": [{**rule, "paths": [NEVER_PATH]} for rule in document["rules"]],
    }
    without_ner = []
    for rule in document["rules"]:
        entities = [e for e in rule["entities"] if e not in PROPER_NOUN_ENTITIES]
        if entities:
            without_ner.append({**rule, "entities": entities})
    no_ner = {**document, "rules": without_ner}
    email_rule = {"id": "redact-email", "entities": ["EMAIL_ADDRESS"], "action": "redact"}
    email_only = {**document, "rules": [email_rule]}
    made = []
    variants = (("addon only", addon_only), ("email only", email_only), ("no NER", no_ner))
    for name, content in variants:
        path = directory / f"{name.replace(' ', '-').lower()}.yaml"
        path.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
        made.append(CeilingPolicy(name, path))
    return [*made, CeilingPolicy("default", policy)]


def _row(
    payload: str, gateway: str, run: WrkResult, plain: WrkResult, cpu: dict[str, float] | None
) -> list[Any]:
    ratio = run.rps / plain.rps if plain.rps else 0.0
    return [
        payload,
        gateway,
        f"{run.rps:.1f}",
        f"{ratio:.2f}",
        f"{run.p50_ms:.1f} / {run.p99_ms:.1f}",
        f"{cpu['proxy']:.2f}" if cpu else "-",
        f"{cpu['workers']:.2f}" if cpu else "-",
    ]


def run(settings: Settings, chosen: Sequence[Payload], workdir: Path) -> list[list[Any]]:
    """Every chosen payload through mitmdump, then dlp-proxy with each ceiling policy."""
    executable = shutil.which("wrk")
    if executable is None:
        raise BenchError("wrk is not installed: `sudo apt-get install wrk` (or `make bench`)")
    rows: list[list[Any]] = []
    with SinkVendor() as vendor:
        wrk = Wrk(executable, workdir, settings.threads)
        bench = Benchmark(settings, chosen, vendor, wrk, workdir)
        plain: dict[str, WrkResult] = {}
        port = free_ports(1)[0]
        mitmdump = mitmdump_gateway(workdir / "mitmdump", port, vendor.origin)
        with bench.started(mitmdump):
            pid = bench.gateway_pid(mitmdump)
            for payload in chosen:
                path = f"/plain/{payload.name}"
                plain[payload.name] = bench.load(port, path, payload, pid)
                rows.append(
                    _row(
                        payload.name,
                        "mitmdump",
                        plain[payload.name],
                        plain[payload.name],
                        bench.results["cpu_ms_per_request"][path],
                    )
                )
        for policy in ceiling_policies(settings.policy, workdir):
            port = free_ports(1)[0]
            name = policy.name.replace(" ", "-")
            gateway = dlp_gateway(
                workdir / f"dlp-{name}", port, vendor.origin, policy.path, settings.workers
            )
            _log(f"dlp-proxy, policy {policy.name}:")
            with bench.started(gateway):
                pid = bench.gateway_pid(gateway)
                for payload in chosen:
                    path = f"/dlp/{name}/{payload.name}"
                    result = bench.load(port, path, payload, pid)
                    cpu = bench.results["cpu_ms_per_request"].get(path)
                    rows.append(
                        _row(
                            payload.name,
                            f"dlp-proxy, {policy.name}",
                            result,
                            plain[payload.name],
                            cpu,
                        )
                    )
    return rows


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the table; 2 if the benchmark is broken."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.ceiling",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    defaults = Settings()
    parser.add_argument("--duration", type=int, default=defaults.duration)
    parser.add_argument("--warmup", type=int, default=defaults.warmup)
    parser.add_argument("--connections", type=int, default=defaults.connections)
    parser.add_argument("--workers", type=int, default=None, help="dlp-proxy --workers")
    parser.add_argument("--policy", type=Path, default=DEFAULT_POLICY)
    parser.add_argument(
        "--payload",
        action="append",
        choices=SMALL_PAYLOADS,
        help="a payload to run (repeatable; default all three)",
    )
    args = parser.parse_args(argv)
    settings = Settings(
        duration=args.duration,
        warmup=args.warmup,
        connections=args.connections,
        workers=args.workers,
        policy=args.policy,
    )
    names = args.payload or list(SMALL_PAYLOADS)
    chosen = [p for p in payloads(DEFAULT_SEED) if p.name in names]
    with tempfile.TemporaryDirectory(prefix="dlp-ceiling-") as tmp:
        try:
            rows = run(settings, chosen, Path(tmp))
        except BenchError as e:
            _log(f"bench: BROKEN: {e}")
            return 2
    rows.sort(key=lambda row: names.index(row[0]))
    header = [
        "payload",
        "gateway",
        "req/s",
        "ratio",
        "p50 / p99 ms",
        "proxy CPU ms/req",
        "workers CPU ms/req",
    ]
    print(tabulate(rows, header, disable_numparse=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
