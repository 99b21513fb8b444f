"""The policy loader: YAML to a `Policy`, with every check and its file:line:column.

A policy is data written by compliance staff. Loading is all-or-nothing: every problem found
is reported with file, line and the field path, and nothing half-valid is ever returned.
The format is documented in docs/policy.md; the model it builds is `dlp_proxy.policy.model`.
"""

from __future__ import annotations

import difflib
import enum
import fnmatch
import hashlib
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import regex
import yaml

from dlp_proxy.errors import PolicyError, PolicyProblem
from dlp_proxy.policy.located import LocatedDocument, load_located
from dlp_proxy.policy.model import (
    CONTRACT_ENTITIES,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_DECOMPRESSION_RATIO,
    DEFAULT_MIN_SCORE,
    KNOWN_ENTITIES,
    SCHEMA_VERSION,
    Action,
    AllowEntry,
    BinaryAction,
    BinaryEntry,
    Contract,
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

__all__ = ["load_policy", "parse_policy"]

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_ENTITY_RE = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
_HOST_RE = re.compile(r"^[a-z0-9*?\[\]._-]+(:[0-9]+)?$")
# A content type in a `binary` entry: `type/subtype` or `type/*`, without parameters.
_CONTENT_TYPE_RE = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/([A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*|\*)$"
)
_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}
)
# Presidio compiles recognizer patterns with the `regex` module and these flags; custom detectors
# are checked the same way, so a pattern valid here is valid there (`\p{L}` included).
DETECTOR_REGEX_FLAGS = regex.DOTALL | regex.MULTILINE | regex.IGNORECASE
MAX_INCLUDE_DEPTH = 8

_TOP_KEYS = (
    "version",
    "name",
    "description",
    "mode",
    "on_error",
    "max_body_bytes",
    "max_decompression_ratio",
    "unknown_destinations",
    "evidence",
    "tunnels",
    "binary",
    "include",
    "detectors",
    "allow",
    "vendors",
    "rules",
)
_INCLUDED_KEYS = ("version", "description", "include", "detectors", "allow")
_VENDOR_KEYS = ("id", "name", "hosts", "contracts", "tunnels", "binary")
_TUNNEL_KEYS = ("action", "reason")
_BINARY_KEYS = ("content_types", "action", "reason")
_CONTRACT_KEYS = ("id", "paths", "methods", "direction", "fields", "entities")
_DETECTOR_KEYS = (
    "id",
    "entity",
    "patterns",
    "context",
    "validator",
    "deny_list",
    "deny_list_score",
)
_PATTERN_KEYS = ("name", "regex", "score")
_ALLOW_KEYS = (
    "id",
    "reason",
    "values",
    "patterns",
    "fields",
    "entities",
    "vendors",
    "hosts",
    "paths",
)
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
    "mode",
    "severity",
    "contract",
    "redact",
    "encrypt",
    "restore",
)
_REDACT_KEYS = ("operator", "with", "keep", "char")
_ENCRYPT_KEYS = ("mode", "key")
_DIRECTIONS = {
    "request": frozenset({Direction.REQUEST}),
    "response": frozenset({Direction.RESPONSE}),
    "both": frozenset({Direction.REQUEST, Direction.RESPONSE}),
}

YamlPath = tuple[str | int, ...]


