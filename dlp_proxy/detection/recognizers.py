"""dlp-proxy's own recognizers: checksums, field names as evidence, split values.

Presidio's predefined recognizers do most of the work. These add what call-centre data needs:

- `CardNumberRecognizer`: card numbers with any common separator (space, dot, dash, none),
  valid only with a card network's prefix and length and a correct Luhn digit;
- `DateOfBirthRecognizer` and `StreetAddressRecognizer`: entity types Presidio lacks;
- `field_findings`: a value whose field name says what it is (`ssn`, `card_number`, `dob`,
  `routing_number`, `first_name` ...) and whose shape and checksum agree, counts as that entity
  even without a word of context around it;
- `DetectorRecognizers`: a policy's custom detectors as Presidio recognizers, with their
  checksums (`validator_accepts`).
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Any, ClassVar

import phonenumbers
from phonenumbers.phonenumberutil import NumberParseException
from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

from dlp_proxy.detection.detector import LANGUAGE, Finding, Segment, custom_recognizer_name
from dlp_proxy.policy.model import CustomDetector, Validator

__all__ = [
    "CUSTOM_ENTITIES",
    "PHONE_RUN_DIGITS",
    "VALIDATOR_LABELS",
    "CardNumberRecognizer",
    "DateOfBirthRecognizer",
    "DetectorPatternRecognizer",
    "DetectorRecognizers",
    "LazyNlpArtifacts",
    "QuickPhoneRecognizer",
    "ShallowCopyContextEnhancer",
    "Source",
    "StreetAddressRecognizer",
    "aba_checksum_ok",
    "custom_recognizers",
    "field_findings",
    "iban_ok",
    "luhn_ok",
    "non_pii_field",
    "phone_windows",
    "quick_phone_recognizer",
    "ssn_ok",
    "validator_accepts",
]

CUSTOM_ENTITIES = frozenset({"DATE_OF_BIRTH", "STREET_ADDRESS", "ABA_ROUTING_NUMBER"})
RECOGNIZER = "FieldNameRecognizer"


# --- checksums and shapes ---------------------------------------------------------------------


def digits_of(text: str) -> str:
    """The ASCII digits of `text`, in order."""
    # Not str.isdigit: it is true for '²' and other digits int() refuses.
    return "".join(c for c in text if "0" <= c <= "9")


def luhn_ok(number: str) -> bool:
    """True when the digit string passes the Luhn check."""
    total = 0
    for i, char in enumerate(reversed(number)):
        d = int(char)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return bool(number) and total % 10 == 0


_CARD_NETWORKS = (
    (re.compile(r"4"), (13, 16, 19)),  # Visa
    (re.compile(r"5[1-5]|2(?:2[2-9]|[3-6]\d|7[01]|720)"), (16,)),  # Mastercard
    (re.compile(r"3[47]"), (15,)),  # American Express
    (re.compile(r"6(?:011|5|4[4-9])"), (16, 17, 18, 19)),  # Discover
    (re.compile(r"35(?:2[89]|[3-8])"), (16, 17, 18, 19)),  # JCB
    (re.compile(r"3(?:0[0-5]|[68])"), (14, 16, 19)),  # Diners Club
    (re.compile(r"62"), (16, 17, 18, 19)),  # UnionPay
)


def card_number_ok(number: str) -> bool:
    """True for a digit string with a card network's prefix and length and a valid Luhn digit."""
    return luhn_ok(number) and any(
        prefix.match(number) and len(number) in lengths for prefix, lengths in _CARD_NETWORKS
    )


def aba_checksum_ok(number: str) -> bool:
    """True for a nine-digit ABA routing number with a valid checksum."""
    if len(number) != 9 or not number.isdigit() or number[0] not in "0123678":
        return False
    weights = (3, 7, 1) * 3
    return sum(int(d) * w for d, w in zip(number, weights, strict=True)) % 10 == 0


_INVALID_SSNS = frozenset({"078051120", "219099999", "123456789"})


def ssn_ok(number: str) -> bool:
    """True for nine digits that the SSA could have issued (area, group and serial rules).

    219-09-9999 and 078-05-1120 were printed in advertisements and wallets and are void, but
    they are exactly what people paste as examples, so a field called `ssn` holding them still
    counts: see `field_findings`, which uses `ssn_shape_ok`.
    """
    return ssn_shape_ok(number) and number not in _INVALID_SSNS


