"""Identifiers that only a message's structure shows: digits split across fields, bare numbers.

A detector reads one segment at a time. Two tricks defeat that without any encoding:

- **Split values.** An SSN sent as `ssn_area`/`ssn_group`/`ssn_serial`, a card number as four
  fields of four digits or one digit per array element: no single value holds the identifier,
  the vendor's code joins them again. `split_identifiers` joins adjacent short runs of digits
  in document order and keeps a join only when it has the shape people split that identifier
  into *and* its checksum or numbering rules hold (Luhn for cards, SSN area/group/serial rules,
  ABA's weighted sum, IBAN's mod 97). Every field that took part is a finding.
- **Bare identifiers with weak context.** Nine digits in a field named `taxpayer_id`,
  `national_id` or `sozialversicherungsnummer` are an SSN/TIN to whoever reads the field;
  Presidio gives nine undashed digits a very weak score unless an English context word is
  next to them. `named_identifiers` reports them when the field's name says so and the SSN
  rules hold; `bare_path_identifiers` does the same for a URL path segment that is nothing but
  an SSN (`/customers/219099999/tickets`), where the position in the path is the only context.

Pure functions over segments: no detector, no policy. The shapes below are deliberately narrow
(a date split into year, month and day, a phone number into 3-3-4, a ZIP+4 never joins), so
ordinary records do not turn into findings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dlp_proxy.detection.detector import Finding, Segment

__all__ = [
    "JOINED_RECOGNIZER",
    "NAMED_RECOGNIZER",
    "PATH_RECOGNIZER",
    "TAX_ID_WORDS",
    "bare_path_identifiers",
    "named_identifiers",
    "split_identifiers",
    "valid_aba",
    "valid_iban",
    "valid_luhn",
    "valid_ssn",
]

JOINED_RECOGNIZER = "joined-fields"
NAMED_RECOGNIZER = "field-name"
PATH_RECOGNIZER = "path-identifier"

# Field-name words that say a value is a taxpayer or national identification number: English,
# and the national terms call-centre exports use (DE, AT, NL, SE, DK, FI, PL, IT, ES, PT, FR).
TAX_ID_WORDS = frozenset(
    {
        "ssn",
        "ssns",
        "socialsecurity",
        "socialsecuritynumber",
        "tin",
        "taxpayer",
        "taxpayerid",
        "taxid",
        "tax_id",
        "taxnumber",
        "itin",
        "ein",
        "nationalid",
        "national_id",
        "nin",
        "nino",
        "sozialversicherungsnummer",
        "svnr",
        "steuerid",
        "steuernummer",
        "bsn",
        "burgerservicenummer",
        "personnummer",
        "cpr",
        "henkilotunnus",
        "hetu",
        "pesel",
        "codicefiscale",
        "nif",
        "nie",
        "dni",
        "nss",
        "insee",
        "nir",
    }
)

# Joined runs are looked for over at most this many segments in a row (one digit per element).
MAX_RUN = 19
# A segment holding more digits than this is no part of a split identifier.
MAX_PART_DIGITS = 8
# Segments of other text between two parts that still leave them adjacent ("two fields apart").
MAX_GAP = 2

_DIGITS = re.compile(r"\d+")
_SSN_TEXT = re.compile(r"\d{9}|\d{3}([ .-])\d{2}\1\d{4}")
_IBAN_HEAD = re.compile(r"[A-Z]{2}\d{2}")
_IBAN_PART = re.compile(r"[A-Z0-9]{1,4}")
_WORDS = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class _Part:
    """A segment that could be one piece of a split identifier."""

    segment: Segment
    text: str


def valid_luhn(digits: str) -> bool:
    """The Luhn checksum card numbers carry."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        n = int(char)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def valid_ssn(digits: str) -> bool:
    """Nine digits the Social Security Administration could have issued (area, group, serial)."""
    if len(digits) != 9 or not digits.isdigit():
        return False
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return (
        area not in ("000", "666")
        and not area.startswith("9")
        and group != "00"
        and serial != "0000"
        and len(set(digits)) > 1
    )


def valid_aba(digits: str) -> bool:
    """A routing number's weighted checksum (3, 7, 1) and a Federal Reserve prefix."""
    if len(digits) != 9 or not digits.isdigit() or int(digits[:2]) not in _ABA_PREFIXES:
        return False
    weights = (3, 7, 1) * 3
    return sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 10 == 0


_ABA_PREFIXES = frozenset(
    {*range(0, 13), *range(21, 33), 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 80}
)


def valid_iban(text: str) -> bool:
    """An IBAN's shape (country, check digits, 11 to 30 more) and its mod-97 check."""
    compact = text.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34 or not _IBAN_HEAD.match(compact) or not compact.isalnum():
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def split_identifiers(segments: Sequence[Segment]) -> list[Finding]:
    """Findings for identifiers split over adjacent segments (in document order).

    A join counts when its parts have a shape people split that identifier into and the whole
    passes its check: a card number as 4-4-4-4 (4-4-4-1..4, 4-6-5, 8-8) or one digit per part,
    Luhn-valid, starting as cards do; an SSN as 3-2-4 or nine single digits, passing the SSA
    rules; a routing number as nine single digits with its checksum; an IBAN as groups of four.
    """
    findings: list[Finding] = []
    for run in _runs(segments):
        findings.extend(_joins(run))
    return findings


