"""Tests for dlp_proxy/detection/detector.py: the types that cross the detector seam."""

from __future__ import annotations

import pickle

from dlp_proxy.detection.detector import (
    Finding,
    Segment,
    custom_recognizer_name,
)
from dlp_proxy.policy.model import CustomDetector


def test_segment_field_defaults_to_empty() -> None:
    """`Segment(location, text, context)` still constructs, with the field empty."""
    assert Segment("$.a", "x", ("a",)).field == ""
    assert Segment("$.a", "x", field="$.a") != Segment("$.a", "x")


def test_custom_findings_name_their_detector() -> None:
    """A custom detector's findings name it: `custom:` and its id."""
    detector = CustomDetector(id="acme-ticket", entity="ACME_TICKET")
    assert custom_recognizer_name(detector) == "custom:acme-ticket"


def test_segments_and_findings_survive_the_trip_to_a_worker() -> None:
    """Both cross to the worker processes pickled, and come back equal and hashable."""
    segment = Segment("$.ssn", "219-09-9999", ("ssn",), "$.ssn")
    finding = Finding("US_SSN", "$.ssn", 0, 11, 0.85, "UsSsnRecognizer", "pattern 0.85")
    for value in (segment, finding):
        copy = pickle.loads(pickle.dumps(value))
        assert copy == value
        assert hash(copy) == hash(value)
