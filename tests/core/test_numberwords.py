"""Tests for dlp_proxy/core/numberwords.py: spoken numbers in transcripts read as digits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.bypass.controls import TRANSCRIPT
from dlp_proxy.core.numberwords import MIN_DIGITS, number_words

ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def spoken(digits: str, separator: str = " ") -> str:
    return separator.join(ONES[int(d)] for d in digits)


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("my social is two one nine zero nine nine nine nine nine", "219099999"),
        ("social two-one-nine, zero-nine, nine-nine-nine-nine.", "219 09 9999"),
        ("it's two one nine oh nine double nine double nine", "219099999"),
        ("triple two one four four five", "2221445"),
        ("social 219 oh nine 9999", "219099999"),
        ("forty five thirty nine fourteen eighty eight", "45391488"),
        ("Two One Nine Zero Nine Nine Nine Nine Nine", "219099999"),
        ("two one nine dash zero nine dash nine nine nine nine", "219 09 9999"),
        ("two one nine uh zero nine nine nine nine", "21909999"),
        ("twenty twenty five oh one oh two", "20250102"),
        ("cuatro cinco tres nueve uno cuatro ocho", "4539148"),
        ("vier fünf drei neun eins vier acht", "4539148"),
        ("quatre cinq trois neuf un quatre huit", "4539148"),
    ],
)
def test_runs_of_number_words_become_digits(text: str, digits: str) -> None:
    """Digit words, oh, double/triple, tens and teens, digits mixed in, groups kept."""
    assert [found for _, _, found in number_words(text)] == [digits]


def test_the_span_covers_the_words_only() -> None:
    """The run's span starts at its first number word and ends after its last."""
    text = "yeah my social is two one nine zero nine nine nine nine nine, thanks"
    [(start, end, _)] = number_words(text)
    assert text[start:end] == "two one nine zero nine nine nine nine nine"


@pytest.mark.parametrize(
    "text",
    [
        "this should only take one or two minutes",
        "I called three times and waited twenty minutes",
        "it was a one-off, on the first of the month",
        "error four on one printer and error five on the other",
        "wait five or ten seconds and try page one again",
        "one two three four five six",  # counting: six digits, under MIN_DIGITS
        "ticket 4821 5533 2211 9000 and 7",  # digits alone are not number words
        "someone, anyone, phone, tone, often, nineteenth",  # words that contain number words
    ],
)
def test_ordinary_prose_holds_no_number(text: str) -> None:
    """Number words in prose never make a run long enough to count."""
    assert list(number_words(text)) == []


def test_the_benign_transcripts_hold_no_number() -> None:
    """The bypass suite's benign transcript gives no run of number words."""
    assert [w for line in TRANSCRIPT for w in number_words(line)] == []


@given(st.text(alphabet="0123456789", min_size=MIN_DIGITS, max_size=19))
def test_spoken_digits_round_trip(digits: str) -> None:
    """Any digits spoken one by one come back as those digits, over the whole text."""
    for separator in (" ", "-", ", "):
        text = spoken(digits, separator)
        found = list(number_words(f"number is {text} ok"))
        assert [d.replace(" ", "") for _, _, d in found] == [digits]
        assert found[0][1] - found[0][0] == len(text)


@given(st.text(max_size=300))
def test_any_text_gives_spans_inside_it(text: str) -> None:
    """Spans are within the text and their digits are at least MIN_DIGITS."""
    for start, end, digits in number_words(text):
        assert 0 <= start < end <= len(text)
        assert sum(c.isdigit() for c in digits) >= MIN_DIGITS
