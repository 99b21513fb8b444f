"""Tests for dlp_proxy/errors.py: one exception tree, readable problems."""

from __future__ import annotations

import pytest

from dlp_proxy import errors
from dlp_proxy.errors import PolicyError, PolicyProblem


@pytest.mark.parametrize("name", [n for n in errors.__all__ if n != "PolicyProblem"])
def test_every_error_is_a_dlp_error(name: str) -> None:
    """Everything dlp-proxy raises on purpose can be caught as DlpError."""
    assert issubclass(getattr(errors, name), errors.DlpError)


@pytest.mark.parametrize(
    ("cls", "reason"),
    [
        (errors.BodyTooLarge, "body_too_large"),
        (errors.UndecodableBody, "undecodable_body"),
        (errors.AnalyzerFailure, "analyzer_failure"),
    ],
)
def test_inspection_errors_have_stable_reasons(
    cls: type[errors.InspectionError], reason: str
) -> None:
    """Each inspection failure has a reason code logged with the decision."""
    assert issubclass(cls, errors.InspectionError)
    assert cls.reason == reason


def test_policy_problem_reads_file_line_field_message() -> None:
    """A problem prints as `file:line: field message`, without empty parts."""
    assert str(PolicyProblem("p.yaml", 14, "rules[2].action", "is wrong")) == (
        "p.yaml:14: rules[2].action is wrong"
    )
    assert str(PolicyProblem("p.yaml", None, "", "cannot read")) == "p.yaml: cannot read"


def test_policy_error_lists_every_problem() -> None:
    """A PolicyError's message has one line per problem."""
    error = PolicyError(
        [PolicyProblem("p.yaml", 1, "a", "x"), PolicyProblem("p.yaml", 2, "b", "y")]
    )
    assert str(error) == "p.yaml:1: a x\np.yaml:2: b y"
    assert len(error.problems) == 2
