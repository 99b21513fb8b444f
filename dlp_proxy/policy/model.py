"""The policy model: frozen dataclasses for rules, vendors, allow lists, and rule matching.

A policy is data written by compliance staff; `dlp_proxy.policy.loader` builds it from YAML
and is the only way one is made from a file. The format is documented in docs/policy.md.
"""

from __future__ import annotations

import enum
import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from dlp_proxy.errors import PolicyProblem

__all__ = [
    "CONTRACT_ENTITIES",
    "KNOWN_ENTITIES",
    "OUTSIDE_CONTRACT",
    "Action",
    "AllowEntry",
    "BinaryAction",
    "BinaryEntry",
    "Contract",
    "CustomDetector",
    "DetectorPattern",
    "Direction",
    "EncryptOptions",
    "Evidence",
    "FieldSelector",
    "Mode",
    "OnError",
    "Policy",
    "RedactOptions",
    "Rule",
    "Severity",
    "Target",
    "TunnelAction",
    "Tunnels",
    "UnknownDestinations",
    "Validator",
    "Vendor",
]

SCHEMA_VERSION = 1
# What a field selector may start with: one per body format, plus the parts of a request.
_FIELD_START = re.compile(r"\$(?=$|[.\[>])|text(?=$|>)|(form|csv|xml|multipart|query|header|path):")
FIELD_PREFIXES = (
    "$",
    "form:",
    "csv:",
    "xml:",
    "multipart:",
    "text",
    "query:",
    "header:",
    "path:",
)
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
DEFAULT_MIN_SCORE = 0.4
DEFAULT_MAX_DECOMPRESSION_RATIO = 200

# The entity types Presidio's predefined English recognizers and the spaCy NER mapping emit.
# tests/policy/test_model.py checks this list against a real Presidio registry.
KNOWN_ENTITIES = frozenset(
    {
        "ABA_ROUTING_NUMBER",
        "DATE_OF_BIRTH",
        "STREET_ADDRESS",
        "CREDIT_CARD",
        "CRYPTO",
        "DATE_TIME",
        "EMAIL_ADDRESS",
        "IBAN_CODE",
        "IP_ADDRESS",
        "LOCATION",
        "MAC_ADDRESS",
        "MEDICAL_LICENSE",
        "NRP",
        "ORGANIZATION",
        "PERSON",
        "PHONE_NUMBER",
        "UK_NHS",
        "URL",
        "US_BANK_NUMBER",
        "US_DRIVER_LICENSE",
        "US_ITIN",
        "US_PASSPORT",
        "US_SSN",
        "UUID",
    }
)


# What a contract rule looks for in the fields a contract lets through, unless it lists its own
# `entities`: the identifiers of a customer, not the generic types (dates, organisations, URLs).
CONTRACT_ENTITIES = frozenset(
    {
        "ABA_ROUTING_NUMBER",
        "CREDIT_CARD",
        "DATE_OF_BIRTH",
        "EMAIL_ADDRESS",
        "IBAN_CODE",
        "IP_ADDRESS",
        "PERSON",
        "PHONE_NUMBER",
        "STREET_ADDRESS",
        "UK_NHS",
        "US_BANK_NUMBER",
        "US_DRIVER_LICENSE",
        "US_ITIN",
        "US_PASSPORT",
        "US_SSN",
    }
)
# The entity a contract rule reports for a value in a field its contract does not list.
OUTSIDE_CONTRACT = "OUTSIDE_CONTRACT"


class Action(enum.IntEnum):
    """What a rule does with a message it fires on. Higher is stricter."""

    ALLOW = 0
    REDACT = 1
    ENCRYPT = 2
    BLOCK = 3

    @property
    def label(self) -> str:
        """The lower-case name used in YAML and logs."""
        return self.name.lower()


class Mode(enum.StrEnum):
    """Enforce changes traffic; monitor only logs what would have happened."""

    ENFORCE = "enforce"
    MONITOR = "monitor"


class Direction(enum.StrEnum):
    """Which half of an exchange a message is: to the vendor, or back from it."""

    REQUEST = "request"
    RESPONSE = "response"


class OnError(enum.StrEnum):
    """What to do with a body that cannot be inspected."""

    BLOCK = "block"
    ALLOW = "allow"


class Evidence(enum.StrEnum):
    """What an incident keeps of the blocked message, sealed to the responders' keys."""

    BODY = "body"  # the whole message: request line, headers and body as received
    SNIPPETS = "snippets"  # each finding with up to EVIDENCE_CONTEXT characters around it
    NONE = "none"  # no evidence: the incident's metadata only


class UnknownDestinations(enum.StrEnum):
    """What to do with traffic to a host no vendor entry matches."""

    INSPECT = "inspect"
    ALLOW = "allow"
    BLOCK = "block"


