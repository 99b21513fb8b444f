"""The benign controls: no secret, no number that could be one, and intact when untouched."""

from __future__ import annotations

import re

import pytest

from bench.bypass.cases import BENIGN, Case, build
from bench.bypass.client import Answer
from bench.bypass.controls import CATALOG
from bench.bypass.pii import is_valid_ssn, luhn_valid
from bench.bypass.score import Outcome, score
from bench.bypass.seen import Seen
from tests.bench.bypass.support import sent_record, transparent

CONTROLS = build(CATALOG.specs, seed=14)


def test_there_are_at_least_fourteen_realistic_controls() -> None:
    """At least 14 controls, all benign, all with distinct names."""
    assert len(CONTROLS) >= 14
    assert {c.category for c in CONTROLS} == {BENIGN}
    assert len({c.name for c in CONTROLS}) == len(CONTROLS)


@pytest.mark.parametrize("case", CONTROLS, ids=lambda c: c.name)
def test_a_control_carries_nothing_that_looks_like_a_secret(case: Case) -> None:
    """No secret, and no 9-digit run that is a valid SSN or 13-19 digit run that passes Luhn."""
    assert case.secret is None
    data = sent_record(case).received + case.script.reply
    for run in re.findall(rb"\d{9,19}", data):
        digits = run.decode()
        assert not (len(digits) == 9 and is_valid_ssn(digits)), case.name
        assert not (len(digits) >= 13 and luhn_valid(digits)), case.name


@pytest.mark.parametrize("case", CONTROLS, ids=lambda c: c.name)
def test_a_control_through_a_gateway_that_changes_nothing_is_intact(case: Case) -> None:
    """What was sent arriving as sent, and the vendor's answer reaching the client: intact."""
    seen, answer = transparent(case)
    assert score(case, seen, answer).outcome is Outcome.INTACT


@pytest.mark.parametrize("case", CONTROLS, ids=lambda c: c.name)
def test_a_refused_control_is_a_false_block(case: Case) -> None:
    """Nothing at the vendor and a 403 at the client: a false block."""
    assert score(case, Seen(), Answer(403)).outcome is Outcome.FALSE_BLOCK
