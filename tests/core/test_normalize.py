"""Tests for dlp_proxy/core/normalize.py: folding disguises while keeping offsets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlp_proxy.core.normalize import embedded_encodings, normalize


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


def test_hex_of_text_is_an_encoded_word_and_a_hash_is_not() -> None:
    """`3231392d...` is text in hex; a SHA-256 decodes to bytes that are no text."""
    text = "ref " + b"219-09-9999".hex() + " and 9f86d081884c7d659a2feaa0c55ad015"
    assert [decoded for _, _, decoded in embedded_encodings(text)] == ["219-09-9999"]


def test_a_data_uri_holding_text_is_an_encoded_word() -> None:
    """`data:text/plain;base64,...` and percent-encoded data URIs are read as their text."""
    import base64

    b64 = base64.b64encode(b"SSN 219-09-9999").decode()
    for uri in (f"data:text/plain;base64,{b64}", "data:,SSN%20219-09-9999"):
        text = f'<a href="{uri}">x</a>'
        decoded = [d for s, e, d in embedded_encodings(text) if text[s:e] == uri]
        assert decoded == ["SSN 219-09-9999"], uri


def test_a_data_uri_image_is_read_for_its_metadata_and_fails_closed_when_unreadable() -> None:
    """A PNG in a data URI gives its text chunks; a PNG that is cut short is refused."""
    import base64

    from dlp_proxy.errors import UndecodableBody
    from tests.core.codecs.pictures import png, text_chunk

    image = png(text_chunk("Comment", "SSN 219-09-9999"))
    uri = "data:image/png;base64," + base64.b64encode(image).decode()
    assert any("219-09-9999" in d for _, _, d in embedded_encodings(f"img {uri}"))
    broken = "data:image/png;base64," + base64.b64encode(image[:30]).decode()
    with pytest.raises(UndecodableBody):
        embedded_encodings(f"img {broken}")
