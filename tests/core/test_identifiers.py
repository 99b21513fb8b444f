"""Split values and bare identifiers: what only a message's structure shows."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlp_proxy.core.codecs import parse_body, parse_path
from dlp_proxy.core.identifiers import (
    bare_path_identifiers,
    named_identifiers,
    split_identifiers,
    valid_aba,
    valid_iban,
    valid_luhn,
    valid_ssn,
)
from dlp_proxy.detection.detector import Segment

CARD = "4539148803436467"
SSN = "219099999"


def _json_segments(data: object) -> tuple[Segment, ...]:
    return parse_body("application/json", json.dumps(data).encode()).segments


def _entities(findings: list) -> dict[str, str]:  # type: ignore[type-arg]
    return {f.location: f.entity for f in findings}


def test_checks_accept_real_numbers_and_refuse_near_misses() -> None:
    """Luhn, SSA, ABA and IBAN checks take valid numbers and refuse one changed digit."""
    assert valid_luhn(CARD) and not valid_luhn(CARD[:-1] + "8")
    assert valid_ssn(SSN) and not valid_ssn("000123456") and not valid_ssn("666123456")
    assert not valid_ssn("912345678") and not valid_ssn("123004567") and not valid_ssn("111111111")
    assert valid_aba("021000021") and not valid_aba("021000022")
    assert valid_iban("DE89 3704 0044 0532 0130 00") and not valid_iban("DE89370400440532013001")


def test_an_ssn_in_three_fields_is_found_in_every_field() -> None:
    """`ssn_area`/`ssn_group`/`ssn_serial` joined pass the SSA rules: each field is a finding."""
    segments = _json_segments({"ssn_area": "219", "ssn_group": "09", "ssn_serial": "9999"})
    assert _entities(split_identifiers(segments)) == {
        "$.ssn_area": "US_SSN",
        "$.ssn_group": "US_SSN",
        "$.ssn_serial": "US_SSN",
    }


@pytest.mark.parametrize(
    "data",
    [
        {"c1": CARD[:4], "c2": CARD[4:8], "c3": CARD[8:12], "c4": CARD[12:]},
        {"first": CARD[:8], "name": "Visa", "last": CARD[8:]},
        {"digits": list(CARD)},
        {"digits": [int(d) for d in CARD]},
    ],
    ids=["four-fields", "two-fields-apart", "digit-strings", "digit-numbers"],
)
def test_a_card_split_over_fields_is_found(data: object) -> None:
    """Four groups, two halves with a field between, one digit per element: a Luhn-valid card."""
    found = split_identifiers(_json_segments(data))
    assert found and {f.entity for f in found} == {"CREDIT_CARD"}
    assert "".join(s.text for s in _json_segments(data) if s.location in _entities(found)) == CARD


def test_adjacent_csv_cells_join() -> None:
    """Cells of one row are adjacent in document order."""
    body = f"name,a,b,c\nMaria,{SSN[:3]},{SSN[3:5]},{SSN[5:]}\n".encode()
    found = split_identifiers(parse_body("text/csv", body).segments)
    assert {f.entity for f in found} == {"US_SSN"} and len(found) == 3


def test_an_iban_in_groups_of_four_joins() -> None:
    """`DE89 3704 ...` sent as one group per field passes mod 97."""
    groups = ["DE89", "3704", "0044", "0532", "0130", "00"]
    found = split_identifiers(_json_segments({"iban": groups}))
    assert {f.entity for f in found} == {"IBAN_CODE"} and len(found) == 6


@pytest.mark.parametrize(
    "data",
    [
        {"year": "2019", "month": "09", "day": "12", "hour": "1"},
        {"area": "212", "exchange": "555", "line": "0147"},
        {"zip": "90210", "plus4": "1234"},
        {"qty": [1, 2, 3, 4, 5, 6, 7, 8, 9]},
        {"a": "219", "b": "09", "c": "9998", "d": "1234"},
        {"ticket": 4812, "priority": 2, "status": "open", "count": 17},
    ],
    ids=["date", "phone-3-3-4", "zip4", "counts", "ssn-shape-invalid-luhn-free", "ticket"],
)
def test_ordinary_records_do_not_join(data: object) -> None:
    """Dates, phone parts, ZIP+4, counters: wrong shape or failing checks, no finding."""
    found = split_identifiers(_json_segments(data))
    assert [f for f in found if f.entity != "US_SSN"] == []
    if "a" in data:  # type: ignore[operator]
        # 219-09-9998 is a valid SSN shape: only the three parts, never the fourth field.
        assert set(_entities(found)) == {"$.a", "$.b", "$.c"}
    else:
        assert found == []


@given(st.lists(st.text(alphabet="0123456789", min_size=1, max_size=8), max_size=30))
def test_every_joined_finding_passes_its_check(parts: list[str]) -> None:
    """Whatever the parts, a join is reported only when its digits pass the entity's check."""
    segments = [Segment(f"$.p[{i}]", p) for i, p in enumerate(parts)]
    by_entity: dict[str, str] = {}
    for finding in sorted(split_identifiers(segments), key=lambda f: int(f.location[4:-1])):
        by_entity[finding.entity] = (
            by_entity.get(finding.entity, "") + parts[int(finding.location[4:-1])]
        )
    for entity, digits in by_entity.items():
        check = {"CREDIT_CARD": valid_luhn, "US_SSN": valid_ssn, "ABA_ROUTING_NUMBER": valid_aba}
        # Several joins of one entity concatenate here; each alone passed, so check the first.
        assert entity in check
        assert digits.isdigit()


@pytest.mark.parametrize(
    "name", ["taxpayer_id", "tin", "national_id", "sozialversicherungsnummer", "socialSecurityNo"]
)
def test_nine_digits_in_a_tax_id_field_are_an_ssn(name: str) -> None:
    """A field named as a taxpayer or national id holding nine digits is an SSN."""
    found = named_identifiers(_json_segments({name: SSN}))
    assert [f.entity for f in found] == ["US_SSN"]
    assert "SSN rules pass" in found[0].why


@pytest.mark.parametrize(
    ("name", "value"),
    [("order_id", SSN), ("tin", "912345678"), ("tin", "12345678"), ("social_media_id", SSN)],
)
def test_other_fields_and_invalid_numbers_are_left_to_the_detector(name: str, value: str) -> None:
    """Not a tax-id name, or digits the SSA never issues: no finding from the field name."""
    assert named_identifiers(_json_segments({name: value})) == []


def test_a_path_segment_that_is_an_ssn_is_found() -> None:
    """`/customers/219099999/tickets`: the segment is an SSN; a ticket number is not."""
    found = bare_path_identifiers(parse_path(f"/customers/{SSN}/tickets/48213").segments)
    assert [(f.location, f.entity) for f in found] == [("path:1", "US_SSN")]
    assert bare_path_identifiers(parse_path("/orders/000123456").segments) == []
