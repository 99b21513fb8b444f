"""Tests for dlp_proxy/incidents/audit.py: decision and incident lines, and what they never hold."""

from __future__ import annotations

import getpass
import json
import os
import re
from dataclasses import replace
from pathlib import Path

import pytest

from dlp_proxy.core.inspect import Decision, FindingRecord, Message, inspect
from dlp_proxy.crypto.keys import DataKey, Keyring
from dlp_proxy.incidents.audit import (
    AuditLog,
    FlowInfo,
    current_user,
    incident_record,
    new_incident_id,
    path_for_logs,
)
from dlp_proxy.policy.loader import parse_policy
from dlp_proxy.policy.model import Action, Direction, Mode, Severity
from tests.support import ScriptedDetector

FLOW = FlowInfo(
    flow_id="f-1",
    client="10.0.0.7:51000",
    scheme="https",
    host="api.vendor.example",
    port=443,
    method="POST",
    path="/tickets?email=maria%40example.com&id=48213",
    direction="request",
)


def _decision(action: Action, mode: Mode = Mode.ENFORCE) -> Decision:
    return Decision(
        action=action,
        mode=mode,
        policy_name="default",
        policy_sha256="ab" * 32,
        vendor="acme",
        rule_ids=("block-ssn",),
        blocking_rule="block-ssn" if action is Action.BLOCK else None,
        entity_counts={"US_SSN": 1, "EMAIL_ADDRESS": 2},
        findings=(
            FindingRecord(
                "US_SSN",
                "$.ssn",
                0.4,
                "UsSsnRecognizer",
                "fp:0123456789abcdef",
                "block",
                "pattern 'ssn' matched (score 0.4)",
            ),
        ),
    )


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/a", "/a"),
        ("/a?email=maria%40example.com&id=3", "/a?email=&id="),
        ("/a?219099999", "/a?<v>"),
        ("/a?a&&219-09-9999&b=1", "/a?<v>&&<v>&b="),
        ("/a?", "/a"),
        ("/a#219099999", "/a"),
        ("/a?x=1#219099999", "/a?x="),
        ("/a#f?ssn=219099999", "/a"),
        ("/a/b;ssn=219099999;219099999/c", "/a/b;ssn=;<v>/c"),
        ("/c/%3CUS_SSN%3E?%3CUS_SSN%3E=&q=&<v>", "/c/%3CUS_SSN%3E?%3CUS_SSN%3E=&q=&<v>"),
    ],
)
def test_uninspected_paths_are_logged_without_values_bare_pieces_or_fragments(
    path: str, expected: str
) -> None:
    """Names stay in the log; values, bare query pieces and the fragment (maybe PII) do not."""
    assert path_for_logs(path) == expected


def test_the_cores_logged_path_is_logged_as_it_is(tmp_path: Path) -> None:
    """A decision that read the request target says how it is logged; the raw path is unused."""
    flow = replace(FLOW, path="/customers/219099999?219099999#x")
    decision = replace(_decision(Action.BLOCK), logged_path="/customers/%3CUS_SSN%3E?<v>")
    with AuditLog(tmp_path) as log:
        log.decision(flow, decision, 1.0, "inc-9")
        log.incident(flow, decision, "inc-9")
    for name in ("decisions.jsonl", "incidents.jsonl"):
        (line,) = _lines(tmp_path / name)
        assert line["path"] == "/customers/%3CUS_SSN%3E?<v>"
    record = incident_record(flow, decision, "inc-9", 10, "body")
    assert record.path == "/customers/%3CUS_SSN%3E?<v>"


@pytest.mark.parametrize(
    ("host", "location", "expected"),
    [
        ("c219099999.vendor.example", "host:0", "<US_SSN>.vendor.example"),
        ("x.219-09-9999.vendor.example", "header:host>host:1", "x.<US_SSN>.vendor.example"),
        ("a.vendor.example", "header::authority>host:1", "a.<US_SSN>.example"),
        ("vendor.example", "header:host>host:5", "<US_SSN>"),
        ("vendor.example", "$.host", "vendor.example"),
        ("vendor.example", "header:x-host>host:0", "vendor.example"),
    ],
)
def test_a_host_label_holding_a_finding_is_logged_as_its_entity(
    tmp_path: Path, host: str, location: str, expected: str
) -> None:
    """A finding in the request's host or in a Host header hides that label in every record."""
    finding = FindingRecord("US_SSN", location, 0.9, "r", "fp:1", "block")
    decision = replace(_decision(Action.BLOCK), findings=(finding,))
    flow = replace(FLOW, host=host)
    with AuditLog(tmp_path) as log:
        log.decision(flow, decision, 1.0, "inc-8")
        log.incident(flow, decision, "inc-8")
    assert _lines(tmp_path / "decisions.jsonl")[0]["host"] == expected
    assert _lines(tmp_path / "incidents.jsonl")[0]["host"] == expected
    assert incident_record(flow, decision, "inc-8", 0, "none").host == expected


