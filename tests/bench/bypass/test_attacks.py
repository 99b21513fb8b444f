"""The attack catalog: every case carries a secret, and a gateway that changes nothing leaks it."""

from __future__ import annotations

import pytest

from bench.bypass.attacks import CATALOG, CATEGORIES
from bench.bypass.cases import BENIGN, Case, build
from bench.bypass.client import Answer
from bench.bypass.score import Outcome, score
from bench.bypass.seen import Seen
from tests.bench.bypass.support import transparent

CASES = build(CATALOG.specs, seed=14)
ISSUE_CLASSES = {
    "raw_tcp",
    "upgrades",
    "websocket",
    "trailers",
    "response",
    "names",
    "headers",
    "url",
    "json_quirks",
    "split_values",
    "weak_context",
    "images",
}


def test_every_class_of_the_issue_has_several_variants() -> None:
    """Each class the issue names is there with at least five cases, benign is not among them."""
    assert set(CATEGORIES) >= ISSUE_CLASSES
    assert BENIGN not in CATEGORIES
    for category in ISSUE_CLASSES:
        assert sum(c.category == category for c in CASES) >= 5, category


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_a_gateway_that_changes_nothing_leaks_every_case(case: Case) -> None:
    """Sent through untouched, every case's secret is recovered (the case can leak at all)."""
    assert case.secret is not None
    seen, answer = transparent(case)
    verdict = score(case, seen, answer, logged=False)
    assert verdict.outcome is Outcome.LEAKED, verdict


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.direction == "request"], ids=lambda c: c.name
)
def test_a_gateway_that_forwards_nothing_blocks_every_request_case(case: Case) -> None:
    """When nothing reaches the vendor and the client is refused, the case is blocked."""
    verdict = score(case, Seen(), Answer(403, body=b'{"error": "blocked_by_dlp_policy"}'))
    assert verdict.outcome is Outcome.BLOCKED


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.direction == "response"], ids=lambda c: c.name
)
def test_a_response_the_gateway_logged_is_logged_not_leaked(case: Case) -> None:
    """A response case whose secret reached the client with a finding logged is `logged`."""
    seen, answer = transparent(case)
    assert score(case, seen, answer, logged=True).outcome is Outcome.LOGGED


def test_the_undo_is_what_finds_the_encoded_cases() -> None:
    """Without its undo, a base64 or JWT case's secret is not in the raw record."""
    for name in ("basic_auth_password", "bearer_jwt_claim", "png_ztxt", "json_unicode_escapes"):
        case = next(c for c in CASES if c.name == name)
        seen, answer = transparent(case)
        stripped = Case(case.name, case.category, case.channel, case.exchange, case.secret)
        assert score(stripped, seen, answer).outcome is Outcome.CHANGED, name
        assert score(case, seen, answer).outcome is Outcome.LEAKED, name
