"""Tests for dlp_proxy/policy/loader.py: loading, and validation messages with file and line."""

from __future__ import annotations

import hashlib
import re
import textwrap
from pathlib import Path

import pytest

from dlp_proxy.errors import PolicyError
from dlp_proxy.policy.loader import load_policy, parse_policy
from dlp_proxy.policy.model import (
    CONTRACT_ENTITIES,
    KNOWN_ENTITIES,
    Action,
    BinaryAction,
    BinaryEntry,
    CustomDetector,
    DetectorPattern,
    Direction,
    EncryptMode,
    EncryptOptions,
    Evidence,
    FieldSelector,
    Mode,
    OnError,
    Policy,
    RedactOperator,
    RedactOptions,
    Rule,
    Severity,
    TunnelAction,
    Tunnels,
    UnknownDestinations,
    Validator,
    Vendor,
)
from tests.support import POLICIES, target


def write(tmp_path: Path, text: str, name: str = "x.yaml") -> Path:
    """Write dedented YAML to `tmp_path/name` and return the path."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str) -> PolicyError:
    """The PolicyError that loading `text` from x.yaml raises."""
    with pytest.raises(PolicyError) as info:
        load_policy(write(tmp_path, text))
    return info.value


# --- shipped policies ------------------------------------------------------------------------


def test_default_policy_loads() -> None:
    """policies/default.yaml is valid: six request rules and one response rule on trial."""
    policy = load_policy(POLICIES / "default.yaml")
    assert policy.name == "default"
    assert policy.mode is Mode.ENFORCE
    assert policy.on_error is OnError.BLOCK
    assert policy.unknown_destinations is UnknownDestinations.INSPECT
    assert [(r.id, r.action) for r in policy.rules] == [
        ("block-ssn-and-bank-numbers", Action.BLOCK),
        ("encrypt-card-numbers", Action.ENCRYPT),
        ("redact-contact-details", Action.REDACT),
        ("redact-ip-addresses", Action.REDACT),
        ("redact-addresses-and-birth-dates", Action.REDACT),
        ("redact-names", Action.REDACT),
        ("watch-responses", Action.BLOCK),
    ]
    assert policy.rules[-1].mode is Mode.MONITOR
    assert "ABA_ROUTING_NUMBER" in policy.rules[0].entities
    assert policy.rules[1].encrypt == EncryptOptions(mode=EncryptMode.DETERMINISTIC)


def test_acme_policy_loads() -> None:
    """policies/acme-contact-centre.yaml is valid: one vendor, unknown hosts blocked."""
    policy = load_policy(POLICIES / "acme-contact-centre.yaml")
    assert policy.name == "acme-contact-centre"
    assert policy.unknown_destinations is UnknownDestinations.BLOCK
    assert policy.max_body_bytes == 5242880
    assert policy.vendors == (
        Vendor("acme", "ACME Contact Centres", ("api.acme-cc.example", "*.acme-cc.example")),
    )
    assert all(r.vendors == ("acme",) for r in policy.rules)
    bulk = policy.rules[-1]
    assert (bulk.id, bulk.min_count, bulk.min_score) == ("acme-bulk-names", 20, 0.6)


def test_policy_records_source_and_sha256_of_the_bytes() -> None:
    """`source` names the file and `sha256` hashes its exact bytes, for the decision log."""
    path = POLICIES / "default.yaml"
    policy = load_policy(path)
    assert policy.source == str(path)
    assert policy.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_parse_policy_accepts_text_and_bytes_alike() -> None:
    """parse_policy gives the same policy for the text and its UTF-8 bytes."""
    text = "version: 1\nname: t\nrules: [{id: a, entities: [PERSON], action: block}]\n"
    assert parse_policy(text) == parse_policy(text.encode())


# --- a valid policy with every option --------------------------------------------------------

FULL_POLICY = """
    version: 1
    name: full
    description: every option there is
    mode: monitor
    on_error: allow
    max_body_bytes: 2048
    unknown_destinations: block
    evidence: snippets
    vendors:
      - id: acme
        name: ACME Contact Centres
        hosts: ["api.acme-cc.example", "*.ACME-cc.example"]
      - id: beta
        hosts: beta.example
    rules:
      - id: block-financial
        description: no bank data
        vendors: [acme, beta]
        hosts: ["api.acme-cc.example"]
        paths: ["/v2/*", "*"]
        methods: [post, PUT]
        direction: both
        entities: [US_SSN, IBAN_CODE]
        min_score: 0.7
        min_count: 2
        action: block
      - id: mask-phones
        entities: PHONE_NUMBER
        direction: response
        action: redact
        redact: {operator: mask, keep: 2, char: "#"}
      - id: hash-emails
        entities: [EMAIL_ADDRESS]
        action: redact
        redact: {operator: hash}
      - id: replace-names
        entities: [PERSON]
        min_score: 1
        action: redact
        redact: {with: "[{entity} removed]"}
      - id: encrypt-cards
        entities: [CREDIT_CARD]
        action: encrypt
        encrypt: {mode: deterministic}
      - id: allow-urls
        entities: [URL]
        min_score: 0
        action: allow
"""


def test_valid_policy_with_every_option_parses_to_dataclasses(tmp_path: Path) -> None:
    """Every documented option lands in the right dataclass field, with defaults elsewhere."""
    path = write(tmp_path, FULL_POLICY)
    policy = load_policy(path)
    assert policy == Policy(
        name="full",
        mode=Mode.MONITOR,
        on_error=OnError.ALLOW,
        max_body_bytes=2048,
        unknown_destinations=UnknownDestinations.BLOCK,
        evidence=Evidence.SNIPPETS,
        vendors=(
            Vendor("acme", "ACME Contact Centres", ("api.acme-cc.example", "*.acme-cc.example")),
            Vendor("beta", "beta", ("beta.example",)),
        ),
        rules=(
            Rule(
                id="block-financial",
                description="no bank data",
                vendors=("acme", "beta"),
                hosts=("api.acme-cc.example",),
                paths=("/v2/*", "*"),
                methods=frozenset({"POST", "PUT"}),
                directions=frozenset({Direction.REQUEST, Direction.RESPONSE}),
                entities=frozenset({"US_SSN", "IBAN_CODE"}),
                min_score=0.7,
                min_count=2,
                action=Action.BLOCK,
            ),
            Rule(
                id="mask-phones",
                entities=frozenset({"PHONE_NUMBER"}),
                directions=frozenset({Direction.RESPONSE}),
                action=Action.REDACT,
                redact=RedactOptions(operator=RedactOperator.MASK, keep=2, char="#"),
            ),
            Rule(
                id="hash-emails",
                entities=frozenset({"EMAIL_ADDRESS"}),
                action=Action.REDACT,
                redact=RedactOptions(operator=RedactOperator.HASH),
            ),
            Rule(
                id="replace-names",
                entities=frozenset({"PERSON"}),
                min_score=1.0,
                action=Action.REDACT,
                redact=RedactOptions(replacement="[{entity} removed]"),
            ),
            Rule(
                id="encrypt-cards",
                entities=frozenset({"CREDIT_CARD"}),
                action=Action.ENCRYPT,
                encrypt=EncryptOptions(mode=EncryptMode.DETERMINISTIC),
            ),
            Rule(
                id="allow-urls",
                entities=frozenset({"URL"}),
                min_score=0.0,
                action=Action.ALLOW,
            ),
        ),
        source=str(path),
        files=(str(path),),
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
    )


def test_minimal_policy_gets_documented_defaults(tmp_path: Path) -> None:
    """Omitted options default to enforce, on_error block, 10 MiB, inspect, request-only rules."""
    policy = load_policy(
        write(
            tmp_path, "version: 1\nname: m\nrules: [{id: a, entities: [PERSON], action: block}]\n"
        )
    )
    assert (policy.mode, policy.on_error, policy.max_body_bytes, policy.unknown_destinations) == (
        Mode.ENFORCE,
        OnError.BLOCK,
        10 * 1024 * 1024,
        UnknownDestinations.INSPECT,
    )
    assert policy.evidence is Evidence.BODY
    (rule,) = policy.rules
    assert rule.directions == frozenset({Direction.REQUEST})
    assert (rule.min_score, rule.min_count, rule.methods, rule.paths) == (0.4, 1, frozenset(), ())
    assert rule.redact == RedactOptions()
    assert rule.encrypt == EncryptOptions()


# --- errors: each gives its message with file and line ---------------------------------------

RULE_HEAD = """
    version: 1
    name: t
    vendors:
      - id: acme
        hosts: ["*.acme-cc.example"]
    rules:
