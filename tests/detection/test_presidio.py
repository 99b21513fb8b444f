"""Tests for dlp_proxy/detection/presidio.py: the Presidio detector, offline, with field-name
context, policy-declared custom detectors and the `why` of every finding."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap
from dataclasses import replace

import pytest
from faker import Faker

from dlp_proxy.core.codecs import Segment, context_words
from dlp_proxy.detection.detector import Finding
from dlp_proxy.detection.presidio import (
    CUSTOM_CACHE_SIZE,
    DEFAULT_MODEL,
    NER_ENTITIES,
    PRESIDIO_CEILING,
    PresidioDetector,
)
from dlp_proxy.errors import AnalyzerFailure, DetectorError
from dlp_proxy.policy.model import CustomDetector, DetectorPattern, Validator
from tests.support import ScriptedDetector


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


def test_ner_uses_numpy_blas_and_finds_what_blis_finds(detector: PresidioDetector) -> None:
    """`use_numpy_blas`: the detector's model multiplies with numpy's BLAS, not thinc's BLIS,
    and NER finds the same entities both ways in every text of the evaluation corpus, as
    written and lower-cased."""
    import spacy
    from thinc.api import use_ops

    from bench.corpus import DEFAULT_SEED, generate
    from bench.name_windows import case_texts

    assert detector._nlp.get_pipe("ner").model.ops.use_blis is False
    with use_ops("numpy", use_blis=True):
        blis = spacy.load(DEFAULT_MODEL, enable=["ner"])
    with use_ops("numpy", use_blis=False):
        numpy = spacy.load(DEFAULT_MODEL, enable=["ner"])
    assert blis.get_pipe("ner").model.ops.use_blis is True
    texts = list(case_texts(generate(DEFAULT_SEED)))
    texts += [text.lower() for text in texts]

    def entities(nlp: spacy.Language) -> list[list[tuple[int, int, str]]]:
        return [[(e.start_char, e.end_char, e.label_) for e in doc.ents] for doc in nlp.pipe(texts)]

    found = entities(numpy)
    assert sum(map(len, found)) > 1000  # the corpus has names, places, dates for NER
    assert found == entities(blis)


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
        from dlp_proxy.detection.detector import Segment
        from dlp_proxy.detection.presidio import PresidioDetector
        from dlp_proxy.policy.model import KNOWN_ENTITIES
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


class _Recording:
    """A pipeline component that records the texts it is given, then runs the real one."""

    def __init__(self, component: object, seen: list[str]) -> None:
        self.component = component
        self.seen = seen

    def pipe(self, docs, **kwargs):  # type: ignore[no-untyped-def]
        docs = list(docs)
        self.seen.extend(d.text for d in docs)
        return self.component.pipe(docs, **kwargs)  # type: ignore[attr-defined]


@pytest.fixture
def ner_inputs(detector: PresidioDetector, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts the NER model is given, recorded."""
    seen: list[str] = []
    components = [
        (name, _Recording(c, seen) if name == "ner" else c) for name, c in detector._ner_components
    ]
    assert [name for name, _ in components] == ["ner"]  # the small model's NER stands alone
    monkeypatch.setattr(detector, "_ner_components", components)
    return seen


def test_ner_runs_only_when_a_rule_needs_it(
    detector: PresidioDetector, ner_inputs: list[str]
) -> None:
    """NER is skipped for pattern-only entity sets and runs when PERSON is asked for."""
    text = "Maria Gonzalez, card 4111 1111 1111 1111"
    segments = [Segment("text:0", text)]
    only_cards = detector.detect(segments, frozenset({"CREDIT_CARD"}), 0.4)
    assert [f.entity for f in only_cards] == ["CREDIT_CARD"]
    assert ner_inputs == []
    both = detector.detect(segments, frozenset({"CREDIT_CARD", "PERSON"}), 0.4)
    assert sorted(f.entity for f in both) == ["CREDIT_CARD", "PERSON"]
    assert ner_inputs == [text]


