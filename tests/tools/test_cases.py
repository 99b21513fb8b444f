"""Tests for dlp_proxy/tools/cases.py: loading policy test files, observing, comparing, reports."""

from __future__ import annotations

import gzip
import json
import textwrap
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from dlp_proxy.crypto.keys import DataKey, Keyring
from dlp_proxy.policy.loader import load_policy
from dlp_proxy.policy.model import Action, Direction, Severity
from dlp_proxy.tools import cases as cases_module
from dlp_proxy.tools.cases import (
    CaseError,
    Expectation,
    Observed,
    Report,
    Status,
    Suite,
    body_diff,
    collect,
    compare,
    discover,
    find_test_files,
    load_test_file,
    message_for,
    observe_cases,
    render_text,
    run_cases,
    throwaway_keyring,
)
from tests.support import ScriptedDetector

KEYRING = Keyring(keys=(DataKey(id="ktest", created="x", state="active", secret=b"\x07" * 32),))

POLICY = """\
version: 1
name: unit
mode: {mode}
vendors:
  - id: acme
    hosts: ["*.acme.example"]
rules:
  - id: block-ssn
    entities: [US_SSN]
    action: block
  - id: mask-emails
    entities: [EMAIL_ADDRESS]
    action: redact
    redact: {{operator: mask, keep: 4}}
  - id: replace-names
    entities: [PERSON]
    direction: both
    action: redact
"""

PASSING = """\
policy: ../policy.yaml
cases:
  - name: an email is masked
    request:
      url: https://api.acme.example/tickets
      json: {email: maria@example.com, topic: billing}
    expect:
      action: redact
      rules: [mask-emails]
      entities: {EMAIL_ADDRESS: 1}
      body: '{"email":"*****@******e.com","topic":"billing"}'
  - name: an SSN is blocked
    request:
      url: https://api.acme.example/tickets
      body: "SSN 219-09-9999"
    expect:
      action: block
      blocked_by: block-ssn
"""


def write(path: Path, text: str) -> Path:
    """Write `text` (dedented) to `path`, creating directories, and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A directory with policy.yaml and an empty tests/ beside it."""
    write(tmp_path / "policy.yaml", POLICY.format(mode="enforce"))
    (tmp_path / "tests").mkdir()
    return tmp_path


def run(project: Path, text: str, **kwargs: Any) -> Report:
    """Write `text` as tests/unit_test.yaml and run it with the scripted detector."""
    write(project / "tests" / "unit_test.yaml", text)
    suite = collect([project / "tests"], **kwargs)
    return run_cases(suite, detector=ScriptedDetector(), keyring=KEYRING)


def case_text(expect: str, request: str = "json: {email: maria@example.com}") -> str:
    """A one-case test file posting `request` to ACME with the `expect` mapping given."""
    return (
        "policy: ../policy.yaml\ncases:\n  - name: the case\n    request:\n"
        "      url: https://api.acme.example/tickets?ref=1\n"
        f"      {request}\n    expect:\n"
        + textwrap.indent(textwrap.dedent(expect).strip(), "      ")
        + "\n"
    )


def problems(project: Path, text: str) -> str:
    """The CaseError message for `text` as a test file."""
    path = write(project / "tests" / "bad_test.yaml", text)
    with pytest.raises(CaseError) as e:
        load_test_file(path)
    return str(e.value)


def observed(**changes: Any) -> Observed:
    """An observation of a redacted request, with `changes`."""
    base = Observed(
        action=Action.REDACT,
        outcome="redacted",
        rules=("mask-emails",),
        blocked_by=None,
        entities=(("EMAIL_ADDRESS", 1),),
        severity=Severity.MEDIUM,
        shadow_action=Action.ALLOW,
        shadow_rules=(),
        shadow_outcome=None,
        shadow_severity=None,
        allowed_by=(),
        error=None,
        body=b'{"email":"*****@******e.com"}',
        url="/tickets?ref=1",
        headers=(("Content-Type", "application/json"),),
    )
    return replace(base, **changes)


