"""Tests for dlp_proxy/core/inspect.py: routing, rule firing, rewriting and failing closed."""

from __future__ import annotations

import base64
import csv
import gzip
import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import unquote_plus, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlp_proxy.core.actions import fingerprint
from dlp_proxy.core.codecs import Segment
from dlp_proxy.core.inspect import Decision, Message, decide_by_route, evaluate, inspect, route
from dlp_proxy.crypto.keys import DataKey, Keyring
from dlp_proxy.crypto.tokens import TOKEN_PATTERN, decrypt_token, encrypt_value
from dlp_proxy.detection.detector import Finding
from dlp_proxy.detection.presidio import PresidioDetector
from dlp_proxy.policy.loader import load_policy, parse_policy
from dlp_proxy.policy.model import Action, CustomDetector, Direction, Mode, Policy, Severity
from tests.support import DEFAULT_PATTERNS, POLICIES, ScriptedDetector

KEYRING = Keyring(keys=(DataKey(id="ktest", created="x", state="active", secret=b"\x07" * 32),))

CARD = "4111 1111 1111 1111"
EMAIL = "maria@example.com"
SSN = "078-05-1120"

PATTERNS: Mapping[str, tuple[str, float]] = {
    "CREDIT_CARD": (r"\b4111[ -]?1111[ -]?1111[ -]?1111\b", 1.0),
    "EMAIL_ADDRESS": (r"[\w.+-]+@[\w-]+\.[\w.]+", 0.9),
    "US_SSN": (r"\b\d{3}-\d{2}-\d{4}\b", 0.5),
    "PERSON": (r"\b(?:Maria Gonzalez|John Smith|Ann Lee)\b", 0.85),
}


@dataclass
class RegexDetector(ScriptedDetector):
    """The scripted detector with this module's patterns."""

    patterns: Mapping[str, tuple[str, float]] = field(default_factory=lambda: PATTERNS)


class DoublingDetector(RegexDetector):
    """A RegexDetector that reports every finding twice."""

    def detect(
        self,
        segments: Sequence[Segment],
        entities: frozenset[str],
        min_score: float,
        detectors: tuple[CustomDetector, ...] = (),
    ) -> list[Finding]:
        """Each regex finding, twice."""
        return super().detect(segments, entities, min_score, detectors) * 2


class BrokenDetector:
    """A Detector whose analyzer crashes, quoting the text it read."""

    def detect(
        self,
        segments: Sequence[Segment],
        entities: frozenset[str],
        min_score: float,
        detectors: tuple[CustomDetector, ...] = (),
    ) -> list[Finding]:
        """Always raise."""
        raise RuntimeError(f"boom while reading {segments[0].text!r}")


POLICY_YAML = """
version: 1
name: unit
mode: {mode}
on_error: {on_error}
max_body_bytes: {max_body_bytes}
unknown_destinations: {unknown}
vendors:
  - id: acme
    hosts: ["*.acme-cc.example"]
rules:
  - id: block-ssn
    entities: [US_SSN]
    action: block
  - id: encrypt-cards
    entities: [CREDIT_CARD]
    action: encrypt
  - id: redact-emails
    entities: [EMAIL_ADDRESS]
    action: redact
  - id: acme-no-names
    vendors: [acme]
    entities: [PERSON]
    action: block
"""


def make_policy(
    mode: str = "enforce",
    on_error: str = "block",
    max_body_bytes: int = 10_000,
    unknown: str = "inspect",
    rules: str | None = None,
) -> Policy:
    """The unit-test policy, or a policy with just the given rules YAML."""
    text = POLICY_YAML.format(
        mode=mode, on_error=on_error, max_body_bytes=max_body_bytes, unknown=unknown
    )
    if rules is not None:
        text = text[: text.index("rules:")] + "rules:\n" + rules
    return parse_policy(text)


def json_message(
    body: object,
    host: str = "api.vendor.example",
    path: str = "/tickets",
    method: str = "POST",
    direction: Direction = Direction.REQUEST,
    query: tuple[tuple[str, str], ...] = (),
) -> Message:
    """A JSON message with the given body."""
    return Message(
        direction=direction,
        method=method,
        host=host,
        path=path,
        query=query,
        content_type="application/json",
        body=json.dumps(body).encode(),
    )


def run(message: Message, policy: Policy | None = None, detector: object | None = None) -> Decision:
    """Inspect `message` with the unit policy and the regex detector unless told otherwise."""
    return inspect(
        message,
        policy or make_policy(),
        detector=detector or RegexDetector(),  # type: ignore[arg-type]
        keyring=KEYRING,
    )


# --- outcomes --------------------------------------------------------------------------------


def test_no_findings_allows_and_keeps_the_exact_bytes() -> None:
    """A clean message is allowed with body and query None, so its bytes pass unchanged."""
    message = json_message({"subject": "printer broken", "id": 12}, query=(("page", "2"),))
    decision = run(message)
    assert decision.action is Action.ALLOW
    assert decision.outcome == "allowed"
    assert decision.body is None
    assert decision.query is None
    assert decision.inspected is True
    assert decision.rule_ids == ()
    assert decision.findings == ()
    assert decision.entity_counts == {}
    assert decision.policy_name == "unit"


def test_strictest_action_wins_and_block_has_no_body() -> None:
    """With block, encrypt and redact rules all firing, the message is blocked outright."""
    decision = run(json_message({"note": f"{SSN} {CARD} {EMAIL}"}))
    assert decision.action is Action.BLOCK
    assert decision.outcome == "blocked"
    assert decision.blocking_rule == "block-ssn"
    assert decision.rule_ids == ("block-ssn", "encrypt-cards", "redact-emails")
    assert decision.body is None
    assert decision.entity_counts == {"US_SSN": 1, "CREDIT_CARD": 1, "EMAIL_ADDRESS": 1}
    assert {(f.entity, f.action) for f in decision.findings} == {
        ("US_SSN", "block"),
        ("CREDIT_CARD", "encrypt"),
        ("EMAIL_ADDRESS", "redact"),
    }


def test_encrypt_and_redact_change_only_the_matched_spans() -> None:
    """Encrypt and redact rewrite their spans; every other byte of meaning in the JSON is kept."""
    original = {
        "ticket": {
            "note": f"card {CARD}, write to {EMAIL} soon",
            "priority": 3,
            "open": True,
            "ratio": 0.5,
            "tags": ["billing", None],
        },
        "cardNumber": 4111111111111111,
    }
    decision = run(json_message(original))
    assert decision.action is Action.ENCRYPT
    assert decision.outcome == "encrypted"
    assert decision.rule_ids == ("encrypt-cards", "redact-emails")
    assert decision.body is not None
    rebuilt = json.loads(decision.body)

    note = rebuilt["ticket"]["note"]
    match = re.fullmatch(r"card (\S+), write to <EMAIL_ADDRESS> soon", note)
    assert match, note
    assert decrypt_token(match.group(1), KEYRING) == ("CREDIT_CARD", CARD)
    assert decrypt_token(rebuilt["cardNumber"], KEYRING) == ("CREDIT_CARD", "4111111111111111")

    untouched = json.loads(json.dumps(original))
    for changed in (rebuilt, untouched):
        del changed["ticket"]["note"]
        del changed["cardNumber"]
    assert rebuilt == untouched


def test_redact_only_gives_outcome_redacted() -> None:
    """When only a redact rule fires the outcome is `redacted`."""
    decision = run(json_message({"email": EMAIL}))
    assert decision.action is Action.REDACT
    assert decision.outcome == "redacted"
    assert decision.body == b'{"email":"<EMAIL_ADDRESS>"}'


def test_query_string_redaction_returns_new_pairs() -> None:
    """Findings in the query string come back as new query pairs, names and order kept."""
    message = Message(
        Direction.REQUEST,
        "GET",
        "api.vendor.example",
        "/search",
        query=(("q", f"owner {EMAIL}"), ("page", "2"), ("q", "plain")),
    )
    decision = run(message)
    assert decision.action is Action.REDACT
    assert decision.query == (("q", "owner <EMAIL_ADDRESS>"), ("page", "2"), ("q", "plain"))
    assert decision.body is None


def test_body_and_query_are_rewritten_together() -> None:
    """A message with findings in both body and query gets both rewritten."""
    decision = run(json_message({"e": EMAIL}, query=(("card", CARD),)))
    assert decision.body == b'{"e":"<EMAIL_ADDRESS>"}'
    assert decision.query is not None
    ((name, token),) = decision.query
    assert name == "card"
    assert decrypt_token(token, KEYRING) == ("CREDIT_CARD", CARD)