KEYRING = Keyring(keys=(DataKey(id="ktest", created="x", state="active", secret=b"\x07" * 32),))
SSN = "219-09-9999"
BLOCK_SSN = """
version: 1
name: block-ssn
vendors: [{id: acme, hosts: ["*.vendor.example"]}]
rules:
  - {id: block-ssn, entities: [US_SSN], action: block}
"""


def test_an_ssn_anywhere_in_the_request_line_or_headers_reaches_no_record(tmp_path: Path) -> None:
    """Path, matrix parameter, query name, bare query, fragment, header name and values, host:
    the decision, incident line and incident record hold none of the SSN."""
    target = f"/customers/{SSN}/notes;ssn={SSN};{SSN}/x?{SSN}=1&q=2&{SSN}#ssn={SSN}"
    headers = (
        ("Host", f"{SSN}.vendor.example"),
        (f"X-{SSN}", "1"),
        ("Cookie", f"sid=abc; ssn={SSN}"),
        ("Referer", f"https://shop.example/{SSN}?ssn={SSN}"),
        ("User-Agent", f"agent {SSN}"),
    )
    message = Message(
        Direction.REQUEST,
        "GET",
        f"{SSN}.vendor.example",
        target.split("?")[0],
        headers=headers,
        request_target=target,
    )
    policy = parse_policy(BLOCK_SSN)
    decision = inspect(message, policy, detector=ScriptedDetector(), keyring=KEYRING)
    assert decision.action is Action.BLOCK
    flow = replace(FLOW, host=message.host, method="GET", path=target)
    with AuditLog(tmp_path) as log:
        log.decision(flow, decision, 1.0, "inc-7")
        log.incident(flow, decision, "inc-7")
    record = incident_record(flow, decision, "inc-7", 0, "body")
    logged = [
        (tmp_path / "decisions.jsonl").read_text(),
        (tmp_path / "incidents.jsonl").read_text(),
        repr(record),
    ]
    for text in logged:
        for spelling in (SSN, SSN.replace("-", "")):
            assert spelling not in text
    (line,) = _lines(tmp_path / "decisions.jsonl")
    assert line["path"] == "/customers/%3CUS_SSN%3E/notes;ssn=;<v>/x?%3CUS_SSN%3E=&q=&<v>"
    assert line["host"] == "<US_SSN>.vendor.example"
    assert len(decision.findings) >= 9  # path, matrix, query, fragment, host, headers


def test_incident_ids_are_unique_and_time_sortable() -> None:
    """Incident ids start with a UTC timestamp and do not repeat."""
    ids = {new_incident_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"inc-\d{8}T\d{6}Z-[0-9a-f]{8}", i) for i in ids)


def test_decision_line_has_every_field(tmp_path: Path) -> None:
    """A decision line names flow, client, destination, policy, rules, counts, outcome, timing."""
    log = AuditLog(tmp_path)
    log.decision(FLOW, _decision(Action.BLOCK), 12.345, "inc-1")
    log.close()
    (line,) = _lines(tmp_path / "decisions.jsonl")
    assert line["event"] == "decision"
    assert {k: line[k] for k in ("flow_id", "client", "host", "method", "path", "direction")} == {
        "flow_id": "f-1",
        "client": "10.0.0.7:51000",
        "host": "api.vendor.example",
        "method": "POST",
        "path": "/tickets?email=&id=",
        "direction": "request",
    }
    assert line["vendor"] == "acme"
    assert line["policy"] == "default"
    assert line["policy_sha256"] == "ab" * 32
    assert line["rules"] == ["block-ssn"]
    assert line["entities"] == {"EMAIL_ADDRESS": 2, "US_SSN": 1}
    assert (line["action"], line["outcome"], line["mode"]) == ("block", "blocked", "enforce")
    assert line["incident_id"] == "inc-1"
    assert line["inspection_ms"] == 12.35
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+Z", str(line["timestamp"]))


def test_monitor_mode_logs_would_outcomes(tmp_path: Path) -> None:
    """In monitor mode a block is logged as would_block."""
    log = AuditLog(tmp_path)
    log.decision(FLOW, _decision(Action.BLOCK, Mode.MONITOR), 1.0, "inc-2")
    log.close()
    (line,) = _lines(tmp_path / "decisions.jsonl")
    assert (line["outcome"], line["mode"]) == ("would_block", "monitor")