def expectation(project: Path, expect: str) -> Expectation:
    """The expectation loaded from a one-case file with `expect`."""
    path = write(project / "tests" / "one_test.yaml", case_text(expect))
    return load_test_file(path).cases[0].expect


# --- loading ---------------------------------------------------------------------------------


def test_load_reads_cases_and_fills_defaults(project: Path) -> None:
    """A test file loads into cases: policy path resolved, method defaulted, JSON typed."""
    write(project / "tests" / "fixtures" / "rows.csv", "name\nMaria Gonzalez\n")
    path = write(
        project / "tests" / "unit_test.yaml",
        """\
        policy: ../policy.yaml
        cases:
          - name: json
            request: {url: "https://api.acme.example/t", json: {a: 1}}
            expect: {action: allow}
          - name: file
            request:
              url: https://api.acme.example/t
              method: put
              headers: {Content-Type: text/csv}
              body_file: fixtures/rows.csv
            expect: {action: redact}
          - name: no body
            request: {url: "https://api.acme.example/t"}
            expect: {action: allow}
        """,
    )
    loaded = load_test_file(path)
    assert loaded.policy == str(project / "policy.yaml")
    first, second, third = loaded.cases
    assert (first.request.method, first.request.body) == ("POST", b'{"a": 1}')
    assert first.request.header("content-type") == "application/json"
    assert (second.request.method, second.request.body) == ("PUT", b"name\nMaria Gonzalez\n")
    assert third.request.method == "GET"
    assert (first.line, second.line, third.line) == (3, 6, 13)
    assert first.direction is Direction.REQUEST


def test_loader_reports_every_problem_with_file_and_line(project: Path) -> None:
    """All problems are reported at once, each as file:line: field and what is wrong."""
    text = """\
    policy: ../policy.yaml
    cases:
      - name: one
        request: {url: "https://api.acme.example/t", body: x}
        expct: {action: block}
      - name: one
        request: {url: "ftp://nowhere", method: FETCH}
        expect: {action: mask}
      - name: three
        request: {url: "https://api.acme.example/t", body_file: missing.csv}
        expect: {action: allow}
    """
    message = problems(project, text)
    file = project / "tests" / "bad_test.yaml"
    expected = [
        f"{file}:5: cases[0].expct is not a known key here; did you mean 'expect'?",
        f"{file}:3: cases[0] needs `expect`",
        f"{file}:7: cases[1].request.url must be an absolute URL",
        f"{file}:7: cases[1].request.method 'FETCH' is not an HTTP method",
        f"{file}:8: cases[1].expect.action must be one of allow|redact|encrypt|block (got 'mask')",
        f"{file}:10: cases[2].request.body_file cannot read 'missing.csv'",
        f"{file}:6: cases[1].name 'one' is already the name of cases[0]",
    ]
    for line in expected:
        assert line in message
    assert len(message.splitlines()) == len(expected)


def test_loader_suggests_the_expectation_key_meant(project: Path) -> None:
    """A misspelt expectation key is an error naming the key it probably is."""
    message = problems(project, case_text("bodycontains: [x]"))
    hint = "cases[0].expect.bodycontains is not a known key here; did you mean 'body_contains'?"
    assert hint in message


def test_loader_reports_yaml_syntax_errors_with_their_line(project: Path) -> None:
    """A file that is not YAML is reported with the line the parser stopped at."""
    message = problems(project, "policy: ../policy.yaml\ncases:\n  - name: [unclosed\n")
    assert f"{project / 'tests' / 'bad_test.yaml'}:4: is not valid YAML" in message


def test_loader_refuses_a_policy_that_is_not_there(project: Path) -> None:
    """The policy path is checked, relative to the test file."""
    text = case_text("action: allow").replace("../policy.yaml", "policy.yaml")
    message = problems(project, text)
    assert ":1: policy names 'policy.yaml', which is not a file" in message
    assert "relative to this test file" in message


