"""Split values and bare path identifiers: what only a message's structure shows."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlp_proxy.core.codecs import parse_body, parse_path
from dlp_proxy.detection.detector import Finding, Segment
from dlp_proxy.detection.recognizers import aba_checksum_ok, card_number_ok, ssn_shape_ok
from dlp_proxy.detection.structure import request_findings, split_findings

CARD = "4539148803436467"
SSN = "219099999"
ALL = frozenset({"CREDIT_CARD", "US_SSN", "ABA_ROUTING_NUMBER", "IBAN_CODE"})


def _json(data: object) -> tuple[Segment, ...]:
    return parse_body("application/json", json.dumps(data).encode()).segments


def _located(found: list[Finding]) -> dict[str, str]:
    return {f.location: f.entity for f in found}


def test_an_ssn_in_three_fields_is_found_in_every_field() -> None:
    """`ssn_area`/`ssn_group`/`ssn_serial` joined pass the SSA rules: each field is a finding."""
    segments = _json({"ssn_area": "219", "ssn_group": "09", "ssn_serial": "9999"})
    assert _located(split_findings(segments, ALL)) == {
        "$.ssn_area": "US_SSN",
        "$.ssn_group": "US_SSN",
        "$.ssn_serial": "US_SSN",
    }


@pytest.mark.parametrize(
    "data",
    [
        {"c1": CARD[:4], "c2": CARD[4:8], "c3": CARD[8:12], "c4": CARD[12:]},
        {"first": CARD[:8], "brand": "Visa", "last": CARD[8:]},
        {"digits": list(CARD)},
        {"digits": [int(d) for d in CARD]},
        {"payment": {"card_1": CARD[:6], "card_2": CARD[6:]}},
    ],
    ids=["four-fields", "two-fields-apart", "digit-strings", "digit-numbers", "two-halves"],
)
def test_a_card_split_over_fields_is_found(data: object) -> None:
    """Four groups, halves with a field between, one digit per element: a Luhn-valid card."""
    segments = _json(data)
    found = split_findings(segments, ALL)
    assert {f.entity for f in found} == {"CREDIT_CARD"}
    parts = [s.text for s in segments if s.location in _located(found)]
    assert "".join(parts) == CARD


def test_the_split_explains_itself_without_the_value() -> None:
    """The why names the fields and the check passed, never a digit of the value."""
    segments = [
        Segment("$.p.card_1", "4111 1111", ("card_1",)),
        Segment("$.p.card_2", "1111 1111", ("card_2",)),
    ]
    whys = {f.why for f in split_findings(segments, ALL)}
    assert whys == {
        "split card across fields $.p.card_1, $.p.card_2; "
        "card network prefix and length, Luhn checksum passed"
    }


def test_halves_of_different_records_are_not_one_card() -> None:
    """Two halves must be adjacent fields of one record; other digits do not count as parts."""
    segments = [
        Segment("$.a.card_1", "4111 1111"),
        Segment("$.b.card_2", "1111 1111"),
    ]
    assert split_findings(segments, ALL) == []
    for second in ("1111 111\u0661", "1111 111x", "\u00b9111 1111"):
        pair = [Segment("$.p.card_1", "4111 1111"), Segment("$.p.card_2", second)]
        assert split_findings(pair, ALL) == [], second


def test_adjacent_csv_cells_and_ndjson_lines_join() -> None:
    """Cells of one row, and values of consecutive NDJSON records, are adjacent in order."""
    csv = f"name,a,b,c\nMaria,{SSN[:3]},{SSN[3:5]},{SSN[5:]}\n".encode()
    found = split_findings(parse_body("text/csv", csv).segments, ALL)
    assert [f.entity for f in found] == ["US_SSN"] * 3
    lines = "".join(json.dumps({"part": p}) + "\n" for p in (SSN[:3], SSN[3:5], SSN[5:]))
    found = split_findings(parse_body("application/x-ndjson", lines.encode()).segments, ALL)
    assert [f.entity for f in found] == ["US_SSN"] * 3


def test_an_iban_in_groups_of_four_joins() -> None:
    """`DE89 3704 ...` sent one group per element passes mod 97."""
    found = split_findings(_json({"iban": ["DE89", "3704", "0044", "0532", "0130", "00"]}), ALL)
    assert [f.entity for f in found] == ["IBAN_CODE"] * 6


def test_only_asked_entities_are_joined() -> None:
    """A split SSN is not reported when only cards are asked for."""
    segments = _json({"a": "219", "b": "09", "c": "9999"})
    assert split_findings(segments, frozenset({"CREDIT_CARD"})) == []


@pytest.mark.parametrize(
    "data",
    [
        {"year": "2019", "month": "09", "day": "12", "hour": "1"},
        {"area": "212", "exchange": "555", "line": "0147"},
        {"zip": "90210", "plus4": "1234"},
        {"qty": ["1", "2", "3", "4", "5", "6", "7", "8", "9"]},
        {"ticket": "4812", "priority": "2", "status": "open", "count": "17"},
        {"a": "912", "b": "09", "c": "9999"},
    ],
    ids=["date", "phone-3-3-4", "zip4", "counters", "ticket", "ssn-area-9xx"],
)
def test_ordinary_records_do_not_join(data: object) -> None:
    """Dates, phone parts, ZIP+4, counters: the wrong shape or a failing check, no finding."""
    assert split_findings(_json(data), ALL) == []


@given(st.lists(st.text(alphabet="0123456789", min_size=1, max_size=8), max_size=25))
def test_every_join_passes_its_check(parts: list[str]) -> None:
    """Whatever the parts, each reported join's digits pass its entity's check."""
    segments = [Segment(f"$.p[{i}]", p) for i, p in enumerate(parts)]
    found = split_findings(segments, ALL)
    checks = {"CREDIT_CARD": card_number_ok, "US_SSN": ssn_shape_ok, "ABA": aba_checksum_ok}
    joins: dict[str, list[str]] = {}
    for finding in found:
        joins.setdefault(finding.why, []).append(parts[int(finding.location[4:-1])])
    for finding in found:
        if finding.entity in checks:
            assert checks[finding.entity]("".join(joins[finding.why]))


def test_a_path_segment_that_is_an_ssn_is_found() -> None:
    """`/customers/219099999/tickets`: that segment is an SSN; a ticket number is not."""
    found = request_findings(parse_path(f"/customers/{SSN}/tickets/48213").segments, ALL)
    assert [(f.location, f.entity) for f in found] == [("path:1", "US_SSN")]
    dashed = request_findings(parse_path("/c/219-09-9999").segments, ALL)
    assert [f.location for f in dashed] == ["path:1"]
    assert request_findings(parse_path("/orders/000123456/912345678").segments, ALL) == []


@pytest.mark.parametrize(
    ("location", "text", "entity"),
    [
        ("header:x-api-key", f"ak_live_{SSN}", "US_SSN"),
        ("header:host>host:0", f"c{SSN}", "US_SSN"),
        ("header:range", f"bytes=0-1023, {SSN}-", "US_SSN"),
        ("method", f"X{SSN}", "US_SSN"),
        ("path:2", "219/09/9999", "US_SSN"),
        ("header:via>item:0", "1.1 edge-219_09_9999.acme.internal", "US_SSN"),
        ("method", "SYNC-4539-1488-0343-6467", "CREDIT_CARD"),
        ("query:", f"pan{CARD}x", "CREDIT_CARD"),
        ("$[1].219099999#name", SSN, "US_SSN"),
        ("xml:/r/c4539148803436467#name", f"c{CARD}", "CREDIT_CARD"),
    ],
)
def test_identifiers_glued_into_request_tokens_are_found(
    location: str, text: str, entity: str
) -> None:
    """No context words in a header or the request line: shapes and checks alone decide."""
    found = request_findings([Segment(location, text)], ALL)
    assert [f.entity for f in found] == [entity]
    assert text[found[0].start : found[0].end].replace("-", "").replace("/", "").replace(
        "_", ""
    ) in (SSN, CARD)


@pytest.mark.parametrize(
    ("location", "text"),
    [
        ("header:traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        ("header:x-request-id", "3f2b9c1e-1234-4d5e-9a8b-219099999abc"),
        ("header:if-none-match>item:0", 'W/"a3f219099999c0ffee4d1e2f"'),
        ("header:x-order", "ORDER-12345678"),
        ("$.note", f"id {SSN}"),
        ("header:content-length", "912345678"),
    ],
    ids=["traceparent", "uuid", "etag-hash", "order", "body-is-not-request-line", "ssa-invalid"],
)
def test_hashes_ids_and_bodies_are_not_request_tokens(location: str, text: str) -> None:
    """Digits inside a hex hash or UUID are random; a body value is left to the detector."""
    assert request_findings([Segment(location, text)], ALL) == []


def test_a_dashed_ssn_split_over_two_headers_joins() -> None:
    """`X-Ssn: 219-09` and `X-Ssn: 9999`: the digit groups across parts are 3-2-4."""
    segments = [Segment("header:x-ssn", "219-09"), Segment("header:x-ssn[1]", "9999")]
    assert [f.entity for f in split_findings(segments, ALL)] == ["US_SSN", "US_SSN"]
    crumbs = [
        Segment("header:cookie>pan_a", "4539 1488"),
        Segment("header:cookie[1]>pan_b", "0343 6467"),
    ]
    assert [f.entity for f in split_findings(crumbs, ALL)] == ["CREDIT_CARD"] * 2


def test_split_values_do_not_join_across_csv_rows() -> None:
    """The last cells of one row and the first of the next are two records, never one SSN."""
    csv = b"sku,stock,weight\nCB-0042,1204,180\nMN-2701,17,6200\n"
    assert split_findings(parse_body("text/csv", csv).segments, ALL) == []


def test_one_json_field_over_consecutive_records_joins() -> None:
    """`{"part": ...}` on each NDJSON line, a sequence number between: the parts are one card."""
    lines = "".join(
        json.dumps({"part": CARD[i : i + 4], "seq": i // 4}) + "\n" for i in range(0, 16, 4)
    )
    segments = parse_body("application/x-ndjson", lines.encode()).segments
    found = split_findings(segments, ALL)
    assert {f.entity for f in found} == {"CREDIT_CARD"}
    assert sorted(f.location for f in found) == [f"l{i}>$.part" for i in range(4)]


def test_a_column_of_quantities_is_no_split_value() -> None:
    """A JSON field named as a count joins nothing across records."""
    records = [{"qty": q} for q in ("132", "54", "1204")]
    assert split_findings(_json(records), ALL) == []


def test_xml_attributes_of_one_element_join() -> None:
    """`<ssn area="219" group="09" serial="9999"/>`: three attributes, one SSN."""
    body = b'<r><ssn area="219" group="09" serial="9999"/></r>'
    found = split_findings(parse_body("application/xml", body).segments, ALL)
    assert [f.entity for f in found] == ["US_SSN"] * 3
