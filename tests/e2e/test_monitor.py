"""Monitor mode: traffic passes untouched and the logs say what enforcement would have done."""

from __future__ import annotations

import json

import httpx

from tests.e2e.harness import SSN, Proxy, Vendor, ticket


def test_monitor_mode_forwards_an_ssn_ticket_unchanged_and_logs_would_block(
    monitor_client: httpx.Client, monitor_proxy: Proxy, http_vendor: Vendor, unique_path: str
) -> None:
    """In monitor mode a ticket enforcement would block reaches the vendor byte for byte."""
    raw = json.dumps(ticket(ssn=SSN), indent=1).encode()
    response = monitor_client.post(
        unique_path, content=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    received = http_vendor.only(unique_path)
    assert received.body == raw
    assert received.path == unique_path
    decision = monitor_proxy.decision_for(unique_path)
    assert decision["mode"] == "monitor"
    assert decision["outcome"] == "would_block"
    assert decision["blocking_rule"] == "block-ssn-and-bank-numbers"
    incident = monitor_proxy.incident(decision["incident_id"])
    assert incident["outcome"] == "would_block"


def test_monitor_mode_forwards_a_card_ticket_unchanged_and_logs_would_encrypt(
    monitor_client: httpx.Client, monitor_proxy: Proxy, http_vendor: Vendor, unique_path: str
) -> None:
    """In monitor mode a ticket enforcement would tokenize and mask is forwarded as sent."""
    raw = json.dumps(ticket()).encode()
    response = monitor_client.post(
        unique_path, content=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert http_vendor.only(unique_path).body == raw
    decision = monitor_proxy.decision_for(unique_path)
    assert decision["outcome"] == "would_encrypt"
    assert "incident_id" not in decision