"""


@pytest.mark.parametrize(
    ("rule_yaml", "expected"),
    [
        pytest.param(
            """
              - id: fine
                entities: [PERSON]
                action: block
              - id: second
                entities: [PERSON]
                action: mask
            """,
            "x.yaml:12:3: rules[1].action must be one of allow|redact|encrypt|block (got 'mask')",
            id="bad-action",
        ),
        pytest.param(
            """
              - id: a
                entities: [PERSON]
            """,
            "x.yaml:7:3: rules[0] needs `action`, one of allow|redact|encrypt|block",
            id="missing-action",
        ),
        pytest.param(
            """
              - id: a
                entites: [PERSON]
                action: block
            """,
            "x.yaml:8:3: rules[0].entites is not a known key here; did you mean 'entities'?; "
            "allowed: id, description, vendors",
            id="unknown-rule-key",
        ),
        pytest.param(
            """
              - id: a
                entities:
                  - PERSON
                  - CREDIT_CARDS
                action: block
            """,
            "x.yaml:10:7: rules[0].entities[1] 'CREDIT_CARDS' is not an entity type dlp-proxy "
            "detects; did you mean 'CREDIT_CARD'?",
            id="unknown-entity",
        ),
        pytest.param(
            """
              - id: a
                entities: [EMAIL]
                action: block
            """,
            "x.yaml:8:14: rules[0].entities[0] 'EMAIL' is not an entity type dlp-proxy "
            "detects; did you mean 'EMAIL_ADDRESS'?",
            id="truncated-entity",
        ),
        pytest.param(
            """
              - id: a
                entities: [PERSON, MAGIC]
                action: block
            """,
            "x.yaml:8:22: rules[0].entities[1] 'MAGIC' is not an entity type dlp-proxy detects; "
            "declare your own types under `detectors`",
            id="unknown-entity-no-suggestion",
        ),
        pytest.param(
            """
              - id: a
                entities: []
                action: block
            """,
            "x.yaml:8:3: rules[0].entities must not be empty",
            id="empty-entities",
        ),
        pytest.param(
            """
              - id: a
                vendors: [acmee]
                entities: [PERSON]
                action: block
            """,
            "x.yaml:8:13: rules[0].vendors[0] names vendor 'acmee', which is not defined under "
            "`vendors`; did you mean 'acme'?",
            id="unknown-vendor",
        ),
        pytest.param(
            """
              - id: a
                direction: outbound
                entities: [PERSON]
                action: block
            """,
            "x.yaml:8:3: rules[0].direction must be one of request|response|both (got 'outbound')",
            id="bad-direction",
        ),
        pytest.param(
            """
              - id: a
                methods: [post, FETCH]
                entities: [PERSON]
                action: block
            """,
            "x.yaml:8:3: rules[0].methods 'FETCH' is not an HTTP method",
            id="bad-method",
        ),
        pytest.param(
            """
              - id: a
                paths: ["/ok", "v2/tickets"]
                entities: [PERSON]
                action: block
            """,
            "x.yaml:8:18: rules[0].paths[1] must start with '/' (got 'v2/tickets')",
            id="relative-path",
        ),
        pytest.param(
            """
              - id: a
                hosts: ["api.vendor.example/v2"]
                entities: [PERSON]
                action: block
            """,
            "x.yaml:8:11: rules[0].hosts[0] must be a host name or pattern like '*.vendor.example' "
            "(got 'api.vendor.example/v2')",
            id="bad-host",
        ),
        pytest.param(
            """
              - id: a
                entities: [PERSON]
                min_score: 1.5
                action: block
            """,
            "x.yaml:9:3: rules[0].min_score must be a number from 0 to 1 (got 1.5)",
            id="min-score-over-1",
        ),
        pytest.param(
            """
              - id: a
                entities: [PERSON]
                min_score: -0.1
                action: block
            """,
            "x.yaml:9:3: rules[0].min_score must be a number from 0 to 1 (got -0.1)",
            id="min-score-negative",
        ),
        pytest.param(
            """
              - id: a
                entities: [PERSON]
                min_score: true
                action: block
            """,
            "x.yaml:9:3: rules[0].min_score must be a number from 0 to 1 (got True)",
            id="min-score-bool",
        ),
        pytest.param(
            """
              - id: a
                entities: [PERSON]
                min_count: 0
                action: block
            """,
            "x.yaml:9:3: rules[0].min_count must be a whole number >= 1 (got 0)",
            id="min-count-zero",
        ),
        pytest.param(
            """
              - id: a
                entities: [PERSON]
                min_count: 2.5
                action: block
            """,
            "x.yaml:9:3: rules[0].min_count must be a whole number >= 1 (got 2.5)",
            id="min-count-fraction",
        ),
        pytest.param(
            """
              - id: a
                entities: [PERSON]
                action: block
                redact: {operator: mask}
            """,
            "x.yaml:10:3: rules[0].redact is only allowed with `action: redact`",
            id="redact-options-on-block",
        ),
        pytest.param(
            """
              - id: a
                entities: [PERSON]
                action: redact
                encrypt: {mode: deterministic}
            """,
            "x.yaml:10:3: rules[0].encrypt is only allowed with `action: encrypt`",
            id="encrypt-options-on-redact",
        ),
        pytest.param(
            """
              - id: a
                entities: [PERSON]
                action: redact
                redact:
                  operator: mask
                  char: "**"
            """,
            "x.yaml:12:5: rules[0].redact.char must be a single character (got '**')",
            id="bad-mask-char",
        ),
        pytest.param(
            """
              - id: a
                entities: [PERSON]
                action: redact
                redact:
                  operator: blur
            """,
            "x.yaml:11:5: rules[0].redact.operator must be one of replace|mask|hash (got 'blur')",
            id="bad-operator",
        ),
        pytest.param(
            """
              - id: a
                entities: [PERSON]
                action: redact
                redact:
                  with: "<{value}>"
            """,
            "x.yaml:11:5: rules[0].redact.with may only contain the placeholder {entity}",
            id="bad-placeholder",
        ),
        pytest.param(
            """
              - id: a
                entities: [PERSON]
                action: encrypt
                encrypt: {mode: reversible}
            """,
            "x.yaml:10:13: rules[0].encrypt.mode must be one of randomized|deterministic|mask-pci "
            "(got 'reversible')",
            id="bad-encrypt-mode",
        ),
        pytest.param(
            """
              - id: a
                entities: [PERSON]
                action: block
              - id: a
                entities: [US_SSN]
                action: block
            """,
            "x.yaml:10:3: rules[1] id 'a' is used twice; ids must be unique",
            id="duplicate-rule-ids",
        ),
        pytest.param(
            """
              - id: a
                entities: [PERSON]
                action: block
                action: redact
            """,
            "x.yaml:10:3: rules[0].action is given twice; keep one of them",
            id="duplicate-yaml-key",
        ),
        pytest.param(
            """
              - id: "has space"
                entities: [PERSON]
                action: block
            """,
            "x.yaml:7:3: rules[0].id must be letters, digits, '-', '_' or '.', starting with a "
            "letter or digit (got 'has space')",
            id="bad-rule-id",
        ),
        pytest.param(
            """
              - just a string
            """,
            "x.yaml:7:3: rules[0] must be a mapping with `id`, `entities` and `action`",
            id="rule-not-a-mapping",
        ),
    ],
)
def test_rule_error_names_file_line_and_field(
    tmp_path: Path, rule_yaml: str, expected: str
) -> None:
    """Each invalid rule is reported as `file:line: field message`, pointing at the bad line."""
    text = textwrap.dedent(RULE_HEAD) + textwrap.dedent(rule_yaml).lstrip("\n")
    error = load_error(tmp_path, text)
    assert re.search(re.escape(expected), str(error) + "\n"), str(error)
    assert str(error).startswith(str(tmp_path / "x.yaml") + ":")


@pytest.mark.parametrize(
    ("policy_yaml", "expected"),
    [
        pytest.param(
            """
            version: 1
            name: t
            rules:
              - id: a
                entities: [PERSON
                action: block
            """,
            "x.yaml:6:11: is not valid YAML: expected ',' or ']', but got ':'",
            id="invalid-yaml",
        ),
        pytest.param(
            """
            version: 1
            name: t
              rules: []
            """,
            "x.yaml:3:8: is not valid YAML: mapping values are not allowed here",
            id="bad-indentation",
        ),
        pytest.param(
            """
            - version: 1
            - name: t
            """,
            "x.yaml:1:1: must be a mapping with at least `version`, `name` and `rules`",
            id="not-a-mapping",
        ),
        pytest.param(
            "# only a comment\n",
            "x.yaml: must be a mapping with at least `version`, `name` and `rules`",
            id="empty-file",
        ),
        pytest.param(
            """
            version: 2
            name: t
            rules: [{id: a, entities: [PERSON], action: block}]
            """,
            "x.yaml:1:1: version must be 1 (got 2); this dlp-proxy reads policy version 1",
            id="wrong-version",
        ),
        pytest.param(
            """
            name: t
            rules: [{id: a, entities: [PERSON], action: block}]
            """,
            "x.yaml:1:1: version must be 1 (got None)",
            id="missing-version",
        ),
        pytest.param(
            """
            # a comment first
            version: 1
            rules: [{id: a, entities: [PERSON], action: block}]
            """,
            "x.yaml:2:1: needs `name`",
            id="missing-name",
        ),
        pytest.param(
            """
            version: 1
            name: t
            """,
            "x.yaml:1:1: needs `rules`, a list",
            id="missing-rules",
        ),
        pytest.param(
            """
            version: 1
            name: t
            rules: []
            """,
            "x.yaml:3:1: rules must not be empty",
            id="empty-rules",
        ),
        pytest.param(
            """
            version: 1
            name: t
            rules: {id: a}
            """,
            "x.yaml:3:1: rules must be a list (got dict)",
            id="rules-not-a-list",
        ),
        pytest.param(
            """
            version: 1
            name: t
            rulez: []
            rules: [{id: a, entities: [PERSON], action: block}]
            """,
            "x.yaml:3:1: rulez is not a known key here; did you mean 'rules'?; allowed: version, "
            "name, description, mode, on_error, max_body_bytes, max_decompression_ratio, "
            "unknown_destinations, evidence, tunnels, binary, include, detectors, allow, vendors, "
            "rules",
            id="unknown-top-level-key",
        ),
        pytest.param(
            """
            version: 1
            name: t
            mode: audit
            rules: [{id: a, entities: [PERSON], action: block}]
            """,
            "x.yaml:3:1: mode must be one of enforce|monitor (got 'audit')",
            id="bad-mode",
        ),
        pytest.param(
            """
            version: 1
            name: t
            on_error: ignore
            rules: [{id: a, entities: [PERSON], action: block}]
            """,
            "x.yaml:3:1: on_error must be one of block|allow (got 'ignore')",
            id="bad-on-error",
        ),
        pytest.param(
            """
            version: 1
            name: t
            unknown_destinations: drop
            rules: [{id: a, entities: [PERSON], action: block}]
            """,
            "x.yaml:3:1: unknown_destinations must be one of inspect|allow|block (got 'drop')",
            id="bad-unknown-destinations",
        ),
        pytest.param(
            """
            version: 1
            name: t
            max_body_bytes: 0
            rules: [{id: a, entities: [PERSON], action: block}]
            """,
            "x.yaml:3:1: max_body_bytes must be a whole number >= 1 (got 0)",
            id="bad-max-body-bytes",
        ),
        pytest.param(
            """
            version: 1
            name: t
            vendors:
              - id: acme
                hosts: [a.example]
              - id: acme
                hosts: [b.example]
            rules: [{id: a, entities: [PERSON], action: block}]
            """,
            "x.yaml:6:5: vendors[1] id 'acme' is used twice; ids must be unique",
            id="duplicate-vendor-ids",
        ),
        pytest.param(
            """
            version: 1
            name: t
            vendors:
              - id: acme
            rules: [{id: a, entities: [PERSON], action: block}]
            """,
            "x.yaml:4:5: vendors[0] needs `hosts`, a list",
            id="vendor-without-hosts",
        ),
        pytest.param(
            """
            version: 1
            name: t
            name: u
            rules: [{id: a, entities: [PERSON], action: block}]
            """,
            "x.yaml:3:1: name is given twice; keep one of them",
            id="duplicate-top-level-key",
        ),
    ],
)
def test_policy_error_names_file_and_line(tmp_path: Path, policy_yaml: str, expected: str) -> None:
    """Each invalid policy is reported with the file, the line to fix and what was wrong."""
    with pytest.raises(PolicyError, match=re.escape(expected)):
        load_policy(write(tmp_path, policy_yaml))


def test_non_utf8_file_is_reported_with_the_byte_offset(tmp_path: Path) -> None:
    """A Latin-1 file is refused with the offset of the first bad byte and how to fix it."""
    path = tmp_path / "x.yaml"
    path.write_bytes(b"version: 1\nname: caf\xe9\n")
    with pytest.raises(
        PolicyError, match=r"x\.yaml: is not UTF-8 text \(byte 20\); save it as UTF-8"
    ):
        load_policy(path)


def test_missing_file_is_reported_with_its_path(tmp_path: Path) -> None:
    """A policy path that does not exist is a PolicyError naming the path and the OS reason."""
    path = tmp_path / "nope.yaml"
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert str(info.value) == f"{path}: cannot read the policy file: No such file or directory"
    assert info.value.problems[0].line is None


def test_parse_policy_names_the_given_source() -> None:
    """Errors from parse_policy name `source` (default `<memory>`) in place of a file."""
    with pytest.raises(PolicyError, match=r"^<memory>:1:1: version must be 1"):
        parse_policy("version: 3\nname: t\nrules: [{id: a, entities: [PERSON], action: block}]\n")
    with pytest.raises(PolicyError, match=r"^upload\.yaml:1:1: version must be 1"):
        parse_policy(b"version: 3\nname: t\n", source="upload.yaml")


def test_every_problem_in_a_file_is_reported(tmp_path: Path) -> None:
    """Validation does not stop at the first problem: PolicyError.problems lists them all."""
    error = load_error(
        tmp_path,
        """
        version: 1
        name: t
        mode: loud
        rules:
          - id: a
            entities: [PERSN]
            action: block
          - id: b
            entities: [PERSON]
            direction: sideways
            action: mask
          - id: a
            entities: [US_SSN]
            action: block
        """,
    )
    path = str(tmp_path / "x.yaml")
    assert [str(p) for p in error.problems] == [
        f"{path}:3:1: mode must be one of enforce|monitor (got 'loud')",
        f"{path}:6:16: rules[0].entities[0] 'PERSN' is not an entity type dlp-proxy detects; "
        "did you mean 'PERSON'?",
        f"{path}:11:5: rules[1].action must be one of allow|redact|encrypt|block (got 'mask')",
        f"{path}:10:5: rules[1].direction must be one of request|response|both (got 'sideways')",
        f"{path}:12:5: rules[2] id 'a' is used twice; ids must be unique",
    ]
    assert str(error) == "\n".join(str(p) for p in error.problems)
    assert [(p.line, p.column, p.where) for p in error.problems][:2] == [
        (3, 1, "mode"),
        (6, 16, "rules[0].entities[0]"),
    ]


# --- custom detectors, allow lists, contracts, modes, severity, counts -------------------------

DETECTOR_POLICY = """
    version: 1
    name: t
    detectors:
      - id: acme-customer-id
        entity: ACME_CUSTOMER_ID
        patterns:
          - {name: dashed, regex: 'AC-\\d{8}', score: 0.6}
          - 'AC\\d{8}'
        context: [Customer, account]
        validator: luhn
        deny_list: [VIP-0001]
        deny_list_score: 0.9
    rules:
      - {id: ids, entities: [ACME_CUSTOMER_ID], action: redact}
"""


def test_custom_detector_is_parsed_and_its_entity_usable_in_rules(tmp_path: Path) -> None:
    """A detector declares a new entity type that rules can name; patterns keep their scores."""
    policy = load_policy(write(tmp_path, DETECTOR_POLICY))
    assert policy.detectors == (
        CustomDetector(
            id="acme-customer-id",
            entity="ACME_CUSTOMER_ID",
            patterns=(
                DetectorPattern("dashed", r"AC-\d{8}", 0.6),
                DetectorPattern("pattern1", r"AC\d{8}", 0.5),
            ),
            context=("customer", "account"),
            validator=Validator.LUHN,
            deny_list=("VIP-0001",),
            deny_list_score=0.9,
        ),
    )
    assert policy.rules[0].entities == frozenset({"ACME_CUSTOMER_ID"})


@pytest.mark.parametrize(
    ("detector_yaml", "expected"),
    [
        pytest.param(
            "{id: d, entity: X_ID, patterns: ['AC-(\\d+']}",
            "x.yaml:4:38: detectors[0].patterns[0].regex is not a valid regular expression: "
            "missing ) at position",
            id="invalid-regex",
        ),
        pytest.param(
            "{id: d, entity: X_ID, patterns: ['\\d*']}",
            "detectors[0].patterns[0].regex matches the empty string",
            id="empty-match",
        ),
        pytest.param(
            "{id: d, entity: X_ID, patterns: ['\\d+'], validator: lhun}",
            "detectors[0].validator must be one of none|luhn|aba_routing|iban|ssn (got 'lhun'); "
            "did you mean 'luhn'?",
            id="unknown-validator",
        ),
        pytest.param(
            "{id: d, entity: acme-id, patterns: ['\\d+']}",
            "detectors[0].entity must be upper case letters, digits and '_'",
            id="bad-entity-name",
        ),
        pytest.param(
            "{id: d, entity: X_ID}",
            "x.yaml:4:5: detectors[0] needs `patterns` or `deny_list` (or both)",
            id="nothing-to-find",
        ),
        pytest.param(
            "{id: d, entity: X_ID, patterns: [{regex: '\\d+', score: 2}]}",
            "detectors[0].patterns[0].score must be a number from 0 to 1 (got 2)",
            id="bad-score",
        ),
        pytest.param(
            "{id: d, entity: X_ID, patterns: [{regexp: '\\d+'}]}",
            "detectors[0].patterns[0].regexp is not a known key here; did you mean 'regex'?",
            id="unknown-pattern-key",
        ),
    ],
)
def test_bad_detector_is_reported_where_it_is(
    tmp_path: Path, detector_yaml: str, expected: str
) -> None:
    """Each detector problem names the file, line, column and field, with a fix hint."""
    text = f"""
    version: 1
    name: t
    detectors:
      - {detector_yaml}
    rules: [{{id: r, entities: [PERSON], action: block}}]
    """
    assert expected in str(load_error(tmp_path, text))


ALLOW_POLICY = """
    version: 1
    name: t
    vendors: [{id: acme, hosts: [api.acme.example]}]
    allow:
      - id: our-support-address
        reason: Our own support mailbox is not customer data.
        values: [support@client.example]
        patterns: ['.*@client\\.example']
        entities: [EMAIL_ADDRESS]
      - id: agent-fields
        reason: Agent names are the vendor's own staff.
        fields: ['$.agent.name', 'form:agent']
        vendors: [acme]
      - id: health-checks
        reason: Health checks carry no data.
        paths: [/health]
    rules:
      - {id: r, entities: [EMAIL_ADDRESS, PERSON], action: redact}
"""


def test_allow_entries_are_parsed_with_reasons(tmp_path: Path) -> None:
    """Allow entries keep their reason, values, compiled patterns, fields and scope."""
    policy = load_policy(write(tmp_path, ALLOW_POLICY))
    support, agents, health = policy.allow
    assert support.reason == "Our own support mailbox is not customer data."
    assert support.exempts_finding("EMAIL_ADDRESS", "support@client.example", "$.x")
    assert support.exempts_finding("EMAIL_ADDRESS", "billing@client.example", "$.x")
    assert not support.exempts_finding("PERSON", "support@client.example", "$.x")
    assert not support.exempts_finding("EMAIL_ADDRESS", "a@customer.example", "$.x")
    assert agents.exempts_whole_fields
    assert agents.vendors == ("acme",)
    assert agents.exempts_field("$.agent.name")
    assert not agents.exempts_field("$.customer.name")
    assert health.exempts_destination
    assert health.applies_to(target(path="/health"), None)
    assert not health.applies_to(target(path="/tickets"), None)


@pytest.mark.parametrize(
    ("allow_yaml", "expected"),
    [
        pytest.param(
            "{id: a, values: [x]}",
            "allow[0] needs `reason`: say why this exception exists",
            id="no-reason",
        ),
        pytest.param(
            "{id: a, reason: '  ', values: [x]}",
            "allow[0] needs `reason`",
            id="blank-reason",
        ),
        pytest.param(
            "{id: a, reason: r}",
            "allow[0] allows nothing in particular",
            id="allows-nothing",
        ),
        pytest.param(
            "{id: a, reason: r, entities: [EMAIL_ADDRESS]}",
            "allow[0] allows nothing in particular",
            id="entities-only",
        ),
        pytest.param(
            "{id: a, reason: r, fields: [customer.email]}",
            "allow[0].fields[0] must be a field path",
            id="bad-field",
        ),
        pytest.param(
            "{id: a, reason: r, patterns: ['[a-']}",
            "allow[0].patterns[0] is not a valid regular expression",
            id="bad-pattern",
        ),
        pytest.param(
            "{id: a, reason: r, vendors: [acne], values: [x]}",
            "allow[0].vendors[0] names vendor 'acne', which is not defined under `vendors`; "
            "did you mean 'acme'?",
            id="unknown-vendor",
        ),
    ],
)
def test_bad_allow_entry_is_reported(tmp_path: Path, allow_yaml: str, expected: str) -> None:
    """Allow entries need a reason and something to allow; their parts are checked."""
    text = f"""
    version: 1
    name: t
    vendors: [{{id: acme, hosts: [api.acme.example]}}]
    allow:
      - {allow_yaml}
    rules: [{{id: r, entities: [PERSON], action: block}}]
    """
    assert expected in str(load_error(tmp_path, text))


CONTRACT_POLICY = """
    version: 1
    name: t
    vendors:
      - id: acme
        hosts: [api.acme.example]
        contracts:
          - id: tickets
            paths: [/api/tickets*]
            methods: [POST]
            fields: ['$.ticket_id', '$.subject', '$.customer.first_name']
            entities: [PERSON]
    rules:
      - id: acme-contract
        vendors: [acme]
        contract: strict
        action: redact
        severity: high
"""


def test_contract_rule_and_contracts_are_parsed(tmp_path: Path) -> None:
    """Contracts live under their vendor; a contract rule defaults to the customer entities."""
    policy = load_policy(write(tmp_path, CONTRACT_POLICY))
    (contract,) = policy.vendors[0].contracts
    assert contract.id == "tickets"
    assert contract.entities == frozenset({"PERSON"})
    assert contract.allows_field("$.customer.first_name")
    assert not contract.allows_field("$.customer.email")
    post = target(method="POST", path="/api/tickets/7")
    assert policy.vendors[0].contract_for(post) == contract
    assert policy.vendors[0].contract_for(target(method="GET", path="/api/tickets")) is None
    rule = policy.rules[0]
    assert rule.contract
    assert rule.severity is Severity.HIGH
    assert rule.entities == CONTRACT_ENTITIES


@pytest.mark.parametrize(
    ("rule_yaml", "expected"),
    [
        pytest.param(
            "{id: c, contract: loose, vendors: [acme], action: block}",
            "rules[0].contract must be strict (got 'loose')",
            id="not-strict",
        ),
        pytest.param(
            "{id: c, contract: strict, action: block}",
            "rules[0] a contract rule needs `vendors`",
            id="no-vendors",
        ),
        pytest.param(
            "{id: c, contract: strict, vendors: [bare], action: block}",
            "rules[0].vendors[0] vendor 'bare' has no `contracts`",
            id="vendor-without-contracts",
        ),
        pytest.param(
            "{id: c, contract: strict, vendors: [acme], action: allow}",
            "rules[0].action a contract rule must redact, encrypt or block",
            id="contract-allow",
        ),
    ],
)
def test_bad_contract_rule_is_reported(tmp_path: Path, rule_yaml: str, expected: str) -> None:
    """A contract rule must be strict, name vendors that have contracts, and act."""
    text = f"""
    version: 1
    name: t
    vendors:
      - {{id: acme, hosts: [a.example], contracts: [{{id: k, fields: ['$.a']}}]}}
      - {{id: bare, hosts: [b.example]}}
    rules:
      - {rule_yaml}
    """
    assert expected in str(load_error(tmp_path, text))


def test_rule_mode_severity_and_counts_per_entity_are_parsed(tmp_path: Path) -> None:
    """A rule may run in monitor mode, carry a severity, and count per entity type."""
    policy = load_policy(
        write(
            tmp_path,
            """
            version: 1
            name: t
            rules:
              - id: bulk
                min_count: {EMAIL_ADDRESS: 50, PHONE_NUMBER: 20}
                action: block
                mode: monitor
                severity: critical
            """,
        )
    )
    rule = policy.rules[0]
    assert rule.mode is Mode.MONITOR
    assert rule.severity is Severity.CRITICAL
    assert rule.entities == frozenset({"EMAIL_ADDRESS", "PHONE_NUMBER"})
    assert rule.entity_min_counts == (("EMAIL_ADDRESS", 50), ("PHONE_NUMBER", 20))


@pytest.mark.parametrize(
    ("rule_yaml", "expected"),
    [
        pytest.param(
            "{id: r, entities: [PERSON], action: block, severity: urgent}",
            "rules[0].severity must be one of low|medium|high|critical (got 'urgent')",
            id="bad-severity",
        ),
        pytest.param(
            "{id: r, entities: [PERSON], action: block, mode: enforce}",
            "rules[0].mode cannot enforce inside a policy in monitor mode",
            id="enforce-in-monitor-policy",
        ),
        pytest.param(
            "{id: r, min_count: {EMAIL: 5}, action: block}",
            "rules[0].min_count.EMAIL 'EMAIL' is not an entity type dlp-proxy detects; "
            "did you mean 'EMAIL_ADDRESS'?",
            id="count-for-unknown-entity",
        ),
        pytest.param(
            "{id: r, min_count: {PERSON: 0}, action: block}",
            "rules[0].min_count.PERSON must be a whole number >= 1 (got 0)",
            id="zero-count",
        ),
        pytest.param(
            "{id: r, entities: [US_SSN], min_count: {PERSON: 3}, action: block}",
            "rules[0].min_count names other entity types than `entities`",
            id="counts-disagree-with-entities",
        ),
    ],
)
def test_bad_mode_severity_or_count_is_reported(
    tmp_path: Path, rule_yaml: str, expected: str
) -> None:
    """Per-rule mode, severity and per-entity counts are checked like every other field."""
    text = f"""
    version: 1
    name: t
    mode: monitor
    rules:
      - {rule_yaml}
    """
    assert expected in str(load_error(tmp_path, text))


ENCRYPT_KEY_POLICY = """
    version: 1
    name: t
    rules:
      - id: cards
        entities: [CREDIT_CARD]
        action: encrypt
        encrypt: {mode: deterministic, key: k2025}
"""


def test_encryption_key_id_is_checked_against_the_keyring(tmp_path: Path) -> None:
    """A rule naming a key the keyring lacks is refused, with the keys it has."""
    path = write(tmp_path, ENCRYPT_KEY_POLICY)
    assert load_policy(path).rules[0].encrypt.key == "k2025"
    assert load_policy(path, key_ids={"k2025", "k2026"}).rules[0].encrypt.key == "k2025"
    with pytest.raises(PolicyError) as info:
        load_policy(path, key_ids={"k2024", "k2026"})
    assert "x.yaml:7:36: rules[0].encrypt.key names key 'k2025', which is not in the keyring " in (
        str(info.value)
    )
    assert "(its keys: k2024, k2026); did you mean 'k2026'?" in str(info.value)


# --- tunnels and binary bodies -----------------------------------------------------------------

CHANNELS_POLICY = """
    version: 1
    name: t
    tunnels: inspect
    binary:
      - content_types: [image/png, "IMAGE/*"]
        action: allow
        reason: Product photos carry no customer data.
    vendors:
      - id: sftp
        hosts: [files.vendor.example]
        tunnels: {action: allow, reason: "SFTP drop box, end-to-end encrypted under contract 17"}
        binary:
          - {content_types: application/pdf, action: block}
      - id: chat
        hosts: [chat.vendor.example]
        tunnels: refuse
      - id: plain
        hosts: [plain.vendor.example]
    rules: [{id: r, entities: [PERSON], action: block}]
"""


def test_tunnels_and_binary_entries_are_parsed_at_the_top_and_per_vendor(tmp_path: Path) -> None:
    """Both forms of `tunnels`, and `binary` entries, land in the policy and its vendors."""
    policy = load_policy(write(tmp_path, CHANNELS_POLICY))
    assert policy.tunnels == Tunnels(TunnelAction.INSPECT)
    assert policy.binary == (
        BinaryEntry(
            ("image/png", "image/*"), BinaryAction.ALLOW, "Product photos carry no customer data."
        ),
    )
    sftp, chat, plain = policy.vendors
    assert sftp.tunnels == Tunnels(
        TunnelAction.ALLOW, "SFTP drop box, end-to-end encrypted under contract 17"
    )
    assert sftp.binary == (BinaryEntry(("application/pdf",), BinaryAction.BLOCK),)
    assert chat.tunnels == Tunnels(TunnelAction.REFUSE)
    assert (plain.tunnels, plain.binary) == (None, ())
    assert policy.tunnels_for(plain) == Tunnels(TunnelAction.INSPECT)


def test_tunnels_are_refused_and_binary_bodies_left_to_on_error_by_default(
    tmp_path: Path,
) -> None:
    """A policy that says nothing refuses tunnels and lists no binary content types."""
    policy = load_policy(
        write(
            tmp_path, "version: 1\nname: m\nrules: [{id: a, entities: [PERSON], action: block}]\n"
        )
    )
    assert policy.tunnels == Tunnels(TunnelAction.REFUSE, "")
    assert policy.binary == ()


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        pytest.param(
            "tunnels: allow",
            "x.yaml:3:1: tunnels `allow` needs a reason, logged with every tunnel it lets "
            'through uninspected: write `tunnels: {action: allow, reason: "why these bytes may '
            'pass unread"}`',
            id="allow-without-reason",
        ),
        pytest.param(
            "tunnels: {action: allow, reason: '  '}",
            "x.yaml:3:1: tunnels `allow` needs a reason",
            id="allow-with-blank-reason",
        ),
        pytest.param(
            "tunnels: pass",
            "x.yaml:3:1: tunnels must be one of refuse|inspect|allow (got 'pass')",
            id="unknown-action",
        ),
        pytest.param(
            "tunnels: {action: refuze}",
            "x.yaml:3:11: tunnels.action must be one of refuse|inspect|allow (got 'refuze'); "
            "did you mean 'refuse'?",
            id="misspelt-action",
        ),
        pytest.param(
            "tunnels: {reason: why}",
            "x.yaml:3:1: tunnels needs `action`, one of refuse|inspect|allow",
            id="no-action",
        ),
        pytest.param(
            "tunnels: {action: inspect, why: x}",
            "x.yaml:3:28: tunnels.why is not a known key here; allowed: action, reason",
            id="unknown-key",
        ),
        pytest.param(
            "tunnels: [refuse]",
            "x.yaml:3:1: tunnels must be one of refuse|inspect|allow, or a mapping like "
            "{action: allow, reason: ...} (got ['refuse'])",
            id="a-list",
        ),
        pytest.param(
            "tunnels: {action: allow, reason: 7}",
            "x.yaml:3:26: tunnels.reason must be text (got 7)",
            id="reason-not-text",
        ),
        pytest.param(
            "binary: [{content_types: [image/png], action: allow}]",
            "x.yaml:3:10: binary[0] needs `reason`: say why these bodies may pass uninspected",
            id="binary-allow-without-reason",
        ),
        pytest.param(
            "binary: [{content_types: ['image/png; q=1'], action: allow, reason: r}]",
            "x.yaml:3:27: binary[0].content_types[0] must be a content type like image/png or "
            "image/*, without parameters (got 'image/png; q=1')",
            id="content-type-with-parameters",
        ),
        pytest.param(
            "binary: [{content_types: ['*/*'], action: allow, reason: r}]",
            "binary[0].content_types[0] must be a content type like image/png",
            id="any-content-type",
        ),
        pytest.param(
            "binary: [{content_types: [], action: allow, reason: r}]",
            "x.yaml:3:11: binary[0].content_types must not be empty",
            id="no-content-types",
        ),
        pytest.param(
            "binary: [{content_types: [image/png], action: redact}]",
            "x.yaml:3:39: binary[0].action must be one of allow|block (got 'redact')",
            id="binary-bad-action",
        ),
        pytest.param(
            "binary: [{content_types: [image/png]}]",
            "x.yaml:3:10: binary[0] needs `action`, one of allow|block",
            id="binary-no-action",
        ),
        pytest.param(
            "binary: [{content_types: [image/png], action: block, types: x}]",
            "x.yaml:3:54: binary[0].types is not a known key here",
            id="binary-unknown-key",
        ),
        pytest.param(
            "binary: image/png",
            "x.yaml:3:1: binary must be a list (got str)",
            id="binary-not-a-list",
        ),
    ],
)
def test_bad_tunnels_or_binary_settings_are_reported(
    tmp_path: Path, setting: str, expected: str
) -> None:
    """Each mistake in `tunnels` or `binary` is refused with file, line, column and a fix."""
    text = f"""
    version: 1
    name: t
    {setting}
    rules: [{{id: r, entities: [PERSON], action: block}}]
    """
    assert expected in str(load_error(tmp_path, text))


def test_a_vendors_tunnels_and_binary_are_checked_like_the_top_levels(tmp_path: Path) -> None:
    """Mistakes under a vendor name the vendor's entry and line."""
    error = str(
        load_error(
            tmp_path,
            """
            version: 1
            name: t
            vendors:
              - id: acme
                hosts: [a.example]
                tunnels: allow
                binary: [{content_types: [image/png], action: allow, reason: ""}]
            rules: [{id: r, entities: [PERSON], action: block}]
            """,
        )
    )
    assert "x.yaml:6:5: vendors[0].tunnels `allow` needs a reason" in error
    assert "x.yaml:7:14: vendors[0].binary[0] needs `reason`" in error


# --- shadowed rules ----------------------------------------------------------------------------


def test_a_rule_an_earlier_one_makes_redundant_is_a_warning(tmp_path: Path) -> None:
    """A later rule that is narrower and no stricter than an earlier one is reported, not fatal."""
    policy = load_policy(
        write(
            tmp_path,
            """
            version: 1
            name: t
            vendors: [{id: acme, hosts: [api.acme.example]}]
            rules:
              - {id: block-ids, entities: [US_SSN, US_BANK_NUMBER], action: block}
              - {id: acme-ssn, vendors: [acme], entities: [US_SSN], min_score: 0.6, action: redact}
              - {id: stricter, vendors: [acme], entities: [PERSON], action: block}
              - {id: more-severe, entities: [US_SSN], action: block, severity: critical}
            """,
        )
    )
    assert [str(w).split(": ", 1)[1] for w in policy.warnings] == [
        "warning: rules[1] has no effect: rule 'block-ids' before it applies to the same "
        "traffic and entities, fires whenever it does and is at least as strict; remove "
        "'acme-ssn' or narrow 'block-ids'"
    ]
    assert policy.warnings[0].line == 6


@pytest.mark.parametrize(
    "later",
    [
        "{id: b, entities: [US_SSN, PERSON], action: redact}",
        "{id: b, entities: [US_SSN], action: redact, min_score: 0.3}",
        "{id: b, entities: [US_SSN], action: redact, min_count: 1, direction: both}",
        "{id: b, entities: [US_SSN], action: redact, mode: monitor}",
        "{id: b, entities: [US_SSN], action: redact, severity: high}",
    ],
)
def test_a_rule_that_can_still_matter_is_not_reported(tmp_path: Path, later: str) -> None:
    """More entities, a lower threshold, more traffic, another mode or severity: no warning."""
    policy = load_policy(
        write(
            tmp_path,
            f"""
            version: 1
            name: t
            rules:
              - {{id: a, entities: [US_SSN], action: redact, min_score: 0.4}}
              - {later}
            """,
        )
    )
    assert policy.warnings == ()


# --- includes ----------------------------------------------------------------------------------


def test_included_files_add_detectors_and_allow_entries(tmp_path: Path) -> None:
    """Shared detector and allow-list files are included relative to the policy file."""
    shared = tmp_path / "shared"
    shared.mkdir()
    write(
        shared,
        """
        detectors:
          - {id: ticket-ref, entity: TICKET_REF, patterns: ['TK-\\d{6}']}
        allow:
          - id: test-cards
            reason: Test card numbers from the payment sandbox.
            values: ['4111111111111111']
        """,
        "common.yaml",
    )
    main = write(
        tmp_path,
        """
        version: 1
        name: t
        include: [shared/common.yaml]
        rules:
          - {id: r, entities: [TICKET_REF, CREDIT_CARD], action: redact}
        """,
    )
    policy = load_policy(main)
    assert [d.id for d in policy.detectors] == ["ticket-ref"]
    assert [a.id for a in policy.allow] == ["test-cards"]
    assert policy.files == (str(main), str(shared / "common.yaml"))
    before = policy.sha256
    (shared / "common.yaml").write_text(
        (shared / "common.yaml").read_text().replace("6}", "7}"), encoding="utf-8"
    )
    assert load_policy(main).sha256 != before, "the sha256 covers included files"


def test_problems_in_an_included_file_name_that_file(tmp_path: Path) -> None:
    """An error inside an included file is reported with its own name, line and column."""
    write(tmp_path, "allow:\n  - {id: a, values: [x]}\nrules: []\n", "shared.yaml")
    error = load_error(
        tmp_path,
        """
        version: 1
        name: t
        include: [shared.yaml, missing.yaml]
        rules: [{id: r, entities: [PERSON], action: block}]
        """,
    )
    text = str(error)
    assert f"{tmp_path / 'shared.yaml'}:2:5: allow[0] needs `reason`" in text
    assert f"{tmp_path / 'shared.yaml'}:3:1: rules is not a known key here" in text
    assert "x.yaml:3:24: include[1] cannot read included file" in text


def test_an_include_loop_is_refused(tmp_path: Path) -> None:
    """A file that includes itself, directly or not, is an error rather than a hang."""
    write(tmp_path, "include: [b.yaml]\n", "a.yaml")
    write(tmp_path, "include: [a.yaml]\n", "b.yaml")
    error = load_error(
        tmp_path,
        """
        version: 1
        name: t
        include: [a.yaml]
        rules: [{id: r, entities: [PERSON], action: block}]
        """,
    )
    assert "b.yaml:1:11: include[0] includes 'a.yaml', which includes this file again" in str(error)


# --- JSON Schema -------------------------------------------------------------------------------
# docs/policy.schema.json describes the format for editors; the loader stays the authority. These
# tests keep the two from drifting: same keys at every level, same enums and defaults, the same
# verdict on valid and invalid policies, and every example in docs/policy.md loads.

DOCS = POLICIES.parent / "docs"
SCHEMA_PATH = DOCS / "policy.schema.json"
INCLUDE_SCHEMA_PATH = DOCS / "policy-include.schema.json"
MODELINE = "# yaml-language-server: $schema=../docs/policy.schema.json"

# Where each object of the format is described in the schema, and the loader's keys for it.
SCHEMA_OBJECTS = {
    "": "_TOP_KEYS",
    "/$defs/included": "_INCLUDED_KEYS",
    "/$defs/vendor": "_VENDOR_KEYS",
    "/$defs/contract": "_CONTRACT_KEYS",
    "/$defs/detector": "_DETECTOR_KEYS",
    "/$defs/pattern/anyOf/1": "_PATTERN_KEYS",
    "/$defs/allowEntry": "_ALLOW_KEYS",
    "/$defs/rule": "_RULE_KEYS",
    "/$defs/redact": "_REDACT_KEYS",
    "/$defs/encrypt": "_ENCRYPT_KEYS",
    "/$defs/tunnels/anyOf/1": "_TUNNEL_KEYS",
    "/$defs/binaryEntry": "_BINARY_KEYS",
}
# Keywords of draft 2020-12 that draft-07 validators (yaml-language-server in VS Code, Neovim,
# Helix ...) understand too; `$defs` is reached by JSON pointer, which they resolve.
EDITOR_KEYWORDS = frozenset(
    {
        "$schema",
        "$id",
        "$ref",
        "$defs",
        "title",
        "description",
        "default",
        "type",
        "enum",
        "const",
        "properties",
        "additionalProperties",
        "required",
        "items",
        "minItems",
        "minProperties",
        "propertyNames",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "pattern",
        "anyOf",
        "allOf",
        "if",
        "then",
    }
)


def read_json(path: Path) -> dict:
    """The JSON document at `path`."""
    import json

    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def schema() -> dict:
    """The published policy schema."""
    return read_json(SCHEMA_PATH)


def at(document: dict, pointer: str) -> dict:
    """The part of `document` at a JSON pointer such as `/$defs/rule`."""
    node: object = document
    for part in pointer.split("/")[1:]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    assert isinstance(node, dict), pointer
    return node


def resolved(document: dict, node: dict) -> dict:
    """`node` with a `$ref` to a local definition followed (its own keys win)."""
    if "$ref" not in node:
        return node
    return {**resolved(document, at(document, node["$ref"].removeprefix("#"))), **node}


def schema_problems(document: dict, instance: object) -> list[str]:
    """What the schema finds wrong with `instance` (a parsed YAML document)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(document)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(instance)
    ]


def subschemas(node: object, pointer: str = "") -> list[tuple[str, dict]]:
    """Every schema inside `node`, with its JSON pointer, following the keywords that hold them."""
    if not isinstance(node, dict):
        return []
    found = [(pointer, node)]
    for key in ("properties", "$defs"):
        for name, child in node.get(key, {}).items():
            found += subschemas(child, f"{pointer}/{key}/{name}")
    for key in ("anyOf", "allOf"):
        for i, child in enumerate(node.get(key, [])):
            found += subschemas(child, f"{pointer}/{key}/{i}")
    for key in ("items", "additionalProperties", "propertyNames", "if", "then"):
        found += subschemas(node.get(key), f"{pointer}/{key}")
    return found


def test_policy_schema_is_a_valid_2020_12_schema(schema: dict) -> None:
    """docs/policy.schema.json is a valid JSON Schema of draft 2020-12, as it declares."""
    import jsonschema

    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_include_schema_is_the_policy_schemas_included_file(schema: dict) -> None:
    """policy-include.schema.json is valid and is `$defs/included` over the very same $defs."""
    import jsonschema

    include = read_json(INCLUDE_SCHEMA_PATH)
    jsonschema.Draft202012Validator.check_schema(include)
    assert include["$ref"] == "#/$defs/included"
    assert include["$defs"] == schema["$defs"], (
        "policy-include.schema.json's $defs must be a copy of policy.schema.json's: "
        "editors resolve no reference across files reliably"
    )


def test_schema_uses_only_keywords_editors_understand(schema: dict) -> None:
    """Only keywords draft-07 editors know too, so VS Code's YAML extension checks everything."""
    unknown = {
        f"{pointer}: {key}"
        for pointer, node in subschemas(schema)
        for key in node
        if key not in EDITOR_KEYWORDS
    }
    assert unknown == set()


@pytest.mark.parametrize(("pointer", "keys_name"), SCHEMA_OBJECTS.items())
def test_schema_keys_are_the_loaders_keys(schema: dict, pointer: str, keys_name: str) -> None:
    """Each object's properties are the loader's allowed keys, in order; no other key is allowed."""
    from dlp_proxy.policy import loader as policy_module

    node = at(schema, pointer)
    assert list(node["properties"]) == list(getattr(policy_module, keys_name))
    assert node["additionalProperties"] is False


def test_every_object_in_the_schema_is_checked_against_the_loader(schema: dict) -> None:
    """No object schema escapes the key comparison: each is in SCHEMA_OBJECTS (or a count map)."""
    objects = {
        p for p, node in subschemas(schema) if node.get("type") == "object" and len(node) > 1
    }
    assert objects == {*SCHEMA_OBJECTS, "/$defs/minCountPerEntity"}


def test_every_key_in_the_schema_has_a_description(schema: dict) -> None:
    """Editors show a sentence for every key: each property has a description ending in '.'."""
    missing = [
        f"{pointer}/{name}"
        for pointer in SCHEMA_OBJECTS
        for name, prop in at(schema, pointer)["properties"].items()
        if not str(resolved(schema, prop).get("description", "")).endswith(".")
    ]
    assert missing == []


def test_schema_enums_are_the_loaders_values(schema: dict) -> None:
    """Every enum in the schema lists the loader's values, so completion offers exactly those."""
    from dlp_proxy.policy import loader as policy_module

    enums = {
        "mode": [m.value for m in Mode],
        "onError": [o.value for o in OnError],
        "unknownDestinations": [u.value for u in UnknownDestinations],
        "direction": list(policy_module._DIRECTIONS),
        "action": [a.label for a in Action],
        "severity": [s.label for s in Severity],
        "validator": [v.value for v in Validator],
        "redactOperator": [o.value for o in RedactOperator],
        "encryptMode": [m.value for m in EncryptMode],
        "tunnelAction": [a.value for a in TunnelAction],
        "binaryAction": [a.value for a in BinaryAction],
    }
    assert {name: at(schema, f"/$defs/{name}")["enum"] for name in enums} == enums
    assert at(schema, "/$defs/entity/anyOf/0")["enum"] == sorted(KNOWN_ENTITIES)
    assert set(at(schema, "/$defs/httpMethod/anyOf/0")["enum"]) == policy_module._METHODS
    contract_actions = at(schema, "/$defs/rule/allOf/2/then/properties/action")["enum"]
    assert contract_actions == [a.label for a in Action if a is not Action.ALLOW]
    # The short form of `tunnels` is every action but allow, which needs a reason.
    short_tunnels = at(schema, "/$defs/tunnels/anyOf/0")["enum"]
    assert short_tunnels == [a.value for a in TunnelAction if a is not TunnelAction.ALLOW]


def test_schema_patterns_are_the_loaders(schema: dict) -> None:
    """Identifiers and custom entity names use the loader's own regular expressions."""
    from dlp_proxy.policy import loader as policy_module

    assert at(schema, "/$defs/id")["pattern"] == policy_module._ID_RE.pattern
    assert at(schema, "/$defs/entity/anyOf/1")["pattern"] == policy_module._ENTITY_RE.pattern
    entity = at(schema, "/$defs/detector/properties/entity")["pattern"]
    assert entity == policy_module._ENTITY_RE.pattern
    content_type = at(schema, "/$defs/contentType")["pattern"]
    assert content_type == policy_module._CONTENT_TYPE_RE.pattern


def test_schema_defaults_are_the_loaders(schema: dict, tmp_path: Path) -> None:
    """Each default the schema states is the value the loader gives an omitted key."""
    policy = Policy(name="p", rules=())
    rule = Rule(id="r", entities=frozenset(), action=Action.ALLOW)
    detector = CustomDetector(id="d", entity="X")
    bare_pattern = load_policy(write(tmp_path, DETECTOR_POLICY)).detectors[0].patterns[1]
    expected = {
        "/properties/mode": policy.mode.value,
        "/properties/on_error": policy.on_error.value,
        "/properties/max_body_bytes": policy.max_body_bytes,
        "/properties/max_decompression_ratio": policy.max_decompression_ratio,
        "/properties/unknown_destinations": policy.unknown_destinations.value,
        "/properties/tunnels": policy.tunnels.action.value,
        "/$defs/binary": list(policy.binary),
        "/$defs/rule/properties/direction": "request",
        "/$defs/rule/properties/min_score": rule.min_score,
        "/$defs/rule/properties/min_count": rule.min_count,
        "/$defs/rule/properties/severity": rule.severity.label,
        "/$defs/redact/properties/operator": RedactOptions().operator.value,
        "/$defs/redact/properties/with": RedactOptions().replacement,
        "/$defs/redact/properties/keep": RedactOptions().keep,
        "/$defs/redact/properties/char": RedactOptions().char,
        "/$defs/encrypt/properties/mode": EncryptOptions().mode.value,
        "/$defs/detector/properties/validator": detector.validator.value,
        "/$defs/detector/properties/deny_list_score": detector.deny_list_score,
        "/$defs/pattern/anyOf/1/properties/score": bare_pattern.score,
        "/$defs/contract/properties/direction": "request",
    }
    assert rule.directions == frozenset({Direction.REQUEST})
    assert {p: at(schema, p)["default"] for p in expected} == expected


@pytest.mark.parametrize(
    "path", sorted(POLICIES.glob("*.yaml")), ids=lambda p: p.name if isinstance(p, Path) else p
)
def test_shipped_policies_match_the_schema_and_name_it(schema: dict, path: Path) -> None:
    """Each shipped policy validates and names the schema on its first line for editors."""
    import yaml

    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == MODELINE
    assert schema_problems(schema, yaml.safe_load(text)) == []


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(FULL_POLICY, id="full"),
        pytest.param(DETECTOR_POLICY, id="detector"),
        pytest.param(ALLOW_POLICY, id="allow"),
        pytest.param(CONTRACT_POLICY, id="contract"),
        pytest.param(ENCRYPT_KEY_POLICY, id="encrypt-key"),
        pytest.param(CHANNELS_POLICY, id="channels"),
    ],
)
def test_valid_policies_of_these_tests_match_the_schema(schema: dict, text: str) -> None:
    """The policies the tests above load as valid are valid for the schema too."""
    import yaml

    text = textwrap.dedent(text)
    parse_policy(text)
    assert schema_problems(schema, yaml.safe_load(text)) == []


