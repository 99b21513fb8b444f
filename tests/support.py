"""Test support shared by several test modules: a scripted detector, an in-process pool,
sample incidents."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dlp_proxy.core.codecs import Segment
from dlp_proxy.core.inspect import Decision, Message, inspect
from dlp_proxy.crypto.keys import Keyring
from dlp_proxy.detection.detector import Finding, custom_recognizer_name
from dlp_proxy.incidents.store import Incident, IncidentFinding
from dlp_proxy.policy.model import CustomDetector, Direction, Policy, Target, Validator

# The checkout, for tests anywhere in the tree.
ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"

CONTEXT_BOOST = 0.35  # what Presidio adds for a context word

DEFAULT_PATTERNS: Mapping[str, tuple[str, float]] = {
    "EMAIL_ADDRESS": (r"[\w.+-]+@[\w-]+\.[\w.]+", 1.0),
    "CREDIT_CARD": (r"\b4111[ -]?1111[ -]?1111[ -]?1111\b", 1.0),
    "US_SSN": (r"\b\d{3}-\d{2}-\d{4}\b", 0.85),
    "PHONE_NUMBER": (r"\+1 \d{3}-\d{3}-\d{4}", 0.75),
    "PERSON": (r"Maria Gonzalez", 0.85),
}


@dataclass
class ScriptedDetector:
    """A `Detector` that finds entities with fixed regexes: fast, predictable, no spaCy.

    It records what it was asked for in `calls`; with `honour_entities` off it reports every
    entity it knows, as a misbehaving analyzer might.
    """

    patterns: Mapping[str, tuple[str, float]] = field(default_factory=lambda: DEFAULT_PATTERNS)
    honour_entities: bool = True
    calls: list[tuple[frozenset[str], float]] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)

    def detect(
        self,
        segments: Sequence[Segment],
        entities: frozenset[str],
        min_score: float,
        detectors: tuple[CustomDetector, ...] = (),
    ) -> list[Finding]:
        """Every match of a requested entity's regex (or custom detector) scoring >= `min_score`."""
        self.calls.append((entities, min_score))
        self.seen.extend(s.location for s in segments)
        segments = [s for s in segments if s.analyzed]  # as every real detector does
        found = [
            Finding(entity, s.location, m.start(), m.end(), score, "Scripted", "scripted pattern")
            for s in segments
            for entity, (pattern, score) in self.patterns.items()
            if (entity in entities or not self.honour_entities) and score >= min_score
            for m in re.finditer(pattern, s.text)
        ]
        for detector in detectors:
            if detector.entity in entities or not self.honour_entities:
                found.extend(
                    f
                    for s in segments
                    for f in _custom_findings(detector, s)
                    if f.score >= min_score
                )
        return found


def _custom_findings(detector: CustomDetector, segment: Segment) -> list[Finding]:
    """A custom detector, simply: each regex ignoring case, its validator, whole-word deny list.

    A context word anywhere in the text or the field name words adds `CONTEXT_BOOST` (at most
    1.0); Presidio looks only at the five words before a match.
    """
    from dlp_proxy.detection.recognizers import VALIDATOR_LABELS, validator_accepts

    lowered = [segment.text.lower(), *(c.lower() for c in segment.context)]
    word = next((w for w in detector.context if any(w in t for t in lowered)), None)

    def finding(start: int, end: int, score: float, why: str) -> Finding:
        if word is not None:
            score = min(score + CONTEXT_BOOST, 1.0)
            why += f"; context word '{word}' nearby"
        name = custom_recognizer_name(detector)
        return Finding(detector.entity, segment.location, start, end, score, name, why)

    found = []
    for pattern in detector.patterns:
        for m in re.finditer(pattern.regex, segment.text, re.IGNORECASE):
            if m.group() and validator_accepts(detector.validator, m.group()):
                why = f"scripted pattern '{pattern.name}'"
                if detector.validator is not Validator.NONE:
                    why += f"; checksum ({VALIDATOR_LABELS[detector.validator]}) passed"
                found.append(finding(m.start(), m.end(), pattern.score, why))
    for value in detector.deny_list:
        for m in re.finditer(rf"(?<!\w){re.escape(value)}(?!\w)", segment.text, re.IGNORECASE):
            found.append(finding(m.start(), m.end(), detector.deny_list_score, "deny list value"))
    return found


@dataclass
class InlinePool:
    """Stands in for `InspectorPool`: runs `inspect` in this process with a scripted detector."""

    detector: ScriptedDetector = field(default_factory=ScriptedDetector)
    fail_with: Exception | None = None

    async def inspect(self, message: Message, policy: Policy, keyring: Keyring) -> Decision:
        """Inspect in-process, or raise `fail_with` to simulate a broken pool."""
        if self.fail_with is not None:
            raise self.fail_with
        return inspect(message, policy, detector=self.detector, keyring=keyring)

    def close(self) -> None:
        """Nothing to stop."""


# --- incidents ----------------------------------------------------------------------------------

SAMPLE_BODY = b'{"ssn": "536-90-4399", "note": "call back"}'


def sample_incident(n: int, **changes: object) -> Incident:
    """Incident `n` of a small store: odd ones to vendor acme (high), even ones to beta (low)."""
    values: dict[str, object] = {
        "id": f"inc-20261129T10000{n}Z-aaaaaaa{n}",
        "time": f"2026-11-29T10:00:0{n}.000Z",
        "outcome": "blocked",
        "client": f"10.0.0.{n}:4000{n}",
        "vendor": "acme" if n % 2 else "beta",
        "host": "api.vendor.example",
        "method": "POST",
        "path": "/tickets",
        "direction": "request",
        "rules": ("block-ssn",),
        "blocking_rule": "block-ssn",
        "severity": "high" if n % 2 else "low",
        "entities": (("US_SSN", 1),),
        "policy": "default",
        "policy_sha256": "cd" * 32,
        "body_bytes": len(SAMPLE_BODY),
        "findings": (IncidentFinding("US_SSN", "$.ssn", 0.85, "UsSsnRecognizer", "fp:ab12"),),
        "evidence_kind": "body",
    }
    values.update(changes)
    return Incident(**values)  # type: ignore[arg-type]


def sample_evidence() -> bytes:
    """The `body` evidence of `SAMPLE_BODY` posted to api.vendor.example/tickets?ref=9."""
    return json.dumps(
        {
            "kind": "body",
            "direction": "request",
            "method": "POST",
            "url": "https://api.vendor.example/tickets?ref=9",
            "headers": [["Content-Type", "application/json"]],
            "content_type": "application/json",
            "content_encoding": "",
            "body_base64": base64.b64encode(SAMPLE_BODY).decode(),
        }
    ).encode()


def target(
    direction: Direction = Direction.REQUEST,
    method: str = "POST",
    host: str = "api.acme-cc.example",
    path: str = "/v2/tickets",
) -> Target:
    """A target with defaults that the policy tests' rules accept unless they say otherwise."""
    return Target(direction, method, host, path)
