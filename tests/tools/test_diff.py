"""Tests for dlp_proxy/tools/diff.py: structural and behavioural diffs of two policy versions."""

from __future__ import annotations

import copy
import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from dlp_proxy.crypto.keys import DataKey, Keyring
from dlp_proxy.errors import UsageError
from dlp_proxy.policy.loader import parse_policy
from dlp_proxy.policy.model import Policy
from dlp_proxy.tools import diff as diff_module
from dlp_proxy.tools.cases import Case, Observed, load_test_file
from dlp_proxy.tools.diff import (
    Change,
    ChangeKind,
    DiffReport,
    Section,
    build_report,
    cases_for,
    diff_behaviour,
    diff_policies,
    render_json,
    render_text,
)
from tests.support import ScriptedDetector

KEYRING = Keyring(keys=(DataKey(id="ktest", created="x", state="active", secret=b"\x07" * 32),))

BASE: dict[str, Any] = {
    "version": 1,
    "name": "unit",
    "vendors": [{"id": "acme", "hosts": ["*.acme.example"]}],
    "detectors": [
        {
            "id": "employee-ids",
            "entity": "EMPLOYEE_ID",
            "patterns": [{"name": "emp", "regex": r"EMP-\d{6}", "score": 0.9}],
        }
    ],
    "allow": [{"id": "test-card", "reason": "the card in our docs", "values": ["4111"]}],
    "rules": [
        {"id": "block-ssn", "entities": ["US_SSN"], "action": "block"},
        {
            "id": "mask-emails",
            "entities": ["EMAIL_ADDRESS"],
            "action": "redact",
            "redact": {"operator": "mask", "keep": 4},
        },
        {"id": "replace-names", "entities": ["PERSON"], "action": "redact"},
    ],
}

CASES = """\
policy: ../policy.yaml
cases:
  - name: an email is masked
    request:
      url: https://api.acme.example/tickets
      json: {email: maria@example.com, topic: billing}
    expect:
      action: redact
  - name: an SSN is blocked
    request:
      url: https://api.acme.example/tickets
      body: "SSN 219-09-9999"
    expect:
      action: block
"""


def policy(edit: Callable[[dict[str, Any]], object] | None = None) -> Policy:
    """The base policy, after `edit` has changed a deep copy of its data."""
    data = copy.deepcopy(BASE)
    if edit is not None:
        edit(data)
    return parse_policy(yaml.safe_dump(data, sort_keys=False))


def rule(data: dict[str, Any], rid: str) -> dict[str, Any]:
    """The rule `rid` in policy data, to edit in place."""
    return next(r for r in data["rules"] if r["id"] == rid)


def write(path: Path, text: str) -> Path:
    """Write `text` (dedented) to `path`, creating directories, and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def cases(tmp_path: Path) -> list[Case]:
    """The two cases of CASES, loaded from tests/ beside a policy.yaml."""
    write(tmp_path / "policy.yaml", yaml.safe_dump(BASE))
    return list(load_test_file(write(tmp_path / "tests" / "unit_test.yaml", CASES)).cases)


def report(old: Policy, new: Policy, cases: list[Case]) -> DiffReport:
    """`build_report` with the scripted detector and the test keyring."""
    return build_report(old, new, cases, detector=ScriptedDetector(), keyring=KEYRING)


def texts(changes: tuple[Change, ...]) -> list[str]:
    """Each change's title followed by its differences, as the text report lists them."""
    return [line for c in changes for line in (c.title, *(str(d) for d in c.differences))]