def test_a_response_case_needs_a_request_url(project: Path) -> None:
    """A response without the request it answers has no host to route by."""
    text = """\
    policy: ../policy.yaml
    cases:
      - name: response only
        response: {status: 200, body: hello}
        expect: {action: allow}
    """
    assert "cases[0] needs `request` with the `url` the response answers" in problems(project, text)


@pytest.mark.parametrize(
    ("expect", "message"),
    [
        ("action: block\nbody: x", "expect.body a blocked message reaches nobody"),
        ("outcome: blocked\nbody_contains: [x]", "expect.body_contains a blocked message"),
        ("action: block\nurl: /t", "expect.url a blocked message reaches nobody"),
        ("action: redact\noutcome: blocked", "'blocked' cannot be the outcome of redact"),
        ("entities: {}", "expect.entities must map entity types to exact counts"),
        ("entities: {US_SSN: -1}", "expect.entities.US_SSN must be a count >= 0"),
        ("severity: severe", "must be one of low|medium|high|critical|none"),
        ("body: x\njson: {a: 1}", "give `body` (exact) or `json` (as JSON), not both"),
        ("shadow: {outcome: would_mask}", "expect.shadow.outcome must be one of would_redact"),
        ("shadow: {rule: [x]}", "shadow.rule is not a known key here; did you mean 'rules'?"),
        ("{}", "expect must be a mapping with at least one of"),
    ],
)
def test_loader_refuses_expectations_that_cannot_hold(
    project: Path, expect: str, message: str
) -> None:
    """Contradictory or malformed expectations are file errors, not failing cases."""
    assert message in problems(project, case_text(expect))


def test_a_blocked_body_may_be_checked_in_monitor_mode(project: Path) -> None:
    """`outcome: would_block` with a body expectation is valid: monitor mode forwards it."""
    loaded = load_test_file(
        write(
            project / "tests" / "ok_test.yaml",
            case_text("action: block\noutcome: would_block\nbody: x"),
        )
    )
    assert loaded.cases[0].expect.body == "x"


def test_loader_refuses_two_bodies_for_one_message(project: Path) -> None:
    """`body`, `json`, `body_file` and `body_base64` are alternatives."""
    text = case_text("action: allow", request="json: {a: 1}\n      body: x")
    assert "cases[0].request.json give one of body, json, not several" in problems(project, text)


# --- building the message --------------------------------------------------------------------


def test_message_for_splits_the_url_and_reads_the_headers(project: Path) -> None:
    """Host (lower case), path, query pairs (decoded, blanks kept), content type, headers."""
    path = write(
        project / "tests" / "m_test.yaml",
        """\
        policy: ../policy.yaml
        cases:
          - name: m
            request:
              method: PATCH
              url: https://API.Acme.example/v2/tickets/7?email=a%40b.example&empty=&x=1#frag
              headers: {Content-Type: text/plain, X-Trace: 7}
              body: hello
            expect: {action: allow}
        """,
    )
    message = message_for(load_test_file(path).cases[0])
    assert (message.direction, message.method) == (Direction.REQUEST, "PATCH")
    assert (message.host, message.path) == ("api.acme.example", "/v2/tickets/7")
    assert message.query == (("email", "a@b.example"), ("empty", ""), ("x", "1"))
    assert (message.content_type, message.body) == ("text/plain", b"hello")
    assert message.headers == (("Content-Type", "text/plain"), ("X-Trace", "7"))


def test_message_for_a_response_takes_the_response_part(project: Path) -> None:
    """A response case is a response message: its headers and body, no query."""
    path = write(
        project / "tests" / "r_test.yaml",
        """\
        policy: ../policy.yaml
        cases:
          - name: r
            request: {method: GET, url: "https://api.acme.example/t/7?x=1"}
            response: {status: 200, json: {name: Maria Gonzalez}}
            expect: {action: redact}
        """,
    )
    case = load_test_file(path).cases[0]
    message = message_for(case)
    assert case.direction is Direction.RESPONSE
    assert (message.direction, message.method, message.path) == (Direction.RESPONSE, "GET", "/t/7")
    assert message.query == ()
    assert message.content_type == "application/json"
    assert message.body == b'{"name": "Maria Gonzalez"}'


