"""Tests for dlp_proxy/detection/recognizers.py: checksums, own recognizers, field names,
custom detectors' recognizers and validators."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlp_proxy.core.codecs import Segment, context_words
from dlp_proxy.detection.recognizers import (
    NATIONAL_ONLY_SCORE,
    CardNumberRecognizer,
    DateOfBirthRecognizer,
    DetectorPatternRecognizer,
    DetectorRecognizers,
    InternationalStreetRecognizer,
    LazyNlpArtifacts,
    SeparatedBankNumberRecognizer,
    SeparatedIbanRecognizer,
    SeparatedSsnRecognizer,
    StreetAddressRecognizer,
    aba_checksum_ok,
    card_number_ok,
    contradicted_by_field,
    digits_of,
    field_findings,
    looks_like_date,
    luhn_ok,
    phone_windows,
    plausible,
    quick_phone_recognizer,
    ssn_ok,
    ssn_shape_ok,
    validator_accepts,
)
from dlp_proxy.policy.model import CustomDetector, DetectorPattern, Validator


@pytest.mark.parametrize(
    ("number", "ok"),
    [
        ("4111111111111111", True),
        ("4111111111111112", False),
        ("378282246310005", True),  # Amex, 15 digits
        ("5555555555554444", True),
        ("6011111111111117", True),
        ("1234567812345670", False),  # Luhn-valid but no card network starts with 1
        ("41111111111111", False),  # Visa prefix, wrong length
    ],
)
def test_card_numbers_need_network_prefix_length_and_luhn(number: str, ok: bool) -> None:
    """Only digit strings a card network could issue pass."""
    assert card_number_ok(number) is ok
    if ok:
        assert luhn_ok(number)


@pytest.mark.parametrize(
    ("number", "ok"),
    [("011000015", True), ("021000021", True), ("011000016", False), ("911000015", False)],
)
def test_aba_routing_checksum(number: str, ok: bool) -> None:
    """ABA routing numbers have a 3-7-1 weighted checksum and a known first digit."""
    assert aba_checksum_ok(number) is ok


@pytest.mark.parametrize(
    ("number", "shape", "issued"),
    [
        ("536904399", True, True),
        ("000904399", False, False),
        ("666904399", False, False),
        ("936904399", False, False),
        ("536004399", False, False),
        ("536900000", False, False),
        ("219099999", True, False),  # the advertisement SSN: right shape, never issued
    ],
)
def test_ssn_rules(number: str, shape: bool, issued: bool) -> None:
    """Area, group and serial rules; famous void numbers have the shape but were never issued."""
    assert ssn_shape_ok(number) is shape
    assert ssn_ok(number) is issued


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("1984-03-05", True),
        ("03/05/1984", True),
        ("05.03.1984", True),
        ("March 5, 1984", True),
        ("5 Mar 1984", True),
        ("1984-13-45", False),
        ("2026-11-29T02:03:14Z", False),
        ("129.99", False),
    ],
)
def test_looks_like_date(value: str, ok: bool) -> None:
    """Whole calendar dates in common forms count; timestamps and amounts do not."""
    assert looks_like_date(value) is ok


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("card 4111 1111 1111 1111 ok", "4111 1111 1111 1111"),
        ("card 4111.1111.1111.1111 ok", "4111.1111.1111.1111"),
        ("card 4111-1111-1111-1111 ok", "4111-1111-1111-1111"),
        ("card 4111111111111111 ok", "4111111111111111"),
        ("order 4111111111111112 ok", None),
        ("mixed 4111 1111-1111.1111 ok", "4111 1111-1111.1111"),  # mixed: still a card
        ("amount 1,234.5678 and 12.5", None),
    ],
)
def test_card_recognizer_separators(text: str, found: str | None) -> None:
    """Cards are found with one consistent separator, and only when Luhn-valid."""
    results = CardNumberRecognizer().analyze(text, ["CREDIT_CARD"])
    assert [text[r.start : r.end] for r in results] == ([found] if found else [])


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("card 4111_1111_1111_1111 ok", "4111_1111_1111_1111"),
        ("card 4111/1111/1111/1111 ok", "4111/1111/1111/1111"),
        ("card 4111 - 1111 | 1111 - 1111 ok", "4111 - 1111 | 1111 - 1111"),
        ("card:\n4111\n1111\n1111\n1111\nok", "4111\n1111\n1111\n1111"),
        ("token pan4111111111111111exp", "4111111111111111"),
        ("order 4111_1111_1111_1112 ok", None),
        ("at 2026-11-14 10:30:45:123 ok", None),
    ],
)
def test_card_recognizer_odd_separators_and_glued_letters(text: str, found: str | None) -> None:
    """Underscores, slashes, spaced dashes and bars, line wraps, letters around: still a card,
    weak (context decides) unless written with spaces, dots or dashes."""
    results = CardNumberRecognizer().analyze(text, ["CREDIT_CARD"])
    assert {text[r.start : r.end] for r in results} == ({found} if found else set())
    strong = found is not None and found.isdigit()
    assert all((r.score == 1.0) is strong for r in results)


def test_date_of_birth_needs_context_to_score() -> None:
    """A bare date scores low; the same date next to 'born' or 'DOB' is boosted by Presidio."""
    recognizer = DateOfBirthRecognizer()
    (bare,) = recognizer.analyze("on 1984-03-05", ["DATE_OF_BIRTH"])
    assert bare.score == pytest.approx(0.05)
    assert recognizer.analyze("on 1984-13-45", ["DATE_OF_BIRTH"]) == []
    assert "dob" in recognizer.context


def test_street_addresses() -> None:
    """A number, capitalised street name and suffix, with unit, city, state and ZIP."""
    text = "lives at 8260 Garcia Roads Apt. 552, East Sarah, NV 12345 since May"
    (result,) = StreetAddressRecognizer().analyze(text, ["STREET_ADDRESS"])
    assert text[result.start : result.end] == "8260 Garcia Roads Apt. 552, East Sarah, NV 12345"
    assert StreetAddressRecognizer().analyze("we shipped 3 Large Boxes", ["STREET_ADDRESS"]) == []


ALL = frozenset(
    {
        "US_SSN",
        "CREDIT_CARD",
        "ABA_ROUTING_NUMBER",
        "US_BANK_NUMBER",
        "DATE_OF_BIRTH",
        "PERSON",
        "STREET_ADDRESS",
        "PHONE_NUMBER",
        "EMAIL_ADDRESS",
    }
)


@pytest.mark.parametrize(
    ("field", "value", "entity"),
    [
        ("ssn", "219099999", "US_SSN"),
        ("customerSSN", "536-90-4399", "US_SSN"),
        ("card_number", "4111111111111111", "CREDIT_CARD"),
        ("routing_number", "011000015", "ABA_ROUTING_NUMBER"),
        ("acct", "000123456789", "US_BANK_NUMBER"),
        ("dob", "03/05/1984", "DATE_OF_BIRTH"),
        ("first_name", "Maria", "PERSON"),
        ("customer_name", "Maria de la Cruz", "PERSON"),
        ("address_line1", "12 Main St", "STREET_ADDRESS"),
        ("mobile", "(212) 555-0142", "PHONE_NUMBER"),
        ("email", "maria@example.com", "EMAIL_ADDRESS"),
        # look-alikes that must not count
        ("order_number", "536904399", None),
        ("ssn", "not provided", None),
        ("card_number", "4111111111111112", None),
        ("routing_number", "011000016", None),
        ("username", "maria", None),
        ("product_name", "Router X", None),
        ("ip_address", "10 Downing St", None),
        ("created_at", "1984-03-05", None),
        ("agent_name", "AGT-1042", None),
    ],
)
def test_field_names_are_evidence(field: str, value: str, entity: str | None) -> None:
    """A value is its field's entity when the name says so and shape and checksum agree."""
    segment = Segment(f"$.{field}", value, context_words(field))
    found = field_findings([segment], ALL)
    assert [f.entity for f in found] == ([entity] if entity else [])
    if entity:
        assert (found[0].start, found[0].end) == (0, len(value))


