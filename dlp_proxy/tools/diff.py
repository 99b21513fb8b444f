"""What changes in effect between two versions of a policy: `dlp-proxy policy diff OLD NEW`.

Compliance staff change a policy and must see, before deploying it, what the change does. A
report has two parts:

    diff_policies(old, new) -> Change...          the structure: settings, vendors, detectors,
                                                  allow entries and rules added, removed or
                                                  changed (compared by id), and rule order
    diff_behaviour(old, new, cases) -> CaseChange...   the policy test cases whose observed
                                                  result (`cases.observe`) differs
    build_report(...) -> DiffReport               both, and which changed rules no case fires

The tests are the measure of effect: `DiffReport.changed` is true only when some case behaves
differently. Structural changes that no case notices leave it false (the text says so, and
names the changed rules that no case fires under either version: those want a test). Both runs
use one keyring, so keyed hashes and deterministic tokens compare equal; randomized tokens
differ on every run and are compared as `<token>`.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import enum
import json
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dlp_proxy.crypto.keys import Keyring
from dlp_proxy.crypto.tokens import TOKEN_PATTERN
from dlp_proxy.detection.detector import Detector
from dlp_proxy.errors import UsageError
from dlp_proxy.policy.located import load_located
from dlp_proxy.policy.model import (
    Action,
    AllowEntry,
    Contract,
    CustomDetector,
    Direction,
    Mode,
    Policy,
    RedactOperator,
    Rule,
    Severity,
    Vendor,
)
from dlp_proxy.tools.cases import (
    Case,
    Observed,
    body_diff,
    discover,
    find_test_files,
    load_test_file,
    observe,
)

__all__ = [
    "CaseChange",
    "Change",
    "ChangeKind",
    "DiffReport",
    "Difference",
    "Section",
    "build_report",
    "cases_for",
    "diff_behaviour",
    "diff_policies",
    "render_json",
    "render_text",
]

RANDOM_TOKEN = "<token>"
ORDER_NOTE = (
    "rule order decides only which of equally strict rules rewrites a finding or is named as "
    "blocked_by, and which rules are warned about as redundant"
)
VENDOR_ORDER_NOTE = "the first vendor whose hosts match a host is that host's vendor"
_DETERMINISTIC_TOKEN = 0x02  # the algorithm byte of an AES-SIV token (dlp_proxy.crypto.tokens)
_TEXT_LIMIT = 60


class Section(enum.StrEnum):
    """The part of a policy a change is in."""

    SETTING = "setting"
    VENDOR = "vendor"
    DETECTOR = "detector"
    ALLOW = "allow"
    RULE = "rule"


class ChangeKind(enum.StrEnum):
    """What happened to an item between the two versions."""

    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"
    REORDERED = "reordered"


@dataclass(frozen=True)
class Difference:
    """One attribute that differs, readable: `action: redact -> block`, `entities: +A -B`.

    `old` and `new` are the whole values as text; for a set that has values on both sides,
    `added` and `removed` say what changed. `diff` is a unified diff (received bodies).
    """

    name: str
    old: str
    new: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    diff: str = ""

    def __str__(self) -> str:
        if self.added or self.removed:
            changes = [f"+{a}" for a in self.added] + [f"-{r}" for r in self.removed]
            return f"{self.name}: {' '.join(changes)}"
        return f"{self.name}: {self.old} -> {self.new}"

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready view."""
        out: dict[str, Any] = {"name": self.name, "old": self.old, "new": self.new}
        if self.added or self.removed:
            out |= {"added": list(self.added), "removed": list(self.removed)}
        if self.diff:
            out["diff"] = self.diff
        out["text"] = str(self)
        return out