def test_message_for_applies_the_declared_content_encoding(project: Path) -> None:
    """The body is given as content and sent gzip-compressed; an unknown coding as given."""
    text = case_text("action: allow", request="headers: {Content-Encoding: gzip}\n      body: hi")
    gzipped = load_test_file(write(project / "tests" / "g_test.yaml", text)).cases[0]
    assert gzip.decompress(message_for(gzipped).body) == b"hi"
    unknown = text.replace("gzip", "compress")
    odd = load_test_file(write(project / "tests" / "g_test.yaml", unknown)).cases[0]
    assert message_for(odd).body == b"hi"


# --- expectations, each passing and failing ----------------------------------------------------


@pytest.mark.parametrize(
    ("expect", "changes", "failure"),
    [
        ("action: redact", {}, None),
        ("action: block", {}, "action: expected block, got redact"),
        ("outcome: redacted", {}, None),
        ("outcome: would_redact", {}, "outcome: expected would_redact, got redacted"),
        ("rules: [mask-emails]", {}, None),
        (
            "rules: [mask-emails, block-ssn]",
            {},
            "rules: expected [block-ssn, mask-emails], got [mask-emails]",
        ),
        (
            "rules: [mask-email]",
            {},
            "(the policy has no rule 'mask-email'; did you mean 'mask-emails'?)",
        ),
        ("blocked_by: on_error", {"blocked_by": "on_error", "body": None}, None),
        ("blocked_by: block-ssn", {}, "expected block-ssn, got nothing (the message was not"),
        ("entities: {EMAIL_ADDRESS: 1, US_SSN: 0}", {}, None),
        ("entities: {EMAIL_ADDRESS: 2}", {}, "entities.EMAIL_ADDRESS: expected 2, got 1"),
        ("entities: {EMAIL: 1}", {}, "'EMAIL' is not an entity type; did you mean 'EMAIL_ADDRESS'"),
        ("severity: medium", {}, None),
        ("severity: high", {}, "severity: expected high, got medium"),
        ("severity: none", {"severity": None}, None),
        ("error: undecodable_body", {"error": "undecodable_body: bad JSON"}, None),
        ("error: body_too_large", {}, "error: expected an error containing 'body_too_large'"),
        ('body: \'{"email":"*****@******e.com"}\'', {}, None),
        ('body: \'{"email": "*****@******e.com"}\'', {}, "body: expected"),
        ('json: {email: "*****@******e.com"}', {}, None),
        ("json: {email: x}", {}, 'json: expected \'{"email": "x"}\''),
        ("json: {email: x}", {"body": b"plain"}, "json: expected a JSON body, got 'plain'"),
        ("body_contains: ['e.com']", {}, None),
        ("body_contains: [maria]", {}, "body_contains: expected the body to contain 'maria'"),
        ("body_excludes: [maria]", {}, None),
        ("body_excludes: ['e.com']", {}, "body_excludes: expected the body not to contain"),
        ("url: /tickets?ref=1", {}, None),
        ("url: /tickets?ref=2", {}, "url: expected /tickets?ref=2, got /tickets?ref=1"),
        ("headers: {content-type: application/json}", {}, None),
        ("headers: {X-Email: x}", {}, "headers: expected X-Email: 'x', got X-Email: (absent)"),
        (
            "shadow: {action: block, rules: [block-ssn], outcome: would_block, severity: high}",
            {
                "shadow_action": Action.BLOCK,
                "shadow_rules": ("block-ssn",),
                "shadow_outcome": "would_block",
                "shadow_severity": Severity.HIGH,
            },
            None,
        ),
        ("shadow: {outcome: none}", {}, None),
        ("shadow: {outcome: would_block}", {}, "shadow.outcome: expected would_block, got none"),
        ("shadow: {rules: [block-ssn]}", {}, "shadow.rules: expected [block-ssn], got []"),
        ("allowed_by: [test-cards]", {"allowed_by": ("test-cards",)}, None),
        ("allowed_by: [test-cards]", {}, "allowed_by: expected [test-cards], got []"),
    ],
)
def test_each_expectation_passes_or_fails_with_what_differs(
    project: Path, expect: str, changes: dict[str, Any], failure: str | None
) -> None:
    """Every expectation kind is checked against the observation, naming what differs."""
    policy = load_policy(project / "policy.yaml")
    mismatches = compare(expectation(project, expect), observed(**changes), policy)
    if failure is None:
        assert mismatches == ()
    else:
        assert len(mismatches) == 1
        assert failure in str(mismatches[0])
        assert mismatches[0].line == 8  # the line of the expectation's key