# --- structure -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "line"),
    [
        ("mode", "monitor", "mode: enforce -> monitor"),
        ("on_error", "allow", "on_error: block -> allow"),
        ("max_body_bytes", 1024, "max_body_bytes: 10485760 -> 1024"),
        ("max_decompression_ratio", 50, "max_decompression_ratio: 200 -> 50"),
        ("unknown_destinations", "block", "unknown_destinations: inspect -> block"),
        ("evidence", "snippets", "evidence: body -> snippets"),
        ("name", "unit-v2", "name: unit -> unit-v2"),
    ],
)
def test_a_changed_setting_reads_old_to_new(key: str, value: object, line: str) -> None:
    """Each top-level setting that changed is one change, `setting: old -> new`."""
    (change,) = diff_policies(policy(), policy(lambda d: d.update({key: value})))
    assert (change.section, change.id, change.kind, change.title) == (
        Section.SETTING,
        key,
        ChangeKind.CHANGED,
        f"setting {line}",
    )


def test_vendors_added_removed_and_changed() -> None:
    """Vendors compare by id: hosts as +/-, contracts added and their fields changed."""

    def edit(d: dict[str, Any]) -> None:
        d["vendors"] = [
            {
                "id": "acme",
                "hosts": ["*.acme.example", "acme.example"],
                "contracts": [{"id": "tickets", "fields": ["$.topic"]}],
            },
            {"id": "globex", "hosts": ["api.globex.example"]},
        ]

    old = policy(lambda d: d["vendors"].append({"id": "initech", "hosts": ["initech.example"]}))
    assert texts(diff_policies(old, policy(edit))) == [
        "vendor acme changed",
        "hosts: +acme.example",
        "contracts: none -> tickets",
        "vendor initech removed: hosts initech.example",
        "vendor globex added: hosts api.globex.example",
    ]
    contracted = policy(edit)
    fields = policy(lambda d: (edit(d), d["vendors"][0]["contracts"][0]["fields"].append("$.id")))
    assert texts(diff_policies(contracted, fields)) == [
        "vendor acme changed",
        "contracts[tickets].fields: +$.id",
    ]


def test_detectors_added_removed_and_changed() -> None:
    """A detector's entity, patterns and context words are compared by pattern name."""

    def edit(d: dict[str, Any]) -> None:
        detector = d["detectors"][0]
        detector["patterns"][0]["regex"] = r"EMP-\d{7}"
        detector["context"] = ["employee"]
        d["detectors"].append(
            {"id": "badges", "entity": "BADGE", "deny_list": ["BADGE-1"], "deny_list_score": 0.9}
        )

    assert texts(diff_policies(policy(), policy(edit))) == [
        "detector employee-ids changed",
        "patterns[emp].regex: 'EMP-\\\\d{6}' -> 'EMP-\\\\d{7}'",
        "context: none -> employee",
        "detector badges added: finds BADGE",
    ]
    assert texts(diff_policies(policy(edit), policy())) == [
        "detector employee-ids changed",
        "patterns[emp].regex: 'EMP-\\\\d{7}' -> 'EMP-\\\\d{6}'",
        "context: employee -> none",
        "detector badges removed: finds BADGE",
    ]


def test_allow_entries_added_removed_and_reason_changed() -> None:
    """A changed reason counts as a change to an allow entry; values show as +/-."""

    def edit(d: dict[str, Any]) -> None:
        d["allow"][0]["reason"] = "the test card printed in the developer docs"
        d["allow"][0]["values"] = ["4111", "5555"]
        d["allow"].append({"id": "support", "reason": "our own inbox", "hosts": ["support.x"]})

    assert texts(diff_policies(policy(), policy(edit))) == [
        "allow entry test-card changed",
        "reason: 'the card in our docs' -> 'the test card printed in the developer docs'",
        "values: +5555",
        "allow entry support added: 'our own inbox'",
    ]
    removed = texts(diff_policies(policy(edit), policy()))[-1]
    assert removed == "allow entry support removed: 'our own inbox'"


def test_rules_added_and_removed_are_summarised() -> None:
    """An added or removed rule is summarised: action with options, entities, conditions."""

    def edit(d: dict[str, Any]) -> None:
        d["rules"] = [r for r in d["rules"] if r["id"] != "mask-emails"]
        d["rules"].append(
            {
                "id": "encrypt-cards",
                "entities": ["CREDIT_CARD"],
                "vendors": ["acme"],
                "action": "encrypt",
                "encrypt": {"mode": "deterministic"},
            }
        )

    assert texts(diff_policies(policy(), policy(edit))) == [
        "rule mask-emails removed: redact (mask, keep 4) EMAIL_ADDRESS",
        "rule encrypt-cards added: encrypt (deterministic) CREDIT_CARD for vendors acme",
    ]