def agreement_base() -> dict:
    """A small valid policy for the agreement cases to change one thing in."""
    return {
        "version": 1,
        "name": "t",
        "vendors": [
            {
                "id": "acme",
                "hosts": ["api.acme.example"],
                "contracts": [{"id": "k", "fields": "$.a"}],
            }
        ],
        "rules": [{"id": "r", "entities": ["PERSON"], "action": "block"}],
    }


DROP = object()  # as a change's value: remove the key


def changed(changes: dict[tuple[str | int, ...], object]) -> dict:
    """The agreement base with each `path: value` of `changes` applied."""
    data = agreement_base()
    for path, value in changes.items():
        node = data
        for part in path[:-1]:
            node = node.setdefault(part, {}) if isinstance(part, str) else node[part]
        if value is DROP:
            del node[path[-1]]
        else:
            node[path[-1]] = value
    return data


RULE = ("rules", 0)
VENDOR = ("vendors", 0)


@pytest.mark.parametrize(
    ("changes", "accepted"),
    [
        pytest.param({}, True, id="base"),
        pytest.param({("rulez",): []}, False, id="unknown-key"),
        pytest.param({(*RULE, "entites"): ["PERSON"]}, False, id="unknown-rule-key"),
        pytest.param({(*RULE, "action"): "mask"}, False, id="bad-action"),
        pytest.param({(*RULE, "action"): DROP}, False, id="no-action"),
        pytest.param({(*RULE, "min_score"): 2}, False, id="score-2"),
        pytest.param({(*RULE, "min_score"): -0.1}, False, id="score-negative"),
        pytest.param({(*RULE, "min_score"): True}, False, id="score-bool"),
        pytest.param({(*RULE, "min_score"): 1}, True, id="score-1"),
        pytest.param({("allow",): [{"id": "a", "values": ["x"]}]}, False, id="allow-no-reason"),
        pytest.param(
            {("allow",): [{"id": "a", "reason": " ", "values": ["x"]}]},
            False,
            id="allow-blank-reason",
        ),
        pytest.param({("allow",): [{"id": "a", "reason": "r"}]}, False, id="allows-nothing"),
        pytest.param(
            {("allow",): [{"id": "a", "reason": "r", "entities": ["PERSON"]}]},
            False,
            id="allow-entities-only",
        ),
        pytest.param(
            {("allow",): [{"id": "a", "reason": "r", "fields": ["customer.email"]}]},
            False,
            id="allow-bad-field",
        ),
        pytest.param(
            {("allow",): [{"id": "a", "reason": "r", "fields": "$.agent", "vendors": "acme"}]},
            True,
            id="allow-field-for-vendor",
        ),
        pytest.param({("version",): 2}, False, id="version-2"),
        pytest.param({("name",): DROP}, False, id="no-name"),
        pytest.param({("rules",): []}, False, id="no-rules"),
        pytest.param({("mode",): "audit"}, False, id="bad-mode"),
        pytest.param({("on_error",): "ignore"}, False, id="bad-on-error"),
        pytest.param({("unknown_destinations",): "drop"}, False, id="bad-unknown-destinations"),
        pytest.param({("max_body_bytes",): 0}, False, id="max-body-0"),
        pytest.param({("max_decompression_ratio",): 1}, True, id="ratio-1"),
        pytest.param({("include",): 5}, False, id="include-not-a-list"),
        pytest.param({(*RULE, "id"): "block-ssn.v2"}, True, id="id"),
        pytest.param({(*RULE, "id"): "has space"}, False, id="id-space"),
        pytest.param({(*RULE, "id"): "-x"}, False, id="id-dash-first"),
        pytest.param({(*RULE, "id"): ""}, False, id="id-empty"),
        pytest.param({("name",): ""}, False, id="name-empty"),
        pytest.param({(*RULE, "entities"): "PERSON"}, True, id="entities-one"),
        pytest.param({(*RULE, "entities"): ["person"]}, False, id="entities-lower"),
        pytest.param({(*RULE, "entities"): []}, False, id="entities-empty"),
        pytest.param({(*RULE, "entities"): DROP}, False, id="entities-missing"),
        pytest.param({(*VENDOR, "hosts"): ["*.ACME.example"]}, True, id="host-glob"),
        pytest.param({(*VENDOR, "hosts"): ["[ab].example:8443"]}, True, id="host-port"),
        pytest.param({(*VENDOR, "hosts"): ["a.example/v2"]}, False, id="host-path"),
        pytest.param({(*VENDOR, "hosts"): []}, False, id="hosts-empty"),
        pytest.param({(*VENDOR, "hosts"): DROP}, False, id="hosts-missing"),
        pytest.param({(*RULE, "methods"): ["post", "Put"]}, True, id="methods"),
        pytest.param({(*RULE, "methods"): ["FETCH"]}, False, id="method-unknown"),
        pytest.param({(*RULE, "paths"): ["*", "/v2/*"]}, True, id="paths"),
        pytest.param({(*RULE, "paths"): ["v2/x"]}, False, id="path-relative"),
        pytest.param({(*RULE, "paths"): ["**"]}, False, id="path-stars"),
        pytest.param({(*RULE, "direction"): "both"}, True, id="direction"),
        pytest.param({(*RULE, "direction"): "outbound"}, False, id="bad-direction"),
        pytest.param({(*RULE, "severity"): "critical"}, True, id="severity"),
        pytest.param({(*RULE, "severity"): "urgent"}, False, id="bad-severity"),
        pytest.param({(*RULE, "min_count"): 0}, False, id="count-0"),
        pytest.param({(*RULE, "min_count"): 2.5}, False, id="count-fraction"),
        pytest.param({(*RULE, "min_count"): {"PERSON": 2}}, True, id="count-map"),
        pytest.param({(*RULE, "min_count"): {"PERSON": 0}}, False, id="count-map-0"),
        pytest.param({(*RULE, "min_count"): {}}, False, id="count-map-empty"),
        pytest.param(
            {(*RULE, "entities"): DROP, (*RULE, "min_count"): {"US_SSN": 1}}, True, id="count-only"
        ),
        pytest.param({(*RULE, "mode"): "enforce"}, True, id="rule-enforce"),
        pytest.param(
            {("mode",): "monitor", (*RULE, "mode"): "enforce"}, False, id="enforce-in-monitor"
        ),
        pytest.param({("mode",): "monitor", (*RULE, "mode"): "monitor"}, True, id="monitor"),
        pytest.param({(*RULE, "redact"): {"operator": "mask"}}, False, id="redact-on-block"),
        pytest.param({(*RULE, "encrypt"): {"mode": "randomized"}}, False, id="encrypt-on-block"),
        pytest.param(
            {(*RULE, "action"): "redact", (*RULE, "redact"): {"operator": "mask", "char": "#"}},
            True,
            id="mask",
        ),
        pytest.param(
            {(*RULE, "action"): "redact", (*RULE, "redact"): {"char": "**"}}, False, id="char-2"
        ),
        pytest.param(
            {(*RULE, "action"): "redact", (*RULE, "redact"): {"char": ""}},
            False,
            id="char-empty",
        ),
        pytest.param(
            {(*RULE, "action"): "redact", (*RULE, "redact"): {"with": "[{entity} removed]"}},
            True,
            id="with",
        ),
        pytest.param(
            {(*RULE, "action"): "redact", (*RULE, "redact"): {"with": "<{value}>"}},
            False,
            id="with-bad-placeholder",
        ),
        pytest.param(
            {(*RULE, "action"): "redact", (*RULE, "redact"): {"with": ""}},
            False,
            id="with-empty",
        ),
        pytest.param(
            {(*RULE, "action"): "redact", (*RULE, "redact"): {"keep": -1}}, False, id="keep-neg"
        ),
        pytest.param(
            {(*RULE, "action"): "redact", (*RULE, "redact"): {"operator": "blur"}},
            False,
            id="bad-operator",
        ),
        pytest.param(
            {(*RULE, "action"): "encrypt", (*RULE, "encrypt"): {"mode": "reversible"}},
            False,
            id="bad-encrypt-mode",
        ),
        pytest.param(
            {(*RULE, "action"): "encrypt", (*RULE, "encrypt"): {"key": "k2026"}}, True, id="key"
        ),
        pytest.param(
            {("rules",): [{"id": "c", "contract": "strict", "vendors": "acme", "action": "block"}]},
            True,
            id="contract-rule",
        ),
        pytest.param(
            {("rules",): [{"id": "c", "contract": "loose", "vendors": "acme", "action": "block"}]},
            False,
            id="contract-loose",
        ),
        pytest.param(
            {("rules",): [{"id": "c", "contract": "strict", "action": "block"}]},
            False,
            id="contract-no-vendors",
        ),
        pytest.param(
            {("rules",): [{"id": "c", "contract": "strict", "vendors": "acme", "action": "allow"}]},
            False,
            id="contract-allow",
        ),
        pytest.param({(*VENDOR, "contracts", 0, "fields"): []}, False, id="contract-no-fields"),
        pytest.param({(*VENDOR, "contracts", 0, "direction"): "both"}, True, id="contract-both"),
        pytest.param(
            {(*VENDOR, "contracts", 0, "fields"): ["csv:email", "form:note_*", "header:x-a"]},
            True,
            id="contract-fields",
        ),
        pytest.param(
            {("detectors",): [{"id": "d", "entity": "X_ID", "patterns": ["AC-\\d+"]}]},
            True,
            id="detector",
        ),
        pytest.param(
            {("detectors",): [{"id": "d", "entity": "acme-id", "patterns": ["AC-\\d+"]}]},
            False,
            id="detector-entity-lower",
        ),
        pytest.param(
            {("detectors",): [{"id": "d", "entity": "X_ID"}]}, False, id="detector-finds-nothing"
        ),
        pytest.param(
            {("detectors",): [{"id": "d", "entity": "X_ID", "deny_list": ["  "]}]},
            False,
            id="detector-blank-deny",
        ),
        pytest.param(
            {("detectors",): [{"id": "d", "entity": "X", "deny_list": "V", "validator": "lhun"}]},
            False,
            id="detector-bad-validator",
        ),
        pytest.param(
            {
                ("detectors",): [
                    {"id": "d", "entity": "X", "patterns": [{"regex": "\\d+", "score": 2}]}
                ]
            },
            False,
            id="pattern-score-2",
        ),
        pytest.param(
            {("detectors",): [{"id": "d", "entity": "X_ID", "patterns": [""]}]},
            False,
            id="pattern-empty",
        ),
        pytest.param({("tunnels",): "refuse"}, True, id="tunnels-refuse"),
        pytest.param({("tunnels",): "inspect"}, True, id="tunnels-inspect"),
        pytest.param({("tunnels",): "allow"}, False, id="tunnels-allow-short"),
        pytest.param({("tunnels",): "open"}, False, id="tunnels-unknown"),
        pytest.param({("tunnels",): {"action": "allow"}}, False, id="tunnels-allow-no-reason"),
        pytest.param(
            {("tunnels",): {"action": "allow", "reason": " "}}, False, id="tunnels-blank-reason"
        ),
        pytest.param({("tunnels",): {"action": "allow", "reason": "r"}}, True, id="tunnels-allow"),
        pytest.param({("tunnels",): {"action": "refuse", "reason": "r"}}, True, id="tunnels-map"),
        pytest.param({("tunnels",): {"reason": "r"}}, False, id="tunnels-no-action"),
        pytest.param({("tunnels",): {"action": "inspect", "x": 1}}, False, id="tunnels-key"),
        pytest.param({("tunnels",): ["refuse"]}, False, id="tunnels-list"),
        pytest.param({(*VENDOR, "tunnels"): "inspect"}, True, id="vendor-tunnels"),
        pytest.param({(*VENDOR, "tunnels"): "allow"}, False, id="vendor-tunnels-allow-short"),
        pytest.param(
            {("binary",): [{"content_types": ["image/png"], "action": "allow", "reason": "r"}]},
            True,
            id="binary",
        ),
        pytest.param(
            {("binary",): [{"content_types": "image/*", "action": "block"}]},
            True,
            id="binary-family-block",
        ),
        pytest.param(
            {("binary",): [{"content_types": ["image/png"], "action": "allow"}]},
            False,
            id="binary-allow-no-reason",
        ),
        pytest.param(
            {("binary",): [{"content_types": ["*/*"], "action": "block"}]},
            False,
            id="binary-any-type",
        ),
        pytest.param(
            {("binary",): [{"content_types": ["text/plain;charset=x"], "action": "block"}]},
            False,
            id="binary-parameters",
        ),
        pytest.param(
            {("binary",): [{"content_types": [], "action": "block"}]}, False, id="binary-no-types"
        ),
        pytest.param({("binary",): [{"content_types": ["a/b"]}]}, False, id="binary-no-action"),
        pytest.param(
            {("binary",): [{"content_types": ["a/b"], "action": "redact"}]},
            False,
            id="binary-bad-action",
        ),
        pytest.param(
            {(*VENDOR, "binary"): [{"content_types": ["application/pdf"], "action": "block"}]},
            True,
            id="vendor-binary",
        ),
    ],
)
def test_schema_and_loader_agree(
    schema: dict, changes: dict[tuple[str | int, ...], object], accepted: bool
) -> None:
    """A policy the loader refuses, the schema refuses, and the other way round."""
    import yaml

    data = changed(changes)
    try:
        parse_policy(yaml.safe_dump(data, sort_keys=False))
    except PolicyError as e:
        loader = f"refused: {e}"
    else:
        loader = "accepted"
    problems = schema_problems(schema, data)
    verdicts = (loader == "accepted", not problems)
    assert verdicts == (accepted, accepted), (loader, problems)