def ssn_shape_ok(number: str) -> bool:
    """Nine digits with a possible area (not 000, 666, 9xx), group (not 00), serial (not 0000)."""
    if len(number) != 9 or not number.isdigit():
        return False
    area, group, serial = number[:3], number[3:5], number[5:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


_DATE_PATTERNS = (
    re.compile(r"(?P<y>(?:19|20)\d\d)[-/. ](?P<m>\d{1,2})[-/. ](?P<d>\d{1,2})"),
    re.compile(r"(?P<m>\d{1,2})[-/. ](?P<d>\d{1,2})[-/. ](?P<y>(?:19|20)\d\d)"),
    re.compile(r"(?P<y>(?:19|20)\d\d)(?P<m>\d\d)(?P<d>\d\d)"),
)
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DATE_WORDS = re.compile(
    r"(?:(?P<d1>\d{1,2})\s+)?(?P<mon>[A-Za-z]{3,9})\.?\s+(?:(?P<d2>\d{1,2})(?:st|nd|rd|th)?,?\s+)?"
    r"(?P<y>(?:19|20)\d\d)"
)


def looks_like_date(value: str) -> bool:
    """True when the whole value is a calendar date (ISO, US, European or with a month name)."""
    value = value.strip()
    for pattern in _DATE_PATTERNS:
        match = pattern.fullmatch(value[:10]) if len(value) >= 8 else None
        if match and len(value) in (8, 9, 10) and _valid_date(match["y"], match["m"], match["d"]):
            return True
        match = pattern.fullmatch(value)
        if match and _valid_date(match["y"], match["m"], match["d"]):
            return True
    match = _DATE_WORDS.fullmatch(value)
    if match and match["mon"][:3].lower() in _MONTHS:
        month = str(_MONTHS.index(match["mon"][:3].lower()) + 1)
        return _valid_date(match["y"], month, match["d1"] or match["d2"] or "1")
    return False


def _valid_date(year: str, month: str, day: str) -> bool:
    for m, d in ((month, day), (day, month)):  # 05/03/1984 is valid either way round
        try:
            date(int(year), int(m), int(d))
        except ValueError:
            continue
        return True
    return False


# --- Presidio recognizers ---------------------------------------------------------------------


# Between a number's digits: what card numbers are not written with, or more than one character.
_ODD_SEPARATOR = re.compile(r"[^\d .-]|\D{2,}")
_SEPARATORS = re.compile(r"\D+")


class CardNumberRecognizer(PatternRecognizer):
    """Card numbers with spaces, dots, dashes or nothing between digit groups; Luhn-checked."""

    def __init__(self) -> None:
        super().__init__(
            supported_entity="CREDIT_CARD",
            name="CardNumberRecognizer",
            patterns=[
                Pattern("card, any separator", r"(?<![\d.,-])(?:\d[ .-]?){12,18}\d(?![\d])", 0.3),
                # `4539_1488/0343 - 6467`, a group on each line: weak, context makes it count.
                Pattern(
                    "card, odd separators",
                    r"(?<![\d.,-])(?:\d(?:[ \t]*[-./_|:\\][ \t]*|\s{1,3})?){12,18}\d(?!\d)",
                    0.3,
                ),
            ],
            context=["card", "credit", "debit", "visa", "mastercard", "amex", "pan", "cc"],
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        """Valid when the digits are a card number (separators may be mixed: `4539-1488 0343.6467`).

        The network prefix, the length and the Luhn digit keep random digit runs out. Groups
        split by what card numbers are not written with (`_`, `/`, `|`, ` - `, a line break)
        keep their weak score: a list of numbers looks like that too, so context decides.
        """
        if not card_number_ok(digits_of(pattern_text)):
            return False
        return None if _ODD_SEPARATOR.search(pattern_text) else True


class SeparatedSsnRecognizer(PatternRecognizer):
    """SSNs whose groups are separated by what Presidio's own patterns do not take.

    `219/09/9999`, `219_09_9999`, `219|09|9999`, `219:09:9999`, `219 - 09 - 9999`: one
    separator used twice, the SSA's area, group and serial rules checked. Glued to letters
    (`SSN219-09-9999`, where no word boundary is) or with mixed separators or line breaks
    (`219/09-9999`), the match is weak: context makes it count.
    """

    def __init__(self) -> None:
        super().__init__(
            supported_entity="US_SSN",
            name="SeparatedSsnRecognizer",
            patterns=[
                Pattern(
                    "SSN, any separator",
                    r"(?<![\d/_|:\\-])\d{3}(\s?[/_|:\\]\s?|\s+-\s+|\s{2,})\d{2}\1\d{4}"
                    r"(?![\d/_|:\\-])",
                    0.5,
                ),
                Pattern(
                    "SSN, glued to letters",
                    r"(?:(?<=[^\W\d_])\d{3}([-.])\d{2}\1\d{4}(?![\d/_|:\\-])"
                    r"|(?<![\d/_|:\\.-])\d{3}([-.])\d{2}\2\d{4}(?=[^\W\d_]))",
                    0.3,
                ),
                Pattern(
                    "SSN, mixed separators",
                    # `219-09-9999`, `219 09 9999`, `219.09.9999`: Presidio's own patterns.
                    r"(?<![\d/_|:\\.-])(?!\d{3}([-. ])\d{2}\1\d{4})"
                    r"\d{3}(?:[ \t]*[-./_|:\\][ \t]*|\s{1,3})\d{2}"
                    r"(?:[ \t]*[-./_|:\\][ \t]*|\s{1,3})\d{4}(?![\d/_|:\\.-])",
                    0.3,
                ),
            ],
            context=["ssn", "social", "security", "tin", "taxpayer"],
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        """Valid when the nine digits could have been issued; weak when written oddly.

        Mixed separators or a group on each line keep the weak score (three numbers on three
        lines are often just that): context decides.
        """
        if not ssn_shape_ok(digits_of(pattern_text)):
            return False
        separators = set(_SEPARATORS.findall(pattern_text))
        return None if len(separators) > 1 or "\n" in pattern_text else True


class SeparatedBankNumberRecognizer(PatternRecognizer):
    """Bank account and ABA routing numbers written in groups: `8732.4893`, `319.323.410`.

    Presidio's patterns take an account number only as one run of digits and a routing number
    only bare or as 4-4-1 with dashes; people (and exports) group them with dots, spaces,
    no-break spaces or dashes. A routing number is nine digits in two to four groups whose ABA
    checksum holds, an account number eight to seventeen digits in two to five groups of two
    or more; both weak on their own (a grouped order number is as likely): context decides.
    """

    def __init__(self, entity: str) -> None:
        routing = entity == "ABA_ROUTING_NUMBER"
        groups = r"\d{2,6}(?:[ .\-]\d{2,6}){1,3}" if routing else r"\d{2,8}(?:[ .\-]\d{2,8}){1,4}"
        super().__init__(
            supported_entity=entity,
            name=f"Separated{'Aba' if routing else 'Bank'}Recognizer",
            patterns=[Pattern("grouped digits", rf"(?<![\d.,-]){groups}(?![\d-]|[.,]\d)", 0.05)],
            context=(
                ["routing", "aba", "rtn", "transit"]
                if routing
                else ["account", "acct", "deposit", "checking", "savings", "bank"]
            ),
        )
        self._routing = routing

    def validate_result(self, pattern_text: str) -> bool | None:
        """Routing: nine digits whose checksum holds; account: 8 to 17 digits; both weak.

        A grouped order or ticket number is as likely: only context makes either count.
        """
        digits = digits_of(pattern_text)
        if not any(c in pattern_text for c in " .-"):
            return False  # unseparated: Presidio's own patterns
        if self._routing:
            return None if len(digits) == 9 and aba_checksum_ok(digits) else False
        return None if 8 <= len(digits) <= 17 else False


class DateOfBirthRecognizer(PatternRecognizer):
    """Dates, weak on their own, strong next to `dob`, `born`, `birth` (or in such a field)."""

    def __init__(self) -> None:
        super().__init__(
            supported_entity="DATE_OF_BIRTH",
            name="DateOfBirthRecognizer",
            patterns=[
                Pattern(
                    "date, numeric",
                    r"\b(?:(?:19|20)\d\d([-/. ])\d{1,2}\1\d{1,2}"
                    r"|\d{1,2}([-/. ])\d{1,2}\2(?:19|20)\d\d"
                    r"|(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))\b",
                    0.05,
                ),
                Pattern(
                    "date, month name",
                    r"\b(?:\d{1,2}\s+)?(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?\s+(?:\d{1,2}(?:st|nd|rd|th)?,?\s+)?(?:19|20)\d\d\b",
                    0.05,
                ),
            ],
            context=["dob", "birth", "born", "birthday", "birthdate", "d.o.b"],
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        """Invalid calendar dates are dropped; others keep their (context-boosted) score."""
        return None if looks_like_date(pattern_text) else False


_STREET_SUFFIXES = (
    "Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|Way|"
    "Terrace|Ter|Circle|Cir|Parkway|Pkwy|Highway|Hwy|Square|Sq|Trail|Trl|Crescent|Cres|"
    "Alley|Aly|Bridge|Brg|Brook|Brooks|Burg|Burgs|Bypass|Camp|Canyon|Cape|Causeway|Center|"
    "Centers|Cliff|Cliffs|Club|Common|Commons|Corner|Corners|Course|Courts|Cove|Coves|Creek|"
    "Crest|Crossing|Crossroad|Curve|Dale|Dam|Divide|Drives|Estate|Estates|Expressway|"
    "Extension|Extensions|Fall|Falls|Ferry|Field|Fields|Flat|Flats|Ford|Fords|Forest|Forge|"
    "Forges|Fork|Forks|Fort|Freeway|Garden|Gardens|Gateway|Glen|Glens|Green|Greens|Grove|"
    "Groves|Harbor|Harbors|Haven|Heights|Hill|Hills|Hollow|Inlet|Island|Islands|Isle|"
    "Junction|Junctions|Key|Keys|Knoll|Knolls|Lake|Lakes|Land|Landing|Light|Lights|Loaf|"
    "Lock|Locks|Lodge|Loop|Mall|Manor|Manors|Meadow|Meadows|Mews|Mill|Mills|Mission|"
    "Motorway|Mount|Mountain|Mountains|Neck|Orchard|Oval|Overpass|Park|Parks|Parkways|"
    "Pass|Passage|Path|Pike|Pine|Pines|Plain|Plains|Plaza|Point|Points|Port|Ports|Prairie|"
    "Radial|Ramp|Ranch|Rapid|Rapids|Rest|Ridge|Ridges|River|Roads|Route|Row|Rue|Run|Shoal|"
    "Shoals|Shore|Shores|Skyway|Spring|Springs|Spur|Spurs|Squares|Station|Stravenue|"
    "Stream|Streets|Summit|Throughway|Trace|Track|Trafficway|Tunnel|Turnpike|Underpass|"
    "Union|Unions|Valley|Valleys|Via|Viaduct|View|Views|Village|Villages|Ville|Vista|Walk|"
    "Walks|Wall|Ways|Well|Wells"
)
_STREET = (
    rf"\b\d{{1,6}}[A-Za-z]?\s+(?:[NSEW]\.?\s+)?(?:[A-Z][A-Za-z'.-]*\s+){{1,4}}(?:{_STREET_SUFFIXES})\b\.?"
    r"(?:,?\s+(?:Apt|Apartment|Suite|Ste|Unit|#)\.?\s*[\w-]+)?"
    r"(?:,?\s+[A-Z][A-Za-z .'-]{1,30},\s+[A-Z]{2}\s+\d{5}(?:-\d{4})?)?"
)


class StreetAddressRecognizer(PatternRecognizer):
    """Street addresses: number, name and a street suffix, with optional unit, city, state, ZIP."""

    def __init__(self) -> None:
        super().__init__(
            supported_entity="STREET_ADDRESS",
            name="StreetAddressRecognizer",
            patterns=[Pattern("street address", _STREET, 0.6)],
            context=["address", "street", "lives", "ship", "mail", "residence"],
        )


# Street addresses as other countries write them (issue 16's corpus): the street type as a
# suffix of the name (German, Dutch, Nordic, Finnish), or first (Spanish, Portuguese, Italian,
# French, Polish), and French `12, rue ...`; Greek street names with a number are weak.
_UPPER = "A-ZÀ-ÖØ-ÞĀ-ŽŁŚŻŹĆŃ"
# Presidio compiles patterns case-insensitively: a name word's capital is kept by `(?-i:...)`.
_NAME_WORD = rf"(?-i:[{_UPPER}][\w.'\u2019-]*)"
_SUFFIXED_STREET = (
    rf"\b{_NAME_WORD}(?:[ -]{_NAME_WORD})?"
    r"(?:straße|strasse|str\.|weg|gasse|platz|allee|damm|ufer|laan|straat|gracht|plein|kade"
    r"|dreef|singel|vägen|väg|gatan|gata|stigen|torget|gränd|backe|katu|tie|polku|kuja"
    r"|bulevardi|tori|kaari|rinne)"
    r"\s+\d{1,4}[a-zA-Z]?(?:[-/]\d{1,4})?\b"
)
_STREET_TYPES = (
    r"Calle|Avenida|Avda\.|Paseo|Plaza|Callejón|Ronda|Camino|Carrera|Cerrada|Privada|Viaducto"
    r"|Calzada|Circuito|Andador|Pasadizo|Rua|Travessa|Alameda|Ladeira|Estrada|Praça|Largo"
    r"|Rodovia|Viela|Esplanada|Colônia|Via|Viale|Piazza|Corso|Vicolo|Rue|Boulevard|Chemin"
    r"|Allée|Impasse|Quai|ul\.|al\.|plac|os\."
)
_TYPED_STREET = (
    rf"\b(?:{_STREET_TYPES})\s+(?:(?:de|da|do|dos|das|del|de la|di|della|du|des)\s+)?"
    rf"{_NAME_WORD}(?:\s+(?:de |da |do |del |di )?{_NAME_WORD}){{0,3}},?\s+\d{{1,4}}[a-zA-Z]?\b"
)
_FRENCH_STREET = (
    r"\b\d{1,4}(?:\s?(?:bis|ter))?,?\s+(?:rue|avenue|boulevard|chemin|allée|impasse|place|quai"
    rf"|route)\s+(?:(?:de|du|des|de la|d')\s*)?{_NAME_WORD}(?:\s+{_NAME_WORD}){{0,3}}"
)
_GREEK_UPPER, _GREEK_LOWER = r"\u0391-\u03a9\u0386-\u038f", r"\u03b1-\u03c9\u03ac-\u03ce"
_GREEK_STREET = (
    rf"\b(?-i:[{_GREEK_UPPER}][{_GREEK_LOWER}{_GREEK_UPPER}]{{3,}}"
    rf"(?:\s[{_GREEK_UPPER}][{_GREEK_LOWER}]+)?)\s+\d{{1,4}}(?:-\d{{1,4}})?\b"
)


class InternationalStreetRecognizer(PatternRecognizer):
    """Street addresses as the countries a call centre serves write them, beside the US form.

    `Höhenweg 108`, `Stallstigen 19`, `Taimistonkatu 28` (the type a suffix of the name);
    `Via Loreto 123`, `Avenida dos Fenícios, 9`, `al. Maczka 97` (the type first: weak, as
    `Via Email 2` and `Plaza Hotel 2` read so too, until a context word or field name is near);
    `130, rue du Maroc`; Greek names with a number (`Κυλλήνη 182`) only with a context word.
    """

    def __init__(self) -> None:
        super().__init__(
            supported_entity="STREET_ADDRESS",
            name="InternationalStreetRecognizer",
            patterns=[
                Pattern("street, type as suffix", _SUFFIXED_STREET, 0.5),
                Pattern("street, type first", _TYPED_STREET, 0.35),
                Pattern("street, French", _FRENCH_STREET, 0.5),
                Pattern("street, Greek", _GREEK_STREET, 0.2),
            ],
            context=["address", "street", "lives", "ship", "mail", "residence", "delivery"],
        )


def iban_ok(text: str) -> bool:
    """True when `text` (separators allowed) is an IBAN with a valid mod-97 check."""
    compact = re.sub(r"[ .-]", "", text).upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", compact):
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


# How each validator is named in a finding's `why`.
VALIDATOR_LABELS: Mapping[Validator, str] = MappingProxyType(
    {
        Validator.NONE: "none",
        Validator.LUHN: "Luhn",
        Validator.ABA_ROUTING: "ABA routing",
        Validator.IBAN: "IBAN mod-97",
        Validator.SSN: "SSN area/group/serial",
    }
)

_VALIDATORS: Mapping[Validator, Callable[[str], bool]] = MappingProxyType(
    {
        Validator.NONE: lambda text: True,
        Validator.LUHN: lambda text: len(digits_of(text)) >= 2 and luhn_ok(digits_of(text)),
        Validator.ABA_ROUTING: lambda text: aba_checksum_ok(digits_of(text)),
        Validator.IBAN: iban_ok,
        Validator.SSN: lambda text: ssn_ok(digits_of(text)),
    }
)


def validator_accepts(validator: Validator, text: str) -> bool:
    """True when a custom detector's match `text` passes `validator` (`none` passes anything).

    `luhn`, `aba_routing` and `ssn` check the ASCII digits of the match, ignoring separators and
    letters (`AC-4111 1111 1111 1111` is Luhn-checked as 4111111111111111; Luhn needs two
    digits at least); `aba_routing` needs exactly nine, `ssn` nine an SSA could have issued
    (`ssn_ok`: the advertisement numbers are refused); `iban` takes the match with spaces, dots
    or dashes and checks country, length and mod-97.
    """
    return _VALIDATORS[validator](text)


class SeparatedIbanRecognizer(PatternRecognizer):
    """IBANs grouped by dots or dashes as well as spaces (Presidio's own takes spaces)."""

    def __init__(self) -> None:
        super().__init__(
            supported_entity="IBAN_CODE",
            name="SeparatedIbanRecognizer",
            patterns=[
                Pattern(
                    "IBAN, any separator",
                    r"\b[A-Z]{2}\d{2}([ .-]?)[A-Z0-9]{4}"
                    r"(?:\1[A-Z0-9]{1,5}){1,8}\b",
                    0.3,
                )
            ],
            context=["iban", "bank", "account"],
        )

    def validate_result(self, pattern_text: str) -> bool:
        """Valid with one kind of separator and a correct mod-97 check."""
        return len(set(re.findall(r"[ .-]", pattern_text))) <= 1 and iban_ok(pattern_text)


# A run of digits with the punctuation phone numbers are written with, in any script's digits.
_PHONE_RUN = re.compile(
    r"[+\uff0b(\uff08\[]?\d(?:[\d\s().\[\]/~\-\u2010-\u2015\u2212\u30fc\uff08\uff09"
    r"\uff0d\uff0e\uff0f\u301c\uff5e]*\d)?"
)
# Digits in a run for it to be worth parsing: a valid number has more, even with an extension.
PHONE_RUN_DIGITS = 5
# Characters before and after a run looked at too: libphonenumber reads the text around a
# candidate (an extension, " ext. 1234", stays with its number).
_CONTEXT_CHARS = 20


def phone_windows(text: str) -> list[tuple[int, int]]:
    """The parts of `text` a phone number could be in, as (start, end).

    Runs of digits and phone punctuation with at least `PHONE_RUN_DIGITS` digits, each with
    the text around it; runs that come close together share one part. A run of
    digits alone glued to an identifier before it (`C-0000123`, `INV0042123`) is left out: a
    number found there would start where it is glued, and `plausible` drops it. So is a date
    written `2019-05-12`, `2019/05/12` or `05/12/2019`: libphonenumber finds no number in any
    of them in any of Presidio's regions (every date from 1900 to 2099 tried). And so is a
    card number (network prefix and Luhn checksum), plain or in groups: Presidio's recognizer
    found no plausible phone number in 4,500 generated ones.
    """
    windows: list[tuple[int, int]] = []
    for run in _PHONE_RUN.finditer(text):
        if _digit_count(run.group()) < PHONE_RUN_DIGITS:
            continue
        if run.group().isdigit() and _glued_before(text, run.start()):
            continue
        if _NEVER_A_NUMBER.fullmatch(run.group()) and looks_like_date(run.group()):
            continue
        if _CARD_RUN.fullmatch(run.group()) and card_number_ok(digits_of(run.group())):
            continue
        start = max(run.start() - _CONTEXT_CHARS, 0)
        end = min(run.end() + _CONTEXT_CHARS, len(text))
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], end)
        else:
            windows.append((start, end))
    return windows


_DIGITS_ONLY = re.compile(r"\D")


def _digit_count(text: str) -> int:
    """How many digits `text` has, in any script (as a regular expression's digit class)."""
    return len(_DIGITS_ONLY.sub("", text))


# A card number as written: digits, in groups separated by a space or a dash.
_CARD_RUN = re.compile(r"\d{13,19}|\d{4}(?:[ -]\d{2,6}){2,4}")
# Date shapes that are never a phone number (`tests/detection/test_recognizers.py` samples them;
# dotted dates, 02.01.1900, are valid German numbers and stay).
_NEVER_A_NUMBER = re.compile(r"(?:19|20)\d\d([-/])\d\d\1\d\d|\d\d/\d\d/(?:19|20)\d\d")


def _glued_before(text: str, start: int) -> bool:
    """True when `text[start:]` continues an identifier.

    That is, a letter or digit right before it, or `-_/#.` after one (`ORD-2026-`, `INV#`).
    """
    before = text[max(start - 2, 0) : start]
    return bool(before) and (
        before[-1].isalnum() or (before[-1] in "-_/#." and before[:1].isalnum())
    )


@functools.cache
def _shortest_number(region: str) -> int:
    """The fewest digits a valid number of `region` has.

    Its national number's shortest length in libphonenumber's metadata: a match has at least
    these, plus a trunk prefix or a country code.
    """
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    general = metadata.general_desc if metadata is not None else None
    return min(general.possible_length if general is not None else (), default=0)


def _runs(window: str) -> tuple[int, set[int]]:
    """A window's longest run of digits, and where the digits of its long runs are.

    Long runs have `PHONE_RUN_DIGITS` digits or more: an extension's digits are not among them.
    """
    longest = 0
    positions: set[int] = set()
    for run in _PHONE_RUN.finditer(window):
        count = _digit_count(run.group())
        longest = max(longest, count)
        if count >= PHONE_RUN_DIGITS:
            positions.update(run.start() + i for i, c in enumerate(run.group()) if c.isdigit())
    return longest, positions


# Where a number without a country code is read from: Presidio's eight regions (US, GB, DE,
# FR, IL, IN, CA, BR) and the countries call centres serve and sit in (issue 16's corpus). A
# national number only the added regions read is weak (`NATIONAL_ONLY_SCORE`): most nine- and
# ten-digit runs are a valid number somewhere, so a context word (or field name) must say phone.
PRESIDIO_PHONE_REGIONS = frozenset({"US", "GB", "DE", "FR", "IL", "IN", "CA", "BR"})
NATIONAL_ONLY_SCORE = 0.1
PHONE_CONTEXT = (
    *PhoneRecognizer.CONTEXT,
    "tel",
    "fax",
    "desk",
    "mob",
    "landline",
    "whatsapp",
    "callback",
)
PHONE_REGIONS = (
    "US",
    "GB",
    "DE",
    "FR",
    "IL",
    "IN",
    "CA",
    "BR",
    "PH",
    "ES",
    "MX",
    "IT",
    "PT",
    "NL",
    "PL",
    "SE",
    "FI",
    "GR",
)


class QuickPhoneRecognizer(PhoneRecognizer):
    """Presidio's phone recognizer, run only where a number could be.

    Region by region, until the numbers found cover every digit of the runs, skipping regions
    whose numbers are longer than any run. Presidio's own runs libphonenumber's matcher over
    the whole text once per region (eight by default): most of the analyzer's time on records
    and exports. It finds the numbers Presidio's finds
    (`tests/detection/test_recognizers.py` holds it to that); a span may differ by a bracket or a
    plus sign, which `core.inspect` merges with the rest of the number anyway.
    """

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: Any = None
    ) -> list[RecognizerResult]:
        """The phone numbers in `text`, as Presidio's recognizer reports them."""
        leniency = 1 if self.leniency is None else self.leniency
        results: list[RecognizerResult] = []
        for start, end in phone_windows(text):
            window = text[start:end]
            longest, digits = _runs(window)
            covered: set[int] = set()
            for region in self.supported_regions:
                if _shortest_number(region) > longest:
                    continue  # no number of this region fits in the runs
                for match in phonenumbers.PhoneNumberMatcher(window, region, leniency=leniency):
                    covered.update(range(match.start, match.end))
                    result = self._result(match, start, window, region)
                    if region not in PRESIDIO_PHONE_REGIONS and not _international(
                        match.raw_string
                    ):
                        result.score = NATIONAL_ONLY_SCORE
                    results.append(result)
                if digits <= covered:
                    break  # other regions can only find these numbers again
        return list(EntityRecognizer.remove_duplicates(results))

    def _result(self, match: Any, offset: int, window: str, region: str) -> RecognizerResult:
        try:
            parsed = phonenumbers.parse(window[match.start : match.end])
            region = phonenumbers.region_code_for_number(parsed) or region
        except NumberParseException:
            pass
        return RecognizerResult(
            entity_type=self.supported_entities[0],
            start=offset + match.start,
            end=offset + match.end,
            score=self.SCORE,
            analysis_explanation=self._get_analysis_explanation(region),  # type: ignore[no-untyped-call]
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: "PhoneRecognizer",
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
            },
        )