def test_a_changed_rule_lists_each_attribute_old_to_new() -> None:
    """action, entities, min_score, mode, severity, paths, vendors, redact.* all show readably."""

    def edit(d: dict[str, Any]) -> None:
        r = rule(d, "replace-names")
        r.update(
            entities=["PERSON", "US_PASSPORT"],
            min_score=0.6,
            mode="monitor",
            severity="high",
            paths=["/v2/*"],
            vendors=["acme"],
            redact={"operator": "hash"},
        )
        rule(d, "block-ssn").update(action="redact")
        rule(d, "mask-emails")["redact"]["keep"] = 2

    changes = diff_policies(policy(), policy(edit))
    assert texts(changes) == [
        "rule block-ssn changed",
        "action: block -> redact (replace with '<{entity}>')",
        "rule mask-emails changed",
        "redact.keep: 4 -> 2",
        "rule replace-names changed",
        "mode: enforce (the policy's) -> monitor",
        "severity: medium -> high",
        "min_score: 0.4 -> 0.6",
        "entities: +US_PASSPORT",
        "vendors: any -> acme",
        "paths: any -> /v2/*",
        "redact.operator: replace -> hash",
    ]
    narrowed = policy(lambda d: rule(d, "replace-names").update(entities=["US_PASSPORT"]))
    (change,) = diff_policies(policy(), narrowed)
    assert [str(d) for d in change.differences] == ["entities: +US_PASSPORT -PERSON"]


def test_reordered_rules_name_the_moved_rule_and_why_order_matters() -> None:
    """Moving a rule is one change listing its positions, with a note on what order decides."""
    old = policy()
    new = policy(lambda d: d["rules"].insert(0, d["rules"].pop()))
    (change,) = diff_policies(old, new)
    assert change.kind is ChangeKind.REORDERED
    assert [str(d) for d in change.differences] == ["replace-names: position 3 -> position 1"]
    assert "equally strict rules" in change.note


def test_identical_policies_report_no_change(cases: list[Case]) -> None:
    """The same policy twice: no structural change, no case changes, `changed` false."""
    result = report(policy(), policy(), cases)
    assert (result.changes, result.case_changes, result.changed) == ((), (), False)
    assert render_text(result).splitlines()[1] == (
        "0 policy changes; 0 of 2 test cases behave differently"
    )


# --- behaviour -------------------------------------------------------------------------------


def test_redact_to_block_is_reported_with_the_case_and_both_outcomes(cases: list[Case]) -> None:
    """A rule turned from redact to block changes its case: outcome, rules, blocked_by, body."""

    def block(d: dict[str, Any]) -> None:
        del rule(d, "mask-emails")["redact"]
        rule(d, "mask-emails")["action"] = "block"

    new = policy(block)
    (change,) = diff_behaviour(policy(), new, cases, detector=ScriptedDetector(), keyring=KEYRING)
    assert (change.case.name, change.old_outcome, change.new_outcome) == (
        "an email is masked",
        "redacted",
        "blocked",
    )
    assert [str(d) for d in change.differences] == [
        "action: redact -> block",
        "outcome: redacted -> blocked",
        "blocked_by: none -> mask-emails",
    ]
    result = report(policy(), new, cases)
    assert result.changed
    text = render_text(result)
    assert "1 policy change; 1 of 2 test cases behave differently (1 change outcome)" in text
    assert "  an email is masked: redacted -> blocked\n" in text
    assert f"      at {cases[0].place}\n" in text