def load_policy(path: str | Path, *, key_ids: Collection[str] | None = None) -> Policy:
    """Read and validate a policy file and its includes; raise `PolicyError` listing every problem.

    With `key_ids` (the ids in the data keyring), a rule naming an encryption key that is not
    among them is a problem too.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise PolicyError(
            [PolicyProblem(str(path), None, "", f"cannot read the policy file: {e.strerror}")]
        ) from e
    return parse_policy(raw, source=str(path), key_ids=key_ids)


def parse_policy(
    raw: bytes | str, source: str = "<memory>", *, key_ids: Collection[str] | None = None
) -> Policy:
    """Validate policy YAML given as bytes or text; `source` names it in error messages.

    Includes are resolved relative to `source`'s directory (the working directory for
    `<memory>`).
    """
    data = raw.encode() if isinstance(raw, str) else raw
    loader = _Loader(key_ids)
    doc = loader.document(data, source)
    if doc is None:
        raise PolicyError(loader.problems)
    checker = _Checker(source, doc, loader)
    policy = checker.policy()
    errors = [p for p in loader.problems if p.level == "error"]
    if errors or policy is None:
        raise PolicyError(errors)
    return replace(
        policy,
        files=tuple(name for name, _ in loader.files),
        sha256=loader.sha256(),
        warnings=tuple(p for p in loader.problems if p.level == "warning"),
    )


class _Loader:
    """State shared by the checkers of a policy and the files it includes."""

    def __init__(self, key_ids: Collection[str] | None) -> None:
        self.key_ids = frozenset(key_ids) if key_ids is not None else None
        self.problems: list[PolicyProblem] = []
        self.files: list[tuple[str, bytes]] = []

    def document(self, data: bytes, source: str) -> LocatedDocument | None:
        """Parse one file's YAML, recording it for the policy's sha256; `None` if unusable."""
        self.files.append((source, data))
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            self.problems.append(
                PolicyProblem(
                    source, None, "", f"is not UTF-8 text (byte {e.start}); save it as UTF-8"
                )
            )
            return None
        try:
            return load_located(text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            column = mark.column + 1 if mark is not None else None
            problem = getattr(e, "problem", None) or str(e)
            self.problems.append(
                PolicyProblem(source, line, "", f"is not valid YAML: {problem}", column)
            )
            return None

    def sha256(self) -> str:
        """The sha256 of the policy file, or of it and its includes, in load order."""
        if len(self.files) == 1:
            return hashlib.sha256(self.files[0][1]).hexdigest()
        digest = hashlib.sha256()
        for name, data in self.files:
            digest.update(f"--- {name} {len(data)}\n".encode())
            digest.update(data)
        return digest.hexdigest()


class _Checker:
    """Walks one file's YAML data, collecting every problem instead of stopping at the first."""

    def __init__(
        self, source: str, doc: LocatedDocument, loader: _Loader, chain: tuple[str, ...] = ()
    ) -> None:
        self.source = source
        self.doc = doc
        self.loader = loader
        self.chain = (*chain, _identity(source))
        self.problems = loader.problems
        for path, line in doc.duplicates:
            self.fail(path, "is given twice; keep one of them", line=line)

    def fail(
        self,
        path: YamlPath,
        message: str,
        *,
        line: int | None = None,
        level: str = "error",
        at_value: bool = False,
    ) -> None:
        found_line, column = self.doc.position_of(path)
        if at_value and path in self.doc.values:
            found_line, column = self.doc.values[path]
        self.problems.append(
            PolicyProblem(
                self.source, line or found_line, _dotted(path), message, column, level=level
            )
        )

    def warn(self, path: YamlPath, message: str) -> None:
        self.fail(path, message, level="warning")

    # --- the policy file -----------------------------------------------------------------------

    def policy(self) -> Policy | None:
        data = self.doc.data
        if not isinstance(data, dict):
            self.fail((), "must be a mapping with at least `version`, `name` and `rules`")
            return None
        self.keys(data, (), _TOP_KEYS)
        self.version(data)
        name = self.string(data, (), "name", required=True)
        mode = self.choice(data, (), "mode", Mode, Mode.ENFORCE)
        on_error = self.choice(data, (), "on_error", OnError, OnError.BLOCK)
        unknown = self.choice(
            data, (), "unknown_destinations", UnknownDestinations, UnknownDestinations.INSPECT
        )
        evidence = self.choice(data, (), "evidence", Evidence, Evidence.BODY)
        tunnels = self.tunnels(data, ()) or Tunnels()
        binary = self.binary(data, ())
        max_body = self.integer(data, (), "max_body_bytes", DEFAULT_MAX_BODY_BYTES, minimum=1)
        max_ratio = self.integer(
            data, (), "max_decompression_ratio", DEFAULT_MAX_DECOMPRESSION_RATIO, minimum=1
        )
        vendor_items = self.sequence(data, (), "vendors")
        vendor_ids = {
            item["id"] for item in vendor_items if isinstance(item, dict) and "id" in item
        }
        detectors, allow = self.shared(data, vendor_ids)
        entities = KNOWN_ENTITIES | {d.entity for d in detectors}
        vendors = tuple(
            v
            for i, item in enumerate(vendor_items)
            if (v := self.vendor(item, ("vendors", i), entities)) is not None
        )
        self.unique(vendor_items, "vendors")
        rule_items = self.sequence(data, (), "rules", required=True)
        by_id = {v.id: v for v in vendors}
        rules = tuple(
            r
            for i, item in enumerate(rule_items)
            if (r := self.rule(item, ("rules", i), by_id, entities, mode)) is not None
        )
        self.unique(rule_items, "rules")
        if any(p.level == "error" for p in self.problems):
            return None
        self.shadowed(rules)
        return Policy(
            name=name,
            rules=rules,
            vendors=vendors,
            mode=mode,
            on_error=on_error,
            max_body_bytes=max_body,
            max_decompression_ratio=max_ratio,
            unknown_destinations=unknown,
            evidence=evidence,
            tunnels=tunnels,
            binary=binary,
            detectors=detectors,
            allow=allow,
            source=self.source,
        )

    def version(self, data: dict[str, Any], required: bool = True) -> None:
        if "version" not in data and not required:
            return
        version = data.get("version")
        if version != SCHEMA_VERSION:
            self.fail(
                ("version",),
                f"must be {SCHEMA_VERSION} (got {version!r}); "
                "this dlp-proxy reads policy version 1",
            )

    def shared(
        self, data: dict[str, Any], vendor_ids: set[str]
    ) -> tuple[tuple[CustomDetector, ...], tuple[AllowEntry, ...]]:
        """Detectors and allow entries: from included files first, then this file's own."""
        detectors: list[CustomDetector] = []
        allow: list[AllowEntry] = []
        for i, name in enumerate(self.strings(data, (), "include")):
            more = self.include(name, ("include", i), vendor_ids)
            detectors.extend(more[0])
            allow.extend(more[1])
        included = (len(detectors), len(allow))
        detector_items = self.sequence(data, (), "detectors")
        detectors.extend(
            d
            for i, item in enumerate(detector_items)
            if (d := self.detector(item, ("detectors", i))) is not None
        )
        entities = KNOWN_ENTITIES | {d.entity for d in detectors}
        allow_items = self.sequence(data, (), "allow")
        allow.extend(
            a
            for i, item in enumerate(allow_items)
            if (a := self.allow_entry(item, ("allow", i), vendor_ids, entities)) is not None
        )
        self.unique(detector_items, "detectors")
        self.unique(allow_items, "allow")
        self.not_included(detector_items, "detectors", {d.id for d in detectors[: included[0]]})
        self.not_included(allow_items, "allow", {a.id for a in allow[: included[1]]})
        return tuple(detectors), tuple(allow)

    def include(
        self, name: str, path: YamlPath, vendor_ids: set[str]
    ) -> tuple[tuple[CustomDetector, ...], tuple[AllowEntry, ...]]:
        base = Path(self.source).parent if self.source != "<memory>" else Path()
        target = base / name
        if _identity(str(target)) in self.chain:
            self.fail(path, f"includes {name!r}, which includes this file again; remove the loop")
            return (), ()
        if len(self.chain) > MAX_INCLUDE_DEPTH:
            self.fail(path, f"includes are nested more than {MAX_INCLUDE_DEPTH} deep")
            return (), ()
        try:
            raw = target.read_bytes()
        except OSError as e:
            self.fail(path, f"cannot read included file {str(target)!r}: {e.strerror}")
            return (), ()
        doc = self.loader.document(raw, str(target))
        if doc is None:
            return (), ()
        checker = _Checker(str(target), doc, self.loader, self.chain)
        data = doc.data
        if not isinstance(data, dict):
            checker.fail((), "must be a mapping with `detectors` and/or `allow`")
            return (), ()
        checker.keys(data, (), _INCLUDED_KEYS)
        checker.version(data, required=False)
        return checker.shared(data, vendor_ids)

    # --- detectors -----------------------------------------------------------------------------

    def detector(self, item: Any, path: YamlPath) -> CustomDetector | None:
        if not isinstance(item, dict):
            self.fail(path, "must be a mapping with `id`, `entity` and `patterns` or `deny_list`")
            return None
        before = len(self.problems)
        self.keys(item, path, _DETECTOR_KEYS)
        did = self.identifier(item, path, "id")
        entity = self.string(item, path, "entity", required=True)
        if entity and not _ENTITY_RE.fullmatch(entity):
            self.fail(
                (*path, "entity"),
                "must be upper case letters, digits and '_', at most 64, like ACME_CUSTOMER_ID "
                f"(got {entity!r})",
            )
        patterns = tuple(
            p
            for i, raw in enumerate(self.sequence(item, path, "patterns"))
            if (p := self.pattern(raw, (*path, "patterns", i), i)) is not None
        )
        deny_list = tuple(self.strings(item, path, "deny_list"))
        for i, value in enumerate(deny_list):
            if not value.strip():
                self.fail((*path, "deny_list", i), "must not be empty")
        if not item.get("patterns") and not item.get("deny_list"):
            self.fail(path, "needs `patterns` or `deny_list` (or both), with at least one entry")
        validator = self.choice(item, path, "validator", Validator, Validator.NONE)
        context = tuple(c.lower() for c in self.strings(item, path, "context"))
        deny_score = self.number(item, path, "deny_list_score", 1.0)
        if len(self.problems) > before:
            return None
        return CustomDetector(
            id=did,
            entity=entity,
            patterns=patterns,
            context=context,
            validator=validator,
            deny_list=deny_list,
            deny_list_score=deny_score,
        )

    def pattern(self, item: Any, path: YamlPath, index: int) -> DetectorPattern | None:
        if isinstance(item, str):
            item = {"regex": item}
        if not isinstance(item, dict):
            self.fail(path, "must be a mapping like {regex: 'AC-\\d{8}', score: 0.6}")
            return None
        self.keys(item, path, _PATTERN_KEYS)
        source = self.string(item, path, "regex", required=True)
        score = self.number(item, path, "score", 0.5)
        name = self.string(item, path, "name") or f"pattern{index}"
        if not source:
            return None
        compiled = self.detector_regex((*path, "regex"), source)
        if compiled is None:
            return None
        if compiled.fullmatch("") is not None:
            self.fail(
                (*path, "regex"),
                "matches the empty string, so it would match everywhere; "
                "use + instead of * or add a fixed part",
                at_value=True,
            )
            return None
        return DetectorPattern(name=name, regex=source, score=score)

    def detector_regex(self, path: YamlPath, text: str) -> regex.Pattern[str] | None:
        """Compile as Presidio will: with the `regex` module and Presidio's flags."""
        try:
            return regex.compile(text, DETECTOR_REGEX_FLAGS)
        except regex.error as e:
            # regex's errors carry pos and msg as re's do; its type stubs do not declare them.
            pos: int | None = getattr(e, "pos", None)
            where = f" at position {pos} (after {text[:pos]!r})" if pos is not None else ""
            self.fail(
                path,
                f"is not a valid regular expression: {getattr(e, 'msg', e)}{where}",
                at_value=True,
            )
            return None

    def regex(self, path: YamlPath, text: str, flags: int = 0) -> re.Pattern[str] | None:
        try:
            return re.compile(text, flags)
        except re.error as e:
            where = f" at position {e.pos} (after {text[: e.pos]!r})" if e.pos is not None else ""
            self.fail(
                path,
                f"is not a valid regular expression: {e.msg}{where}",
                at_value=True,
            )
            return None

    # --- allow lists ---------------------------------------------------------------------------

    def allow_entry(
        self, item: Any, path: YamlPath, vendor_ids: set[str], entities: frozenset[str]
    ) -> AllowEntry | None:
        if not isinstance(item, dict):
            self.fail(path, "must be a mapping with `id`, `reason` and what it allows")
            return None
        before = len(self.problems)
        self.keys(item, path, _ALLOW_KEYS)
        aid = self.identifier(item, path, "id")
        reason = self.string(item, path, "reason")
        if not reason.strip():
            self.fail(
                path,
                "needs `reason`: say why this exception exists; it is logged whenever it applies",
            )
        values = frozenset(self.strings(item, path, "values"))
        patterns = tuple(
            compiled
            for i, text in enumerate(self.strings(item, path, "patterns"))
            if (compiled := self.regex((*path, "patterns", i), text)) is not None
        )
        fields = self.selectors(item, path)
        allowed_entities = self.entity_list(item, path, entities, required=False)
        vendors = self.vendor_refs(item, path, vendor_ids)
        hosts = self.hosts(item, path)
        paths = self.paths(item, path)
        if not (values or patterns or fields or vendors or hosts or paths):
            self.fail(
                path,
                "allows nothing in particular: give `values`, `patterns` or `fields`, "
                "or `vendors`, `hosts` or `paths` to exempt",
            )
        if len(self.problems) > before:
            return None
        return AllowEntry(
            id=aid,
            reason=reason,
            values=values,
            patterns=patterns,
            fields=fields,
            entities=frozenset(allowed_entities),
            vendors=vendors,
            hosts=hosts,
            paths=paths,
        )

    # --- vendors and contracts -----------------------------------------------------------------

    def vendor(self, item: Any, path: YamlPath, entities: frozenset[str]) -> Vendor | None:
        if not isinstance(item, dict):
            self.fail(path, "must be a mapping with `id` and `hosts`")
            return None
        self.keys(item, path, _VENDOR_KEYS)
        vid = self.identifier(item, path, "id")
        hosts = self.hosts(item, path, required=True)
        name = self.string(item, path, "name") or vid
        contract_items = self.sequence(item, path, "contracts")
        contracts = tuple(
            c
            for i, raw in enumerate(contract_items)
            if (c := self.contract(raw, (*path, "contracts", i), entities)) is not None
        )
        self.unique(contract_items, "contracts", prefix=path)
        tunnels = self.tunnels(item, path)
        binary = self.binary(item, path)
        return Vendor(
            id=vid, name=name, hosts=hosts, contracts=contracts, tunnels=tunnels, binary=binary
        )

    # --- tunnels and binary bodies -------------------------------------------------------------

    def tunnels(self, item: Mapping[str, Any], path: YamlPath) -> Tunnels | None:
        """`tunnels: refuse|inspect` or `tunnels: {action: ..., reason: ...}`; None if absent."""
        if item.get("tunnels") is None:
            return None
        value = item["tunnels"]
        where = (*path, "tunnels")
        names = [a.value for a in TunnelAction]
        if isinstance(value, str):
            value = {"action": value}
            at: YamlPath = where
        elif isinstance(value, dict):
            self.keys(value, where, _TUNNEL_KEYS)
            at = (*where, "action")
        else:
            self.fail(
                where,
                f"must be one of {'|'.join(names)}, or a mapping like "
                f"{{action: allow, reason: ...}} (got {value!r})",
            )
            return None
        action = value.get("action")
        if action is None:
            self.fail(where, f"needs `action`, one of {'|'.join(names)}")
            return None
        if action not in names:
            self.fail(
                at,
                f"must be one of {'|'.join(names)} (got {action!r})"
                + _suggestion(str(action), names),
            )
            return None
        reason = self.string(value, where, "reason") if isinstance(item["tunnels"], dict) else ""
        if action == TunnelAction.ALLOW.value and not reason.strip():
            self.fail(
                where,
                "`allow` needs a reason, logged with every tunnel it lets through uninspected: "
                'write `tunnels: {action: allow, reason: "why these bytes may pass unread"}`',
            )
            return None
        return Tunnels(action=TunnelAction(action), reason=reason)

    def binary(self, item: Mapping[str, Any], path: YamlPath) -> tuple[BinaryEntry, ...]:
        """The `binary` entries: content types whose uninspectable bodies pass or are refused."""
        entries = []
        for i, raw in enumerate(self.sequence(item, path, "binary")):
            entry = self.binary_entry(raw, (*path, "binary", i))
            if entry is not None:
                entries.append(entry)
        return tuple(entries)

    def binary_entry(self, item: Any, path: YamlPath) -> BinaryEntry | None:
        if not isinstance(item, dict):
            self.fail(
                path,
                "must be a mapping like {content_types: [image/png], action: allow, reason: ...}",
            )
            return None
        before = len(self.problems)
        self.keys(item, path, _BINARY_KEYS)
        types = self.strings(item, path, "content_types", required=True)
        for i, text in enumerate(types):
            if not _CONTENT_TYPE_RE.fullmatch(text):
                self.fail(
                    (*path, "content_types", i),
                    "must be a content type like image/png or image/*, without parameters "
                    f"(got {text!r})",
                )
        names = [a.value for a in BinaryAction]
        if item.get("action") is None:
            self.fail(path, f"needs `action`, one of {'|'.join(names)}")
        action = self.optional_choice(item, path, "action", BinaryAction)
        reason = self.string(item, path, "reason")
        if action is BinaryAction.ALLOW and not reason.strip():
            self.fail(
                path,
                "needs `reason`: say why these bodies may pass uninspected; it is logged "
                "whenever one does",
            )
        if len(self.problems) > before or action is None:
            return None
        return BinaryEntry(
            content_types=tuple(t.lower() for t in types), action=action, reason=reason
        )

    def contract(self, item: Any, path: YamlPath, entities: frozenset[str]) -> Contract | None:
        if not isinstance(item, dict):
            self.fail(path, "must be a mapping with `id` and `fields`")
            return None
        before = len(self.problems)
        self.keys(item, path, _CONTRACT_KEYS)
        cid = self.identifier(item, path, "id")
        fields = self.selectors(item, path, required=True)
        allowed = self.entity_list(item, path, entities, required=False)
        paths = self.paths(item, path)
        methods = self.methods(item, path)
        directions = self.direction(item, path)
        if len(self.problems) > before:
            return None
        return Contract(
            id=cid,
            fields=fields,
            entities=frozenset(allowed),
            paths=paths,
            methods=methods,
            directions=directions,
        )

    # --- rules ---------------------------------------------------------------------------------

    def rule(
        self,
        item: Any,
        path: YamlPath,
        vendors: Mapping[str, Vendor],
        entities: frozenset[str],
        policy_mode: Mode,
    ) -> Rule | None:
        if not isinstance(item, dict):
            self.fail(path, "must be a mapping with `id`, `entities` and `action`")
            return None
        before = len(self.problems)
        self.keys(item, path, _RULE_KEYS)
        rid = self.identifier(item, path, "id")
        vendor_ids = self.vendor_refs(item, path, set(vendors))
        contract = self.contract_flag(item, path, vendor_ids, vendors)
        min_count, per_entity = self.min_count(item, path, entities)
        listed = self.entity_list(item, path, entities, required=not (contract or per_entity))
        if per_entity and "entities" in item and set(listed) != {e for e, _ in per_entity}:
            self.fail(
                (*path, "min_count"),
                "names other entity types than `entities`; with counts per entity type, "
                "leave `entities` out (the counts name them) or list the same types",
            )
        if contract and per_entity:
            self.fail(
                (*path, "min_count"),
                "a contract rule counts values outside the contract, not entity types: give "
                "`min_count` as one number",
            )
        rule_entities = frozenset(listed) or frozenset(e for e, _ in per_entity)
        if contract and not rule_entities:
            rule_entities = CONTRACT_ENTITIES | (entities - KNOWN_ENTITIES)
        action = self.action(item, path)
        if contract and action is Action.ALLOW:
            self.fail((*path, "action"), "a contract rule must redact, encrypt or block")
        mode = self.optional_choice(item, path, "mode", Mode)
        if mode is Mode.ENFORCE and policy_mode is Mode.MONITOR:
            self.fail(
                (*path, "mode"),
                "cannot enforce inside a policy in monitor mode; set the policy's `mode: "
                "enforce` and put the rules still on trial in `mode: monitor`",
            )
        severity = self.severity(item, path)
        min_score = self.number(item, path, "min_score", DEFAULT_MIN_SCORE)
        redact = self.redact_options(item, path, action)
        encrypt = self.encrypt_options(item, path, action)
        restore = self.restore(item, path, action, encrypt)
        if action is Action.ENCRYPT and encrypt.mode is EncryptMode.MASK_PCI:
            others = sorted(set(listed) - {"CREDIT_CARD"})
            if others or contract:
                self.fail(
                    (*path, "encrypt", "mode"),
                    "mask-pci is for card numbers only; this rule also covers "
                    f"{', '.join(others) or 'values outside a contract'}: give them a rule "
                    "of their own",
                )
        description = self.string(item, path, "description")
        hosts = self.hosts(item, path)
        paths = self.paths(item, path)
        methods = self.methods(item, path)
        directions = self.direction(item, path)
        if len(self.problems) > before or action is None:
            return None
        return Rule(
            id=rid,
            description=description,
            vendors=vendor_ids,
            hosts=hosts,
            paths=paths,
            methods=methods,
            directions=directions,
            entities=rule_entities,
            min_score=min_score,
            min_count=min_count,
            entity_min_counts=per_entity,
            action=action,
            redact=redact,
            encrypt=encrypt,
            mode=mode,
            severity=severity,
            contract=contract,
            restore=restore,
        )

    def contract_flag(
        self,
        item: dict[str, Any],
        path: YamlPath,
        vendor_ids: tuple[str, ...],
        vendors: Mapping[str, Vendor],
    ) -> bool:
        if "contract" not in item:
            return False
        if item["contract"] != "strict":
            self.fail((*path, "contract"), f"must be strict (got {item['contract']!r})")
            return False
        if not vendor_ids:
            self.fail(
                path,
                "a contract rule needs `vendors`: contracts are written per vendor, under "
                "vendors[].contracts",
            )
        for i, vid in enumerate(vendor_ids):
            if vid in vendors and not vendors[vid].contracts:
                self.fail(
                    (*path, "vendors", i),
                    f"vendor {vid!r} has no `contracts`, so everything sent to it would be "
                    "outside the contract; write its contracts under vendors[].contracts",
                )
        return True

    def min_count(
        self, item: dict[str, Any], path: YamlPath, entities: frozenset[str]
    ) -> tuple[int, tuple[tuple[str, int], ...]]:
        value = item.get("min_count")
        if not isinstance(value, dict):
            return self.integer(item, path, "min_count", 1, minimum=1), ()
        counts: list[tuple[str, int]] = []
        where = (*path, "min_count")
        for entity, count in value.items():
            if entity not in entities:
                self.fail(
                    (*where, str(entity)),
                    f"{entity!r} is not an entity type dlp-proxy detects"
                    + _suggestion(str(entity), entities),
                )
            elif isinstance(count, bool) or not isinstance(count, int) or count < 1:
                self.fail((*where, str(entity)), f"must be a whole number >= 1 (got {count!r})")
            else:
                counts.append((entity, count))
        if not value:
            self.fail(where, "must name at least one entity type with its count")
        return 1, tuple(sorted(counts))

    def severity(self, item: dict[str, Any], path: YamlPath) -> Severity:
        value = item.get("severity", Severity.MEDIUM.label)
        names = [s.label for s in Severity]
        if value not in names:
            self.fail((*path, "severity"), f"must be one of {'|'.join(names)} (got {value!r})")
            return Severity.MEDIUM
        return Severity[str(value).upper()]

    def action(self, item: dict[str, Any], path: YamlPath) -> Action | None:
        value = item.get("action")
        names = [a.label for a in Action]
        if value is None:
            self.fail(path, f"needs `action`, one of {'|'.join(names)}")
            return None
        if value not in names:
            self.fail(
                (*path, "action"),
                f"must be one of {'|'.join(names)} (got {value!r})"
                + _suggestion(str(value), names),
            )
            return None
        return Action[str(value).upper()]

    def redact_options(
        self, item: dict[str, Any], path: YamlPath, action: Action | None
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
        replacement = self.string(options, where, "with", required="with" in options)
        replacement = replacement or "<{entity}>"
        if replacement.replace("{entity}", "").count("{") or "}" in replacement.replace(
            "{entity}", ""
        ):
            self.fail((*where, "with"), "may only contain the placeholder {entity}")
        char = self.string(options, where, "char") if "char" in options else "*"
        if len(char) != 1:
            self.fail((*where, "char"), f"must be a single character (got {char!r})")
        keep = self.integer(options, where, "keep", 4, minimum=0)
        return RedactOptions(operator=operator, replacement=replacement, keep=keep, char=char)

    def encrypt_options(
        self, item: dict[str, Any], path: YamlPath, action: Action | None
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
        key = self.string(options, where, "key", required="key" in options) or None
        known = self.loader.key_ids
        if key is not None and known is not None and key not in known:
            listed = ", ".join(sorted(known)) or "none"
            self.fail(
                (*where, "key"),
                f"names key {key!r}, which is not in the keyring (its keys: {listed})"
                + _suggestion(key, known),
            )
        return EncryptOptions(
            mode=self.choice(options, where, "mode", EncryptMode, EncryptMode.RANDOMIZED),
            key=key,
        )

    def restore(
        self,
        item: dict[str, Any],
        path: YamlPath,
        action: Action | None,
        encrypt: EncryptOptions,
    ) -> bool:
        value = item.get("restore", False)
        if not isinstance(value, bool):
            self.fail((*path, "restore"), f"must be true or false (got {value!r})")
            return False
        if value and action is not Action.ENCRYPT:
            self.fail((*path, "restore"), "is only allowed with `action: encrypt`")
        elif value and not encrypt.mode.reversible:
            self.fail(
                (*path, "restore"),
                f"needs reversible tokens; encrypt.mode {encrypt.mode.value} cannot be undone",
            )
        return value is True

    def shadowed(self, rules: tuple[Rule, ...]) -> None:
        """Warn about rules that can never change a decision because an earlier one covers them."""
        for j, later in enumerate(rules):
            earlier = next((r for r in rules[:j] if _covers(r, later)), None)
            if earlier is not None:
                self.warn(
                    ("rules", j),
                    f"has no effect: rule {earlier.id!r} before it applies to the same "
                    "traffic and entities, fires whenever it does and is at least as strict; "
                    f"remove {later.id!r} or narrow {earlier.id!r}",
                )

    # --- field helpers -----------------------------------------------------------------------

    def keys(self, item: Mapping[str, Any], path: YamlPath, allowed: tuple[str, ...]) -> None:
        for key in item:
            if key not in allowed:
                self.fail(
                    (*path, str(key)),
                    "is not a known key here"
                    + _suggestion(str(key), allowed)
                    + f"; allowed: {', '.join(allowed)}",
                )

    def string(
        self, item: Mapping[str, Any], path: YamlPath, key: str, required: bool = False
    ) -> str:
        value = item.get(key)
        if value is None:
            if required:
                self.fail(path, f"needs `{key}`")
            return ""
        if not isinstance(value, str):
            self.fail((*path, key), f"must be text (got {value!r})")
            return ""
        if required and not value.strip():
            self.fail((*path, key), "must not be empty")
            return ""
        return value

    def identifier(self, item: Mapping[str, Any], path: YamlPath, key: str) -> str:
        value = self.string(item, path, key, required=True)
        if value and not _ID_RE.fullmatch(value):
            self.fail(
                (*path, key),
                "must be letters, digits, '-', '_' or '.', starting with a letter or digit "
                f"(got {value!r})",
            )
        return value

    def strings(
        self, item: Mapping[str, Any], path: YamlPath, key: str, required: bool = False
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

    def entity_list(
        self, item: Mapping[str, Any], path: YamlPath, entities: frozenset[str], required: bool
    ) -> list[str]:
        listed = self.strings(item, path, "entities", required=required)
        for i, entity in enumerate(listed):
            if entity not in entities:
                self.fail(
                    (*path, "entities", i),
                    f"{entity!r} is not an entity type dlp-proxy detects"
                    + (
                        _suggestion(entity, entities)
                        or "; declare your own types under `detectors`"
                    ),
                )
        return listed

    def vendor_refs(
        self, item: Mapping[str, Any], path: YamlPath, vendor_ids: set[str]
    ) -> tuple[str, ...]:
        refs = tuple(self.strings(item, path, "vendors"))
        for i, vid in enumerate(refs):
            if vid not in vendor_ids:
                self.fail(
                    (*path, "vendors", i),
                    f"names vendor {vid!r}, which is not defined under `vendors`"
                    + _suggestion(vid, vendor_ids),
                )
        return refs

    def selectors(
        self, item: Mapping[str, Any], path: YamlPath, required: bool = False
    ) -> tuple[FieldSelector, ...]:
        selectors = []
        for i, text in enumerate(self.strings(item, path, "fields", required=required)):
            try:
                selectors.append(FieldSelector.parse(text))
            except ValueError as e:
                self.fail((*path, "fields", i), str(e))
        return tuple(selectors)

    def hosts(
        self, item: Mapping[str, Any], path: YamlPath, required: bool = False
    ) -> tuple[str, ...]:
        hosts = [h.lower() for h in self.strings(item, path, "hosts", required=required)]
        for i, host in enumerate(hosts):
            if not _HOST_RE.fullmatch(host):
                self.fail(
                    (*path, "hosts", i),
                    f"must be a host name or pattern like '*.vendor.example' (got {host!r})",
                )
        return tuple(hosts)

    def paths(self, item: Mapping[str, Any], path: YamlPath) -> tuple[str, ...]:
        paths = tuple(self.strings(item, path, "paths"))
        for i, p in enumerate(paths):
            if not p.startswith("/") and p != "*":
                self.fail((*path, "paths", i), f"must start with '/' (got {p!r})")
        return paths

    def methods(self, item: Mapping[str, Any], path: YamlPath) -> frozenset[str]:
        methods = frozenset(m.upper() for m in self.strings(item, path, "methods"))
        for m in sorted(methods - _METHODS):
            self.fail(
                (*path, "methods"),
                f"{m!r} is not an HTTP method" + _suggestion(m, _METHODS),
            )
        return methods

    def direction(self, item: Mapping[str, Any], path: YamlPath) -> frozenset[Direction]:
        name = self.string(item, path, "direction") or "request"
        if name not in _DIRECTIONS:
            self.fail(
                (*path, "direction"),
                f"must be one of request|response|both (got {name!r})"
                + _suggestion(name, _DIRECTIONS),
            )
            return _DIRECTIONS["request"]
        return _DIRECTIONS[name]

    def sequence(
        self, item: Mapping[str, Any], path: YamlPath, key: str, required: bool = False
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
        self, item: Mapping[str, Any], path: YamlPath, key: str, kind: type[E], default: E
    ) -> E:
        return self.optional_choice(item, path, key, kind) or default

    def optional_choice[E: enum.StrEnum](
        self, item: Mapping[str, Any], path: YamlPath, key: str, kind: type[E]
    ) -> E | None:
        value = item.get(key)
        if value is None:
            return None
        names = [m.value for m in kind]
        if value not in names:
            self.fail(
                (*path, key),
                f"must be one of {'|'.join(names)} (got {value!r})"
                + _suggestion(str(value), names),
            )
            return None
        return kind(value)

    def integer(
        self, item: Mapping[str, Any], path: YamlPath, key: str, default: int, minimum: int
    ) -> int:
        value = item.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.fail((*path, key), f"must be a whole number >= {minimum} (got {value!r})")
            return default
        return value

    def number(self, item: Mapping[str, Any], path: YamlPath, key: str, default: float) -> float:
        value = item.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            self.fail((*path, key), f"must be a number from 0 to 1 (got {value!r})")
            return default
        return float(value)

    def not_included(self, items: list[Any], section: str, included_ids: set[str]) -> None:
        for i, item in enumerate(items):
            ident = item.get("id") if isinstance(item, dict) else None
            if ident in included_ids:
                self.fail(
                    (section, i),
                    f"id {ident!r} is already used in an included file; ids must be unique",
                )

    def unique(self, items: Any, section: str, prefix: YamlPath = ()) -> None:
        seen: set[str] = set()
        for i, item in enumerate(items if isinstance(items, list) else []):
            ident = item.get("id") if isinstance(item, dict) else None
            if not isinstance(ident, str):
                continue
            if ident in seen:
                self.fail((*prefix, section, i), f"id {ident!r} is used twice; ids must be unique")
            seen.add(ident)


def _identity(source: str) -> str:
    try:
        return str(Path(source).resolve())
    except OSError:
        return source


def _covers(earlier: Rule, later: Rule) -> bool:
    """True when `earlier` makes `later` redundant: `later` can never change a decision.

    Actions combine strictest-first and a finding is rewritten by the strictest rule covering
    it (the earlier one on a tie), so a later rule that applies to no more traffic, looks for no
    more entities, fires no more often and is no stricter (nor more severe) than an earlier one
    never matters. Only certain cases are reported: unsure comparisons say "not covered".
    """
    if earlier.contract or later.contract or earlier.mode != later.mode:
        return False
    if earlier.entity_min_counts or later.entity_min_counts:
        return False
    return (
        earlier.action >= later.action
        and earlier.severity >= later.severity
        and later.directions <= earlier.directions
        and _narrower(later.methods, earlier.methods)
        and _narrower(later.vendors, earlier.vendors)
        and _patterns_within(later.hosts, earlier.hosts)
        and _patterns_within(later.paths, earlier.paths)
        and later.entities <= earlier.entities
        and earlier.min_score <= later.min_score
        and earlier.min_count <= later.min_count
    )


def _narrower(inner: Collection[str], outer: Collection[str]) -> bool:
    """An empty collection means "any": `inner` is within `outer`."""
    return not outer or (bool(inner) and set(inner) <= set(outer))


def _patterns_within(inner: Collection[str], outer: Collection[str]) -> bool:
    return not outer or (
        bool(inner) and all(any(fnmatch.fnmatchcase(i, o) for o in outer) for i in inner)
    )


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
