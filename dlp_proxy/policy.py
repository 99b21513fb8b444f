"""The policy model (frozen dataclasses), its YAML loader and rule matching.

A policy is data written by compliance staff. Loading is all-or-nothing: every problem found
is reported with file, line and the field path, and nothing half-valid is ever returned.
The format is documented in docs/policy.md.
"""

from __future__ import annotations

import difflib
import enum
import fnmatch
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dlp_proxy._yaml import LocatedDocument, load_located
from dlp_proxy.errors import PolicyError, PolicyProblem

__all__ = [
    "KNOWN_ENTITIES",
    "Action",
    "Direction",
    "EncryptOptions",
    "Mode",
    "OnError",
    "Policy",
    "RedactOptions",
    "Rule",
    "Target",
    "UnknownDestinations",
    "Vendor",
    "load_policy",
    "parse_policy",
]

SCHEMA_VERSION = 1
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
DEFAULT_MIN_SCORE = 0.4
DEFAULT_MAX_DECOMPRESSION_RATIO = 200

# The entity types Presidio's predefined English recognizers and the spaCy NER mapping emit.
# tests/test_policy.py checks this list against a real Presidio registry.
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


class UnknownDestinations(enum.StrEnum):
    """What to do with traffic to a host no vendor entry matches."""

    INSPECT = "inspect"
    ALLOW = "allow"
    BLOCK = "block"


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
    """Randomized tokens differ every time; deterministic ones let the vendor join on them."""

    RANDOMIZED = "randomized"
    DETERMINISTIC = "deterministic"


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
    fields: tuple[str, ...]
    entities: frozenset[str] = frozenset()
    paths: tuple[str, ...] = ()
    methods: frozenset[str] = frozenset()
    directions: frozenset[Direction] = frozenset({Direction.REQUEST})


@dataclass(frozen=True)
class Vendor:
    """A named recipient, recognised by the hosts it is reached at."""

    id: str
    name: str
    hosts: tuple[str, ...]
    contracts: tuple[Contract, ...] = ()

    def matches_host(self, host: str) -> bool:
        """True when `host` matches one of this vendor's host patterns."""
        return _host_matches(host, self.hosts)


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
    patterns: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    entities: frozenset[str] = frozenset()
    vendors: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()

    @property
    def exempts_destination(self) -> bool:
        """True when the entry exempts whole messages (it names no value, pattern or field)."""
        return not (self.values or self.patterns or self.fields)


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

    def applies_to(self, target: Target, vendor: Vendor | None) -> bool:
        """True when this rule's vendor, host, path, method and direction all match."""
        if target.direction not in self.directions:
            return False
        if self.methods and target.method.upper() not in self.methods:
            return False
        if self.vendors and (vendor is None or vendor.id not in self.vendors):
            return False
        if self.hosts and not _host_matches(target.host, self.hosts):
            return False
        return not self.paths or any(fnmatch.fnmatchcase(target.path, p) for p in self.paths)


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
    detectors: tuple[CustomDetector, ...] = ()
    allow: tuple[AllowEntry, ...] = ()
    source: str = "<memory>"
    files: tuple[str, ...] = ()
    sha256: str = ""

    def vendor_for(self, host: str) -> Vendor | None:
        """The first vendor whose host patterns match `host`, if any."""
        return next((v for v in self.vendors if v.matches_host(host)), None)

    def rules_for(self, target: Target, vendor: Vendor | None) -> tuple[Rule, ...]:
        """The rules that apply to a message going to `target`."""
        return tuple(r for r in self.rules if r.applies_to(target, vendor))


def _host_matches(host: str, patterns: Iterable[str]) -> bool:
    host = host.lower().rstrip(".")
    return any(fnmatch.fnmatchcase(host, p) for p in patterns)


# ---------------------------------------------------------------------------------------------
# Loading

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_HOST_RE = re.compile(r"^[a-z0-9*?\[\]._-]+(:[0-9]+)?$")
_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}
)

_TOP_KEYS = (
    "version",
    "name",
    "description",
    "mode",
    "on_error",
    "max_body_bytes",
    "max_decompression_ratio",
    "unknown_destinations",
    "vendors",
    "rules",
)
_VENDOR_KEYS = ("id", "name", "hosts")
_RULE_KEYS = (
    "id",
    "description",
    "vendors",
    "hosts",
    "paths",
    "methods",
    "direction",
    "entities",
    "min_score",
    "min_count",
    "action",
    "redact",
    "encrypt",
)
_REDACT_KEYS = ("operator", "with", "keep", "char")
_ENCRYPT_KEYS = ("mode",)
_DIRECTIONS = {
    "request": frozenset({Direction.REQUEST}),
    "response": frozenset({Direction.RESPONSE}),
    "both": frozenset({Direction.REQUEST, Direction.RESPONSE}),
}


