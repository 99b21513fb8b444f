"""Test support shared by several test modules: a scripted detector, an in-process pool."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from dlp_proxy.codecs import Segment
from dlp_proxy.detection import Finding
from dlp_proxy.inspection import Decision, Message, inspect
from dlp_proxy.keys import Keyring
from dlp_proxy.policy import Policy

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
        self, segments: Sequence[Segment], entities: frozenset[str], min_score: float
    ) -> list[Finding]:
        """Every match of a requested entity's regex scoring at least `min_score`."""
        self.calls.append((entities, min_score))
        self.seen.extend(s.location for s in segments)
        return [
            Finding(entity, s.location, m.start(), m.end(), score, "Scripted")
            for s in segments
            for entity, (pattern, score) in self.patterns.items()
            if (entity in entities or not self.honour_entities) and score >= min_score
            for m in re.finditer(pattern, s.text)
        ]


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