def test_body_expectations_on_a_blocked_message_say_it_was_blocked(project: Path) -> None:
    """When the message was blocked, each body expectation fails naming the blocking rule."""
    expect = expectation(project, "json: {a: 1}\nbody_contains: [x]")
    got = observed(action=Action.BLOCK, blocked_by="block-ssn", body=None, url=None)
    assert [str(m) for m in compare(expect, got)] == [
        "json: expected a body, got nothing: the message was blocked (block-ssn)",
        "body_contains: expected a body, got nothing: the message was blocked (block-ssn)",
    ]


# --- diffs -----------------------------------------------------------------------------------


def test_body_diff_of_json_is_pretty_printed() -> None:
    """Two JSON bodies are diffed one key per line, so the changed value stands out."""
    diff = body_diff('{"a": 1, "b": "x"}', '{"a":1,"b":"y"}')
    assert diff.splitlines() == [
        "--- expected",
        "+++ received",
        "@@ -1,4 +1,4 @@",
        " {",
        '   "a": 1,',
        '-  "b": "x"',
        '+  "b": "y"',
        " }",
    ]


def test_body_diff_of_text_is_line_by_line() -> None:
    """Text bodies are diffed as they are; a missing final newline is marked."""
    diff = body_diff("one\ntwo\n", "one\n2")
    assert "-two\n" in diff
    assert "+2\n\\ no newline\n" in diff


def test_body_diff_of_equal_json_in_different_bytes_shows_the_bytes() -> None:
    """Same JSON, different spacing: the diff shows the raw bodies, not an empty diff."""
    diff = body_diff('{"a": 1}', '{"a":1}')
    assert '-{"a": 1}' in diff
    assert '+{"a":1}' in diff


# --- running ---------------------------------------------------------------------------------


def test_run_cases_passes_cases_that_hold(project: Path) -> None:
    """A redacted body is what the vendor receives; a block is checked by its rule."""
    report = run(project, PASSING)
    assert [(r.case.name, r.status) for r in report.results] == [
        ("an email is masked", Status.PASS),
        ("an SSN is blocked", Status.PASS),
    ]
    assert report.ok
    assert report.results[1].observed is not None
    assert report.results[1].observed.body is None


def test_run_cases_reports_failures_with_each_mismatch(project: Path) -> None:
    """A failing case lists every mismatch with its line, and the report is not ok."""
    text = PASSING.replace("action: redact", "action: encrypt").replace("'{\"email", "'{\"mail")
    report = run(project, text)
    failed = report.results[0]
    assert failed.status is Status.FAIL
    assert [(m.field, m.line) for m in failed.mismatches] == [("action", 8), ("body", 11)]
    assert not report.ok


def test_an_unchanged_message_is_received_byte_for_byte(project: Path) -> None:
    """When nothing fires, the received body is the original, spacing and all."""
    body = '\'{ "topic" :  "billing" }\''
    text = case_text(
        f"action: allow\nbody: {body}",
        request=f"headers: {{Content-Type: application/json}}\n      body: {body}",
    )
    assert run(project, text).ok


def test_monitor_mode_receives_the_original_body(project: Path) -> None:
    """In monitor mode a would-be redaction changes nothing the vendor receives."""
    write(project / "policy.yaml", POLICY.format(mode="monitor"))
    text = case_text(
        "action: redact\noutcome: would_redact\njson: {email: maria@example.com}",
    )
    report = run(project, text)
    assert report.ok, render_text(report)