def load_policy(path: str | Path) -> Policy:
    """Read and validate a policy file; raise `PolicyError` listing every problem found."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise PolicyError(
            [PolicyProblem(str(path), None, "", f"cannot read the policy file: {e.strerror}")]
        ) from e
    return parse_policy(raw, source=str(path))


def parse_policy(raw: bytes | str, source: str = "<memory>") -> Policy:
    """Validate policy YAML given as bytes or text; `source` names it in error messages."""
    data = raw.encode() if isinstance(raw, str) else raw
    sha256 = hashlib.sha256(data).hexdigest()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise PolicyError(
            [
                PolicyProblem(
                    source, None, "", f"is not UTF-8 text (byte {e.start}); save it as UTF-8"
                )
            ]
        ) from e
    try:
        doc = load_located(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(e, "problem", None) or str(e)
        raise PolicyError([PolicyProblem(source, line, "", f"is not valid YAML: {problem}")]) from e
    checker = _Checker(source, doc)
    policy = checker.policy(sha256)
    if checker.problems or policy is None:
        raise PolicyError(checker.problems)
    return policy


class _Checker:
    """Walks the YAML data, collecting every problem instead of stopping at the first."""

    def __init__(self, source: str, doc: LocatedDocument) -> None:
        self.source = source
        self.doc = doc
        self.problems: list[PolicyProblem] = []
        for path, line in doc.duplicates:
            self.problems.append(
                PolicyProblem(source, line, _dotted(path), "is given twice; keep one of them")
            )

    def fail(self, path: tuple[str | int, ...], message: str) -> None:
        self.problems.append(
            PolicyProblem(self.source, self.doc.line_of(path), _dotted(path), message)
        )

    def policy(self, sha256: str) -> Policy | None:
        data = self.doc.data
        if not isinstance(data, dict):
            self.fail((), "must be a mapping with at least `version`, `name` and `rules`")
            return None
        self.keys(data, (), _TOP_KEYS)
        version = data.get("version")
        if version != SCHEMA_VERSION:
            self.fail(
                ("version",),
                f"must be {SCHEMA_VERSION} (got {version!r}); "
                "this dlp-proxy reads policy version 1",
            )
        name = self.string(data, (), "name", required=True)
        mode = self.choice(data, (), "mode", Mode, Mode.ENFORCE)
        on_error = self.choice(data, (), "on_error", OnError, OnError.BLOCK)
        unknown = self.choice(
            data, (), "unknown_destinations", UnknownDestinations, UnknownDestinations.INSPECT
        )
        max_body = self.integer(data, (), "max_body_bytes", DEFAULT_MAX_BODY_BYTES, minimum=1)
        max_ratio = self.integer(
            data, (), "max_decompression_ratio", DEFAULT_MAX_DECOMPRESSION_RATIO, minimum=1
        )
        vendors = tuple(
            v
            for i, item in enumerate(self.sequence(data, (), "vendors"))
            if (v := self.vendor(item, ("vendors", i))) is not None
        )
        self.unique(data.get("vendors"), "vendors")
        vendor_ids = {v.id for v in vendors}
        rule_items = self.sequence(data, (), "rules", required=True)
        rules = tuple(
            r
            for i, item in enumerate(rule_items)
            if (r := self.rule(item, ("rules", i), vendor_ids)) is not None
        )
        self.unique(rule_items, "rules")
        if self.problems:
            return None
        return Policy(
            name=name,
            rules=rules,
            vendors=vendors,
            mode=mode,
            on_error=on_error,
            max_body_bytes=max_body,
            max_decompression_ratio=max_ratio,
            unknown_destinations=unknown,
            source=self.source,
            sha256=sha256,
        )

    def vendor(self, item: Any, path: tuple[str | int, ...]) -> Vendor | None:
        if not isinstance(item, dict):
            self.fail(path, "must be a mapping with `id` and `hosts`")
            return None
        self.keys(item, path, _VENDOR_KEYS)
        vid = self.identifier(item, path, "id")
        hosts = self.hosts(item, path, required=True)
        name = self.string(item, path, "name") or vid
        return Vendor(id=vid, name=name, hosts=hosts)

    def rule(self, item: Any, path: tuple[str | int, ...], vendor_ids: set[str]) -> Rule | None:
        if not isinstance(item, dict):
            self.fail(path, "must be a mapping with `id`, `entities` and `action`")
            return None
        before = len(self.problems)
        self.keys(item, path, _RULE_KEYS)
        rid = self.identifier(item, path, "id")
        vendors = tuple(self.strings(item, path, "vendors"))
        for i, vid in enumerate(vendors):
            if vid not in vendor_ids:
                self.fail(
                    (*path, "vendors", i),
                    f"names vendor {vid!r}, which is not defined under `vendors`"
                    + _suggestion(vid, vendor_ids),
                )
        entities = self.strings(item, path, "entities", required=True)
        for i, entity in enumerate(entities):
            if entity not in KNOWN_ENTITIES:
                self.fail(
                    (*path, "entities", i),
                    f"{entity!r} is not an entity type dlp-proxy detects"
                    + _suggestion(entity, KNOWN_ENTITIES),
                )
        paths = tuple(self.strings(item, path, "paths"))
        for i, p in enumerate(paths):
            if not p.startswith("/") and p != "*":
                self.fail((*path, "paths", i), f"must start with '/' (got {p!r})")
        methods = frozenset(m.upper() for m in self.strings(item, path, "methods"))
        for m in sorted(methods - _METHODS):
            self.fail((*path, "methods"), f"{m!r} is not an HTTP method")
        direction_name = self.string(item, path, "direction") or "request"
        if direction_name not in _DIRECTIONS:
            self.fail(
                (*path, "direction"),
                f"must be one of request|response|both (got {direction_name!r})",
            )
        action = self.action(item, path)
        min_score = self.number(item, path, "min_score", DEFAULT_MIN_SCORE)
        min_count = self.integer(item, path, "min_count", 1, minimum=1)
        redact = self.redact_options(item, path, action)
        encrypt = self.encrypt_options(item, path, action)
        if len(self.problems) > before or action is None:
            return None
        return Rule(
            id=rid,
            description=self.string(item, path, "description"),
            vendors=vendors,
            hosts=self.hosts(item, path),
            paths=paths,
            methods=methods,
            directions=_DIRECTIONS.get(direction_name, frozenset({Direction.REQUEST})),
            entities=frozenset(entities),
            min_score=min_score,
            min_count=min_count,
            action=action,
            redact=redact,
            encrypt=encrypt,
        )

    def action(self, item: dict[str, Any], path: tuple[str | int, ...]) -> Action | None:
        value = item.get("action")
        names = [a.label for a in Action]
        if value is None:
            self.fail(path, f"needs `action`, one of {'|'.join(names)}")
            return None
        if value not in names:
            self.fail(
                (*path, "action"),
                f"must be one of {'|'.join(names)} (got {value!r})",
            )
            return None
        return Action[str(value).upper()]

    def redact_options(
        self, item: dict[str, Any], path: tuple[str | int, ...], action: Action | None
    ) -> RedactOptions:
        if "redact" not in item:
            return RedactOptions()
        where = (*path, "redact")
        if action is not Action.REDACT:
            self.fail(where, "is only allowed with `action: redact`")
        options = item["redact"]
        if not isinstance(options, dict):
            self.fail(where, "must be a mapping, e.g. {operator: mask, keep: 4}")
            return RedactOptions()
        self.keys(options, where, _REDACT_KEYS)
        operator = self.choice(options, where, "operator", RedactOperator, RedactOperator.REPLACE)
        replacement = self.string(options, where, "with") or "<{entity}>"
        if replacement.replace("{entity}", "").count("{") or "}" in replacement.replace(
            "{entity}", ""
        ):
            self.fail((*where, "with"), "may only contain the placeholder {entity}")
        char = self.string(options, where, "char") or "*"
        if len(char) != 1:
            self.fail((*where, "char"), f"must be a single character (got {char!r})")
        keep = self.integer(options, where, "keep", 4, minimum=0)
        return RedactOptions(operator=operator, replacement=replacement, keep=keep, char=char)

    def encrypt_options(
        self, item: dict[str, Any], path: tuple[str | int, ...], action: Action | None
    ) -> EncryptOptions:
        if "encrypt" not in item:
            return EncryptOptions()
        where = (*path, "encrypt")
        if action is not Action.ENCRYPT:
            self.fail(where, "is only allowed with `action: encrypt`")
        options = item["encrypt"]
        if not isinstance(options, dict):
            self.fail(where, "must be a mapping, e.g. {mode: deterministic}")
            return EncryptOptions()
        self.keys(options, where, _ENCRYPT_KEYS)
        return EncryptOptions(
            mode=self.choice(options, where, "mode", EncryptMode, EncryptMode.RANDOMIZED)
        )

    # --- field helpers -----------------------------------------------------------------------

    def keys(
        self, item: Mapping[str, Any], path: tuple[str | int, ...], allowed: tuple[str, ...]
    ) -> None:
        for key in item:
            if key not in allowed:
                self.fail(
                    (*path, str(key)),
                    "is not a known key here"
                    + _suggestion(str(key), allowed)
                    + f"; allowed: {', '.join(allowed)}",
                )

    def string(
        self, item: Mapping[str, Any], path: tuple[str | int, ...], key: str, required: bool = False
    ) -> str:
        value = item.get(key)
        if value is None:
            if required:
                self.fail(path, f"needs `{key}`")
            return ""
        if not isinstance(value, str):
            self.fail((*path, key), f"must be text (got {value!r})")
            return ""
        return value

    def identifier(self, item: Mapping[str, Any], path: tuple[str | int, ...], key: str) -> str:
        value = self.string(item, path, key, required=True)
        if value and not _ID_RE.match(value):
            self.fail(
                (*path, key),
                "must be letters, digits, '-', '_' or '.', starting with a letter or digit "
                f"(got {value!r})",
            )
        return value

    def strings(
        self, item: Mapping[str, Any], path: tuple[str | int, ...], key: str, required: bool = False
    ) -> list[str]:
        value = item.get(key)
        if value is None:
            if required:
                self.fail(path, f"needs `{key}`, a list")
            return []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail((*path, key), f"must be a list of text values (got {value!r})")
            return []
        if required and not value:
            self.fail((*path, key), "must not be empty")
        return value

    def hosts(
        self, item: Mapping[str, Any], path: tuple[str | int, ...], required: bool = False
    ) -> tuple[str, ...]:
        hosts = [h.lower() for h in self.strings(item, path, "hosts", required=required)]
        for i, host in enumerate(hosts):
            if not _HOST_RE.match(host):
                self.fail(
                    (*path, "hosts", i),
                    f"must be a host name or pattern like '*.vendor.example' (got {host!r})",
                )
        return tuple(hosts)

    def sequence(
        self, item: Mapping[str, Any], path: tuple[str | int, ...], key: str, required: bool = False
    ) -> list[Any]:
        value = item.get(key)
        if value is None:
            if required:
                self.fail(path, f"needs `{key}`, a list")
            return []
        if not isinstance(value, list):
            self.fail((*path, key), f"must be a list (got {type(value).__name__})")
            return []
        if required and not value:
            self.fail((*path, key), "must not be empty")
        return value

    def choice[E: enum.StrEnum](
        self,
        item: Mapping[str, Any],
        path: tuple[str | int, ...],
        key: str,
        kind: type[E],
        default: E,
    ) -> E:
        value = item.get(key)
        if value is None:
            return default
        names = [m.value for m in kind]
        if value not in names:
            self.fail((*path, key), f"must be one of {'|'.join(names)} (got {value!r})")
            return default
        return kind(value)

    def integer(
        self,
        item: Mapping[str, Any],
        path: tuple[str | int, ...],
        key: str,
        default: int,
        minimum: int,
    ) -> int:
        value = item.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.fail((*path, key), f"must be a whole number >= {minimum} (got {value!r})")
            return default
        return value

    def number(
        self, item: Mapping[str, Any], path: tuple[str | int, ...], key: str, default: float
    ) -> float:
        value = item.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            self.fail((*path, key), f"must be a number from 0 to 1 (got {value!r})")
            return default
        return float(value)

    def unique(self, items: Any, section: str) -> None:
        seen: set[str] = set()
        for i, item in enumerate(items if isinstance(items, list) else []):
            ident = item.get("id") if isinstance(item, dict) else None
            if not isinstance(ident, str):
                continue
            if ident in seen:
                self.fail((section, i), f"id {ident!r} is used twice; ids must be unique")
            seen.add(ident)


def _dotted(path: tuple[str | int, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _suggestion(value: str, options: Iterable[str]) -> str:
    options = sorted(options)
    close = difflib.get_close_matches(value, options, n=1, cutoff=0.6)
    # A truncated name (EMAIL for EMAIL_ADDRESS) is a common slip that difflib scores low.
    close = close or [o for o in options if len(value) >= 3 and o.startswith(value.upper())][:1]
    return f"; did you mean {close[0]!r}?" if close else ""