@dataclass(frozen=True)
class Change:
    """One structural change: an item added, removed or changed, or the rules reordered.

    `summary` describes an added or removed item; `differences` the attributes of a changed
    one (for a reordering, each moved rule's position).
    """

    section: Section
    id: str
    kind: ChangeKind
    differences: tuple[Difference, ...] = ()
    summary: str = ""
    note: str = ""

    @property
    def title(self) -> str:
        """`rule mask-emails changed`, `setting on_error: block -> allow`, `rules reordered`."""
        if self.kind is ChangeKind.REORDERED:
            return f"{self.section.value}s reordered"
        if self.section is Section.SETTING:
            return f"setting {self.differences[0]}"
        name = "allow entry" if self.section is Section.ALLOW else self.section.value
        title = f"{name} {self.id} {self.kind.value}"
        return f"{title}: {self.summary}" if self.summary else title

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "section": self.section.value,
            "id": self.id,
            "kind": self.kind.value,
            "summary": self.summary,
            "differences": [d.as_json() for d in self.differences],
            "note": self.note,
            "text": self.title,
        }


@dataclass(frozen=True)
class CaseChange:
    """A test case the two policies treat differently, and every way in which they do."""

    case: Case
    old_outcome: str
    new_outcome: str
    differences: tuple[Difference, ...]

    @property
    def outcome_changed(self) -> bool:
        """True when the logged outcome differs (not only rules, counts or the body)."""
        return self.old_outcome != self.new_outcome

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "file": self.case.file,
            "line": self.case.line,
            "name": self.case.name,
            "old_outcome": self.old_outcome,
            "new_outcome": self.new_outcome,
            "differences": [d.as_json() for d in self.differences],
        }


@dataclass(frozen=True)
class DiffReport:
    """The structural and the behavioural difference between two policies.

    `changed` is true when some case behaves differently: the policies differ in effect as far
    as the tests can tell. `untested_rules` are the added, removed or changed rules that no case
    fires under either version.
    """

    old: str
    new: str
    changes: tuple[Change, ...]
    case_changes: tuple[CaseChange, ...]
    case_count: int
    untested_rules: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        """True when the policies differ in effect on at least one test case."""
        return bool(self.case_changes)

    @property
    def outcome_changes(self) -> int:
        """How many cases change outcome (`redacted -> blocked`)."""
        return sum(1 for c in self.case_changes if c.outcome_changed)


# ---------------------------------------------------------------------------------------------
# Structure


def diff_policies(old: Policy, new: Policy) -> tuple[Change, ...]:
    """Every structural change from `old` to `new`.

    Settings first, then vendors, detectors, allow entries and rules compared by id (removed and
    changed in the old order, then added), then the order of rules and of vendors.
    """
    changes = [
        Change(Section.SETTING, d.name, ChangeKind.CHANGED, (d,)) for d in _settings(old, new)
    ]
    changes += _by_id(Section.VENDOR, old.vendors, new.vendors, _vendor_diff, _vendor_summary)
    changes += _by_id(
        Section.DETECTOR, old.detectors, new.detectors, _detector_diff, _detector_summary
    )
    changes += _by_id(Section.ALLOW, old.allow, new.allow, _allow_diff, _allow_summary)
    changes += _by_id(
        Section.RULE,
        old.rules,
        new.rules,
        lambda a, b: _rule_diff(a, b, old.mode, new.mode),
        _rule_summary,
    )
    changes += _reordered(Section.RULE, old.rules, new.rules, ORDER_NOTE)
    changes += _reordered(Section.VENDOR, old.vendors, new.vendors, VENDOR_ORDER_NOTE)
    return tuple(changes)


def _settings(old: Policy, new: Policy) -> list[Difference]:
    pairs = [
        ("name", old.name, new.name),
        ("mode", old.mode.value, new.mode.value),
        ("on_error", old.on_error.value, new.on_error.value),
        ("max_body_bytes", str(old.max_body_bytes), str(new.max_body_bytes)),
        (
            "max_decompression_ratio",
            str(old.max_decompression_ratio),
            str(new.max_decompression_ratio),
        ),
        (
            "unknown_destinations",
            old.unknown_destinations.value,
            new.unknown_destinations.value,
        ),
        ("evidence", old.evidence.value, new.evidence.value),
    ]
    return [Difference(name, a, b) for name, a, b in pairs if a != b]


