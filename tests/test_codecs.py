"""Tests for dlp_proxy.codecs: bodies to segments and back, for JSON, forms, queries and text."""

from __future__ import annotations

import json
import sys
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlp_proxy import codecs
from dlp_proxy.codecs import (
    FormDocument,
    JsonDocument,
    QueryDocument,
    Segment,
    TextDocument,
    context_words,
    parse_body,
    parse_query,
)
from dlp_proxy.errors import UndecodableBody

FORM = "application/x-www-form-urlencoded"


def by_location(segments: tuple[Segment, ...]) -> dict[str, str]:
    """Segment texts keyed by location."""
    return {s.location: s.text for s in segments}


# --- JSON ------------------------------------------------------------------------------------

TICKET: dict[str, Any] = {
    "ticket": {
        "customer": {
            "name": "Maria Gonzalez",
            "cardNumber": 4111111111111111,
            "tags": ["vip", "callback"],
            "visits": 12345,
            "account": 123456,
            "balance": -7654321,
            "active": True,
            "rating": 4.5,
            "fax": None,
        },
        "key with space": "hello",
        "": "empty key",
    },
    "items": [{"sku": "A-1"}, [1, "nested"]],
}


def test_json_segments_are_strings_and_long_integers() -> None:
    """Strings and integers of 6+ digits are segments; short ints, bools, floats, null are not."""
    doc = parse_body("application/json", json.dumps(TICKET).encode())
    assert isinstance(doc, JsonDocument)
    assert [(s.location, s.text) for s in doc.segments] == [
        ("$.ticket.customer.name", "Maria Gonzalez"),
        ("$.ticket.customer.cardNumber", "4111111111111111"),
        ("$.ticket.customer.tags[0]", "vip"),
        ("$.ticket.customer.tags[1]", "callback"),
        ("$.ticket.customer.account", "123456"),
        ("$.ticket.customer.balance", "-7654321"),
        ('$.ticket["key with space"]', "hello"),
        ('$.ticket[""]', "empty key"),
        ("$.items[0].sku", "A-1"),
        ("$.items[1][1]", "nested"),
    ]


def test_json_context_words_come_from_the_nearest_key() -> None:
    """A value's context is the words of its key; list items inherit their list's key."""
    doc = parse_body("application/json", json.dumps(TICKET).encode())
    context = {s.location: s.context for s in doc.segments}
    assert context["$.ticket.customer.cardNumber"] == ("cardnumber", "card", "number")
    assert context["$.ticket.customer.tags[1]"] == ("tags",)
    assert context['$.ticket["key with space"]'] == ("key with space", "key", "with", "space")
    assert context['$.ticket[""]'] == ()
    assert context["$.items[1][1]"] == ("items",)


def test_json_path_quotes_keys_that_are_not_identifiers() -> None:
    """Keys with spaces, dots, quotes or a leading digit are written `$["..."]` as JSON strings."""
    body = {"a.b": "1", "2x": "2", 'q"uote': "3", "_ok9": "4", "café": "5"}
    doc = parse_body("application/json", json.dumps(body).encode())
    assert [s.location for s in doc.segments] == [
        '$["a.b"]',
        '$["2x"]',
        '$["q\\"uote"]',
        "$._ok9",
        '$["café"]',
    ]


def test_json_root_scalar_is_one_segment_and_can_be_replaced() -> None:
    """A body that is just a JSON string is the segment `$`, and rebuild replaces it."""
    doc = parse_body("application/json", b'"4111 1111 1111 1111"')
    assert doc.segments == (Segment("$", "4111 1111 1111 1111"),)
    assert doc.rebuild({"$": "TOKEN"}) == b'"TOKEN"'


def test_json_rebuild_changes_only_the_replaced_values() -> None:
    """Replaced values become strings; every other value keeps its structure and type."""
    doc = parse_body("application/json", json.dumps(TICKET).encode())
    rebuilt = json.loads(
        doc.rebuild({"$.ticket.customer.cardNumber": "TOKEN", "$.items[1][1]": "N"})
    )
    expected = json.loads(json.dumps(TICKET))
    expected["ticket"]["customer"]["cardNumber"] = "TOKEN"
    expected["items"][1][1] = "N"
    assert rebuilt == expected
    customer = rebuilt["ticket"]["customer"]
    assert customer["active"] is True
    assert customer["fax"] is None
    assert isinstance(customer["rating"], float)
    assert isinstance(customer["visits"], int)