@pytest.mark.parametrize(
    "selector",
    [
        *(f"{prefix}name" for prefix in ("$.", "form:", "csv:", "xml:/", "multipart:")),
        *("text", "query:q", "header:x-a", "path:1", "$.a>$.b", "$.blob>b64>text"),
        *("customer.email", "email", "Form:x", " $.a", "csv", "header"),
    ],
)
def test_schema_and_loader_agree_on_field_paths(schema: dict, selector: str) -> None:
    """A field path is valid for the schema exactly when FieldSelector.parse accepts it."""
    try:
        FieldSelector.parse(selector)
    except ValueError:
        loader = False
    else:
        loader = True
    data = changed({(*VENDOR, "contracts", 0, "fields"): [selector]})
    assert (not schema_problems(schema, data)) is loader


# --- the examples in docs/policy.md ------------------------------------------------------------

YAML_BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.DOTALL | re.MULTILINE)
SHARED_FILE = re.compile(r"\A# ([\w./-]+\.yaml)\n")


def doc_blocks() -> list[str]:
    """The YAML blocks of docs/policy.md."""
    return YAML_BLOCK.findall((DOCS / "policy.md").read_text(encoding="utf-8"))


def doc_policies() -> list[str]:
    """The blocks that are whole policies: those starting with `version: 1`."""
    return [b for b in doc_blocks() if b.startswith("version: 1\n")]


