"""Tests for dlp_proxy/incidents/audit.py: decision and incident lines, and what they never hold."""

from __future__ import annotations

import getpass
import json
import os
import re
from dataclasses import replace
from pathlib import Path

import pytest

from dlp_proxy.core.inspect import Decision, FindingRecord
from dlp_proxy.incidents.audit import (
    AuditLog,
    FlowInfo,
    current_user,
    new_incident_id,
    strip_query_values,
)
from dlp_proxy.policy.model import Action, Mode, Severity

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
        ("/a?flag", "/a?flag="),
        ("/a?", "/a?"),
    ],
)
def test_query_values_are_stripped_from_logged_paths(path: str, expected: str) -> None:
    """Query keys stay in the log, their values (possibly PII) do not."""
    assert strip_query_values(path) == expected


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