def _by_id[T: (Vendor, CustomDetector, AllowEntry, Rule)](
    section: Section,
    old: Sequence[T],
    new: Sequence[T],
    differ: Callable[[T, T], list[Difference]],
    summary: Callable[[T], str],
) -> list[Change]:
    before = {item.id: item for item in old}
    after = {item.id: item for item in new}
    out: list[Change] = []
    for item in old:
        if item.id not in after:
            out.append(Change(section, item.id, ChangeKind.REMOVED, summary=summary(item)))
        elif differences := differ(item, after[item.id]):
            out.append(Change(section, item.id, ChangeKind.CHANGED, tuple(differences)))
    out += [
        Change(section, item.id, ChangeKind.ADDED, summary=summary(item))
        for item in new
        if item.id not in before
    ]
    return out


def _reordered[T: (Vendor, Rule)](
    section: Section, old: Sequence[T], new: Sequence[T], note: str
) -> list[Change]:
    """The items kept in both versions whose relative order changed, with their positions."""
    kept = {i.id for i in old} & {i.id for i in new}
    a = [i.id for i in old if i.id in kept]
    b = [i.id for i in new if i.id in kept]
    if a == b:
        return []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    stayed = {a[block.a + k] for block in matcher.get_matching_blocks() for k in range(block.size)}
    position_old = {item.id: n for n, item in enumerate(old, 1)}
    position_new = {item.id: n for n, item in enumerate(new, 1)}
    moved = tuple(
        Difference(rid, f"position {position_old[rid]}", f"position {position_new[rid]}")
        for rid in b
        if rid not in stayed
    )
    return [Change(section, "", ChangeKind.REORDERED, moved, note=note)]


def _vendor_diff(old: Vendor, new: Vendor) -> list[Difference]:
    out = _scalars([("name", old.name, new.name)])
    out += _sets([("hosts", old.hosts, new.hosts)])
    before = {c.id: c for c in old.contracts}
    after = {c.id: c for c in new.contracts}
    if contracts := _set_difference("contracts", before, after, empty="none"):
        out.append(contracts)
    for cid in before.keys() & after.keys():
        out += [
            Difference(f"contracts[{cid}].{d.name}", d.old, d.new, d.added, d.removed)
            for d in _contract_diff(before[cid], after[cid])
        ]
    return out


def _contract_diff(old: Contract, new: Contract) -> list[Difference]:
    out = _sets(
        [
            ("fields", [f.text for f in old.fields], [f.text for f in new.fields]),
            ("entities", old.entities, new.entities),
            ("paths", old.paths, new.paths),
            ("methods", old.methods, new.methods),
        ]
    )
    return out + _scalars([("direction", _direction(old.directions), _direction(new.directions))])


def _detector_diff(old: CustomDetector, new: CustomDetector) -> list[Difference]:
    out = _scalars(
        [
            ("entity", old.entity, new.entity),
            ("validator", old.validator.value, new.validator.value),
            ("deny_list_score", _number(old.deny_list_score), _number(new.deny_list_score)),
        ]
    )
    before = {p.name: p for p in old.patterns}
    after = {p.name: p for p in new.patterns}
    if patterns := _set_difference("patterns", before, after, empty="none"):
        out.append(patterns)
    for name in sorted(before.keys() & after.keys()):
        a, b = before[name], after[name]
        out += _scalars(
            [
                (f"patterns[{name}].regex", repr(a.regex), repr(b.regex)),
                (f"patterns[{name}].score", _number(a.score), _number(b.score)),
            ]
        )
    return out + _sets(
        [("context", old.context, new.context), ("deny_list", old.deny_list, new.deny_list)],
        empty="none",
    )


def _allow_diff(old: AllowEntry, new: AllowEntry) -> list[Difference]:
    out = _scalars([("reason", _quoted(old.reason), _quoted(new.reason))])
    out += _sets(
        [
            ("values", old.values, new.values),
            ("patterns", [p.pattern for p in old.patterns], [p.pattern for p in new.patterns]),
            ("fields", [f.text for f in old.fields], [f.text for f in new.fields]),
        ],
        empty="none",
    )
    return out + _sets(
        [
            ("entities", old.entities, new.entities),
            ("vendors", old.vendors, new.vendors),
            ("hosts", old.hosts, new.hosts),
            ("paths", old.paths, new.paths),
        ]
    )


