"""The adversary's suite of issue 14 (bench.bypass, docs/bypass.md) against the real proxy.

The whole suite runs once, against a `dlp-proxy run` of its own (default policy, real Presidio
workers, a temporary confdir and data dir): every case one request or one connection to a
vendor on 127.0.0.1 that records every byte. One test per class fails naming the cases that
leaked; the others check the logs, the benign controls, hangs and crashes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.bypass.attacks import CATEGORIES
from bench.bypass.run import CaseResult, Suite, describe, run_suite
from bench.bypass.score import Outcome


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Suite:
    """One run of the whole suite (about half a minute)."""
    workdir = tmp_path_factory.mktemp("bypass")
    return run_suite(workdir=workdir, confdir=workdir / "conf")


def _listed(results: list[CaseResult]) -> str:
    return "\n".join(describe(r) for r in results)


def test_every_case_ran(suite: Suite) -> None:
    """Every class is there, and the vendors got something in most cases (the rig works)."""
    assert {r.case.category for r in suite.results} >= set(CATEGORIES)
    reached = [r for r in suite.results if r.seen.raw and any(r.seen.raw)]
    assert len(reached) > len(suite.results) // 3


@pytest.mark.parametrize("category", CATEGORIES)
def test_nothing_leaks(suite: Suite, category: str) -> None:
    """No case of this class lets the vendor (or, for responses, an unlogged client) read it."""
    leaked = suite.of(Outcome.LEAKED, category)
    assert not leaked, f"{len(leaked)} {category} cases leaked:\n{_listed(leaked)}"


def test_no_raw_secret_in_any_log(suite: Suite) -> None:
    """No file of the data dir, and neither stdout nor stderr, holds a secret in any spelling."""
    found = {Path(path).name: names for path, names in suite.log_hits.items()}
    assert not found, f"raw secrets in the proxy's logs: {found}"


def test_at_most_one_benign_control_is_blocked(suite: Suite) -> None:
    """Realistic traffic without PII gets through: at most one false block."""
    blocked = suite.of(Outcome.FALSE_BLOCK)
    assert len(blocked) <= 1, f"{len(blocked)} benign controls blocked:\n{_listed(blocked)}"


def test_nothing_hangs(suite: Suite) -> None:
    """Every case got an answer or a refusal within its deadline."""
    hung = suite.hangs()
    assert not hung, f"{len(hung)} cases hung:\n{_listed(hung)}"


def test_the_proxy_did_not_crash(suite: Suite) -> None:
    """mitmproxy never reported a crash and no traceback reached stderr."""
    assert not suite.crashes, f"the proxy's output shows: {', '.join(suite.crashes)}"