def test_form_body_is_rewritten_as_a_form() -> None:
    """A form body comes back form-encoded with only the matched value changed."""
    message = Message(
        Direction.REQUEST,
        "POST",
        "api.vendor.example",
        "/f",
        content_type="application/x-www-form-urlencoded",
        body=b"name=x&email=maria%40example.com&n=1",
    )
    assert run(message).body == b"name=x&email=%3CEMAIL_ADDRESS%3E&n=1"


# --- rule firing: min_count, min_score, entities ---------------------------------------------


def test_min_count_needs_enough_findings() -> None:
    """A rule with min_count fires only when at least that many of its entities are found."""
    policy = make_policy(
        rules="""
  - id: bulk-names
    entities: [PERSON]
    min_count: 3
    action: block
"""
    )
    two = run(json_message({"a": "Maria Gonzalez", "b": "John Smith"}), policy)
    assert two.action is Action.ALLOW
    assert two.rule_ids == ()
    assert two.entity_counts == {"PERSON": 2}
    assert [f.action for f in two.findings] == ["allow", "allow"]
    three = run(json_message({"a": "Maria Gonzalez", "b": "John Smith", "c": "Ann Lee"}), policy)
    assert three.action is Action.BLOCK
    assert three.blocking_rule == "bulk-names"


def test_duplicate_findings_count_once() -> None:
    """The same finding reported twice by the detector counts once towards min_count."""
    policy = make_policy(
        rules="""
  - id: two-emails
    entities: [EMAIL_ADDRESS]
    min_count: 2
    action: block
"""
    )
    doubled = DoublingDetector()
    decision = run(json_message({"e": EMAIL}), policy, doubled)
    assert decision.action is Action.ALLOW
    assert decision.entity_counts == {"EMAIL_ADDRESS": 1}


def test_min_score_filters_low_scoring_findings() -> None:
    """Findings scoring under a rule's min_score do not fire it; the detector gets the lowest."""
    policy = make_policy(
        rules="""
  - id: strict-ssn
    entities: [US_SSN]
    min_score: 0.6
    action: block
  - id: lenient-email
    entities: [EMAIL_ADDRESS]
    min_score: 0.3
    action: redact
"""
    )
    detector = RegexDetector()
    # Under "ref": a field named "ssn" would make nine digits an SSN by its name alone.
    decision = run(json_message({"ref": SSN, "e": EMAIL}), policy, detector)
    assert decision.action is Action.REDACT
    assert decision.rule_ids == ("lenient-email",)
    assert decision.entity_counts == {"EMAIL_ADDRESS": 1}
    # The structured reading, then the second reading of the whole body (blocked types only).
    assert detector.calls == [
        (frozenset({"US_SSN", "EMAIL_ADDRESS"}), 0.3),
        (frozenset({"US_SSN"}), 0.3),
    ]
    assert json.loads(decision.body or b"") == {"ref": SSN, "e": "<EMAIL_ADDRESS>"}


def test_only_entities_of_applicable_rules_are_asked_for_and_counted() -> None:
    """Only applicable rules' entities are asked for; others the detector reports are ignored."""
    policy = make_policy(
        rules="""
  - id: admin-ssn
    paths: ["/admin/*"]
    entities: [US_SSN]
    action: block
  - id: emails
    entities: [EMAIL_ADDRESS]
    action: redact
"""
    )
    message = json_message({"ssn": SSN, "e": EMAIL}, path="/tickets")
    detector = RegexDetector()
    assert run(message, policy, detector).action is Action.REDACT
    assert detector.calls == [(frozenset({"EMAIL_ADDRESS"}), 0.4)]

    sloppy = RegexDetector(honour_entities=False)
    decision = run(message, policy, sloppy)
    assert decision.action is Action.REDACT
    assert decision.entity_counts == {"EMAIL_ADDRESS": 1}
    assert json.loads(decision.body or b"")["ssn"] == SSN

    admin = run(replace(message, path="/admin/users"), policy, detector)
    assert admin.action is Action.BLOCK
    assert admin.blocking_rule == "admin-ssn"


def test_a_finding_is_rewritten_by_its_strictest_covering_rule() -> None:
    """When a redact and an encrypt rule both cover an entity, the span is encrypted."""
    policy = make_policy(
        rules="""
  - id: redact-cards
    entities: [CREDIT_CARD]
    action: redact
  - id: encrypt-cards
    entities: [CREDIT_CARD]
    action: encrypt
"""
    )
    decision = run(json_message({"c": CARD}), policy)
    token = json.loads(decision.body or b"")["c"]
    assert TOKEN_PATTERN.fullmatch(token)
    assert [f.action for f in decision.findings] == ["encrypt"]


# --- modes and routing -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "action", "outcome"),
    [
        ({"s": SSN}, Action.BLOCK, "would_block"),
        ({"c": CARD}, Action.ENCRYPT, "would_encrypt"),
        ({"e": EMAIL}, Action.REDACT, "would_redact"),
        ({"x": "clean"}, Action.ALLOW, "allowed"),
    ],
)
def test_monitor_mode_reports_what_would_happen(body: object, action: Action, outcome: str) -> None:
    """In monitor mode the decision carries the action but is not enforced."""
    decision = run(json_message(body), make_policy(mode="monitor"))
    assert decision.mode is Mode.MONITOR
    assert decision.action is action
    assert decision.outcome == outcome
    assert decision.enforced is False


def test_enforce_mode_is_enforced() -> None:
    """In enforce mode the decision must be acted on."""
    assert run(json_message({"s": SSN})).enforced is True


def test_unknown_destination_blocked_without_reading_the_body() -> None:
    """With unknown_destinations: block, a host no vendor matches is blocked uninspected."""
    detector = RegexDetector()
    decision = run(json_message({"x": "clean"}), make_policy(unknown="block"), detector)
    assert decision.action is Action.BLOCK
    assert decision.blocking_rule == "unknown_destination"
    assert decision.inspected is False
    assert decision.vendor is None
    assert detector.calls == []


def test_unknown_destination_allowed_without_reading_the_body() -> None:
    """With unknown_destinations: allow, a host no vendor matches passes uninspected."""
    detector = RegexDetector()
    decision = run(json_message({"s": SSN}), make_policy(unknown="allow"), detector)
    assert decision.action is Action.ALLOW
    assert decision.inspected is False
    assert detector.calls == []


def test_unknown_destination_inspected_with_vendorless_rules() -> None:
    """With unknown_destinations: inspect, rules without `vendors` apply to unknown hosts."""
    decision = run(json_message({"s": SSN}), make_policy(unknown="inspect"))
    assert decision.action is Action.BLOCK
    assert decision.inspected is True


@pytest.mark.parametrize("unknown", ["block", "allow", "inspect"])
def test_known_vendor_is_always_inspected(unknown: str) -> None:
    """A host that matches a vendor is inspected whatever unknown_destinations says."""
    decision = run(
        json_message({"s": SSN}, host="eu.acme-cc.example"), make_policy(unknown=unknown)
    )
    assert decision.vendor == "acme"
    assert decision.action is Action.BLOCK
    assert decision.blocking_rule == "block-ssn"


def test_vendor_specific_rule_applies_only_to_that_vendor() -> None:
    """A rule listing `vendors: [acme]` fires for acme's hosts and not for anyone else."""
    body = {"customer": "Maria Gonzalez"}
    to_acme = run(json_message(body, host="api.acme-cc.example"))
    assert to_acme.vendor == "acme"
    assert to_acme.action is Action.BLOCK
    assert to_acme.blocking_rule == "acme-no-names"
    elsewhere = run(json_message(body, host="acme-cc.example"))
    assert elsewhere.vendor is None
    assert elsewhere.action is Action.ALLOW


def test_message_no_rule_applies_to_is_not_read() -> None:
    """A response under request-only rules is allowed without calling the detector."""
    detector = RegexDetector()
    decision = run(json_message({"s": SSN}, direction=Direction.RESPONSE), detector=detector)
    assert decision.action is Action.ALLOW
    assert decision.inspected is False
    assert detector.calls == []


def test_route_and_decide_by_route() -> None:
    """route finds vendor and rules; decide_by_route answers only when the body needn't be read."""
    policy = make_policy(unknown="block")
    to_acme = json_message({}, host="x.acme-cc.example")
    where = route(to_acme, policy)
    assert where.vendor is not None
    assert where.vendor.id == "acme"
    assert [r.id for r in where.rules] == [
        "block-ssn",
        "encrypt-cards",
        "redact-emails",
        "acme-no-names",
    ]
    assert decide_by_route(to_acme, policy) is None
    blocked = decide_by_route(json_message({}, host="elsewhere.example"), policy)
    assert blocked is not None
    assert blocked.blocking_rule == "unknown_destination"
    response = json_message({}, host="x.acme-cc.example", direction=Direction.RESPONSE)
    allowed = decide_by_route(response, policy)
    assert allowed is not None
    assert allowed.action is Action.ALLOW