def test_a_gzip_body_is_compared_decompressed(project: Path) -> None:
    """The received body is compared with its Content-Encoding undone."""
    text = case_text(
        "json: {email: '*****@******e.com'}",
        request="headers: {Content-Encoding: gzip}\n      json: {email: maria@example.com}",
    )
    assert run(project, text).ok


def test_a_response_case_checks_what_the_client_receives(project: Path) -> None:
    """A response is inspected as a response: response rules apply to its body."""
    text = """\
    policy: ../policy.yaml
    cases:
      - name: response
        request: {method: GET, url: "https://api.acme.example/t/7"}
        response: {json: {name: Maria Gonzalez, email: maria@example.com}}
        expect:
          rules: [replace-names]
          json: {name: "<PERSON>", email: maria@example.com}
    """
    assert run(project, text).ok


def test_run_filter_keeps_matching_cases(project: Path) -> None:
    """`run` is a regular expression searched in case names."""
    report = run(project, PASSING, run="SSN")
    assert [r.case.name for r in report.results] == ["an SSN is blocked"]


def test_no_case_ran_is_not_ok(project: Path) -> None:
    """A filter that matches nothing leaves no results, which is a failure, as in `opa test`."""
    report = run(project, PASSING, run="no such case")
    assert (report.results, report.ok) == ((), False)
    assert "no test cases ran" in render_text(report)
    assert not Report().ok


