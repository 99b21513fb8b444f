"""The secrets: valid SSNs and Luhn-valid cards, drawn reproducibly from a seed and a name."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from bench.bypass.pii import Kind, Secret, card_number, is_valid_ssn, luhn_valid, secret_for, ssn


@given(st.integers())
def test_every_drawn_ssn_is_valid(seed: int) -> None:
    """Area not 000, 666 or 9xx; group and serial not zero; never one repeated digit."""
    digits = ssn(random.Random(seed))
    assert is_valid_ssn(digits)
    assert len(set(digits)) > 2


@given(st.integers())
def test_every_drawn_card_passes_luhn_and_is_exact_as_a_float(seed: int) -> None:
    """16 digits, Luhn-valid, no trailing zero, and the float spelling keeps every digit."""
    digits = card_number(random.Random(seed))
    assert len(digits) == 16
    assert luhn_valid(digits)
    assert digits[-1] != "0"
    assert str(int(float(digits))) == digits
    assert float(f"{digits[0]}.{digits[1:]}e15") == int(digits)


def test_validity_rules() -> None:
    """The rules of each check, on known values."""
    assert is_valid_ssn("219099999")
    assert not any(
        map(
            is_valid_ssn,
            ["000123456", "666123456", "912345678", "219009999", "219090000", "21909999"],
        )
    )
    assert luhn_valid("4539148803436467")
    assert not luhn_valid("4539148803436468")


def test_a_seed_and_a_name_give_the_same_secret_and_others_do_not() -> None:
    """Reproducible per (seed, name); another seed or name draws another value."""
    first = secret_for(14, "case_a", Kind.SSN)
    assert secret_for(14, "case_a", Kind.SSN) == first
    assert secret_for(15, "case_a", Kind.SSN) != first
    assert secret_for(14, "case_b", Kind.SSN) != first


def test_spellings_and_parts() -> None:
    """SSN parts 3-2-4 and card parts 4-4-4-4, in every spelling; the repr hides the value."""
    s = Secret(Kind.SSN, "219099999")
    assert s.parts == ("219", "09", "9999")
    assert s.spellings() == ("219099999", "219-09-9999", "219 09 9999", "219.09.9999")
    assert s.text == "219-09-9999"
    card = Secret(Kind.CARD, "4539148803436467")
    assert card.text == "4539 1488 0343 6467"
    assert card.dashed == "4539-1488-0343-6467"
    assert "219" not in repr(s)
    assert "4539" not in repr(card)
