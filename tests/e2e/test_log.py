"""The decision log, the incidents and the proxies' output never hold a raw PII value."""

from __future__ import annotations

import json

import httpx

from tests.e2e.harness import CARD, EMAIL, NAME, PHONE, SSN, Proxy, Vendor, pii_spellings, ticket

# Names of the messages each proxy gets below, one decision line each.
MESSAGES = ("ticket", "blocked", "form", "query", "malformed")


def _send_every_kind_of_pii(client: httpx.Client, base: str) -> None:
    client.post(f"{base}/ticket", json=ticket())
    client.post(f"{base}/blocked", json=ticket(ssn=SSN))
    client.post(f"{base}/form", data={"email": EMAIL, "phone": PHONE, "name": NAME})
    client.get(f"{base}/query", params={"email": EMAIL, "phone": PHONE, "card": CARD, "ssn": SSN})
    client.post(
        f"{base}/malformed",
        content=f'{{"name": "{NAME}", "ssn": "{SSN}", '.encode(),
        headers={"Content-Type": "application/json"},
    )


def test_no_raw_pii_in_decisions_incidents_or_output(
    explicit_client: httpx.Client,
    reverse_client: httpx.Client,
    monitor_client: httpx.Client,
    explicit_proxy: Proxy,
    reverse_proxy: Proxy,
    monitor_proxy: Proxy,
    https_vendor: Vendor,
    unique_path: str,
) -> None:
    """No log file or output of any proxy contains a PII value sent in this session."""
    # The test sends every kind of PII itself, so it does not depend on which tests ran before;
    # whatever they sent (all from harness.PII) is covered by the same scan.
    _send_every_kind_of_pii(explicit_client, https_vendor.origin + unique_path)
    _send_every_kind_of_pii(reverse_client, unique_path)
    _send_every_kind_of_pii(monitor_client, unique_path)
    proxies = (explicit_proxy, reverse_proxy, monitor_proxy)
    for proxy in proxies:
        for message in MESSAGES:
            proxy.decision_for(f"{unique_path}/{message}")  # the scan below is not vacuous
        assert len(proxy.incidents()) >= 2  # the SSN ticket and the malformed body
    leaks = [
        f"{spelling!r} in {path}"
        for proxy in proxies
        for path in (
            proxy.decisions_path,
            proxy.incidents_path,
            proxy.stdout_path,
            proxy.stderr_path,
        )
        for spelling in pii_spellings()
        if spelling in path.read_text(encoding="utf-8", errors="replace")
    ]
    assert leaks == []


def test_undecodable_body_error_quotes_none_of_the_body(
    explicit_client: httpx.Client, explicit_proxy: Proxy, https_vendor: Vendor, unique_path: str
) -> None:
    """A body that is not in its declared Content-Encoding is blocked; the log quotes none of it."""
    # mitmproxy's decode error quotes the first bytes of the body; here they are an email.
    response = explicit_client.post(
        https_vendor.origin + unique_path,
        content=f"{EMAIL} asked for a refund\n".encode(),
        headers={"Content-Type": "text/plain", "Content-Encoding": "gzip"},
    )
    assert response.status_code == 403
    assert response.json()["rule"] == "on_error"
    assert https_vendor.received(unique_path) == []
    decision = explicit_proxy.decision_for(unique_path)
    assert decision["error"].startswith("undecodable_body: cannot decode Content-Encoding 'gzip'")
    incident = explicit_proxy.incident(decision["incident_id"])
    for logged in (json.dumps(decision), json.dumps(incident)):
        assert EMAIL[:6] not in logged  # "maria." : any quoted prefix of the body
