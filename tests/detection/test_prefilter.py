"""Tests for dlp_proxy/detection/prefilter.py: entity types ruled out by what a text lacks,
and the parts of a text NER reads for names.

The soundness test holds the prefilter to Presidio itself: for texts built around each limit,
Presidio's full pipeline (every recognizer, the whole spaCy model) must find nothing of a type
the prefilter ruled out.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlp_proxy.detection.detector import LANGUAGE
from dlp_proxy.detection.prefilter import (
    PROPER_NOUN_ENTITIES,
    TextProfile,
    name_windows,
    possible_entities,
    profile,
)
from dlp_proxy.detection.presidio import DEFAULT_MODEL, PresidioDetector
from dlp_proxy.detection.recognizers import plausible

ALL = frozenset(
    {
        "CREDIT_CARD",
        "US_SSN",
        "US_ITIN",
        "ABA_ROUTING_NUMBER",
        "UK_NHS",
        "US_BANK_NUMBER",
        "US_PASSPORT",
        "PHONE_NUMBER",
        "DATE_OF_BIRTH",
        "IBAN_CODE",
        "STREET_ADDRESS",
        "EMAIL_ADDRESS",
        "IP_ADDRESS",
        "URL",
        "US_DRIVER_LICENSE",
        "PERSON",
        "custom:acme",
    }
)


def test_profile_counts_digits_of_any_script() -> None:
    """Presidio's `\\d` matches every Unicode digit, so the count does too."""
    assert profile("a1b2 ٣").digits == 3
    assert profile("x@y.z:1") == TextProfile(digits=1, at_sign=True, colon=True, dot=True)


@pytest.mark.parametrize(
    ("text", "kept", "ruled_out"),
    [
        ("billing", {"PERSON", "US_DRIVER_LICENSE", "custom:acme"}, {"PHONE_NUMBER", "URL"}),
        ("55-0142", {"STREET_ADDRESS", "DATE_OF_BIRTH", "IBAN_CODE"}, {"PHONE_NUMBER"}),
        ("555-0142", {"PHONE_NUMBER"}, {"US_BANK_NUMBER", "US_SSN"}),
        ("415-555-0142", {"US_SSN", "UK_NHS"}, {"CREDIT_CARD"}),
        ("219-09-9999", {"US_SSN", "ABA_ROUTING_NUMBER"}, {"CREDIT_CARD", "UK_NHS"}),
        ("4111 1111 1111", {"CREDIT_CARD", "UK_NHS"}, {"EMAIL_ADDRESS"}),
        ("a@b", {"EMAIL_ADDRESS"}, {"IP_ADDRESS", "URL"}),
        ("fe80::1", {"IP_ADDRESS"}, {"PHONE_NUMBER"}),
        ("10.0.0.1", {"IP_ADDRESS", "URL"}, {"US_BANK_NUMBER"}),
    ],
)
def test_possible_entities(text: str, kept: set[str], ruled_out: set[str]) -> None:
    """Each type is kept exactly when the text has what its recognizers need."""
    possible = possible_entities(profile(text), ALL)
    assert kept <= possible
    assert not ruled_out & possible


def test_unknown_types_are_always_possible() -> None:
    """Types the prefilter knows nothing about (custom, new Presidio ones) are never dropped."""
    assert possible_entities(profile(""), frozenset({"custom:x", "MEDICAL_LICENSE"})) == {
        "custom:x",
        "MEDICAL_LICENSE",
    }


@pytest.fixture(scope="module")
def detector() -> PresidioDetector:
    return PresidioDetector(DEFAULT_MODEL)


_PIECES = st.sampled_from(
    [
        *"0123456789",
        *"0123456789",
        " ",
        "-",
        ".",
        "/",
        ":",
        "@",
        "+",
        "(",
        ")",
        "ssn ",
        "phone ",
        "card ",
        "born ",
        "account ",
        "ip ",
        "Elm Street ",
        "x",
        "GB",
        "maria@example.com",
        "192.168.",
        "4111",
    ]
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(_PIECES, max_size=24).map("".join))
def test_ruled_out_types_are_never_found(detector: PresidioDetector, text: str) -> None:
    """What the prefilter rules out, Presidio's full pipeline does not find either."""
    builtin = ALL - {"custom:acme", "PERSON"}
    ruled_out = builtin - possible_entities(profile(text), builtin)
    if not ruled_out:
        return
    results = detector._engine.analyze(text, LANGUAGE, entities=sorted(ruled_out))
    found = [
        (r.entity_type, text[r.start : r.end])
        for r in results
        if r.score > 0 and plausible(r.entity_type, text, r.start, r.end)
    ]
    assert found == []


@pytest.mark.parametrize(
    ("text", "windows"),
    [
        ("Nothing here. None at all. Thanks, hi and bye.", []),
        ("The sync stops. Please advise. Since the update it fails.", []),
        ("Since the update, Maria cannot sync.", ["Since the update, Maria cannot sync."]),
        (
            "Maria called. It works. Robert Chen called back.",
            ["Maria called.", "Robert Chen called back."],
        ),
        ("Maria called. Robert Chen called back.", ["Maria called. Robert Chen called back."]),
        ("So I said I would. OK then", []),
        ("Line one\nCustomer: José Núñez\nThe end.", ["Line one\nCustomer: José Núñez"]),
        ("Ólafur called", ["Ólafur called"]),
        ("4 users hit it. The end", ["4 users hit it. The end"]),
        ("billing", []),
        ("The October invoice is due on Monday.", []),  # days and months are not names
        ("The invoice is due in June.", ["The invoice is due in June."]),  # June may be
        ("maria", []),  # one lower-case word: not looked at
        ("Maria", ["Maria"]),
        ("C-0000123", []),
        # A transcript's role labels are not words of the sentence; a name as a label is.
        ("Agent: Thank you. Customer: Great, thanks.", []),
        ("Agent: Who is this?\nCustomer: Maria Gonzalez.", ["Customer: Maria Gonzalez."]),
        ("Maria: Hi there.", ["Maria: Hi there."]),
        # A writer who does not capitalise: the whole text.
        ("hi, this is maria. I paid twice.", ["hi, this is maria. I paid twice."]),
        ("  the agent spoke to robert chen  ", ["the agent spoke to robert chen"]),
        ("mobile data", ["mobile data"]),
    ],
)
def test_name_windows(text: str, windows: list[str]) -> None:
    """Sentences with a word that could be a proper noun, neighbours merged."""
    assert [text[s:e] for s, e in name_windows(text)] == windows


@given(st.text(max_size=200))
def test_name_windows_are_ordered_spans_of_the_text(text: str) -> None:
    """Windows never overlap, stay inside the text, and hold no leading or trailing space."""
    last = 0
    for start, end in name_windows(text):
        assert last <= start < end <= len(text)
        assert text[start:end] == text[start:end].strip() or not text[start:end].strip()
        last = end


def test_proper_noun_types_are_ner_types() -> None:
    """The proper-noun types are the NER types but DATE_TIME, which needs no capital."""
    from dlp_proxy.detection.presidio import NER_ENTITIES

    assert {"DATE_TIME"} == NER_ENTITIES - PROPER_NOUN_ENTITIES
