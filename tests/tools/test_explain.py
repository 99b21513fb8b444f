"""Tests for dlp_proxy/tools/explain.py: the reports of `dlp-proxy scan` and `dlp-proxy explain`."""

from __future__ import annotations

import json

from dlp_proxy.core.inspect import Message, evaluate
from dlp_proxy.crypto.keys import DataKey, Keyring
from dlp_proxy.policy.loader import parse_policy
from dlp_proxy.policy.model import Direction, Policy
from dlp_proxy.tools.explain import build_report, render_json, render_table
from tests.support import ScriptedDetector

KEYRING = Keyring(keys=(DataKey(id="ktest", created="x", state="active", secret=b"\x05" * 32),))

POLICY = parse_policy(
    """
version: 1
name: explain-unit
vendors: [{id: acme, hosts: [api.acme.example]}]
allow:
  - {id: support, reason: Our own mailbox., values: [help@client.example]}
rules:
  - {id: redact-emails, entities: [EMAIL_ADDRESS], action: redact, severity: low}
  - {id: block-ssn, entities: [US_SSN], action: block, severity: critical}
  - {id: bulk-phones, entities: [PHONE_NUMBER], min_count: 3, action: block}
  - {id: acme-only, vendors: [acme], entities: [PERSON], action: redact}
  - {id: trial, entities: [EMAIL_ADDRESS], action: block, mode: monitor}
"""
)


def report_for(body: bytes, content_type: str, show_values: bool = False, policy: Policy = POLICY):
    """The report for `body` sent to an unknown vendor."""
    message = Message.for_url(
        "https://api.other.example/tickets?x=1",
        headers=(("Content-Type", content_type),),
        body=body,
    )
    evaluation = evaluate(message, policy, detector=ScriptedDetector(), keyring=KEYRING)
    return build_report(message, policy, evaluation, show_values=show_values)


def test_findings_show_location_score_recognizer_why_and_the_action_taken() -> None:
    """Each finding row says where it is, how sure, who found it, why and what happens to it."""
    report = report_for(b'{"note": "write to maria@example.com"}', "application/json")
    (row,) = report.findings
    assert (row.entity, row.location, row.position) == ("EMAIL_ADDRESS", "$.note", "chars 9-26")
    assert row.recognizer == "Scripted"
    assert row.why
    assert row.action == "redact (redact-emails)"
    assert report.outcome == "redacted"
    assert report.shadow == "would_block"


def test_values_are_masked_unless_asked_for() -> None:
    """A report is masked by default, since it is easily pasted into a ticket."""
    body = b'{"note": "write to maria@example.com"}'
    assert report_for(body, "application/json").findings[0].value == "*****@******e.com"
    shown = report_for(body, "application/json", show_values=True)
    assert shown.findings[0].value == "maria@example.com"


def test_text_bodies_get_line_and_column() -> None:
    """In a text body a finding is placed by line and column."""
    report = report_for(b"hello\nssn is 078-05-1120\n", "text/plain")
    (row,) = report.findings
    assert row.position == "line 2 col 8"


def test_allow_list_exemptions_are_listed_with_the_entry() -> None:
    """A finding an allow entry exempts is shown, marked with the entry that allowed it."""
    report = report_for(b'{"a": "help@client.example"}', "application/json")
    (row,) = report.findings
    assert row.exempted_by == "support"
    assert report.allowed_by == ("support",)
    assert report.outcome == "allowed"


def test_rules_say_whether_they_applied_counted_and_fired() -> None:
    """Each rule row says if it applied (and why not), what it counted and whether it fired."""
    report = report_for(b'{"p": ["+1 415-555-0100", "+1 415-555-0101"]}', "application/json")
    rows = {r.id: r for r in report.rules}
    assert rows["bulk-phones"].applies
    assert rows["bulk-phones"].counted == 2
    assert not rows["bulk-phones"].fired
    assert rows["bulk-phones"].note == "below its count threshold"
    assert rows["bulk-phones"].threshold == ">= 3 at score >= 0.4"
    assert not rows["acme-only"].applies
    assert rows["acme-only"].note == "no vendor is not one of acme"
    assert rows["trial"].mode == "monitor"


def test_the_body_received_is_the_rewritten_one_and_none_when_blocked() -> None:
    """`explain` shows what the vendor gets: the redacted body, or nothing for a block."""
    redacted = report_for(b'{"e": "maria@example.com"}', "application/json")
    assert redacted.body == '{"e":"<EMAIL_ADDRESS>"}'
    blocked = report_for(b'{"s": "078-05-1120"}', "application/json")
    assert blocked.body is None
    assert blocked.outcome == "blocked"
    assert blocked.severity == "critical"


def test_table_and_json_renderings_carry_the_same_facts() -> None:
    """Both formats name the findings, the rules, the decision and (when asked) the body."""
    report = report_for(b'{"e": "maria@example.com"}', "application/json")
    table = render_table(report, with_rules=True, with_body=True)
    assert "EMAIL_ADDRESS" in table
    assert "redact-emails" in table
    assert "decision     redacted; by redact-emails; severity low; shadow rules: would_block" in (
        table
    )
    assert '{"e":"<EMAIL_ADDRESS>"}' in table
    assert "maria@example.com" not in table
    data = json.loads(render_json(report, with_body=True))
    assert data["decision"]["outcome"] == "redacted"
    assert data["findings"][0]["entity"] == "EMAIL_ADDRESS"
    assert {r["id"] for r in data["rules"]} == {r.rule.id for r in _outcomes()}
    assert data["body"] == '{"e":"<EMAIL_ADDRESS>"}'


def test_a_response_is_reported_with_its_direction() -> None:
    """A response payload is evaluated as a response."""
    message = Message.for_url(
        "https://api.other.example/tickets",
        method="GET",
        direction=Direction.RESPONSE,
        headers=(("Content-Type", "application/json"),),
        body=b'{"e": "maria@example.com"}',
    )
    evaluation = evaluate(message, POLICY, detector=ScriptedDetector(), keyring=KEYRING)
    report = build_report(message, POLICY, evaluation)
    assert report.destination == "GET api.other.example/tickets (response)"
    assert report.outcome == "allowed"
    assert all(not r.applies for r in report.rules)


def _outcomes():
    message = Message.for_url("https://api.other.example/x")
    return evaluate(message, POLICY, detector=ScriptedDetector(), keyring=KEYRING).rules