def doc_shared_files() -> dict[str, str]:
    """The blocks that are shared files, by the name their first line gives (`# NAME.yaml`)."""
    return {m[1]: b for b in doc_blocks() if (m := SHARED_FILE.match(b))}


def test_docs_hold_policies_and_shared_files() -> None:
    """docs/policy.md has whole example policies and a shared file to include."""
    assert len(doc_policies()) >= 3
    assert doc_shared_files()


def policy_name(text: object) -> str:
    """A test id for an example policy: its `name`."""
    found = re.search(r"^name: *(\S+)", str(text), re.MULTILINE)
    return found[1] if found else "unnamed"


@pytest.mark.parametrize("text", doc_policies(), ids=policy_name)
def test_every_example_policy_in_the_docs_loads(schema: dict, tmp_path: Path, text: str) -> None:
    """Each example starting with `version: 1` loads without a warning and matches the schema."""
    import yaml

    for name, shared in doc_shared_files().items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(shared, encoding="utf-8")
    policy = parse_policy(text, source=str(tmp_path / "policy.yaml"))
    assert policy.warnings == ()
    assert schema_problems(schema, yaml.safe_load(text)) == []


@pytest.mark.parametrize("name", sorted(doc_shared_files()))
def test_every_shared_file_in_the_docs_matches_the_include_schema(name: str) -> None:
    """Each shared-file example validates against docs/policy-include.schema.json."""
    import yaml

    data = yaml.safe_load(doc_shared_files()[name])
    assert schema_problems(read_json(INCLUDE_SCHEMA_PATH), data) == []


