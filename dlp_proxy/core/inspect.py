"""The pure core: `inspect(message, policy) -> Decision`. It knows nothing of mitmproxy.

A message is routed to its vendor and the rules that apply; its body and query are parsed into
segments; the detector finds entities; each rule fires when enough of its entities score high
enough; the strictest fired action wins. Redact and encrypt rewrite only the matched spans.
A message nothing fires on keeps its exact bytes.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from dlp_proxy.core.actions import Change, fingerprint, rewrite
from dlp_proxy.core.codecs import (
    NAME_MARK,
    SEP,
    WHOLE_PREFIX,
    Document,
    HeadersDocument,
    HostDocument,
    PathDocument,
    QueryDocument,
    Segment,
    coding_header_segments,
    is_other_reading,
    other_readings,
    parse_body,
    parse_headers,
    parse_path,
    parse_query,
    parse_target,
    signature_matches,
    whole_text_segments,
)
from dlp_proxy.core.compression import decode_body, encode_body
from dlp_proxy.core.encodings import DecodeBudget, embedded_encodings
from dlp_proxy.core.normalize import Normalized, normalize
from dlp_proxy.crypto.keys import Keyring
from dlp_proxy.crypto.tokens import TOKEN_PATTERN, restore_tokens
from dlp_proxy.detection.detector import Detector, Finding
from dlp_proxy.detection.prefilter import PROPER_NOUN_ENTITIES
from dlp_proxy.errors import (
    AnalyzerFailure,
    BodyTooLarge,
    InspectionError,
    KeyringError,
    UndecodableBody,
)
from dlp_proxy.policy.model import (
    OUTSIDE_CONTRACT,
    Action,
    AllowEntry,
    BinaryAction,
    BinaryEntry,
    CustomDetector,
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
    "Evaluation",
    "FindingRecord",
    "Message",
    "RuleOutcome",
    "decide_by_route",
    "error_decision",
    "evaluate",
    "inspect",
    "route",
    "segment_texts",
]

ON_ERROR_RULE = "on_error"
# The blocking rule of a body a policy's `binary` entry refuses, and the mark of one it allows.
BINARY_RULE = "binary"
BINARY_ALLOW = "binary"
UNKNOWN_DESTINATION_RULE = "unknown_destination"


@dataclass(frozen=True)
class Message:
    """One HTTP message as the core sees it: where it goes, and its body as sent on the wire.

    `body` is still compressed per `content_encoding`; the core decodes it within the policy's
    limits and encodes the rewritten body the same way.

    `request_target` is the request target as sent (path, `?query`, `#fragment`, every byte);
    when it is set, the path, query and fragment are read from it (`path` and `query` route).
    `authority` is the authority the request itself carries (HTTP/2's `:authority`, an
    absolute-form target's), which the vendor reads whatever `host` the request is sent to.
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
    request_target: str = ""
    authority: str = ""

    @classmethod
    def for_url(
        cls,
        url: str,
        *,
        method: str = "POST",
        direction: Direction = Direction.REQUEST,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> Message:
        """The message for a request to (or a response from) `url`, as the proxy would see it.

        `body` is as on the wire: compressed if the headers say `Content-Encoding`.
        """
        parts = urlsplit(url)
        is_request = direction is Direction.REQUEST

        def header(name: str) -> str:
            return next((v for k, v in headers if k.lower() == name), "")

        return cls(
            direction=direction,
            method=method.upper(),
            host=(parts.hostname or "").lower(),
            path=parts.path or "/",
            query=tuple(parse_qsl(parts.query, keep_blank_values=True)) if is_request else (),
            content_type=header("content-type"),
            body=body,
            content_encoding=header("content-encoding"),
            headers=tuple(headers),
            request_target=urlunsplit(("", "", parts.path or "/", parts.query, parts.fragment)),
        )

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
    why: str = ""
    # Where the value is in its segment's text: positions, never the value (incident snippets).
    start: int = 0
    end: int = 0


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
    allow_reasons: Mapping[str, str] = field(default_factory=dict)
    restored: int = 0
    restore_failures: tuple[str, ...] = ()

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
class RuleOutcome:
    """What one rule made of a message: whether it applied, what it counted, whether it fired."""

    rule: Rule
    applies: bool
    reason: str = ""
    hits: tuple[Finding, ...] = ()
    fired: bool = False
    shadow: bool = False


@dataclass(frozen=True)
class Evaluation:
    """A decision with its working: the segments read, the findings, each rule's outcome."""

    decision: Decision
    segments: tuple[Segment, ...] = ()
    findings: tuple[Finding, ...] = ()
    exempt: tuple[tuple[Finding, str], ...] = ()
    rules: tuple[RuleOutcome, ...] = ()


@dataclass(frozen=True)
class Route:
    """The vendor a message goes to and the rules that apply to it."""

    target: Target
    vendor: Vendor | None
    rules: tuple[Rule, ...]
    verdict: UnknownDestinations
    allow: tuple[AllowEntry, ...] = ()
    restore: tuple[Rule, ...] = ()


def route(message: Message, policy: Policy) -> Route:
    """Find the vendor, the applicable rules and allow entries; cheap, needs no body."""
    target = message.target
    vendor = policy.vendor_for(target.host)
    verdict = UnknownDestinations.INSPECT if vendor else policy.unknown_destinations
    rules = policy.rules_for(target, vendor) if verdict is UnknownDestinations.INSPECT else ()
    allow = tuple(a for a in policy.allow if a.applies_to(target, vendor))
    restore: tuple[Rule, ...] = ()
    if target.direction is Direction.RESPONSE and verdict is UnknownDestinations.INSPECT:
        # A response carries back what the matching request sent: the rules that restore are
        # the request rules for the same vendor, host, path and method.
        sent = replace(target, direction=Direction.REQUEST)
        # A rule on trial (mode: monitor) changes nothing, so it restores nothing either.
        restore = tuple(
            r for r in policy.rules_for(sent, vendor) if r.restore and r.mode is not Mode.MONITOR
        )
    return Route(
        target=target, vendor=vendor, rules=rules, verdict=verdict, allow=allow, restore=restore
    )


def error_decision(
    policy: Policy, reason: str, vendor: str | None = None, rules: tuple[Rule, ...] = ()
) -> Decision:
    """The decision for a message that could not be inspected, as `on_error` says.

    When `rules` (those that apply) are all on trial (`mode: monitor`) in an enforcing policy,
    nothing would have been enforced had the message been read: the error is recorded and the
    message goes on, as a trial rule never changes traffic.
    """
    trial_only = bool(rules) and all(r.mode is Mode.MONITOR for r in rules)
    blocked = policy.on_error is OnError.BLOCK and not (trial_only and policy.mode is Mode.ENFORCE)
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

    The body is not read when no rule applies, when an allow entry exempts the destination,
    or when the destination is allowed or blocked outright by `unknown_destinations`.
    """
    where = route(message, policy)
    return _decision_by_route(where, _base_decision(where, policy))


def inspect(message: Message, policy: Policy, *, detector: Detector, keyring: Keyring) -> Decision:
    """Decide what happens to `message` under `policy`. Never raises for a bad message."""
    return evaluate(message, policy, detector=detector, keyring=keyring).decision


def evaluate(
    message: Message, policy: Policy, *, detector: Detector, keyring: Keyring
) -> Evaluation:
    """`inspect`, with how it came to its decision: every finding and every rule's outcome.

    This is what `dlp-proxy scan` and `explain` show; the proxy only needs the decision.
    """
    where = route(message, policy)
    base = _base_decision(where, policy)
    early = _decision_by_route(where, base)
    if early is not None:
        return Evaluation(early, rules=_outcomes(policy, where, {}, (), ()))
    try:
        return _inspect_content(message, where, base, detector, keyring, policy)
    except InspectionError as e:
        error = error_decision(policy, f"{e.reason}: {e}", base.vendor, _deciding(where))
        return Evaluation(error, rules=_outcomes(policy, where, {}, (), ()))
    except KeyringError as e:
        # A rule names a key this keyring lacks (or no longer has): nothing can be encrypted.
        error = error_decision(policy, f"keyring: {e}", base.vendor, _deciding(where))
        return Evaluation(error, rules=_outcomes(policy, where, {}, (), ()))


def segment_texts(message: Message, policy: Policy) -> dict[str, str]:
    """The text of every segment of `message` by location, as inspection read them.

    For incident evidence: a finding's location and span point into these texts. A body that
    cannot be read gives no segments.
    """
    parts = _MessageParts.read(message, policy)
    return {s.location: s.text for s in parts.segments}


@dataclass(frozen=True)
class _MessageParts:
    """A message parsed: its body (or why it cannot be read), query, path, host and headers.

    `whole` is the second reading of a structured body: all of its text at once, as a reader
    that ignores the format would see it (see `whole_text_segments`); `unread` the decoded
    body when no format could read it (see `_Body`).
    """

    body: Document
    body_error: InspectionError | None
    query: QueryDocument
    path: PathDocument
    headers: HeadersDocument
    host: HostDocument
    whole: tuple[Segment, ...] = ()
    unread: bytes | None = None
    method: tuple[Segment, ...] = ()
    authority: tuple[Segment, ...] = ()

    @classmethod
    def read(cls, message: Message, policy: Policy) -> _MessageParts:
        """Parse each part; the request line is a request's own (a response has none)."""
        body = _read_body(message, policy)
        is_request = message.direction is Direction.REQUEST
        path, query = _request_line(message) if is_request else (parse_path(""), parse_query(()))
        return cls(
            body=body.document,
            body_error=body.error,
            query=query,
            path=path,
            headers=parse_headers(message.headers),
            host=HostDocument(message.host if is_request else ""),
            whole=body.whole,
            unread=body.unread,
            method=_method_segment(message.method) if is_request else (),
            authority=_authority_segments(message.authority) if is_request else (),
        )

    @property
    def structured(self) -> tuple[Segment, ...]:
        """The segments the formats give: body, query, path, headers, host."""
        return (
            *self.body.segments,
            *self.method,
            *self.query.segments,
            *self.path.segments,
            *self.headers.segments,
            *self.host.segments,
            *self.authority,
        )

    @property
    def segments(self) -> tuple[Segment, ...]:
        """Every segment: the structured ones, then the body's second reading."""
        return (*self.structured, *self.whole)


def _deciding(where: Route) -> tuple[Rule, ...]:
    """The rules a message's inspection serves; none when restoring tokens (always enforced)."""
    return () if where.restore else where.rules


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
    exempt = next((a for a in where.allow if a.exempts_destination), None)
    if exempt is not None:
        return replace(base, allowed_by=(exempt.id,), allow_reasons={exempt.id: exempt.reason})
    return None if where.rules or where.restore else base


def _inspect_content(
    message: Message,
    where: Route,
    base: Decision,
    detector: Detector,
    keyring: Keyring,
    policy: Policy,
) -> Evaluation:
    rules = where.rules
    parts = _MessageParts.read(message, policy)
    body_doc, body_error = parts.body, parts.body_error
    query_doc, path_doc, header_doc = parts.query, parts.path, parts.headers
    every = parts.segments
    used: dict[str, str] = {}
    segments = _not_exempt(every, where.allow, used)
    texts = {s.location: s.text for s in every}
    found = _detect(detector, segments, rules, policy.detectors, parts.structured) if rules else []
    binary = _binary_entry(message, parts, where, policy) if body_error is not None else None
    if binary is not None and binary.action is BinaryAction.ALLOW:
        # A format the policy lets through unread: the rest of the message is still judged.
        essence = message.content_type.split(";", 1)[0].strip().lower()
        used[f"{BINARY_ALLOW}:{essence}"] = binary.reason
        body_error = None
    elif binary is not None:
        blocked = replace(
            base,
            action=Action.BLOCK,
            blocking_rule=BINARY_RULE,
            error=f"{body_error}; the policy's binary entry refuses this type",
            logged_path=_path_for_logs(parts, found),
        )
        return Evaluation(
            blocked, tuple(segments), tuple(found), rules=_outcomes(policy, where, {}, (), ())
        )
    if body_error is not None:
        # The body cannot be inspected; the rest was, so the log can name the path safely.
        error = error_decision(
            policy, f"{body_error.reason}: {body_error}", base.vendor, _deciding(where)
        )
        error = replace(error, logged_path=_path_for_logs(parts, found))
        return Evaluation(
            error, tuple(segments), tuple(found), rules=_outcomes(policy, where, {}, (), ())
        )
    fields = {s.location: s.field for s in every}
    exempt: list[tuple[Finding, str]] = []
    findings = _allowed_out(found, texts, fields, where.allow, used, exempt)
    findings = _senders_own(findings, rules, used, exempt)
    inspected = {s.location for s in segments}
    # A contract lists fields by name: the names themselves are no values outside it.
    contract_segments = [
        s
        for s in (*body_doc.segments, *query_doc.segments)
        if s.location in inspected and NAME_MARK not in s.location
    ]
    hits = {r.id: _hits(r, findings, contract_segments, where) for r in rules}
    fired = tuple(r for r in rules if _fires(r, hits[r.id]))
    # Sets for "does this rule count this finding", asked once per finding and rule.
    hit_sets = {rid: frozenset(found) for rid, found in hits.items()}
    acting, shadow = _split_by_mode(fired, policy)
    counted = sorted(
        {f for r in rules for f in hits[r.id]}, key=lambda f: (f.location, f.start, f.end, f.entity)
    )
    fixed = frozenset(s.location for s in every if not s.rewritable)
    stuck = _unchangeable(counted, acting, hit_sets, fixed)
    stuck_shadow = _unchangeable(counted, shadow, hit_sets, fixed)
    action = Action.BLOCK if stuck else max((r.action for r in acting), default=Action.ALLOW)
    hidden = _names_found(counted, texts)
    records = tuple(
        FindingRecord(
            entity=f.entity,
            location=_scrubbed(f.location, hidden),
            score=round(f.score, 3),
            recognizer=f.recognizer,
            fingerprint=fingerprint(texts[f.location][f.start : f.end], keyring),
            action=_strictest(f, acting, hit_sets, fixed).label,
            why=_scrubbed(
                _why(
                    f,
                    f.location in fixed and _strictest(f, acting, hit_sets, fixed) is Action.BLOCK,
                ),
                hidden,
            ),
            start=f.start,
            end=f.end,
        )
        for f in counted
    )
    decision = replace(
        base,
        action=action,
        rule_ids=tuple(r.id for r in acting),
        entity_counts=dict(Counter(f.entity for f in counted)),
        findings=records,
        inspected=True,
        logged_path=_path_for_logs(parts, counted),
        severity=max((r.severity for r in acting), default=None),
        shadow_action=Action.BLOCK
        if stuck_shadow
        else max((r.action for r in shadow), default=Action.ALLOW),
        shadow_rule_ids=tuple(r.id for r in shadow),
        shadow_severity=max((r.severity for r in shadow), default=None),
        allowed_by=tuple(used),
        allow_reasons=used,
    )
    evaluation = Evaluation(
        decision,
        tuple(segments),
        tuple(findings),
        tuple(exempt),
        _outcomes(policy, where, hits, fired, shadow),
    )
    if action is Action.BLOCK:
        blocking = next((r.id for r in acting if r.action is Action.BLOCK), None)
        blocking = blocking or (stuck.id if stuck else None)
        return replace(evaluation, decision=replace(decision, blocking_rule=blocking))
    changes = _changes(counted, acting, hit_sets)
    body_replacements = _replacements(body_doc, texts, changes, keyring)
    if where.restore and policy.mode is Mode.ENFORCE:
        body_replacements, count, failures = _restored(
            body_doc, texts, body_replacements, where, keyring
        )
        decision = replace(decision, restored=count, restore_failures=failures)
        evaluation = replace(evaluation, decision=decision)
    if not changes and not body_replacements:
        return evaluation
    query_replacements = _replacements(query_doc, texts, changes, keyring)
    path_replacements = _replacements(path_doc, texts, changes, keyring)
    header_replacements = _replacements(header_doc, texts, changes, keyring)
    rewritten = replace(
        decision,
        body=encode_body(body_doc.rebuild(body_replacements), message.content_encoding)
        if body_replacements
        else None,
        query=query_doc.replaced_pairs(query_replacements) if query_replacements else None,
        path=path_doc.replaced_path(path_replacements) if path_replacements else None,
        headers=header_doc.replaced_pairs(header_replacements) if header_replacements else None,
    )
    return replace(evaluation, decision=rewritten)


def _restored(
    body_doc: Document,
    texts: Mapping[str, str],
    replacements: dict[str, str],
    where: Route,
    keyring: Keyring,
) -> tuple[dict[str, str], int, tuple[str, ...]]:
    """The body's replacements with this gateway's tokens decrypted; how many; what failed.

    Only tokens of the entity types the restoring rules encrypt are turned back.
    """
    entities = frozenset().union(*(r.entities for r in where.restore))
    out = dict(replacements)
    count = 0
    failures: list[str] = []
    for segment in body_doc.segments:
        # Only tokens the vendor sent: not those a response rule has just made of its values.
        sent = frozenset(TOKEN_PATTERN.findall(texts[segment.location]))
        if not sent:
            continue
        text = out.get(segment.location, texts[segment.location])
        result = restore_tokens(text, keyring, entities, only=sent)
        if result.count:
            out[segment.location] = result.text
        count += result.count
        failures.extend(result.failures)
    return out, count, tuple(failures)


def _outcomes(
    policy: Policy,
    where: Route,
    hits: Mapping[str, list[Finding]],
    fired: tuple[Rule, ...],
    shadow: tuple[Rule, ...],
) -> tuple[RuleOutcome, ...]:
    """Every rule of the policy, with why it did not apply or what it counted."""
    outcomes = []
    for rule in policy.rules:
        reason = (
            rule.mismatch(where.target, where.vendor)
            if where.verdict is UnknownDestinations.INSPECT
            else f"unknown destination: unknown_destinations is {where.verdict.value}"
        )
        outcomes.append(
            RuleOutcome(
                rule=rule,
                applies=reason is None,
                reason=reason or "",
                hits=tuple(hits.get(rule.id, ())),
                fired=rule in fired,
                shadow=rule in shadow,
            )
        )
    return tuple(outcomes)


def _not_exempt(
    segments: Sequence[Segment], allow: tuple[AllowEntry, ...], used: dict[str, str]
) -> list[Segment]:
    """The segments to inspect: all but those in fields an allow entry exempts outright."""
    kept = []
    for segment in segments:
        entry = next(
            (a for a in allow if a.exempts_whole_fields and a.exempts_field(segment.field)), None
        )
        if entry is None:
            kept.append(segment)
        elif segment.text.strip():
            used[entry.id] = entry.reason
    return kept


# Credentials identify whoever sends: an agent's name or address in its own token.
CREDENTIAL_PREFIXES = ("header:authorization>", "header:proxy-authorization>")
SENDER_CREDENTIALS = "sender-credentials"
SENDER_CREDENTIALS_REASON = (
    "in the sender's own credentials, which cannot be changed: names and contact details there "
    "identify whoever sends, identifiers that block or encrypt still do"
)


def _senders_own(
    findings: list[Finding],
    rules: tuple[Rule, ...],
    used: dict[str, str],
    exempt: list[tuple[Finding, str]],
) -> list[Finding]:
    """The findings, less those in credentials that no rule would do more to than redact.

    A token's `name` and `email` claims, a Basic user name, are the agent's own: a credential
    cannot be redacted without breaking it, and blocking it would refuse every request the
    agent sends. What a rule blocks or encrypts (an SSN, a card number) still counts there.
    """
    kept = []
    for finding in findings:
        if finding.location.startswith(CREDENTIAL_PREFIXES):
            strictest = max(
                (
                    r.action
                    for r in rules
                    if finding.entity in r.entities and finding.score >= r.min_score
                ),
                default=Action.ALLOW,
            )
            if strictest is Action.REDACT:
                used[SENDER_CREDENTIALS] = SENDER_CREDENTIALS_REASON
                exempt.append((finding, SENDER_CREDENTIALS))
                continue
        kept.append(finding)
    return kept


def _allowed_out(
    findings: list[Finding],
    texts: Mapping[str, str],
    fields: Mapping[str, str],
    allow: tuple[AllowEntry, ...],
    used: dict[str, str],
    exempt: list[tuple[Finding, str]],
) -> list[Finding]:
    """The findings no allow entry exempts; the entries that did are added to `used`."""
    kept = []
    for finding in findings:
        value = texts[finding.location][finding.start : finding.end]
        entry = next(
            (
                a
                for a in allow
                if a.exempts_finding(finding.entity, value, fields[finding.location])
            ),
            None,
        )
        if entry is None:
            kept.append(finding)
        else:
            used[entry.id] = entry.reason
            exempt.append((finding, entry.id))
    return kept


def _hits(
    rule: Rule, findings: list[Finding], contract_segments: list[Segment], where: Route
) -> list[Finding]:
    """The findings `rule` counts and acts on.

    An ordinary rule counts its entities scoring at least its `min_score`. A contract rule
    counts every non-empty value in a field the vendor's contract does not list (as one
    OUTSIDE_CONTRACT finding over the whole value) and, in the fields it does list, the rule's
    entities the contract does not let through.
    """
    matching = [f for f in findings if f.entity in rule.entities and f.score >= rule.min_score]
    if not rule.contract:
        return matching
    assert where.vendor is not None, "contract rules always name their vendors"
    contract = where.vendor.contract_for(where.target)
    if contract is None:
        outside = [s for s in contract_segments if s.text.strip()]
        why = (
            f"no contract of vendor {where.vendor.id!r} covers "
            f"{where.target.method} {where.target.path} ({where.target.direction.value})"
        )
        return [_outside(s, why) for s in outside]
    outside_fields = {
        s.location: s
        for s in contract_segments
        if s.text.strip() and not contract.allows_field(s.field)
    }
    violations = [
        _outside(s, f"field {s.field} is not in contract {contract.id!r}")
        for s in outside_fields.values()
    ]
    return violations + [
        f
        for f in matching
        if f.location not in outside_fields and f.entity not in contract.entities
    ]


def _outside(segment: Segment, why: str) -> Finding:
    return Finding(
        entity=OUTSIDE_CONTRACT,
        location=segment.location,
        start=0,
        end=len(segment.text),
        score=1.0,
        recognizer="contract",
        why=why,
    )


def _fires(rule: Rule, hits: list[Finding]) -> bool:
    if rule.entity_min_counts:
        counts = Counter(f.entity for f in hits)
        return any(counts[entity] >= n for entity, n in rule.entity_min_counts)
    return len(hits) >= rule.min_count


def _split_by_mode(
    fired: tuple[Rule, ...], policy: Policy
) -> tuple[tuple[Rule, ...], tuple[Rule, ...]]:
    """The fired rules that decide, and those in monitor mode inside an enforcing policy.

    In a monitor policy every rule decides (the decision itself is then a would-be one).
    """
    if policy.mode is Mode.MONITOR:
        return fired, ()
    acting = tuple(r for r in fired if r.mode is not Mode.MONITOR)
    shadow = tuple(r for r in fired if r.mode is Mode.MONITOR)
    return acting, shadow


@dataclass(frozen=True)
class _Body:
    """A body read: its document and second reading, or why it cannot be read.

    `unread` is the decoded body when no format dlp-proxy knows could read it at all (not a
    format with parts it cannot read, such as an image with an archive after its end): only
    such a body may be let through by a policy's `binary` entry.
    """

    document: Document
    error: InspectionError | None = None
    whole: tuple[Segment, ...] = ()
    unread: bytes | None = None


def _read_body(message: Message, policy: Policy) -> _Body:
    """The parsed body and its second reading, or an empty document and why it cannot be read."""
    empty = parse_body("", b"")
    try:
        if len(message.body) > policy.max_body_bytes:
            raise BodyTooLarge(
                f"body of {len(message.body)} bytes is over max_body_bytes "
                f"({policy.max_body_bytes})"
            )
        header_texts: list[str] = []
        body = decode_body(
            message.body,
            message.content_encoding,
            policy.max_body_bytes,
            policy.max_decompression_ratio,
            header_texts,
        )
    except InspectionError as e:
        return _Body(empty, e)
    try:
        document = parse_body(message.content_type, body)
    except UndecodableBody as e:
        return _Body(empty, e, unread=body)
    if document.uninspectable:
        error = UndecodableBody(
            f"parts that cannot be inspected: {', '.join(document.uninspectable)}"
        )
        return _Body(empty, error)
    whole = whole_text_segments(document, body, message.content_type)
    whole += other_readings(document, body, message.content_type)
    return _Body(document, whole=whole + coding_header_segments(header_texts))


def _binary_entry(
    message: Message, parts: _MessageParts, where: Route, policy: Policy
) -> BinaryEntry | None:
    """The policy's `binary` entry for a body no format could read, if one applies.

    An entry lets a body through only when its first bytes are those of the type it claims
    (where dlp-proxy knows that type's signature): an archive labelled `image/tiff` is not a
    TIFF, whatever the entry says.
    """
    if parts.unread is None:
        return None
    entry = policy.binary_for(message.content_type, where.vendor)
    if entry is None or entry.action is BinaryAction.BLOCK:
        return entry
    return entry if signature_matches(message.content_type, parts.unread) is not False else None


METHOD_LOCATION = "method"
AUTHORITY_LOCATION = "authority"


def _authority_segments(authority: str) -> tuple[Segment, ...]:
    """The request's own authority (HTTP/2 `:authority`), label by label: `authority>host:0`.

    It reaches the vendor as the client wrote it, whatever host the request is routed to.
    """
    if not authority:
        return ()
    labels = HostDocument(authority.rsplit(":", 1)[0] if authority.count(":") == 1 else authority)
    return tuple(
        replace(
            s,
            location=f"{AUTHORITY_LOCATION}{SEP}{s.location}",
            field=f"{AUTHORITY_LOCATION}{SEP}{s.field}",
        )
        for s in labels.segments
    )


def _method_segment(method: str) -> tuple[Segment, ...]:
    """The request method as a segment: any token is a method, a custom one may be data.

    It cannot be rewritten: a finding a rule would redact or encrypt there blocks.
    """
    return (Segment(METHOD_LOCATION, method, (), METHOD_LOCATION, rewritable=False),)


def _request_line(message: Message) -> tuple[PathDocument, QueryDocument]:
    """A request's path and query: from the target as sent if there is one (every byte)."""
    if message.request_target:
        return parse_target(message.request_target)
    return parse_path(message.path), parse_query(message.query)


def _path_for_logs(parts: _MessageParts, findings: list[Finding]) -> str | None:
    """The request target as a log may show it; `None` for a response (it has none).

    Logs must never hold a raw value, whatever the action (a blocked or monitored request keeps
    its original path): each path segment, matrix parameter or query name that holds a finding
    is `<ENTITY>`, query and matrix values are left out, bare query pieces are `<v>`, and the
    fragment is never written.
    """
    marks = {f.location: f.entity for f in findings}
    return parts.path.logged_path(marks) + parts.query.logged_query(marks) or None


def _detect(
    detector: Detector,
    segments: Sequence[Segment],
    rules: tuple[Rule, ...],
    detectors: tuple[CustomDetector, ...],
    read: Sequence[Segment],
) -> list[Finding]:
    """Findings in `segments`; the second reading's only where no segment of `read` has them.

    `read` is every structured segment, those an allow entry exempts included: the second
    reading must not find again what the structured reading was told to let through.
    """
    entities = frozenset().union(*(r.entities for r in rules))
    # What must never leave as it is: the second reading looks for these only.
    kept = frozenset().union(*(r.entities for r in rules if r.action in _KEEPS_OUT))
    min_score = min(r.min_score for r in rules)
    wanted = tuple(d for d in detectors if d.entity in entities)
    folded = {s.location: normalize(s.text) for s in segments}
    views = [
        replace(s, text=folded[s.location].text) if folded[s.location].changed else s
        for s in segments
    ]
    structured = [v for v in views if not _is_whole(v.location)]
    whole = [v for v in views if _is_whole(v.location)]
    hidden = _encoded_words(structured)
    found = _analyze(detector, [*structured, *hidden], entities, min_score, wanted)
    found = [_unhidden(f) for f in found]
    if whole:
        texts = {v.location: v.text for v in structured}
        earlier = [texts[f.location][f.start : f.end] for f in found]
        # `read` holds every structured segment the views come from: `_whole_findings`
        # normalises them itself, so the views need not be read a second time.
        found.extend(_whole_findings(detector, whole, read, kept, min_score, wanted, earlier))
    return _merge_overlaps([_to_original(f, folded[f.location]) for f in found])


def _analyze(
    detector: Detector,
    segments: Sequence[Segment],
    entities: frozenset[str],
    min_score: float,
    detectors: tuple[CustomDetector, ...],
) -> list[Finding]:
    """The detector's findings; any failure of the analyzer fails the message closed."""
    try:
        return detector.detect(segments, entities, min_score, detectors)
    except InspectionError:
        raise
    except Exception as e:  # the analyzer is third-party code: any failure must fail closed
        # Only the type: an exception message from the analyzer may quote the text it read.
        raise AnalyzerFailure(f"the analyzer raised {type(e).__name__}") from e


def _whole_findings(
    detector: Detector,
    whole: Sequence[Segment],
    structured: Sequence[Segment],
    entities: frozenset[str],
    min_score: float,
    detectors: tuple[CustomDetector, ...],
    earlier: Sequence[str],
) -> list[Finding]:
    """What the second reading finds that no single structured segment holds.

    `entities` are those of rules that block or encrypt (what must never leave as it is); of
    those only pattern-based types are asked: names, places and dates need NER, which the
    structured reading runs. Contact details and the like are the structured reading's alone:
    looked for in a whole body, their patterns cost most and match across values.

    A finding whose value, letters and digits only, is one the structured reading found
    (`earlier`) or lies within one structured segment's text was that segment's to find (or to
    exempt); what is left lies where the format's reading did not look, or across its values.
    """
    asked = entities - WHOLE_READING_SKIPS
    if not asked:
        return []
    found = _analyze(detector, whole, asked, min_score, detectors)
    if not found:
        return []
    texts = {s.location: s.text for s in whole}
    values = [(f, _letters_and_digits(texts[f.location][f.start : f.end])) for f in found]
    # Most are found again in their own value (the same value in the structured reading's
    # findings): a set answers those; the rest are looked for in the values' text.
    known = {_letters_and_digits(text) for text in earlier}
    left = [(f, v) for f, v in values if v not in known]
    if not left:
        return []
    seen = "\x00".join(_letters_and_digits(normalize(s.text).text) for s in structured)
    # A reading of the body as what it really is (JSON labelled CSV, UTF-8 labelled UTF-16)
    # gives its values the context the declared reading lacked: only what that reading found
    # counts as found already.
    return [f for f, v in left if is_other_reading(f.location) or v not in seen]


_KEEPS_OUT = (Action.BLOCK, Action.ENCRYPT)
# Entity types the second reading does not ask for: NER's, which the structured reading covers.
WHOLE_READING_SKIPS = PROPER_NOUN_ENTITIES | {"DATE_TIME"}


def _letters_and_digits(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum())


def _is_whole(location: str) -> bool:
    return location.startswith(WHOLE_PREFIX)


_HIDDEN = "#encoded@"


def _encoded_words(segments: Sequence[Segment]) -> list[Segment]:
    """Extra segments for encoded words inside values, decoded, with the words before as context.

    A finding in one covers the whole encoded word (`_unhidden`). The message's segments share
    one decoding budget: past it, the message fails closed.
    """
    extra = []
    budget = DecodeBudget()
    for segment in segments:
        for start, end, decoded in embedded_encodings(segment.text, budget):
            before = segment.text[max(start - 40, 0) : start].lower().split()[-4:]
            extra.append(
                replace(
                    segment,
                    location=f"{segment.location}{_HIDDEN}{start}:{end}",
                    text=normalize(decoded).text,
                    context=(*segment.context, *before),
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


def _covering(
    finding: Finding, rules: tuple[Rule, ...], hits: Mapping[str, frozenset[Finding]]
) -> list[Rule]:
    return [r for r in rules if finding in hits[r.id]]


def _strictest(
    finding: Finding,
    rules: tuple[Rule, ...],
    hits: Mapping[str, frozenset[Finding]],
    fixed: frozenset[str] = frozenset(),
) -> Action:
    """The strictest action a covering rule takes; a rewrite where text is `fixed` blocks."""
    action = max((r.action for r in _covering(finding, rules, hits)), default=Action.ALLOW)
    if action in _REWRITES and finding.location in fixed:
        return Action.BLOCK
    return action


_REWRITES = (Action.REDACT, Action.ENCRYPT)
UNCHANGEABLE_WHY = "in text the message cannot carry changed, so the transfer is blocked"


def _unchangeable(
    findings: Sequence[Finding],
    rules: tuple[Rule, ...],
    hits: Mapping[str, frozenset[Finding]],
    fixed: frozenset[str],
) -> Rule | None:
    """The rule that would rewrite a finding in `fixed` text (a name, a second reading), if any.

    Such text cannot be changed and still be what the format allows, so the message is blocked,
    in the name of the rule that asked for the rewrite.
    """
    for finding in findings:
        if finding.location not in fixed:
            continue
        covering = _covering(finding, rules, hits)
        strictest = max(covering, key=lambda r: r.action, default=None)
        if strictest is not None and strictest.action in _REWRITES:
            return strictest
    return None


def _names_found(findings: Sequence[Finding], texts: Mapping[str, str]) -> dict[str, str]:
    """What was found in names (JSON keys, field names, tags), with its entity.

    Locations are made of names: a key that is an SSN is in the location of its own value and
    of everything under it. These are the texts to keep out of logged locations.
    """
    return {
        texts[f.location][f.start : f.end]: f.entity
        for f in findings
        if NAME_MARK in f.location and f.end > f.start
    }


def _scrubbed(text: str, hidden: Mapping[str, str]) -> str:
    """`text` (a location, a why) with every value found in a name written `<ENTITY>`.

    Both the value as it is and as a JSON string writes it (a quoted key in a JSON path).
    """
    for value in sorted(hidden, key=len, reverse=True):
        placeholder = f"<{hidden[value]}>"
        text = text.replace(value, placeholder)
        escaped = json.dumps(value, ensure_ascii=False)[1:-1]
        if escaped != value:
            text = text.replace(escaped, placeholder)
    return text


def _why(finding: Finding, stuck: bool) -> str:
    """The finding's why, and when its rewrite became a block, why that happened."""
    if not stuck:
        return finding.why
    return f"{finding.why}; {UNCHANGEABLE_WHY}" if finding.why else UNCHANGEABLE_WHY


def _changes(
    findings: list[Finding], rules: tuple[Rule, ...], hits: Mapping[str, frozenset[Finding]]
) -> dict[str, list[Change]]:
    """Per location, the rewrites to make: each finding under its strictest covering rule."""
    changes: dict[str, list[Change]] = {}
    for finding in findings:
        covering = _covering(finding, rules, hits)
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
