"""Tests for dlp_proxy/cli.py: the commands that need no running proxy."""

from __future__ import annotations

import io
import json
import os
import stat
from pathlib import Path

import pytest
from support import ScriptedDetector

from dlp_proxy import cli
from dlp_proxy.actions import keyed_hash
from dlp_proxy.cli import main
from dlp_proxy.keys import create_keyring
from dlp_proxy.tokens import encrypt_value

BROKEN_POLICY = """\
version: 1
name: broken
rules:
  - id: r1
    entities: [EMAIL_ADDRESS]
    action: mask
"""


def test_validate_accepts_the_shipped_policies(capsys: pytest.CaptureFixture[str]) -> None:
    """`policy validate` exits 0 and says ok for each shipped policy."""
    assert (
        main(["policy", "validate", "policies/default.yaml", "policies/acme-contact-centre.yaml"])
        == 0
    )
    out = capsys.readouterr().out
    assert "policies/default.yaml: ok (default, 6 rules, enforce)" in out
    assert "policies/acme-contact-centre.yaml: ok" in out


def test_validate_reports_file_line_and_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`policy validate` exits 1 and prints file:line: field and what is wrong."""
    policy = tmp_path / "broken.yaml"
    policy.write_text(BROKEN_POLICY)
    assert main(["policy", "validate", str(policy)]) == 1
    assert (
        f"{policy}:6:5: rules[0].action must be one of allow|redact|encrypt|block (got 'mask')"
        in capsys.readouterr().err
    )


def test_run_refuses_a_broken_policy_before_starting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`run` with a broken policy exits 2 with the problem, and never opens the port."""
    policy = tmp_path / "broken.yaml"
    policy.write_text(BROKEN_POLICY)
    assert main(["run", "--policy", str(policy), "--confdir", str(tmp_path / "c")]) == 2
    assert f"{policy}:6:5: rules[0].action" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def test_run_refuses_a_missing_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`run` with a policy file that does not exist says so."""
    assert main(["run", "--policy", str(tmp_path / "nope.yaml")]) == 2
    assert "cannot read the policy file" in capsys.readouterr().err


def test_init_creates_the_ca_and_an_owner_only_keyring(tmp_path: Path) -> None:
    """`init` makes mitmproxy's CA files and a 0600 keyring, and is idempotent."""
    confdir = tmp_path / "certs"
    assert main(["init", "--confdir", str(confdir)]) == 0
    keyring = (confdir / "dlp-keyring.json").read_bytes()
    assert (confdir / "mitmproxy-ca-cert.pem").read_text().startswith("-----BEGIN CERTIFICATE")
    assert stat.S_IMODE(os.stat(confdir / "dlp-keyring.json").st_mode) == 0o600
    assert main(["init", "--confdir", str(confdir)]) == 0
    assert (confdir / "dlp-keyring.json").read_bytes() == keyring