def test_ner_reads_only_sentences_that_could_hold_a_name(
    detector: PresidioDetector, ner_inputs: list[str]
) -> None:
    """In a capitalised text, sentences with no capitalised word (past a leading function word)
    never reach NER; the names found in the others are placed in the whole text."""
    text = (
        "The sync stops after the update. Please advise on a fix.\n"
        "Agent: I spoke to Maria Gonzalez about it. She will call back."
    )
    found = detector.detect([Segment("text:0", text)], frozenset({"PERSON"}), 0.4)
    assert ner_inputs == ["Agent: I spoke to Maria Gonzalez about it."]
    assert [text[f.start : f.end] for f in found] == ["Maria Gonzalez"]
    ner_inputs.clear()
    no_names = [Segment("$.note", "Nothing here, none.")]
    assert detector.detect(no_names, frozenset({"PERSON"}), 0.4) == []
    assert ner_inputs == []


def test_names_in_lower_case_text_are_found(
    detector: PresidioDetector, ner_inputs: list[str]
) -> None:
    """A writer who does not capitalise sentences does not capitalise names: all NER."""
    text = "hi this is maria gonzalez, i was charged twice"
    found = detector.detect([Segment("text:0", text)], frozenset({"PERSON"}), 0.4)
    assert ner_inputs == [text]
    assert [text[f.start : f.end] for f in found] == ["maria gonzalez"]


def test_a_date_time_rule_sends_the_whole_text_to_ner(
    detector: PresidioDetector, ner_inputs: list[str]
) -> None:
    """DATE_TIME is not a proper noun: the sentence filter does not apply to it."""
    text = "refund it within five working days"
    found = detector.detect([Segment("text:0", text)], frozenset({"DATE_TIME"}), 0.4)
    assert ner_inputs == [text]
    assert [f.entity for f in found] == ["DATE_TIME"]


def test_repeated_values_are_analysed_once(
    detector: PresidioDetector, ner_inputs: list[str]
) -> None:
    """The same value in the same field, many times in one message: one analysis, every place
    reported."""
    segments = [Segment(f"$.rows[{i}].note", "Maria Gonzalez", ("note",)) for i in range(50)]
    found = detector.detect(segments, frozenset({"PERSON"}), 0.4)
    assert ner_inputs == ["Maria Gonzalez"]
    assert {f.location for f in found if f.recognizer == "SpacyRecognizer"} == {
        s.location for s in segments
    }


def test_a_field_name_finding_settles_its_type(
    detector: PresidioDetector, ner_inputs: list[str]
) -> None:
    """A name in a `name` field is a PERSON by its field (score 0.85, all NER could give):
    NER does not read it. The email in an `email` field is still asked of Presidio, whose
    validated score (1.0) is higher than the field's (0.9)."""
    segments = [
        Segment("$.name", "Maria Gonzalez", ("name",)),
        Segment("$.email", "maria@example.com", ("email",)),
    ]
    found = detector.detect(segments, frozenset({"PERSON", "EMAIL_ADDRESS"}), 0.4)
    assert ner_inputs == []
    assert {(f.location, f.recognizer) for f in found} == {
        ("$.name", "FieldNameRecognizer"),
        ("$.email", "FieldNameRecognizer"),
        ("$.email", "EmailRecognizer"),
    }


def test_presidio_ceilings_are_presidio_s_highest_scores() -> None:
    """PRESIDIO_CEILING holds: the phone recognizer's score plus the context enhancer's
    boost, and the score Presidio gives spaCy's entities."""
    from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
    from presidio_analyzer.nlp_engine import SpacyNlpEngine
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    boost = LemmaContextAwareEnhancer().context_similarity_factor
    assert PhoneRecognizer.SCORE + boost <= PRESIDIO_CEILING["PHONE_NUMBER"]
    engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": DEFAULT_MODEL}])
    assert engine.ner_model_configuration.default_score <= PRESIDIO_CEILING["PERSON"]