def _international(raw: str) -> bool:
    """Whether a number is written with its country code (`+49 ...`, `0049 ...`)."""
    return raw.lstrip("( ").startswith(("+", "00"))


def quick_phone_recognizer() -> QuickPhoneRecognizer:
    """A phone recognizer that finds what Presidio's does at a fraction of the cost.

    It keeps Presidio's name (`PhoneRecognizer`), leniency and score, and reads the regions of
    `PHONE_REGIONS` (Presidio's eight and more) with Presidio's context words and more.
    """
    return QuickPhoneRecognizer(
        name="PhoneRecognizer", supported_regions=PHONE_REGIONS, context=list(PHONE_CONTEXT)
    )


def custom_recognizers() -> list[PatternRecognizer]:
    """The recognizers dlp-proxy adds to Presidio's registry."""
    from presidio_analyzer.predefined_recognizers import AbaRoutingRecognizer

    return [
        CardNumberRecognizer(),
        SeparatedSsnRecognizer(),
        SeparatedIbanRecognizer(),
        SeparatedBankNumberRecognizer("US_BANK_NUMBER"),
        SeparatedBankNumberRecognizer("ABA_ROUTING_NUMBER"),
        DateOfBirthRecognizer(),
        StreetAddressRecognizer(),
        InternationalStreetRecognizer(),
        AbaRoutingRecognizer(),  # shipped by Presidio, disabled in its default configuration
    ]