def test_json_rebuild_is_compact_utf8() -> None:
    """The rebuilt body is compact JSON with non-ASCII text kept as UTF-8."""
    doc = parse_body("application/json", '{ "name" : "Zoë",  "n": 1 }'.encode())
    assert doc.rebuild({"$.name": "Zoé"}) == '{"name":"Zoé","n":1}'.encode()


def test_json_rebuild_does_not_leak_into_later_rebuilds() -> None:
    """Each rebuild starts from the parsed body: replacements of one call never reach the next."""
    doc = parse_body("application/json", b'{"card": "4111111111111111", "note": "hi"}')
    assert doc.rebuild({"$.card": "TOKEN"}) == b'{"card":"TOKEN","note":"hi"}'
    assert doc.rebuild({"$.note": "x"}) == b'{"card":"4111111111111111","note":"x"}'
    assert doc.rebuild({}) == b'{"card":"4111111111111111","note":"hi"}'


def test_json_rebuild_keeps_lone_surrogate_escapes() -> None:
    """A `\\ud800` escape (valid JSON, not encodable as UTF-8) survives a rebuild as an escape."""
    doc = parse_body("application/json", b'{"card": "4111111111111111", "odd": "\\ud800"}')
    rebuilt = doc.rebuild({"$.card": "TOKEN"})
    assert json.loads(rebuilt) == {"card": "TOKEN", "odd": "\ud800"}


def test_json_media_type_suffix_and_parameters() -> None:
    """`+json` types and Content-Type parameters in any case are parsed as JSON."""
    for content_type in ("application/problem+json", "Application/JSON; Charset=UTF-8"):
        assert isinstance(parse_body(content_type, b'{"a": "b"}'), JsonDocument)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"a": }', "JSON body does not parse: Expecting value at line 1 column 7"),
        (
            b'{"a": "b",\n "c"}',
            "JSON body does not parse: Expecting ':' delimiter at line 2 column 5",
        ),
        (b'{"a": "\xff"}', r"JSON body is not valid UTF-8 \(byte 7\)"),
        (b"[" * 100_000 + b"]" * 100_000, "JSON body is nested too deeply to inspect"),
        # Deep enough for the segment walk to hit the recursion limit, not the C parser's.
        (
            b"[" * sys.getrecursionlimit() + b"]" * sys.getrecursionlimit(),
            "JSON body is nested too deeply to inspect",
        ),
        (b'{"n": ' + b"9" * 5000 + b"}", "JSON body does not parse: Exceeds the limit"),
    ],
    ids=["syntax", "syntax-line-2", "not-utf8", "too-deep", "deep-walk", "huge-integer"],
)
def test_invalid_json_is_undecodable(body: bytes, message: str) -> None:
    """A JSON body that cannot be read raises UndecodableBody saying why and where."""
    with pytest.raises(UndecodableBody, match=message):
        parse_body("application/json", body)


# --- forms and queries -----------------------------------------------------------------------


def test_form_segments_and_repeated_keys() -> None:
    """Form fields are segments `form:name`; repeats get `[1]`, `[2]`; empty values are skipped."""
    doc = parse_body(FORM, b"email=a%40b.example&tag=x&tag=y+z&tag=w&blank=&cardNumber=4111")
    assert isinstance(doc, FormDocument)
    assert [(s.location, s.text, s.context) for s in doc.segments] == [
        ("form:email", "a@b.example", ("email",)),
        ("form:tag", "x", ("tag",)),
        ("form:tag[1]", "y z", ("tag",)),
        ("form:tag[2]", "w", ("tag",)),
        ("form:cardNumber", "4111", ("cardnumber", "card", "number")),
    ]


def test_form_rebuild_replaces_values_and_keeps_order() -> None:
    """rebuild swaps in the replaced values and re-encodes the form in the original order."""
    doc = parse_body(FORM, b"tag=x&tag=y&blank=&email=a%40b.example")
    assert doc.rebuild({"form:tag[1]": "<T>", "form:email": "***"}) == (
        b"tag=x&tag=%3CT%3E&blank=&email=%2A%2A%2A"
    )
    assert doc.rebuild({}) == b"tag=x&tag=y&blank=&email=a%40b.example"


def test_form_charset_is_used_to_decode() -> None:
    """A form's charset parameter decodes the body; a bad charset is UndecodableBody."""
    doc = parse_body(f"{FORM}; charset=latin-1", b"name=Zo\xeb")
    assert by_location(doc.segments) == {"form:name": "Zoë"}
    with pytest.raises(UndecodableBody, match=f"unknown charset 'nope' in the {FORM} Content-Type"):
        parse_body(f"{FORM}; charset=nope", b"a=b")