def test_short_values_of_one_field_are_analysed_together(detector: PresidioDetector) -> None:
    """Values of one field are joined for one analysis; each finding lands in its own value,
    at its own offsets, and a context word in one value does not raise a match in the next."""
    texts = [f"ref {n}" for n in ("born 1984-07-12", "1990-01-02", "415-555-0142", "x")]
    segments = [Segment(f"csv:r{i}.c1", t, ("note",)) for i, t in enumerate(texts)]
    found = detector.detect(segments, frozenset({"DATE_OF_BIRTH", "PHONE_NUMBER"}), 0.0)
    placed = {(f.location, f.entity, texts[int(f.location[5])][f.start : f.end]) for f in found}
    assert placed == {
        ("csv:r0.c1", "DATE_OF_BIRTH", "1984-07-12"),
        ("csv:r1.c1", "DATE_OF_BIRTH", "1990-01-02"),
        ("csv:r2.c1", "PHONE_NUMBER", "415-555-0142"),
    }
    scores = {f.location: f.score for f in found if f.entity == "DATE_OF_BIRTH"}
    assert scores["csv:r0.c1"] > scores["csv:r1.c1"]  # "born" counts for its own value only
    alone = detector.detect(segments[1:2], frozenset({"DATE_OF_BIRTH"}), 0.0)
    assert scores["csv:r1.c1"] == alone[0].score


def test_context_words_are_matched_in_inflected_forms(detector: PresidioDetector) -> None:
    """Context is read from the lower-cased words before a match: "phoned" holds "phone",
    "born" is a birth-date context word as written."""
    weak = detector.detect([Segment("text:0", "ref 1984-07-12")], frozenset({"DATE_OF_BIRTH"}), 0.0)
    born = detector.detect(
        [Segment("text:0", "she was born 1984-07-12")], frozenset({"DATE_OF_BIRTH"}), 0.0
    )
    assert max(f.score for f in born) > max(f.score for f in weak) + 0.3
    assert "context word 'born' nearby" in born[0].why


# --- custom detectors declared in policies -------------------------------------------------

ACME = CustomDetector(
    id="acme-customer-id",
    entity="ACME_CUSTOMER_ID",
    patterns=(DetectorPattern("acme_id", r"\bAC-\d{8}\b", 0.3),),
    context=("customer",),
)


def _spans(text: str, findings: list[Finding]) -> list[tuple[str, str, float, str]]:
    return sorted(
        (f.entity, text[f.start : f.end], round(f.score, 2), f.recognizer) for f in findings
    )


def test_custom_pattern_is_found_with_its_score(detector: PresidioDetector) -> None:
    """A policy's regex finds its entity at the pattern's score, named after the detector."""
    text = "ticket for AC-12345678 today"
    found = detector.detect([Segment("text:0", text)], frozenset({ACME.entity}), 0.2, (ACME,))
    assert _spans(text, found) == [
        ("ACME_CUSTOMER_ID", "AC-12345678", 0.3, "custom:acme-customer-id")
    ]
    assert found[0].why == "pattern 'acme_id' matched (score 0.3)"


def test_custom_patterns_get_presidios_regex_flags(detector: PresidioDetector) -> None:
    """Patterns ignore case, `^` and `$` match at every line: Presidio's default regex flags."""
    lines = CustomDetector(
        id="ref", entity="ACME_REF", patterns=(DetectorPattern("line", r"^ref\d{4}$", 0.5),)
    )
    text = "ticket ac-12345678\nREF1234\nend"
    found = detector.detect(
        [Segment("text:0", text)], frozenset({"ACME_CUSTOMER_ID", "ACME_REF"}), 0.2, (ACME, lines)
    )
    assert [text[f.start : f.end] for f in sorted(found, key=lambda f: f.start)] == [
        "ac-12345678",
        "REF1234",
    ]


@pytest.mark.parametrize(
    ("segment", "where"),
    [
        (Segment("text:0", "customer ref AC-12345678"), "nearby"),
        (
            Segment("$.customer_ref", "AC-12345678", ("customer_ref", "customer", "ref")),
            "in field name",
        ),
    ],
)
def test_context_word_lifts_a_custom_match_over_the_threshold(
    detector: PresidioDetector, segment: Segment, where: str
) -> None:
    """A context word before the match or in the field name adds 0.35, enough for a 0.6 rule."""
    bare = Segment(segment.location, "ref AC-12345678", ("ref",))
    assert detector.detect([bare], frozenset({ACME.entity}), 0.6, (ACME,)) == []
    (finding,) = detector.detect([segment], frozenset({ACME.entity}), 0.6, (ACME,))
    assert finding.score == pytest.approx(0.65)
    assert (
        finding.why
        == f"pattern 'acme_id' matched (score 0.3); context word 'customer' {where} (+0.35)"
    )