def _rule_diff(old: Rule, new: Rule, old_mode: Mode, new_mode: Mode) -> list[Difference]:
    out = []
    if old.action is not new.action:  # with its options; same action: redact.* / encrypt.*
        out.append(Difference("action", _action(old), _action(new)))
    if old.mode != new.mode:  # None follows the policy: a policy's mode change is listed once
        out.append(Difference("mode", _rule_mode(old, old_mode), _rule_mode(new, new_mode)))
    out += _scalars(
        [
            ("severity", old.severity.label, new.severity.label),
            ("min_score", _number(old.min_score), _number(new.min_score)),
            ("min_count", _min_count(old), _min_count(new)),
            ("direction", _direction(old.directions), _direction(new.directions)),
            ("contract", _contract_flag(old), _contract_flag(new)),
        ]
    )
    out += _sets(
        [
            ("entities", old.entities, new.entities),
            ("vendors", old.vendors, new.vendors),
            ("hosts", old.hosts, new.hosts),
            ("paths", old.paths, new.paths),
            ("methods", old.methods, new.methods),
        ]
    )
    if old.action is new.action is Action.REDACT:
        a, b = old.redact, new.redact
        out += _scalars(
            [
                ("redact.operator", a.operator.value, b.operator.value),
                ("redact.with", repr(a.replacement), repr(b.replacement)),
                ("redact.keep", str(a.keep), str(b.keep)),
                ("redact.char", repr(a.char), repr(b.char)),
            ]
        )
    if old.action is new.action is Action.ENCRYPT:
        out += _scalars(
            [
                ("encrypt.mode", old.encrypt.mode.value, new.encrypt.mode.value),
                ("encrypt.key", old.encrypt.key or "active", new.encrypt.key or "active"),
            ]
        )
    return out + _scalars([("description", _quoted(old.description), _quoted(new.description))])


def _scalars(pairs: Iterable[tuple[str, str, str]]) -> list[Difference]:
    return [Difference(name, a, b) for name, a, b in pairs if a != b]


def _sets(
    triples: Iterable[tuple[str, Collection[str], Collection[str]]], empty: str = "any"
) -> list[Difference]:
    """Set-valued attributes; an empty one means `empty` ("any" for conditions)."""
    return [d for name, a, b in triples if (d := _set_difference(name, a, b, empty))]


def _set_difference(
    name: str, old: Collection[str], new: Collection[str], empty: str
) -> Difference | None:
    a, b = set(old), set(new)
    if a == b:
        return None
    old_text, new_text = ", ".join(sorted(a)) or empty, ", ".join(sorted(b)) or empty
    if not a or not b:  # "any -> /v2/*" reads better than "+/v2/*"
        return Difference(name, old_text, new_text)
    return Difference(name, old_text, new_text, tuple(sorted(b - a)), tuple(sorted(a - b)))


def _action(rule: Rule) -> str:
    """`block`, `redact (mask, keep 4)`, `encrypt (deterministic)`: the action and its options."""
    if rule.action is Action.REDACT:
        options = rule.redact
        if options.operator is RedactOperator.MASK:
            char = "" if options.char == "*" else f" with {options.char!r}"
            return f"redact (mask{char}, keep {options.keep})"
        if options.operator is RedactOperator.REPLACE:
            return f"redact (replace with {options.replacement!r})"
        return "redact (keyed hash)"
    if rule.action is Action.ENCRYPT:
        key = f", key {rule.encrypt.key}" if rule.encrypt.key else ""
        return f"encrypt ({rule.encrypt.mode.value}{key})"
    return rule.action.label


def _rule_summary(rule: Rule) -> str:
    where = [f"{name} {', '.join(sorted(v))}" for name, v in _conditions(rule) if v]
    entities = ", ".join(sorted(rule.entities))
    text = f"{_action(rule)} {entities}"
    if rule.directions != {Direction.REQUEST}:
        text += f" ({_direction(rule.directions)})"
    if where:
        text += f" for {'; '.join(where)}"
    if rule.mode is Mode.MONITOR:
        text += ", in monitor mode"
    return text