def test_field_rules_only_for_requested_entities() -> None:
    """Field rules for entities no rule asks for are not run."""
    segment = Segment("$.ssn", "536904399", ("ssn",))
    assert field_findings([segment], frozenset({"EMAIL_ADDRESS"})) == []


@pytest.mark.parametrize(
    ("entity", "text", "span", "ok"),
    [
        ("PHONE_NUMBER", "ORD-2026-000417", (4, 15), False),
        ("PHONE_NUMBER", "call 212-555-0142 now", (5, 17), True),
        ("PHONE_NUMBER", "tel:+12125550142", (4, 16), True),
        ("PERSON", "SKU-88-AX", (0, 9), False),
        ("PERSON", "Maria Gonzalez", (0, 14), True),
        ("EMAIL_ADDRESS", "x", (0, 1), True),
    ],
)
def test_plausible(entity: str, text: str, span: tuple[int, int], ok: bool) -> None:
    """Phones glued into identifiers and names with digits are not findings."""
    assert plausible(entity, text, *span) is ok


@pytest.mark.parametrize(
    "span", ["test_gzip_body_is_redacted", "Password", "SKU-88-AX", "user42", "a@b"]
)
def test_identifiers_and_common_words_are_not_names(span: str) -> None:
    """What the small NER model mistakes for a person in API traffic is dropped."""
    assert not plausible("PERSON", span, 0, len(span))


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("1,164.50", False),
        ("$2445.54", False),
        ("4942112303137503", False),
        ("03924971", False),
        ("212-555-0142", True),
        ("2125550142", True),
    ],
)
def test_amounts_and_long_numbers_are_not_phones(text: str, ok: bool) -> None:
    """Amounts, bare short ids and numbers longer than E.164 allows are not phone numbers."""
    assert plausible("PHONE_NUMBER", text, 0, len(text)) is ok


