"""Policy features through the real proxy: custom detectors, allow lists, shadow rules,
bulk thresholds, severity and vendor data contracts (real Presidio, a recording vendor)."""

from __future__ import annotations

import hashlib
import json
import textwrap
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.harness import Proxy, Vendor, dlp_proxy_argv, free_port

FEATURES_POLICY = r"""
version: 1
name: features
vendors:
  - id: recorder
    hosts: ["127.0.0.1"]
    contracts:
      - id: tickets
        paths: ["/contract/tickets*"]
        methods: [POST]
        fields: ["$.ticket_id", "$.subject", "$.customer.email"]
        entities: [EMAIL_ADDRESS]
detectors:
  - id: acme-customer-id
    entity: ACME_CUSTOMER_ID
    patterns: [{name: acme-id, regex: '\bAC-\d{8}\b', score: 0.3}]
    context: [customer]
  - id: project-names
    entity: PROJECT_NAME
    deny_list: [Project Falcon]
allow:
  - id: support-mailbox
    reason: The client's own support mailbox is not customer data.
    values: [support@client-corp.com]
  - id: health
    reason: Health checks carry no data.
    paths: ["/health*"]
rules:
  - id: contract-tickets
    vendors: [recorder]
    paths: ["/contract/*"]
    contract: strict
    action: redact
    severity: high
  - id: block-customer-ids
    paths: ["/api/*"]
    entities: [ACME_CUSTOMER_ID]
    min_score: 0.5
    action: block
    severity: critical
  - id: bulk-emails
    paths: ["/api/*"]
    min_count: {EMAIL_ADDRESS: 5}
    action: block
    severity: critical
  - id: redact-emails
    paths: ["/api/*"]
    entities: [EMAIL_ADDRESS]
    action: redact
  - id: redact-projects
    paths: ["/api/*"]
    entities: [PROJECT_NAME]
    action: redact
  - id: trial-block-phones
    paths: ["/api/*"]
    entities: [PHONE_NUMBER]
    action: block
    mode: monitor
    severity: low
"""


@pytest.fixture(scope="module")
def features_proxy(
    tmp_path_factory: pytest.TempPathFactory, http_vendor: Vendor
) -> Iterator[Proxy]:
    """A reverse proxy in front of the recording vendor, enforcing FEATURES_POLICY."""
    workdir = tmp_path_factory.mktemp("features-proxy")
    policy = workdir / "features.yaml"
    policy.write_text(textwrap.dedent(FEATURES_POLICY).lstrip(), encoding="utf-8")
    confdir, data_dir, port = workdir / "conf", workdir / "data", free_port()
    argv = dlp_proxy_argv(
        policy, [f"reverse:{http_vendor.origin}"], port, confdir, data_dir, "--workers", "1"
    )
    proxy = Proxy("features proxy", argv, workdir, port, confdir, data_dir)
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture
def client(features_proxy: Proxy) -> Iterator[httpx.Client]:
    """A client talking to the features proxy as if it were the vendor."""
    with httpx.Client(base_url=features_proxy.url, trust_env=False, timeout=60) as c:
        yield c


def post(client: httpx.Client, path: str, body: object) -> httpx.Response:
    """POST `body` as JSON."""
    return client.post(path, json=body)


def test_every_decision_names_the_policy_file_sha256(
    client: httpx.Client, features_proxy: Proxy, unique_path: str
) -> None:
    """The decision log names the sha256 of the policy file the decision was taken under."""
    assert post(client, unique_path, {"subject": "printer"}).status_code == 200
    policy_file = features_proxy.workdir / "features.yaml"
    expected = hashlib.sha256(policy_file.read_bytes()).hexdigest()
    assert features_proxy.decision_for(unique_path)["policy_sha256"] == expected


def test_a_custom_detector_with_context_blocks_and_the_incident_has_its_severity(
    client: httpx.Client, features_proxy: Proxy, http_vendor: Vendor, unique_path: str
) -> None:
    """A customer id found by a policy regex, lifted by a context word, is blocked (critical)."""
    response = post(client, unique_path, {"note": "customer id AC-12345678 called back"})
    assert response.status_code == 403
    assert http_vendor.received(unique_path) == []
    decision = features_proxy.decision_for(unique_path)
    assert decision["blocking_rule"] == "block-customer-ids"
    assert decision["severity"] == "critical"
    assert decision["entities"] == {"ACME_CUSTOMER_ID": 1}
    incident = features_proxy.incident(decision["incident_id"])
    assert incident["severity"] == "critical"
    (finding,) = incident["findings"]
    assert finding["recognizer"] == "custom:acme-customer-id"
    assert "context word 'customer'" in finding["why"]
    assert "AC-12345678" not in json.dumps(incident)


def test_a_custom_pattern_without_its_context_stays_under_the_threshold(
    client: httpx.Client, http_vendor: Vendor, unique_path: str
) -> None:
    """The bare pattern scores 0.3, under the rule's 0.5: the same id with no context passes."""
    body = {"note": "order AC-12345678 shipped"}
    assert post(client, unique_path, body).status_code == 200
    assert json.loads(http_vendor.only(unique_path).body) == body