def _conditions(rule: Rule) -> list[tuple[str, Collection[str]]]:
    return [
        ("vendors", rule.vendors),
        ("hosts", rule.hosts),
        ("paths", rule.paths),
        ("methods", rule.methods),
    ]


def _vendor_summary(vendor: Vendor) -> str:
    contracts = f", contracts {', '.join(c.id for c in vendor.contracts)}"
    return f"hosts {', '.join(vendor.hosts)}" + (contracts if vendor.contracts else "")


def _detector_summary(detector: CustomDetector) -> str:
    return f"finds {detector.entity}"


def _allow_summary(entry: AllowEntry) -> str:
    return _quoted(entry.reason)


def _rule_mode(rule: Rule, policy_mode: Mode) -> str:
    return rule.mode.value if rule.mode else f"{policy_mode.value} (the policy's)"


def _min_count(rule: Rule) -> str:
    if rule.entity_min_counts:
        return ", ".join(f"{entity} {count}" for entity, count in rule.entity_min_counts)
    return str(rule.min_count)


def _direction(directions: Collection[Direction]) -> str:
    return "both" if len(directions) > 1 else next(iter(directions)).value


def _contract_flag(rule: Rule) -> str:
    return "strict" if rule.contract else "none"


def _number(value: float) -> str:
    return f"{value:g}"


def _quoted(text: str) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= _TEXT_LIMIT else text[: _TEXT_LIMIT - 3] + "...")


# ---------------------------------------------------------------------------------------------
# Behaviour


def cases_for(
    old_path: str | Path, new_path: str | Path, search: Sequence[str | Path] = ()
) -> list[Case]:
    """The cases to compare two policies on, deduplicated by (file, name).

    Test files are those `find_test_files` finds for either policy (beside it or in its
    `tests/`, and in the directories of `search`), and the files `search` names. OLD is often a
    copy in a temporary directory, so the files naming NEW are run against both; when no test
    file names either policy, the files in the `search` directories naming a policy with the
    same file name as either one are used. Raises `CaseError` for a test file that does not
    load, `UsageError` for a search path that does not exist.
    """
    for given in search:
        if not Path(given).exists():
            raise UsageError(f"{given}: no such file or directory; give test files or directories")
    directories = [Path(p) for p in search if Path(p).is_dir()]
    files = [Path(p) for p in search if Path(p).is_file()]
    named: list[Path] = []
    for policy in (new_path, old_path):
        named += find_test_files(policy)
        if directories:
            named += find_test_files(policy, directories)
    if not named and directories:
        names = {Path(old_path).name, Path(new_path).name}
        named = _named_like(directories, names)
    out: dict[tuple[str, str], Case] = {}
    for path in _unique([*named, *files]):
        for case in load_test_file(path).cases:
            out.setdefault((str(Path(case.file).resolve()), case.name), case)
    return list(out.values())


def _named_like(directories: Sequence[Path], names: Collection[str]) -> list[Path]:
    """Test files under `directories` whose `policy` has one of these file names."""
    found: list[Path] = []
    for candidate in discover(directories)[0]:
        try:
            data = load_located(candidate.read_text("utf-8")).data
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue  # load_test_file reports it if it is run; here it names nothing
        named = data.get("policy") if isinstance(data, dict) else None
        if isinstance(named, str) and Path(named).name in names:
            found.append(candidate)
    return found


def _unique(paths: Iterable[Path]) -> list[Path]:
    seen: dict[Path, Path] = {}
    for path in paths:
        seen.setdefault(path.resolve(), path)
    return list(seen.values())


# What a run of one case gave: its observation, or the exception it raised.
_Run = Observed | str


def diff_behaviour(
    old: Policy, new: Policy, cases: Iterable[Case], *, detector: Detector, keyring: Keyring
) -> tuple[CaseChange, ...]:
    """Every case whose observed result under `new` differs from that under `old`."""
    return _changes(_observe_both(old, new, cases, detector, keyring))