# --- errors fail closed (or open when on_error says so) --------------------------------------


def test_body_over_max_body_bytes_is_blocked_uninspected() -> None:
    """A body larger than max_body_bytes is blocked under on_error: block, body unread."""
    detector = RegexDetector()
    message = json_message({"x": "y" * 200})
    decision = run(message, make_policy(max_body_bytes=100), detector)
    assert decision.action is Action.BLOCK
    assert decision.blocking_rule == "on_error"
    assert decision.inspected is False
    assert decision.error is not None
    assert decision.error.startswith("body_too_large: ")
    assert f"body of {len(message.body)} bytes is over max_body_bytes (100)" in decision.error
    assert not [loc for loc in detector.seen if loc.startswith("$")]


def test_on_error_allow_lets_an_uninspectable_body_through_with_the_error() -> None:
    """With on_error: allow, an oversized body is allowed but the error is recorded."""
    decision = run(json_message({"s": SSN * 20}), make_policy(on_error="allow", max_body_bytes=50))
    assert decision.action is Action.ALLOW
    assert decision.blocking_rule is None
    assert decision.body is None
    assert decision.error is not None
    assert decision.error.startswith("body_too_large: ")


def test_body_exactly_max_body_bytes_is_inspected() -> None:
    """A body of exactly max_body_bytes is still inspected."""
    message = json_message({"e": EMAIL})
    decision = run(message, make_policy(max_body_bytes=len(message.body)))
    assert decision.inspected is True
    assert decision.action is Action.REDACT


def test_invalid_json_is_blocked_as_undecodable() -> None:
    """A body that claims JSON but does not parse is blocked with `undecodable_body`."""
    message = replace(json_message({}), body=b'{"card": "4111 1111 1111 1111"')
    decision = run(message)
    assert decision.action is Action.BLOCK
    assert decision.error is not None
    assert decision.error.startswith("undecodable_body: JSON body does not parse")
    assert "4111" not in decision.error


def test_binary_body_is_blocked_as_undecodable() -> None:
    """A binary body of an unknown type is blocked with `undecodable_body`."""
    message = Message(
        Direction.REQUEST,
        "PUT",
        "api.vendor.example",
        "/upload",
        content_type="application/octet-stream",
        body=b"\x00\xff\xfe\x89binary",
    )
    decision = run(message)
    assert decision.action is Action.BLOCK
    assert decision.error is not None
    assert decision.error.startswith("undecodable_body: cannot inspect a application/octet-stream")


def test_analyzer_failure_fails_closed_without_quoting_the_text() -> None:
    """A detector that raises blocks the message with `analyzer_failure`, never echoing the text."""
    decision = run(json_message({"c": CARD}), detector=BrokenDetector())
    assert decision.action is Action.BLOCK
    assert decision.blocking_rule == "on_error"
    assert decision.error == "analyzer_failure: the analyzer raised RuntimeError"
    assert "4111" not in repr(decision)


def test_errors_in_monitor_mode_would_block() -> None:
    """In monitor mode an uninspectable message is reported as `would_block`."""
    decision = run(json_message({"c": CARD}), make_policy(mode="monitor"), BrokenDetector())
    assert decision.outcome == "would_block"
    assert decision.enforced is False


# --- what the decision may say about findings ------------------------------------------------


def test_finding_records_carry_fingerprints_never_values() -> None:
    """Finding records carry a fingerprint, not the value; no raw value is in the decision."""
    name = "Maria Gonzalez"
    decision = run(
        json_message({"c": CARD, "e": EMAIL, "n": name}, host="api.acme-cc.example"),
        make_policy(mode="monitor"),
    )
    records = {f.entity: f for f in decision.findings}
    assert set(records) == {"CREDIT_CARD", "EMAIL_ADDRESS", "PERSON"}
    card = records["CREDIT_CARD"]
    assert (card.location, card.score, card.recognizer, card.action) == (
        "$.c",
        1.0,
        "Scripted",
        "encrypt",
    )
    assert card.fingerprint == fingerprint(CARD, KEYRING)
    assert records["EMAIL_ADDRESS"].fingerprint == fingerprint(EMAIL, KEYRING)
    assert records["PERSON"].fingerprint == fingerprint(name, KEYRING)
    without_body = repr(replace(decision, body=None, query=None))
    for raw in (CARD, CARD.replace(" ", ""), EMAIL, name, "maria"):
        assert raw not in without_body


# --- the real Presidio detector with the shipped default policy ------------------------------


@pytest.fixture(scope="module")
def presidio() -> PresidioDetector:
    """One real Presidio detector for every test in this module."""
    return PresidioDetector()


@pytest.fixture(scope="module")
def default_policy() -> Policy:
    """policies/default.yaml."""
    return load_policy(POLICIES / "default.yaml")


def test_presidio_default_policy_rewrites_a_ticket(
    presidio: PresidioDetector, default_policy: Policy
) -> None:
    """With real Presidio: the card is encrypted, email and phone masked, the name replaced."""
    ticket = {
        "ticket": {
            "id": 4821,
            "subject": "Refund request",
            "customer": {
                "name": "John Smith",
                "email": "john.smith@example.com",
                "phone": "212-555-0199",
                "cardNumber": "4111 1111 1111 1111",
            },
            "priority": "high",
        }
    }
    decision = run(json_message(ticket), default_policy, presidio)
    assert decision.action is Action.ENCRYPT
    assert decision.rule_ids == ("encrypt-card-numbers", "redact-contact-details", "redact-names")
    assert decision.body is not None
    rebuilt = json.loads(decision.body)
    customer = rebuilt["ticket"].pop("customer")
    assert rebuilt["ticket"] == {"id": 4821, "subject": "Refund request", "priority": "high"}
    assert decrypt_token(customer["cardNumber"], KEYRING) == ("CREDIT_CARD", "4111 1111 1111 1111")
    assert customer["email"] == "****.*****@******e.com"
    assert customer["phone"] == "***-***-0199"
    assert customer["name"] == "<PERSON>"
    assert "John" not in repr(replace(decision, body=None))


def test_presidio_deterministic_card_tokens_are_joinable(
    presidio: PresidioDetector, default_policy: Policy
) -> None:
    """With real Presidio, the default policy gives the same card the same token each time."""
    first = run(json_message({"card": "4111 1111 1111 1111"}), default_policy, presidio)
    second = run(json_message({"card": "4111 1111 1111 1111"}), default_policy, presidio)
    assert first.body is not None
    assert first.body == second.body


def test_presidio_default_policy_blocks_an_ssn(
    presidio: PresidioDetector, default_policy: Policy
) -> None:
    """With real Presidio, a bare SSN under an `ssn` key is blocked by the default policy."""
    decision = run(json_message({"ssn": "219099999"}), default_policy, presidio)
    assert decision.action is Action.BLOCK
    assert decision.blocking_rule == "block-ssn-and-bank-numbers"
    assert decision.body is None


def test_presidio_default_policy_leaves_clean_json_alone(
    presidio: PresidioDetector, default_policy: Policy
) -> None:
    """With real Presidio, a ticket without personal data is allowed byte for byte."""
    clean = {"ticket": {"subject": "Printer is broken", "status": "open", "count": 3}}
    decision = run(json_message(clean), default_policy, presidio)
    assert decision.action is Action.ALLOW
    assert decision.inspected is True
    assert decision.body is None
    assert decision.findings == ()


# --- request line, headers and parts that cannot be read ---------------------------------------


def test_pii_in_the_url_path_is_redacted_and_never_logged_raw() -> None:
    """An email in a path segment is rewritten; the logged path names the entity instead."""
    message = json_message({"n": 1}, path="/customers/maria%40example.com/tickets")
    decision = run(message)
    assert decision.path == "/customers/%3CEMAIL_ADDRESS%3E/tickets"
    assert decision.logged_path == "/customers/%3CEMAIL_ADDRESS%3E/tickets"
    assert decision.body is None


def test_blocked_request_still_gets_a_safe_logged_path() -> None:
    """A blocked request is not rewritten, but its path is logged without the PII."""
    message = json_message({"ssn": SSN}, path=f"/lookup/{EMAIL}")
    decision = run(message)
    assert decision.action is Action.BLOCK
    assert decision.path is None
    assert decision.logged_path == "/lookup/%3CEMAIL_ADDRESS%3E"