@pytest.mark.parametrize(
    ("entity", "field", "contradicted"),
    [
        ("PHONE_NUMBER", "total", True),
        ("PHONE_NUMBER", "tracking_number", True),
        ("US_BANK_NUMBER", "orderNo", True),
        ("PHONE_NUMBER", "phone_number", False),
        ("CREDIT_CARD", "order_number", False),
        ("US_SSN", "ticket", False),
    ],
)
def test_field_names_can_contradict_weak_patterns(
    entity: str, field: str, contradicted: bool
) -> None:
    """A number in a field named `total` or `tracking_number` is not a phone or account number;
    checksummed entity types are reported whatever the field is called."""
    assert contradicted_by_field(entity, context_words(field)) is contradicted


@pytest.mark.parametrize(
    "text",
    [
        "ES74.0028.4313.8414.0176.5329",
        "GB82-WEST-1234-5698-7654-32",
        "CH51.2347.7465.5620.56090",
        "DE89370400440532013000",
    ],
)
def test_ibans_with_any_separator(text: str) -> None:
    """IBANs grouped by dots, dashes or nothing are found when the mod-97 check holds."""
    (result,) = SeparatedIbanRecognizer().analyze(f"iban {text} ok", ["IBAN_CODE"])
    assert (result.start, result.end) == (5, 5 + len(text))
    wrong = text[:-1] + ("1" if text.endswith("0") else "0")
    assert SeparatedIbanRecognizer().analyze(f"iban {wrong} ok", ["IBAN_CODE"]) == []


@pytest.mark.parametrize(
    ("validator", "text", "ok"),
    [
        (Validator.NONE, "anything at all", True),
        (Validator.LUHN, "4111 1111 1111 1111", True),
        (Validator.LUHN, "AC-4111-1111-1111-1111", True),  # letters and separators ignored
        (Validator.LUHN, "4111 1111 1111 1112", False),
        (Validator.LUHN, "0", False),  # one digit: Luhn would pass it trivially
        (Validator.LUHN, "no digits", False),
        (Validator.LUHN, "4111²1111", False),  # '²' is a digit to str.isdigit, not to us
        (Validator.ABA_ROUTING, "011000015", True),
        (Validator.ABA_ROUTING, "0110-0001-5", True),
        (Validator.ABA_ROUTING, "011000016", False),
        (Validator.ABA_ROUTING, "0110000150", False),
        (Validator.IBAN, "DE89 3704 0044 0532 0130 00", True),
        (Validator.IBAN, "gb82-west-1234-5698-7654-32", True),
        (Validator.IBAN, "DE89370400440532013001", False),
        (Validator.SSN, "536-90-4399", True),
        (Validator.SSN, "536904399", True),
        (Validator.SSN, "219-09-9999", False),  # the advertisement SSN
        (Validator.SSN, "666-90-4399", False),
        (Validator.SSN, "536-00-4399", False),
        (Validator.SSN, "536-90-43990", False),
    ],
)
def test_validator_accepts(validator: Validator, text: str, ok: bool) -> None:
    """Each custom-detector validator accepts good checksums and refuses bad ones."""
    assert validator_accepts(validator, text) is ok


