"""The default policy enforced end to end: what the vendor actually receives, and what is logged."""

from __future__ import annotations

import base64
import gzip
import json
import subprocess
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx

from tests.e2e.harness import (
    BIN,
    EMAIL,
    NAME,
    PHONE,
    SSN,
    TOKEN_RE,
    Proxy,
    Vendor,
    assert_masked,
    assert_ticket_protected,
    client_tls_context,
    pii_spellings,
    ticket,
)

BLOCK_MESSAGE_KEYS = {"error", "incident_id", "rule", "message"}


def test_ticket_is_tokenized_masked_and_named_away_over_https(
    explicit_client: httpx.Client, explicit_proxy: Proxy, https_vendor: Vendor, unique_path: str
) -> None:
    """Over explicit HTTPS the vendor gets the ticket's JSON with card token, masks, <PERSON>."""
    sent = ticket()
    response = explicit_client.post(https_vendor.origin + unique_path, json=sent)
    assert response.status_code == 200, response.text
    assert response.json()["ok"] is True
    received = https_vendor.only(unique_path)
    assert received.method == "POST"
    assert received.header("content-type") == "application/json"
    assert int(received.header("content-length") or -1) == len(received.body)
    assert_ticket_protected(received.json(), sent, explicit_proxy.keyring)
    decision = explicit_proxy.decision_for(unique_path)
    assert decision["outcome"] == "encrypted"
    assert decision["rules"] == ["encrypt-card-numbers", "redact-contact-details", "redact-names"]
    assert decision["entities"] == {
        "CREDIT_CARD": 1,
        "EMAIL_ADDRESS": 1,
        "PERSON": 2,
        "PHONE_NUMBER": 1,
    }
    assert decision["policy"] == "default"
    assert decision["mode"] == "enforce"
    assert decision["host"] == "127.0.0.1"
    assert decision["method"] == "POST"
    assert "incident_id" not in decision


def test_card_tokens_are_deterministic(
    explicit_client: httpx.Client, https_vendor: Vendor, unique_path: str
) -> None:
    """The same card number sent twice becomes the same token, so the vendor can join on it."""
    for _ in range(2):
        response = explicit_client.post(https_vendor.origin + unique_path, json=ticket())
        assert response.status_code == 200, response.text
    first, second = (r.json()["card"] for r in https_vendor.received(unique_path))
    assert TOKEN_RE.fullmatch(first)
    assert first == second


def test_ticket_with_ssn_is_blocked_with_an_incident(
    explicit_client: httpx.Client, explicit_proxy: Proxy, https_vendor: Vendor, unique_path: str
) -> None:
    """A ticket with an SSN never reaches the vendor; the client gets a PII-free 403 and an id."""
    response = explicit_client.post(https_vendor.origin + unique_path, json=ticket(ssn=SSN))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == BLOCK_MESSAGE_KEYS
    assert body["error"] == "blocked_by_dlp_policy"
    assert body["rule"] == "block-ssn-and-bank-numbers"
    assert body["incident_id"].startswith("inc-")
    leaked = [s for s in pii_spellings() if s in response.text]
    assert leaked == []
    assert https_vendor.received(unique_path) == []
    incident = explicit_proxy.incident(body["incident_id"])
    assert incident["blocking_rule"] == "block-ssn-and-bank-numbers"
    assert incident["path"] == unique_path
    assert "US_SSN" in {f["entity"] for f in incident["findings"]}
    assert all(f["fingerprint"].startswith("fp:") for f in incident["findings"])
    decision = explicit_proxy.decision_for(unique_path)
    assert decision["outcome"] == "blocked"
    assert decision["incident_id"] == body["incident_id"]
    assert decision["entities"]["US_SSN"] == 1
    _check_the_stored_incident(explicit_proxy, body["incident_id"], unique_path)


def _check_the_stored_incident(proxy: Proxy, incident_id: str, path: str) -> None:
    """The incident is in the proxy's incidents.db with its evidence sealed (the store holds
    no SSN in any spelling); `incidents show`, `reveal` with the responder's key and `verify`
    work on it through the CLI."""
    data = str(proxy.data_dir)
    stored = (proxy.data_dir / "incidents.db").read_bytes()
    assert [s for s in pii_spellings() if s.encode() in stored] == []

    def cli(*argv: str) -> subprocess.CompletedProcess[str]:
        command = [str(BIN / "dlp-proxy"), "incidents", *argv, "--data-dir", data]
        return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)

    shown = cli("show", incident_id, "--format", "json")
    assert shown.returncode == 0, shown.stderr
    incident = json.loads(shown.stdout)
    assert (incident["outcome"], incident["path"]) == ("blocked", path)
    assert incident["evidence_kind"] == "body"
    assert incident["evidence_sealed"] is True
    key = str(proxy.workdir / "responder.pem")
    revealed = cli("reveal", incident_id, "--key", key, "--format", "json")
    assert revealed.returncode == 0, revealed.stderr
    evidence = json.loads(revealed.stdout)
    assert evidence["url"].endswith(path)
    assert SSN in base64.b64decode(evidence["body_base64"]).decode()
    verified = cli("verify")
    assert verified.returncode == 0, verified.stdout
    assert verified.stdout.startswith("intact:")


