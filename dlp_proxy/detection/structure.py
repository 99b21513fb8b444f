"""Identifiers only a message's structure shows: values split across fields, bare path numbers.

A recognizer reads one segment at a time. Two tricks defeat that without any encoding:

- **Split values.** An SSN sent as `ssn_area`/`ssn_group`/`ssn_serial`, a card number as four
  fields of four digits, two halves with a field between them, or one digit per array element,
  adjacent CSV cells, NDJSON lines: no value holds the identifier, and the vendor's code joins
  them again. `split_findings` joins adjacent short runs in document order (the order the
  codecs give segments) and keeps a join only when its parts have a shape people split that
  identifier into *and* the whole passes its check: card network prefix, length and Luhn; SSA
  area, group and serial rules; ABA's weighted checksum; IBAN mod 97. Every field that took
  part is a finding.
- **Bare path identifiers.** `/customers/219099999/tickets`: a path has no field names, so a
  segment that is exactly nine digits passing the SSA rules (or the dashed 3-2-4 form) is
  taken for an SSN (`path_findings`). Nothing a vendor API puts in a path may look like one.

The shapes are deliberately narrow: a date split into year, month and day, a phone number into
3-3-4 or a ZIP+4 never joins, so ordinary records do not turn into findings
(`tests/detection/test_structure.py` holds the near misses).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dlp_proxy.detection.detector import Finding, Segment
from dlp_proxy.detection.recognizers import (
    aba_checksum_ok,
    card_number_ok,
    iban_ok,
    ssn_shape_ok,
)

__all__ = [
    "MAX_GAP",
    "MAX_PARTS",
    "PATH_RECOGNIZER",
    "SPLIT_RECOGNIZER",
    "path_findings",
    "split_findings",
]

SPLIT_RECOGNIZER = "SplitValueRecognizer"
PATH_RECOGNIZER = "PathIdentifierRecognizer"
SCORE = 0.9
# A join is looked for over at most this many parts (one digit per element, a 19-digit card).
MAX_PARTS = 19
# Other segments between two parts that still leave them adjacent ("two fields apart").
MAX_GAP = 2
# The most digits one part of a split value holds (half of a 19-digit card, rounded up).
MAX_PART_DIGITS = 15

_IBAN_GROUP = re.compile(r"[A-Z0-9]{1,4}")
_IBAN_HEAD = re.compile(r"[A-Z]{2}\d{2}")
_SSN_TEXT = re.compile(r"\d{9}|\d{3}([ .-])\d{2}\1\d{4}")
_PARENT = re.compile(r"(.*?)(?:\.[^.\[\]]+|\[[^\]]*\]|:[^:>]*)$")
# Part lengths people split a card number into, beyond two halves of one record.
_CARD_SHAPES = frozenset(
    {(4, 4, 4, 4), (4, 4, 4, 1), (4, 4, 4, 2), (4, 4, 4, 3), (4, 4, 4, 4, 3), (4, 6, 5)}
)
_ENTITY_NAMES = {
    "CREDIT_CARD": "card",
    "US_SSN": "SSN",
    "ABA_ROUTING_NUMBER": "routing number",
    "IBAN_CODE": "IBAN",
}
_CHECKS = {
    "CREDIT_CARD": "card network prefix and length, Luhn checksum passed",
    "US_SSN": "SSN area, group and serial rules pass",
    "ABA_ROUTING_NUMBER": "ABA routing checksum passed",
    "IBAN_CODE": "IBAN mod-97 check passed",
}


@dataclass(frozen=True)
class _Part:
    """A segment that could be one piece of a split value."""

    segment: Segment
    value: str  # its digits (spaces removed), or an IBAN group


def split_findings(segments: Sequence[Segment], entities: frozenset[str]) -> list[Finding]:
    """Findings, in every part, for identifiers of `entities` split over adjacent segments.

    Shapes: a card as two halves of one record (4 to 15 digits each, nothing between), 4-4-4-4
    (4-4-4-1..4, 4-4-4-4-3, 4-6-5, 8-8) or one digit per part; an SSN as 3-2-4 or nine single
    digits; a routing number as nine single digits; an IBAN as groups of at most four.
    """
    wanted = entities & _CHECKS.keys()
    if not wanted:
        return []
    found: list[Finding] = []
    for run in _runs(segments):
        found.extend(_joined(run, wanted))
    return found


def path_findings(segments: Iterable[Segment], entities: frozenset[str]) -> list[Finding]:
    """SSN findings for URL path segments that are exactly an SSN (`path:1` = `219099999`)."""
    if "US_SSN" not in entities:
        return []
    found = []
    for segment in segments:
        if not segment.location.startswith("path:") or ">" in segment.location:
            continue
        text = segment.text
        if _SSN_TEXT.fullmatch(text) and ssn_shape_ok(re.sub(r"\D", "", text)):
            why = "a URL path segment that is exactly an SSN; SSN area, group and serial rules pass"
            found.append(
                Finding("US_SSN", segment.location, 0, len(text), SCORE, PATH_RECOGNIZER, why)
            )
    return found


def _part(segment: Segment) -> _Part | None:
    """The segment as a piece of a split value, or None (names and whole readings never are)."""
    if segment.location.endswith("#name") or segment.location.startswith("whole:"):
        return None
    text = segment.text.strip()
    digits = text.replace(" ", "")
    if digits.isascii() and digits.isdigit() and len(digits) <= MAX_PART_DIGITS:
        return _Part(segment, digits)
    if _IBAN_GROUP.fullmatch(text) and any(c.isdigit() for c in text):
        return _Part(segment, text)
    return None


def _runs(segments: Sequence[Segment]) -> list[list[_Part]]:
    """Runs of parts with at most `MAX_GAP` other (non-empty) segments between two of them."""
    runs: list[list[_Part]] = []
    current: list[_Part] = []
    gap = 0
    for segment in segments:
        part = _part(segment)
        if part is not None:
            current.append(part)
            gap = 0
        elif segment.text.strip():
            gap += 1
            if gap > MAX_GAP and current:
                runs.append(current)
                current = []
    if current:
        runs.append(current)
    return [r for r in runs if len(r) > 1]


def _joined(run: list[_Part], wanted: frozenset[str]) -> list[Finding]:
    """Findings for the longest valid joins in `run`, each part used once at most."""
    found: list[Finding] = []
    start = 0
    while start < len(run):
        for end in range(min(len(run), start + MAX_PARTS), start + 1, -1):
            entity = _identify(run[start:end])
            if entity in wanted:
                found.extend(_findings(run[start:end], entity))
                start = end
                break
        else:
            start += 1
    return found


def _identify(window: list[_Part]) -> str | None:
    values = [p.value for p in window]
    joined = "".join(values)
    shape = tuple(len(v) for v in values)
    if not joined.isdigit():
        is_iban = _IBAN_HEAD.fullmatch(values[0]) and all(n == 4 for n in shape[:-1])
        return "IBAN_CODE" if is_iban and iban_ok(joined) else None
    singles = all(n == 1 for n in shape)
    if (_card_shape(window, shape) or (singles and 13 <= len(joined) <= 19)) and card_number_ok(
        joined
    ):
        return "CREDIT_CARD"
    if (shape == (3, 2, 4) or (singles and len(joined) == 9 and not _counting(joined))) and (
        ssn_shape_ok(joined)
    ):
        return "US_SSN"
    if singles and len(joined) == 9 and aba_checksum_ok(joined):
        return "ABA_ROUTING_NUMBER"
    return None


def _counting(digits: str) -> bool:
    """`123456789`, `987654321`: a list of counters or positions, not an SSN one digit a field."""
    steps = {int(b) - int(a) for a, b in itertools.pairwise(digits)}
    return steps in ({1}, {-1})


def _card_shape(window: list[_Part], shape: tuple[int, ...]) -> bool:
    """A card's usual groups, or two halves of one record (other fields may stand between)."""
    if shape in _CARD_SHAPES:
        return True
    if len(window) != 2:
        return False
    first, second = window
    return all(4 <= n <= MAX_PART_DIGITS for n in shape) and _parent(
        first.segment.location
    ) == _parent(second.segment.location)


def _parent(location: str) -> str:
    """`$.payment.card_1` -> `$.payment`; `form:card[1]` -> `form:`; `csv:r3.c1` -> `csv:r3`."""
    match = _PARENT.match(location)
    return match.group(1) if match else location


def _findings(window: list[_Part], entity: str) -> list[Finding]:
    first, last = window[0].segment.location, window[-1].segment.location
    why = (
        f"{_ENTITY_NAMES[entity]} split across {len(window)} fields ({first} ... {last}); "
        f"{_CHECKS[entity]}"
    )
    if len(window) == 2:
        why = f"split {_ENTITY_NAMES[entity]} across fields {first}, {last}; {_CHECKS[entity]}"
    found = []
    for part in window:
        text = part.segment.text
        start = len(text) - len(text.lstrip())
        end = len(text.rstrip())
        found.append(
            Finding(entity, part.segment.location, start, end, SCORE, SPLIT_RECOGNIZER, why)
        )
    return found