def used_keys(policy_data: dict, shared: dict[str, str]) -> dict[str, set[str]]:
    """The keys a policy (with the files it includes) uses, by the loader's key tuple names."""
    import yaml

    used: dict[str, set[str]] = {name: set() for name in SCHEMA_OBJECTS.values()}
    used["_TOP_KEYS"] |= set(policy_data)
    parts = [policy_data, *(yaml.safe_load(shared[n]) for n in policy_data.get("include", []))]
    for part in parts:
        for detector in part.get("detectors", []):
            used["_DETECTOR_KEYS"] |= set(detector)
            for pattern in detector.get("patterns", []):
                used["_PATTERN_KEYS"] |= set(pattern) if isinstance(pattern, dict) else set()
        for entry in part.get("allow", []):
            used["_ALLOW_KEYS"] |= set(entry)
    for vendor in policy_data.get("vendors", []):
        used["_VENDOR_KEYS"] |= set(vendor)
        for contract in vendor.get("contracts", []):
            used["_CONTRACT_KEYS"] |= set(contract)
    for holder in [policy_data, *policy_data.get("vendors", [])]:
        tunnels = holder.get("tunnels")
        used["_TUNNEL_KEYS"] |= set(tunnels) if isinstance(tunnels, dict) else set()
        for entry in holder.get("binary", []):
            used["_BINARY_KEYS"] |= set(entry)
    for rule_data in policy_data["rules"]:
        used["_RULE_KEYS"] |= set(rule_data)
        used["_REDACT_KEYS"] |= set(rule_data.get("redact", {}))
        used["_ENCRYPT_KEYS"] |= set(rule_data.get("encrypt", {}))
    return used