VALIDATED = [
    (
        "luhn",
        r"\b\d{4}[ -]?\d{4}[ -]?\d{4}[ -]?\d{4}\b",
        "4111 1111 1111 1111",
        "4111 1111 1111 1112",
    ),
    ("aba_routing", r"\b\d{9}\b", "011000015", "011000016"),
    (
        "iban",
        r"\b[A-Z]{2}\d{2}[A-Z0-9]{11,30}\b",
        "DE89370400440532013000",
        "DE89370400440532013001",
    ),
    ("ssn", r"\b\d{3}-\d{2}-\d{4}\b", "536-90-4399", "219-09-9999"),
    ("ssn", r"\b\d{3}-\d{2}-\d{4}\b", "536-90-4399", "666-90-4399"),
]


@pytest.mark.parametrize(("validator", "regex", "good", "bad"), VALIDATED)
def test_custom_validators_keep_good_checksums_and_drop_bad(
    detector: PresidioDetector, validator: str, regex: str, good: str, bad: str
) -> None:
    """A match must pass the detector's checksum; one that does keeps its pattern's score."""
    custom = CustomDetector(
        id=f"acct-{validator}",
        entity="ACME_ACCOUNT",
        patterns=(DetectorPattern("acct", regex, 0.5),),
        validator=Validator(validator),
    )
    text = f"old {bad} new {good}"
    found = detector.detect([Segment("text:0", text)], frozenset({"ACME_ACCOUNT"}), 0.4, (custom,))
    assert [(text[f.start : f.end], f.score) for f in found] == [(good, 0.5)]
    assert found[0].why.startswith("pattern 'acct' matched (score 0.5); checksum (")


def test_deny_list_values_match_whole_words_in_any_case(detector: PresidioDetector) -> None:
    """Deny list values are found as whole words, ignoring case, and skip the validator."""
    falcon = CustomDetector(
        id="codenames",
        entity="ACME_CODENAME",
        patterns=(DetectorPattern("card", r"\b\d{16}\b", 0.5),),
        validator=Validator.LUHN,
        deny_list=("Project Falcon", "X-17"),
        deny_list_score=0.7,
    )
    text = "PROJECT FALCON, project falcon, Project Falconry, x-17, X-170, 1234567812345678"
    found = detector.detect([Segment("text:0", text)], frozenset({"ACME_CODENAME"}), 0.4, (falcon,))
    assert _spans(text, found) == [
        ("ACME_CODENAME", "PROJECT FALCON", 0.7, "custom:codenames"),
        ("ACME_CODENAME", "project falcon", 0.7, "custom:codenames"),
        ("ACME_CODENAME", "x-17", 0.7, "custom:codenames"),
    ]
    assert {f.why for f in found} == {"deny list value (score 0.7)"}


