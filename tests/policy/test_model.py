"""Tests for dlp_proxy/policy/model.py: rule matching, field selectors, the entity names."""

from __future__ import annotations

import pytest

from dlp_proxy.policy.loader import load_policy
from dlp_proxy.policy.model import (
    KNOWN_ENTITIES,
    Action,
    BinaryAction,
    BinaryEntry,
    Direction,
    FieldSelector,
    Policy,
    Rule,
    Target,
    TunnelAction,
    Tunnels,
    Vendor,
)
from tests.support import POLICIES, target

# --- rule matching ---------------------------------------------------------------------------


ACME = Vendor("acme", "ACME", ("api.acme-cc.example", "*.acme-cc.example"))
OTHER = Vendor("other", "Other", ("other.example",))


def rule(**fields: object) -> Rule:
    """A block rule for PERSON with the given matching fields."""
    return Rule(id="r", entities=frozenset({"PERSON"}), action=Action.BLOCK, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("host", "matches"),
    [
        ("a.acme-cc.example", True),
        ("api.acme-cc.example", True),
        ("deep.a.acme-cc.example", True),
        ("A.ACME-CC.EXAMPLE", True),
        ("a.acme-cc.example.", True),
        ("acme-cc.example", False),
        ("evilacme-cc.example", False),
        ("a.acme-cc.example.evil.test", False),
        ("other.example", False),
    ],
)
def test_vendor_host_glob(host: str, matches: bool) -> None:
    """`*.acme-cc.example` matches any subdomain, case-insensitively, but not the bare domain."""
    vendor = Vendor("acme", "ACME", ("*.acme-cc.example",))
    assert vendor.matches_host(host) is matches


@pytest.mark.parametrize(
    ("rule_fields", "tgt", "vendor", "applies"),
    [
        pytest.param({}, target(), None, True, id="no-conditions"),
        pytest.param({}, target(Direction.RESPONSE), None, False, id="default-request-only"),
        pytest.param(
            {"directions": frozenset({Direction.RESPONSE})},
            target(Direction.RESPONSE),
            None,
            True,
            id="response-rule-on-response",
        ),
        pytest.param(
            {"directions": frozenset({Direction.RESPONSE})},
            target(Direction.REQUEST),
            None,
            False,
            id="response-rule-on-request",
        ),
        pytest.param(
            {"directions": frozenset(Direction)}, target(Direction.RESPONSE), None, True, id="both"
        ),
        pytest.param(
            {"methods": frozenset({"POST"})}, target(method="post"), None, True, id="method-lower"
        ),
        pytest.param(
            {"methods": frozenset({"POST", "PUT"})},
            target(method="GET"),
            None,
            False,
            id="method-other",
        ),
        pytest.param({"vendors": ("acme",)}, target(), ACME, True, id="vendor-match"),
        pytest.param({"vendors": ("acme",)}, target(), OTHER, False, id="vendor-other"),
        pytest.param({"vendors": ("acme",)}, target(), None, False, id="vendor-none"),
        pytest.param(
            {"hosts": ("*.acme-cc.example",)},
            target(host="x.acme-cc.example"),
            None,
            True,
            id="host-glob",
        ),
        pytest.param(
            {"hosts": ("*.acme-cc.example",)},
            target(host="acme-cc.example"),
            None,
            False,
            id="host-bare",
        ),
        pytest.param(
            {"paths": ("/v2/tickets*",)}, target(path="/v2/tickets"), None, True, id="path-exact"
        ),
        pytest.param(
            {"paths": ("/v2/tickets*",)},
            target(path="/v2/tickets/7/notes"),
            None,
            True,
            id="path-deeper",
        ),
        pytest.param(
            {"paths": ("/v2/tickets*",)}, target(path="/v1/tickets"), None, False, id="path-other"
        ),
        pytest.param(
            {"paths": ("/v2/Tickets",)}, target(path="/v2/tickets"), None, False, id="path-case"
        ),
        pytest.param({"paths": ("/a", "/b/*")}, target(path="/b/c"), None, True, id="path-any-of"),
        pytest.param({"paths": ("*",)}, target(path="/anything"), None, True, id="path-star"),
    ],
)
def test_rule_applies_to(
    rule_fields: dict[str, object], tgt: Target, vendor: Vendor | None, applies: bool
) -> None:
    """A rule applies only when its direction, method, vendor, host and path all match."""
    assert rule(**rule_fields).applies_to(tgt, vendor) is applies