def test_digits_of_takes_ascii_digits_only() -> None:
    """Superscripts and other non-decimal digits are left out, so checksums never crash."""
    assert digits_of("1²3-٣4") == "134"


ACCOUNT = CustomDetector(
    id="acme-account",
    entity="ACME_ACCOUNT",
    patterns=(DetectorPattern("acct", r"\bACC\d{16}\b", 0.45),),
    context=("account",),
    validator=Validator.LUHN,
    deny_list=("ACC0000000000000001",),
    deny_list_score=0.8,
)


def test_detector_pattern_recognizer_keeps_the_policy_score() -> None:
    """A match that passes the validator keeps its pattern's score; one that fails is dropped."""
    recognizer = DetectorPatternRecognizer(ACCOUNT)
    text = "ACC4111111111111111 ACC4111111111111112"
    results = recognizer.analyze(text, ["ACME_ACCOUNT"])
    assert [(text[r.start : r.end], r.score) for r in results] == [("ACC4111111111111111", 0.45)]
    assert recognizer.name == "custom:acme-account"
    assert recognizer.context == ["account"]


def test_detector_recognizers_split_patterns_and_deny_list() -> None:
    """Patterns and deny list are separate recognizers: the validator never drops a listed value."""
    built = DetectorRecognizers.build([ACCOUNT])
    assert [r.name for r in built.recognizers] == ["custom:acme-account"] * 2
    assert built.entities == {"ACME_ACCOUNT"}
    assert built.for_entities(frozenset({"US_SSN"})) == []
    assert len(built.for_entities(frozenset({"ACME_ACCOUNT"}))) == 2
    deny = built.recognizers[1]
    text = "ref acc0000000000000001 ok"  # fails Luhn, listed anyway
    (result,) = deny.analyze(text, ["ACME_ACCOUNT"])
    assert (text[result.start : result.end], result.score) == ("acc0000000000000001", 0.8)
    source = built.source_of(result)
    assert source is not None
    assert source.detector is ACCOUNT
    assert source.deny_list
    assert DetectorRecognizers.EMPTY.recognizers == ()


def test_field_findings_say_which_field_word_and_check() -> None:
    """A field-name finding names the keyword and what the value passed, never the value."""
    segment = Segment("$.customer.ssn", "536-90-4399", ("ssn",))
    (found,) = field_findings([segment], ALL)
    assert (
        found.why
        == "field name 'ssn'; value: nine digits with a possible SSN area, group and serial"
    )
    segment = Segment("$.x", "4111111111111111", context_words("cardNumber"))
    (found,) = field_findings([segment], ALL)
    assert found.why.startswith("field name 'card';")
    assert "4111" not in found.why


# --- the quick phone recognizer ---------------------------------------------------------------


@pytest.fixture(scope="module")
def phone_recognizers() -> tuple[Any, Any]:
    """Presidio's phone recognizer and dlp-proxy's quick one, same regions and leniency."""
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    return PhoneRecognizer(), quick_phone_recognizer()


def test_phone_windows() -> None:
    """Runs of five digits or more, with 20 characters around; close runs merged."""
    text = "The order number 1234 is wrong, call 415-555-0142 ext. 12 or (020) 8420 6423."
    windows = [text[s:e] for s, e in phone_windows(text)]
    assert windows == ["1234 is wrong, call 415-555-0142 ext. 12 or (020) 8420 6423."]
    assert phone_windows("no digits; 12-34") == []
    assert phone_windows("id C-0000123, INV0042123") == []
    assert phone_windows("ORD-2026-000417") == [(0, 15)]  # not digits alone: parsed


_PHONE_PIECES = st.sampled_from(
    [
        "415-555-0142",
        "(415) 555-0142",
        "+1 415 555 0142",
        "+44 20 8420 6423",
        "020 8420 6423",
        "030 1234567",
        "+49 30 1234567",
        "01 42 68 53 00",
        "+91 98765 43210",
        "ext. 12",
        "x9",
        "C-",
        "2024-05-01",
        "1,115.38",
        "0000123",
        " ",
        " ",
        ", ",
        "\n",
        "call ",
        "phone: ",
        "or ",
        "(",
        ")",
        "-",
        "+",
        "7",
        "42",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PHONE_PIECES, max_size=10).map("".join))