def test_custom_detector_for_an_unrequested_entity_does_not_run(
    detector: PresidioDetector, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A detector whose entity no rule asks for is neither run nor reported."""
    (recognizer,) = detector.custom_recognizers((ACME,)).recognizers
    runs: list[str] = []
    original = recognizer.analyze

    def counting(*args: object, **kwargs: object) -> object:
        runs.append("ran")
        return original(*args, **kwargs)

    monkeypatch.setattr(recognizer, "analyze", counting)
    segments = [Segment("text:0", "customer AC-12345678, ssn 536-90-4399")]
    found = detector.detect(segments, frozenset({"US_SSN"}), 0.4, (ACME,))
    assert {f.entity for f in found} == {"US_SSN"}
    assert runs == []
    detector.detect(segments, frozenset({"US_SSN", ACME.entity}), 0.4, (ACME,))
    assert runs == ["ran"]


def test_custom_recognizers_are_built_once_per_detectors_tuple(detector: PresidioDetector) -> None:
    """An equal tuple (the policy re-sent to the worker) hits the cache; the cache is bounded."""
    first = detector.custom_recognizers((ACME,))
    resent = pickle.loads(pickle.dumps((ACME,)))
    assert resent == (ACME,)
    assert resent[0] is not ACME
    assert detector.custom_recognizers(resent) is first
    text = [Segment("text:0", "AC-12345678")]
    detector.detect(text, frozenset({ACME.entity}), 0.2, resent)
    assert detector.custom_recognizers((ACME,)) is first
    others = [(replace(ACME, id=f"acme-{i}"),) for i in range(CUSTOM_CACHE_SIZE + 1)]
    for tup in others:
        detector.custom_recognizers(tup)
    assert len(detector._custom_cache) == CUSTOM_CACHE_SIZE
    assert detector.custom_recognizers((ACME,)) is not first  # least recently used: evicted


def test_custom_findings_skip_the_builtin_plausibility_filters(detector: PresidioDetector) -> None:
    """A policy's own PHONE_NUMBER pattern is reported even in a field named `order_id`."""
    extension = CustomDetector(
        id="ext", entity="PHONE_NUMBER", patterns=(DetectorPattern("ext", r"\bx\d{4}\b", 0.8),)
    )
    segment = Segment("$.order_id", "x1234", ("order_id", "order", "id"))
    found = detector.detect([segment], frozenset({"PHONE_NUMBER"}), 0.4, (extension,))
    assert [(f.recognizer, f.score) for f in found] == [("custom:ext", 0.8)]


def test_entity_no_recognizer_can_find_fails_closed(detector: PresidioDetector) -> None:
    """Asking for a custom entity type without its detector is an AnalyzerFailure, not a miss."""
    with pytest.raises(AnalyzerFailure, match="no recognizer for entity types ACME_CUSTOMER_ID"):
        detector.detect([Segment("text:0", "AC-12345678")], frozenset({ACME.entity, "US_SSN"}), 0.4)


# --- why a finding was made --------------------------------------------------------------------

WHY_ENTITIES = frozenset(
    {
        "PERSON",
        "EMAIL_ADDRESS",
        "PHONE_NUMBER",
        "US_SSN",
        "CREDIT_CARD",
        ACME.entity,
        "ACME_CODENAME",
    }
)
CODENAMES = CustomDetector(
    id="codenames", entity="ACME_CODENAME", deny_list=("Project Falcon",), deny_list_score=0.9
)


def test_why_names_each_kind_of_evidence(detector: PresidioDetector) -> None:
    """Patterns, checksums, context, NER, field names, split cards and deny lists all say why."""
    segments = [
        Segment("text:0", "Maria Gonzalez paid with card 4111 1111 1111 1111, ssn 536-90-4399"),
        Segment("text:1", "customer AC-12345678 asked about Project Falcon"),
        Segment("$.email", "maria@example.com", ("email",)),
        Segment("$.pay.card_1", "4111 1111", ("card_1", "card")),
        Segment("$.pay.card_2", "1111 1111", ("card_2", "card")),
    ]
    found = detector.detect(segments, WHY_ENTITIES, 0.4, (ACME, CODENAMES))
    whys = {(f.entity, f.recognizer): f.why for f in found}
    assert whys[("PERSON", "SpacyRecognizer")].startswith("spaCy NER (PERSON, score ")
    # Presidio's card recognizer or ours, whichever its de-duplication keeps
    (card,) = [f for f in found if (f.entity, f.location) == ("CREDIT_CARD", "text:0")]
    assert "validation passed (score 1)" in card.why
    assert whys[("US_SSN", "UsSsnRecognizer")] == (
        "pattern 'SSN5 (medium)' matched (score 0.5); context word 'ssn' nearby (+0.35)"
    )
    assert whys[("EMAIL_ADDRESS", "FieldNameRecognizer")] == (
        "field name 'email'; value: shaped like an email address"
    )
    assert whys[("CREDIT_CARD", "SplitValueRecognizer")].startswith(
        "split card across fields $.pay.card_1, $.pay.card_2"
    )
    assert "context word 'customer' nearby" in whys[(ACME.entity, "custom:acme-customer-id")]
    assert whys[("ACME_CODENAME", "custom:codenames")] == "deny list value (score 0.9)"
    assert all(f.why for f in found)


def test_why_never_quotes_the_text(detector: PresidioDetector) -> None:
    """Over generated records, no finding's `why` contains the value it was found in."""
    fake = Faker("en_US")
    Faker.seed(20261129)
    for _ in range(15):
        record = {
            "name": fake.name(),
            "email": fake.email(),
            "ssn": fake.ssn(),
            "note": f"customer {fake.name()} gave AC-{fake.random_number(8, fix_len=True)} "
            f"and card {fake.credit_card_number('visa16')}, phone {fake.phone_number()} "
            "about Project Falcon",
        }
        segments = [Segment(f"$.{key}", value, context_words(key)) for key, value in record.items()]
        texts = {s.location: s.text for s in segments}
        found = detector.detect(segments, WHY_ENTITIES, 0.3, (ACME, CODENAMES))
        assert found
        for f in found:
            value = texts[f.location][f.start : f.end]
            assert f.why, f
            assert value.strip().lower() not in f.why.lower(), (f, value)


def test_scripted_detector_agrees_with_presidio_on_custom_detectors(
    detector: PresidioDetector,
) -> None:
    """The unit tests' scripted detector finds what Presidio finds for simple custom detectors."""
    codes = CustomDetector(
        id="codes",
        entity="ACME_CODE",
        patterns=(DetectorPattern("code", r"\b\d{16}\b", 0.5),),
        context=("card",),
        validator=Validator.LUHN,
        deny_list=("Project Falcon",),
        deny_list_score=0.7,
    )
    segments = [
        Segment("text:0", "card 4111111111111111 or 4111111111111112, PROJECT FALCON"),
        Segment("text:1", "customer ac-12345678, project falconry"),
    ]
    entities = frozenset({"ACME_CODE", ACME.entity})

    def spans(found: list[Finding]) -> set[tuple[str, int, int, str, float]]:
        return {(f.location, f.start, f.end, f.recognizer, round(f.score, 2)) for f in found}

    scripted = ScriptedDetector(patterns={}).detect(segments, entities, 0.2, (codes, ACME))
    real = detector.detect(segments, entities, 0.2, (codes, ACME))
    assert spans(scripted) == spans(real)
    assert len(real) == 3
    assert all(f.why for f in scripted)


def test_weak_types_are_not_asked_without_a_context_word(detector: PresidioDetector) -> None:
    """A date scores 0.05 as a birth date unless a context word raises it: with no such word
    in the text or field name, and a threshold above 0.05, the type is not asked at all."""
    assert detector._weak["DATE_OF_BIRTH"][0] == 0.05
    assert "born" in detector._weak["DATE_OF_BIRTH"][1]
    assert detector._weak["US_BANK_NUMBER"][0] == 0.05
    plain = Segment("csv:r1.c7", "2019-05-12", ("signup_date", "signup", "date"))
    asked = frozenset({"DATE_OF_BIRTH", "US_BANK_NUMBER"})
    assert detector._hopeless(plain, asked, 0.4) == {"DATE_OF_BIRTH", "US_BANK_NUMBER"}
    assert detector._hopeless(plain, asked, 0.05) == set()  # the score alone is enough
    named = replace(plain, context=("dob",))
    assert detector._hopeless(named, asked, 0.4) == {"US_BANK_NUMBER"}
    said = Segment("text:0", "she was born 2019-05-12, account 12345678")
    assert detector._hopeless(said, asked, 0.4) == set()
    found = detector.detect([said], frozenset({"DATE_OF_BIRTH"}), 0.4)
    assert [f.entity for f in found] == ["DATE_OF_BIRTH"]


def test_a_pattern_that_times_out_fails_the_message_closed(
    detector: PresidioDetector, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Presidio skips a regex that times out as if it found nothing: the detector refuses."""
    import presidio_analyzer.pattern_recognizer as patterns

    monkeypatch.setattr(patterns, "REGEX_TIMEOUT_SECONDS", 1e-9)
    text = "call 212-555-0199 about ssn 536-90-4399 " * 2000
    with pytest.raises(AnalyzerFailure, match="timed out"):
        detector.detect([Segment("text:0", text)], frozenset({"US_SSN"}), 0.4)