def test_vendor_for_returns_the_first_matching_vendor() -> None:
    """vendor_for picks the first vendor whose hosts match, or None for an unknown host."""
    overlap = Vendor("catch-all", "Catch-all", ("*.example",))
    policy = Policy(name="p", rules=(), vendors=(ACME, overlap))
    assert policy.vendor_for("x.acme-cc.example") is ACME
    assert policy.vendor_for("API.ACME-CC.EXAMPLE") is ACME
    assert policy.vendor_for("foo.example") is overlap
    assert policy.vendor_for("acme-cc.test") is None


@pytest.mark.parametrize(
    ("direction", "method", "host", "path", "rule_ids"),
    [
        (
            Direction.REQUEST,
            "POST",
            "api.acme-cc.example",
            "/v2/tickets/9",
            ["acme-block-financial", "acme-hash-emails", "acme-mask-phones", "acme-bulk-names"],
        ),
        (
            Direction.REQUEST,
            "GET",
            "eu.acme-cc.example",
            "/v2/tickets",
            ["acme-block-financial", "acme-mask-phones", "acme-bulk-names"],
        ),
        (
            Direction.REQUEST,
            "PUT",
            "api.acme-cc.example",
            "/v1/users",
            ["acme-block-financial", "acme-mask-phones", "acme-bulk-names"],
        ),
        (
            Direction.RESPONSE,
            "POST",
            "api.acme-cc.example",
            "/v2/tickets",
            ["acme-block-financial"],
        ),
        (Direction.REQUEST, "POST", "acme-cc.test", "/v2/tickets", []),
    ],
)
def test_rules_for_the_acme_policy(
    direction: Direction, method: str, host: str, path: str, rule_ids: list[str]
) -> None:
    """The shipped ACME policy selects its rules by vendor, method, path and direction."""
    policy = load_policy(POLICIES / "acme-contact-centre.yaml")
    tgt = Target(direction, method, host, path)
    assert [r.id for r in policy.rules_for(tgt, policy.vendor_for(host))] == rule_ids


def test_action_order_and_labels() -> None:
    """Actions order allow < redact < encrypt < block and print as their YAML names."""
    assert sorted(Action, reverse=True) == [
        Action.BLOCK,
        Action.ENCRYPT,
        Action.REDACT,
        Action.ALLOW,
    ]
    assert [a.label for a in Action] == ["allow", "redact", "encrypt", "block"]


# --- KNOWN_ENTITIES against a real Presidio registry -----------------------------------------

# Presidio's SpacyRecognizer advertises every target of its default NER label mapping
# (MODEL_TO_PRESIDIO_ENTITY_MAPPING in presidio_analyzer/nlp_engine/ner_model_configuration.py).
# That mapping also serves medical and transformers models: AGE, ID and EMAIL are reached only
# from the labels AGE, ID and EMAIL, which en_core_web_sm does not have, so nothing ever emits
# them. A policy naming them would silently never fire, so KNOWN_ENTITIES leaves them out.
NER_MAPPING_ONLY = frozenset({"AGE", "ID", "EMAIL"})


def test_known_entities_match_a_real_presidio_registry() -> None:
    """KNOWN_ENTITIES is our registry (Presidio's English one plus ours) minus NER-only names."""
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    from dlp_proxy.detection.presidio import DEFAULT_MODEL, build_registry, make_tldextract_offline

    make_tldextract_offline()
    nlp_engine = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": DEFAULT_MODEL}],
        }
    ).create_engine()
    registry = build_registry(nlp_engine)
    supported = frozenset(registry.get_supported_entities(languages=["en"]))

    assert KNOWN_ENTITIES - supported == frozenset()
    assert supported - KNOWN_ENTITIES == NER_MAPPING_ONLY

    # Check the reason given above rather than trust it: only the spaCy recognizer claims these
    # names, and no label of the model maps to them.
    claimed_by = {
        type(r).__name__
        for r in registry.recognizers
        if NER_MAPPING_ONLY & set(r.supported_entities)
    }
    assert claimed_by == {"SpacyRecognizer"}
    labels = set(nlp_engine.nlp["en"].get_pipe("ner").labels)  # type: ignore[attr-defined]
    mapping = nlp_engine.ner_model_configuration.model_to_presidio_entity_mapping  # type: ignore[attr-defined]
    for entity in NER_MAPPING_ONLY:
        sources = {label for label, name in mapping.items() if name == entity}
        assert sources, entity
        assert not sources & labels, (entity, sources)