def test_decrypt_turns_tokens_back(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`decrypt` prints entity and value for a good token and fails on a tampered one."""
    keyring_path = tmp_path / "k.json"
    keyring = create_keyring(keyring_path)
    token = encrypt_value("4111 1111 1111 1111", "CREDIT_CARD", keyring)
    assert main(["decrypt", token, "--keyring", str(keyring_path)]) == 0
    assert capsys.readouterr().out == "CREDIT_CARD\t4111 1111 1111 1111\n"
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert main(["decrypt", tampered, "--keyring", str(keyring_path)]) == 1
    assert "failed authentication" in capsys.readouterr().err


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    """Running with no command shows the commands and exits 2."""
    assert main([]) == 2
    assert "run" in capsys.readouterr().out


# --- policy test -----------------------------------------------------------------------------

TEST_POLICY = """\
version: 1
name: unit
rules:
  - id: block-ssn
    entities: [US_SSN]
    action: block
  - id: hash-emails
    entities: [EMAIL_ADDRESS]
    action: redact
    redact: {operator: hash}
"""

TEST_CASES = """\
policy: ../policy.yaml
cases:
  - name: an SSN is blocked
    request:
      url: https://api.vendor.example/tickets
      json: {note: "Customer SSN 219-09-9999"}
    expect:
      action: block
      rules: [block-ssn]
      entities: {US_SSN: 1}
  - name: an email is hashed
    request:
      url: https://api.vendor.example/tickets
      json: {email: maria@example.com}
    expect:
      action: redact
      body_contains: ['"email":"<EMAIL_ADDRESS:']
      body_excludes: [maria]
"""


@pytest.fixture
def policy_tests(tmp_path: Path) -> Path:
    """A policy and its test file in tests/ beside it; returns the tests directory."""
    (tmp_path / "policy.yaml").write_text(TEST_POLICY)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "policy_test.yaml").write_text(TEST_CASES)
    return tmp_path / "tests"


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make `policy test` use the scripted detector; returns the models it was asked for."""
    models: list[str] = []

    def build(model: str) -> ScriptedDetector:
        models.append(model)
        return ScriptedDetector()

    monkeypatch.setattr(cli, "PresidioDetector", build)
    return models


def test_policy_test_with_the_real_model_passes(
    policy_tests: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`policy test DIR` runs the cases with Presidio and exits 0 when all pass."""
    assert main(["policy", "test", str(policy_tests)]) == 0
    assert capsys.readouterr().out.endswith("PASS: 2/2\n")


def test_policy_test_exits_1_and_shows_a_failure(
    policy_tests: Path, scripted: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A failing case is shown with its file:line and mismatch, and the exit status is 1."""
    test_file = policy_tests / "policy_test.yaml"
    test_file.write_text(TEST_CASES.replace("rules: [block-ssn]", "rules: [hash-emails]"))
    assert main(["policy", "test", str(test_file)]) == 1
    out = capsys.readouterr().out
    assert "FAIL  an SSN is blocked" in out
    assert f"at {test_file}:3" in out
    assert "line 9: rules: expected [hash-emails], got [block-ssn]" in out
    assert out.endswith("PASS: 1/2\nFAIL: 1/2\n")


def test_policy_test_exits_1_when_no_test_ran(
    tmp_path: Path, scripted: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A directory without test files is a failure, and no detector is built for nothing."""
    assert main(["policy", "test", str(tmp_path)]) == 1
    assert "no test cases ran" in capsys.readouterr().out
    assert scripted == []


def test_policy_test_run_selects_cases_by_name(
    policy_tests: Path, scripted: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """`--run REGEX` keeps matching cases; matching none exits 1; a bad regex exits 2."""
    assert main(["policy", "test", str(policy_tests), "--run", "email", "-v"]) == 0
    out = capsys.readouterr().out
    assert "PASS  an email is hashed" in out
    assert "an SSN" not in out
    assert main(["policy", "test", str(policy_tests), "--run", "nothing"]) == 1
    assert main(["policy", "test", str(policy_tests), "--run", "("]) == 2
    assert "--run '(' is not a regular expression" in capsys.readouterr().err


def test_policy_test_json_format(
    policy_tests: Path, scripted: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """`--format json` prints one JSON document with the summary and every result."""
    assert main(["policy", "test", str(policy_tests), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["summary"]["total"] == report["summary"]["pass"] == 2
    assert [r["status"] for r in report["results"]] == ["PASS", "PASS"]


def test_policy_test_hashes_with_the_keyring_given(
    policy_tests: Path, tmp_path: Path, scripted: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """With `--keyring` keyed hashes are reproducible, so a case can state the exact body."""
    keyring_path = tmp_path / "k.json"
    expected = keyed_hash("maria@example.com", "EMAIL_ADDRESS", create_keyring(keyring_path))
    test_file = policy_tests / "policy_test.yaml"
    test_file.write_text(
        TEST_CASES.replace("body_excludes: [maria]", f"json: {{email: '{expected}'}}")
    )
    args = ["policy", "test", str(test_file), "--keyring", str(keyring_path), "--model", "m"]
    assert main(args) == 0, capsys.readouterr().out
    assert scripted == ["m"]


def test_policy_test_defaults_to_policies_tests(
    tmp_path: Path, scripted: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a path, `policy test` runs policies/tests under the working directory."""
    (tmp_path / "policies" / "tests").mkdir(parents=True)
    (tmp_path / "policies" / "policy.yaml").write_text(TEST_POLICY)
    (tmp_path / "policies" / "tests" / "policy_test.yaml").write_text(TEST_CASES)
    monkeypatch.chdir(tmp_path)
    assert main(["policy", "test"]) == 0


def test_policy_test_reports_a_missing_path_and_a_broken_test_file(
    policy_tests: Path, scripted: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A path that does not exist and a test file that does not load each fail the run."""
    (policy_tests / "broken_test.yaml").write_text("policy: ../policy.yaml\ncase: []\n")
    assert main(["policy", "test", str(policy_tests), str(policy_tests / "nope")]) == 1
    out = capsys.readouterr().out
    assert f"ERROR {policy_tests / 'nope'}:\n        no such file or directory" in out
    assert "broken_test.yaml:2: case is not a known key here; did you mean 'cases'?" in out
    assert "ERROR: 2 test file(s) could not be used" in out


# --- policy validate: warnings, key ids, JSON ----------------------------------------------------

REDUNDANT_POLICY = """\
version: 1
name: redundant
rules:
  - {id: a, entities: [US_SSN, PERSON], action: block}
  - {id: b, entities: [US_SSN], action: redact}
"""


def test_validate_counts_warnings_as_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A redundant rule is a warning: the file loads, but validate exits 1 and says why."""
    policy = tmp_path / "redundant.yaml"
    policy.write_text(REDUNDANT_POLICY)
    assert main(["policy", "validate", str(policy), "--keyring", str(_keyring(tmp_path))]) == 1
    captured = capsys.readouterr()
    assert f"{policy}:5:5: warning: rules[1] has no effect" in captured.err
    assert f"{policy}: 1 warnings (redundant, 2 rules, enforce)" in captured.out


def test_validate_checks_key_ids_against_the_keyring(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--keyring` makes an encryption key id the keyring lacks a problem."""
    policy = tmp_path / "keys.yaml"
    policy.write_text(
        "version: 1\nname: k\nrules:\n"
        "  - {id: c, entities: [CREDIT_CARD], action: encrypt, encrypt: {key: k-old}}\n"
    )
    assert main(["policy", "validate", str(policy), "--keyring", str(_keyring(tmp_path))]) == 1
    assert "rules[0].encrypt.key names key 'k-old', which is not in the keyring" in (
        capsys.readouterr().err
    )


def test_validate_without_a_keyring_says_key_ids_were_not_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no keyring at hand, validate passes key ids but says it could not check them."""
    monkeypatch.chdir(tmp_path)
    policy = tmp_path / "keys.yaml"
    policy.write_text(
        "version: 1\nname: k\nrules:\n"
        "  - {id: c, entities: [CREDIT_CARD], action: encrypt, encrypt: {key: k-old}}\n"
    )
    assert main(["policy", "validate", str(policy)]) == 0
    assert "key ids not checked: no keyring" in capsys.readouterr().out


def test_validate_json_lists_every_problem_with_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--format json` gives file, line, column, field, message and level for each problem."""
    policy = tmp_path / "broken.yaml"
    policy.write_text(BROKEN_POLICY)
    assert main(["policy", "validate", "--format", "json", str(policy)]) == 1
    (result,) = json.loads(capsys.readouterr().out)
    assert result["valid"] is False
    assert result["problems"] == [
        {
            "file": str(policy),
            "line": 6,
            "column": 5,
            "field": "rules[0].action",
            "message": "must be one of allow|redact|encrypt|block (got 'mask')",
            "level": "error",
        }
    ]


def _keyring(tmp_path: Path) -> Path:
    path = tmp_path / "keyring.json"
    create_keyring(path)
    return path


# --- scan and explain ------------------------------------------------------------------------


def test_scan_with_the_real_model_finds_and_decides(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`scan` runs Presidio on a file and prints findings and the decision, values masked."""
    payload = tmp_path / "ticket.json"
    payload.write_text(json.dumps({"customer": {"ssn": "219-09-9999"}, "note": "hello"}))
    assert main(["scan", str(payload), "--keyring", str(_keyring(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "US_SSN" in out
    assert "$.customer.ssn" in out
    assert "decision     blocked; blocked by block-ssn-and-bank-numbers" in out
    assert "219-09-9999" not in out


def test_explain_json_has_rules_and_the_body_sent_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], scripted: list[str]
) -> None:
    """`explain --format json` carries each rule's outcome and the rewritten body."""
    (tmp_path / "policy.yaml").write_text(TEST_POLICY)
    argv = [
        "explain",
        "-",
        "--policy",
        str(tmp_path / "policy.yaml"),
        "--content-type",
        "application/json",
        "--format",
        "json",
        "--show-values",
        "--model",
        "some_model",
        "--keyring",
        str(_keyring(tmp_path)),
    ]
    stdin = io.TextIOWrapper(io.BytesIO(b'{"email": "maria@example.com"}'))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdin", stdin)
        assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert scripted == ["some_model"]
    assert report["decision"]["outcome"] == "redacted"
    assert [r["id"] for r in report["rules"]] == ["block-ssn", "hash-emails"]
    assert report["findings"][0]["value"] == "maria@example.com"
    assert report["body"].startswith('{"email":"<EMAIL_ADDRESS:')


def test_scan_guesses_the_content_type_from_the_file_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], scripted: list[str]
) -> None:
    """A .csv payload is read as CSV, so findings are located by row and column."""
    (tmp_path / "policy.yaml").write_text(TEST_POLICY)
    export = tmp_path / "export.csv"
    export.write_text("name,email\nMaria,maria@example.com\n")
    argv = ["scan", str(export), "--policy", str(tmp_path / "policy.yaml"), "--format", "json"]
    assert main([*argv, "--keyring", str(_keyring(tmp_path))]) == 0
    (finding,) = json.loads(capsys.readouterr().out)["findings"]
    assert finding["location"] == "csv:r1.c1"


def test_scan_refuses_a_bad_header_and_a_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad arguments get exit status 2 and a message saying what to fix."""
    assert main(["scan", str(tmp_path / "nope.json")]) == 2
    assert "cannot read" in capsys.readouterr().err
    payload = tmp_path / "p.json"
    payload.write_text("{}")
    assert main(["scan", str(payload), "--header", "no-colon"]) == 2
    assert "--header 'no-colon' must look like 'Name: value'" in capsys.readouterr().err


# --- policy diff -------------------------------------------------------------------------------


def test_policy_diff_exit_status_says_whether_the_effect_changes(
    policy_tests: Path, capsys: pytest.CaptureFixture[str], scripted: list[str]
) -> None:
    """Exit 0 when no case changes, 1 when some do (naming them), 2 when no case ran."""
    root = policy_tests.parent
    new = root / "policy.yaml"
    old = root / "old" / "policy.yaml"
    old.parent.mkdir()
    old.write_text(TEST_POLICY)
    assert main(["policy", "diff", str(old), str(new), "--tests", str(policy_tests)]) == 0
    assert "0 of 2 test cases behave differently" in capsys.readouterr().out
    old.write_text(TEST_POLICY.replace("action: block", "action: redact"))
    assert main(["policy", "diff", str(old), str(new), "--tests", str(policy_tests)]) == 1
    out = capsys.readouterr().out
    assert "an SSN is blocked: redacted -> blocked" in out
    assert "action: redact -> block" in out
    lonely = root / "lonely"
    lonely.mkdir()
    (lonely / "a.yaml").write_text(TEST_POLICY)
    (lonely / "b.yaml").write_text(TEST_POLICY)
    assert main(["policy", "diff", str(lonely / "a.yaml"), str(lonely / "b.yaml")]) == 2
