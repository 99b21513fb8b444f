"""Tests for dlp_proxy/incidents/evidence.py: what an incident keeps of a blocked message."""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import replace

from dlp_proxy.core.inspect import Message, inspect
from dlp_proxy.crypto.keys import DataKey, Keyring
from dlp_proxy.incidents.evidence import SNIPPET_CONTEXT, evidence_plaintext
from dlp_proxy.policy.loader import parse_policy
from dlp_proxy.policy.model import Evidence, Policy
from tests.support import ScriptedDetector

KEYRING = Keyring(keys=(DataKey(id="k1", created="", state="active", secret=bytes(32)),))
POLICY = parse_policy(
    "version: 1\nname: t\nrules: [{id: block-ssn, entities: [US_SSN], action: block}]\n"
)
URL = "https://api.vendor.example/tickets?ssn=536-90-4399"


def _message(body: bytes, **headers: str) -> Message:
    pairs = [("Content-Type", "application/json"), *headers.items()]
    return Message.for_url(URL, headers=pairs, body=body)


def _evidence(message: Message, policy: Policy) -> dict[str, object] | None:
    decision = inspect(message, policy, detector=ScriptedDetector(), keyring=KEYRING)
    plaintext = evidence_plaintext(message, decision, policy, URL)
    return None if plaintext is None else json.loads(plaintext)


def test_body_evidence_is_the_whole_message_as_received() -> None:
    """Method, URL with its query, headers, and the body still compressed, as on the wire."""
    body = gzip.compress(b'{"ssn": "536-90-4399"}')
    evidence = _evidence(_message(body, **{"Content-Encoding": "gzip"}), POLICY)
    assert evidence is not None
    assert (evidence["kind"], evidence["method"], evidence["url"]) == ("body", "POST", URL)
    assert ["Content-Encoding", "gzip"] in evidence["headers"]  # type: ignore[operator]
    assert evidence["content_encoding"] == "gzip"
    assert base64.b64decode(str(evidence["body_base64"])) == body


def test_snippet_evidence_has_each_finding_with_its_context() -> None:
    """Body and query findings: the value, up to SNIPPET_CONTEXT characters around it."""
    text = "a" * 60 + " ssn 536-90-4399 " + "b" * 60
    policy = replace(POLICY, evidence=Evidence.SNIPPETS)
    evidence = _evidence(_message(json.dumps({"notes": text}).encode()), policy)
    assert evidence is not None
    assert "body_base64" not in evidence
    by_location = {s["location"]: s for s in evidence["snippets"]}  # type: ignore[attr-defined]
    notes = by_location["$.notes"]
    start = text.index("536")
    assert notes["text"] == text[start - SNIPPET_CONTEXT : start + 11 + SNIPPET_CONTEXT]
    assert notes["text"][notes["match_start"] :].startswith("536-90-4399")
    assert by_location["query:ssn"]["text"] == "536-90-4399"


def test_no_evidence_when_the_policy_says_none() -> None:
    """`evidence: none`: nothing to seal."""
    policy = replace(POLICY, evidence=Evidence.NONE)
    assert _evidence(_message(b'{"ssn": "536-90-4399"}'), policy) is None