def named_identifiers(segments: Iterable[Segment]) -> list[Finding]:
    """SSN findings for nine-digit values in fields whose name says they are a tax or national id.

    The value must be nothing but the number (`219099999`, `219-09-9999`) and pass the SSA
    rules; a value that fails them is left to the detector.
    """
    found = []
    for segment in segments:
        if not _names_tax_id(segment):
            continue
        text = segment.text.strip()
        if _SSN_TEXT.fullmatch(text) and valid_ssn(_digits_of(text)):
            start = segment.text.index(text)
            why = "nine digits in a field named as a taxpayer or national id; SSN rules pass"
            found.append(
                _finding("US_SSN", segment, start, start + len(text), NAMED_RECOGNIZER, why)
            )
    return found


def bare_path_identifiers(segments: Iterable[Segment]) -> list[Finding]:
    """SSN findings for URL path segments that are nothing but an SSN (`path:1` = `219099999`).

    A path has no field names; a segment that is exactly nine digits passing the SSA rules
    (or the dashed form) is taken for what it most likely is when it is not an SSN: nothing a
    vendor API puts in a path may look like one.
    """
    found = []
    for segment in segments:
        if not segment.location.startswith("path:") or ">" in segment.location:
            continue
        text = segment.text
        if _SSN_TEXT.fullmatch(text) and valid_ssn(_digits_of(text)):
            why = "a URL path segment that is exactly an SSN; SSN rules pass"
            found.append(_finding("US_SSN", segment, 0, len(text), PATH_RECOGNIZER, why))
    return found


def _names_tax_id(segment: Segment) -> bool:
    words = {w.lower() for w in segment.context}
    for word in tuple(words):
        words.update(_WORDS.findall(word))
    return not words.isdisjoint(TAX_ID_WORDS) or {"social", "security"} <= words


def _digits_of(text: str) -> str:
    return "".join(_DIGITS.findall(text))


def _part(segment: Segment) -> _Part | None:
    """The segment as a piece of a split identifier, or None (names never are)."""
    if segment.location.endswith("#name"):
        return None
    text = segment.text.strip()
    if not text or len(text) > MAX_PART_DIGITS:
        return None
    if text.isdigit() or (_IBAN_PART.fullmatch(text) and any(c.isdigit() for c in text)):
        return _Part(segment, text)
    return None


def _runs(segments: Sequence[Segment]) -> list[list[_Part]]:
    """Maximal runs of candidate parts, allowing up to `MAX_GAP` other segments between two."""
    runs: list[list[_Part]] = []
    current: list[_Part] = []
    gap = 0
    for segment in segments:
        part = _part(segment)
        if part is not None:
            current.append(part)
            gap = 0
            continue
        if not segment.text.strip():
            continue
        gap += 1
        if gap > MAX_GAP and current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return [r for r in runs if len(r) > 1]


def _joins(run: list[_Part]) -> list[Finding]:
    found: list[Finding] = []
    taken: set[int] = set()
    for start in range(len(run)):
        for end in range(min(len(run), start + MAX_RUN), start + 1, -1):
            if taken.intersection(range(start, end)):
                continue
            window = run[start:end]
            entity, why = _identify(window)
            if entity is None:
                continue
            taken.update(range(start, end))
            for part in window:
                seg = part.segment
                offset = seg.text.index(part.text)
                found.append(
                    _finding(entity, seg, offset, offset + len(part.text), JOINED_RECOGNIZER, why)
                )
            break
    return found


_CARD_SHAPES = frozenset(
    {(4, 4, 4, 4), (4, 4, 4, 1), (4, 4, 4, 2), (4, 4, 4, 3), (4, 6, 5), (8, 8), (4, 4, 4, 4, 3)}
)


def _identify(window: list[_Part]) -> tuple[str | None, str]:
    texts = [p.text for p in window]
    joined = "".join(texts)
    shape = tuple(len(t) for t in texts)
    fields = f"{len(window)} fields"
    if not joined.isdigit():
        if len(texts[0]) == 4 and valid_iban(joined) and all(n == 4 for n in shape[:-1]):
            return "IBAN_CODE", f"{fields} joined form an IBAN; mod-97 check passes"
        return None, ""
    singles = all(n == 1 for n in shape)
    if (shape in _CARD_SHAPES or (singles and len(joined) in (15, 16))) and _card(joined):
        return "CREDIT_CARD", f"{fields} joined form a card number; Luhn check passes"
    if (shape == (3, 2, 4) or (singles and len(joined) == 9)) and valid_ssn(joined):
        return "US_SSN", f"{fields} joined form an SSN; SSA numbering rules pass"
    if singles and len(joined) == 9 and valid_aba(joined):
        return "ABA_ROUTING_NUMBER", f"{fields} joined form a routing number; checksum passes"
    return None, ""


def _card(digits: str) -> bool:
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and valid_luhn(digits)


def _finding(
    entity: str, segment: Segment, start: int, end: int, recognizer: str, why: str
) -> Finding:
    return Finding(entity, segment.location, start, end, 1.0, recognizer, why)
