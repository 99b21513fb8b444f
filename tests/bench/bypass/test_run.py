"""The runner without a proxy: the log scan, the report, the exit rule, the decision match."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.bypass.attacks import CATALOG as ATTACKS
from bench.bypass.cases import Case, build
from bench.bypass.client import Answer, Channel
from bench.bypass.controls import CATALOG as CONTROLS
from bench.bypass.pii import Kind, Secret
from bench.bypass.run import (
    CaseResult,
    Suite,
    _logged,
    exit_problems,
    log_hits,
    main,
    render,
    scrub,
    to_json,
)
from bench.bypass.score import Outcome, Verdict
from bench.bypass.seen import Seen

CASES = build([*ATTACKS, *CONTROLS], 14)


def result(
    case: Case, outcome: Outcome, how: str = "", hang: bool = False, port: int = 1
) -> CaseResult:
    """A hand-made result."""
    return CaseResult(case, Answer(200), Seen(), Verdict(outcome, how, hang), port, 0.1)


def suite(
    results: list[CaseResult],
    hits: dict[str, list[str]] | None = None,
    crashes: tuple[str, ...] = (),
) -> Suite:
    """A hand-made run."""
    return Suite(14, tuple(results), hits or {}, crashes, 1.0, {"policy": "p.yaml"})


def named(name: str) -> Case:
    """The case called `name`."""
    return next(c for c in CASES if c.name == name)


def test_the_log_scan_finds_every_spelling_and_only_whole_numbers(tmp_path: Path) -> None:
    """Digits, dashed, spaced, dotted; a longer number that contains the digits is no hit."""
    case = named("json_key")
    assert case.secret is not None
    s = case.secret
    files = []
    for i, text in enumerate(
        [s.digits, s.dashed, s.spaced, s.dotted, "1" + s.digits + "1", "clean"]
    ):
        path = tmp_path / f"f{i}.log"
        path.write_text(f"line {text} end\n")
        files.append(path)
    hits = log_hits(files, CASES)
    assert sorted(hits) == [str(f) for f in files[:4]]
    assert all(names == ["json_key"] for names in hits.values())
    card = named("bearer_jwt_alg_none").secret
    assert card is not None
    (tmp_path / "c.db").write_bytes(b"\x00" + card.dashed.encode() + b"\x00")
    assert log_hits([tmp_path / "c.db"], CASES) == {str(tmp_path / "c.db"): ["bearer_jwt_alg_none"]}


def test_scrub_removes_the_secret_and_long_numbers_not_status_codes() -> None:
    """No spelling of the secret and no run of five digits survive; a 403 does."""
    s = Secret(Kind.SSN, "219099999")
    assert scrub("header X-219-09-9999 (status 403)", s) == "header X-<secret> (status 403)"
    assert scrub("port 41234 and 219099999") == "port ##### and #####"


def test_the_exit_rule() -> None:
    """Passes with nothing wrong and one false block; each other problem fails it."""
    clean = [
        result(named("json_key"), Outcome.BLOCKED),
        result(named("benign_xml"), Outcome.FALSE_BLOCK),
    ]
    assert exit_problems(suite(clean)) == []
    two = [*clean, result(named("benign_jpeg"), Outcome.FALSE_BLOCK)]
    assert exit_problems(suite(two)) == ["2 benign controls were blocked (at most 1 allowed)"]
    assert exit_problems(suite([result(named("json_key"), Outcome.LEAKED)])) == ["1 cases leaked"]
    assert exit_problems(suite([result(named("trailer_ssn"), Outcome.HANG, hang=True)])) == [
        "1 cases hung"
    ]
    assert exit_problems(suite(clean, hits={"d.jsonl": ["json_key"]})) == [
        "raw secrets in 1 log files"
    ]
    assert exit_problems(suite(clean, crashes=("Traceback",))) == ["the proxy crashed: Traceback"]


def test_the_table_and_the_report_never_hold_a_secret() -> None:
    """Every leaked case is listed with how; the secrets appear nowhere in the output."""
    results = []
    for case in CASES:
        how = f"vendor read it in header X-{case.secret.digits}" if case.secret else ""
        outcome = Outcome.LEAKED if case.secret else Outcome.INTACT
        results.append(result(case, outcome, how))
    run = suite(results)
    text, report = render(run), json.dumps(to_json(run))
    assert "Leaked (" in text
    assert "json_key" in text
    for case in CASES:
        if case.secret:
            for spelling in case.secret.spellings():
                assert spelling not in text
                assert spelling not in report
    assert to_json(run)["summary"]["names"]["leaked"] == str(
        sum(c.category == "names" for c in CASES)
    )


def test_a_response_is_logged_only_by_a_decision_with_a_finding_for_its_flow() -> None:
    """Direction response, the vendor's port (and, reverse, the path) and some entity count."""
    case = named("response_json")
    r = result(case, Outcome.LEAKED, port=4321)
    line = {
        "direction": "response",
        "port": 4321,
        "path": "/v1/customers/C-1042/profile",
        "entities": {"US_SSN": 1},
    }
    assert _logged(r, [line])
    assert not _logged(r, [{**line, "entities": {}}])
    assert not _logged(r, [{**line, "port": 1234}])
    assert not _logged(r, [{**line, "direction": "request"}])
    reverse = result(named("response_reverse"), Outcome.LEAKED, port=4321)
    assert reverse.case.channel is Channel.REVERSE
    assert not _logged(reverse, [line])
    assert _logged(reverse, [{**line, "path": "/v1/customers/C-1042/billing"}])


