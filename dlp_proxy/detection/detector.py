"""The detector seam: what a `Detector` is given (`Segment`s) and what it returns (`Finding`s).

The rest of dlp-proxy only sees `Detector.detect(segments, entities, min_score, detectors)`.
The codecs make segments, the core asks a detector about them; `presidio.PresidioDetector` is
the real detector, and unit tests use a small scripted one (`tests/support.py`). The types live
here, apart from either side, so that neither imports the other to name them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from dlp_proxy.policy.model import CustomDetector

__all__ = [
    "CUSTOM_PREFIX",
    "LANGUAGE",
    "NAME_MARK",
    "SEP",
    "WHOLE_PREFIX",
    "Detector",
    "Finding",
    "Segment",
    "custom_recognizer_name",
]

# The language every text is analysed in.
LANGUAGE = "en"
CUSTOM_PREFIX = "custom:"

# The grammar of locations that both sides read (the codecs write them, `structure` reads them):
# SEP joins a value's location to a location inside the document nested in it. No location a
# format generates contains it: JSON keys and field names that do are escaped.
SEP = ">"
# Marks the location of a name (a JSON key, a form field's name, an XML element's tag) as that of
# the value it names plus this suffix: `$.customer.ssn#name` is the key `ssn`. Names that hold
# `#` are written `%23` in locations, so the suffix is never part of a name.
NAME_MARK = "#name"
# The second, whole-text reading of a structured body: `whole:0`, `whole:1` ...
WHOLE_PREFIX = "whole:"


@dataclass(frozen=True)
class Segment:
    """A piece of text to inspect: where it is, what it says, and the words around it.

    `field` is the schema-level name of where it is, shared by every value of that field in the
    document (`$.customers[*].email` for `$.customers[3].email`); the codecs, which make
    segments, say how each format names its locations and fields.

    `rewritable` is False for text the message's format cannot carry changed (an XML element
    name, a whole-body second reading): a finding there that a rule would redact or encrypt
    blocks the message instead.

    `analyzed` is False for a short number (`42`, one digit of an array) that no recognizer
    could make anything of alone: it is listed only so that an identifier split over several
    fields can be joined again (`detection.structure`), and recognizers skip it.
    """

    location: str
    text: str
    context: tuple[str, ...] = ()
    field: str = ""
    rewritable: bool = True
    analyzed: bool = True


@dataclass(frozen=True)
class Finding:
    """One detected entity: what it is, where (segment location and character span), how sure.

    `recognizer` names what found it (`custom:<id>` for a policy's detector); `why` says, for
    the people reading incidents, what evidence there was, without any of the text.
    """

    entity: str
    location: str
    start: int
    end: int
    score: float
    recognizer: str = ""
    # Why it was found, for compliance staff: never any of the text (it is logged).
    why: str = ""


class Detector(Protocol):
    """Finds entities in text segments."""

    def detect(
        self,
        segments: Sequence[Segment],
        entities: frozenset[str],
        min_score: float,
        detectors: tuple[CustomDetector, ...] = (),
    ) -> list[Finding]:
        """Every finding of one of `entities` scoring at least `min_score`, in any segment.

        `detectors` are the policy's custom detectors; those whose entity is not in `entities`
        do not run.
        """
        ...


def custom_recognizer_name(detector: CustomDetector) -> str:
    """The `recognizer` of a custom detector's findings: `custom:` and the detector's id."""
    return f"{CUSTOM_PREFIX}{detector.id}"
