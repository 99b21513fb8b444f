"""The decision log, the incidents and the proxies' output never hold a raw PII value."""

from __future__ import annotations

import base64
import json
import socket
from pathlib import Path

import httpx

from tests.e2e.harness import (
    CARD,
    EMAIL,
    NAME,
    PHONE,
    SSN,
    Proxy,
    Vendor,
    pii_spellings,
    poll,
    ticket,
)

DASHED_SSN = f"{SSN[:3]}-{SSN[3:5]}-{SSN[5:]}"

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


def _raw_request(proxy: Proxy, head: str) -> bytes:
    """Send `head` (request line and headers, CRLF-joined) as it is; the whole answer."""
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=60) as sock:
        sock.sendall(head.encode() + b"\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def _leaks(paths: list[Path]) -> list[str]:
    """Every PII spelling found in any of these files (read as bytes: SQLite files too)."""
    return [
        f"{spelling!r} in {path}"
        for path in paths
        for spelling in pii_spellings()
        if spelling.encode() in path.read_bytes()
    ]


def test_an_ssn_in_the_request_line_and_headers_is_blocked_and_never_logged(
    reverse_proxy: Proxy, http_vendor: Vendor, unique_path: str
) -> None:
    """Path, matrix parameter, query name, bare query, fragment, header name and values: all
    inspected; the request is refused, and no decision, incident, store or output holds it."""
    basic = base64.b64encode(f"maria:{DASHED_SSN}".encode()).decode()
    target = (
        f"{unique_path}/customers/{DASHED_SSN}/notes;ssn={DASHED_SSN}"
        f"?{DASHED_SSN}=1&page=2&{SSN}&{DASHED_SSN}#ssn={DASHED_SSN}"
    )
    head = "\r\n".join(
        [
            f"GET {target} HTTP/1.1",
            f"Host: 127.0.0.1:{reverse_proxy.port}",
            f"X-{DASHED_SSN}: 1",
            f"Cookie: sid=abc; ssn={DASHED_SSN}",
            f"Authorization: Basic {basic}",
            f"Referer: http://shop.example/{DASHED_SSN}?ssn={DASHED_SSN}",
            f"User-Agent: agent/1.0 ({DASHED_SSN})",
            "Connection: close",
        ]
    )
    answer = _raw_request(reverse_proxy, head)
    assert answer.startswith(b"HTTP/1.1 403"), answer[:200]
    assert not [r for r in http_vendor.requests if r.path.startswith(unique_path)]

    def mine() -> list[dict[str, object]]:
        return [d for d in reverse_proxy.decisions() if str(d["path"]).startswith(unique_path)]

    (decision,) = poll(f"the decision for {unique_path}", mine)
    assert decision["outcome"] == "blocked"
    assert decision["path"] == (
        f"{unique_path}/customers/%3CUS_SSN%3E/notes;ssn=?%3CUS_SSN%3E=&page=&<v>&<v>"
    )
    incident = reverse_proxy.incident(str(decision["incident_id"]))
    locations = {f["location"] for f in incident["findings"]}  # type: ignore[attr-defined]
    assert {"fragment", "header:authorization>basic:password", "header:cookie>cookie:ssn"} <= (
        locations
    )
    files = [p for p in reverse_proxy.data_dir.rglob("*") if p.is_file()]
    assert any(p.suffix == ".db" for p in files)  # the incident store is scanned too
    assert _leaks([*files, reverse_proxy.stdout_path, reverse_proxy.stderr_path]) == []


def test_userinfo_in_an_absolute_request_line_never_reaches_the_vendor(
    explicit_proxy: Proxy, http_vendor: Vendor, unique_path: str
) -> None:
    """mitmproxy refuses `GET http://user:pass@host/` (400): the credentials go nowhere."""
    authority = http_vendor.origin.removeprefix("http://")
    head = "\r\n".join(
        [
            f"GET http://maria:{DASHED_SSN}@{authority}{unique_path} HTTP/1.1",
            f"Host: {authority}",
            "Connection: close",
        ]
    )
    answer = _raw_request(explicit_proxy, head)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert http_vendor.received(unique_path) == []
    outputs = [
        explicit_proxy.decisions_path,
        explicit_proxy.stdout_path,
        explicit_proxy.stderr_path,
    ]
    assert _leaks(outputs) == []