def test_randomized_tokens_do_not_make_a_body_differ(tmp_path: Path) -> None:
    """Randomized tokens differ on every run, so they compare as <token>: no spurious change."""
    write(tmp_path / "policy.yaml", yaml.safe_dump(BASE))
    text = CASES.replace("json: {email: maria@example.com, topic: billing}", "body: Maria@x.io")
    cases = list(load_test_file(write(tmp_path / "tests" / "t_test.yaml", text)).cases)

    def randomized(d: dict[str, Any]) -> None:
        del rule(d, "mask-emails")["redact"]
        rule(d, "mask-emails").update(action="encrypt", encrypt={"mode": "randomized"})

    def deterministic(d: dict[str, Any]) -> None:
        randomized(d)
        rule(d, "mask-emails")["encrypt"]["mode"] = "deterministic"

    detector = ScriptedDetector()
    same = diff_behaviour(
        policy(randomized), policy(randomized), cases, detector=detector, keyring=KEYRING
    )
    assert same == ()
    (change,) = diff_behaviour(
        policy(deterministic), policy(randomized), cases, detector=detector, keyring=KEYRING
    )
    (body,) = change.differences
    assert "-dlp:v1:ktest:" in body.diff
    assert "+<token>" in body.diff


def test_json_bodies_are_diffed_pretty_printed(cases: list[Case]) -> None:
    """A changed JSON body is shown as a unified diff of the pretty-printed documents."""
    new = policy(lambda d: rule(d, "mask-emails")["redact"].update(keep=2))
    (change,) = diff_behaviour(policy(), new, cases, detector=ScriptedDetector(), keyring=KEYRING)
    (body,) = change.differences
    assert body.name == "body"
    assert body.diff == (
        "--- old\n"
        "+++ new\n"
        "@@ -1,4 +1,4 @@\n"
        " {\n"
        '-  "email": "*****@******e.com",\n'
        '+  "email": "*****@*******.*om",\n'
        '   "topic": "billing"\n'
        " }\n"
    )
    text = render_text(report(policy(), new, cases))
    assert "Test cases whose result changes:\n  an email is masked: still redacted\n" in text
    assert '        -  "email": "*****@******e.com",' in text


def test_structural_change_no_case_notices_is_no_change_in_effect(cases: list[Case]) -> None:
    """Only structure changed: `changed` false, a note says so, and the untested rule is named."""
    new = policy(lambda d: rule(d, "replace-names").update(min_score=0.9))
    result = report(policy(), new, cases)
    assert (len(result.changes), result.changed, result.untested_rules) == (
        1,
        False,
        ("replace-names",),
    )
    text = render_text(result)
    assert "1 policy change; 0 of 2 test cases behave differently\n" in text
    assert "No test case behaves differently" in text
    assert "No test case exercises rule replace-names: no case fires it" in text


def test_only_rules_no_case_fires_under_either_version_are_hinted(cases: list[Case]) -> None:
    """A changed rule that a case fires (under old or new) gets no hint; added rules count."""

    def edit(d: dict[str, Any]) -> None:
        rule(d, "block-ssn")["severity"] = "critical"
        d["rules"].append({"id": "block-cards", "entities": ["CREDIT_CARD"], "action": "block"})

    result = report(policy(), policy(edit), cases)
    assert result.untested_rules == ("block-cards",)
    assert [c.new_outcome for c in result.case_changes] == ["blocked"]  # severity differs


