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
- **Identifiers in the request line and headers.** `/customers/219099999/tickets`,
  `X-API-Key: ak_live_219099999`, a host label `c219099999`: there are no field names or
  sentences there, so nine undashed digits get no context; `request_findings` reads SSN and
  card shapes in them, glued to letters or not, checked by the SSA rules and Luhn.

The shapes are deliberately narrow: a date split into year, month and day, a phone number into
3-3-4 or a ZIP+4 never joins, so ordinary records do not turn into findings
(`tests/detection/test_structure.py` holds the near misses).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dlp_proxy.detection.detector import NAME_MARK, SEP, WHOLE_PREFIX, Finding, Segment
from dlp_proxy.detection.recognizers import (
    aba_checksum_ok,
    card_number_ok,
    digits_of,
    iban_ok,
    non_pii_field,
    ssn_shape_ok,
)

__all__ = [
    "MAX_GAP",
    "MAX_PARTS",
    "REQUEST_RECOGNIZER",
    "SPLIT_RECOGNIZER",
    "request_findings",
    "split_findings",
]

SPLIT_RECOGNIZER = "SplitValueRecognizer"
REQUEST_RECOGNIZER = "RequestTokenRecognizer"
SCORE = 0.9
# A join is looked for over at most this many parts (one digit per element, a 19-digit card).
MAX_PARTS = 19
# Other segments between two parts that still leave them adjacent ("two fields apart").
MAX_GAP = 2
# The most digits one part of a split value holds (half of a 19-digit card, rounded up).
MAX_PART_DIGITS = 15

_IBAN_GROUP = re.compile(r"[A-Z0-9]{1,4}")
_DIGIT_GROUPS = re.compile(r"[0-9]+(?:[ .-][0-9]+)*")
_GROUP_SEPARATOR = re.compile(r"[ .-]")
_IBAN_HEAD = re.compile(r"[A-Z]{2}\d{2}")
_SSN_TEXT = re.compile(r"\d{9}|\d{3}([ .-])\d{2}\1\d{4}")
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
    value: str  # its digits (separators removed), or an IBAN group
    groups: tuple[int, ...]  # the lengths of its digit groups: `219-09` is (3, 2)


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
    for run in (*_record_runs(segments), *_field_runs(segments)):
        found.extend(_joined(run, wanted))
    return found


def request_findings(segments: Iterable[Segment], entities: frozenset[str]) -> list[Finding]:
    """SSNs and card numbers in the request line, a header or any name, glued or not.

    The method, path, query, host and header values carry no sentences, so Presidio's context
    words are never there, nor in a JSON key or an XML tag, and nine undashed digits score next
    to nothing; yet no protocol puts
    an SSN-shaped number into `X-API-Key: ak_live_219099999` or a host label by chance. Here a
    run of exactly nine digits passing the SSA rules, or 3-2-4 with one separator (`-./ _:|`),
    is an SSN; 13 to 19 digits (or groups of four) with a card network's prefix, length and
    Luhn digit are a card number, whatever letters they are glued to. Digits inside a hex
    token (a hash, a UUID, a trace id) are not read: they are parts of a random number.
    """
    wanted = entities & {"US_SSN", "CREDIT_CARD"}
    found: list[Finding] = []
    if not wanted:
        return found
    for segment in segments:
        located = segment.location
        if not (located.startswith(REQUEST_PREFIXES) or NAME_MARK in located):
            continue
        if not segment.analyzed:
            continue
        text = segment.text
        for entity, pattern, check, why in _TOKEN_RULES:
            if entity not in wanted:
                continue
            for match in pattern.finditer(text):
                digits = digits_of(match.group())
                if check(digits) and not _in_hex_token(text, match.start(), match.end()):
                    found.append(
                        Finding(
                            entity,
                            segment.location,
                            match.start(),
                            match.end(),
                            SCORE,
                            REQUEST_RECOGNIZER,
                            why,
                        )
                    )
    return found


# Where segments of the request line and headers are located (codecs' locations).
REQUEST_PREFIXES = ("method", "path:", "query:", "host:", "header:", "authority>")
_SEPARATOR = r"[-./ _:|]"
_TOKEN_RULES = (
    (
        "US_SSN",
        re.compile(
            rf"(?<![0-9])(?:[0-9]{{9}}|[0-9]{{3}}({_SEPARATOR})[0-9]{{2}}\1[0-9]{{4}})(?![0-9])"
        ),
        ssn_shape_ok,
        "an SSN in the request line or a header; SSN area, group and serial rules pass",
    ),
    (
        "CREDIT_CARD",
        re.compile(
            rf"(?<![0-9])(?:[0-9]{{13,19}}|[0-9]{{4}}({_SEPARATOR})[0-9]{{4}}(?:\1[0-9]{{4}}){{1,2}}"
            rf"(?:\1[0-9]{{1,4}})?|[0-9]{{4}}({_SEPARATOR})[0-9]{{6}}\2[0-9]{{5}})(?![0-9])"
        ),
        card_number_ok,
        "a card number in the request line or a header; card network prefix and length, "
        "Luhn checksum passed",
    ),
)
_HEX_TOKEN = re.compile(r"[0-9A-Fa-f-]")
# A hex token at least this long, with this many letters in it, is a hash or an id, not a number
# (a random hex digit is a letter 6 times in 16; `SYNC-4539-...` has one).
HEX_TOKEN_CHARS = 16
HEX_TOKEN_LETTERS = 3