def test_the_worked_example_uses_every_key_of_the_format() -> None:
    """One example policy in the docs (with its shared file) shows every key there is."""
    import yaml

    from dlp_proxy.policy import loader as policy_module

    everything = {
        name: set(getattr(policy_module, name))
        for name in SCHEMA_OBJECTS.values()
        if name != "_INCLUDED_KEYS"
    }
    shared = doc_shared_files()
    missing = [
        {name: keys - used.get(name, set()) for name, keys in everything.items()}
        for used in (used_keys(yaml.safe_load(text), shared) for text in doc_policies())
    ]
    best = min(missing, key=lambda m: sum(len(keys) for keys in m.values()))
    assert {name: keys for name, keys in best.items() if keys} == {}


# --- loader edge cases -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy_yaml", "expected"),
    [
        pytest.param(
            """
            version: 1
            name: t
            detectors: [{id: d, entity: X_ID, patterns: []}]
            rules: [{id: r, entities: [X_ID], action: block}]
            """,
            "detectors[0] needs `patterns` or `deny_list` (or both), with at least one entry",
            id="detector-with-empty-patterns",
        ),
        pytest.param(
            """
            version: 1
            name: t
            vendors: [{id: a, hosts: [a.example], contracts: [{id: k, fields: ['$.x']}]}]
            rules:
              - {id: c, vendors: [a], contract: strict, min_count: {PERSON: 2}, action: block}
            """,
            "rules[0].min_count a contract rule counts values outside the contract",
            id="contract-with-counts-per-type",
        ),
        pytest.param(
            """
            version: 1
            name: t
            rules: [{id: "r\\n", entities: [PERSON], action: block}]
            """,
            "rules[0].id must be letters, digits",
            id="id-with-trailing-newline",
        ),
        pytest.param(
            """
            version: 1
            name: t
            allow: [{id: a, reason: r, fields: [textual]}]
            rules: [{id: r, entities: [PERSON], action: block}]
            """,
            "allow[0].fields[0] must be a field path",
            id="field-prefix-must-end",
        ),
        pytest.param(
            """
            version: 1
            name: t
            rules:
              - {id: r, entities: [CREDIT_CARD], action: encrypt, encrypt: {key: ""}}
            """,
            "rules[0].encrypt.key must not be empty",
            id="empty-key-id",
        ),
    ],
)
def test_loader_edge_cases_are_refused(tmp_path: Path, policy_yaml: str, expected: str) -> None:
    """Empty lists, contradictory counts, sneaky newlines and half prefixes are all refused."""
    assert expected in str(load_error(tmp_path, policy_yaml))


