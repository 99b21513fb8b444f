"""Disguises: each one changes how a value is written, not what it is."""

from __future__ import annotations

import base64
import random
import re
from urllib.parse import unquote

import pytest

from bench.disguises import CHARACTER, SEPARATORS, encode_field, natural, write
from bench.score import compact, normalise

CARD = "4111111111111111"


def rng() -> random.Random:
    return random.Random(1)


@pytest.mark.parametrize(
    ("entity", "value", "shape"),
    [
        ("CREDIT_CARD", CARD, r"4111[ -]?1111[ -]?1111[ -]?1111"),
        ("CREDIT_CARD", "378282246310005", r"3782[ -]?822463[ -]?10005"),
        ("US_SSN", "219451234", r"219[- ]45[- ]1234"),
        ("DATE_OF_BIRTH", "19840312", r"1984-03-12|03/12/1984|12\.03\.1984"),
        ("PERSON", "Maria Gonzalez", r"Maria Gonzalez"),
    ],
)
def test_natural_formats(entity: str, value: str, shape: str) -> None:
    """Numbers come out grouped the way people write them; text stays as it is."""
    for seed in range(20):
        assert re.fullmatch(shape, natural(entity, value, random.Random(seed)))


@pytest.mark.parametrize("disguise", CHARACTER)
def test_character_disguises_keep_the_value(disguise: str) -> None:
    """Whatever the character disguise, the value compacts back to what it was."""
    for seed in range(20):
        written = write("CREDIT_CARD", CARD, "4111 1111 1111 1111", disguise, random.Random(seed))
        assert compact(written) == CARD


@pytest.mark.parametrize(
    ("disguise", "expected"),
    [
        ("spaces", "4111 1111 1111 1111"),
        ("dots", "4111.1111.1111.1111"),
        ("no_separators", CARD),
    ],
)
def test_separators(disguise: str, expected: str) -> None:
    """Separator disguises regroup the digits with their separator."""
    assert write("CREDIT_CARD", CARD, "4111-1111-1111-1111", disguise, rng()) == expected


def test_nbsp_and_dashes_use_unicode_separators() -> None:
    """No-break spaces and dashes may be the Unicode kinds (narrow nbsp, non-breaking hyphen)."""
    seen = set()
    for seed in range(30):
        for disguise in ("nbsp", "dashes"):
            written = write("US_SSN", "219451234", "219-45-1234", disguise, random.Random(seed))
            seen |= {c for c in written if not c.isdigit()}
    assert {"\u00a0", "\u202f", "-", "\u2011", "\u2013"} <= seen


def test_separators_do_not_apply_to_text() -> None:
    """A name has no digit groups: separator disguises leave it as written."""
    for disguise in SEPARATORS:
        assert (
            write("PERSON", "Maria Gonzalez", "Maria Gonzalez", disguise, rng()) == "Maria Gonzalez"
        )


def test_digit_disguises() -> None:
    """Full-width and other scripts' digits replace ASCII digits one for one."""
    fullwidth = "".join(chr(0xFF10 + int(c)) if c.isdigit() else c for c in "219-45-1234")
    assert write("US_SSN", "219451234", "219-45-1234", "fullwidth", rng()) == fullwidth
    other = write("US_SSN", "219451234", "219-45-1234", "unicode_digits", rng())
    assert other != "219-45-1234"
    assert normalise(other) == "219-45-1234"


@pytest.mark.parametrize("disguise", ["zero_width", "soft_hyphen"])
def test_invisible_characters_are_inserted_inside(disguise: str) -> None:
    """Invisible characters go between the characters, never at the ends."""
    written = write("PERSON", "Maria Gonzalez", "Maria Gonzalez", disguise, rng())
    assert written != "Maria Gonzalez"
    assert written[0] == "M"
    assert written[-1] == "z"
    assert normalise(written) == "maria gonzalez"


def test_encode_field() -> None:
    """Encoding disguises wrap the whole field; others leave it alone."""
    assert base64.b64decode(encode_field("219-45-1234", "base64_field", rng())) == b"219-45-1234"
    for seed in range(10):
        once = encode_field("a@b.c", "url_encoded", random.Random(seed))
        assert "@" not in once
        assert unquote(once) == "a@b.c"
    twice = encode_field("a@b.c", "double_url_encoded", rng())
    assert twice == "a%2540b.c"
    assert encode_field("a@b.c", "none", rng()) == "a@b.c"