def test_custom_headers_are_inspected_and_standard_ones_left_alone() -> None:
    """X-Customer-Email is masked in place; Content-Type and a clean Authorization untouched."""
    message = replace(
        json_message({"n": 1}),
        headers=(
            ("Content-Type", "application/json"),
            ("Authorization", "Bearer opaque-token-48213"),
            ("X-Customer-Email", EMAIL),
            ("Cookie", f"sid=abc; email={EMAIL}"),
        ),
    )
    decision = run(message)
    assert decision.headers == (
        ("Content-Type", "application/json"),
        ("Authorization", "Bearer opaque-token-48213"),
        ("X-Customer-Email", "<EMAIL_ADDRESS>"),
        ("Cookie", "sid=abc; email=<EMAIL_ADDRESS>"),
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Authorization", f"Bearer {SSN}"),
        ("Authorization", "Basic " + base64.b64encode(f"{SSN}:pw".encode()).decode()),
        ("Proxy-Authorization", f"Digest username={SSN}"),
        ("Authorization", f"Bearer {CARD}"),
        ("Host", f"{SSN}.api.vendor.example"),
        (f"X-{SSN}", "1"),
        ("Content-Length", EMAIL),
    ],
)
def test_a_finding_in_a_credential_name_host_or_protocol_header_blocks(
    name: str, value: str
) -> None:
    """What cannot be rewritten (a credential, a header name, the Host) blocks instead."""
    message = replace(json_message({"n": 1}), headers=((name, value),))
    decision = run(message)
    assert decision.action is Action.BLOCK
    assert decision.headers is None


@pytest.mark.parametrize(
    "value",
    [
        f"Bearer {EMAIL}",
        "Basic " + base64.b64encode(f"{EMAIL}:pw".encode()).decode(),
    ],
)
def test_contact_details_in_the_senders_own_credentials_are_logged_not_acted_on(
    value: str,
) -> None:
    """An agent's address in its own token cannot be redacted, and blocking would refuse every
    request it sends: the finding is recorded as exempt and the request goes on unchanged."""
    message = replace(json_message({"n": 1}), headers=(("Authorization", value),))
    evaluation = evaluate(message, make_policy(), detector=RegexDetector(), keyring=KEYRING)
    assert evaluation.decision.action is Action.ALLOW
    assert evaluation.decision.headers is None
    assert evaluation.decision.allowed_by == ("sender-credentials",)
    assert [e.entity for e, why in evaluation.exempt if why == "sender-credentials"] == [
        "EMAIL_ADDRESS"
    ]


def test_response_headers_are_inspected_but_not_the_request_line() -> None:
    """A response is judged on its body and headers; its request's path is not its content."""
    rules = """
  - id: redact-emails-back
    entities: [EMAIL_ADDRESS]
    direction: response
    action: redact
"""
    message = replace(
        json_message({"n": 1}, path=f"/lookup/{EMAIL}", direction=Direction.RESPONSE),
        headers=(("X-Agent-Email", EMAIL),),
    )
    decision = run(message, make_policy(rules=rules))
    assert decision.path is None
    assert decision.headers == (("X-Agent-Email", "<EMAIL_ADDRESS>"),)


def test_a_part_that_cannot_be_read_fails_closed() -> None:
    """A multipart upload with an image part is handled by on_error, naming the part."""
    body = (
        b'--b\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n'
        b'--b\r\nContent-Disposition: form-data; name="scan"; filename="id.png"\r\n'
        b"Content-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n\x00\x00\r\n--b--\r\n"
    )
    message = Message(
        Direction.REQUEST,
        "POST",
        "api.vendor.example",
        "/upload",
        (),
        "multipart/form-data; boundary=b",
        body,
    )
    decision = run(message)
    assert decision.action is Action.BLOCK
    assert decision.error is not None
    assert decision.error.startswith("undecodable_body: parts that cannot be inspected: ")
    assert "multipart:scan" in decision.error


def test_base64_word_inside_a_sentence_is_replaced_whole() -> None:
    """A card number hidden as base64 in free text is found; the whole encoded word goes."""
    encoded = base64.b64encode(CARD.encode()).decode()
    decision = run(json_message({"note": f"The card {encoded} was charged twice."}))
    assert decision.action is Action.ENCRYPT
    note = json.loads(decision.body or b"{}")["note"]
    assert encoded not in note
    token = TOKEN_PATTERN.search(note)
    assert token is not None
    assert decrypt_token(token.group(), KEYRING) == ("CREDIT_CARD", encoded)
    assert note == f"The card {token.group()} was charged twice."


CONTENT_TYPES = [
    "application/json",
    "application/x-ndjson",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=b",
    "text/csv",
    "text/tab-separated-values",
    "application/xml",
    "text/plain; charset=latin-1",
    "",
]


@settings(max_examples=150, deadline=None)
@given(body=st.binary(max_size=600), content_type=st.sampled_from(CONTENT_TYPES))
def test_any_body_gets_a_decision(body: bytes, content_type: str) -> None:
    """Whatever the bytes and type, inspect returns a decision; it never raises."""
    message = Message(Direction.REQUEST, "POST", "h.example", "/x", (), content_type, body)
    decision = run(message)
    assert isinstance(decision, Decision)
    if decision.error:
        assert decision.action is Action.BLOCK


@settings(max_examples=150, deadline=None)
@given(
    st.recursive(
        st.one_of(st.text(max_size=20), st.integers(), st.sampled_from([EMAIL, CARD, "x"])),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=12,
    )
)
def test_redacted_json_stays_json_with_the_same_shape(document: object) -> None:
    """Redaction of any JSON document gives JSON with the same keys and list lengths."""
    decision = run(json_message({"doc": document, "email": EMAIL}))
    assert decision.body is not None
    assert _shape(json.loads(decision.body)["doc"]) == _shape(document)


def _shape(value: object) -> object:
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return None


# --- allow lists -------------------------------------------------------------------------------

ALLOW_RULES = """
  - id: redact-emails
    entities: [EMAIL_ADDRESS]
    action: redact
"""


def allow_policy(entries: str) -> Policy:
    """The unit policy with only the email rule and the given `allow:` entries."""
    return parse_policy(
        "version: 1\nname: unit\nvendors: [{id: acme, hosts: ['*.acme-cc.example']}]\n"
        f"allow:\n{entries}\nrules:\n{ALLOW_RULES}"
    )


def test_an_allowed_value_is_not_touched_and_the_reason_is_recorded() -> None:
    """An exact value on the allow list stays; others are redacted; the decision names the entry."""
    policy = allow_policy(
        "  - {id: support, reason: Our own support mailbox., values: [help@client.example]}"
    )
    decision = run(json_message({"from": "help@client.example", "to": EMAIL}), policy)
    assert decision.action is Action.REDACT
    body = json.loads(decision.body or b"")
    assert body == {"from": "help@client.example", "to": "<EMAIL_ADDRESS>"}
    assert decision.allowed_by == ("support",)
    assert decision.allow_reasons == {"support": "Our own support mailbox."}
    assert decision.entity_counts == {"EMAIL_ADDRESS": 1}


def test_an_allow_pattern_must_match_the_whole_value() -> None:
    """Patterns match whole values: a customer address that merely contains the text stays PII."""
    policy = allow_policy(
        r"  - {id: ours, reason: Company addresses., patterns: ['.*@client\.example']}"
    )
    decision = run(
        json_message({"a": "ops@client.example", "b": "client.example.fan@mail.example"}), policy
    )
    body = json.loads(decision.body or b"")
    assert body == {"a": "ops@client.example", "b": "<EMAIL_ADDRESS>"}


def test_an_allowed_field_is_never_inspected() -> None:
    """Values at an allowed field path are not even given to the detector."""
    policy = allow_policy(
        "  - {id: agent, reason: The agent is vendor staff., fields: ['$.agent']}"
    )
    detector = RegexDetector()
    decision = run(
        json_message({"agent": {"email": "agent@vendor.example"}, "customer": EMAIL}),
        policy,
        detector,
    )
    assert json.loads(decision.body or b"") == {
        "agent": {"email": "agent@vendor.example"},
        "customer": "<EMAIL_ADDRESS>",
    }
    assert "$.agent.email" not in detector.seen
    assert decision.allowed_by == ("agent",)