def test_ticket_is_protected_in_reverse_mode(
    reverse_client: httpx.Client, reverse_proxy: Proxy, http_vendor: Vendor, unique_path: str
) -> None:
    """Through a reverse proxy the vendor gets the same protected ticket as in explicit mode."""
    sent = ticket()
    response = reverse_client.post(unique_path, json=sent)
    assert response.status_code == 200, response.text
    received = http_vendor.only(unique_path)
    assert int(received.header("content-length") or -1) == len(received.body)
    assert_ticket_protected(received.json(), sent, reverse_proxy.keyring)
    decision = reverse_proxy.decision_for(unique_path)
    assert decision["outcome"] == "encrypted"
    assert decision["mode"] == "enforce"


def test_gzip_body_is_redacted_and_stays_gzip(
    explicit_client: httpx.Client, https_vendor: Vendor, unique_path: str
) -> None:
    """A gzip JSON body reaches the vendor gzip-encoded, redacted, with a matching length."""
    sent = {"ticket_id": "T-48214", "email": EMAIL, "subject": "Address change"}
    response = explicit_client.post(
        https_vendor.origin + unique_path,
        content=gzip.compress(json.dumps(sent).encode()),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert response.status_code == 200, response.text
    received = https_vendor.only(unique_path)
    assert received.header("content-encoding") == "gzip"
    assert int(received.header("content-length") or -1) == len(received.body)
    redacted = json.loads(gzip.decompress(received.body))
    assert list(redacted) == list(sent)
    assert_masked(redacted["email"], EMAIL)
    assert redacted["ticket_id"] == sent["ticket_id"]
    assert redacted["subject"] == sent["subject"]


def test_form_post_is_masked_and_stays_a_form(
    explicit_client: httpx.Client, https_vendor: Vendor, unique_path: str
) -> None:
    """A urlencoded form reaches the vendor as a valid form with email and phone masked."""
    sent = {"ticket_id": "T-48215", "email": EMAIL, "phone": PHONE, "subject": "Callback"}
    response = explicit_client.post(https_vendor.origin + unique_path, data=sent)
    assert response.status_code == 200, response.text
    received = https_vendor.only(unique_path)
    assert received.header("content-type") == "application/x-www-form-urlencoded"
    assert int(received.header("content-length") or -1) == len(received.body)
    form = parse_qsl(received.body.decode("ascii"), keep_blank_values=True, strict_parsing=True)
    assert [k for k, _ in form] == list(sent)
    values = dict(form)
    assert_masked(values["email"], EMAIL)
    assert_masked(values["phone"], PHONE)
    assert values["ticket_id"] == sent["ticket_id"]
    assert values["subject"] == sent["subject"]


def test_query_string_email_is_masked(
    explicit_client: httpx.Client, explicit_proxy: Proxy, https_vendor: Vendor, unique_path: str
) -> None:
    """An email in a GET's query string reaches the vendor masked; other parameters unchanged."""
    response = explicit_client.get(
        https_vendor.origin + unique_path, params={"email": EMAIL, "ticket": "48213"}
    )
    assert response.status_code == 200, response.text
    received = https_vendor.only(unique_path)
    assert received.method == "GET"
    query = parse_qsl(urlsplit(received.path).query, keep_blank_values=True, strict_parsing=True)
    assert [k for k, _ in query] == ["email", "ticket"]
    assert_masked(query[0][1], EMAIL)
    assert query[1] == ("ticket", "48213")
    decision = explicit_proxy.decision_for(unique_path)
    assert decision["path"] == f"{unique_path}?email=&ticket="
    assert decision["outcome"] == "redacted"


def test_request_without_pii_arrives_byte_identical(
    explicit_client: httpx.Client, explicit_proxy: Proxy, https_vendor: Vendor, unique_path: str
) -> None:
    """A body nothing fires on keeps its exact bytes (whitespace, key order) and its path."""
    # Values chosen so Presidio finds nothing: it takes "ORD-2026-000417" for a phone number
    # and "SKU-88-AX" for a person, and then the body is rightly re-serialised.
    raw = (
        b'{\n  "zeta_total" :  1249.50,\r\n\t"order_ids":[ 771203 , "A771204" ],'
        b'"placed_at":"2026-11-28T09:15:42.120+01:00",\n "currency":"EUR",'
        b'"items":  [{"sku":"sku_88ax","qty":3,"unit_price":416.5}] , "status" : "shipped"  }\n'
    )
    path_and_query = f"{unique_path}?page=2&sort=placed_at"
    response = explicit_client.post(
        https_vendor.origin + path_and_query,
        content=raw,
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200, response.text
    received = https_vendor.only(unique_path)
    assert received.body == raw
    assert received.path == path_and_query
    assert received.header("content-type") == "application/json; charset=utf-8"
    assert explicit_proxy.decision_for(unique_path)["outcome"] == "allowed"


def test_malformed_json_fails_closed_and_the_proxy_keeps_serving(
    explicit_client: httpx.Client, explicit_proxy: Proxy, https_vendor: Vendor, unique_path: str
) -> None:
    """Unparsable JSON is blocked by on_error (logged as undecodable_body); later traffic flows."""
    bad_path, good_path = f"{unique_path}/bad", f"{unique_path}/good"
    response = explicit_client.post(
        https_vendor.origin + bad_path,
        content=b'{"ticket_id": "T-48216", "email": "' + EMAIL.encode() + b'", ',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 403
    body = response.json()
    assert set(body) == BLOCK_MESSAGE_KEYS
    assert body["rule"] == "on_error"
    assert https_vendor.received(bad_path) == []
    decision = explicit_proxy.decision_for(bad_path)
    assert decision["error"].startswith("undecodable_body")
    assert decision["outcome"] == "blocked"
    assert decision["inspected"] is False
    assert decision["incident_id"] == body["incident_id"]

    response = explicit_client.post(https_vendor.origin + good_path, json={"ticket_id": "T-48217"})
    assert response.status_code == 200, response.text
    assert https_vendor.only(good_path).json() == {"ticket_id": "T-48217"}


def test_http2_request_is_redacted(
    explicit_proxy: Proxy, https_vendor: Vendor, unique_path: str
) -> None:
    """An HTTP/2 request through the explicit proxy is redacted like an HTTP/1.1 one."""
    with httpx.Client(
        proxy=explicit_proxy.url,
        verify=client_tls_context(explicit_proxy.ca_cert, prefer_h2=True),
        trust_env=False,
        http2=True,
        timeout=60,
    ) as client:
        response = client.post(
            https_vendor.origin + unique_path, json={"ticket_id": "T-48218", "email": EMAIL}
        )
    assert response.http_version == "HTTP/2"
    assert response.status_code == 200, response.text
    received = https_vendor.only(unique_path).json()
    assert received["ticket_id"] == "T-48218"
    assert_masked(received["email"], EMAIL)
    assert explicit_proxy.decision_for(unique_path)["outcome"] == "redacted"


def test_a_large_export_is_inspected_by_the_low_priority_bulk_worker(
    reverse_client: httpx.Client, reverse_proxy: Proxy, http_vendor: Vendor, unique_path: str
) -> None:
    """A CSV export over 64 KiB goes to the bulk worker and arrives protected, every row; the
    proxy runs its interactive worker at its own priority and the bulk worker at niceness 10."""
    rows = [f"C-{i:06d},{NAME},maria.{i}@example.com,{PHONE}" for i in range(2_000)]
    body = ("customer_id,name,email,phone\n" + "\n".join(rows) + "\n").encode()
    assert len(body) > 64 * 1024
    response = reverse_client.post(unique_path, content=body, headers={"Content-Type": "text/csv"})
    assert response.status_code == 200, response.text
    received = http_vendor.only(unique_path).body.decode()
    assert "@example" not in received
    assert NAME not in received
    assert PHONE not in received
    assert received.count("\n") == 2_001  # every row arrived, rewritten in place
    decision = reverse_proxy.decision_for(unique_path)
    assert decision["outcome"] == "redacted"
    assert decision["entities"]["EMAIL_ADDRESS"] == 2_000
    [ready] = [
        json.loads(line)
        for line in reverse_proxy.stdout().splitlines()
        if line.startswith("{") and '"proxy_ready"' in line
    ]
    settings = ("workers", "bulk_workers", "bulk_bytes", "bulk_timeout_s")
    assert [ready[k] for k in settings] == [1, 1, 65536, 120]
    assert reverse_proxy.process is not None
    children = Path(f"/proc/{reverse_proxy.process.pid}/task/{reverse_proxy.process.pid}/children")
    workers = [  # multiprocessing's resource tracker is a child too
        pid
        for pid in children.read_text().split()
        if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]
    nice = sorted(
        int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16]) for pid in workers
    )
    assert nice == [0, 10]
