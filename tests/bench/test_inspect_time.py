"""Tests for bench/inspect_time.py: timing `inspect()` on the benchmark payloads."""

from __future__ import annotations

import pytest

from bench.inspect_time import main, time_inspection
from bench.throughput import clean_ticket, transcript_ticket
from dlp_proxy.policy.loader import load_policy
from dlp_proxy.policy.model import Action
from tests.support import ScriptedDetector


def test_times_an_inspection_and_returns_its_decision() -> None:
    """The decision is the one inspection gives (here a scripted email finding is masked)."""
    policy = load_policy("policies/default.yaml")
    payload = transcript_ticket()
    seconds, decision = time_inspection(payload, policy, ScriptedDetector(), runs=3)
    assert seconds > 0
    assert decision.action is Action.REDACT
    _, clean = time_inspection(clean_ticket(), policy, ScriptedDetector(), runs=1)
    assert clean.action is Action.ALLOW


def test_main_rejects_an_unknown_option(capsys: pytest.CaptureFixture[str]) -> None:
    """Options are checked before the model loads."""
    with pytest.raises(SystemExit) as exit_info:
        main(["--no-such-option"])
    assert exit_info.value.code == 2
    assert "--no-such-option" in capsys.readouterr().err