def test_an_allow_entry_applies_only_where_it_is_scoped() -> None:
    """An entry for one vendor does not exempt the same value sent elsewhere."""
    policy = allow_policy(
        "  - {id: acme-only, reason: ACME may see it., vendors: [acme], values: ['" + EMAIL + "']}"
    )
    to_acme = run(json_message({"e": EMAIL}, host="api.acme-cc.example"), policy)
    to_other = run(json_message({"e": EMAIL}), policy)
    assert to_acme.action is Action.ALLOW
    assert to_acme.allowed_by == ("acme-only",)
    assert to_other.action is Action.REDACT
    assert to_other.allowed_by == ()


def test_an_exempt_path_is_not_read_at_all() -> None:
    """An entry with only hosts or paths exempts whole messages before the body is read."""
    policy = allow_policy(
        "  - {id: health, reason: Health checks carry no data., paths: [/health]}"
    )
    message = json_message({"e": EMAIL}, path="/health")
    early = decide_by_route(replace(message, body=b""), policy)
    assert early is not None
    assert early.action is Action.ALLOW
    assert early.allowed_by == ("health",)
    assert early.allow_reasons == {"health": "Health checks carry no data."}
    assert not early.inspected


# --- per-rule mode, severity, thresholds ---------------------------------------------------------


def test_a_monitor_rule_in_an_enforcing_policy_is_logged_apart() -> None:
    """A shadow rule's block is a would_block beside the enforced outcome, and changes nothing."""
    policy = make_policy(
        rules="""
  - id: redact-emails
    entities: [EMAIL_ADDRESS]
    action: redact
    severity: low
  - id: trial-block-emails
    entities: [EMAIL_ADDRESS]
    action: block
    mode: monitor
    severity: high
"""
    )
    decision = run(json_message({"e": EMAIL}), policy)
    assert decision.action is Action.REDACT
    assert decision.outcome == "redacted"
    assert decision.rule_ids == ("redact-emails",)
    assert decision.severity is Severity.LOW
    assert decision.shadow_outcome == "would_block"
    assert decision.shadow_rule_ids == ("trial-block-emails",)
    assert decision.shadow_severity is Severity.HIGH
    assert json.loads(decision.body or b"") == {"e": "<EMAIL_ADDRESS>"}


def test_a_monitor_rule_alone_leaves_the_message_unchanged() -> None:
    """When only a shadow rule fires, the message is allowed as it is."""
    policy = make_policy(
        rules="""
  - id: trial-redact-ssn
    entities: [US_SSN]
    action: redact
    mode: monitor
"""
    )
    decision = run(json_message({"s": SSN}), policy)
    assert decision.action is Action.ALLOW
    assert decision.body is None
    assert decision.shadow_outcome == "would_redact"
    assert decision.severity is None


def test_severity_is_the_highest_of_the_fired_rules() -> None:
    """The decision's severity is the highest among the rules that decided it."""
    policy = make_policy(
        rules="""
  - {id: a, entities: [EMAIL_ADDRESS], action: redact, severity: high}
  - {id: b, entities: [US_SSN], action: block, severity: critical}
  - {id: c, entities: [CREDIT_CARD], action: encrypt, severity: low}
"""
    )
    assert run(json_message({"e": EMAIL}), policy).severity is Severity.HIGH
    assert run(json_message({"e": EMAIL, "s": SSN}), policy).severity is Severity.CRITICAL


def test_a_bulk_threshold_counts_across_the_whole_message() -> None:
    """`min_count` counts every value of the rule's types in the message, in any field."""
    policy = make_policy(
        rules="""
  - {id: bulk, entities: [EMAIL_ADDRESS, US_SSN], min_count: 4, action: block}
"""
    )
    three = [{"e": f"c{i}@example.com"} for i in range(2)] + [{"s": SSN}]
    four = [*three, {"s": "078-05-1121"}]
    assert run(json_message(three), policy).action is Action.ALLOW
    decision = run(json_message(four), policy)
    assert decision.action is Action.BLOCK
    assert decision.entity_counts == {"EMAIL_ADDRESS": 2, "US_SSN": 2}


def test_counts_per_entity_type_fire_on_any_type_reaching_its_count() -> None:
    """With a count per type, the rule fires when one of the types reaches its own count."""
    policy = make_policy(
        rules="""
  - {id: bulk, min_count: {EMAIL_ADDRESS: 3, US_SSN: 2}, action: block}
"""
    )
    emails = [f"c{i}@example.com" for i in range(3)]
    assert run(json_message({"e": emails[:2], "s": [SSN]}), policy).action is Action.ALLOW
    assert run(json_message({"e": emails}), policy).action is Action.BLOCK
    assert run(json_message({"s": [SSN, "078-05-1121"]}), policy).action is Action.BLOCK


# --- custom detectors ----------------------------------------------------------------------------


def test_a_custom_detector_finds_its_entity_and_a_rule_acts_on_it() -> None:
    """Custom entity types from `detectors` reach the detector and are redacted like any other."""
    policy = parse_policy(
        r"""
version: 1
name: unit
detectors:
  - id: ticket-customer
    entity: ACME_CUSTOMER_ID
    patterns: [{regex: 'AC-\d{6}', score: 0.7}]
rules:
  - {id: ids, entities: [ACME_CUSTOMER_ID], action: redact}
"""
    )
    detector = RegexDetector()
    decision = run(json_message({"note": "customer AC-123456 called"}), policy, detector)
    assert json.loads(decision.body or b"") == {"note": "customer <ACME_CUSTOMER_ID> called"}
    assert decision.entity_counts == {"ACME_CUSTOMER_ID": 1}


# --- contracts -----------------------------------------------------------------------------------

CONTRACT_YAML = """
version: 1
name: unit
vendors:
  - id: acme
    hosts: ["*.acme-cc.example"]
    contracts:
      - id: tickets
        paths: [/api/tickets]
        methods: [POST]
        fields: ['$.ticket_id', '$.subject', '$.customer.first_name', '$.customer.email']
        entities: [EMAIL_ADDRESS]
rules:
  - id: acme-contract
    vendors: [acme]
    contract: strict
    action: {action}
    severity: high
"""


def contract_message(body: object, path: str = "/api/tickets") -> Message:
    """A JSON ticket to ACME."""
    return json_message(body, host="api.acme-cc.example", path=path)


def test_values_outside_the_contract_are_redacted_whole() -> None:
    """A field the contract does not list is replaced as a whole, whatever it holds."""
    policy = parse_policy(CONTRACT_YAML.replace("{action}", "redact"))
    decision = run(
        contract_message(
            {
                "ticket_id": "T-1",
                "subject": "refund",
                "customer": {"first_name": "Maria", "email": EMAIL, "notes": "VIP since 2019"},
                "empty": "",
            }
        ),
        policy,
    )
    body = json.loads(decision.body or b"")
    assert body == {
        "ticket_id": "T-1",
        "subject": "refund",
        "customer": {"first_name": "Maria", "email": EMAIL, "notes": "<OUTSIDE_CONTRACT>"},
        "empty": "",
    }
    assert decision.action is Action.REDACT
    assert decision.entity_counts == {"OUTSIDE_CONTRACT": 1}


def test_an_entity_type_the_contract_does_not_list_is_a_violation_in_a_listed_field() -> None:
    """A listed field may carry only the contract's entity types: an SSN in the subject is not."""
    policy = parse_policy(CONTRACT_YAML.replace("{action}", "block"))
    decision = run(contract_message({"ticket_id": "T-1", "subject": f"ssn {SSN}"}), policy)
    assert decision.action is Action.BLOCK
    assert decision.blocking_rule == "acme-contract"
    assert decision.severity is Severity.HIGH
    assert decision.entity_counts == {"US_SSN": 1}


def test_an_endpoint_without_a_contract_has_nothing_inside_it() -> None:
    """With no contract for the endpoint, every non-empty value is outside."""
    policy = parse_policy(CONTRACT_YAML.replace("{action}", "block"))
    evaluation = evaluate(
        contract_message({"ticket_id": "T-1"}, path="/api/exports"),
        policy,
        detector=RegexDetector(),
        keyring=KEYRING,
    )
    assert evaluation.decision.action is Action.BLOCK
    (outcome,) = evaluation.rules
    (hit,) = outcome.hits
    assert hit.entity == "OUTSIDE_CONTRACT"
    assert "no contract of vendor 'acme' covers POST /api/exports" in hit.why


def test_a_message_within_the_contract_passes_untouched() -> None:
    """Listed fields with listed entity types flow as they are."""
    policy = parse_policy(CONTRACT_YAML.replace("{action}", "block"))
    decision = run(contract_message({"ticket_id": "T-1", "customer": {"email": EMAIL}}), policy)
    assert decision.action is Action.ALLOW
    assert decision.body is None


# --- evaluate ------------------------------------------------------------------------------------