def build_report(
    old: Policy, new: Policy, cases: Iterable[Case], *, detector: Detector, keyring: Keyring
) -> DiffReport:
    """The structural and behavioural diff, and which changed rules no case fires."""
    runs = _observe_both(old, new, cases, detector, keyring)
    changes = diff_policies(old, new)
    fired = {
        rule
        for _, a, b in runs
        for run in (a, b)
        if not isinstance(run, str)
        for rule in (*run.rules, *run.shadow_rules)
    }
    rule_changes = (c.id for c in changes if c.section is Section.RULE and c.id)
    return DiffReport(
        old=old.source,
        new=new.source,
        changes=changes,
        case_changes=_changes(runs),
        case_count=len(runs),
        untested_rules=tuple(dict.fromkeys(r for r in rule_changes if r not in fired)),
    )


def _observe_both(
    old: Policy, new: Policy, cases: Iterable[Case], detector: Detector, keyring: Keyring
) -> list[tuple[Case, _Run, _Run]]:
    return [
        (case, _run(case, old, detector, keyring), _run(case, new, detector, keyring))
        for case in cases
    ]


def _run(case: Case, policy: Policy, detector: Detector, keyring: Keyring) -> _Run:
    try:
        return observe(case, policy, detector=detector, keyring=keyring)
    except Exception as e:  # noqa: BLE001 - a case that crashes under one policy is a difference
        return f"{type(e).__name__}: {e}"


def _changes(runs: Iterable[tuple[Case, _Run, _Run]]) -> tuple[CaseChange, ...]:
    out = []
    for case, a, b in runs:
        if differences := _compare(a, b):
            out.append(CaseChange(case, _outcome(a), _outcome(b), tuple(differences)))
    return tuple(out)


def _outcome(run: _Run) -> str:
    return "error" if isinstance(run, str) else run.outcome


def _compare(old: _Run, new: _Run) -> list[Difference]:
    if isinstance(old, str) or isinstance(new, str):
        a = old if isinstance(old, str) else "none"
        b = new if isinstance(new, str) else "none"
        return [Difference("exception", a, b)] if a != b else []
    entities = _entities(dict(old.entities), dict(new.entities))
    out = _scalars(
        [
            ("action", old.action.label, new.action.label),
            ("outcome", old.outcome, new.outcome),
            ("rules", _ids(old.rules), _ids(new.rules)),
            ("blocked_by", old.blocked_by or "none", new.blocked_by or "none"),
            *([("entities", *entities)] if entities else []),
            ("severity", _label(old.severity), _label(new.severity)),
            ("shadow.action", old.shadow_action.label, new.shadow_action.label),
            ("shadow.outcome", old.shadow_outcome or "none", new.shadow_outcome or "none"),
            ("shadow.rules", _ids(old.shadow_rules), _ids(new.shadow_rules)),
            ("shadow.severity", _label(old.shadow_severity), _label(new.shadow_severity)),
            ("allowed_by", _ids(old.allowed_by), _ids(new.allowed_by)),
            ("error", old.error or "none", new.error or "none"),
        ]
    )
    if (old.body is None) != (new.body is None):
        return out  # blocked on one side only: the outcome says it; nothing else was received
    out += _scalars(
        [
            ("url", _normalised(old.url), _normalised(new.url)),
            ("headers", _headers(old.headers), _headers(new.headers)),
        ]
    )
    if body := _body(old.body, new.body):
        out.append(body)
    return out


def _ids(ids: Iterable[str]) -> str:
    return "[" + ", ".join(sorted(ids)) + "]"


def _label(severity: Severity | None) -> str:
    return severity.label if severity is not None else "none"


def _entities(old: dict[str, int], new: dict[str, int]) -> tuple[str, str] | None:
    """Only the entity types whose count changed: `entities: PERSON 1 -> 0`."""
    changed = sorted(e for e in old.keys() | new.keys() if old.get(e, 0) != new.get(e, 0))
    if not changed:
        return None
    return (
        ", ".join(f"{e} {old.get(e, 0)}" for e in changed),
        ", ".join(f"{e} {new.get(e, 0)}" for e in changed),
    )


def _headers(headers: tuple[tuple[str, str], ...] | None) -> str:
    return _normalised(", ".join(f"{k}: {v}" for k, v in headers or ())) or "none"