def test_a_case_that_crashes_under_one_policy_is_a_difference(
    cases: list[Case], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception under one version only is reported as a difference, not raised."""
    new = policy(lambda d: rule(d, "mask-emails")["redact"].update(keep=2))
    real_observe = diff_module.observe

    def observe(case: Case, under: Policy, **kwargs: Any) -> Observed:
        if under is new:
            raise RuntimeError("codec bug")
        return real_observe(case, under, **kwargs)

    monkeypatch.setattr(diff_module, "observe", observe)
    changes = diff_behaviour(policy(), new, cases, detector=ScriptedDetector(), keyring=KEYRING)
    assert {c.new_outcome for c in changes} == {"error"}
    assert str(changes[0].differences[0]).startswith("exception: none -> RuntimeError: codec bug")


def test_a_key_the_keyring_lacks_fails_closed_under_the_new_version(cases: list[Case]) -> None:
    """Encrypting under a key id the keyring lacks blocks (on_error) rather than crashing."""

    def keyed(d: dict[str, Any]) -> None:
        del rule(d, "mask-emails")["redact"]
        rule(d, "mask-emails").update(action="encrypt", encrypt={"key": "missing"})

    (change,) = diff_behaviour(
        policy(), policy(keyed), cases, detector=ScriptedDetector(), keyring=KEYRING
    )
    assert (change.old_outcome, change.new_outcome) == ("redacted", "blocked")


def test_json_output_holds_summary_changes_and_cases(cases: list[Case]) -> None:
    """render_json gives the summary, each change with its text, and each case change."""
    new = policy(lambda d: rule(d, "mask-emails")["redact"].update(keep=2))
    data = json.loads(render_json(report(policy(), new, cases)))
    assert data["changed"] is True
    assert data["summary"] == {
        "policy_changes": 1,
        "cases": 2,
        "cases_changed": 1,
        "outcomes_changed": 0,
    }
    assert data["changes"][0]["differences"][0]["text"] == "redact.keep: 4 -> 2"
    assert data["case_changes"][0]["name"] == "an email is masked"
    assert data["case_changes"][0]["differences"][0]["diff"].startswith("--- old\n")


def test_no_cases_says_the_effect_is_unknown() -> None:
    """Without cases the summary says none ran and the note asks for test files."""
    result = report(policy(), policy(lambda d: d.update(mode="monitor")), [])
    text = render_text(result)
    assert "1 policy change; no test cases ran" in text
    assert "give test files or directories (--tests)" in text
    assert not result.changed


# --- which cases -----------------------------------------------------------------------------


def test_cases_for_a_copied_old_file_runs_the_new_files_tests(tmp_path: Path) -> None:
    """OLD in a temp dir names no test file: the tests naming NEW are used, once each."""
    new = write(tmp_path / "repo" / "policies" / "default.yaml", yaml.safe_dump(BASE))
    tests = tmp_path / "repo" / "policies" / "tests"
    test_file = write(tests / "default_test.yaml", CASES.replace("policy.yaml", "default.yaml"))
    old = write(tmp_path / "tmp" / "old.yaml", yaml.safe_dump(BASE))
    expected = [
        (str(test_file), "an email is masked"),
        (str(test_file), "an SSN is blocked"),
    ]
    assert [(c.file, c.name) for c in cases_for(old, new)] == expected
    twice = cases_for(old, new, [tests, test_file])  # found and given: still once
    assert [(Path(c.file).resolve(), c.name) for c in twice] == [
        (test_file.resolve(), name) for _, name in expected
    ]


def test_cases_for_falls_back_to_tests_naming_the_same_file_name(tmp_path: Path) -> None:
    """Both versions copied elsewhere: test files in the search paths naming default.yaml run."""
    tests = tmp_path / "repo" / "policies" / "tests"
    write(tests.parent / "default.yaml", yaml.safe_dump(BASE))
    write(tests / "default_test.yaml", CASES.replace("../policy.yaml", "../default.yaml"))
    write(tests / "other_test.yaml", CASES)  # names ../policy.yaml (missing): not this policy
    old = write(tmp_path / "a" / "default.yaml", yaml.safe_dump(BASE))
    new = write(tmp_path / "b" / "default.yaml", yaml.safe_dump(BASE))
    assert cases_for(old, new) == []
    found = cases_for(old, new, [tests])
    assert {Path(c.file).name for c in found} == {"default_test.yaml"}


def test_cases_for_rejects_a_missing_search_path(tmp_path: Path) -> None:
    """A search path that does not exist is a usage error, not an empty run."""
    old = write(tmp_path / "policy.yaml", yaml.safe_dump(BASE))
    with pytest.raises(UsageError, match="nope: no such file or directory"):
        cases_for(old, old, [tmp_path / "nope"])