def test_a_proxy_that_cannot_start_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A policy file that does not exist: status 2, and the reason on stderr."""
    status = main(
        [
            "--policy",
            str(tmp_path / "missing.yaml"),
            "--workdir",
            str(tmp_path),
            "--confdir",
            str(tmp_path / "conf"),
            "--only",
            "json_key",
        ]
    )
    assert status == 2
    assert "the suite could not run" in capsys.readouterr().err


def test_the_log_scan_reads_numbers_whole_in_long_runs(tmp_path: Path) -> None:
    """A secret inside a run of numbers is found at its edges only; one pass finds them all."""
    s = named("json_key").secret
    card = named("bearer_jwt_alg_none").secret
    assert s is not None
    assert card is not None
    path = tmp_path / "d.jsonl"
    path.write_bytes(f"1 2 3 {s.dashed} 45.6 - {card.spaced}-0".encode())
    assert log_hits([path], CASES) == {str(path): ["json_key", "bearer_jwt_alg_none"]}
    path.write_bytes(f"{s.dashed}1 9{card.digits}".encode())
    assert log_hits([path], CASES) == {}


def test_a_plain_run_fails_on_an_attack_that_cannot_leak() -> None:
    """Through plain mitmdump an attack must leak unless mitmproxy itself stops it."""
    plain = {"policy": "p.yaml", "gateway": "plain mitmdump"}
    leaked = result(named("json_key"), Outcome.LEAKED)
    intact = result(named("benign_xml"), Outcome.INTACT)
    stopped_by_mitmproxy = result(named("userinfo"), Outcome.BLOCKED)
    run = Suite(14, (leaked, intact, stopped_by_mitmproxy), {}, ("Traceback",), 1.0, plain)
    assert exit_problems(run) == []
    assert "Kept from the vendor by mitmproxy itself (1)" in render(run)
    assert "userinfo" in render(run)
    cannot = result(named("bare_query"), Outcome.BLOCKED)
    spoiled = result(named("benign_jpeg"), Outcome.FALSE_CHANGE)
    run = Suite(14, (leaked, cannot, spoiled), {}, (), 1.0, plain)
    assert exit_problems(run) == [
        "1 attacks did not leak through plain mitmproxy",
        "1 benign controls did not pass plain mitmproxy intact",
    ]


def test_the_channel_table_counts_ports_by_the_channel_they_ran_on() -> None:
    """One row per channel used: attacks and their outcomes, controls and theirs."""
    results = [
        result(named("json_key"), Outcome.LEAKED),
        result(named("json_key@h2"), Outcome.BLOCKED),
        result(named("benign_xml@h2"), Outcome.FALSE_BLOCK),
    ]
    text = render(suite(results))
    rows = {line.split()[0]: line.split()[1:] for line in text.splitlines() if line}
    assert rows["http"] == ["1", "1", "0", "0", "0", "0", "0", "0", "0"]
    assert rows["h2"] == ["1", "0", "1", "0", "0", "1", "1", "0", "0"]
    assert to_json(suite(results))["by_channel"]["h2"]["false blocks"] == "1"