def _body(old: bytes | None, new: bytes | None) -> Difference | None:
    """The bodies both versions let through, tokens normalised, as a unified diff."""
    if old is None or new is None:
        return None
    a = _normalised(old.decode("utf-8", "surrogateescape"))
    b = _normalised(new.decode("utf-8", "surrogateescape"))
    if a == b:
        return None
    return Difference(
        "body", f"{len(old)} bytes", f"{len(new)} bytes", diff=body_diff(a, b, ("old", "new"))
    )


def _normalised(text: str | None) -> str:
    """`text` with each randomized token replaced by `<token>` (they differ on every run).

    Deterministic tokens are kept: under one keyring they are the same in both runs unless
    what the vendor receives really changed (another key, another value, now randomized).
    """
    return TOKEN_PATTERN.sub(_token_placeholder, text) if text is not None else "none"


def _token_placeholder(match: re.Match[str]) -> str:
    token = match.group()
    encoded = token.rsplit(":", 1)[1]
    try:
        payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (ValueError, binascii.Error):
        return RANDOM_TOKEN
    return token if payload[:1] == bytes([_DETERMINISTIC_TOKEN]) else RANDOM_TOKEN


# ---------------------------------------------------------------------------------------------
# Output


def render_text(report: DiffReport) -> str:
    """The report for people: a summary line, the policy changes, the cases, the hints."""
    lines = [f"policy diff: {report.old} -> {report.new}", _summary(report)]
    if report.changes:
        lines += ["", "Policy changes:"]
        for change in report.changes:
            lines.append(f"  {change.title}")
            shown = () if change.section is Section.SETTING else change.differences
            lines += [f"      {d}" for d in shown]
            if change.note:
                lines.append(f"      ({change.note})")
    groups = [
        ("Test cases that change outcome:", [c for c in report.case_changes if c.outcome_changed]),
        (
            "Test cases whose result changes:",
            [c for c in report.case_changes if not c.outcome_changed],
        ),
    ]
    for heading, group in groups:
        if group:
            lines += ["", heading]
            for cc in group:
                lines += _case_lines(cc)
    notes = _notes(report)
    if notes:
        lines.append("")
        lines += notes
    return "\n".join(lines) + "\n"


def _case_lines(change: CaseChange) -> list[str]:
    if change.outcome_changed:
        head = f"{change.old_outcome} -> {change.new_outcome}"
    else:
        head = f"still {change.new_outcome}"
    lines = [f"  {change.case.name}: {head}", f"      at {change.case.place}"]
    for d in change.differences:
        lines.append(f"      {d}")
        lines += [f"        {line}" for line in d.diff.splitlines()]
    return lines


def _summary(report: DiffReport) -> str:
    n = len(report.changes)
    head = f"{n} policy change{'' if n == 1 else 's'}; "
    if not report.case_count:
        return head + "no test cases ran"
    tail = f"{len(report.case_changes)} of {report.case_count} test cases behave differently"
    if report.case_changes:
        tail += f" ({report.outcome_changes} change outcome)"
    return head + tail


def _notes(report: DiffReport) -> list[str]:
    notes = []
    if not report.case_count:
        notes.append(
            "No test case ran, so the effect of the changes is unknown: no test file names "
            "either policy; give test files or directories (--tests)."
        )
    elif report.changes and not report.case_changes:
        notes.append(
            "No test case behaves differently: the policies differ in structure but, as far "
            "as the tests can tell, not in effect."
        )
    notes += [
        f"No test case exercises rule {rule}: no case fires it under either version; "
        "add one to see what its change does."
        for rule in report.untested_rules
    ]
    return notes


def render_json(report: DiffReport) -> str:
    """The report for tools: summary, structural changes, case changes, untested rules."""
    data = {
        "old": report.old,
        "new": report.new,
        "changed": report.changed,
        "summary": {
            "policy_changes": len(report.changes),
            "cases": report.case_count,
            "cases_changed": len(report.case_changes),
            "outcomes_changed": report.outcome_changes,
        },
        "changes": [c.as_json() for c in report.changes],
        "case_changes": [c.as_json() for c in report.case_changes],
        "untested_rules": list(report.untested_rules),
        "notes": _notes(report),
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
