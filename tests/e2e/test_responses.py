"""The response direction through the real proxy: JSON, chunked and event-stream answers.

One proxy, one policy: answers under /stream/held/ are covered by rules that act (block SSNs,
mask emails), answers under /stream/watched/ by a rule on trial only. A held answer reaches
the client once inspected, whole; a watched one as it comes, inspected off the event loop in
windows of events while the stream is open (docs/gateway.md).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.harness import STREAM_PREFIX
from tests.e2e.harness import (
    EMAIL,
    SSN,
    Proxy,
    Vendor,
    assert_masked,
    dlp_proxy_argv,
    free_port,
    poll,
)

POLICY = """\
version: 1
name: responses
mode: enforce
on_error: block
rules:
  - id: stop-ssn-answers
    direction: response
    paths: ["/stream/held/*"]
    entities: [US_SSN]
    action: block
  - id: mask-email-answers
    direction: response
    paths: ["/stream/held/*"]
    entities: [EMAIL_ADDRESS]
    action: redact
    redact: {operator: mask, keep: 4}
  - id: watch-answers
    direction: response
    paths: ["/stream/watched/*"]
    entities: [US_SSN]
    action: block
    mode: monitor
"""

HELD = f"{STREAM_PREFIX}held"
WATCHED = f"{STREAM_PREFIX}watched"
SSN_DASHED = f"{SSN[:3]}-{SSN[3:5]}-{SSN[5:]}"
TIMEOUT = 60.0


@pytest.fixture(scope="module")
def responses_proxy(
    tmp_path_factory: pytest.TempPathFactory, http_vendor: Vendor
) -> Iterator[Proxy]:
    """A reverse proxy in front of the plain-HTTP vendor, enforcing POLICY."""
    workdir = tmp_path_factory.mktemp("responses-proxy")
    confdir, data_dir, port = workdir / "conf", workdir / "data", free_port()
    policy = workdir / "responses.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    argv = dlp_proxy_argv(
        policy, [f"reverse:{http_vendor.origin}"], port, confdir, data_dir, "--workers", "1"
    )
    proxy = Proxy("responses proxy", argv, workdir, port, confdir, data_dir)
    proxy.start()
    yield proxy
    proxy.stop()


@dataclass
class _Streamed:
    """What a client got of one streamed answer, each chunk with the time it arrived."""

    status: int = 0
    chunks: list[tuple[float, bytes]] = field(default_factory=list)
    error: str = ""

    @property
    def body(self) -> bytes:
        return b"".join(chunk for _, chunk in self.chunks)

    def first(self, marker: bytes) -> float:
        """When the client had `marker` (the first chunk that completed it)."""
        seen = b""
        for at, chunk in self.chunks:
            seen += chunk
            if marker in seen:
                return at
        raise AssertionError(f"{marker!r} never arrived: {self.body!r}")


def _spec(content_type: str, chunks: list[str]) -> bytes:
    return json.dumps({"content_type": content_type, "chunks": chunks}).encode()


def _stream(proxy: Proxy, path: str, spec: bytes) -> tuple[threading.Thread, _Streamed]:
    """POST `spec` to `path` in a thread that records each chunk of the answer as it comes."""
    got = _Streamed()

    def run() -> None:
        try:
            with (
                httpx.Client(base_url=proxy.url, trust_env=False, timeout=TIMEOUT) as client,
                client.stream("POST", path, content=spec) as response,
            ):
                got.status = response.status_code
                for chunk in response.iter_raw():
                    got.chunks.append((time.monotonic(), chunk))
        except httpx.HTTPError as e:
            got.error = f"{type(e).__name__}: {e}"

    thread = threading.Thread(target=run, name=f"client {path}", daemon=True)
    thread.start()
    return thread, got


def _gated(
    proxy: Proxy, vendor: Vendor, path: str, spec: bytes, hold: float = 2.5
) -> tuple[_Streamed, float]:
    """Stream an answer whose last chunk the vendor holds `hold` seconds; when it let go."""
    gate = vendor.gates[path] = threading.Event()
    try:
        thread, got = _stream(proxy, path, spec)
        time.sleep(hold)
        released = time.monotonic()
        gate.set()
        thread.join(TIMEOUT)
        assert not thread.is_alive(), "the client is still waiting"
    finally:
        del vendor.gates[path]
    assert got.error == "", got.error
    return got, released


def _response_decisions(proxy: Proxy, path: str, least: int = 1) -> list[dict[str, Any]]:
    """The response decisions logged for `path` (waits for at least `least`)."""

    def find() -> list[dict[str, Any]]:
        found = [
            d
            for d in proxy.decisions()
            if d["path"].split("?", 1)[0] == path and d["direction"] == "response"
        ]
        return found if len(found) >= least else []

    found: list[dict[str, Any]] = poll(f"{least} response decisions for {path}", find)
    return found


def _events(*data: str) -> list[str]:
    return [f"data: {d}\n\n" for d in data]


def test_a_watched_event_stream_flows_as_it_comes_and_is_inspected_meanwhile(
    responses_proxy: Proxy, http_vendor: Vendor, unique_path: str
) -> None:
    """The client reads events while the vendor still holds the last; the SSN is logged
    as a would-be block before the stream ends, and nothing is changed."""
    path = f"{WATCHED}{unique_path}"
    events = _events("hello", f'{{"ssn": "{SSN_DASHED}"}}', "[DONE]")
    spec = _spec("text/event-stream", events)
    gate = http_vendor.gates[path] = threading.Event()
    try:
        thread, got = _stream(responses_proxy, path, spec)
        # Before the vendor sends its last event: the would_block is logged already.
        [decision] = _response_decisions(responses_proxy, path)
        assert got.first(SSN_DASHED.encode()) < time.monotonic()
        gate.set()
        thread.join(TIMEOUT)
    finally:
        del http_vendor.gates[path]
    assert (got.status, got.error) == (200, "")
    assert got.body.decode() == "".join(events)  # every byte as the vendor sent it
    assert decision["mode"] == "monitor"
    assert decision["shadow"]["outcome"] == "would_block"
    assert decision["shadow"]["rules"] == ["watch-answers"]
    assert decision["entities"] == {"US_SSN": 1}
    assert responses_proxy.incident(decision["incident_id"])["direction"] == "response"
    decisions = _response_decisions(responses_proxy, path, least=2)  # the last window
    assert [d.get("shadow") for d in decisions[1:]] == [None]


def test_a_held_event_stream_reaches_the_client_once_inspected_and_rewritten(
    responses_proxy: Proxy, http_vendor: Vendor, unique_path: str
) -> None:
    """Under a rule that acts, nothing arrives before the end; then the events, email masked."""
    path = f"{HELD}{unique_path}"
    events = _events("hello", f"mail {EMAIL}", "[DONE]")
    got, released = _gated(responses_proxy, http_vendor, path, _spec("text/event-stream", events))
    assert got.status == 200
    assert got.first(b"data: hello") > released
    text = got.body.decode()
    assert EMAIL not in text
    masked = text.split("data: mail ", 1)[1].split("\n", 1)[0]
    assert_masked(masked, EMAIL)
    [decision] = _response_decisions(responses_proxy, path)
    assert (decision["outcome"], decision["rules"]) == ("redacted", ["mask-email-answers"])


def test_a_held_event_stream_with_an_ssn_is_refused_whole(
    responses_proxy: Proxy, http_vendor: Vendor, unique_path: str
) -> None:
    """A block: the client gets the 403 instead of any event."""
    path = f"{HELD}{unique_path}"
    events = _events("hello", f"ssn {SSN_DASHED}")
    got, _ = _gated(responses_proxy, http_vendor, path, _spec("text/event-stream", events), 0.5)
    assert got.status == 403
    answer = json.loads(got.body)
    assert answer["rule"] == "stop-ssn-answers"
    assert SSN_DASHED.encode() not in got.body
    [decision] = _response_decisions(responses_proxy, path)
    assert decision["incident_id"] == answer["incident_id"]


def test_a_held_chunked_json_answer_is_rewritten(responses_proxy: Proxy, unique_path: str) -> None:
    """JSON sent in chunks is read whole: the email is masked in its place."""
    path = f"{HELD}{unique_path}"
    chunks = ['{"ticket": "T-1", "email": "', EMAIL, '", "ok": true}']
    thread, got = _stream(responses_proxy, path, _spec("application/json", chunks))
    thread.join(TIMEOUT)
    assert (got.status, got.error) == (200, "")
    answer = json.loads(got.body)
    assert (answer["ticket"], answer["ok"]) == ("T-1", True)
    assert_masked(answer["email"], EMAIL)


def test_a_watched_chunked_json_answer_goes_on_unchanged_and_is_logged(
    responses_proxy: Proxy, unique_path: str
) -> None:
    """Under a rule on trial the vendor's bytes reach the client as sent; the finding is logged."""
    path = f"{WATCHED}{unique_path}"
    chunks = ['{"ticket": "T-1", ', f'"ssn": "{SSN_DASHED}"', "}"]
    thread, got = _stream(responses_proxy, path, _spec("application/json", chunks))
    thread.join(TIMEOUT)
    assert (got.status, got.error) == (200, "")
    assert got.body.decode() == "".join(chunks)
    [decision] = _response_decisions(responses_proxy, path)
    assert decision["shadow"]["outcome"] == "would_block"


