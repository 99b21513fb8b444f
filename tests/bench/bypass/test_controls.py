"""The benign controls: no secret, no number that could be one, and intact when untouched."""

from __future__ import annotations

import re

import pytest

from bench.bypass.cases import BENIGN, Case, build
from bench.bypass.client import Answer
from bench.bypass.controls import CATALOG, LOOKALIKES
from bench.bypass.pii import is_valid_ssn, luhn_valid
from bench.bypass.score import Outcome, score
from bench.bypass.seen import Seen
from tests.bench.bypass.support import sent_record, transparent

CONTROLS = build(CATALOG.specs, seed=14)


def test_there_are_at_least_twenty_four_realistic_controls() -> None:
    """At least 24 controls of their own (and their HTTP/2 ports), benign, distinct names."""
    assert len([c for c in CONTROLS if c.ported_from is None]) >= 24
    assert any(c.name.endswith("@h2") for c in CONTROLS)
    assert {c.category for c in CONTROLS} == {BENIGN}
    assert len({c.name for c in CONTROLS}) == len(CONTROLS)


@pytest.mark.parametrize("case", CONTROLS, ids=lambda c: c.name)
def test_a_control_carries_nothing_that_looks_like_a_secret(case: Case) -> None:
    """No secret, and no 9-digit run that is a valid SSN or 13-19 digit run that passes Luhn.

    Save the lookalikes a control declares (a nine-digit order number under order_id).
    """
    assert case.secret is None
    data = sent_record(case).received + case.script.reply
    allowed = LOOKALIKES.get(case.name.split("@")[0], ())
    for run in re.findall(rb"\d{9,19}", data):
        digits = run.decode()
        if digits in allowed:
            continue
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


def test_the_lookalikes_are_what_they_claim() -> None:
    """Each declared lookalike is secret-shaped (else it needs no leave) and in its control."""
    for name, numbers in LOOKALIKES.items():
        case = next(c for c in CONTROLS if c.name == name)
        for digits in numbers:
            assert is_valid_ssn(digits) or luhn_valid(digits), digits
            assert digits.encode() in sent_record(case).received, name