def test_incident_line_carries_fingerprints_not_values(tmp_path: Path) -> None:
    """An incident lists each finding by entity, location and keyed fingerprint."""
    log = AuditLog(tmp_path)
    log.incident(FLOW, _decision(Action.BLOCK), "inc-3")
    log.close()
    (line,) = _lines(tmp_path / "incidents.jsonl")
    assert line["event"] == "incident"
    assert line["incident_id"] == "inc-3"
    assert line["findings"] == [
        {
            "entity": "US_SSN",
            "location": "$.ssn",
            "score": 0.4,
            "recognizer": "UsSsnRecognizer",
            "fingerprint": "fp:0123456789abcdef",
            "why": "pattern 'ssn' matched (score 0.4)",
        }
    ]
    assert "maria" not in (tmp_path / "incidents.jsonl").read_text()


def test_decisions_can_also_go_to_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With to_stdout, each decision line is also printed, identical to the file's."""
    log = AuditLog(tmp_path, to_stdout=True)
    log.decision(FLOW, _decision(Action.ALLOW), 1.0, None)
    log.close()
    printed = capsys.readouterr().out.strip()
    assert printed == (tmp_path / "decisions.jsonl").read_text().strip()
    assert "incident_id" not in json.loads(printed)


def test_severity_shadow_and_allow_reasons_are_logged(tmp_path: Path) -> None:
    """A decision line carries the severity, a shadow rule's would-outcome and allow reasons."""
    log = AuditLog(tmp_path)
    decision = replace(
        _decision(Action.REDACT),
        severity=Severity.HIGH,
        shadow_action=Action.BLOCK,
        shadow_rule_ids=("bulk-export",),
        shadow_severity=Severity.CRITICAL,
        allowed_by=("support-mailbox",),
        allow_reasons={"support-mailbox": "Our own support address."},
    )
    log.decision(FLOW, decision, 1.0, None)
    log.close()
    (line,) = _lines(tmp_path / "decisions.jsonl")
    assert line["severity"] == "high"
    assert line["shadow"] == {
        "outcome": "would_block",
        "rules": ["bulk-export"],
        "severity": "critical",
    }
    assert line["allowed_by"] == [{"id": "support-mailbox", "reason": "Our own support address."}]
    assert line["outcome"] == "redacted"


def test_a_decision_without_severity_shadow_or_allow_has_no_such_keys(tmp_path: Path) -> None:
    """Keys that would be empty are left out, so log consumers can test for presence."""
    log = AuditLog(tmp_path)
    log.decision(FLOW, _decision(Action.ALLOW), 1.0, None)
    log.close()
    (line,) = _lines(tmp_path / "decisions.jsonl")
    assert not {"severity", "shadow", "allowed_by"} & set(line)


def test_events_go_to_the_decision_log_and_the_context_manager_closes_it(tmp_path: Path) -> None:
    """An operational event is a JSON line in decisions.jsonl; leaving `with` closes the files."""
    with AuditLog(tmp_path / "var") as log:
        log.event(
            "key_rotated", user="ops", new_key_id="k2", keys=[{"id": "k2", "state": "active"}]
        )
    (line,) = _lines(tmp_path / "var" / "decisions.jsonl")
    assert line["event"] == "key_rotated"
    assert (line["user"], line["new_key_id"]) == ("ops", "k2")
    assert line["keys"] == [{"id": "k2", "state": "active"}]
    assert "timestamp" in line
    with pytest.raises(ValueError, match="closed file"):
        log.event("after_close")


def test_current_user_is_the_os_account(monkeypatch: pytest.MonkeyPatch) -> None:
    """Audit events name the OS user; with no name to be had, the numeric uid."""
    monkeypatch.setenv("LOGNAME", "alice")
    assert current_user() == getpass.getuser() == "alice"

    def nameless() -> str:
        raise OSError("No username set in the environment")

    monkeypatch.setattr(getpass, "getuser", nameless)
    assert current_user() == f"uid:{os.getuid()}"


@pytest.mark.parametrize(
    ("method", "logged"),
    [("POST", "POST"), ("PROPFIND", "PROPFIND"), ("X219099999", "<custom>"), ("sync", "<custom>")],
)
def test_a_custom_method_is_logged_as_a_placeholder(
    tmp_path: Path, method: str, logged: str
) -> None:
    """Any token is a method, a custom one may be data: decisions and incidents say `<custom>`."""
    flow = replace(FLOW, method=method)
    log = AuditLog(tmp_path)
    log.decision(flow, _decision(Action.BLOCK), 1.0, "inc-1")
    log.close()
    line = json.loads((tmp_path / "decisions.jsonl").read_text().splitlines()[-1])
    assert line["method"] == logged
    assert incident_record(flow, _decision(Action.BLOCK), "inc-1", 10, "none").method == logged