def test_evaluate_says_why_each_rule_did_or_did_not_apply() -> None:
    """Every rule has an outcome: why it did not apply, or what it counted and whether it fired."""
    evaluation = evaluate(
        json_message({"e": EMAIL}), make_policy(), detector=RegexDetector(), keyring=KEYRING
    )
    outcomes = {o.rule.id: o for o in evaluation.rules}
    assert outcomes["redact-emails"].applies
    assert outcomes["redact-emails"].fired
    assert [f.entity for f in outcomes["redact-emails"].hits] == ["EMAIL_ADDRESS"]
    assert outcomes["block-ssn"].applies
    assert not outcomes["block-ssn"].fired
    assert not outcomes["acme-no-names"].applies
    assert outcomes["acme-no-names"].reason == "no vendor is not one of acme"
    assert evaluation.decision == run(json_message({"e": EMAIL}))


def test_a_key_the_keyring_lacks_fails_closed() -> None:
    """A rule encrypting under a key id the keyring does not hold blocks, naming the key."""
    policy = make_policy(
        rules="""
  - {id: cards, entities: [CREDIT_CARD], action: encrypt, encrypt: {key: k-gone}}
"""
    )
    decision = run(json_message({"c": CARD}), policy)
    assert decision.action is Action.BLOCK
    assert decision.blocking_rule == "on_error"
    assert decision.error == "keyring: key 'k-gone' is not in this keyring"
    assert "4111" not in repr(decision)


# --- restore -----------------------------------------------------------------------------------

RESTORE_KEYRING = Keyring(
    keys=(DataKey(id="krestore", created="x", state="active", secret=b"\x0b" * 32),)
)
FOREIGN_KEYRING = Keyring(
    keys=(DataKey(id="kforeign", created="x", state="active", secret=b"\x0c" * 32),)
)
# The scripted detector, with any 16-digit card number rather than only 4111...
RESTORE_DETECTOR = ScriptedDetector(
    patterns={
        **DEFAULT_PATTERNS,
        "CREDIT_CARD": (r"\b\d{4}[ -]?\d{4}[ -]?\d{4}[ -]?\d{4}\b", 1.0),
    }
)
ACME = "api.acme-cc.example"
RESTORE_POLICY = """
version: 1
name: restore
mode: {mode}
vendors:
  - id: acme
    hosts: ["{acme}"]
  - id: beta
    hosts: ["api.beta.example"]
rules:
  - id: acme-cards
    vendors: [acme]
    paths: ["/tickets*"]
    methods: [POST, PUT]
    entities: [CREDIT_CARD]
    action: encrypt
    encrypt: {{mode: deterministic}}
    restore: true
  - id: acme-emails
    vendors: [acme]
    paths: ["/tickets*"]
    methods: [POST, PUT]
    entities: [EMAIL_ADDRESS]
    action: encrypt
    restore: {restore_emails}
  - id: beta-cards-and-emails
    vendors: [beta]
    entities: [CREDIT_CARD, EMAIL_ADDRESS]
    action: encrypt
"""


def restore_policy(mode: str = "enforce", restore_emails: bool = True, extra: str = "") -> Policy:
    """ACME's cards (deterministic) and emails (randomized) are encrypted and restored."""
    text = RESTORE_POLICY.format(
        mode=mode, acme=ACME, restore_emails="true" if restore_emails else "false"
    )
    return parse_policy(text + extra)


def send(
    body: bytes,
    content_type: str = "application/json",
    policy: Policy | None = None,
    direction: Direction = Direction.REQUEST,
    host: str = ACME,
    path: str = "/tickets/42",
    method: str = "POST",
    keyring: Keyring = RESTORE_KEYRING,
    content_encoding: str = "",
) -> Decision:
    """Inspect one request to (or response from) ACME's ticket endpoint under the restore policy."""
    message = Message(
        direction=direction,
        method=method,
        host=host,
        path=path,
        content_type=content_type,
        body=body,
        content_encoding=content_encoding,
    )
    return inspect(message, policy or restore_policy(), detector=RESTORE_DETECTOR, keyring=keyring)


def reply(body: bytes, content_type: str = "application/json", **where: object) -> Decision:
    """Inspect `body` as the vendor's response (to ACME's ticket endpoint unless told otherwise)."""
    return send(body, content_type, direction=Direction.RESPONSE, **where)  # type: ignore[arg-type]


def tokenised(entity: str, value: str, keyring: Keyring = RESTORE_KEYRING) -> str:
    """`value` encrypted as the restore policy would (cards deterministic, the rest randomized)."""
    return encrypt_value(value, entity, keyring, deterministic=entity == "CREDIT_CARD")


@dataclass(frozen=True)
class Customer:
    """One customer record: PII the policy encrypts and plain text around it."""

    name: str
    card: str
    email: str
    note: str

    @property
    def pii(self) -> tuple[str, ...]:
        """The values that must not reach the vendor, in each spelling they could take."""
        return (self.card, re.sub(r"\D", "", self.card), self.email)


words = st.text(st.characters(categories=["Lu", "Ll"], codec="utf-8"), min_size=1, max_size=8)
cards = st.builds(
    lambda digits, separator: separator.join(digits[i : i + 4] for i in range(0, 16, 4)),
    st.from_regex(r"[0-9]{16}", fullmatch=True),
    st.sampled_from(["", " ", "-"]),
)
emails = st.from_regex(
    r"[a-z][a-z0-9._+-]{0,10}@[a-z0-9][a-z0-9-]{0,9}\.[a-z]{2,6}", fullmatch=True
)
customers = st.lists(
    st.builds(
        lambda name, card, email, before, after: Customer(
            name, card, email, f"{before} {email} {after}, card {card} {after}"
        ),
        st.lists(words, min_size=1, max_size=3).map(" ".join),
        cards,
        emails,
        words,
        words,
    ),
    min_size=1,
    max_size=4,
)


def as_json(records: list[Customer]) -> bytes:
    """The records as a JSON document."""
    data = {"customers": [vars(r) for r in records], "count": len(records)}
    return json.dumps(data, ensure_ascii=False).encode()


def as_form(records: list[Customer]) -> bytes:
    """The records as an urlencoded form, one numbered field per value."""
    pairs = [(f"{k}{i}", v) for i, r in enumerate(records) for k, v in vars(r).items()]
    return urlencode(pairs).encode()


