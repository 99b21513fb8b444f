"""The report: rates, targets, tables and the JSON results, never a value."""

from __future__ import annotations

import json

from bench.report import TARGETS, Rate, Target, leak_records, render, summarise, to_json
from bench.score import BenignOutcome, LabelOutcome, Outcome


def outcome(
    case_id: str,
    labels: tuple[LabelOutcome, ...] = (),
    *,
    fmt: str = "json",
    delivered: bool = True,
    changed: bool | None = False,
    benign: tuple[BenignOutcome, ...] = (),
) -> Outcome:
    return Outcome(
        case_id=case_id,
        format=fmt,
        disguise="none",
        transport="http/1.1",
        encoding="gzip",
        clean=not labels,
        delivered=delivered,
        blocked=not delivered,
        status=200 if delivered else 403,
        changed=changed if delivered else None,
        labels=labels,
        benign=benign,
    )


OUTCOMES = [
    outcome(
        "c0000",
        (LabelOutcome("CREDIT_CARD", "dots", True), LabelOutcome("PERSON", "none", False)),
        benign=(BenignOutcome("SKU", True), BenignOutcome("AMOUNT", False)),
    ),
    outcome("c0001", (LabelOutcome("US_SSN", "none", False),), delivered=False),
    outcome("c0002", fmt="csv", changed=True, benign=(BenignOutcome("SKU", False),)),
    outcome("c0003", fmt="csv", delivered=False),
]


def test_rate_text_and_percent() -> None:
    """A rate prints as hits/total (percent) and is 0% when empty."""
    assert str(Rate(1, 8)) == "1/8 (12.5%)"
    assert Rate(0, 0).percent == 0.0


def test_targets() -> None:
    """Zero targets need no hit at all; percentage targets allow up to the limit."""
    assert Target("x", "x", 0.0).met(Rate(0, 10))
    assert not Target("x", "x", 0.0).met(Rate(1, 1000))
    assert Target("x", "x", 1.0).met(Rate(1, 100))
    assert not Target("x", "x", 1.0).met(Rate(2, 100))
    assert [t.text for t in TARGETS if t.key in ("US_SSN", "EMAIL_ADDRESS", "PERSON")] == [
        "0",
        "≤ 1%",
        "≤ 10%",
    ]


def test_summarise() -> None:
    """Leaks per entity, benign alterations over delivered values, clean blocked and changed."""
    summary = summarise(OUTCOMES)
    assert summary.rates["CREDIT_CARD"] == Rate(1, 1)
    assert summary.rates["US_SSN"] == Rate(0, 1)
    assert summary.rates["benign_altered"] == Rate(1, 3)
    assert summary.rates["clean_blocked"] == Rate(1, 2)
    assert summary.rates["clean_changed"] == Rate(1, 2)
    assert summary.by_format["json"]["blocked"] == Rate(1, 2)
    assert summary.by_format["json"]["cases_leaking"] == Rate(1, 2)
    assert summary.by_format["csv"]["clean_failed"] == Rate(2, 2)
    assert summary.by_disguise == {"dots": Rate(1, 1), "none": Rate(0, 2)}
    assert summary.by_encoding == {"gzip": Rate(1, 3)}


def test_render_prints_both_columns_and_verdicts() -> None:
    """The main table has a row per target with both runs and PASS/FAIL for dlp-proxy."""
    text = render(summarise(OUTCOMES), summarise(OUTCOMES[:1]), "heading")
    lines = text.splitlines()
    assert lines[0] == "heading"
    card = next(line for line in lines if line.startswith("| CREDIT_CARD leaked"))
    assert card == "| CREDIT_CARD leaked | 0 | 1/1 (100.0%) | 1/1 (100.0%) | FAIL |"
    ssn = next(line for line in lines if line.startswith("| US_SSN leaked"))
    assert ssn.endswith("| PASS |")
    assert "| csv | 0/0 (0.0%) | 0/0 (0.0%) | 0/0 (0.0%) | 2/2 (100.0%) | 0/1 (0.0%) |" in text
    assert "| dots | 1/1 (100.0%) |" in text


def test_render_without_baseline() -> None:
    """Skipping the baseline leaves its column as 'not run'."""
    assert "| not run |" in render(summarise(OUTCOMES), None, "h")


def test_json_lists_leaks_by_case_without_values() -> None:
    """The JSON results name each leak by case, format, disguise and entity only."""
    summary = summarise(OUTCOMES)
    data = to_json({"seed": 1}, (summary, OUTCOMES), None)
    assert leak_records(OUTCOMES) == [
        {
            "case": "c0000",
            "format": "json",
            "case_disguise": "none",
            "disguise": "dots",
            "transport": "http/1.1",
            "encoding": "gzip",
            "entity": "CREDIT_CARD",
        }
    ]
    run = data["runs"]["dlp_proxy"]
    assert [c["case"] for c in run["clean_failures"]] == ["c0002", "c0003"]
    assert data["targets"][0] == {
        "key": "CREDIT_CARD",
        "title": "CREDIT_CARD leaked",
        "target": "0",
        "dlp_proxy": "1/1 (100.0%)",
        "met": False,
    }
    json.dumps(data)