class TunnelAction(enum.StrEnum):
    """What happens to a connection that is neither HTTP nor TLS the gateway can open.

    Raw TCP after `CONNECT` (the client or the server speaking first), UDP, DNS and raw QUIC
    streams: mitmproxy would relay them byte for byte. `refuse` closes them before a byte
    passes, `inspect` reads each message as text under the policy's rules, `allow` relays them
    uninspected with the reason logged.
    """

    REFUSE = "refuse"
    INSPECT = "inspect"
    ALLOW = "allow"


class BinaryAction(enum.StrEnum):
    """What happens to a body of a listed content type that cannot be inspected."""

    ALLOW = "allow"  # forwarded unchanged, the entry's reason logged
    BLOCK = "block"  # refused, whatever `on_error` says


class Severity(enum.IntEnum):
    """How serious a rule's finding is; carried into the decision log and incidents."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        """The lower-case name used in YAML and logs."""
        return self.name.lower()


class Validator(enum.StrEnum):
    """The checksum a custom detector's matches must pass."""

    NONE = "none"
    LUHN = "luhn"
    ABA_ROUTING = "aba_routing"
    IBAN = "iban"
    SSN = "ssn"


class RedactOperator(enum.StrEnum):
    """How a redacted span is replaced."""

    REPLACE = "replace"
    MASK = "mask"
    HASH = "hash"


class EncryptMode(enum.StrEnum):
    """Randomized tokens differ every time; deterministic ones let the vendor join on them.

    `mask-pci` keeps at most the first six and last four digits of a card number (PCI DSS
    3.4.1) and masks the rest: not reversible, but the vendor can still recognise a card.
    """

    RANDOMIZED = "randomized"
    DETERMINISTIC = "deterministic"
    MASK_PCI = "mask-pci"

    @property
    def reversible(self) -> bool:
        """True for modes that make tokens a key holder can turn back into the value."""
        return self is not EncryptMode.MASK_PCI


@dataclass(frozen=True)
class RedactOptions:
    """How `redact` rewrites a span."""

    operator: RedactOperator = RedactOperator.REPLACE
    replacement: str = "<{entity}>"
    keep: int = 4
    char: str = "*"


@dataclass(frozen=True)
class EncryptOptions:
    """How `encrypt` turns a span into a token."""

    mode: EncryptMode = EncryptMode.RANDOMIZED
    key: str | None = None


@dataclass(frozen=True)
class FieldSelector:
    """A field path from a policy, e.g. `$.customers[*].email`, `csv:email`, `form:note_*`.

    Field paths are the codecs' (`Segment.field`): locations with record numbers and array
    indexes dropped. In a selector `*` stands for any part of one name, `**` for anything, and
    an index `[3]` means any index. A selector matches its field and everything inside it:
    `$.agent` matches `$.agent.email`, `$.agent>$.x` and the field's name `$.agent#name` (a
    multipart field's `#filename` and `#header:...` too), but not `$.agents`.
    """

    text: str
    regex: re.Pattern[str] = field(compare=False, repr=False)

    @classmethod
    def parse(cls, text: str) -> FieldSelector:
        """Compile a selector; `ValueError` if it is not a field path."""
        if not _FIELD_START.match(text):
            raise ValueError(
                f"must be a field path starting with one of {', '.join(FIELD_PREFIXES)} "
                f"(got {text!r})"
            )
        canonical = re.sub(r"\[\d+\]", "[*]", text)
        parts = []
        for token in re.split(r"(\[\*\]|\*\*|\*)", canonical):
            if token == "[*]":
                parts.append(re.escape("[*]"))
            elif token == "**":
                parts.append(".*")
            elif token == "*":
                parts.append(r"[^.>/#\[\]]*")
            else:
                parts.append(re.escape(token))
        return cls(text, re.compile("".join(parts) + r"(?:$|(?=[.\[>/#]))"))

    def matches(self, field_path: str) -> bool:
        """True when `field_path` is this field or inside it."""
        return self.regex.match(field_path) is not None


@dataclass(frozen=True)
class DetectorPattern:
    """One regular expression of a custom detector and the score a match gets."""

    name: str
    regex: str
    score: float


@dataclass(frozen=True)
class CustomDetector:
    """A detector declared in a policy: patterns, context words, a checksum, a deny list.

    Matches are reported as `entity`. A pattern match must pass `validator`; context words near
    the match (or in its field name) raise its score as they do for Presidio's recognizers. Deny
    list values are found wherever they occur as whole words, with `deny_list_score`.
    """

    id: str
    entity: str
    patterns: tuple[DetectorPattern, ...] = ()
    context: tuple[str, ...] = ()
    validator: Validator = Validator.NONE
    deny_list: tuple[str, ...] = ()
    deny_list_score: float = 1.0


