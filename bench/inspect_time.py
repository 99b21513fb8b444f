"""How long `inspect()` takes on each benchmark payload, in this process, with no load.

The worker's share of a request without the proxy, the sockets or the other processes around
it: the figure to watch when changing detection. The median of `--runs` inspections after one
warm-up (one run for the 1 MB export unless `--runs-csv` says more):

    .venv/bin/python -m bench.inspect_time [--policy FILE] [--runs N] [--runs-csv N] [PAYLOAD...]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

from bench.throughput import DEFAULT_SEED, Payload, payloads
from dlp_proxy.core.inspect import Decision, Message, inspect
from dlp_proxy.crypto.keys import DataKey, Keyring
from dlp_proxy.detection.detector import Detector
from dlp_proxy.detection.presidio import DEFAULT_MODEL, PresidioDetector
from dlp_proxy.policy.loader import load_policy
from dlp_proxy.policy.model import Policy

__all__ = ["time_inspection"]

ROOT = Path(__file__).resolve().parent.parent
# A throwaway key: the timings do not depend on it, and no keyring file is needed.
_KEYRING = Keyring(keys=(DataKey(id="bench", created="", state="active", secret=bytes(32)),))


def time_inspection(
    payload: Payload, policy: Policy, detector: Detector, runs: int
) -> tuple[float, Decision]:
    """The median seconds of `runs` inspections of `payload`, and the decision.

    One inspection before them warms up caches and lazy imports.
    """
    message = Message.for_url(
        "http://vendor.example/bench",
        headers=[("Content-Type", payload.content_type)],
        body=payload.body,
    )
    decision = inspect(message, policy, detector=detector, keyring=_KEYRING)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        decision = inspect(message, policy, detector=detector, keyring=_KEYRING)
        times.append(time.perf_counter() - started)
    return statistics.median(times), decision


def main(argv: Sequence[str] | None = None) -> int:
    """Print one line per payload: name, bytes, median milliseconds, action, findings."""
    parser = argparse.ArgumentParser(prog="python -m bench.inspect_time", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="PAYLOAD", help="transcript, record, ...")
    parser.add_argument("--policy", type=Path, default=ROOT / "policies" / "default.yaml")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--runs-csv", type=int, default=1)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    policy = load_policy(args.policy)
    detector = PresidioDetector(args.model)
    for payload in payloads(args.seed):
        if args.names and payload.name not in args.names:
            continue
        runs = args.runs_csv if payload.name == "csv" else args.runs
        seconds, decision = time_inspection(payload, policy, detector, runs)
        print(
            f"{payload.name:<11} {len(payload.body):>9,} bytes  {seconds * 1000:9.1f} ms  "
            f"{decision.action.name.lower():<8} {len(decision.findings)} findings"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
