"""Tests for dlp_proxy/core/normalize.py: folding disguises while keeping offsets.

The embedded-encoding tests here pin what inspect relies on (spans on folded text); the
decoders themselves are tested in test_encodings.py.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlp_proxy.core.encodings import embedded_encodings
from dlp_proxy.core.normalize import normalize


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("\uff14\uff11\uff11\uff11\u3000\uff11\uff11\uff11\uff11", "4111 1111"),  # full-width
        ("٥٣٦-٩٠-٤٣٩٩", "536-90-4399"),  # Arabic-Indic digits
        ("536\u200b90\u00ad4399", "536904399"),  # zero-width space, soft hyphen
        ("4111\u00a01111\u202f1111", "4111 1111 1111"),  # no-break spaces
        ("536\u201390\u20144399", "536-90-4399"),  # en and em dash
        ("plain ascii 123", "plain ascii 123"),
    ],
)
def test_disguises_are_folded(text: str, folded: str) -> None:
    """Unicode digits, odd spaces, dashes and invisible characters become plain ASCII."""
    assert normalize(text).text == folded


def test_span_maps_back_over_removed_characters() -> None:
    """A match on folded text covers the invisible characters inside the original value."""
    text = "ssn 536\u200b90\u200b4399 ok"
    n = normalize(text)
    start = n.text.index("536")
    start0, end0 = n.span(start, start + 9)
    assert text[start0:end0] == "536\u200b90\u200b4399"
    assert n.changed


def test_ascii_text_is_unchanged_and_cheap() -> None:
    """ASCII text folds to itself with the identity mapping."""
    n = normalize("hello 4111")
    assert (n.text, n.changed) == ("hello 4111", False)
    assert n.span(0, 5) == (0, 5)


@given(st.text())
def test_offsets_are_monotonic_and_in_range(text: str) -> None:
    """Every folded character comes from a position of the original, in order."""
    n = normalize(text)
    assert len(n.origins) == len(n.text)
    assert list(n.origins) == sorted(n.origins)
    assert all(0 <= o < len(text) for o in n.origins)
    assert n.changed == (n.text != text)
    if n.text:
        start, end = n.span(0, len(n.text))
        assert 0 <= start <= end <= len(text)


def test_encoded_words_inside_text_are_decoded() -> None:
    """Base64 and (double) percent-encoded words in a sentence are found with their spans."""
    text = "card MjQ4MDkyMDMwMTUyNDM4OQ== or call %2539%2530%2534%252D555 now, 100% sure"
    found = embedded_encodings(text)
    assert [(text[s:e], decoded) for s, e, decoded in found] == [
        ("MjQ4MDkyMDMwMTUyNDM4OQ==", "2480920301524389"),
        ("%2539%2530%2534%252D555", "904-555"),
    ]


def test_identifiers_are_not_taken_for_encodings() -> None:
    """Ticket ids, SKUs, tracking numbers and timestamps decode to nothing readable."""
    text = "INC8779414 SKU-35395-BLK 358624067227 1Z999AA10123456784 2026-11-14T11:47:32.000Z"
    assert embedded_encodings(text) == []


def test_plain_ascii_keeps_no_index_table_and_maps_spans_to_themselves() -> None:
    """ASCII text is its own normal form: no tuple of origins is built, spans map as is (an
    empty span past the end, to the end), and `origins` still answers when asked."""
    n = normalize("abc")
    assert n.folded_origins is None
    assert not n.changed
    assert [n.span(1, 2), n.span(2, 2), n.span(5, 5)] == [(1, 2), (2, 2), (3, 3)]
    assert n.origins == (0, 1, 2)


DIGIT_FORMS = {
    "superscripts": "\u00b2\u00b9\u2079-\u2070\u2079",
    "subscripts": "\u2082\u2081\u2089-\u2080\u2089",
    "circled": "\u2461\u2460\u2468-\u24ea\u2468",
    "dingbat negative circled": "\u2777\u2776\u277e-\u24ff\u277e",
    "mathematical bold": "\U0001d7d0\U0001d7cf\U0001d7d7-\U0001d7ce\U0001d7d7",
    "mathematical monospace": "\U0001d7f8\U0001d7f7\U0001d7ff-\U0001d7f6\U0001d7ff",
    "keycaps": "2\ufe0f\u20e31\ufe0f\u20e39\ufe0f\u20e3-0\ufe0f\u20e39\ufe0f\u20e3",
    "fullwidth with acute": "\uff12\u0301\uff11\u0301\uff19\u0301-\uff10\u0301\uff19\u0301",
}


@pytest.mark.parametrize("name", sorted(DIGIT_FORMS))
def test_every_digit_form_becomes_an_ascii_digit(name: str) -> None:
    """Superscripts, subscripts, circled, dingbat, mathematical digits and keycaps fold to 0-9."""
    assert normalize(DIGIT_FORMS[name]).text == "219-09"


INVISIBLES = {
    "combining low line": "\u0332",
    "variation selector": "\ufe0e",
    "variation selector supplement": "\U000e0100",
    "keycap": "\u20e3",
    "tag characters": "\U000e0041\U000e0020",
    "nul": "\x00",
    "c0 control": "\x1f",
    "c1 control": "\x85",
    "left-to-right mark": "\u200e",
    "right-to-left override": "\u202e\u202c",
    "isolates": "\u2066\u2069",
    "hangul fillers": "\u3164\uffa0\u115f",
    "combining grapheme joiner": "\u034f",
    "word joiner": "\u2060",
}


@pytest.mark.parametrize("name", sorted(INVISIBLES))
def test_invisible_characters_between_digits_disappear(name: str) -> None:
    """Each invisible character after every digit is dropped; the span covers all of them."""
    mark = INVISIBLES[name]
    text = "ssn " + "".join(c + mark for c in "219-09-9999") + " ok"
    n = normalize(text)
    assert n.text == "ssn 219-09-9999 ok"
    start = n.text.index("219")
    start0, end0 = n.span(start, start + 11)
    assert text[start0:end0] == "".join(c + mark for c in "219-09-9999")


def test_combining_marks_after_letters_stay_and_after_digits_go() -> None:
    """Decomposed names keep their accents; a mark after a digit or a dash is a disguise."""
    name = "Jose\u0301 Nu\u0303n\u0303ez Bi\u0300\u0323nh"
    assert normalize(name).text == name
    assert normalize("2\u03011-\u03019").text == "21-9"


def test_minus_sign_and_other_dash_likes_are_hyphens() -> None:
    """U+2212 minus, U+2043 hyphen bullet and U+02D7 modifier minus are read as `-`."""
    assert normalize("219\u221209\u20439999\u02d7").text == "219-09-9999-"


def test_ascii_controls_other_than_line_ends_are_dropped() -> None:
    """NUL and other C0 controls go; tab, line feed, vertical tab, form feed, CR stay."""
    n = normalize("4\x005\x013\t9\n1\x0b4\x0c8\r8\x7f")
    assert n.text == "453\t9\n1\x0b4\x0c8\r8"
    assert n.changed


@given(st.text())
def test_spans_cover_what_they_came_from(text: str) -> None:
    """Any span of the folded text maps to a span of the original that holds its origins."""
    n = normalize(text)
    for start in range(0, len(n.text), 3):
        end = min(start + 4, len(n.text))
        start0, end0 = n.span(start, end)
        assert 0 <= start0 <= end0 <= len(text)
        assert all(start0 <= o < end0 for o in n.origins[start:end])


def test_embedded_encodings_give_spans_inspect_maps_back() -> None:
    """A finding on folded text inside an encoded word maps back over the disguise."""
    text = "ssn &#50;\u200b&#49;&#57;-09-9999 ok"
    n = normalize(text)
    [(start, end, decoded)] = embedded_encodings(n.text)
    assert decoded == "219-09-9999"
    start0, end0 = n.span(start, end)
    assert text[start0:end0] == "&#50;\u200b&#49;&#57;-09-9999"