def test_deny_list_values_are_redacted(
    client: httpx.Client, http_vendor: Vendor, unique_path: str
) -> None:
    """An exact deny-list value is found as its custom entity type and redacted."""
    assert post(client, unique_path, {"note": "status of project falcon?"}).status_code == 200
    assert json.loads(http_vendor.only(unique_path).body) == {"note": "status of <PROJECT_NAME>?"}


def test_an_allowed_value_passes_and_the_reason_is_logged(
    client: httpx.Client, features_proxy: Proxy, http_vendor: Vendor, unique_path: str
) -> None:
    """The allow-listed address reaches the vendor; the customer's is redacted; the log says why."""
    body = {"from": "support@client-corp.com", "to": "maria.gonzalez@example.com"}
    assert post(client, unique_path, body).status_code == 200
    assert json.loads(http_vendor.only(unique_path).body) == {
        "from": "support@client-corp.com",
        "to": "<EMAIL_ADDRESS>",
    }
    decision = features_proxy.decision_for(unique_path)
    assert decision["allowed_by"] == [
        {
            "id": "support-mailbox",
            "reason": "The client's own support mailbox is not customer data.",
        }
    ]


def test_an_exempt_path_is_forwarded_uninspected_with_its_reason(
    client: httpx.Client, features_proxy: Proxy, http_vendor: Vendor
) -> None:
    """A path on the allow list is not inspected at all, and the decision says which entry."""
    path = "/health/deep"
    raw = json.dumps({"probe": "maria.gonzalez@example.com"}).encode()
    before = len(http_vendor.received(path))
    response = client.post(path, content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    assert http_vendor.received(path)[before:][0].body == raw
    decision = [d for d in features_proxy.decisions() if d["path"] == path][-1]
    assert decision["inspected"] is False
    assert decision["allowed_by"][0]["id"] == "health"


def test_a_shadow_rule_logs_would_block_apart_and_changes_nothing(
    client: httpx.Client, features_proxy: Proxy, http_vendor: Vendor, unique_path: str
) -> None:
    """A monitor-mode rule in an enforcing policy: the phone passes, the log has a would_block."""
    body = {"note": "call me on +1 415-555-0142 after five"}
    assert post(client, unique_path, body).status_code == 200
    assert json.loads(http_vendor.only(unique_path).body) == body
    decision = features_proxy.decision_for(unique_path)
    assert decision["outcome"] == "allowed"
    assert decision["shadow"] == {
        "outcome": "would_block",
        "rules": ["trial-block-phones"],
        "severity": "low",
    }
    incident = features_proxy.incident(decision["incident_id"])
    assert incident["outcome"] == "allowed"
    assert incident["shadow"]["outcome"] == "would_block"


def test_a_bulk_threshold_blocks_a_whole_export_but_not_a_small_one(
    client: httpx.Client, features_proxy: Proxy, http_vendor: Vendor, unique_path: str
) -> None:
    """Four addresses are redacted; five in one transfer is a bulk export and is blocked."""
    emails = [f"customer{i}@example.com" for i in range(5)]
    small = post(client, unique_path + "/small", {"to": emails[:4]})
    assert small.status_code == 200
    assert json.loads(http_vendor.only(unique_path + "/small").body) == {
        "to": ["<EMAIL_ADDRESS>"] * 4
    }
    bulk = post(client, unique_path + "/bulk", {"to": emails})
    assert bulk.status_code == 403
    decision = features_proxy.decision_for(unique_path + "/bulk")
    assert decision["blocking_rule"] == "bulk-emails"
    assert decision["entities"] == {"EMAIL_ADDRESS": 5}


def test_fields_outside_the_vendor_contract_are_redacted_whole(
    client: httpx.Client, features_proxy: Proxy, http_vendor: Vendor
) -> None:
    """A new field nobody wrote a pattern for cannot slip out: it is outside the contract."""
    path = f"/contract/tickets/{features_proxy.port}"
    body = {
        "ticket_id": "T-1001",
        "subject": "refund request",
        "customer": {
            "email": "maria.gonzalez@example.com",
            "loyalty_note": "VIP, prefers mornings",
        },
        "internal_note": "called twice about the refund",
    }
    assert post(client, path, body).status_code == 200
    assert json.loads(http_vendor.only(path).body) == {
        "ticket_id": "T-1001",
        "subject": "refund request",
        "customer": {"email": "maria.gonzalez@example.com", "loyalty_note": "<OUTSIDE_CONTRACT>"},
        "internal_note": "<OUTSIDE_CONTRACT>",
    }
    decision = features_proxy.decision_for(path)
    assert decision["rules"] == ["contract-tickets"]
    assert decision["severity"] == "high"
    assert decision["entities"] == {"OUTSIDE_CONTRACT": 2}


def test_an_endpoint_no_contract_covers_sends_nothing_readable(
    client: httpx.Client, http_vendor: Vendor, features_proxy: Proxy
) -> None:
    """With no contract for the endpoint, every value is outside and redacted."""
    path = f"/contract/exports/{features_proxy.port}"
    assert post(client, path, {"ticket_id": "T-1", "subject": "hello"}).status_code == 200
    assert json.loads(http_vendor.only(path).body) == {
        "ticket_id": "<OUTSIDE_CONTRACT>",
        "subject": "<OUTSIDE_CONTRACT>",
    }