def test_quick_phone_recognizer_finds_what_presidio_finds(
    phone_recognizers: tuple[Any, Any], text: str
) -> None:
    """Every number Presidio's recognizer reports (and the plausibility check keeps) overlaps
    one the quick recognizer reports.

    Not the other way round: looking at a run on its own, the quick one also finds a valid
    number glued to what comes before it (`12(+1 415 555 0142`), which Presidio's matcher
    rejects with the text before it; `make eval` measures what that does to benign values.
    """
    presidio, quick = phone_recognizers

    def spans(recognizer: Any) -> list[tuple[int, int]]:
        return [
            (r.start, r.end)
            for r in recognizer.analyze(text, ["PHONE_NUMBER"])
            if plausible("PHONE_NUMBER", text, r.start, r.end)
        ]

    theirs, ours = spans(presidio), spans(quick)
    for a, b in theirs:
        assert any(a < d and c < b for c, d in ours), (text, theirs, ours)


def test_quick_phone_recognizer_keeps_presidio_s_name_and_context() -> None:
    """Findings and `why` still name PhoneRecognizer; its context words include Presidio's."""
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    quick = quick_phone_recognizer()
    assert quick.name == "PhoneRecognizer"
    assert set(PhoneRecognizer.CONTEXT) <= set(quick.context)
    [result] = quick.analyze("call 415-555-0142 now", ["PHONE_NUMBER"])
    assert (result.start, result.end, result.score) == (5, 17, 0.4)


@pytest.mark.parametrize("fmt", ["%Y-%m-%d", "%Y/%m/%d", "%m/%d/%Y"])
def test_dates_skipped_by_the_phone_recognizer_are_never_numbers(fmt: str) -> None:
    """The date shapes `phone_windows` leaves out: on 400 random dates from 1900 to 2099,
    libphonenumber finds no number in any region Presidio's recognizer uses (all 73,049 were
    tried once); a dotted date is a valid German number, and is kept."""
    import datetime
    import random

    import phonenumbers
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    rng = random.Random(fmt)
    first = datetime.date(1900, 1, 1)
    for _ in range(400):
        text = (first + datetime.timedelta(days=rng.randrange(73_049))).strftime(fmt)
        assert phone_windows(text) == []
        for region in PhoneRecognizer.DEFAULT_SUPPORTED_REGIONS:
            assert list(phonenumbers.PhoneNumberMatcher(text, region, leniency=1)) == [], text
    assert phone_windows("02.01.1900") == [(0, 10)]
    assert phone_windows("2019-13-45") == [(0, 10)]  # not a date: libphonenumber decides


def test_card_numbers_skipped_by_the_phone_recognizer_hold_no_number() -> None:
    """Card-number runs are left out of `phone_windows`: in 300 generated card numbers, plain
    or grouped by spaces or dashes, Presidio's phone recognizer finds no plausible number
    (4,500 were tried once)."""
    import random

    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    from bench.values import card_number

    presidio = PhoneRecognizer()
    rng = random.Random(6)
    for _ in range(100):
        digits = card_number(rng)
        groups = [digits[i : i + 4] for i in range(0, len(digits), 4)]
        for text in (digits, " ".join(groups), "-".join(groups)):
            assert phone_windows(text) == [], text
            found = presidio.analyze(text, ["PHONE_NUMBER"])
            assert not [r for r in found if plausible("PHONE_NUMBER", text, r.start, r.end)]
    assert phone_windows("4111 1111 1111 1112") != []  # checksum fails: not a card


def test_lazy_nlp_artifacts_tokenize_only_when_read() -> None:
    """Nothing is made until Presidio reads tokens; then the lower-cased words stand in for
    lemmas and the keywords leave out stop words and punctuation."""
    from dlp_proxy.detection.presidio import DEFAULT_MODEL, PresidioDetector

    detector = PresidioDetector(DEFAULT_MODEL)
    artifacts = LazyNlpArtifacts(detector._nlp, "Call my Phone: 555", detector._engine.nlp_engine)
    assert not artifacts.made
    assert artifacts.entities == []
    assert artifacts.lemmas == ["call", "my", "phone", ":", "555"]
    assert artifacts.made
    assert artifacts.tokens_indices == [0, 5, 8, 13, 15]
    assert artifacts.keywords == ["phone", "555"]  # spaCy counts "call" as a stop word
    assert [t.text for t in artifacts.tokens] == ["Call", "my", "Phone", ":", "555"]


# --- context enhancement --------------------------------------------------------------------------