def test_a_watched_answer_that_cannot_be_read_is_not_blocked(
    responses_proxy: Proxy, unique_path: str
) -> None:
    """A binary answer under a rule on trial: delivered; the error is logged, no incident."""
    path = f"{WATCHED}{unique_path}"
    thread, got = _stream(responses_proxy, path, _spec("application/octet-stream", ["\x00\x01"]))
    thread.join(TIMEOUT)
    assert (got.status, got.body) == (200, b"\x00\x01")
    [decision] = _response_decisions(responses_proxy, path)
    assert decision["outcome"] == "allowed"
    assert decision["error"].startswith("undecodable_body")
    assert "incident_id" not in decision


def test_no_response_value_is_logged(responses_proxy: Proxy, unique_path: str) -> None:
    """Whatever the answers held, the proxy's logs and output never show a raw value."""
    # Its own answers first, so that the scan is not empty when this test runs alone.
    for path, content_type in (
        (f"{WATCHED}{unique_path}", "text/event-stream"),
        (f"{HELD}{unique_path}", "application/json"),
    ):
        chunks = [f'{{"ssn": "{SSN_DASHED}", ', f'"email": "{EMAIL}"}}']
        thread, _ = _stream(responses_proxy, path, _spec(content_type, chunks))
        thread.join(TIMEOUT)
        [decision] = _response_decisions(responses_proxy, path)
        assert decision["entities"]["US_SSN"] == 1
    paths: list[Path] = [
        responses_proxy.decisions_path,
        responses_proxy.incidents_path,
        responses_proxy.stdout_path,
        responses_proxy.stderr_path,
    ]
    for logged in paths:
        text = logged.read_text(encoding="utf-8", errors="replace")
        assert SSN_DASHED not in text
        assert EMAIL not in text
        assert "mitmproxy has crashed!" not in text