# --- field selectors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "field", "matches"),
    [
        ("$.customer.email", "$.customer.email", True),
        ("$.customer", "$.customer.email", True),
        ("$.customer", "$.customers", False),
        ("$.customer", "$.customer>$.ssn", True),
        ("$.items[*].sku", "$.items[*].sku", True),
        ("$.items[0].sku", "$.items[*].sku", True),
        ("$.items[*]", "$.items[*].note", True),
        ("$.*.email", "$.agent.email", True),
        ("$.*.email", "$.agent.contact.email", False),
        ("$.**.email", "$.agent.contact.email", True),
        ("form:note_*", "form:note_internal", True),
        ("form:note_*", "form:notes", False),
        ("csv:email", "csv:email", True),
        ("csv:email", "csv:email_2", False),
        ("xml:/root/customer", "xml:/root/customer/@id", True),
        ("header:x-agent-id", "header:x-agent-id", True),
        ("text", "text", True),
        ("$.customer.ssn", "$.customer.ssn#name", True),
        ("multipart:file", "multipart:file#filename", True),
        ("multipart:file", "multipart:files#filename", False),
        ("form:note_*", "form:note_x#name", True),
    ],
)
def test_field_selector_matches_its_field_and_what_is_inside(
    selector: str, field: str, matches: bool
) -> None:
    """A selector matches its own field and fields nested in it, with * for one name part."""
    assert FieldSelector.parse(selector).matches(field) is matches


def test_field_selector_refuses_what_is_not_a_field_path() -> None:
    """A selector must start with a format prefix, so a typo cannot silently match nothing."""
    with pytest.raises(ValueError, match=r"must be a field path starting with one of \$, form:"):
        FieldSelector.parse("customer.email")


# --- tunnels and binary bodies ---------------------------------------------------------------


def test_tunnels_are_refused_unless_the_policy_says_otherwise() -> None:
    """A policy without `tunnels` refuses them, and a vendor without its own follows the policy."""
    policy = Policy(name="p", rules=(), vendors=(ACME,))
    assert policy.tunnels == Tunnels(TunnelAction.REFUSE, "")
    assert policy.tunnels_for(ACME) is policy.tunnels
    assert policy.tunnels_for(None) is policy.tunnels


def test_a_vendors_tunnel_setting_overrides_the_policys_for_that_vendor_only() -> None:
    """`vendors[].tunnels` applies to that vendor; other vendors and unknown hosts get the top's."""
    allowed = Tunnels(TunnelAction.ALLOW, "their SFTP drop box is encrypted end to end")
    acme = Vendor("acme", "ACME", ("api.acme-cc.example",), tunnels=allowed)
    policy = Policy(
        name="p", rules=(), vendors=(acme, OTHER), tunnels=Tunnels(TunnelAction.INSPECT)
    )
    assert policy.tunnels_for(policy.vendor_for("api.acme-cc.example")) is allowed
    assert policy.tunnels_for(policy.vendor_for("other.example")).action is TunnelAction.INSPECT
    assert policy.tunnels_for(policy.vendor_for("nobody.example")).action is TunnelAction.INSPECT


@pytest.mark.parametrize(
    ("content_type", "listed"),
    [
        ("image/png", True),
        ("IMAGE/PNG", True),
        ("image/png; name=scan.png", True),
        (" image/png ", True),
        ("application/pdf", True),
        ("application/pdf+x", False),
        ("image/jpeg", False),
        ("image", False),
        ("", False),
    ],
)
def test_a_binary_entry_matches_its_types_whatever_the_case_and_parameters(
    content_type: str, listed: bool
) -> None:
    """Content types compare by their essence (type/subtype), case-insensitively."""
    entry = BinaryEntry(("image/png", "application/pdf"), BinaryAction.ALLOW, "scans")
    assert entry.matches(content_type) is listed


def test_a_binary_entry_with_a_wildcard_subtype_matches_the_whole_family() -> None:
    """`image/*` lists every image type, and nothing else."""
    entry = BinaryEntry(("image/*",), BinaryAction.ALLOW, "product photos")
    assert entry.matches("image/webp")
    assert not entry.matches("application/octet-stream")


def test_binary_entries_of_the_vendor_come_before_the_policys() -> None:
    """The vendor's own entry wins for its hosts; the policy's applies to everyone else."""
    mine = BinaryEntry(("image/png",), BinaryAction.BLOCK)
    shared = BinaryEntry(("image/*",), BinaryAction.ALLOW, "logos")
    acme = Vendor("acme", "ACME", ("api.acme-cc.example",), binary=(mine,))
    policy = Policy(name="p", rules=(), vendors=(acme, OTHER), binary=(shared,))
    assert policy.binary_for("image/png", acme) is mine
    assert policy.binary_for("image/gif", acme) is shared
    assert policy.binary_for("image/png", OTHER) is shared
    assert policy.binary_for("image/png", None) is shared
    assert policy.binary_for("application/zip", acme) is None