def test_the_shallow_copy_enhancer_gives_presidios_results_and_leaves_the_input() -> None:
    """Same scores, explanations and flags as Presidio's own enhancer over texts where context
    words raise scores (and where they do not); the results passed in are not changed."""
    import copy

    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer

    from dlp_proxy.detection.presidio import PresidioDetector
    from dlp_proxy.detection.recognizers import ShallowCopyContextEnhancer

    ours = PresidioDetector()._engine
    presidio = AnalyzerEngine(
        nlp_engine=ours.nlp_engine,
        registry=ours.registry,
        supported_languages=["en"],
        context_aware_enhancer=LemmaContextAwareEnhancer(),
    )
    assert isinstance(ours.context_aware_enhancer, ShallowCopyContextEnhancer)
    texts = [
        ("my ssn is 536-90-4399", None),
        ("536-90-4399", ["social", "security"]),
        ("call me on 212-555-0187 tonight", None),
        ("card 4111 1111 1111 1111 exp 09/28", None),
        ("born 1984-07-12 in Portland", None),
        ("routing 021000021 account 12345678", None),
        ("the order 4482 shipped", ["order", "id"]),
        ("email maria@example.com or 10.0.0.7", None),
    ]

    def described(results: list[Any]) -> list[tuple[Any, ...]]:
        return sorted(
            (
                r.entity_type, r.start, r.end, round(r.score, 6),
                round(r.analysis_explanation.score, 6),
                r.analysis_explanation.score_context_improvement,
                r.analysis_explanation.supportive_context_word,
                tuple(sorted(r.recognition_metadata.items())),
            )
            for r in results
        )  # fmt: skip

    raised = 0
    for text, context in texts:
        expected = presidio.analyze(text, "en", context=context, return_decision_process=True)
        got = ours.analyze(text, "en", context=context, return_decision_process=True)
        assert described(got) == described(expected), text
        raised += sum(1 for r in got if r.analysis_explanation.supportive_context_word)
    assert raised >= 4  # the texts do exercise context words

    artifacts = ours.nlp_engine.process_text("my ssn is 536-90-4399", "en")
    recognizers = ours.registry.get_recognizers("en", all_fields=True)
    text = "my ssn is 536-90-4399"
    raw = [r for rec in recognizers for r in rec.analyze(text, rec.supported_entities, artifacts)]
    assert raw
    before = copy.deepcopy(raw)
    enhanced = ours.context_aware_enhancer.enhance_using_context(text, raw, artifacts, recognizers)
    assert described(raw) == described(before)
    assert described(enhanced) != described(raw)  # the ssn was raised: on copies


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("ref 536/90/4399 ok", "536/90/4399"),
        ("ref 536_90_4399 ok", "536_90_4399"),
        ("ref 536 | 90 | 4399 ok", "536 | 90 | 4399"),
        ("ref 536 - 90 - 4399 ok", "536 - 90 - 4399"),
        ("ref 536  90  4399 ok", "536  90  4399"),
        ("due 01/15/2026 ok", None),
        ("ref 912/90/4399 ok", None),
        ("path /v1/536/90/4399/x ok", None),
    ],
)
def test_ssns_with_other_separators_are_found(text: str, found: str | None) -> None:
    """Slashes, underscores, bars, spaced dashes, double spaces: still an SSN; dates are not."""
    results = SeparatedSsnRecognizer().analyze(text, ["US_SSN"])
    assert [text[r.start : r.end] for r in results] == ([found] if found else [])


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("ssn 536/90-4399 ok", "536/90-4399"),
        ("ssn 536 90-4399 ok", "536 90-4399"),
        ("ssn\n536\n90\n4399\nok", "536\n90\n4399"),
        ("ref 536-90-4399 ok", None),  # Presidio's own pattern takes it
    ],
)
def test_mixed_ssns_are_weak_matches(text: str, found: str | None) -> None:
    """With mixed separators or one group a line: found, weak (context decides)."""
    results = SeparatedSsnRecognizer().analyze(text, ["US_SSN"])
    assert [text[r.start : r.end] for r in results] == ([found] if found else [])
    assert all(r.score < 0.4 for r in results)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("customer SSN536-90-4399 on file", "536-90-4399"),
        ("ref 536-90-4399exp", "536-90-4399"),
        ("ref 536.90.4399exp", "536.90.4399"),
        ("SKU912-90-4399", None),  # area 912 is never issued
        ("v1.536-90-4399", None),
        ("ref 536-90-4399 ok", None),  # Presidio's own pattern takes it
    ],
)
def test_ssns_glued_to_letters_are_found(text: str, found: str | None) -> None:
    """`SSN536-90-4399`: no word boundary before the digits, still an SSN, as strong as dashed."""
    results = SeparatedSsnRecognizer().analyze(text, ["US_SSN"])
    assert [(text[r.start : r.end], r.score) for r in results] == ([(found, 1.0)] if found else [])


