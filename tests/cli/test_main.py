"""Tests for dlp_proxy/cli/main.py: the commands that need no running proxy."""

from __future__ import annotations

import base64
import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dlp_proxy import __version__
from dlp_proxy.cli import main as cli_main
from dlp_proxy.cli.main import main
from dlp_proxy.core.actions import keyed_hash
from dlp_proxy.crypto.keys import KeyState, create_keyring, load_keyring
from dlp_proxy.crypto.tokens import encrypt_value
from dlp_proxy.incidents.audit import current_user
from tests.support import ROOT, ScriptedDetector

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
    assert "policies/default.yaml: ok (default, 7 rules, enforce)" in out
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
    options = ["--keyring", str(keyring_path), "--data-dir", str(tmp_path / "var")]
    assert main(["decrypt", token, *options]) == 0
    assert capsys.readouterr().out == "CREDIT_CARD\t4111 1111 1111 1111\n"
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert main(["decrypt", tampered, *options]) == 1
    assert "failed authentication" in capsys.readouterr().err


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    """Running with no command shows the commands and exits 2."""
    assert main([]) == 2
    assert "run" in capsys.readouterr().out


def test_python_m_dlp_proxy_is_the_same_command() -> None:
    """`python -m dlp_proxy` runs the `dlp-proxy` entry point, with its name and exit status."""
    version = subprocess.run(
        [sys.executable, "-m", "dlp_proxy", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert version.stdout == f"dlp-proxy {__version__}\n"
    bare = subprocess.run(
        [sys.executable, "-m", "dlp_proxy"], capture_output=True, text=True, timeout=60, check=False
    )
    assert bare.returncode == 2
    assert bare.stdout.startswith("usage: dlp-proxy ")


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

    monkeypatch.setattr(cli_main, "PresidioDetector", build)
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


# --- keys ----------------------------------------------------------------------------------------

KEYRING = Path("certs/dlp-keyring.json")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory of its own, so the default certs/ and var/ land in tmp_path."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _events(workdir: Path, name: str | None = None) -> list[dict[str, Any]]:
    """The audit events of var/decisions.jsonl (those called `name`, if given)."""
    log = workdir / "var" / "decisions.jsonl"
    if not log.exists():
        return []
    events = [json.loads(line) for line in log.read_text().splitlines()]
    return [e for e in events if name is None or e["event"] == name]


def _secrets(path: Path) -> list[str]:
    """Every secret of the keyring at `path`, in the encodings it could leak in."""
    forms = []
    for key in load_keyring(path).keys:
        forms += [base64.urlsafe_b64encode(key.secret).decode(), key.secret.hex()]
    return forms


def _no_secrets(path: Path, *texts: str) -> None:
    for secret in _secrets(path):
        for text in texts:
            assert secret not in text


def _init(capsys: pytest.CaptureFixture[str]) -> str:
    """`keys init` in the working directory; returns the new key's id."""
    assert main(["keys", "init"]) == 0
    capsys.readouterr()
    return load_keyring(KEYRING).active.id


def test_keys_init_creates_a_keyring_and_audits_it(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`keys init` makes an owner-only keyring, prints path and key id, and logs the creation."""
    assert main(["keys", "init"]) == 0
    out = capsys.readouterr().out
    keyring = load_keyring(KEYRING)
    key_id = keyring.active.id
    assert out.startswith(f"created keyring {KEYRING} (owner-only) with active key {key_id}\n")
    assert stat.S_IMODE(os.stat(KEYRING).st_mode) == 0o600
    (event,) = _events(workdir)
    assert event["event"] == "keyring_created"
    assert event["user"] == current_user()
    assert event["keyring"] == str(workdir / KEYRING)
    assert (event["key_id"], event["state"]) == (key_id, "active")
    assert event["keys"] == [{"id": key_id, "state": "active"}]
    _no_secrets(KEYRING, out, (workdir / "var" / "decisions.jsonl").read_text())


def test_keys_init_refuses_an_existing_keyring(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second `keys init` exits 2, says to rotate instead, and changes nothing."""
    _init(capsys)
    before = KEYRING.read_bytes()
    assert main(["keys", "init"]) == 2
    err = capsys.readouterr().err
    assert f"{KEYRING} already exists; `keys init` never replaces a keyring" in err
    assert f"run `dlp-proxy keys rotate --keyring {KEYRING}`" in err
    assert KEYRING.read_bytes() == before
    assert len(_events(workdir)) == 1


def test_keys_list_shows_ids_and_states_never_secrets(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`keys list` prints id, algorithm, created and state as a table or JSON, no secrets."""
    old = _init(capsys)
    assert main(["keys", "rotate"]) == 0
    new = load_keyring(KEYRING).active.id
    capsys.readouterr()
    assert main(["keys", "list"]) == 0
    table = capsys.readouterr().out
    header, rule, *rows = table.splitlines()
    assert header.split() == ["id", "algorithm", "created", "state"]
    assert set(rule) <= {"-", " "}
    assert [(r.split()[0], r.split()[-1]) for r in rows] == [(old, "decrypt-only"), (new, "active")]
    assert main(["keys", "list", "--format", "json", "--keyring", str(KEYRING)]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(k["id"], k["state"]) for k in listed] == [(old, "decrypt-only"), (new, "active")]
    assert all(set(k) == {"id", "algorithm", "created", "state"} for k in listed)
    _no_secrets(KEYRING, table, json.dumps(listed))


def test_keys_rotate_keeps_old_tokens_decrypting_and_audits_it(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`keys rotate`: a new active key, the old one decrypt-only (its tokens still decrypt)."""
    old = _init(capsys)
    token = encrypt_value("4111 1111 1111 1111", "CREDIT_CARD", load_keyring(KEYRING))
    assert main(["keys", "rotate"]) == 0
    out = capsys.readouterr().out
    keyring = load_keyring(KEYRING)
    new = keyring.active.id
    assert new != old
    assert keyring.get(old).state == KeyState.DECRYPT_ONLY
    assert f"{KEYRING}: {new} is the active key; {old} is now decrypt-only" in out
    assert "restart" in out
    assert stat.S_IMODE(os.stat(KEYRING).st_mode) == 0o600
    (event,) = _events(workdir, "key_rotated")
    assert event["user"] == current_user()
    assert event["keyring"] == str(workdir / KEYRING)
    assert (event["previous_key_id"], event["previous_state"]) == (old, "decrypt-only")
    assert (event["new_key_id"], event["new_state"]) == (new, "active")
    assert event["keys"] == [{"id": old, "state": "decrypt-only"}, {"id": new, "state": "active"}]
    assert main(["decrypt", token]) == 0
    assert capsys.readouterr().out == "CREDIT_CARD\t4111 1111 1111 1111\n"
    _no_secrets(KEYRING, out, (workdir / "var" / "decisions.jsonl").read_text())


def test_keys_retire_stops_its_tokens_and_audits_it(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`keys retire` retires a decrypt-only key: its tokens fail to decrypt from then on."""
    old = _init(capsys)
    token = encrypt_value("maria@example.com", "EMAIL_ADDRESS", load_keyring(KEYRING))
    assert main(["keys", "rotate"]) == 0
    assert main(["keys", "retire", old]) == 0
    assert f"{KEYRING}: {old} is retired" in capsys.readouterr().out
    assert load_keyring(KEYRING).get(old).state == KeyState.RETIRED
    (event,) = _events(workdir, "key_retired")
    assert (event["key_id"], event["previous_state"], event["state"]) == (
        old,
        "decrypt-only",
        "retired",
    )
    assert event["user"] == current_user()
    assert event["keyring"] == str(workdir / KEYRING)
    assert main(["decrypt", token]) == 1
    assert f"token 1 (key {old}): cannot decrypt: key '{old}' is retired" in capsys.readouterr().err


def test_keys_retire_refuses_the_active_key_and_unknown_ids(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Retiring the active key or an id the keyring lacks exits 2, saying why; nothing changes."""
    active = _init(capsys)
    before = KEYRING.read_bytes()
    assert main(["keys", "retire", active]) == 2
    assert f"key '{active}' is the active key; run `dlp-proxy keys rotate` first" in (
        capsys.readouterr().err
    )
    assert main(["keys", "retire", "k20200101abcdef"]) == 2
    assert f"key 'k20200101abcdef' is not in {KEYRING}; it holds {active}" in (
        capsys.readouterr().err
    )
    assert KEYRING.read_bytes() == before
    assert _events(workdir, "key_retired") == []


def test_retiring_a_retired_key_changes_nothing(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Retiring a key twice is not an error, and is neither saved nor logged again."""
    old = _init(capsys)
    assert main(["keys", "rotate"]) == 0
    assert main(["keys", "retire", old]) == 0
    capsys.readouterr()
    assert main(["keys", "retire", old]) == 0
    assert f"{old} is already retired; nothing changed" in capsys.readouterr().out
    assert len(_events(workdir, "key_retired")) == 1


@pytest.mark.parametrize(
    ("argv", "verb"),
    [(["init"], "create"), (["rotate"], "rotate"), (["retire", "k1"], "retire")],
    ids=["init", "rotate", "retire"],
)
def test_a_keyring_from_the_environment_is_listed_but_never_changed(
    workdir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    verb: str,
) -> None:
    """With `--keyring env:NAME`, init, rotate and retire say to use the secrets manager."""
    key_id = _init(capsys)
    monkeypatch.setenv("DLP_KEYRING", KEYRING.read_text())
    assert main(["keys", "list", "--keyring", "env:DLP_KEYRING", "--format", "json"]) == 0
    assert [k["id"] for k in json.loads(capsys.readouterr().out)] == [key_id]
    assert main(["keys", *argv, "--keyring", "env:DLP_KEYRING"]) == 2
    assert (
        f"cannot {verb} keys here: this keyring comes from environment variable DLP_KEYRING; "
        "change it in your secrets manager"
    ) in capsys.readouterr().err
    assert len(_events(workdir)) == 1


def test_keys_commands_refuse_a_keyring_others_can_read(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A group-readable keyring is refused by list and rotate with the `chmod 600` hint."""
    _init(capsys)
    KEYRING.chmod(0o640)
    before = KEYRING.read_bytes()
    for command in ("list", "rotate"):
        assert main(["keys", command]) == 2
        assert f"run `chmod 600 {KEYRING}`" in capsys.readouterr().err
    assert KEYRING.read_bytes() == before


def test_keys_without_a_subcommand_prints_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    """`dlp-proxy keys` alone shows the keys subcommands and exits 2."""
    assert main(["keys"]) == 2
    out = capsys.readouterr().out
    assert all(name in out for name in ("init", "list", "rotate", "retire"))


def test_a_change_the_audit_log_cannot_record_is_not_made(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With an audit directory that cannot be created, rotate exits 2 and the keyring stays."""
    _init(capsys)
    before = KEYRING.read_bytes()
    (workdir / "file").write_text("")
    assert main(["keys", "rotate", "--data-dir", "file/var"]) == 2
    assert "cannot open the audit log in file/var" in capsys.readouterr().err
    assert KEYRING.read_bytes() == before


# --- decrypt --file ----------------------------------------------------------------------------


@pytest.fixture
def reply(workdir: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """A vendor reply holding tokens: under the active key, a decrypt-only one, another keyring."""
    _init(capsys)
    old_keyring = load_keyring(KEYRING)
    email = encrypt_value("maria@example.com", "EMAIL_ADDRESS", old_keyring)
    assert main(["keys", "rotate"]) == 0
    capsys.readouterr()
    keyring = load_keyring(KEYRING)
    cards = [encrypt_value("4111 1111 1111 1111", "CREDIT_CARD", keyring, deterministic=True)] * 2
    foreign = encrypt_value("x@example.org", "EMAIL_ADDRESS", create_keyring(workdir / "other"))
    tokens = {"email": email, "card": cards[0], "card_again": cards[1], "foreign": foreign}
    (workdir / "reply.json").write_text(json.dumps(tokens) + "\n")
    return tokens


def test_decrypt_file_restores_every_token_and_audits_counts(
    workdir: Path, reply: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """`decrypt --file` prints the payload with this keyring's tokens restored; exit 0; audited."""
    assert main(["decrypt", "--file", "reply.json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {
        "email": "maria@example.com",
        "card": "4111 1111 1111 1111",
        "card_again": "4111 1111 1111 1111",
        "foreign": reply["foreign"],
    }
    assert captured.out.endswith("}\n")
    assert "3 tokens decrypted, 0 failed" in captured.err
    assert "left as they are (keys " + reply["foreign"].split(":")[2] in captured.err
    keyring = load_keyring(KEYRING)
    (event,) = _events(workdir, "tokens_decrypted")
    assert event["user"] == current_user()
    assert event["keyring"] == str(workdir / KEYRING)
    assert event["file"] == str(workdir / "reply.json")
    assert event["decrypted"] == 3
    assert event["entities"] == {"CREDIT_CARD": 2, "EMAIL_ADDRESS": 1}
    assert event["key_ids"] == sorted(k.id for k in keyring.keys)
    assert event["failures"] == 0
    log = (workdir / "var" / "decisions.jsonl").read_text()
    for text in ("maria", "4111", *reply.values()):
        assert text not in log


def test_decrypt_file_reports_failures_without_the_tokens_and_exits_1(
    workdir: Path, reply: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A tampered or retired-key token stays in the output; stderr gives key id and reason only."""
    keyring = load_keyring(KEYRING)
    old, new = keyring.keys[0].id, keyring.active.id
    assert main(["keys", "retire", old]) == 0
    tampered = reply["card"][:-2] + ("AA" if not reply["card"].endswith("AA") else "BB")
    payload = workdir / "reply.json"
    payload.write_text(json.dumps({**reply, "card_again": tampered}))
    capsys.readouterr()
    assert main(["decrypt", "--file", str(payload)]) == 1
    captured = capsys.readouterr()
    restored = json.loads(captured.out)
    assert restored["card"] == "4111 1111 1111 1111"
    assert restored["email"] == reply["email"]
    assert restored["card_again"] == tampered
    assert f"dlp-proxy: key {old}: cannot decrypt: key '{old}' is retired" in captured.err
    assert f"dlp-proxy: key {new}: token failed authentication" in captured.err
    assert "1 tokens decrypted, 2 failed" in captured.err
    for token in (reply["email"], tampered):
        assert token.split(":")[3][:10] not in captured.err
    (event,) = _events(workdir, "tokens_decrypted")
    assert (event["decrypted"], event["failures"]) == (1, 2)
    assert event["entities"] == {"CREDIT_CARD": 1}
    assert event["key_ids"] == [new]


def test_decrypt_reads_stdin_and_an_environment_keyring(
    workdir: Path,
    reply: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`--file -` reads stdin; `--keyring env:NAME` is logged by the variable's name."""
    monkeypatch.setenv("DLP_KEYRING", KEYRING.read_text())
    payload = (workdir / "reply.json").read_bytes()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(payload)))
    assert main(["decrypt", "--file", "-", "--keyring", "env:DLP_KEYRING"]) == 0
    assert json.loads(capsys.readouterr().out)["email"] == "maria@example.com"
    (event,) = _events(workdir, "tokens_decrypted")
    assert (event["file"], event["keyring"], event["decrypted"]) == (
        "<stdin>",
        "env:DLP_KEYRING",
        3,
    )


def test_decrypt_tokens_are_audited_too(
    workdir: Path, reply: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Tokens given as arguments are audited like a file; a failure names its place and key."""
    argv = ["decrypt", reply["email"], reply["foreign"], "not-a-token"]
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert captured.out == "EMAIL_ADDRESS\tmaria@example.com\n"
    foreign_key = reply["foreign"].split(":")[2]
    assert f"token 2 (key {foreign_key}): cannot decrypt: key '{foreign_key}'" in captured.err
    assert "token 3: not a dlp-proxy token" in captured.err
    (event,) = _events(workdir, "tokens_decrypted")
    assert event["file"] is None
    assert (event["decrypted"], event["failures"]) == (1, 2)
    assert event["entities"] == {"EMAIL_ADDRESS": 1}


@pytest.mark.parametrize(
    "argv", [["decrypt"], ["decrypt", "dlp:v1:k1:AAAA", "--file", "reply.json"]]
)
def test_decrypt_needs_tokens_or_a_file(
    workdir: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    """Neither or both of TOKEN and --file is a usage error, exit 2, with nothing logged."""
    assert main(argv) == 2
    assert "give either TOKENs or --file PATH" in capsys.readouterr().err
    assert _events(workdir) == []


def test_decrypt_shows_nothing_it_cannot_audit(
    workdir: Path, reply: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """When the audit log cannot be opened, decrypt exits 2 and prints no value."""
    (workdir / "file").write_text("")
    assert main(["decrypt", "--file", "reply.json", "--data-dir", "file/var"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "cannot open the audit log in file/var" in captured.err


def test_decrypt_refuses_a_missing_environment_variable(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unset `env:NAME` keyring is named in the error, exit 2."""
    monkeypatch.delenv("DLP_KEYRING", raising=False)
    assert main(["decrypt", "dlp:v1:k1:AAAA", "--keyring", "env:DLP_KEYRING"]) == 2
    assert "environment variable DLP_KEYRING is not set or empty" in capsys.readouterr().err


# --- run: the keyring is checked before the proxy starts --------------------------------------


@pytest.mark.parametrize("source", ["readable-file", "missing-env"])
def test_run_refuses_a_keyring_it_must_not_use_without_a_traceback(
    tmp_path: Path, source: str
) -> None:
    """`dlp-proxy run` with a 0644 keyring (or an unset env:NAME) exits 2 with the reason only."""
    keyring = tmp_path / "keyring.json"
    create_keyring(keyring)
    keyring.chmod(0o644)
    option = str(keyring) if source == "readable-file" else "env:DLP_TEST_UNSET_KEYRING"
    env = {k: v for k, v in os.environ.items() if k != "DLP_TEST_UNSET_KEYRING"}
    argv = [
        str(Path(sys.executable).parent / "dlp-proxy"),
        "run",
        "--policy",
        str(ROOT / "policies" / "default.yaml"),
        "--listen-port",
        "0",
        "--confdir",
        str(tmp_path / "conf"),
        "--data-dir",
        str(tmp_path / "var"),
        "--keyring",
        option,
    ]
    result = subprocess.run(
        argv, capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env, check=False
    )
    assert result.returncode == 2
    if source == "readable-file":
        assert result.stderr.startswith(
            f"dlp-proxy: keyring {keyring} is accessible by other users (mode 644); "
            f"run `chmod 600 {keyring}`"
        )
    else:
        assert result.stderr.startswith(
            "dlp-proxy: environment variable DLP_TEST_UNSET_KEYRING is not set or empty"
        )
    assert "Traceback" not in result.stderr
    assert "ready" not in result.stderr
    assert not (tmp_path / "conf" / "dlp-keyring.json").exists()