def test_pair_locations_never_collide() -> None:
    """A field literally named `a[1]` next to repeated `a` fields gets a location of its own."""
    doc = parse_query([("a", "1"), ("a", "2"), ("a[1]", "3"), ("a[1]", "4"), ("b", "5")])
    assert doc.locations == ("query:a", "query:a[1]", "query:a[1][1]", "query:a[1][2]", "query:b")
    assert doc.replaced_pairs({"query:a[1]": "X"}) == (
        ("a", "1"),
        ("a", "X"),
        ("a[1]", "3"),
        ("a[1]", "4"),
        ("b", "5"),
    )


def test_query_segments_and_replaced_pairs() -> None:
    """Query parameters are segments `query:name`; replaced_pairs keeps names and order."""
    doc = parse_query([("q", "maria@example.com"), ("page", "2"), ("q", "x"), ("empty", "")])
    assert isinstance(doc, QueryDocument)
    assert by_location(doc.segments) == {
        "query:q": "maria@example.com",
        "query:page": "2",
        "query:q[1]": "x",
    }
    assert doc.replaced_pairs({"query:q": "<EMAIL>"}) == (
        ("q", "<EMAIL>"),
        ("page", "2"),
        ("q", "x"),
        ("empty", ""),
    )
    assert doc.rebuild({"query:q[1]": "a b"}) == b"q=maria%40example.com&page=2&q=a+b&empty="


# --- text ------------------------------------------------------------------------------------


def test_text_with_latin1_charset_round_trips() -> None:
    """Text is decoded with its charset and rebuilt in the same charset."""
    body = "Café client: 4111 1111 1111 1111\n".encode("latin-1")
    doc = parse_body('text/plain; charset="ISO-8859-1"', body)
    assert isinstance(doc, TextDocument)
    assert doc.segments == (Segment("text:0", "Café client: 4111 1111 1111 1111\n"),)
    assert doc.rebuild({}) == body
    assert doc.rebuild({"text:0": "Café client: <CARD>\n"}) == "Café client: <CARD>\n".encode(
        "latin-1"
    )


def test_text_defaults_to_utf8() -> None:
    """Without a charset, text is read as UTF-8."""
    doc = parse_body("text/plain", "Zoë\n".encode())
    assert by_location(doc.segments) == {"text:0": "Zoë\n"}


def test_long_text_is_chunked_at_line_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    """Text longer than a chunk is cut at line ends; rebuild puts the chunks back together."""
    monkeypatch.setattr(codecs, "TEXT_CHUNK_CHARS", 10)
    text = "aaaa\nbbbb\ncccc\n\n\ndddddddddddddddd\ne"
    doc = parse_body("text/plain", text.encode())
    assert [(s.location, s.text) for s in doc.segments] == [
        ("text:0", "aaaa\nbbbb\n"),
        ("text:1", "cccc\n\n\n"),
        ("text:2", "dddddddddddddddd\n"),
        ("text:3", "e"),
    ]
    assert doc.rebuild({}) == text.encode()
    assert doc.rebuild({"text:1": "X\n"}) == b"aaaa\nbbbb\nX\ndddddddddddddddd\ne"


def test_default_chunk_size_splits_long_text() -> None:
    """A 50,000-character body gives several chunks of at most TEXT_CHUNK_CHARS, all lines whole."""
    line = "x" * 99 + "\n"
    text = line * 500
    doc = parse_body("text/plain", text.encode())
    assert len(doc.segments) == 3
    assert all(len(s.text) <= codecs.TEXT_CHUNK_CHARS for s in doc.segments)
    assert all(s.text.endswith("\n") for s in doc.segments)
    assert "".join(s.text for s in doc.segments) == text


def test_blank_text_chunks_are_not_segments() -> None:
    """Whitespace-only text has nothing to inspect but still rebuilds byte for byte."""
    doc = parse_body("text/plain", b"  \n\t\n")
    assert doc.segments == ()
    assert doc.rebuild({}) == b"  \n\t\n"


def test_unknown_type_that_is_text_is_inspected_as_text() -> None:
    """An unknown or missing Content-Type is inspected as text when the body is text."""
    for content_type in ("application/xml", ""):
        doc = parse_body(content_type, b"<ssn>078-05-1120</ssn>")
        assert by_location(doc.segments) == {"text:0": "<ssn>078-05-1120</ssn>"}