def _in_hex_token(text: str, start: int, end: int) -> bool:
    """True when `text[start:end]` lies in a run of hex digits and dashes that is a hash."""
    while start > 0 and _HEX_TOKEN.match(text[start - 1]):
        start -= 1
    while end < len(text) and _HEX_TOKEN.match(text[end]):
        end += 1
    token = text[start:end]
    letters = sum(c in "abcdefABCDEF" for c in token)
    return len(token.replace("-", "")) >= HEX_TOKEN_CHARS and letters >= HEX_TOKEN_LETTERS


def _part(segment: Segment) -> _Part | None:
    """The segment as a piece of a split value, or None (names and whole readings never are)."""
    if segment.location.endswith(NAME_MARK) or segment.location.startswith(WHOLE_PREFIX):
        return None
    text = segment.text.strip()
    if _DIGIT_GROUPS.fullmatch(text):
        groups = _GROUP_SEPARATOR.split(text)
        digits = "".join(groups)
        if len(digits) <= MAX_PART_DIGITS:
            return _Part(segment, digits, tuple(len(g) for g in groups))
    if _IBAN_GROUP.fullmatch(text) and any(c.isdigit() for c in text):
        return _Part(segment, text, (len(text),))
    return None


def _record_runs(segments: Sequence[Segment]) -> list[list[_Part]]:
    """Runs of parts of one record, at most `MAX_GAP` other segments between two of them.

    A record is what holds fields side by side: a JSON object or array, a CSV row, an XML
    element, the query, the form, the headers. A run ends where the record does, so the last
    cell of one row and the first of the next are never joined.
    """
    runs: list[list[_Part]] = []
    current: list[_Part] = []
    gap = 0
    record = None
    for segment in segments:
        part = _part(segment)
        if part is not None:
            here = _record(segment.location)
            if here != record and current:
                runs.append(current)
                current = []
            record = here
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


def _field_runs(segments: Sequence[Segment]) -> list[list[_Part]]:
    """Runs of one JSON field's values across records: `{"part": ...}` on every NDJSON line.

    Only JSON fields (the records of NDJSON, the objects of a list), and not those whose name
    says they count or price something: a column of quantities is no split card.
    """
    by_field: dict[str, list[_Part]] = {}
    for segment in segments:
        if not segment.field.startswith("$") or non_pii_field(segment.context):
            continue
        part = _part(segment)
        if part is not None:
            by_field.setdefault(segment.field, []).append(part)
    return [run for run in by_field.values() if len(run) > 1 and _across_records(run)]


def _across_records(run: list[_Part]) -> bool:
    """True when a field's parts come from more than one record (else record runs have them)."""
    return len({_record(p.segment.location) for p in run}) > 1


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
    # The digit groups across the parts: `219-09` and `9999` are 3-2-4, as `219|09|9999` are.
    groups = tuple(n for p in window for n in p.groups)
    singles = all(n == 1 for n in shape)
    if len(window) == 2 and not _one_record(window):
        return None
    card_shaped = groups in _CARD_SHAPES or _card_shape(shape)
    if (card_shaped or (singles and 13 <= len(joined) <= 19)) and card_number_ok(joined):
        return "CREDIT_CARD"
    if (groups == (3, 2, 4) or (singles and len(joined) == 9 and not _counting(joined))) and (
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


def _card_shape(shape: tuple[int, ...]) -> bool:
    """Two halves (of one record: see `_one_record`), 4 to 15 digits each."""
    return len(shape) == 2 and all(4 <= n <= MAX_PART_DIGITS for n in shape)


def _one_record(window: list[_Part]) -> bool:
    """Whether two parts may be one value: in one record, or one field of consecutive records.

    The headers count as one record. Two halves anywhere else in a document are two numbers.
    """
    first, second = (p.segment for p in window)
    return _record(first.location) == _record(second.location) or first.field == second.field


def _record(location: str) -> str:
    """The record a segment belongs to, within the innermost document holding it.

    The headers are one record, and so are the query and a form; a CSV row (`csv:r3`); an
    XML element (`xml:/r/ssn` for `xml:/r/ssn/@area`); a JSON object or list (`$.payment` for
    `$.payment.card_1`, `l3>$` for a value of NDJSON record 3).
    """
    if location.startswith(HEADER_RECORD):
        return HEADER_RECORD
    outer, sep, inner = location.rpartition(SEP)
    return outer + sep + _parent(inner)


def _parent(location: str) -> str:
    for prefix in _FLAT_RECORDS:
        if location.startswith(prefix):
            return prefix
    if location.startswith("csv:"):
        return location.split(".", 1)[0]
    if location.startswith("xml:"):
        # An element's text and the tails inside it belong to its parent's record; an
        # attribute to its element's.
        if location.endswith(_TAIL):
            return location[: -len(_TAIL)].rsplit("/", 2)[0]
        return location.rsplit("/", 1)[0]
    match = _JSON_PARENT.match(location)
    return match.group(1) if match else location


_TAIL = "/tail()"
_FLAT_RECORDS = ("form:", "query:", "path:", "host:", "method", "multipart:")
_JSON_PARENT = re.compile(r"(.*)(?:\.[^.\[\]]+|\[[^\]]*\])$")
HEADER_RECORD = "header:"


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
