"""Value generators: PII passes its checksums, benign look-alikes do not."""

from __future__ import annotations

import random
import re

import pytest

from bench import values

SEEDS = range(200)


@pytest.mark.parametrize(
    ("number", "ok"),
    [
        ("4111111111111111", True),
        ("4111111111111112", False),
        ("378282246310005", True),
        ("", False),
    ],
)
def test_luhn(number: str, ok: bool) -> None:
    """Luhn accepts well-known test cards and rejects a changed digit."""
    assert values.luhn_ok(number) is ok


@pytest.mark.parametrize(
    ("iban", "ok"),
    [
        ("DE89370400440532013000", True),
        ("GB82WEST12345698765432", True),
        ("BE68539007547034", True),
        ("FR7630006000011234567890189", True),
        ("ES9121000418450200051332", True),
        ("DE89370400440532013001", False),
        ("XX00", False),
    ],
)
def test_iban_mod97(iban: str, ok: bool) -> None:
    """mod-97 accepts published example IBANs and rejects a changed digit."""
    assert values.iban_ok(iban) is ok


@pytest.mark.parametrize(
    ("bban", "country"),
    [("539007547034", "BE"), ("30006000011234567890189", "FR"), ("21000418450200051332", "ES")],
)
def test_national_check_digits_match_published_examples(bban: str, country: str) -> None:
    """Belgian, French (RIB key) and Spanish (DC) check digits are computed right."""
    assert values._national_check(country, bban) == bban


@pytest.mark.parametrize(
    ("number", "ok"),
    [
        ("219451234", True),
        ("000451234", False),
        ("666451234", False),
        ("912451234", False),
        ("219001234", False),
        ("219450000", False),
        ("078051120", False),
        ("219099999", False),
        ("12345678", False),
    ],
)
def test_ssn_rules(number: str, ok: bool) -> None:
    """Area 000/666/9xx, group 00, serial 0000 and the famous invalid SSNs are refused."""
    assert values.ssn_ok(number) is ok


@pytest.mark.parametrize(
    ("number", "ok"), [("021000021", True), ("011000015", True), ("021000022", False)]
)
def test_aba_checksum(number: str, ok: bool) -> None:
    """The 3-7-1 checksum accepts real routing numbers and rejects a changed digit."""
    assert values.aba_ok(number) is ok


def test_generated_pii_is_valid() -> None:
    """Generated cards, SSNs, IBANs and routing numbers pass their checks for many seeds."""
    for seed in SEEDS:
        rng = random.Random(seed)
        card = values.card_number(rng)
        assert values.luhn_ok(card)
        assert 14 <= len(card) <= 16
        assert values.ssn_ok(values.ssn(rng))
        assert values.iban_ok(values.iban(rng))
        assert values.aba_ok(values.aba_routing_number(rng))
        assert not values.aba_routing_number(rng, leading_zero=False).startswith("0")
        account = values.bank_account_number(rng)
        assert 8 <= len(account) <= 17
        assert account[0] != "0"


def test_phone_numbers_keep_their_national_digits() -> None:
    """The written phone number holds the national number's digits in order."""
    for seed in SEEDS:
        national, written = values.phone_number(random.Random(seed))
        assert len(national) == 10
        assert national in re.sub(r"\D", "", written).removeprefix("0")


def test_benign_look_alikes_fail_the_card_check() -> None:
    """Order numbers and card-length tracking numbers never pass Luhn."""
    for seed in SEEDS:
        rng = random.Random(seed)
        order = re.sub(r"\D", "", values.order_number(rng))
        assert 13 <= len(order) <= 19
        assert not values.luhn_ok(order)
        tracking = values.tracking_number(rng)
        if tracking.isdigit() and 13 <= len(tracking) <= 19:
            assert not values.luhn_ok(tracking)


@pytest.mark.parametrize(
    ("maker", "pattern"),
    [
        (values.ticket_id, r"T-\d{5}|TCK-\d{6}|INC\d{7}"),
        (values.iso_timestamp, r"20(25|26)-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?(Z|[+-]\d\d:\d\d)"),
        (values.amount, r"(\$|EUR )?[\d,]+\.\d\d"),
        (values.sku, r"SKU-\d{5}-[A-Z]{3}|[A-Z]{2}-\d{4}-[A-Z]{1,2}"),
        (values.agent_id, r"agent-\d{4}|AG-\d{5}|emp_\d{5}"),
        (values.tracking_number, r"1Z[A-Z0-9]{16}|\d{12}|96\d{13}|9400\d{18}"),
    ],
)
def test_benign_shapes(maker: object, pattern: str) -> None:
    """Each benign generator writes the shape it documents."""
    assert callable(maker)
    for seed in range(50):
        assert re.fullmatch(pattern, maker(random.Random(seed))), seed