@pytest.mark.parametrize(
    ("content_type", "body", "message"),
    [
        (
            "text/plain; charset=klingon",
            b"abc",
            "unknown charset 'klingon' in the text Content-Type",
        ),
        ("text/plain", b"ok \xff", r"text body is not valid utf-8 \(byte 3\)"),
        ("text/csv; charset=ascii", "é".encode(), r"text body is not valid ascii \(byte 0\)"),
        (
            "application/octet-stream",
            b"\x89PNG\r\n\x1a\n\x00\xff\xfe",
            "cannot inspect a application/octet-stream body: it is not text in a supported format",
        ),
        ("", b"\xff\xd8\xff\xe0", "cannot inspect a untyped body: it is not text"),
        ("image/png; charset=nope", b"abc", "cannot inspect a image/png body"),
    ],
    ids=["bad-charset", "not-utf8", "not-ascii", "binary", "binary-untyped", "unknown-charset"],
)
def test_undecodable_bodies(content_type: str, body: bytes, message: str) -> None:
    """Text in the wrong charset, unknown charsets and binary bodies raise UndecodableBody."""
    with pytest.raises(UndecodableBody, match=message):
        parse_body(content_type, body)


@pytest.mark.parametrize("content_type", ["application/json", FORM, "text/plain", "", "image/png"])
def test_empty_body_has_no_segments(content_type: str) -> None:
    """An empty body of any type has no segments and rebuilds to empty bytes."""
    doc = parse_body(content_type, b"")
    assert doc.segments == ()
    assert doc.rebuild({}) == b""


# --- context words ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("cardNumber", ("cardnumber", "card", "number")),
        ("card_number", ("card_number", "card", "number")),
        ("customerSSN", ("customerssn", "customer", "ssn")),
        ("SSN", ("ssn",)),
        ("phone-1", ("phone-1", "phone")),
        ("address2", ("address2",)),
        ("iban", ("iban",)),
        ("123", ()),
        ("", ()),
    ],
)
def test_context_words(name: str, words: tuple[str, ...]) -> None:
    """Field names split at camelCase and punctuation, lower-cased, whole name first, no digits."""
    assert context_words(name) == words


# --- properties ------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def shape(value: Any) -> Any:
    """The structure of a JSON value: its keys and list lengths, with leaves blanked."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    return None


@given(value=json_values)
def test_json_rebuild_without_replacements_equals_the_original(value: Any) -> None:
    """Rebuilding with no replacements gives back the same JSON data."""
    body = json.dumps(value).encode()
    assert json.loads(JsonDocument(body).rebuild({})) == json.loads(body)


@given(value=json_values, data=st.data())
def test_json_rebuild_with_replacements_keeps_shape(value: Any, data: st.DataObject) -> None:
    """Replacing any segments gives valid JSON of the same shape with just those values changed."""
    doc = JsonDocument(json.dumps(value).encode())
    original = by_location(doc.segments)
    assert len(original) == len(doc.segments), "two segments share a location"
    chosen = data.draw(
        st.lists(st.sampled_from(sorted(original)), unique=True) if original else st.just([])
    )
    replacements = {loc: data.draw(st.text(), label=loc) for loc in chosen}
    rebuilt = json.loads(doc.rebuild(replacements))
    assert shape(rebuilt) == shape(value)
    assert by_location(JsonDocument(json.dumps(rebuilt).encode()).segments) == {
        **original,
        **replacements,
    }


pairs_lists = st.lists(st.tuples(st.text(), st.text()), min_size=1, max_size=6)


@given(pairs=pairs_lists, data=st.data())
def test_form_round_trip(pairs: list[tuple[str, str]], data: st.DataObject) -> None:
    """Any form parses back to its pairs; rebuild changes only the replaced values."""
    body = urlencode(pairs).encode()
    doc = parse_body(FORM, body)
    assert isinstance(doc, FormDocument)
    assert doc.pairs == tuple(pairs)
    assert doc.rebuild({}) == body
    assert len(set(doc.locations)) == len(pairs)
    indexes = data.draw(st.sets(st.integers(0, len(pairs) - 1)))
    new = {i: data.draw(st.text(), label=f"value {i}") for i in indexes}
    rebuilt = doc.rebuild({doc.locations[i]: text for i, text in new.items()})
    expected = [(name, new.get(i, value)) for i, (name, value) in enumerate(pairs)]
    assert parse_body(FORM, rebuilt).pairs == tuple(expected)  # type: ignore[attr-defined]
