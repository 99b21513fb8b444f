"""Tests for dlp_proxy/detection.py: the Presidio detector, offline, with field-name context."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from dlp_proxy.codecs import Segment
from dlp_proxy.detection import DEFAULT_MODEL, NER_ENTITIES, PresidioDetector
from dlp_proxy.errors import DetectorError


@pytest.fixture(scope="module")
def detector() -> PresidioDetector:
    return PresidioDetector(DEFAULT_MODEL)


def _entities(findings: list) -> set[tuple[str, str]]:
    return {(f.entity, f.location) for f in findings}


def test_field_name_is_context_for_a_bare_ssn(detector: PresidioDetector) -> None:
    """A bare nine-digit value counts as an SSN when its field is called ssn, not otherwise."""
    segments = [
        Segment("$.ssn", "219099999", ("ssn",)),
        Segment("$.order", "219099999", ("order",)),
    ]
    found = detector.detect(segments, frozenset({"US_SSN"}), 0.4)
    assert _entities(found) == {("US_SSN", "$.ssn")}


def test_only_requested_entities_are_reported(detector: PresidioDetector) -> None:
    """Asking for CREDIT_CARD reports the card and not the email next to it."""
    text = "card 4111 1111 1111 1111, mail maria@example.com"
    found = detector.detect([Segment("text:0", text)], frozenset({"CREDIT_CARD"}), 0.4)
    assert [(f.entity, text[f.start : f.end]) for f in found] == [
        ("CREDIT_CARD", "4111 1111 1111 1111")
    ]
    assert found[0].recognizer in {"CreditCardRecognizer", "CardNumberRecognizer"}


def test_ner_finds_names_in_free_text(detector: PresidioDetector) -> None:
    """The spaCy model finds a person's name in a sentence."""
    text = "Customer Maria Gonzalez called about her refund."
    found = detector.detect([Segment("$.notes", text)], frozenset({"PERSON"}), 0.6)
    assert [text[f.start : f.end] for f in found] == ["Maria Gonzalez"]
    assert "PERSON" in NER_ENTITIES


def test_invalid_card_numbers_are_not_findings(detector: PresidioDetector) -> None:
    """A 16-digit order number that fails the Luhn check is not a card number."""
    found = detector.detect(
        [Segment("$.order", "4111111111111112")], frozenset({"CREDIT_CARD"}), 0.4
    )
    assert found == []


def test_missing_model_is_a_clear_error() -> None:
    """A model that is neither an installed package nor a directory is refused with a fix."""
    with pytest.raises(DetectorError, match="is not installed and is not a model directory"):
        PresidioDetector("en_core_web_nonexistent")


def test_detection_attempts_no_network_connection() -> None:
    """Building the detector and analysing emails and URLs opens no socket and resolves no name.

    Runs in a fresh interpreter with an audit hook, so nothing is imported or cached beforehand.
    """
    script = textwrap.dedent(
        """
        import json, sys
        events = []
        def hook(event, args):
            if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname",
                         "urllib.Request", "http.client.connect"):
                events.append([event, repr(args)[:200]])
        sys.addaudithook(hook)
        from dlp_proxy.codecs import Segment
        from dlp_proxy.detection import PresidioDetector
        from dlp_proxy.policy import KNOWN_ENTITIES
        detector = PresidioDetector()
        text = "Mail maria.gonzalez@example.co.uk or see https://shop.example.com/a, Maria Gonzalez"
        found = detector.detect([Segment("text:0", text)], KNOWN_ENTITIES, 0.3)
        print(json.dumps({"events": events, "entities": sorted({f.entity for f in found})}))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert "EMAIL_ADDRESS" in report["entities"]  # the email recognizer (tldextract) really ran
    assert report["events"] == []


def test_ner_runs_only_when_a_rule_needs_it(detector: PresidioDetector) -> None:
    """NER is skipped for pattern-only entity sets and kept when PERSON is asked for."""
    assert detector.pipes_not_needed(frozenset({"CREDIT_CARD", "US_SSN"})) == ["ner"]
    assert detector.pipes_not_needed(frozenset({"CREDIT_CARD", "PERSON"})) == []
    text = "Maria Gonzalez, card 4111 1111 1111 1111"
    segments = [Segment("text:0", text)]
    only_cards = detector.detect(segments, frozenset({"CREDIT_CARD"}), 0.4)
    assert [f.entity for f in only_cards] == ["CREDIT_CARD"]
    both = detector.detect(segments, frozenset({"CREDIT_CARD", "PERSON"}), 0.4)
    assert sorted(f.entity for f in both) == ["CREDIT_CARD", "PERSON"]