def as_csv(records: list[Customer]) -> bytes:
    """The records as CSV with a header row, quoted where needed."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "card", "email", "note"])
    writer.writerows([r.name, r.card, r.email, r.note] for r in records)
    return out.getvalue().encode()


def as_text(records: list[Customer]) -> bytes:
    """The records as lines of prose."""
    return "".join(
        f"{r.name}: card {r.card}, email {r.email}. {r.note}\n" for r in records
    ).encode()


FORMATS = {
    "json": ("application/json", as_json),
    "form": ("application/x-www-form-urlencoded", as_form),
    "csv": ("text/csv", as_csv),
    "text": ("text/plain; charset=utf-8", as_text),
}


@pytest.mark.parametrize("kind", list(FORMATS))
@settings(max_examples=60, deadline=None)
@given(records=customers)
def test_restore_round_trip_per_format(kind: str, records: list[Customer]) -> None:
    """Cards and emails leave encrypted and come back from the vendor as the values sent."""
    content_type, build = FORMATS[kind]
    body = build(records)
    sent = send(body, content_type)
    assert sent.action is Action.ENCRYPT
    assert sent.body is not None
    outgoing = sent.body.decode()
    readable = unquote_plus(outgoing) if kind == "form" else outgoing
    for record in records:
        for value in record.pii:
            assert value not in readable
    tokens = TOKEN_PATTERN.findall(readable)
    assert tokens
    back = reply(sent.body, content_type)
    assert back.restore_failures == ()
    assert back.restored == len(tokens)
    assert back.body is not None
    if kind == "json":
        assert json.loads(back.body) == json.loads(body)
    else:
        assert back.body == body


def test_restore_is_for_the_restoring_rules_vendor_path_and_method_only() -> None:
    """The same tokens in a reply from another vendor, path or method are left alone."""
    body = json.dumps({"card": tokenised("CREDIT_CARD", CARD)}).encode()
    assert reply(body).restored == 1
    for elsewhere in (
        {"host": "api.beta.example"},
        {"host": "api.unknown.example"},
        {"path": "/customers/42"},
        {"method": "GET"},
    ):
        decision = reply(body, **elsewhere)
        assert decision.body is None, elsewhere
        assert decision.restored == 0, elsewhere
        assert decision.restore_failures == (), elsewhere


def test_restore_is_for_the_restoring_rules_entity_types_only() -> None:
    """Tokens of an entity type no restoring rule covers stay tokens, and are no failure."""
    card = tokenised("CREDIT_CARD", CARD)
    email = tokenised("EMAIL_ADDRESS", EMAIL)
    person = tokenised("PERSON", "Maria Gonzalez")
    body = json.dumps({"card": card, "email": email, "name": person}).encode()
    decision = reply(body, policy=restore_policy(restore_emails=False))
    assert decision.restored == 1
    assert decision.restore_failures == ()
    assert decision.body is not None
    assert json.loads(decision.body) == {"card": CARD, "email": email, "name": person}


def test_restore_leaves_tokens_of_another_keyring_alone() -> None:
    """A token under a key this gateway does not hold is not its own: untouched, no failure."""
    foreign = tokenised("CREDIT_CARD", CARD, FOREIGN_KEYRING)
    ours = tokenised("EMAIL_ADDRESS", EMAIL)
    decision = reply(f"{foreign}\n{ours}\n".encode(), "text/plain")
    assert decision.restored == 1
    assert decision.restore_failures == ()
    assert decision.body == f"{foreign}\n{EMAIL}\n".encode()


def test_a_tampered_token_is_left_as_is_and_counted() -> None:
    """An altered token stays as the vendor sent it, is counted, and its value is not said."""
    good = tokenised("CREDIT_CARD", CARD)
    prefix, _, payload = tokenised("EMAIL_ADDRESS", EMAIL).rpartition(":")
    bad = f"{prefix}:{payload[:-2]}{'B' if payload[-2] == 'A' else 'A'}{payload[-1]}"
    body = json.dumps({"card": good, "email": bad}).encode()
    decision = reply(body)
    assert decision.action is Action.ALLOW
    assert decision.restored == 1
    assert decision.restore_failures == (
        "key krestore: token failed authentication: it was altered or made with another key",
    )
    assert decision.body is not None
    assert json.loads(decision.body) == {"card": CARD, "email": bad}
    assert EMAIL not in repr(decision.restore_failures)


def test_a_retired_keys_tokens_are_left_as_they_are_and_counted() -> None:
    """After rotation old tokens are restored; once their key is retired they fail, by key id."""
    old = tokenised("CREDIT_CARD", CARD)
    body = json.dumps({"card": old}).encode()
    rotated = RESTORE_KEYRING.rotated()
    assert reply(body, keyring=rotated).restored == 1
    retired = rotated.retired("krestore")
    decision = reply(body, keyring=retired)
    assert decision.restored == 0
    assert decision.body is None
    assert decision.restore_failures == (
        "key krestore: cannot decrypt: key 'krestore' is retired: tokens made with it can no "
        "longer be decrypted",
    )


def test_a_monitor_policy_restores_nothing() -> None:
    """A policy in monitor mode changes no response: its tokens reach the client as they are."""
    body = json.dumps({"card": tokenised("CREDIT_CARD", CARD)}).encode()
    decision = reply(body, policy=restore_policy(mode="monitor"))
    assert decision.body is None
    assert decision.restored == 0
    assert decision.restore_failures == ()


def test_a_compressed_reply_is_restored_and_compressed_again() -> None:
    """A gzip response is decoded, restored, and sent on gzip-encoded."""
    plain = json.dumps({"card": tokenised("CREDIT_CARD", CARD)}).encode()
    decision = reply(gzip.compress(plain), content_encoding="gzip")
    assert decision.restored == 1
    assert decision.body is not None
    assert json.loads(gzip.decompress(decision.body)) == {"card": CARD}


RESPONSE_RULES = """
  - id: names-in-replies
    vendors: [acme]
    direction: response
    entities: [PERSON]
    action: redact
  - id: ssns-in-replies
    vendors: [acme]
    direction: response
    entities: [US_SSN]
    action: block
"""


def test_a_response_rule_and_restore_act_on_the_same_reply() -> None:
    """The vendor's own PII is redacted by the response rule; our tokens are restored."""
    card, email = tokenised("CREDIT_CARD", CARD), tokenised("EMAIL_ADDRESS", EMAIL)
    body = json.dumps({"card": card, "email": email, "agent": "Maria Gonzalez"}).encode()
    decision = reply(body, policy=restore_policy(extra=RESPONSE_RULES))
    assert decision.action is Action.REDACT
    assert decision.rule_ids == ("names-in-replies",)
    assert decision.restored == 2
    assert decision.body is not None
    assert json.loads(decision.body) == {"card": CARD, "email": EMAIL, "agent": "<PERSON>"}


def test_a_blocked_reply_restores_nothing() -> None:
    """A response a response rule blocks is not restored: the client gets the block."""
    body = json.dumps({"card": tokenised("CREDIT_CARD", CARD), "ssn": SSN}).encode()
    decision = reply(body, policy=restore_policy(extra=RESPONSE_RULES))
    assert decision.action is Action.BLOCK
    assert decision.blocking_rule == "ssns-in-replies"
    assert decision.body is None
    assert decision.restored == 0


def test_restore_does_not_undo_a_response_rules_encryption() -> None:
    """A card the vendor sends in clear stays encrypted by the response rule; ours is restored."""
    extra = """
  - id: cards-in-replies
    vendors: [acme]
    direction: response
    entities: [CREDIT_CARD]
    action: encrypt
"""
    vendors_card = "5500 0000 0000 0004"
    body = json.dumps({"ours": tokenised("CREDIT_CARD", CARD), "theirs": vendors_card}).encode()
    decision = reply(body, policy=restore_policy(extra=extra))
    assert decision.action is Action.ENCRYPT
    assert decision.body is not None
    received = json.loads(decision.body)
    assert received["ours"] == CARD
    assert TOKEN_PATTERN.fullmatch(received["theirs"])
    assert decision.restored == 1


def test_a_monitor_rule_does_not_restore() -> None:
    """A restoring rule on trial in an enforcing policy leaves the response unchanged."""
    policy = parse_policy(
        f"""
version: 1
name: trial-restore
vendors:
  - {{id: acme, hosts: ["{ACME}"]}}
rules:
  - id: cards
    vendors: [acme]
    entities: [CREDIT_CARD]
    action: encrypt
  - id: trial-restore-cards
    vendors: [acme]
    entities: [CREDIT_CARD]
    action: encrypt
    restore: true
    mode: monitor
"""
    )
    body = json.dumps({"card": tokenised("CREDIT_CARD", CARD)}).encode()
    decision = reply(body, policy=policy)
    assert decision.body is None
    assert decision.restored == 0


@pytest.mark.parametrize("action", ["encrypt", "redact", "block"])
def test_a_lone_surrogate_in_a_detected_value_still_gets_a_decision(action: str) -> None:
    """inspect() decides on a JSON body whose detected value holds a lone surrogate escape."""
    policy = parse_policy(
        f"""
version: 1
name: surrogates
detectors:
  - {{id: cid, entity: ACME_ID, patterns: [{{name: p, regex: 'ACME-\\S+', score: 0.9}}]}}
rules:
  - {{id: ids, entities: [ACME_ID], action: {action}}}
"""
    )
    message = json_message({"id": "ACME-12\ud800"})
    decision = inspect(message, policy, detector=RESTORE_DETECTOR, keyring=RESTORE_KEYRING)
    assert decision.action is Action.BLOCK or b"ACME-12" not in (decision.body or b"")


# --- the second reading, names and split values --------------------------------------------------


def test_a_rewrite_where_the_format_cannot_carry_it_blocks() -> None:
    """A card number as an XML attribute's name cannot be encrypted in place: the rule blocks."""
    body = b'<r><a x.4111-1111-1111-1111="1">fine</a></r>'
    message = Message.for_url(
        "https://api.vendor.example/t", headers=[("Content-Type", "application/xml")], body=body
    )
    decision = run(message)
    assert decision.action is Action.BLOCK
    assert decision.blocking_rule == "encrypt-cards"
    (record,) = decision.findings
    assert record.action == "block"
    assert "cannot carry changed" in record.why


def test_the_second_reading_does_not_find_again_what_a_value_holds() -> None:
    """An email inside a JSON value is redacted there; the whole-body reading adds no block."""
    decision = run(json_message({"note": f"write to {EMAIL}"}))
    assert decision.action is Action.REDACT
    assert [f.location for f in decision.findings] == ["$.note"]


