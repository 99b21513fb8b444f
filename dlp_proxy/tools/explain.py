"""Reports for `dlp-proxy scan` and `dlp-proxy explain`: what the gateway finds in a payload.

A compliance officer hands a payload and a destination; the report lists every finding (entity,
where it is, score, recognizer and why), the allow entries that exempted any, what each rule
made of the message, the decision, and (for `explain`) the body the vendor would receive. No
proxy runs: this is `core.inspect.evaluate` on the command line. Values are shown masked unless
asked for, as a report is easily pasted into a ticket.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tabulate import tabulate

from dlp_proxy.core.actions import mask
from dlp_proxy.core.codecs import Segment
from dlp_proxy.core.compression import decode_body
from dlp_proxy.core.inspect import Evaluation, Message, RuleOutcome
from dlp_proxy.detection.detector import Finding
from dlp_proxy.policy.model import Action, Policy

__all__ = ["Report", "build_report", "render_json", "render_table"]

MAX_BODY_CHARS = 4000


@dataclass(frozen=True)
class FindingRow:
    """One finding as a report shows it."""

    entity: str
    location: str
    position: str
    score: float
    recognizer: str
    why: str
    value: str
    action: str
    exempted_by: str = ""


@dataclass(frozen=True)
class RuleRow:
    """One rule as a report shows it."""

    id: str
    action: str
    mode: str
    severity: str
    applies: bool
    counted: int
    threshold: str
    fired: bool
    note: str


@dataclass(frozen=True)
class Report:
    """Everything `scan` and `explain` print, in a form that renders as a table or as JSON."""

    destination: str
    vendor: str | None
    policy: str
    policy_sha256: str
    findings: tuple[FindingRow, ...]
    rules: tuple[RuleRow, ...]
    outcome: str
    action: str
    rule_ids: tuple[str, ...]
    blocking_rule: str | None
    severity: str | None
    shadow: str | None
    allowed_by: tuple[str, ...]
    error: str | None
    body: str | None


def build_report(
    message: Message, policy: Policy, evaluation: Evaluation, *, show_values: bool = False
) -> Report:
    """Turn an evaluation into a report; values are masked unless `show_values`."""
    decision = evaluation.decision
    texts = {s.location: s.text for s in evaluation.segments}
    first_lines = _first_lines(evaluation.segments)
    actions = _finding_actions(evaluation.rules)
    rows = [
        _finding_row(f, texts, first_lines, show_values, actions.get(f, "none"))
        for f in evaluation.findings
    ]
    rows += [
        _finding_row(f, texts, first_lines, show_values, "allowed", exempted_by=entry)
        for f, entry in evaluation.exempt
    ]
    rows.sort(key=lambda r: (r.location, r.position, r.entity))
    destination = f"{message.method} {message.host}{message.path} ({message.direction.value})"
    return Report(
        destination=destination,
        vendor=decision.vendor,
        policy=policy.name,
        policy_sha256=policy.sha256,
        findings=tuple(rows),
        rules=tuple(_rule_row(o, policy) for o in evaluation.rules),
        outcome=decision.outcome,
        action=decision.action.label,
        rule_ids=decision.rule_ids,
        blocking_rule=decision.blocking_rule,
        severity=decision.severity.label if decision.severity else None,
        shadow=decision.shadow_outcome,
        allowed_by=decision.allowed_by,
        error=decision.error,
        body=_received_body(message, evaluation, policy),
    )


def render_table(report: Report, *, with_rules: bool, with_body: bool) -> str:
    """The report as text tables for a terminal."""
    lines = [
        f"destination  {report.destination}, vendor {report.vendor or '(none)'}",
        f"policy       {report.policy} (sha256 {report.policy_sha256[:12]})",
        "",
    ]
    if report.findings:
        lines.append(
            tabulate(
                [
                    (
                        r.entity,
                        r.location,
                        r.position,
                        f"{r.score:.2f}",
                        r.recognizer,
                        r.value,
                        r.action if not r.exempted_by else f"allowed by {r.exempted_by}",
                        r.why,
                    )
                    for r in report.findings
                ],
                headers=(
                    "entity",
                    "location",
                    "at",
                    "score",
                    "recognizer",
                    "value",
                    "action",
                    "why",
                ),
                tablefmt="simple",
                maxcolwidths=[None, 32, None, None, 24, 24, None, 60],
            )
        )
    else:
        lines.append("no findings")
    if with_rules:
        lines += ["", _rules_table(report.rules)]
    lines += ["", _decision_line(report)]
    if with_body and report.body is not None:
        lines += ["", "the vendor would receive:", report.body]
    return "\n".join(lines)


def render_json(report: Report, *, with_body: bool) -> str:
    """The report as one JSON document."""
    data: dict[str, Any] = {
        "destination": report.destination,
        "vendor": report.vendor,
        "policy": {"name": report.policy, "sha256": report.policy_sha256},
        "findings": [vars(r) for r in report.findings],
        "rules": [vars(r) for r in report.rules],
        "decision": {
            "outcome": report.outcome,
            "action": report.action,
            "rules": list(report.rule_ids),
            "blocking_rule": report.blocking_rule,
            "severity": report.severity,
            "shadow": report.shadow,
            "allowed_by": list(report.allowed_by),
            "error": report.error,
        },
    }
    if with_body:
        data["body"] = report.body
    return json.dumps(data, indent=2, ensure_ascii=False)


def _rules_table(rules: Sequence[RuleRow]) -> str:
    return tabulate(
        [
            (
                r.id,
                r.action,
                r.mode,
                r.severity,
                "yes" if r.applies else "no",
                r.counted if r.applies else "",
                r.threshold,
                ("FIRES" if r.fired else "no") if r.applies else "",
                r.note,
            )
            for r in rules
        ],
        headers=(
            "rule",
            "action",
            "mode",
            "severity",
            "applies",
            "counted",
            "needs",
            "fires",
            "note",
        ),
        tablefmt="simple",
        maxcolwidths=[32, None, None, None, None, None, 24, None, 60],
    )


def _decision_line(report: Report) -> str:
    parts = [f"decision     {report.outcome}"]
    if report.blocking_rule:
        parts.append(f"blocked by {report.blocking_rule}")
    if report.rule_ids:
        parts.append(f"by {', '.join(report.rule_ids)}")
    if report.severity:
        parts.append(f"severity {report.severity}")
    if report.shadow:
        parts.append(f"shadow rules: {report.shadow}")
    if report.allowed_by:
        parts.append(f"allowed by {', '.join(report.allowed_by)}")
    if report.error:
        parts.append(f"error: {report.error}")
    return "; ".join(parts)


def _finding_actions(outcomes: Sequence[RuleOutcome]) -> dict[Finding, str]:
    """For each finding, what happens to it: `redact (rule-id)`, or `would block (rule-id)`.

    Rules that decide outrank rules in monitor mode; among them the strictest action wins.
    """
    best: dict[Finding, tuple[bool, Action, str]] = {}
    for outcome in outcomes:
        if not outcome.fired:
            continue
        action = outcome.rule.action
        label = f"{action.label} ({outcome.rule.id})"
        rank = (not outcome.shadow, action, f"would {label}" if outcome.shadow else label)
        for finding in outcome.hits:
            if finding not in best or rank[:2] > best[finding][:2]:
                best[finding] = rank
    return {f: label for f, (_, _, label) in best.items()}


def _finding_row(
    finding: Finding,
    texts: dict[str, str],
    first_lines: dict[str, int],
    show_values: bool,
    action: str,
    exempted_by: str = "",
) -> FindingRow:
    value = texts.get(finding.location, "")[finding.start : finding.end]
    return FindingRow(
        entity=finding.entity,
        location=finding.location,
        position=_position(finding, texts, first_lines),
        score=round(finding.score, 3),
        recognizer=finding.recognizer,
        why=finding.why,
        value=value if show_values else mask(value, keep=min(4, len(value) // 3)),
        action=action,
        exempted_by=exempted_by,
    )


def _first_lines(segments: Sequence[Segment]) -> dict[str, int]:
    """The line each `text:N` chunk starts on: chunks are consecutive, cut at line ends."""
    first: dict[str, int] = {}
    line = 1
    for segment in segments:
        if segment.location.startswith("text:"):
            first[segment.location] = line
            line += segment.text.count("\n")
    return first


def _position(finding: Finding, texts: dict[str, str], first_lines: dict[str, int]) -> str:
    """`line L col C` in a text body; characters `S-E` within the value otherwise."""
    if finding.location not in first_lines:
        return f"chars {finding.start}-{finding.end}"
    chunk = texts[finding.location]
    line = first_lines[finding.location] + chunk.count("\n", 0, finding.start)
    column = finding.start - (chunk.rfind("\n", 0, finding.start) + 1) + 1
    return f"line {line} col {column}"


def _rule_row(outcome: RuleOutcome, policy: Policy) -> RuleRow:
    rule = outcome.rule
    if rule.entity_min_counts:
        threshold = ", ".join(f"{e} >= {n}" for e, n in rule.entity_min_counts)
    else:
        threshold = f">= {rule.min_count} at score >= {rule.min_score:g}"
    if rule.contract:
        threshold = f"contract: {threshold}"
    note = outcome.reason
    if outcome.applies and outcome.hits and not outcome.fired:
        note = "below its count threshold"
    mode = (rule.mode or policy.mode).value
    return RuleRow(
        id=rule.id,
        action=rule.action.label,
        mode=mode,
        severity=rule.severity.label,
        applies=outcome.applies,
        counted=len(outcome.hits),
        threshold=threshold,
        fired=outcome.fired,
        note=note,
    )


def _received_body(message: Message, evaluation: Evaluation, policy: Policy) -> str | None:
    """The body the vendor (or client) would get, as text; `None` when the message is blocked."""
    decision = evaluation.decision
    if decision.action is Action.BLOCK and decision.enforced:
        return None
    wire = decision.body if decision.body is not None and decision.enforced else message.body
    try:
        body = decode_body(
            wire, message.content_encoding, policy.max_body_bytes, policy.max_decompression_ratio
        )
    except Exception:  # noqa: BLE001 - the report still has the decision; only the preview is lost
        return "(the body cannot be decoded for display)"
    text = body.decode("utf-8", "replace")
    if len(text) > MAX_BODY_CHARS:
        return text[:MAX_BODY_CHARS] + f"\n... ({len(text) - MAX_BODY_CHARS} more characters)"
    return text