@pytest.mark.parametrize(
    ("value", "found"), [("24714824", True), ("024714824", True), ("914824", False)]
)
def test_an_ssn_kept_as_a_number_without_its_leading_zero_is_found(value: str, found: bool) -> None:
    """024-71-4824 stored as the number 24714824 is still an SSN in a field named `ssn`."""
    segment = Segment("$.ssn", value, ("ssn",))
    assert bool(field_findings([segment], frozenset({"US_SSN"}))) is found


@pytest.mark.parametrize(
    ("entity", "text", "found"),
    [
        ("US_BANK_NUMBER", "account number 8732.4893.", "8732.4893"),
        ("US_BANK_NUMBER", "account 9056 7961 6529 7708 ok", "9056 7961 6529 7708"),
        ("US_BANK_NUMBER", "account 87324893 ok", None),  # Presidio's own pattern takes it
        ("US_BANK_NUMBER", "total 1,841.34 ok", None),
        ("ABA_ROUTING_NUMBER", "routing 319.323.410.", "319.323.410"),
        ("ABA_ROUTING_NUMBER", "routing 705 198 097 ok", "705 198 097"),
        ("ABA_ROUTING_NUMBER", "routing 319.323.411 ok", None),  # the checksum fails
    ],
)
def test_grouped_bank_and_routing_numbers_are_found_weakly(
    entity: str, text: str, found: str | None
) -> None:
    """Account and routing numbers in groups are found, weak: context words make them count."""
    results = SeparatedBankNumberRecognizer(entity).analyze(text, [entity])
    assert [text[r.start : r.end] for r in results] == ([found] if found else [])
    assert all(r.score < 0.4 for r in results)


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("mobile 914 230 172 ok", NATIONAL_ONLY_SCORE),  # Poland, national: only context decides
        ("tel 070-123 45 67 ok", NATIONAL_ONLY_SCORE),  # Sweden
        ("call +48 914 230 172 ok", 0.4),  # with its country code: as strong as Presidio's
        ("call (212) 555-0199 ok", 0.4),  # a US number, as Presidio's eight regions read it
    ],
)
def test_national_numbers_of_the_added_regions_are_weak(text: str, score: float) -> None:
    """The added regions read national numbers weakly; numbers with a country code stay strong."""
    results = quick_phone_recognizer().analyze(text, ["PHONE_NUMBER"])
    assert [round(r.score, 2) for r in results] == [score]


def test_phone_context_words_include_the_labels_of_contact_lists() -> None:
    """`Desk:`, `Fax:`, `Tel:` lines are phone context, so their national numbers count."""
    assert {"desk", "fax", "tel", "mobile"} <= set(quick_phone_recognizer().context)


@pytest.mark.parametrize(
    ("text", "found", "strong"),
    [
        ("ship to Höhenweg 108 today", "Höhenweg 108", True),
        ("Stallstigen 19, Umeå", "Stallstigen 19", True),
        ("address Taimistonkatu 28", "Taimistonkatu 28", True),
        ("lives at 130, rue du Maroc", "130, rue du Maroc", True),
        ("Via Loreto 123", "Via Loreto 123", False),
        ("Avenida dos Fenícios, 9", "Avenida dos Fenícios, 9", False),
        ("al. Maczka 97", "al. Maczka 97", False),
        ("Κυλλήνη 182", "Κυλλήνη 182", False),
        ("the Spring 2026 release", None, False),
        ("Place 2 orders", None, False),
    ],
)
def test_streets_as_other_countries_write_them(text: str, found: str | None, strong: bool) -> None:
    """Suffixed and French streets count alone; type-first and Greek ones need context."""
    results = InternationalStreetRecognizer().analyze(text, ["STREET_ADDRESS"])
    assert [text[r.start : r.end] for r in results] == ([found] if found else [])
    assert all((r.score >= 0.4) is strong for r in results)