def test_presidio_an_ssn_split_over_three_fields_blocks(
    presidio: PresidioDetector, default_policy: Policy
) -> None:
    """No field holds the SSN; joined they pass the SSA rules, and every field is a finding."""
    body = {"ssn_area": "536", "ssn_group": "90", "ssn_serial": "4399", "note": "see file"}
    decision = run(json_message(body), default_policy, presidio)
    assert decision.action is Action.BLOCK
    assert decision.blocking_rule == "block-ssn-and-bank-numbers"
    assert {f.location for f in decision.findings} == {"$.ssn_area", "$.ssn_group", "$.ssn_serial"}


def test_presidio_a_card_in_four_fields_is_encrypted_field_by_field(
    presidio: PresidioDetector, default_policy: Policy
) -> None:
    """Each part of a split card number is replaced by a token; none reaches the vendor."""
    card = "4539148803436467"
    parts = {f"c{i}": card[i * 4 : i * 4 + 4] for i in range(4)}
    decision = run(json_message(parts), default_policy, presidio)
    assert decision.action is Action.ENCRYPT
    sent = json.loads(decision.body or b"")
    assert all(TOKEN_PATTERN.fullmatch(v) for v in sent.values())


def test_presidio_nine_digits_in_a_taxpayer_id_field_block(
    presidio: PresidioDetector, default_policy: Policy
) -> None:
    """A field named as a taxpayer or national id holding nine digits is an SSN."""
    for name in ("taxpayer_id", "national_id", "sozialversicherungsnummer"):
        decision = run(json_message({name: "536904399"}), default_policy, presidio)
        assert decision.action is Action.BLOCK, name


def test_presidio_a_path_segment_that_is_an_ssn_blocks(
    presidio: PresidioDetector, default_policy: Policy
) -> None:
    """`/customers/536904399/tickets` blocks, and the logged path holds a placeholder."""
    message = json_message({"status": "open"}, path="/customers/536904399/tickets")
    decision = run(message, default_policy, presidio)
    assert decision.action is Action.BLOCK
    assert decision.logged_path is not None
    assert "536904399" not in decision.logged_path


def test_a_value_found_in_a_name_is_kept_out_of_every_logged_location() -> None:
    """A JSON key that is an SSN is in its own location and its children's: both are scrubbed."""
    decision = run(json_message({SSN: {"note": f"mail {EMAIL}"}}))
    assert decision.action is Action.BLOCK
    assert decision.blocking_rule == "block-ssn"
    locations = sorted(f.location for f in decision.findings)
    assert locations == ['$["<US_SSN>"]#name', '$["<US_SSN>"].note']
    assert SSN not in repr(replace(decision, body=None))


def test_a_value_found_in_a_document_inside_a_name_is_kept_out_of_logged_locations() -> None:
    """JSON sent as a form is one form name holding the JSON: what is found in it is scrubbed."""
    body = json.dumps({"customer": {"ssn": SSN}}).encode()
    message = replace(json_message({}), content_type="application/x-www-form-urlencoded", body=body)
    decision = run(message)
    assert decision.action is Action.BLOCK
    assert decision.findings
    assert SSN not in repr(replace(decision, body=None))


def test_an_error_under_rules_on_trial_only_is_recorded_and_the_message_goes_on() -> None:
    """Trial rules never change traffic: a body they cannot read is logged, not blocked."""
    trial = make_policy(
        rules="""
  - id: watch
    entities: [US_SSN]
    action: block
    mode: monitor
"""
    )
    enforced = make_policy(
        rules="""
  - id: watch
    entities: [US_SSN]
    action: block
    mode: monitor
  - id: emails
    entities: [EMAIL_ADDRESS]
    action: redact
"""
    )
    broken = json_message({}, path="/t")
    broken = replace(broken, body=b'{"unterminated')
    relaxed = run(broken, trial)
    assert relaxed.action is Action.ALLOW
    assert relaxed.error
    assert not relaxed.inspected
    strict = run(broken, enforced)
    assert strict.action is Action.BLOCK
    assert strict.blocking_rule == "on_error"


BINARY_RULES = """
binary:
  - content_types: [image/tiff]
    action: allow
    reason: scanned forms, reviewed
  - content_types: [image/png]
    action: allow
    reason: screenshots
  - content_types: [application/x-7z-compressed]
    action: block
rules:
  - id: block-ssn
    entities: [US_SSN]
    action: block
"""


def _binary_policy() -> Policy:
    text = POLICY_YAML.format(
        mode="enforce", on_error="block", max_body_bytes=10_000, unknown="inspect"
    )
    return parse_policy(text[: text.index("rules:")] + BINARY_RULES.lstrip("\n"))


def _upload(content_type: str, body: bytes, headers: Sequence[tuple[str, str]] = ()) -> Message:
    return Message.for_url(
        "https://api.vendor.example/upload",
        headers=[("Content-Type", content_type), *headers],
        body=body,
    )


TIFF = b"II*\x00" + bytes(range(256)) * 4
ZIP = b"PK\x03\x04" + bytes(range(256)) * 4


def test_a_binary_entry_lets_a_body_of_its_type_through_with_its_reason() -> None:
    """A TIFF no format reads goes on; the entry and its reason are in the decision."""
    decision = run(_upload("image/tiff", TIFF), _binary_policy())
    assert decision.action is Action.ALLOW
    assert decision.body is None
    assert decision.allowed_by == ("binary:image/tiff",)
    assert decision.allow_reasons == {"binary:image/tiff": "scanned forms, reviewed"}


def test_a_binary_entry_does_not_pass_a_body_whose_bytes_say_otherwise() -> None:
    """An archive labelled image/tiff is not a TIFF: on_error decides."""
    decision = run(_upload("image/tiff", ZIP), _binary_policy())
    assert decision.action is Action.BLOCK
    assert decision.blocking_rule == "on_error"


def test_a_binary_entry_does_not_pass_what_was_read_in_part() -> None:
    """A PNG with an archive after its end was read as a PNG: its trailer goes to on_error."""
    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    )
    decision = run(_upload("image/png", png + ZIP), _binary_policy())
    assert decision.action is Action.BLOCK
    assert decision.blocking_rule == "on_error"


def test_a_binary_entry_still_judges_the_rest_of_the_message() -> None:
    """The body passes unread, but an SSN in a header of the same request blocks it."""
    decision = run(_upload("image/tiff", TIFF, [("X-Ref", SSN)]), _binary_policy())
    assert decision.action is Action.BLOCK
    assert decision.blocking_rule == "block-ssn"


def test_a_binary_block_entry_refuses_whatever_on_error_says() -> None:
    """A type an entry refuses is blocked under the rule `binary`."""
    decision = run(
        _upload("application/x-7z-compressed", b"7z\xbc\xaf\x27\x1c" + bytes(64)), _binary_policy()
    )
    assert decision.action is Action.BLOCK
    assert decision.blocking_rule == "binary"


def test_the_requests_own_authority_is_inspected() -> None:
    """HTTP/2's `:authority` reaches the vendor as written: a label holding an SSN blocks."""
    message = replace(json_message({"n": 1}), authority=f"c{SSN.replace('-', '')}.tenant.example")
    decision = run(message, detector=PresidioDetector())
    assert decision.action is Action.BLOCK
    assert [f.location for f in decision.findings] == ["authority>host:0"]


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/csv", b'{"ref": "x", "note": "ssn 078-05-1120"}'),
        ("application/x-www-form-urlencoded", b'{"note": "ssn 078-05-1120"}'),
        ("text/plain; charset=utf-16le", b"note: ssn 078-05-1120."),  # even: valid UTF-16
        ("text/csv; charset=cp500", b"note,ssn 078-05-1120\n"),
    ],
    ids=["json-as-csv", "json-as-form", "ascii-as-utf16", "ascii-as-ebcdic"],
)
def test_a_body_that_lies_about_its_type_or_charset_is_read_as_it_is(
    content_type: str, body: bytes
) -> None:
    """The gateway reads what a vendor ignoring the label would read, and blocks the SSN."""
    message = Message.for_url(
        "https://api.vendor.example/t", headers=[("Content-Type", content_type)], body=body
    )
    decision = run(message)
    assert decision.action is Action.BLOCK
    assert decision.blocking_rule == "block-ssn"


def test_clean_bodies_that_lie_about_their_type_still_pass_unchanged() -> None:
    """JSON labelled CSV, ASCII labelled Latin-1: nothing found, the bytes go on."""
    for content_type, body in (
        ("text/csv", b'{"status": "open", "qty": 3}'),
        ("text/plain; charset=latin-1", b"the parcel left on Tuesday"),
    ):
        message = Message.for_url(
            "https://api.vendor.example/t", headers=[("Content-Type", content_type)], body=body
        )
        decision = run(message)
        assert decision.action is Action.ALLOW
        assert decision.body is None