@dataclass(frozen=True)
class Contract:
    """What a vendor may receive at one endpoint: the fields, and the entity types in them."""

    id: str
    fields: tuple[FieldSelector, ...]
    entities: frozenset[str] = frozenset()
    paths: tuple[str, ...] = ()
    methods: frozenset[str] = frozenset()
    directions: frozenset[Direction] = frozenset({Direction.REQUEST})

    def applies_to(self, target: Target) -> bool:
        """True when this contract covers the endpoint, method and direction of `target`."""
        if target.direction not in self.directions:
            return False
        if self.methods and target.method.upper() not in self.methods:
            return False
        return not self.paths or any(fnmatch.fnmatchcase(target.path, p) for p in self.paths)

    def allows_field(self, field_path: str) -> bool:
        """True when values at `field_path` may flow under this contract."""
        return any(s.matches(field_path) for s in self.fields)


@dataclass(frozen=True)
class Tunnels:
    """The policy for tunnels (see `TunnelAction`); `reason` is logged with every decision.

    An `allow` always has a reason: the loader refuses one without.
    """

    action: TunnelAction = TunnelAction.REFUSE
    reason: str = ""


@dataclass(frozen=True)
class BinaryEntry:
    """Bodies of `content_types` that cannot be inspected: forwarded (`allow`) or refused.

    Without an entry such a body is handled by `on_error`. A content type is `type/subtype`
    or `type/*`, lower case, without parameters.
    """

    content_types: tuple[str, ...]
    action: BinaryAction
    reason: str = ""

    def matches(self, content_type: str) -> bool:
        """True when `content_type` (a header value, parameters and case ignored) is listed."""
        essence = content_type.split(";", 1)[0].strip().lower()
        if "/" not in essence:
            return False
        family = essence.split("/", 1)[0] + "/*"
        return essence in self.content_types or family in self.content_types


@dataclass(frozen=True)
class Vendor:
    """A named recipient, recognised by the hosts it is reached at.

    `tunnels` overrides the policy's for this vendor's hosts (`None`: the policy's applies);
    `binary` entries come before the policy's.
    """

    id: str
    name: str
    hosts: tuple[str, ...]
    contracts: tuple[Contract, ...] = ()
    tunnels: Tunnels | None = None
    binary: tuple[BinaryEntry, ...] = ()

    def matches_host(self, host: str) -> bool:
        """True when `host` matches one of this vendor's host patterns."""
        return _host_matches(host, self.hosts)

    def contract_for(self, target: Target) -> Contract | None:
        """The first of this vendor's contracts that covers `target`, if any."""
        return next((c for c in self.contracts if c.applies_to(target)), None)


@dataclass(frozen=True)
class AllowEntry:
    """An exception to the rules, with the reason logged whenever it applies.

    `values` (exact) and `patterns` (regular expressions matching the whole value) exempt a
    finding; `fields` exempt every value at those field paths (they are never inspected);
    `hosts`, `paths` and `vendors` limit where the entry applies, and an entry with nothing
    else exempts every message sent there. `entities` limits it to some entity types.
    """

    id: str
    reason: str
    values: frozenset[str] = frozenset()
    patterns: tuple[re.Pattern[str], ...] = ()
    fields: tuple[FieldSelector, ...] = ()
    entities: frozenset[str] = frozenset()
    vendors: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()

    @property
    def exempts_destination(self) -> bool:
        """True when the entry exempts whole messages: it names no value, field or entity type."""
        return not (self.values or self.patterns or self.fields or self.entities)

    @property
    def exempts_whole_fields(self) -> bool:
        """True when values at the entry's fields are not inspected at all (any entity type)."""
        return bool(self.fields) and not (self.values or self.patterns or self.entities)

    def exempts_finding(self, entity: str, value: str, field_path: str) -> bool:
        """True when a finding of `entity` with text `value` at `field_path` is exempt."""
        if not self.covers_entity(entity):
            return False
        if self.fields and not self.exempts_field(field_path):
            return False
        if self.values or self.patterns:
            return self.exempts_value(value)
        return True

    def applies_to(self, target: Target, vendor: Vendor | None) -> bool:
        """True when a message to `target` is within this entry's vendors, hosts and paths."""
        if self.vendors and (vendor is None or vendor.id not in self.vendors):
            return False
        if self.hosts and not _host_matches(target.host, self.hosts):
            return False
        return not self.paths or any(fnmatch.fnmatchcase(target.path, p) for p in self.paths)

    def covers_entity(self, entity: str) -> bool:
        """True when the entry is not limited to other entity types."""
        return not self.entities or entity in self.entities

    def exempts_field(self, field_path: str) -> bool:
        """True when values at `field_path` are exempt (for the entry's entity types)."""
        return any(s.matches(field_path) for s in self.fields)

    def exempts_value(self, value: str) -> bool:
        """True when `value` is one of the entry's values or matches one of its patterns whole."""
        return value in self.values or any(p.fullmatch(value) for p in self.patterns)


