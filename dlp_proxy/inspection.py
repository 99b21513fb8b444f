"""The pure core: `inspect(message, policy) -> Decision`. It knows nothing of mitmproxy.

A message is routed to its vendor and the rules that apply; its body and query are parsed into
segments; the detector finds entities; each rule fires when enough of its entities score high
enough; the strictest fired action wins. Redact and encrypt rewrite only the matched spans.
A message nothing fires on keeps its exact bytes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from dlp_proxy.actions import Change, fingerprint, rewrite
from dlp_proxy.codecs import (
    Document,
    PathDocument,
    Segment,
    parse_body,
    parse_headers,
    parse_path,
    parse_query,
)
from dlp_proxy.compression import decode_body, encode_body
from dlp_proxy.detection import Detector, Finding
from dlp_proxy.errors import AnalyzerFailure, BodyTooLarge, InspectionError, UndecodableBody
from dlp_proxy.keys import Keyring
from dlp_proxy.normalize import Normalized, embedded_encodings, normalize
from dlp_proxy.policy import (
    Action,
    Direction,
    Mode,
    OnError,
    Policy,
    Rule,
    Severity,
    Target,
    UnknownDestinations,
    Vendor,
)

__all__ = [
    "Decision",
    "FindingRecord",
    "Message",
    "decide_by_route",
    "error_decision",
    "inspect",
    "route",
]

ON_ERROR_RULE = "on_error"
UNKNOWN_DESTINATION_RULE = "unknown_destination"


@dataclass(frozen=True)
class Message:
    """One HTTP message as the core sees it: where it goes, and its body as sent on the wire.

    `body` is still compressed per `content_encoding`; the core decodes it within the policy's
    limits and encodes the rewritten body the same way.
    """

    direction: Direction
    method: str
    host: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    content_type: str = ""
    body: bytes = b""
    content_encoding: str = ""
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def target(self) -> Target:
        """What rules are matched against."""
        return Target(self.direction, self.method.upper(), self.host.lower(), self.path)


@dataclass(frozen=True)
class FindingRecord:
    """What the decision log may say about a finding: never the value, only a fingerprint."""

    entity: str
    location: str
    score: float
    recognizer: str
    fingerprint: str
    action: str


@dataclass(frozen=True)
class Decision:
    """What to do with a message, and why."""

    action: Action
    mode: Mode
    policy_name: str
    policy_sha256: str
    vendor: str | None = None
    rule_ids: tuple[str, ...] = ()
    blocking_rule: str | None = None
    entity_counts: Mapping[str, int] = field(default_factory=dict)
    findings: tuple[FindingRecord, ...] = ()
    body: bytes | None = None
    query: tuple[tuple[str, str], ...] | None = None
    path: str | None = None
    headers: tuple[tuple[str, str], ...] | None = None
    logged_path: str | None = None
    error: str | None = None
    inspected: bool = True
    severity: Severity | None = None
    shadow_action: Action = Action.ALLOW
    shadow_rule_ids: tuple[str, ...] = ()
    shadow_severity: Severity | None = None
    allowed_by: tuple[str, ...] = ()

    @property
    def outcome(self) -> str:
        """`blocked`, `encrypted`, `redacted`, `allowed`; `would_...` in monitor mode."""
        past = {
            Action.ALLOW: "allowed",
            Action.REDACT: "redacted",
            Action.ENCRYPT: "encrypted",
            Action.BLOCK: "blocked",
        }[self.action]
        if self.mode is Mode.MONITOR and self.action is not Action.ALLOW:
            return f"would_{self.action.label}"
        return past

    @property
    def shadow_outcome(self) -> str | None:
        """`would_block` etc. for what rules in monitor mode would have done; `None` if nothing."""
        if self.shadow_action is Action.ALLOW:
            return None
        return f"would_{self.shadow_action.label}"

    @property
    def enforced(self) -> bool:
        """True when the proxy must act on this decision (not monitor mode)."""
        return self.mode is Mode.ENFORCE


@dataclass(frozen=True)
class Route:
    """The vendor a message goes to and the rules that apply to it."""

    vendor: Vendor | None
    rules: tuple[Rule, ...]
    verdict: UnknownDestinations


def route(message: Message, policy: Policy) -> Route:
    """Find the vendor and the applicable rules; cheap, needs no body."""
    target = message.target
    vendor = policy.vendor_for(target.host)
    verdict = UnknownDestinations.INSPECT if vendor else policy.unknown_destinations
    rules = policy.rules_for(target, vendor) if verdict is UnknownDestinations.INSPECT else ()
    return Route(vendor=vendor, rules=rules, verdict=verdict)


def error_decision(policy: Policy, reason: str, vendor: str | None = None) -> Decision:
    """The decision for a message that could not be inspected, as `on_error` says."""
    blocked = policy.on_error is OnError.BLOCK
    return Decision(
        action=Action.BLOCK if blocked else Action.ALLOW,
        mode=policy.mode,
        policy_name=policy.name,
        policy_sha256=policy.sha256,
        vendor=vendor,
        blocking_rule=ON_ERROR_RULE if blocked else None,
        error=reason,
        inspected=False,
    )


def decide_by_route(message: Message, policy: Policy) -> Decision | None:
    """The decision when the body need not be read; `None` when it must be inspected.

    The body is not read when no rule applies, or when the destination is allowed or blocked
    outright by `unknown_destinations`.
    """
    where = route(message, policy)
    return _decision_by_route(where, _base_decision(where, policy))


def inspect(message: Message, policy: Policy, *, detector: Detector, keyring: Keyring) -> Decision:
    """Decide what happens to `message` under `policy`. Never raises for a bad message."""
    where = route(message, policy)
    base = _base_decision(where, policy)
    early = _decision_by_route(where, base)
    if early is not None:
        return early
    try:
        return _inspect_content(message, where.rules, base, detector, keyring, policy)
    except InspectionError as e:
        return error_decision(policy, f"{e.reason}: {e}", base.vendor)


def _base_decision(where: Route, policy: Policy) -> Decision:
    return Decision(
        action=Action.ALLOW,
        mode=policy.mode,
        policy_name=policy.name,
        policy_sha256=policy.sha256,
        vendor=where.vendor.id if where.vendor else None,
        inspected=False,
    )


def _decision_by_route(where: Route, base: Decision) -> Decision | None:
    if where.verdict is UnknownDestinations.BLOCK:
        return replace(base, action=Action.BLOCK, blocking_rule=UNKNOWN_DESTINATION_RULE)
    return None if where.rules else base


def _inspect_content(
    message: Message,
    rules: tuple[Rule, ...],
    base: Decision,
    detector: Detector,
    keyring: Keyring,
    policy: Policy,
) -> Decision:
    body_doc, body_error = _read_body(message, policy)
    # The request line is the request's own; a response is inspected for its body and headers.
    is_request = message.direction is Direction.REQUEST
    query_doc = parse_query(message.query if is_request else ())
    path_doc = parse_path(message.path if is_request else "")
    header_doc = parse_headers(message.headers)
    segments = (
        *body_doc.segments,
        *query_doc.segments,
        *path_doc.segments,
        *header_doc.segments,
    )
    findings = _detect(detector, segments, rules)
    if body_error is not None:
        # The body cannot be inspected; the rest was, so the log can name the path safely.
        error = error_decision(policy, f"{body_error.reason}: {body_error}", base.vendor)
        return replace(error, logged_path=_path_for_logs(path_doc, findings))
    fired = _fired_rules(rules, findings)
    counted = _counted(findings, rules)
    texts = {s.location: s.text for s in segments}
    action = max((r.action for r in fired), default=Action.ALLOW)
    changes = _changes(counted, fired)
    records = tuple(
        FindingRecord(
            entity=f.entity,
            location=f.location,
            score=round(f.score, 3),
            recognizer=f.recognizer,
            fingerprint=fingerprint(texts[f.location][f.start : f.end], keyring),
            action=_action_for(f, fired).label,
        )
        for f in counted
    )
    decision = replace(
        base,
        action=action,
        rule_ids=tuple(r.id for r in fired),
        entity_counts=dict(Counter(f.entity for f in counted)),
        findings=records,
        inspected=True,
        logged_path=_path_for_logs(path_doc, counted),
    )
    if action is Action.BLOCK:
        blocking = next(r.id for r in fired if r.action is Action.BLOCK)
        return replace(decision, blocking_rule=blocking)
    if not changes:
        return decision
    body_replacements = _replacements(body_doc, texts, changes, keyring)
    query_replacements = _replacements(query_doc, texts, changes, keyring)
    path_replacements = _replacements(path_doc, texts, changes, keyring)
    header_replacements = _replacements(header_doc, texts, changes, keyring)
    return replace(
        decision,
        body=encode_body(body_doc.rebuild(body_replacements), message.content_encoding)
        if body_replacements
        else None,
        query=query_doc.replaced_pairs(query_replacements) if query_replacements else None,
        path=path_doc.replaced_path(path_replacements) if path_replacements else None,
        headers=header_doc.replaced_pairs(header_replacements) if header_replacements else None,
    )


def _read_body(message: Message, policy: Policy) -> tuple[Document, InspectionError | None]:
    """The parsed body, or an empty document and the reason it cannot be inspected."""
    try:
        if len(message.body) > policy.max_body_bytes:
            raise BodyTooLarge(
                f"body of {len(message.body)} bytes is over max_body_bytes "
                f"({policy.max_body_bytes})"
            )
        body = decode_body(
            message.body,
            message.content_encoding,
            policy.max_body_bytes,
            policy.max_decompression_ratio,
        )
        document = parse_body(message.content_type, body)
        if document.uninspectable:
            raise UndecodableBody(
                f"parts that cannot be inspected: {', '.join(document.uninspectable)}"
            )
    except InspectionError as e:
        return parse_body("", b""), e
    return document, None


def _path_for_logs(path_doc: PathDocument, findings: list[Finding]) -> str | None:
    """The path with each segment that holds PII replaced by `<ENTITY>`; `None` if it has none.

    Logs must never hold a raw value, whatever the action (a blocked or monitored request keeps
    its original path).
    """
    locations = {s.location for s in path_doc.segments}
    marked = {f.location: f"<{f.entity}>" for f in findings if f.location in locations}
    return path_doc.replaced_path(marked) if marked else None


def _detect(
    detector: Detector, segments: Sequence[Segment], rules: tuple[Rule, ...]
) -> list[Finding]:
    entities = frozenset().union(*(r.entities for r in rules))
    min_score = min(r.min_score for r in rules)
    folded = {s.location: normalize(s.text) for s in segments}
    views = [
        replace(s, text=folded[s.location].text) if folded[s.location].changed else s
        for s in segments
    ]
    hidden = _encoded_words(views)
    try:
        found = detector.detect([*views, *hidden], entities, min_score)
    except InspectionError:
        raise
    except Exception as e:  # the analyzer is third-party code: any failure must fail closed
        # Only the type: an exception message from the analyzer may quote the text it read.
        raise AnalyzerFailure(f"the analyzer raised {type(e).__name__}") from e
    found = [_unhidden(f) for f in found]
    return _merge_overlaps([_to_original(f, folded[f.location]) for f in found])


_HIDDEN = "#encoded@"


def _encoded_words(segments: Sequence[Segment]) -> list[Segment]:
    """Extra segments for encoded words inside values, decoded, with the words before as context.

    A finding in one covers the whole encoded word (`_unhidden`).
    """
    extra = []
    for segment in segments:
        for start, end, decoded in embedded_encodings(segment.text):
            before = segment.text[max(start - 40, 0) : start].lower().split()[-4:]
            extra.append(
                Segment(
                    f"{segment.location}{_HIDDEN}{start}:{end}",
                    normalize(decoded).text,
                    (*segment.context, *before),
                )
            )
    return extra


def _unhidden(finding: Finding) -> Finding:
    location, marker, span = finding.location.partition(_HIDDEN)
    if not marker:
        return finding
    start, end = (int(n) for n in span.split(":"))
    return replace(
        finding,
        location=location,
        start=start,
        end=end,
        recognizer=f"{finding.recognizer}+decoded",
    )


def _to_original(finding: Finding, folded: Normalized) -> Finding:
    """Map a finding on normalised text back to the characters it came from."""
    if not folded.changed:
        return finding
    start, end = folded.span(finding.start, finding.end)
    return replace(finding, start=start, end=end)


def _merge_overlaps(findings: list[Finding]) -> list[Finding]:
    """One finding per overlapping run of the same entity in one place.

    Several recognizers often report the same value: keep the union of the spans and the
    best score, so a value is counted and rewritten once.
    """
    merged: list[Finding] = []
    ordered = sorted(set(findings), key=lambda f: (f.location, f.entity, f.start, -f.end))
    for finding in ordered:
        last = merged[-1] if merged else None
        if (
            last is not None
            and (last.location, last.entity) == (finding.location, finding.entity)
            and finding.start < last.end
        ):
            best = last if last.score >= finding.score else finding
            merged[-1] = replace(best, start=last.start, end=max(last.end, finding.end))
        else:
            merged.append(finding)
    return sorted(merged, key=lambda f: (f.location, f.start, f.end, f.entity))


def _counted(findings: list[Finding], rules: tuple[Rule, ...]) -> list[Finding]:
    """Findings that at least one rule looking for their entity accepts."""
    return [
        f for f in findings if any(f.entity in r.entities and f.score >= r.min_score for r in rules)
    ]


def _fired_rules(rules: tuple[Rule, ...], findings: list[Finding]) -> tuple[Rule, ...]:
    return tuple(
        r
        for r in rules
        if sum(1 for f in findings if f.entity in r.entities and f.score >= r.min_score)
        >= r.min_count
    )


def _covering(finding: Finding, fired: tuple[Rule, ...]) -> list[Rule]:
    return [r for r in fired if finding.entity in r.entities and finding.score >= r.min_score]


def _action_for(finding: Finding, fired: tuple[Rule, ...]) -> Action:
    return max((r.action for r in _covering(finding, fired)), default=Action.ALLOW)


def _changes(findings: list[Finding], fired: tuple[Rule, ...]) -> dict[str, list[Change]]:
    """Per location, the rewrites to make: each finding under its strictest covering rule."""
    changes: dict[str, list[Change]] = {}
    for finding in findings:
        covering = _covering(finding, fired)
        if not covering:
            continue
        rule = max(covering, key=lambda r: r.action)
        if rule.action in (Action.REDACT, Action.ENCRYPT):
            changes.setdefault(finding.location, []).append(Change(finding, rule))
    return changes


def _replacements(
    doc: Document, texts: Mapping[str, str], changes: Mapping[str, list[Change]], keyring: Keyring
) -> dict[str, str]:
    return {
        s.location: rewrite(texts[s.location], changes[s.location], keyring)
        for s in doc.segments
        if s.location in changes
    }