# --- context enhancement without deep copies -------------------------------------------------


class _CopiedOnce(list):  # type: ignore[type-arg]
    """Results that `copy.deepcopy` copies one level down: what context enhancement changes."""

    def __deepcopy__(self, memo: dict[int, Any]) -> list[RecognizerResult]:
        return [_copied(result) for result in self]


def _copied(result: RecognizerResult) -> RecognizerResult:
    copied = copy.copy(result)
    copied.analysis_explanation = copy.copy(result.analysis_explanation)
    copied.recognition_metadata = dict(result.recognition_metadata or {})
    return copied


class ShallowCopyContextEnhancer(LemmaContextAwareEnhancer):
    """Presidio's context enhancer, with Presidio's own settings, minus most of its copying.

    Presidio deep-copies every result before raising scores: the result, its explanation (with
    the pattern and its compiled regex) and its metadata, most of a short value's analysis.
    Enhancement changes a result's score, its explanation's scores and context word, and one
    metadata flag, so each of those is copied one level instead (the same results and
    explanations: `tests/detection/test_recognizers.py`).
    """

    def enhance_using_context(
        self,
        text: str,
        raw_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        recognizers: list[EntityRecognizer],
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        """Presidio's enhancement, given results that copy cheaply."""
        return super().enhance_using_context(
            text, _CopiedOnce(raw_results), nlp_artifacts, recognizers, context
        )


# --- NLP artifacts made on demand -------------------------------------------------------------


class LazyNlpArtifacts(NlpArtifacts):
    """Presidio's NLP artifacts for a text NER did not read, made only when first read.

    No entities; tokens, lower-cased words and keywords on demand. Presidio reads them only to
    look for context words around a match; for a text with no match, tokenizing it is wasted.
    The words stand in for lemmas (`presidio.PresidioDetector._nlp_artifacts`).
    """

    def __init__(self, nlp: Any, text: str, nlp_engine: Any) -> None:
        # Not NlpArtifacts.__init__, which would tokenize now.
        self.entities: list[Any] = []
        self.scores: list[float] = []
        self.nlp_engine = nlp_engine
        self._nlp = nlp
        self._text = text
        self._made: tuple[Any, list[int], list[str], list[str]] | None = None

    def _make(self) -> tuple[Any, list[int], list[str], list[str]]:
        if self._made is None:
            doc = self._nlp.make_doc(self._text)
            words = [token.lower_ for token in doc]
            keywords = self.set_keywords(self.nlp_engine, words, LANGUAGE)
            self._made = (doc, [token.idx for token in doc], words, keywords)
        return self._made

    @property
    def tokens(self) -> Any:  # type: ignore[override]
        """The spaCy document (tokenizer only)."""
        return self._make()[0]

    @property
    def tokens_indices(self) -> list[int]:  # type: ignore[override]
        """Each token's character offset."""
        return self._make()[1]

    @property
    def lemmas(self) -> list[str]:  # type: ignore[override]
        """The lower-cased words, in place of lemmas."""
        return self._make()[2]

    @property
    def keywords(self) -> list[str]:  # type: ignore[override]
        """The words Presidio compares with context words: no stop words or punctuation."""
        return self._make()[3]

    @property
    def made(self) -> bool:
        """Whether anything has been read (and the text tokenized)."""
        return self._made is not None


# --- custom detectors from policies ---------------------------------------------------------


class DetectorPatternRecognizer(PatternRecognizer):
    """A custom detector's patterns and context words; a match must pass its validator.

    A match that passes keeps its pattern's score (Presidio would raise it to 1.0): the policy
    author chose the score, the checksum only filters.
    """

    def __init__(self, detector: CustomDetector) -> None:
        super().__init__(
            supported_entity=detector.entity,
            name=custom_recognizer_name(detector),
            patterns=[Pattern(p.name, p.regex, p.score) for p in detector.patterns],
            context=list(detector.context),
        )
        self.validator = detector.validator

    def validate_result(self, pattern_text: str) -> bool | None:
        """Drop a match that fails the validator (False); leave the score alone otherwise."""
        return None if validator_accepts(self.validator, pattern_text) else False


@dataclass(frozen=True)
class Source:
    """The custom detector behind a recognizer, and whether the recognizer is its deny list."""

    detector: CustomDetector
    deny_list: bool


@dataclass(frozen=True)
class DetectorRecognizers:
    """A policy's custom detectors as Presidio ad-hoc recognizers, built once and reused.

    Each detector becomes up to two recognizers named `custom:<id>`: its patterns (with the
    validator) and its deny list (without: a listed value is reported as it is). Both carry the
    detector's context words.
    """

    EMPTY: ClassVar[DetectorRecognizers]

    recognizers: tuple[PatternRecognizer, ...] = ()
    sources: Mapping[str, Source] = MappingProxyType({})  # by Presidio recognizer id

    @classmethod
    def build(cls, detectors: Iterable[CustomDetector]) -> DetectorRecognizers:
        """Compile the recognizers; `ValueError` from Presidio if a pattern or score is bad."""
        recognizers: list[PatternRecognizer] = []
        sources: dict[str, Source] = {}
        for detector in detectors:
            if detector.patterns:
                recognizer: PatternRecognizer = DetectorPatternRecognizer(detector)
                recognizers.append(recognizer)
                sources[str(recognizer.id)] = Source(detector, deny_list=False)
            if detector.deny_list:
                recognizer = PatternRecognizer(
                    supported_entity=detector.entity,
                    name=custom_recognizer_name(detector),
                    deny_list=list(detector.deny_list),
                    deny_list_score=detector.deny_list_score,
                    context=list(detector.context),
                )
                recognizers.append(recognizer)
                sources[str(recognizer.id)] = Source(detector, deny_list=True)
        return cls(tuple(recognizers), MappingProxyType(sources))

    @property
    def entities(self) -> frozenset[str]:
        """The entity types these recognizers report."""
        return frozenset(s.detector.entity for s in self.sources.values())

    def for_entities(self, entities: frozenset[str]) -> list[EntityRecognizer]:
        """The recognizers whose entity is in `entities`: the only ones worth running."""
        return [r for r in self.recognizers if self.sources[str(r.id)].detector.entity in entities]

    def source_of(self, result: RecognizerResult) -> Source | None:
        """The custom detector behind a Presidio result, or None for a built-in recognizer."""
        metadata: dict[str, Any] = result.recognition_metadata or {}
        return self.sources.get(str(metadata.get(RecognizerResult.RECOGNIZER_IDENTIFIER_KEY)))


DetectorRecognizers.EMPTY = DetectorRecognizers()


# --- field names as evidence ------------------------------------------------------------------


@dataclass(frozen=True)
class FieldRule:
    """A field name pattern, the entity its values are, and a check the value must pass."""

    entity: str
    names: re.Pattern[str]  # the keyword in group `word`
    accepts: Callable[[str], bool]
    score: float
    evidence: str  # what `accepts` checked, for `Finding.why`


def _name(pattern: str) -> re.Pattern[str]:
    # Matched against the field name's words joined by '_', e.g. 'card_number', 'customer_dob'.
    return re.compile(pattern)


_NAME_WORD = r"[^\W\d_](?:[^\W\d_]|['.-])*"  # letters, apostrophes, dots, hyphens
_NAME_VALUE = re.compile(rf"{_NAME_WORD}(?:\s+{_NAME_WORD}){{0,4}}")
_ADDRESS_VALUE = re.compile(r"(?=.*\d)(?=.*[^\W\d_]{3}).{6,}", re.DOTALL)


def _digits_between(low: int, high: int) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        digits = digits_of(value)
        return low <= len(digits) <= high and len(digits) >= len(value.replace(" ", "")) - 4

    return check


FIELD_RULES: tuple[FieldRule, ...] = (
    FieldRule(
        "US_SSN",
        _name(
            r"(^|_)(?P<word>ssn|ssns|social_security(_number|_no)?|socialsecurity|tax_id_ssn|"
            # Taxpayer and national ids: nine digits there are an SSN or TIN to the reader.
            r"tin|itin|taxpayer|taxpayer_id|tax_id|taxid|tax_number|national_id|nationalid|"
            r"national_insurance|nin|sozialversicherungsnummer|svnr|steuer_id|steuerid|bsn|"
            r"burgerservicenummer|personnummer|cpr|hetu|henkilotunnus|pesel|codice_fiscale|nif|"
            r"nie|dni|nss|insee|nir)($|_)"
        ),
        lambda v: ssn_shape_ok(digits_of(v)) and len(v.strip()) <= 11,
        0.9,
        "nine digits with a possible SSN area, group and serial",
    ),
    FieldRule(
        "US_SSN",
        # Only a field named just so: an SSN kept as a number loses its leading zeros (024...).
        _name(r"^(?P<word>ssn|social_security(_number|_no)?|socialsecurity|tin|taxpayer_id)$"),
        lambda v: (
            v.strip().isdigit() and 7 <= len(v.strip()) <= 8 and ssn_shape_ok(v.strip().zfill(9))
        ),
        0.9,
        "a number whose dropped leading zeros make nine digits with a possible SSN area, "
        "group and serial",
    ),
    FieldRule(
        "CREDIT_CARD",
        _name(
            r"(^|_)(?P<word>card|cc|pan|credit_card|card_number|card_no|cardnumber|creditcard)($|_)"
        ),
        lambda v: card_number_ok(digits_of(v)) and len(v.strip()) <= 23,
        1.0,
        "card network prefix and length, Luhn checksum passed",
    ),
    FieldRule(
        "ABA_ROUTING_NUMBER",
        _name(r"(^|_)(?P<word>routing|aba|rtn|routing_number|routing_no|bank_routing)($|_)"),
        lambda v: aba_checksum_ok(digits_of(v)) and len(v.strip()) <= 11,
        0.9,
        "checksum (ABA routing) passed",
    ),
    FieldRule(
        "US_BANK_NUMBER",
        _name(
            r"(^|_)(?P<word>acct|acct_no|acct_num|account_number|account_no|accountnumber|bank_account"
            r"|bank_account_number|checking|savings|checking_account|savings_account|dda)($|_)"
        ),
        _digits_between(6, 17),
        0.8,
        "6 to 17 digits",
    ),
    FieldRule(
        "DATE_OF_BIRTH",
        _name(r"(^|_)(?P<word>dob|birth|birthdate|birthday|date_of_birth|birth_date|born)($|_)"),
        looks_like_date,
        0.9,
        "a calendar date",
    ),
    FieldRule(
        "PERSON",
        _name(
            r"^(?!.*(user|file|product|company|business|host|domain|display|brand|item|"
            r"service|plan|queue|team|bank|street|city|device|app|event|field|tag|sku|model)).*"
            r"(^|_)(?P<word>name|first_name|last_name|full_name|given_name|family_name|middle_name|"
            r"surname|firstname|lastname|fullname|customer_name|caller|caller_name|"
            r"cardholder|card_holder|account_holder|contact_name|recipient|beneficiary)$"
        ),
        lambda v: bool(_NAME_VALUE.fullmatch(v.strip())) and len(v.strip()) >= 2,
        0.85,
        "one to five words of letters",
    ),
    FieldRule(
        "STREET_ADDRESS",
        _name(
            r"^(?!.*(ip|mac|email|e_mail|web|url|wallet|ipv4|ipv6|remote|server|host))"
            r".*(^|_)(?P<word>address|addr|street|street_address|address_line|address_line1|"
            r"address_line_1|address1|line1|mailing_address|billing_address|shipping_address|"
            r"home_address)($|_)"
        ),
        lambda v: bool(_ADDRESS_VALUE.fullmatch(v.strip())),
        0.8,
        "digits and words, like an address",
    ),
    FieldRule(
        "PHONE_NUMBER",
        _name(
            r"(^|_)(?P<word>phone|mobile|tel|telephone|cell|fax|phone_number|msisdn|callback)($|_)"
        ),
        _digits_between(7, 15),
        0.8,
        "7 to 15 digits",
    ),
    FieldRule(
        "EMAIL_ADDRESS",
        _name(r"(^|_)(?P<word>email|e_mail|mail|email_address)($|_)"),
        lambda v: bool(re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]{2,}", v.strip())),
        0.9,
        "shaped like an email address",
    ),
)


def field_name(context: Sequence[str]) -> str:
    """The field name as words joined by '_' (`cardNumber` -> `card_number`), or ''."""
    return "_".join(context[1:]) if len(context) > 1 else (context[0] if context else "")


def field_findings(segments: Iterable[Segment], entities: frozenset[str]) -> list[Finding]:
    """Findings for values whose field name and shape say what they are."""
    rules = [r for r in FIELD_RULES if r.entity in entities]
    found: list[Finding] = []
    if not rules:
        return found
    named_by: dict[tuple[str, ...], list[tuple[FieldRule, re.Match[str]]]] = {}
    for segment in segments:
        matching = named_by.get(segment.context)
        if matching is None:  # once per field: a CSV column is thousands of segments
            name = field_name(segment.context)
            searched = ((rule, rule.names.search(name)) for rule in rules) if name else ()
            matching = named_by[segment.context] = [(r, m) for r, m in searched if m]
        for rule, named in matching:
            if rule.accepts(segment.text):
                start, end = _trimmed(segment.text)
                # The keyword is one of the rule's own words, not text from the message.
                why = f"field name '{named['word']}'; value: {rule.evidence}"
                found.append(
                    Finding(rule.entity, segment.location, start, end, rule.score, RECOGNIZER, why)
                )
    return found


def _trimmed(text: str) -> tuple[int, int]:
    start = len(text) - len(text.lstrip())
    end = len(text.rstrip())
    return start, max(end, start)


# Letters, with the apostrophes, hyphens, dots, commas and spaces names have; no digits, no
# underscores (spaCy tags identifiers such as `test_gzip_body` as people).
_PERSON_SPAN = re.compile(r"[^\W\d_](?:[^\W\d_]|['.,\s-])*")
# Words the small model tags as names in support tickets ("Password reset", "Hi Team").
_NOT_NAMES = frozenset({"password", "team", "hi", "hello", "thanks", "regards", "customer"})


_AMOUNT = re.compile(r"[$€£]?\s?\d{1,3}(?:[,.]\d{3})*[.,]\d{2}")
# Field names that say a value is not personal data: numbers in them are not phone or account
# numbers, whatever their shape.
_NON_PII_FIELD = re.compile(
    r"(^|_)(total|amount|price|cost|balance|fee|tax|subtotal|qty|quantity|count|tracking|"
    r"tracking_number|tracking_no|order|order_id|order_number|order_no|sku|ticket|ticket_id|"
    r"invoice|invoice_number|case_ref|reference|ref|agent_id|parcel|shipment|awb|"
    r"epoch|timestamp|ts|unix_time|unixtime|time_ms|created_at|updated_at|expires_at)$"
)


def non_pii_field(context: Sequence[str]) -> bool:
    """True when the field name says its values are not personal (an amount, a count, an id)."""
    return bool(_NON_PII_FIELD.search(field_name(context)))


def contradicted_by_field(entity: str, context: Sequence[str]) -> bool:
    """True when the field name says the value is something else (an amount, an order id).

    Only for entity types whose patterns are weak on numbers; a card or SSN with a valid
    checksum is reported whatever its field is called.
    """
    return entity in ("PHONE_NUMBER", "US_BANK_NUMBER", "DATE_OF_BIRTH") and bool(
        _NON_PII_FIELD.search(field_name(context))
    )


def plausible(entity: str, text: str, start: int, end: int) -> bool:
    """False for matches that are part of a larger identifier, not PII of their own.

    Phone numbers inside order numbers (`ORD-2026-000417`) and "names" with digits in them
    (`SKU-88-AX`, as the small NER model sometimes says) are the usual false positives on
    call-centre data.
    """
    if entity == "PERSON":
        name = text[start:end]
        return bool(_PERSON_SPAN.fullmatch(name)) and name.lower() not in _NOT_NAMES
    if entity == "PHONE_NUMBER":
        span = text[start:end].strip()
        if _AMOUNT.fullmatch(span) or not 7 <= len(digits_of(span)) <= 15:
            return False  # an amount, or more digits than any E.164 number has
        if span.isdigit() and len(span) < 10:
            return False  # a bare short number is an id (`/orders/03924971`), not a phone
        after = text[end : end + 1]
        return not _glued_before(text, start) and not (after.isalnum() and not after.isdigit())
    return True