@dataclass(frozen=True)
class Target:
    """Where a message goes: what rules are matched against."""

    direction: Direction
    method: str
    host: str
    path: str


@dataclass(frozen=True)
class Rule:
    """One policy rule: which messages it applies to, what it looks for, what it does."""

    id: str
    entities: frozenset[str]
    action: Action
    description: str = ""
    vendors: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    methods: frozenset[str] = frozenset()
    directions: frozenset[Direction] = frozenset({Direction.REQUEST})
    min_score: float = DEFAULT_MIN_SCORE
    min_count: int = 1
    entity_min_counts: tuple[tuple[str, int], ...] = ()
    redact: RedactOptions = field(default_factory=RedactOptions)
    encrypt: EncryptOptions = field(default_factory=EncryptOptions)
    mode: Mode | None = None
    severity: Severity = Severity.MEDIUM
    contract: bool = False
    restore: bool = False

    def applies_to(self, target: Target, vendor: Vendor | None) -> bool:
        """True when this rule's vendor, host, path, method and direction all match."""
        return self.mismatch(target, vendor) is None

    def mismatch(self, target: Target, vendor: Vendor | None) -> str | None:
        """Why this rule does not apply to a message to `target`; `None` when it does."""
        if target.direction not in self.directions:
            return f"direction is {target.direction.value}; the rule covers " + "|".join(
                sorted(d.value for d in self.directions)
            )
        if self.methods and target.method.upper() not in self.methods:
            return f"method {target.method} is not one of {', '.join(sorted(self.methods))}"
        if self.vendors and (vendor is None or vendor.id not in self.vendors):
            who = f"vendor {vendor.id!r}" if vendor else "no vendor"
            return f"{who} is not one of {', '.join(self.vendors)}"
        if self.hosts and not _host_matches(target.host, self.hosts):
            return f"host {target.host} matches none of {', '.join(self.hosts)}"
        if self.paths and not any(fnmatch.fnmatchcase(target.path, p) for p in self.paths):
            return f"path {target.path} matches none of {', '.join(self.paths)}"
        return None


@dataclass(frozen=True)
class Policy:
    """A validated policy. Build it with `load_policy` or `parse_policy`."""

    name: str
    rules: tuple[Rule, ...]
    vendors: tuple[Vendor, ...] = ()
    mode: Mode = Mode.ENFORCE
    on_error: OnError = OnError.BLOCK
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_decompression_ratio: int = DEFAULT_MAX_DECOMPRESSION_RATIO
    unknown_destinations: UnknownDestinations = UnknownDestinations.INSPECT
    evidence: Evidence = Evidence.BODY
    tunnels: Tunnels = field(default_factory=Tunnels)
    binary: tuple[BinaryEntry, ...] = ()
    detectors: tuple[CustomDetector, ...] = ()
    allow: tuple[AllowEntry, ...] = ()
    source: str = "<memory>"
    files: tuple[str, ...] = ()
    sha256: str = ""
    warnings: tuple[PolicyProblem, ...] = field(default=(), compare=False)

    def vendor_for(self, host: str) -> Vendor | None:
        """The first vendor whose host patterns match `host`, if any."""
        return next((v for v in self.vendors if v.matches_host(host)), None)

    def rules_for(self, target: Target, vendor: Vendor | None) -> tuple[Rule, ...]:
        """The rules that apply to a message going to `target`."""
        return tuple(r for r in self.rules if r.applies_to(target, vendor))

    def tunnels_for(self, vendor: Vendor | None) -> Tunnels:
        """The tunnel policy for `vendor`'s hosts: its own if it has one, else the policy's."""
        if vendor is not None and vendor.tunnels is not None:
            return vendor.tunnels
        return self.tunnels

    def binary_for(self, content_type: str, vendor: Vendor | None) -> BinaryEntry | None:
        """The first binary entry listing `content_type`: the vendor's first, then the policy's."""
        entries = (*(vendor.binary if vendor is not None else ()), *self.binary)
        return next((e for e in entries if e.matches(content_type)), None)


def _host_matches(host: str, patterns: Iterable[str]) -> bool:
    host = host.lower().rstrip(".")
    return any(fnmatch.fnmatchcase(host, p) for p in patterns)