def test_each_policy_is_loaded_once_per_run(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two test files naming the same policy load it once."""
    calls: list[str] = []

    def counting(path: str) -> Any:
        calls.append(path)
        return load_policy(path)

    monkeypatch.setattr(cases_module, "load_policy", counting)
    write(project / "tests" / "a_test.yaml", PASSING)
    write(project / "tests" / "b_test.yaml", PASSING)
    report = run_cases(collect([project]), detector=ScriptedDetector(), keyring=KEYRING)
    assert len(report.results) == 4
    assert calls == [str(project / "policy.yaml")]


def test_an_invalid_policy_is_an_error_of_its_test_file(project: Path) -> None:
    """A broken policy fails its test file with the policy's own file:line problems."""
    broken = POLICY.format(mode="enforce").replace("action: block", "action: x")
    write(project / "policy.yaml", broken)
    report = run(project, PASSING)
    assert report.results == ()
    [error] = report.errors
    assert error.file == str(project / "tests" / "unit_test.yaml")
    assert f"{project / 'policy.yaml'}:10" in error.message
    assert "rules[0].action must be one of allow|redact|encrypt|block (got 'x')" in error.message
    assert not report.ok


def test_a_test_file_that_does_not_load_is_reported_and_the_rest_run(project: Path) -> None:
    """One broken test file is an error; the cases of the others still run."""
    write(project / "tests" / "broken_test.yaml", "policy: ../policy.yaml\ncases: []\n")
    report = run(project, PASSING)
    assert len(report.results) == 2
    [error] = report.errors
    assert "broken_test.yaml:2: cases needs `cases`, a non-empty list" in error.message
    assert "ERROR: 1 test file(s) could not be used" in render_text(report)


def test_a_case_that_crashes_is_an_error_and_the_run_goes_on(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception while observing one case makes that case ERROR, not the run."""

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(cases_module, "inspect", broken)
    report = run(project, PASSING)
    assert [r.status for r in report.results] == [Status.ERROR, Status.ERROR]
    assert report.results[0].error == "RuntimeError: boom"


def test_observe_cases_returns_facts_without_a_verdict(project: Path) -> None:
    """The observations a policy diff needs: action, rules, entities and received body."""
    cases = load_test_file(write(project / "tests" / "o_test.yaml", PASSING)).cases
    policy = load_policy(project / "policy.yaml")
    masked, blocked = observe_cases(cases, policy, detector=ScriptedDetector(), keyring=KEYRING)
    assert (masked.action, masked.rules, masked.entities) == (
        Action.REDACT,
        ("mask-emails",),
        (("EMAIL_ADDRESS", 1),),
    )
    assert masked.body == b'{"email":"*****@******e.com","topic":"billing"}'
    assert (blocked.action, blocked.blocked_by, blocked.body, blocked.url) == (
        Action.BLOCK,
        "block-ssn",
        None,
        None,
    )


# --- finding test files ------------------------------------------------------------------------


def test_discover_searches_directories_for_test_files(project: Path) -> None:
    """Directories are searched recursively for *_test.yaml/yml; other YAML is ignored."""
    a = write(project / "tests" / "a_test.yaml", PASSING)
    b = write(project / "tests" / "deep" / "b_test.yml", PASSING)
    write(project / "tests" / "fixtures.yaml", "x: 1\n")
    found, errors = discover([project / "tests", a, project / "nope"])
    assert found == [a, b]
    assert [(e.file, e.message) for e in errors] == [
        (str(project / "nope"), "no such file or directory")
    ]


def test_find_test_files_finds_the_files_that_name_a_policy(project: Path) -> None:
    """The test files beside a policy and in tests/ that name it, and no others."""
    mine = write(project / "tests" / "mine_test.yaml", PASSING)
    write(project / "tests" / "other_test.yaml", PASSING.replace("policy.yaml", "other.yaml"))
    beside = write(project / "beside_test.yaml", PASSING.replace("../policy.yaml", "policy.yaml"))
    assert sorted(find_test_files(project / "policy.yaml")) == sorted([beside, mine])


# --- reporting -------------------------------------------------------------------------------


def test_text_output_shows_failures_with_diffs_and_a_summary(project: Path) -> None:
    """Text output lists failing cases with file:line, each mismatch and a body diff."""
    report = run(project, PASSING.replace("*****@", "xxxxx@"))
    text = render_text(report)
    file = project / "tests" / "unit_test.yaml"
    assert f"{file}:\n  FAIL  an email is masked" in text
    assert f"at {file}:3" in text
    assert "line 11: body: the received body differs from the expected one" in text
    assert '-  "email": "xxxxx@******e.com",' in text
    assert '+  "email": "*****@******e.com",' in text
    assert "an SSN is blocked" not in text
    assert text.endswith("PASS: 1/2\nFAIL: 1/2\n")


def test_verbose_text_output_shows_passing_cases_and_what_was_seen(project: Path) -> None:
    """With verbose, passing cases are listed with the observed action and body."""
    text = render_text(run(project, PASSING), verbose=True)
    assert "  PASS  an email is masked" in text
    assert "got: action=redact outcome=redacted rules=['mask-emails']" in text
    assert 'body received: \'{"email":"*****@******e.com","topic":"billing"}\'' in text


def test_json_output_has_a_summary_results_and_observations(project: Path) -> None:
    """The JSON report carries counts, per-case status, mismatches and observations."""
    report = run(project, PASSING.replace("action: block", "action: allow\n      rules: []"))
    data = json.loads(json.dumps(report.as_json()))
    assert {k: data["summary"][k] for k in ("total", "pass", "fail", "error")} == {
        "total": 2,
        "pass": 1,
        "fail": 1,
        "error": 0,
    }
    failed = data["results"][1]
    assert (failed["name"], failed["status"], failed["line"]) == ("an SSN is blocked", "FAIL", 12)
    assert failed["mismatches"][0] == {
        "field": "action",
        "line": 17,
        "expected": "allow",
        "got": "block",
    }
    assert failed["observed"]["blocked_by"] == "block-ssn"
    assert failed["observed"]["body"] is None
    assert data["results"][0]["observed"]["entities"] == {"EMAIL_ADDRESS": 1}


def test_throwaway_keyring_has_an_active_key() -> None:
    """The default keyring is fresh and usable, and never the same twice."""
    first, second = throwaway_keyring(), throwaway_keyring()
    assert first.active.id != second.active.id


def test_suite_counts_the_cases_to_run(project: Path) -> None:
    """`case_count` is what the CLI checks before building the detector."""
    write(project / "tests" / "a_test.yaml", PASSING)
    assert collect([project / "tests"]).case_count == 2
    assert Suite().case_count == 0