def test_ids_must_be_unique_across_included_files(tmp_path: Path) -> None:
    """An allow entry in the policy may not reuse an id from an included file."""
    write(tmp_path, "allow:\n  - {id: a, reason: shared, values: [x]}\n", "shared.yaml")
    error = load_error(
        tmp_path,
        """
        version: 1
        name: t
        include: [shared.yaml]
        allow:
          - {id: a, reason: mine, values: [y]}
        rules: [{id: r, entities: [PERSON], action: block}]
        """,
    )
    assert "x.yaml:5:5: allow[0] id 'a' is already used in an included file" in str(error)


# --- token formats -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule_yaml", "expected"),
    [
        pytest.param(
            "{id: r, entities: [CREDIT_CARD, EMAIL_ADDRESS], action: encrypt, "
            "encrypt: {mode: mask-pci}}",
            "rules[0].encrypt.mode mask-pci is for card numbers only; this rule also covers "
            "EMAIL_ADDRESS",
            id="mask-pci-for-emails",
        ),
        pytest.param(
            "{id: r, entities: [CREDIT_CARD], action: encrypt, encrypt: {mode: mask-pci}, "
            "restore: true}",
            "rules[0].restore needs reversible tokens; encrypt.mode mask-pci cannot be undone",
            id="restore-mask-pci",
        ),
        pytest.param(
            "{id: r, entities: [CREDIT_CARD], action: redact, restore: true}",
            "rules[0].restore is only allowed with `action: encrypt`",
            id="restore-on-redact",
        ),
        pytest.param(
            "{id: r, entities: [CREDIT_CARD], action: encrypt, restore: yes please}",
            "rules[0].restore must be true or false (got 'yes please')",
            id="restore-not-a-boolean",
        ),
    ],
)
def test_token_format_options_are_checked(tmp_path: Path, rule_yaml: str, expected: str) -> None:
    """mask-pci is for cards and cannot be restored; restore needs reversible encryption."""
    text = f"""
    version: 1
    name: t
    rules:
      - {rule_yaml}
    """
    assert expected in str(load_error(tmp_path, text))


def test_restore_and_mask_pci_are_parsed(tmp_path: Path) -> None:
    """`restore: true` and `mode: mask-pci` land in the rule."""
    policy = load_policy(
        write(
            tmp_path,
            """
            version: 1
            name: t
            rules:
              - {id: a, entities: [CREDIT_CARD], action: encrypt, restore: true}
              - {id: b, entities: [CREDIT_CARD], action: encrypt, encrypt: {mode: mask-pci},
                 vendors: []}
            """,
        )
    )
    assert policy.rules[0].restore is True
    assert policy.rules[1].encrypt.mode is EncryptMode.MASK_PCI
    assert policy.rules[1].restore is False
