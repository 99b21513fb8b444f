"""Tests for dlp_proxy.codecs: bodies, paths and headers to segments and back, in every format."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, unquote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlp_proxy import codecs
from dlp_proxy.codecs import (
    CsvDocument,
    FormDocument,
    HeadersDocument,
    JsonDocument,
    MultipartDocument,
    NdjsonDocument,
    PathDocument,
    QueryDocument,
    Segment,
    TextDocument,
    XmlDocument,
    context_words,
    parse_body,
    parse_headers,
    parse_path,
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
    assert doc.segments == (Segment("$", "4111 1111 1111 1111", field="$"),)
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
    assert doc.segments == (Segment("text:0", "Café client: 4111 1111 1111 1111\n", (), "text"),)
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
    for content_type in ("application/x-unknown", ""):
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
        ("text/csv; charset=ascii", "é".encode(), r"CSV body is not valid ascii \(byte 0\)"),
        ("text/markdown; charset=ascii", "é".encode(), r"text body is not valid ascii \(byte 0\)"),
        (
            "application/octet-stream",
            b"\x89PNG\r\n\x1a\n\x00\xff\xfe",
            "cannot inspect a application/octet-stream body: it is not text in a supported format",
        ),
        ("", b"\xff\xd8\xff\xe0", "cannot inspect a untyped body: it is not text"),
        ("image/png; charset=nope", b"abc", "cannot inspect a image/png body"),
    ],
    ids=[
        "bad-charset",
        "not-utf8",
        "csv-not-ascii",
        "text-not-ascii",
        "binary",
        "binary-untyped",
        "unknown-charset",
    ],
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


# --- shared helpers for the formats below ----------------------------------------------------

# Replacement texts that can never read as a nested document: no '%', and they start with '<'.
replacement_texts = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="%")
).map(lambda s: "<X>" + s)
# The same, with only characters XML 1.0 can hold.
xml_safe_characters = st.characters(
    exclude_categories=("Cs", "Cc"), exclude_characters="%\ufffe\uffff", include_characters="\t\n\r"
)
xml_replacement_texts = st.text(alphabet=xml_safe_characters).map(lambda s: "<X>" + s)


def pick_replacements(
    data: st.DataObject, locations: list[str], texts: st.SearchStrategy[str] = replacement_texts
) -> dict[str, str]:
    """A random subset of `locations`, each with a drawn replacement text."""
    chosen = data.draw(
        st.lists(st.sampled_from(sorted(locations)), unique=True) if locations else st.just([])
    )
    return {location: data.draw(texts, label=location) for location in chosen}


def json_body(value: Any) -> bytes:
    """`value` as a JSON body."""
    return json.dumps(value).encode()


# --- the public surface ------------------------------------------------------------------------


def test_codecs_exports_its_documented_names() -> None:
    """The module exports the documents, the parse functions and the limits it documents."""
    assert {
        "Document",
        "Segment",
        "context_words",
        "parse_body",
        "parse_query",
        "parse_path",
        "parse_headers",
        "CsvDocument",
        "NdjsonDocument",
        "XmlDocument",
        "MultipartDocument",
        "PathDocument",
        "HeadersDocument",
        "MAX_NESTING",
        "SEP",
    } <= set(codecs.__all__)
    assert all(hasattr(codecs, name) for name in codecs.__all__)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b'{"a": "b"}'),
        ("application/x-ndjson", b'{"a": "b"}\n'),
        ("text/csv", b"a,b\nc,d\n"),
        ("application/xml", b"<a>b</a>"),
        (
            "multipart/form-data; boundary=x",
            b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--x--',
        ),
        (FORM, b"a=b"),
        ("text/plain", b"b"),
    ],
    ids=["json", "ndjson", "csv", "xml", "multipart", "form", "text"],
)
def test_rebuild_refuses_locations_that_are_not_segments(content_type: str, body: bytes) -> None:
    """A replacement for a location the document does not have is a KeyError, never ignored."""
    doc = parse_body(content_type, body)
    assert doc.uninspectable == ()
    for location in ("nowhere", "$.nope>text:0", f"{doc.segments[0].location}>text:0"):
        with pytest.raises(KeyError, match="no segment at"):
            doc.rebuild({location: "x"})


# --- nested documents --------------------------------------------------------------------------


def test_json_string_holding_json_is_a_nested_document() -> None:
    """A JSON string holding an object is a nested document, rebuilt as a JSON string again."""
    inner = {"customer": {"ssn": "078-05-1120", "tags": ["vip"]}}
    body = json_body({"payload": json.dumps(inner, indent=2), "note": "hi"})
    doc = parse_body("application/json", body)
    assert [(s.location, s.text, s.context) for s in doc.segments] == [
        ("$.payload>$.customer.ssn", "078-05-1120", ("ssn",)),
        ("$.payload>$.customer.tags[0]", "vip", ("tags",)),
        ("$.note", "hi", ("note",)),
    ]
    rebuilt = json.loads(doc.rebuild({"$.payload>$.customer.ssn": "<SSN>"}))
    assert json.loads(rebuilt["payload"]) == {"customer": {"ssn": "<SSN>", "tags": ["vip"]}}
    # A nested document nothing was replaced in keeps its exact text, indentation included.
    assert json.loads(doc.rebuild({"$.note": "x"}))["payload"] == json.dumps(inner, indent=2)


def test_json_strings_that_only_look_like_json_stay_text() -> None:
    """Strings in brackets that do not parse, or hold an empty container, are plain segments."""
    doc = parse_body("application/json", json_body({"a": "[not json]", "b": "{}", "c": "[1, "}))
    assert by_location(doc.segments) == {"$.a": "[not json]", "$.b": "{}", "$.c": "[1, "}


def test_nesting_is_bounded() -> None:
    """JSON in a string in a string ... is read MAX_NESTING levels deep; deeper is plain text."""
    value: Any = {"ssn": "078-05-1120"}
    for _ in range(8):
        value = {"v": json.dumps(value)}
    doc = parse_body("application/json", json_body(value))
    [segment] = doc.segments
    assert segment.location == ">".join(["$.v"] * codecs.MAX_NESTING)
    assert segment.text.startswith('{"v": ')


def test_nested_json_too_deep_is_plain_text() -> None:
    """A string holding JSON nested too deeply is inspected as text, not refused."""
    deep = "[" * 150 + '"x"' + "]" * 150
    doc = parse_body("application/json", json_body({"v": deep}))
    assert by_location(doc.segments) == {"$.v": deep}


def test_separator_in_names_cannot_forge_a_nested_location() -> None:
    """JSON keys and field names holding `>` are written with `\\u003e` and `%3E`."""
    doc = parse_body("application/json", json_body({"a>b": "x", "a": '{"b": "y"}'}))
    assert by_location(doc.segments) == {'$["a\\u003eb"]': "x", "$.a>$.b": "y"}
    assert json.loads(doc.rebuild({'$["a\\u003eb"]': "X"}))["a>b"] == "X"
    form = parse_body(FORM, b"a%3Eb=x&a=%7B%22b%22%3A%22y%22%7D")
    assert by_location(form.segments) == {"form:a%3Eb": "x", "form:a>$.b": "y"}


def test_a_nested_value_can_still_be_replaced_whole() -> None:
    """Replacing a value's own location wins over replacements inside its nested document."""
    doc = parse_query([("state", '{"email": "m@x.example"}')])
    assert doc.replaced_pairs({"query:state": "gone", "query:state>$.email": "<E>"}) == (
        ("state", "gone"),
    )
    assert doc.replaced_pairs({"query:state>$.email": "<E>"}) == (("state", '{"email":"<E>"}'),)


# --- percent-encoding --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "tag", "decoded"),
    [
        ("maria%40example.com", "url", "maria@example.com"),
        ("maria%2540example.com", "url2", "maria@example.com"),
        ("maria%252540example.com", "url3", "maria@example.com"),
        ("caf%C3%A9%20client", "url", "café client"),
        ("%7B%22ssn%22%3A%22078-05-1120%22%7D", "url", None),
    ],
    ids=["once", "twice", "three-times", "utf8", "json-inside"],
)
def test_percent_encoded_values_are_read_decoded(value: str, tag: str, decoded: str | None) -> None:
    """A value of percent-escapes is a nested document of its decoded text (or JSON)."""
    doc = parse_body("application/json", json_body({"email": value}))
    if decoded is None:
        expected = Segment(f"$.email>{tag}>$.ssn", "078-05-1120", ("ssn",), f"$.email>{tag}>$.ssn")
    else:
        expected = Segment(f"$.email>{tag}>text:0", decoded, ("email",), f"$.email>{tag}>text")
    assert doc.segments == (expected,)


@pytest.mark.parametrize(
    "value", ["100% sure", "50%off", "%zz", "a%FFb", "%", "a%4", "plain", "%41 and 100%"]
)
def test_values_that_are_not_cleanly_percent_encoded_stay_as_they_are(value: str) -> None:
    """A `%` that is not an escape, or escapes of bytes that are not UTF-8, mean plain text."""
    doc = parse_body("application/json", json_body({"v": value}))
    assert doc.segments == (Segment("$.v", value, ("v",), "$.v"),)


def test_percent_rebuild_re_encodes_only_what_changed() -> None:
    """Characters outside the changed stretch keep their exact spelling (`%7e`, `+`, `%2C`)."""
    value = "to=maria%40example.com&cc=a+b%2Cc&x=%7e"
    doc = parse_body("application/json", json_body({"v": value}))
    [segment] = doc.segments
    assert segment.text == "to=maria@example.com&cc=a+b,c&x=~"
    new = segment.text.replace("maria@example.com", "<EMAIL>")
    rebuilt = json.loads(doc.rebuild({segment.location: new}))["v"]
    assert rebuilt == "to=%3CEMAIL%3E&cc=a+b%2Cc&x=%7e"
    assert unquote(rebuilt) == new


def test_double_encoded_form_value_is_encoded_twice_again() -> None:
    """A form value still percent-encoded after the form's own decoding is one more layer."""
    doc = parse_body(FORM, b"next=%252Fcustomers%252Fmaria%2540example.com&n=1")
    assert by_location(doc.segments) == {
        "form:next>url>text:0": "/customers/maria@example.com",
        "form:n": "1",
    }
    rebuilt = doc.rebuild({"form:next>url>text:0": "/customers/<EMAIL>"})
    assert rebuilt == b"next=%252Fcustomers%252F%253CEMAIL%253E&n=1"


# --- base64 ------------------------------------------------------------------------------------

TEXT_WITH_SYMBOLS = "Maria Gonzalez ??>> maria@example.com, card 4111 1111 1111 1111!"


def b64(text: str, *, urlsafe: bool = False, padded: bool = True) -> str:
    """`text` as base64 in the given alphabet, with or without padding."""
    raw = text.encode()
    encoded = (base64.urlsafe_b64encode(raw) if urlsafe else base64.b64encode(raw)).decode()
    return encoded if padded else encoded.rstrip("=")


@pytest.mark.parametrize("urlsafe", [False, True], ids=["standard", "urlsafe"])
@pytest.mark.parametrize("padded", [True, False], ids=["padded", "unpadded"])
def test_base64_text_is_nested_and_keeps_alphabet_and_padding(urlsafe: bool, padded: bool) -> None:
    """Base64 of text is a nested text document; rebuild re-encodes it the same way."""
    value = b64(TEXT_WITH_SYMBOLS, urlsafe=urlsafe, padded=padded)
    assert ("=" in value) is padded
    assert ("-" in value) if urlsafe else ("+" in value), "the example must show its alphabet"
    doc = parse_body("application/json", json_body({"blob": value}))
    assert doc.segments == (
        Segment("$.blob>b64>text:0", TEXT_WITH_SYMBOLS, ("blob",), "$.blob>b64>text"),
    )
    new = "Maria Gonzalez ??>> <EMAIL>, card <CARD>"
    rebuilt = json.loads(doc.rebuild({"$.blob>b64>text:0": new}))["blob"]
    assert rebuilt == b64(new, urlsafe=urlsafe, padded=padded)


def test_base64_of_json_is_nested_json() -> None:
    """Base64 that decodes to JSON is a nested JSON document."""
    value = base64.b64encode(json.dumps({"ssn": "078-05-1120"}).encode()).decode()
    doc = parse_body("application/json", json_body({"data": value}))
    assert doc.segments == (
        Segment("$.data>b64>$.ssn", "078-05-1120", ("ssn",), "$.data>b64>$.ssn"),
    )
    rebuilt = json.loads(doc.rebuild({"$.data>b64>$.ssn": "<SSN>"}))["data"]
    assert json.loads(base64.b64decode(rebuilt)) == {"ssn": "<SSN>"}


@pytest.mark.parametrize(
    "value",
    [
        "ORD-2026-000417",
        "1Z999AA10123456784",
        "123e4567-e89b-12d3-a456-426614174000",
        "2026-01-02T03:04:05Z",
        "2026-01-02T03:04:05.123+02:00",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "4111111111111111",
        "12345678901234567890",
        "Supercalifragilistic",
        "InternationalBusinessMachinesCorp",
        "dGVzdA==",
        "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        base64.b64encode(bytes(range(200, 248))).decode(),
        base64.b64encode(b"\x00\x01\x02 mostly binary \x03\x04\x05\x06").decode(),
    ],
    ids=[
        "order-id",
        "ups-tracking",
        "uuid",
        "iso-timestamp",
        "iso-timestamp-offset",
        "sha256-hex",
        "card-digits",
        "digits",
        "word",
        "long-camel-case",
        "short-base64",
        "api-key",
        "binary-base64",
        "control-characters",
    ],
)
def test_identifiers_are_not_read_as_base64(value: str) -> None:
    """Ids, hashes, timestamps, words, short values and base64 of binary stay plain segments."""
    doc = parse_body("application/json", json_body({"id": value}))
    assert doc.segments == (Segment("$.id", value, ("id",), "$.id"),)


# --- NDJSON ------------------------------------------------------------------------------------


def test_ndjson_records_are_json_documents() -> None:
    """Each line is a JSON document `l<N>`; rebuild rewrites only changed lines, endings kept."""
    body = b'{"email":"maria@example.com"}\r\n\n  {"n": [1, "x"]}  \n"top"'
    doc = parse_body("application/x-ndjson", body)
    assert isinstance(doc, NdjsonDocument)
    assert [(s.location, s.text, s.context) for s in doc.segments] == [
        ("l0>$.email", "maria@example.com", ("email",)),
        ("l2>$.n[1]", "x", ("n",)),
        ("l3>$", "top", ()),
    ]
    assert doc.rebuild({}) == body
    assert doc.rebuild({"l2>$.n[1]": "Y"}) == (
        b'{"email":"maria@example.com"}\r\n\n  {"n":[1,"Y"]}  \n"top"'
    )


@pytest.mark.parametrize("content_type", ["application/jsonl", "application/x-jsonlines"])
def test_json_lines_types(content_type: str) -> None:
    """JSON Lines media types are read as NDJSON."""
    doc = parse_body(content_type, b'{"a":"b"}\n{"a":"c"}\n')
    assert by_location(doc.segments) == {"l0>$.a": "b", "l1>$.a": "c"}


def test_json_text_sequence() -> None:
    """`application/json-seq` records start with RS; rebuild keeps the separators."""
    body = b'\x1e{"a":"b"}\n\x1e{"a": "c"}\n'
    doc = parse_body("application/json-seq", body)
    assert by_location(doc.segments) == {"l0>$.a": "b", "l1>$.a": "c"}
    assert doc.rebuild({"l1>$.a": "<C>"}) == b'\x1e{"a":"b"}\n\x1e{"a":"<C>"}\n'


@pytest.mark.parametrize(
    ("content_type", "body", "message"),
    [
        (
            "application/x-ndjson",
            b'{"a":1}\n{bad\n',
            "NDJSON body does not parse: record 1: Expecting property name enclosed in double "
            "quotes at column 2",
        ),
        ("application/x-ndjson", b'{"a":1}\n\xff\n', r"NDJSON body is not valid utf-8 \(byte 8\)"),
        ("application/x-ndjson", b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        ("application/json-seq", b'{"a":1}\n', "does not start with a record separator"),
    ],
    ids=["syntax", "not-utf8", "too-deep", "seq-without-rs"],
)
def test_invalid_ndjson_is_undecodable(content_type: str, body: bytes, message: str) -> None:
    """A record that is not JSON makes the body undecodable, naming the record."""
    with pytest.raises(UndecodableBody, match=message):
        parse_body(content_type, body)


# --- CSV and TSV -------------------------------------------------------------------------------

CSV_BODY = (
    b"name,email,amount,notes\r\n"
    b'Maria Gonzalez,maria@example.com,12.50,"called, twice\nabout ""card"""\r\n'
    b"John Smith,john@example.com,3,\r\n"
)


def test_csv_cells_are_segments_with_their_column_names_as_context() -> None:
    """Data cells are `csv:r<row>.c<col>`; the header gives context; short numbers are skipped."""
    doc = parse_body("text/csv", CSV_BODY)
    assert isinstance(doc, CsvDocument)
    assert [(s.location, s.text, s.context) for s in doc.segments] == [
        ("csv:r1.c0", "Maria Gonzalez", ("name",)),
        ("csv:r1.c1", "maria@example.com", ("email",)),
        ("csv:r1.c3", 'called, twice\nabout "card"', ("notes",)),
        ("csv:r2.c0", "John Smith", ("name",)),
        ("csv:r2.c1", "john@example.com", ("email",)),
    ]


def test_csv_rebuild_rewrites_only_the_changed_rows() -> None:
    """Untouched rows are copied byte for byte; a changed row is quoted as it needs."""
    doc = parse_body("text/csv", CSV_BODY)
    assert doc.rebuild({}) == CSV_BODY
    assert doc.rebuild({"csv:r2.c0": 'Smith, "J"\nx'}) == (
        b"name,email,amount,notes\r\n"
        b'Maria Gonzalez,maria@example.com,12.50,"called, twice\nabout ""card"""\r\n'
        b'"Smith, ""J""\nx",john@example.com,3,\r\n'
    )


def test_csv_rebuild_keeps_quoting_bom_and_line_endings() -> None:
    """A file quoting every field keeps doing so; the BOM, LF endings and last line stay."""
    body = '\ufeff"name","email"\n"Maria","m@x.example"\n"John","j@x.example"'.encode()
    doc = parse_body("text/csv", body)
    assert by_location(doc.segments)["csv:r2.c1"] == "j@x.example"
    assert doc.segments[0].context == ("name",)
    assert doc.rebuild({"csv:r2.c1": "<E>"}) == (
        '\ufeff"name","email"\n"Maria","m@x.example"\n"John","<E>"'.encode()
    )


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        (
            "text/csv",
            b"Maria Gonzalez,maria@example.com\n",
            {"csv:r0.c0": "Maria Gonzalez", "csv:r0.c1": "maria@example.com"},
        ),
        (
            "text/csv",
            b"name,account_2024\n",  # three digits in a row: data, not a column name
            {"csv:r0.c0": "name", "csv:r0.c1": "account_2024"},
        ),
        (
            "text/csv; header=absent",
            b"name,email\nx,y\n",
            {"csv:r0.c0": "name", "csv:r0.c1": "email", "csv:r1.c0": "x", "csv:r1.c1": "y"},
        ),
        (
            "text/csv; header=present",
            b"4111111111111111,x\nab,cd\n",
            {"csv:r1.c0": "ab", "csv:r1.c1": "cd"},
        ),
    ],
    ids=["data-first-row", "digits-in-first-row", "header-absent", "header-present"],
)
def test_csv_first_row_is_inspected_unless_it_is_a_header(
    content_type: str, body: bytes, expected: dict[str, str]
) -> None:
    """A first row that does not look like column names (or `header=absent`) is data."""
    assert by_location(parse_body(content_type, body).segments) == expected


def test_tsv_and_sniffed_delimiters() -> None:
    """TSV splits on tabs only; a CSV's delimiter is read from its first line."""
    tsv = parse_body("text/tab-separated-values", b"name\temail\nMaria, G.\tm@x.example\n")
    assert by_location(tsv.segments) == {"csv:r1.c0": "Maria, G.", "csv:r1.c1": "m@x.example"}
    body = b"name;iban\nMaria;DE89 3704 0044 0532 0130 00\n"
    semi = parse_body("text/csv", body)
    assert by_location(semi.segments) == {
        "csv:r1.c0": "Maria",
        "csv:r1.c1": "DE89 3704 0044 0532 0130 00",
    }
    assert semi.rebuild({"csv:r1.c1": "<IBAN>; x"}) == b'name;iban\nMaria;"<IBAN>; x"\n'


def test_csv_cells_can_hold_nested_documents() -> None:
    """A cell holding JSON or base64 is a nested document like any other value."""
    body = b'id,payload\nA-1,"{""ssn"": ""078-05-1120""}"\n'
    doc = parse_body("text/csv", body)
    assert by_location(doc.segments) == {"csv:r1.c0": "A-1", "csv:r1.c1>$.ssn": "078-05-1120"}
    assert doc.rebuild({"csv:r1.c1>$.ssn": "<SSN>"}) == (b'id,payload\nA-1,"{""ssn"":""<SSN>""}"\n')


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b'a,b\n"' + b"x" * (csv.field_size_limit() + 1) + b'",y\n',
            "CSV body does not parse at line 2: field larger than field limit",
        ),
        (b"a,b\n\xff\n", r"CSV body is not valid utf-8 \(byte 4\)"),
    ],
    ids=["field-over-limit", "not-utf8"],
)
def test_invalid_csv_is_undecodable(body: bytes, message: str) -> None:
    """A field over csv's size limit or bytes outside the charset make the body undecodable."""
    with pytest.raises(UndecodableBody, match=message):
        parse_body("text/csv", body)


def test_a_one_megabyte_csv_is_parsed_and_rebuilt_quickly() -> None:
    """A 1 MB export is read and rebuilt in linear time (well under the bound on a slow CI)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "name", "email", "note", "created"])
    i = 0
    while out.tell() < 1_000_000:
        writer.writerow([i, f"Customer {i}", f"user{i}@example.com", "called, twice", "2026-01-02"])
        i += 1
    body = out.getvalue().encode()
    start = time.perf_counter()
    doc = parse_body("text/csv", body)
    replacements = {s.location: "<X>" for s in doc.segments[::5]}
    rebuilt = doc.rebuild(replacements)
    assert time.perf_counter() - start < 5
    assert len(doc.segments) == 4 * i
    assert rebuilt.count(b"\r\n") == body.count(b"\r\n")


# --- XML ---------------------------------------------------------------------------------------

XML_BODY = (
    b'<?xml version="1.0" encoding="ISO-8859-1"?>\n'
    b'<root xmlns:a="urn:x">\n'
    b'  <customer id="C-1234567" kind="vip"><a:ssn>078-05-1120</a:ssn>'
    b"<name>Zo\xeb &amp; co</name><age>42</age></customer>\n"
    b"  <customer><p>Hi <b>there</b> Maria &lt;m@x.example&gt;"
    b"<!-- card 4111111111111111 --></p></customer>\n"
    b"</root>"
)


def test_xml_segments_locations_and_context() -> None:
    """Text, tails, attributes and comments are segments located by local names."""
    doc = parse_body("application/xml", XML_BODY)
    assert isinstance(doc, XmlDocument)
    assert [(s.location, s.text, s.context) for s in doc.segments] == [
        ("xml:/root/customer[1]/@id", "C-1234567", ("id",)),
        ("xml:/root/customer[1]/@kind", "vip", ("kind",)),
        ("xml:/root/customer[1]/ssn", "078-05-1120", ("ssn",)),
        ("xml:/root/customer[1]/name", "Zoë & co", ("name",)),
        ("xml:/root/customer[2]/p", "Hi ", ("p",)),
        ("xml:/root/customer[2]/p/b", "there", ("b",)),
        ("xml:/root/customer[2]/p/b/tail()", " Maria <m@x.example>", ("p",)),
        ("xml:/root/customer[2]/p/comment()", " card 4111111111111111 ", ()),
    ]


def test_xml_rebuild_splices_in_escaped_text_and_keeps_everything_else() -> None:
    """Only replaced text changes: declaration, encoding, namespaces and layout stay."""
    doc = parse_body("application/xml", XML_BODY)
    assert doc.rebuild({}) == XML_BODY
    rebuilt = doc.rebuild(
        {
            "xml:/root/customer[1]/name": "Zoë € <&>",
            "xml:/root/customer[1]/@id": "a\"b'\nc",
            "xml:/root/customer[2]/p/b/tail()": " M <E>\r",
            "xml:/root/customer[2]/p/comment()": "<C--C>-",
        }
    )
    assert rebuilt == (
        b'<?xml version="1.0" encoding="ISO-8859-1"?>\n'
        b'<root xmlns:a="urn:x">\n'
        b'  <customer id="a&quot;b\'&#10;c" kind="vip"><a:ssn>078-05-1120</a:ssn>'
        b"<name>Zo\xeb &#8364; &lt;&amp;&gt;</name><age>42</age></customer>\n"
        b"  <customer><p>Hi <b>there</b> M &lt;E&gt;&#13;"
        b"<!--<C- -C>- --></p></customer>\n"
        b"</root>"
    )
    again = by_location(parse_body("application/xml", rebuilt).segments)
    assert again["xml:/root/customer[1]/@id"] == "a\"b'\nc"
    assert again["xml:/root/customer[2]/p/b/tail()"] == " M <E>\r"


def test_xml_repeated_names_and_namespaced_attributes_get_distinct_locations() -> None:
    """Same-named siblings are indexed from 1; two attributes with one local name too."""
    body = (
        b'<r xmlns:p="urn:p" xmlns:q="urn:q">'
        b'<a>x1</a><b>y</b><a>x2</a><c p:id="A-1" q:id="B-2"/></r>'
    )
    doc = parse_body("text/xml", body)
    assert by_location(doc.segments) == {
        "xml:/r/a[1]": "x1",
        "xml:/r/b": "y",
        "xml:/r/a[2]": "x2",
        "xml:/r/c/@id": "A-1",
        "xml:/r/c/@id[2]": "B-2",
    }


def test_xml_cdata_and_character_references_are_read_and_replaced_whole() -> None:
    """Text with entities and CDATA reads decoded; its replacement is plain escaped text."""
    doc = parse_body("application/soap+xml", b"<r><n>a &amp; <![CDATA[<b>]]> &#67;</n></r>")
    assert by_location(doc.segments) == {"xml:/r/n": "a & <b> C"}
    assert doc.rebuild({"xml:/r/n": "x<y"}) == b"<r><n>x&lt;y</n></r>"


def test_xml_replacement_characters_xml_cannot_hold_become_u_fffd() -> None:
    """Control characters in a replacement cannot make the document invalid."""
    doc = parse_body("application/xml", b"<r>abc</r>")
    rebuilt = doc.rebuild({"xml:/r": "a\x00b\x1bc"})
    assert ET.fromstring(rebuilt).text == "a\ufffdb\ufffdc"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-8-sig"])
def test_xml_in_utf16_or_with_a_bom_round_trips(encoding: str) -> None:
    """The byte-order mark and encoding are kept; untouched, the body is unchanged."""
    text = '<?xml version="1.0" encoding="UTF-16"?><r><ssn>078-05-1120</ssn></r>'
    body = text.encode(encoding)
    if encoding == "utf-16-be":
        body = b"\xfe\xff" + body
    doc = parse_body("application/xml", body)
    assert by_location(doc.segments) == {"xml:/r/ssn": "078-05-1120"}
    assert doc.rebuild({}) == body
    rebuilt = doc.rebuild({"xml:/r/ssn": "<SSN>"})
    assert rebuilt[:2] == body[:2]
    assert by_location(parse_body("application/xml", rebuilt).segments) == {"xml:/r/ssn": "<SSN>"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
            b"<r>&b;</r>",
            "XML body has a DOCTYPE declaration",
        ),
        (
            b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
            "XML body has a DOCTYPE declaration",
        ),
        (b"<r>&nope;</r>", "XML body does not parse: undefined entity at line 1 column 3"),
        (b"<r><a></r>", "XML body does not parse: mismatched tag at line 1 column 8"),
        (b"<a>" * 101 + b"</a>" * 101, "XML body is nested too deeply to inspect"),
        (
            b'<?xml version="1.0" encoding="klingon"?><r/>',
            "XML body declares an unknown encoding 'klingon'",
        ),
        (b"<r>\xff</r>", r"XML body is not valid utf-8 \(byte 3\)"),
    ],
    ids=[
        "entity-expansion",
        "external-entity",
        "undefined-entity",
        "syntax",
        "too-deep",
        "unknown-encoding",
        "not-utf8",
    ],
)
def test_invalid_or_unsafe_xml_is_undecodable(body: bytes, message: str) -> None:
    """DTDs and entities are refused; malformed or too deep XML is undecodable, saying why."""
    with pytest.raises(UndecodableBody, match=message):
        parse_body("application/xml", body)


# --- multipart ---------------------------------------------------------------------------------

BOUNDARY = "----WebKitFormBoundary7MA4YWxkTrZu0gW"


def multipart(*parts: bytes, boundary: str = BOUNDARY, newline: bytes = b"\r\n") -> bytes:
    """A multipart body of `parts` (each its headers, a blank line and its content)."""
    delimiter = b"--" + boundary.encode()
    inner = (newline + delimiter + newline).join(parts)
    return delimiter + newline + inner + newline + delimiter + b"--" + newline


UPLOAD = multipart(
    b'Content-Disposition: form-data; name="email"\r\n\r\nmaria@example.com',
    b'Content-Disposition: form-data; name="file"; filename="export.csv"\r\n'
    b"Content-Type: text/csv\r\nContent-Length: 38\r\n\r\n"
    b"name,ssn\r\nMaria Gonzalez,078-05-1120\r\n",
    b'Content-Disposition: form-data; name="photo"; filename="a.png"\r\n'
    b"Content-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n\x00\xff",
    b'Content-Disposition: form-data; name="meta"; filename="m.json"\r\n\r\n'
    b'{"customer": {"phone": "+1 555-010-0199"}}',
    b'Content-Disposition: form-data; name="empty"\r\n\r\n',
)
UPLOAD_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def test_multipart_fields_and_files() -> None:
    """Fields are values; files are documents by type or extension; binary is uninspectable."""
    doc = parse_body(UPLOAD_TYPE, UPLOAD)
    assert isinstance(doc, MultipartDocument)
    assert [(s.location, s.text, s.context) for s in doc.segments] == [
        ("multipart:email", "maria@example.com", ("email",)),
        ("multipart:file>csv:r1.c0", "Maria Gonzalez", ("name",)),
        ("multipart:file>csv:r1.c1", "078-05-1120", ("ssn",)),
        ("multipart:meta>$.customer.phone", "+1 555-010-0199", ("phone",)),
    ]
    assert doc.uninspectable == ("multipart:photo",)


def test_multipart_rebuild_changes_only_the_replaced_parts() -> None:
    """Boundary, headers and untouched parts stay byte for byte; Content-Length is corrected."""
    doc = parse_body(UPLOAD_TYPE, UPLOAD)
    assert doc.rebuild({}) == UPLOAD
    rebuilt = doc.rebuild(
        {"multipart:file>csv:r1.c1": "<SSN>", "multipart:meta>$.customer.phone": "<P>"}
    )
    assert rebuilt == UPLOAD.replace(
        b"Content-Length: 38\r\n\r\nname,ssn\r\nMaria Gonzalez,078-05-1120\r\n",
        b"Content-Length: 32\r\n\r\nname,ssn\r\nMaria Gonzalez,<SSN>\r\n",
    ).replace(b'{"customer": {"phone": "+1 555-010-0199"}}', b'{"customer":{"phone":"<P>"}}')


def test_multipart_unnamed_parts_lf_endings_and_preamble() -> None:
    """multipart/mixed parts without names are `multipart:[i]`; LF-only bodies are read too."""
    body = (
        b"preamble\n"
        + multipart(
            b"Content-Type: text/plain\n\nmaria@example.com",
            b'Content-Type: application/json\n\n{"ssn": "078-05-1120"}',
            b"\njust text",
            boundary="b1",
            newline=b"\n",
        )
        + b"epilogue\n"
    )
    doc = parse_body('multipart/mixed; boundary="b1"', body)
    assert by_location(doc.segments) == {
        "multipart:[0]": "maria@example.com",
        "multipart:[1]>$.ssn": "078-05-1120",
        "multipart:[2]": "just text",
    }
    assert doc.rebuild({"multipart:[2]": "x"}) == body.replace(b"just text", b"x")


def test_multipart_parts_that_cannot_be_read_are_listed() -> None:
    """Transfer encodings, bad charsets, binary and malformed declared types are uninspectable."""
    body = multipart(
        b'Content-Disposition: form-data; name="a"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        b"bWFyaWFAZXhhbXBsZS5jb20=",
        b'Content-Disposition: form-data; name="b"\r\n\r\n\xff\xfe',
        b'Content-Disposition: form-data; name="c"; filename="x.pdf"\r\n'
        b"Content-Type: application/pdf\r\n\r\n%PDF-1.7",
        b'Content-Disposition: form-data; name="d"; filename="x.json"\r\n'
        b"Content-Type: application/json\r\n\r\n{not json",
        b'Content-Disposition: form-data; name="e"; filename="notes.json"\r\n\r\n'
        b"not json: m@x.example",
        b'Content-Disposition: form-data; name="f"; filename="blob"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n\x00\xff\x10",
    )
    doc = parse_body(UPLOAD_TYPE, body)
    assert doc.uninspectable == (
        "multipart:a",
        "multipart:b",
        "multipart:c",
        "multipart:d",
        "multipart:f",
    )
    # A type guessed from the filename that turns out wrong falls back to text.
    assert by_location(doc.segments) == {"multipart:e>text:0": "not json: m@x.example"}


def test_multipart_nested_multipart_and_encoded_filenames() -> None:
    """A multipart part is a document too; `filename*` names and quoted names are decoded."""
    inner = multipart(
        b"Content-Disposition: attachment; filename*=UTF-8''caf%C3%A9.txt\r\n\r\nmaria@example.com",
        boundary="inner",
    )
    body = multipart(
        b'Content-Disposition: form-data; name="a \\"b\\""\r\nContent-Type: multipart/mixed; '
        b"boundary=inner\r\n\r\n" + inner,
    )
    doc = parse_body(UPLOAD_TYPE, body)
    assert by_location(doc.segments) == {
        'multipart:a "b">multipart:[0]>text:0': "maria@example.com"
    }
    rebuilt = doc.rebuild({'multipart:a "b">multipart:[0]>text:0': "<E>"})
    assert rebuilt == body.replace(b"\n\r\nmaria@example.com", b"\n\r\n<E>")


def test_multipart_empty_parts_are_kept_and_only_well_formed_ones_take_content() -> None:
    """Empty parts survive rebuild; a part without a blank line after its headers stays empty."""
    body = (
        b"--b\r\n\r\n--b\r\n"
        b'Content-Disposition: form-data; name="x"\r\n\r\n\r\n--b\r\n'
        b'Content-Disposition: form-data; name="y"\r\n\r\n--b--'
    )
    doc = parse_body("multipart/form-data; boundary=b", body)
    assert doc.segments == ()
    assert doc.rebuild({}) == body
    assert doc.rebuild({"multipart:x": "v"}) == body.replace(b'"x"\r\n\r\n', b'"x"\r\n\r\nv')
    for location in ("multipart:[0]", "multipart:y"):
        with pytest.raises(KeyError):
            doc.rebuild({location: "v"})


@pytest.mark.parametrize(
    ("content_type", "body", "message"),
    [
        ("multipart/form-data", b"--x\r\n\r\na\r\n--x--", "no boundary parameter"),
        (UPLOAD_TYPE, b"no delimiter here", "its boundary never appears"),
        (
            UPLOAD_TYPE,
            UPLOAD[: UPLOAD.index(b'Content-Disposition: form-data; name="meta"')],
            "no closing boundary",
        ),
        (
            UPLOAD_TYPE,
            multipart(b'Content-Disposition: form-data; name="a"\r\nno blank line'),
            "part 0 has no blank line after its headers",
        ),
        ("multipart/form-data; boundary=\u00e9", b"--x--", "boundary is not ASCII"),
    ],
    ids=["no-boundary", "no-delimiter", "not-closed", "no-blank-line", "non-ascii-boundary"],
)
def test_malformed_multipart_is_undecodable(content_type: str, body: bytes, message: str) -> None:
    """A multipart body that is not whole or has no boundary is undecodable."""
    with pytest.raises(UndecodableBody, match=message):
        parse_body(content_type, body)


def test_multipart_replacement_holding_the_boundary_is_refused() -> None:
    """A replacement that would end a part early is refused instead of corrupting the body."""
    doc = parse_body(UPLOAD_TYPE, UPLOAD)
    with pytest.raises(UndecodableBody, match="boundary inside a part"):
        doc.rebuild({"multipart:email": f"x\r\n--{BOUNDARY}--"})
    # The boundary inside a line is no delimiter: such a replacement is fine.
    assert doc.rebuild({"multipart:email": f"x--{BOUNDARY}--"}).count(BOUNDARY.encode()) == 7


# --- sniffing untyped bodies -------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["", "text/plain", "application/octet-stream"])
def test_untyped_json_and_xml_bodies_are_read_as_such(content_type: str) -> None:
    """A body of no specific type that is JSON, or XML with a declaration, is read as such."""
    doc = parse_body(content_type, b' {"email": "m@x.example"}')
    assert isinstance(doc, JsonDocument)
    assert by_location(doc.segments) == {"$.email": "m@x.example"}
    xml = parse_body(content_type, b'<?xml version="1.0"?><r><ssn>078-05-1120</ssn></r>')
    assert isinstance(xml, XmlDocument)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", b"[INFO] started {job}"),
        ("text/plain", b"<?xml nope"),
        ("text/plain; charset=latin-1", b'{"a": "\xe9"}'),
        ("text/markdown", b'{"a": "b"}'),
    ],
)
def test_text_that_only_looks_structured_stays_text(content_type: str, body: bytes) -> None:
    """Text that does not parse, or has another charset or type, is inspected as text."""
    assert isinstance(parse_body(content_type, body), TextDocument)


# --- URL path ----------------------------------------------------------------------------------


def test_path_segments_are_decoded_with_the_previous_segment_as_context() -> None:
    """Each non-empty path segment is `path:<i>`, percent-decoded, context the previous one."""
    doc = parse_path("/v1/customers/maria%40example.com/orders")
    assert isinstance(doc, PathDocument)
    assert [(s.location, s.text, s.context) for s in doc.segments] == [
        ("path:0", "v1", ()),
        ("path:1", "customers", ("v1",)),
        ("path:2", "maria@example.com", ("customers",)),
        ("path:3", "orders", ("maria@example.com", "maria", "example", "com")),
    ]


def test_path_rebuild_quotes_changed_segments_and_keeps_the_others() -> None:
    """A replaced segment is percent-encoded (`/` too); the rest is kept as it was written."""
    path = "/v1/customers/maria%40example.com/x%2Fy;v=1/%7e"
    doc = parse_path(path)
    assert doc.replaced_path({}) == path
    assert doc.replaced_path({"path:2": "<EMAIL> a/b?#"}) == (
        "/v1/customers/%3CEMAIL%3E%20a%2Fb%3F%23/x%2Fy;v=1/%7e"
    )
    assert doc.rebuild({"path:1": "c"}) == b"/v1/c/maria%40example.com/x%2Fy;v=1/%7e"


def test_path_double_encoding_odd_escapes_empty_segments_and_query() -> None:
    """Double-encoded segments nest; bad escapes are read raw; empty segments keep their place."""
    doc = parse_path("/lookup//maria%2540x.example/100%zz/?q=1")
    assert by_location(doc.segments) == {
        "path:0": "lookup",
        "path:2>url>text:0": "maria@x.example",
        "path:3": "100%zz",
    }
    assert doc.replaced_path({"path:2>url>text:0": "<E>", "path:3": "a b"}) == (
        "/lookup//%253CE%253E/a%20b/"
    )


# --- headers -----------------------------------------------------------------------------------

HEADERS = [
    ("Host", "api.example"),
    ("Authorization", "Bearer maria@example.com"),
    ("Cookie", "email=maria@example.com"),
    ("Accept-Language", "en"),
    ("Content-Type", "application/json"),
    ("X-Forwarded-For", "10.0.0.1"),
    ("Sec-Fetch-Mode", "cors"),
    ("Proxy-Authorization", "Basic x"),
    (":authority", "api.example"),
    ("X-Customer-Email", "maria@example.com"),
    ("Referer", "https://shop.example/?email=maria%40example.com"),
    ("x-customer-email", "second@example.com"),
    ("X-Empty", ""),
]


def test_headers_are_segments_except_transport_credentials_and_session() -> None:
    """Only headers that may carry customer data are inspected, located by lower-case name."""
    doc = parse_headers(HEADERS)
    assert isinstance(doc, HeadersDocument)
    assert [(s.location, s.text, s.context) for s in doc.segments] == [
        (
            "header:x-customer-email",
            "maria@example.com",
            ("x-customer-email", "x", "customer", "email"),
        ),
        (
            "header:referer>url>text:0",
            "https://shop.example/?email=maria@example.com",
            ("referer",),
        ),
        (
            "header:x-customer-email[1]",
            "second@example.com",
            ("x-customer-email", "x", "customer", "email"),
        ),
    ]


def test_header_replacements_keep_order_and_cannot_add_lines() -> None:
    """replaced_pairs gives every pair back; CR, LF and NUL in a replacement become spaces."""
    doc = parse_headers(HEADERS)
    pairs = doc.replaced_pairs({"header:x-customer-email": "<E>\r\nX-Admin: 1\x00"})
    assert pairs[9] == ("X-Customer-Email", "<E>  X-Admin: 1 ")
    assert pairs[:9] == tuple(HEADERS[:9])
    assert pairs[10:] == tuple(HEADERS[10:])
    assert doc.replaced_pairs({}) == tuple(HEADERS)
    block = parse_headers([("X-A", "b"), ("Host", "h")]).rebuild({"header:x-a": "c"})
    assert block == b"X-A: c\r\nHost: h\r\n"


# --- properties of the formats -----------------------------------------------------------------


@given(inner=json_values.filter(lambda v: isinstance(v, dict | list) and v), data=st.data())
def test_nested_json_round_trip(inner: Any, data: st.DataObject) -> None:
    """JSON in a JSON string rebuilds as a JSON string of the same shape, replacements read back."""
    doc = parse_body("application/json", json_body({"payload": json.dumps(inner), "n": "x"}))
    original = by_location(doc.segments)
    assert len(original) == len(doc.segments)
    replacements = pick_replacements(data, list(original))
    rebuilt = json.loads(doc.rebuild(replacements))
    assert isinstance(rebuilt["payload"], str)
    assert shape(json.loads(rebuilt["payload"])) == shape(inner)
    again = parse_body("application/json", json_body(rebuilt))
    assert by_location(again.segments) == {**original, **replacements}


LAYERS: dict[str, Callable[[str], str]] = {
    "url": lambda s: quote(s, safe=""),
    "url2": lambda s: quote(quote(s, safe=""), safe=""),
    "url3": lambda s: quote(quote(quote(s, safe=""), safe="")),
    "b64": lambda s: base64.b64encode(s.encode()).decode(),
    "b64url": lambda s: base64.urlsafe_b64encode(s.encode()).decode().rstrip("="),
}
printable = st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters="%")


@given(
    layer=st.sampled_from(sorted(LAYERS)),
    text=st.text(alphabet=printable, min_size=22).map(lambda s: "@ " + s),
    new=st.text(alphabet=printable, min_size=21).map(lambda s: "<X>" + s),
)
def test_encoded_values_round_trip(layer: str, text: str, new: str) -> None:
    """A percent-encoded or base64 value reads decoded, and its replacement reads back."""
    value = LAYERS[layer](text)
    doc = parse_body("application/json", json_body({"v": value}))
    [segment] = doc.segments
    tag = "b64" if layer.startswith("b64") else layer
    assert (segment.location, segment.text) == (f"$.v>{tag}>text:0", text)
    rebuilt = json.loads(doc.rebuild({segment.location: new}))["v"]
    if layer == "b64url" and ("-" in value or "_" in value):
        assert not set(rebuilt) & {"+", "/"}
    again = parse_body("application/json", json_body({"v": rebuilt}))
    assert by_location(again.segments) == {segment.location: new}


@given(values=st.lists(json_values, min_size=1, max_size=4), data=st.data())
def test_ndjson_round_trip(values: list[Any], data: st.DataObject) -> None:
    """Any NDJSON rebuilds with the same lines, shapes and endings; replacements read back."""
    endings = [data.draw(st.sampled_from(["\n", "\r\n", "\n\n"])) for _ in values]
    text = "".join(json.dumps(v) + e for v, e in zip(values, endings, strict=True))
    doc = parse_body("application/x-ndjson", text.encode())
    assert doc.rebuild({}) == text.encode()
    original = by_location(doc.segments)
    replacements = pick_replacements(data, list(original))
    rebuilt = doc.rebuild(replacements).decode()
    old_lines, new_lines = text.split("\n"), rebuilt.split("\n")
    assert len(new_lines) == len(old_lines)
    changed = {int(location[1:].partition(">")[0]) for location in replacements}
    for i, (old, new) in enumerate(zip(old_lines, new_lines, strict=True)):
        if i not in changed:
            assert new == old
        elif old.strip():
            assert shape(json.loads(new)) == shape(json.loads(old))
    again = parse_body("application/x-ndjson", rebuilt.encode())
    assert by_location(again.segments) == {**original, **replacements}


cell_texts = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="%{["), max_size=12
)


@st.composite
def csv_tables(draw: st.DrawFn) -> tuple[list[list[str]], str, str]:
    """A header of 2-4 names, up to 6 rows of any text, a delimiter and a line ending."""
    columns = draw(st.integers(2, 4))
    names = draw(
        st.lists(
            st.from_regex(r"[a-z]{1,8}", fullmatch=True),
            min_size=columns,
            max_size=columns,
            unique=True,
        )
    )
    rows = draw(st.lists(st.lists(cell_texts, min_size=columns, max_size=columns), max_size=6))
    return [names, *rows], draw(st.sampled_from(",;\t|")), draw(st.sampled_from(["\r\n", "\n"]))


def write_csv(rows: list[list[str]], delimiter: str, ending: str) -> str:
    """Rows as csv.writer writes them, each quoted as a CRLF writer would, ended by `ending`."""
    lines = []
    for row in rows:
        out = io.StringIO()
        csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerow(row)
        lines.append(out.getvalue()[:-2] + ending)
    return "".join(lines)


def csv_records(text: str, delimiter: str) -> list[tuple[list[str], str]]:
    """Each record's fields and its exact text, read back with the csv module."""
    lines = io.StringIO(text, newline="").readlines()
    reader = csv.reader(lines, delimiter=delimiter)
    records: list[tuple[list[str], str]] = []
    start = 0
    for fields in reader:
        records.append((fields, "".join(lines[start : reader.line_num])))
        start = reader.line_num
    return records


@given(table=csv_tables(), data=st.data())
def test_csv_round_trip(table: tuple[list[list[str]], str, str], data: st.DataObject) -> None:
    """Any CSV/TSV rebuilds with the same rows: changed cells read back, other rows untouched."""
    rows, delimiter, ending = table
    content_type = "text/tab-separated-values" if delimiter == "\t" else "text/csv"
    text = write_csv(rows, delimiter, ending)
    doc = parse_body(content_type, text.encode())
    assert doc.rebuild({}) == text.encode()
    original = by_location(doc.segments)
    replacements = pick_replacements(data, list(original))
    rebuilt = doc.rebuild(replacements).decode()
    expected = [list(row) for row in rows]
    for location, new in replacements.items():
        row, _, column = location.removeprefix("csv:r").partition(".c")
        expected[int(row)][int(column)] = new
    records, old_records = csv_records(rebuilt, delimiter), csv_records(text, delimiter)
    assert [fields for fields, _ in records] == expected
    for (fields, raw), (old_fields, old_raw) in zip(records, old_records, strict=True):
        if fields == old_fields:
            assert raw == old_raw
    assert by_location(parse_body(content_type, rebuilt.encode()).segments) == {
        **original,
        **replacements,
    }


xml_texts = st.text(alphabet=xml_safe_characters, max_size=10)
XmlTree = tuple[str, dict[str, str], str, list[tuple[Any, str]]]


@st.composite
def xml_trees(draw: st.DrawFn, depth: int = 0) -> XmlTree:
    """An element: a name, attributes, text, and children each with the text after it."""
    name = draw(st.sampled_from(["a", "b", "customer", "ssn", "x:item"]))
    attributes = draw(
        st.dictionaries(st.sampled_from(["id", "kind", "y:id"]), xml_texts, max_size=3)
    )
    text = draw(xml_texts)
    children = draw(st.lists(xml_trees(depth + 1), max_size=3)) if depth < 3 else []
    return name, attributes, text, [(child, draw(xml_texts)) for child in children]


def xml_escape(text: str, quote_char: str = "") -> str:
    """`text` escaped for XML content (or for an attribute quoted with `quote_char`)."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace("\r", "&#13;")
    if quote_char:
        text = text.replace("\n", "&#10;").replace("\t", "&#9;").replace('"', "&quot;")
    return text


def write_xml(tree: XmlTree, root: bool = False) -> str:
    """An element tree as XML text; the root declares the `x` and `y` namespaces."""
    name, attributes, text, children = tree
    declared = ' xmlns:x="urn:x" xmlns:y="urn:y"' if root else ""
    attrs = "".join(f' {k}="{xml_escape(v, quote_char=chr(34))}"' for k, v in attributes.items())
    inner = xml_escape(text) + "".join(write_xml(c) + xml_escape(t) for c, t in children)
    return f"<{name}{declared}{attrs}>{inner}</{name}>"


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(tree=xml_trees(), data=st.data())
def test_xml_round_trip(tree: XmlTree, data: st.DataObject) -> None:
    """Any XML rebuilds well-formed with the same elements; replacements read back exactly."""
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n' + write_xml(tree, root=True)).encode()
    doc = parse_body("application/xml", body)
    assert doc.rebuild({}) == body
    original = by_location(doc.segments)
    assert len(original) == len(doc.segments)
    replacements = pick_replacements(data, list(original), xml_replacement_texts)
    rebuilt = doc.rebuild(replacements)
    assert rebuilt.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    assert [e.tag for e in ET.fromstring(rebuilt).iter()] == [
        e.tag for e in ET.fromstring(body).iter()
    ]
    again = parse_body("application/xml", rebuilt)
    assert by_location(again.segments) == {**original, **replacements}


MULTIPART_BOUNDARY = "dlp-test-7MA4YWxkTrZu0gW"
part_names = st.from_regex(r"[a-z]{1,6}", fullmatch=True)
parts = st.one_of(
    st.tuples(
        st.just("field"), part_names, st.text(alphabet=st.characters(exclude_categories=("Cs",)))
    ),
    st.tuples(st.just("csv"), part_names, csv_tables().map(lambda t: write_csv(*t))),
    st.tuples(st.just("json"), part_names, json_values.map(json.dumps)),
    st.tuples(st.just("binary"), part_names, st.binary()),
)


def write_part(kind: str, name: str, content: str | bytes) -> bytes:
    """One multipart part: a field, a CSV file, a JSON file typed by extension, or a PNG."""
    headers = {
        "field": f'Content-Disposition: form-data; name="{name}"',
        "csv": f'Content-Disposition: form-data; name="{name}"; filename="{name}.csv"\r\n'
        "Content-Type: text/csv",
        "json": f'Content-Disposition: form-data; name="{name}"; filename="{name}.json"',
        "binary": f'Content-Disposition: form-data; name="{name}"; filename="{name}.png"\r\n'
        "Content-Type: image/png",
    }[kind]
    data = content if isinstance(content, bytes) else content.encode()
    return headers.encode() + b"\r\n\r\n" + data


def split_parts(body: bytes) -> list[bytes]:
    """The parts of a body written with MULTIPART_BOUNDARY, headers and content."""
    delimiter = b"\r\n--" + MULTIPART_BOUNDARY.encode()
    return body.split(delimiter)[1:-1]


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(items=st.lists(parts, min_size=1, max_size=5), data=st.data())
def test_multipart_round_trip(items: list[tuple[str, str, Any]], data: st.DataObject) -> None:
    """Any multipart upload rebuilds with the same parts and headers; replacements read back."""
    body = multipart(*(write_part(*item) for item in items), boundary=MULTIPART_BOUNDARY)
    body = b"\r\n" + body  # so every part sits between two CRLF-led delimiters
    content_type = f"multipart/form-data; boundary={MULTIPART_BOUNDARY}"
    doc = parse_body(content_type, body)
    assert doc.rebuild({}) == body
    assert len(doc.uninspectable) == sum(kind == "binary" for kind, _, _ in items)
    original = by_location(doc.segments)
    replacements = pick_replacements(data, list(original))
    rebuilt = doc.rebuild(replacements)
    old_parts, new_parts = split_parts(body), split_parts(rebuilt)
    assert len(new_parts) == len(old_parts) == len(items)
    for old, new in zip(old_parts, new_parts, strict=True):
        assert new.partition(b"\r\n\r\n")[0] == old.partition(b"\r\n\r\n")[0]
    changed = {location.partition(">")[0] for location in replacements}
    for old, new, location in zip(old_parts, new_parts, doc_part_locations(items), strict=True):
        if location not in changed:
            assert new == old
    again = parse_body(content_type, rebuilt)
    assert by_location(again.segments) == {**original, **replacements}


def doc_part_locations(items: list[tuple[str, str, Any]]) -> list[str]:
    """The location each part of `items` has: its name, `[1]`, `[2]` ... for repeats."""
    locations = QueryDocument([(name, "x") for _, name, _ in items]).locations
    return ["multipart:" + location.removeprefix("query:") for location in locations]


path_parts = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="%{["),
    min_size=1,
    max_size=8,
)


@given(parts=st.lists(path_parts, min_size=1, max_size=5), data=st.data())
def test_path_round_trip(parts: list[str], data: st.DataObject) -> None:
    """Any path rebuilds with the same segments: replacements read back, the others unchanged."""
    path = "/" + "/".join(quote(p, safe="") for p in parts)
    doc = parse_path(path)
    assert doc.replaced_path({}) == path
    original = by_location(doc.segments)
    assert original == {f"path:{i}": p for i, p in enumerate(parts)}
    replacements = pick_replacements(data, list(original))
    new_path = doc.replaced_path(replacements)
    assert new_path.count("/") == path.count("/")
    for i, (old, new) in enumerate(zip(path.split("/")[1:], new_path.split("/")[1:], strict=True)):
        if f"path:{i}" not in replacements:
            assert new == old
    assert by_location(parse_path(new_path).segments) == {**original, **replacements}


@given(
    pairs=st.lists(
        st.tuples(
            st.sampled_from(["X-Email", "x-email", "Host", "Cookie", "X-Note", "Accept"]),
            st.text(alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="%")),
        ),
        max_size=6,
    ),
    data=st.data(),
)
def test_headers_round_trip(pairs: list[tuple[str, str]], data: st.DataObject) -> None:
    """Replaced header values read back (one line each); uninspected headers never change."""
    doc = parse_headers(pairs)
    original = by_location(doc.segments)
    replacements = pick_replacements(data, list(original))
    new_pairs = doc.replaced_pairs(replacements)
    assert [name for name, _ in new_pairs] == [name for name, _ in pairs]
    for (name, value), (_, old) in zip(new_pairs, pairs, strict=True):
        if name in ("Host", "Cookie", "Accept"):
            assert value == old
        if value != old:
            assert not set(value) & {"\r", "\n", "\x00"}
    again = by_location(parse_headers(new_pairs).segments)
    assert again == {
        **original,
        **{
            k: v.replace("\r", " ").replace("\n", " ").replace("\x00", " ")
            for k, v in replacements.items()
        },
    }


# --- parse_body never raises anything but UndecodableBody --------------------------------------

FUZZ_TYPES = [
    "application/json",
    "application/x-ndjson",
    "application/json-seq",
    "text/csv",
    "text/csv; header=present",
    "text/tab-separated-values",
    "application/xml",
    "multipart/form-data; boundary=b",
    "multipart/form-data",
    FORM,
    "text/plain",
    "",
    "application/octet-stream",
    "image/png",
]


def parse_and_rebuild(content_type: str, body: bytes) -> None:
    """Parse `body`; if it is a document, rebuild it unchanged and with every segment replaced."""
    try:
        doc = parse_body(content_type, body)
    except UndecodableBody:
        return
    doc.rebuild({})
    doc.rebuild({s.location: "<X>" for s in doc.segments})


@given(content_type=st.sampled_from(FUZZ_TYPES), body=st.binary(max_size=300))
def test_any_bytes_parse_or_are_undecodable(content_type: str, body: bytes) -> None:
    """Arbitrary bytes of any type give a document or UndecodableBody, never another error."""
    parse_and_rebuild(content_type, body)


@given(content_type=st.sampled_from(FUZZ_TYPES), text=st.text(max_size=300))
def test_any_text_parses_or_is_undecodable(content_type: str, text: str) -> None:
    """Arbitrary text of any type gives a document or UndecodableBody, never another error."""
    parse_and_rebuild(content_type, text.encode("utf-8", "surrogatepass"))


near_misses = st.one_of(
    st.text(alphabet="<>/=\"'&;!?[]-ab: \n", max_size=60).map(
        lambda s: ("application/xml", f"<r>{s}</r>")
    ),
    st.text(alphabet='{}[]":,0-9ab\\ \n%', max_size=60).map(lambda s: ("application/x-ndjson", s)),
    st.text(alphabet='",;\t\r\na b', max_size=60).map(lambda s: ("text/csv", s)),
    st.text(alphabet='-b\r\n:;="ab ', max_size=80).map(
        lambda s: ("multipart/form-data; boundary=b", f"--b\r\n{s}\r\n--b--")
    ),
    st.text(alphabet="%25AF40abc+=/_-", max_size=60).map(
        lambda s: ("application/json", json.dumps([s]))
    ),
)


@given(case=near_misses)
def test_near_valid_bodies_parse_or_are_undecodable(case: tuple[str, str]) -> None:
    """Bodies close to each format's syntax give a document or UndecodableBody only."""
    content_type, text = case
    parse_and_rebuild(content_type, text.encode())


CHARSETS = [
    "utf-8",
    "latin-1",
    "utf-16",
    "utf-7",
    "cp037",
    "unicode_escape",
    "raw_unicode_escape",
    "idna",
    "punycode",
    "undefined",
    "rot13",
    "base64",
    "klingon",
]


@given(
    content_type=st.sampled_from(FUZZ_TYPES).filter(lambda t: "boundary" not in t and t),
    charset=st.sampled_from(CHARSETS),
    body=st.sampled_from([b"<r>\\ud800</r>", b'{"a":"\\ud800"}\n', b"a,\\udc00\nb,c\n", b"+AGE-"])
    | st.binary(max_size=60),
)
def test_any_charset_parses_or_is_undecodable(content_type: str, charset: str, body: bytes) -> None:
    """Whatever charset a Content-Type names, the body parses or is UndecodableBody."""
    parse_and_rebuild(f"{content_type}; charset={charset}", body)
    part = multipart(
        f"Content-Type: text/plain; charset={charset}\r\n\r\n".encode() + body, boundary="zz9"
    )
    parse_and_rebuild("multipart/mixed; boundary=zz9", part)


def test_escape_codecs_are_refused_as_charsets() -> None:
    """Codecs that decode escapes to lone surrogates are not text encodings of a body."""
    with pytest.raises(UndecodableBody, match="'unicode_escape' in the CSV Content-Type is not"):
        parse_body("text/csv; charset=unicode_escape", b"a,\\ud800\n")


# --- fields --------------------------------------------------------------------------------------


def fields_by_location(segments: tuple[Segment, ...]) -> dict[str, str]:
    """Segment fields keyed by location."""
    return {s.location: s.field for s in segments}


FIELD_JSON = {
    "customers": [
        {"email": "maria@example.com", "phones": ["+1 555-010-0199", "+1 555-010-0100"]},
        {"email": "li@example.com", "account": 12345678},
    ],
    "a[0]": "a quoted key holding brackets",
    "x>y": "a quoted key holding the separator",
    "grid": [["top left", "top right"], ["bottom left"]],
}
FIELD_XML = (
    b'<root xmlns:a="urn:a" xmlns:b="urn:b">'
    b'<customer a:id="c-1" b:id="c-9"><ssn>078-05-1120</ssn></customer>'
    b'<customer id="c-2"><ssn>219-09-9999</ssn><!-- called Maria --></customer>'
    b"<p>Call <b>Maria</b> today, <b>Li</b> tomorrow</p><note>alone</note></root>"
)
FIELD_MULTIPART = multipart(
    b'Content-Disposition: form-data; name="tag"\r\n\r\nvip',
    b'Content-Disposition: form-data; name="tag"\r\n\r\ncallback',
    b'Content-Disposition: form-data; name="a>b"\r\n\r\nseparator in a name',
    b'Content-Disposition: form-data; name="file"; filename="export.csv"\r\n\r\n'
    b"email,ssn\r\nmaria@example.com,078-05-1120\r\nli@example.com,219-09-9999\r\n",
)
FIELD_MIXED = multipart(
    b"Content-Type: text/plain\r\n\r\nmaria@example.com",
    b'Content-Type: application/json\r\n\r\n{"ssn": "078-05-1120"}',
    boundary="b1",
)


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (
            lambda: parse_body("application/json", json_body(FIELD_JSON)),
            {
                "$.customers[0].email": "$.customers[*].email",
                "$.customers[0].phones[0]": "$.customers[*].phones[*]",
                "$.customers[0].phones[1]": "$.customers[*].phones[*]",
                "$.customers[1].email": "$.customers[*].email",
                "$.customers[1].account": "$.customers[*].account",
                '$["a[0]"]': '$["a[0]"]',
                '$["x\\u003ey"]': '$["x\\u003ey"]',
                "$.grid[0][0]": "$.grid[*][*]",
                "$.grid[0][1]": "$.grid[*][*]",
                "$.grid[1][0]": "$.grid[*][*]",
            },
        ),
        (lambda: parse_body("application/json", b'"4111 1111 1111 1111"'), {"$": "$"}),
        (
            lambda: parse_body(
                "application/x-ndjson",
                b'{"items": [{"sku": "A-100200"}]}\n\n'
                b'{"items": [{"sku": "B-1"}, {"sku": "C-2"}]}\n',
            ),
            {
                "l0>$.items[0].sku": "$.items[*].sku",
                "l2>$.items[0].sku": "$.items[*].sku",
                "l2>$.items[1].sku": "$.items[*].sku",
            },
        ),
        (
            lambda: parse_body("application/json-seq", b'\x1e{"email": "maria@example.com"}\n'),
            {"l0>$.email": "$.email"},
        ),
        (
            lambda: parse_body(
                "text/csv", b"Name,email\r\nMaria,maria@example.com\r\nLi,li@x.io\r\n"
            ),
            {
                "csv:r1.c0": "csv:Name",
                "csv:r1.c1": "csv:email",
                "csv:r2.c0": "csv:Name",
                "csv:r2.c1": "csv:email",
            },
        ),
        (
            lambda: parse_body(
                "text/csv; header=present", b" e mail ,,a>b\nmaria@x.io,Maria,sep,extra\n"
            ),
            {
                "csv:r1.c0": "csv:e mail",
                "csv:r1.c1": "csv:c1",
                "csv:r1.c2": "csv:a%3Eb",
                "csv:r1.c3": "csv:c3",
            },
        ),
        (
            lambda: parse_body("text/csv", b"Maria,078-05-1120\nLi,219-09-9999\n"),
            {
                "csv:r0.c0": "csv:c0",
                "csv:r0.c1": "csv:c1",
                "csv:r1.c0": "csv:c0",
                "csv:r1.c1": "csv:c1",
            },
        ),
        (
            lambda: parse_body("text/tab-separated-values", b"name\tssn\nMaria\t078-05-1120\n"),
            {"csv:r1.c0": "csv:name", "csv:r1.c1": "csv:ssn"},
        ),
        (
            lambda: parse_body("application/xml", FIELD_XML),
            {
                "xml:/root/customer[1]/@id": "xml:/root/customer/@id",
                "xml:/root/customer[1]/@id[2]": "xml:/root/customer/@id",
                "xml:/root/customer[1]/ssn": "xml:/root/customer/ssn",
                "xml:/root/customer[2]/@id": "xml:/root/customer/@id",
                "xml:/root/customer[2]/ssn": "xml:/root/customer/ssn",
                "xml:/root/customer[2]/comment()": "xml:/root/customer/comment()",
                "xml:/root/p": "xml:/root/p",
                "xml:/root/p/b[1]": "xml:/root/p/b",
                "xml:/root/p/b[1]/tail()": "xml:/root/p/b/tail()",
                "xml:/root/p/b[2]": "xml:/root/p/b",
                "xml:/root/p/b[2]/tail()": "xml:/root/p/b/tail()",
                "xml:/root/note": "xml:/root/note",
            },
        ),
        (
            lambda: parse_body(FORM, b"tag=vip&tag=callback&a%3Eb=sep&email=maria%40example.com"),
            {
                "form:tag": "form:tag",
                "form:tag[1]": "form:tag",
                "form:a%3Eb": "form:a%3Eb",
                "form:email": "form:email",
            },
        ),
        (
            lambda: parse_body(f"multipart/form-data; boundary={BOUNDARY}", FIELD_MULTIPART),
            {
                "multipart:tag": "multipart:tag",
                "multipart:tag[1]": "multipart:tag",
                "multipart:a%3Eb": "multipart:a%3Eb",
                "multipart:file>csv:r1.c0": "multipart:file>csv:email",
                "multipart:file>csv:r1.c1": "multipart:file>csv:ssn",
                "multipart:file>csv:r2.c0": "multipart:file>csv:email",
                "multipart:file>csv:r2.c1": "multipart:file>csv:ssn",
            },
        ),
        (
            lambda: parse_body(UPLOAD_TYPE, UPLOAD),
            {
                "multipart:email": "multipart:email",
                "multipart:file>csv:r1.c0": "multipart:file>csv:name",
                "multipart:file>csv:r1.c1": "multipart:file>csv:ssn",
                "multipart:meta>$.customer.phone": "multipart:meta>$.customer.phone",
            },
        ),
        (
            lambda: parse_body('multipart/mixed; boundary="b1"', FIELD_MIXED),
            {"multipart:[0]": "multipart:[0]", "multipart:[1]>$.ssn": "multipart:[1]>$.ssn"},
        ),
        (lambda: parse_body("text/plain", b"Maria Gonzalez\n"), {"text:0": "text"}),
        (
            lambda: parse_query([("q", "maria"), ("page", "200300"), ("q", "li")]),
            {"query:q": "query:q", "query:page": "query:page", "query:q[1]": "query:q"},
        ),
        (
            lambda: parse_path("/customers/maria%40example.com/orders/ORD-1"),
            {"path:0": "path:0", "path:1": "path:1", "path:2": "path:2", "path:3": "path:3"},
        ),
        (
            lambda: parse_headers(
                [
                    ("X-Customer-Email", "maria@example.com"),
                    ("Authorization", "Bearer secret"),
                    ("x-customer-email", "li@example.com"),
                ]
            ),
            {
                "header:x-customer-email": "header:x-customer-email",
                "header:x-customer-email[1]": "header:x-customer-email",
            },
        ),
    ],
    ids=[
        "json",
        "json-root",
        "ndjson",
        "json-seq",
        "csv",
        "csv-header-present",
        "csv-headerless",
        "tsv",
        "xml",
        "form",
        "multipart",
        "multipart-upload",
        "multipart-unnamed",
        "text",
        "query",
        "path",
        "headers",
    ],
)
def test_every_format_gives_each_segment_its_field(
    make: Callable[[], codecs.Document], expected: dict[str, str]
) -> None:
    """Each format's field is its location without record numbers and repeat indexes."""
    assert fields_by_location(make().segments) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (json.dumps({"customer": {"ssn": "078-05-1120"}}), "$.items[*].v>$.customer.ssn"),
        (json.dumps([{"ssn": "078-05-1120"}]), "$.items[*].v>$[*].ssn"),
        ("maria%40example.com", "$.items[*].v>url>text"),
        ("maria%2540example.com", "$.items[*].v>url2>text"),
        (b64(TEXT_WITH_SYMBOLS), "$.items[*].v>b64>text"),
        (b64(json.dumps({"ssn": "078-05-1120"})), "$.items[*].v>b64>$.ssn"),
        (quote(b64(TEXT_WITH_SYMBOLS), safe=""), "$.items[*].v>url>b64>text"),
    ],
    ids=["json", "json-list", "url", "url2", "b64", "b64-json", "url-b64"],
)
def test_nested_document_fields_join_outer_and_inner_fields(value: str, expected: str) -> None:
    """A nested value's field is the outer field, `>`, then the field inside it."""
    doc = parse_body("application/json", json_body({"items": [{}, {}, {"v": value}]}))
    [segment] = doc.segments
    assert segment.location.startswith("$.items[2].v>")
    assert segment.field == expected


def test_nested_fields_in_other_formats() -> None:
    """Form, CSV, XML and header values holding documents prefix their own field too."""
    inner = quote(json.dumps({"ssn": "078-05-1120"}), safe="")
    pairs = [("next", "a%40b.example"), ("next", "c%40d.example")]
    form = parse_body(FORM, urlencode(pairs).encode())
    assert fields_by_location(form.segments) == {
        "form:next>url>text:0": "form:next>url>text",
        "form:next[1]>url>text:0": "form:next>url>text",
    }
    table = parse_body("text/csv", f"name,data\nMaria,{inner}\n".encode())
    assert fields_by_location(table.segments) == {
        "csv:r1.c0": "csv:name",
        "csv:r1.c1>url>$.ssn": "csv:data>url>$.ssn",
    }
    xml = parse_body("application/xml", f"<r><d>{inner}</d><d>{inner}</d></r>".encode())
    assert set(fields_by_location(xml.segments).values()) == {"xml:/r/d>url>$.ssn"}
    headers = parse_headers([("X-Next", "a%40b.example")])
    assert fields_by_location(headers.segments) == {
        "header:x-next>url>text:0": "header:x-next>url>text"
    }


def test_every_text_chunk_has_the_field_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of one text are numbered locations but one field, `text`."""
    monkeypatch.setattr(codecs, "TEXT_CHUNK_CHARS", 10)
    doc = parse_body("text/plain", b"aaaa\nbbbb\ncccc\n\n\ndddddddddddddddd\ne")
    assert [(s.location, s.field) for s in doc.segments] == [
        ("text:0", "text"),
        ("text:1", "text"),
        ("text:2", "text"),
        ("text:3", "text"),
    ]


_INDEX_OR_QUOTED_KEY = re.compile(r'(\["(?:[^"\\]|\\.)*"\])|\[\d+\]')


def starred(location: str) -> str:
    """A JSON location with each list index `[n]` written `[*]`; quoted keys left as they are."""
    return _INDEX_OR_QUOTED_KEY.sub(lambda m: m.group(1) or "[*]", location)


def test_starred_leaves_quoted_keys_alone() -> None:
    """The test oracle turns indexes into `[*]` but not brackets inside quoted keys."""
    assert starred('$.a[3]["b[1]"][12]["q\\"[2]"].c') == '$.a[*]["b[1]"][*]["q\\"[2]"].c'


# Strings no nested document is found in: `~` cannot start JSON or be base64, and no `%`.
plain_strings = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="%"), max_size=10
).map(lambda s: "~" + s)
# Keys, often with the characters that make a JSON path quote them.
json_keys = st.text(
    alphabet=st.sampled_from('ab_19[]"\\>. ') | st.characters(exclude_categories=("Cs",)),
    max_size=6,
)
plain_json = st.recursive(
    st.none() | st.booleans() | st.integers() | plain_strings,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(json_keys, children, max_size=4)
    ),
    max_leaves=20,
)


@given(value=plain_json)
def test_json_field_is_the_location_with_indexes_starred(value: Any) -> None:
    """For any JSON document, every segment's field is its location with `[n]` as `[*]`."""
    doc = JsonDocument(json_body(value))
    for segment in doc.segments:
        assert codecs.SEP not in segment.location, "the strategy must not make nested documents"
        assert segment.field == starred(segment.location)


# Where a list sits in a document: keys to go through, or an int n to sit at index n of a list.
json_steps = st.lists(json_keys | st.integers(0, 3), max_size=3)


@given(
    steps=json_steps,
    key=json_keys,
    count=st.integers(2, 5),
    extra=st.lists(st.dictionaries(json_keys, plain_json, max_size=3), min_size=5, max_size=5),
)
def test_one_key_in_different_list_elements_shares_a_field(
    steps: list[str | int], key: str, count: int, extra: list[dict[str, Any]]
) -> None:
    """Values of one key in different elements of a list have one field, distinct locations."""
    markers = [f"!value {i}" for i in range(count)]  # `!`: no plain string starts so
    value: Any = [{**extra[i], key: marker} for i, marker in enumerate(markers)]
    for step in reversed(steps):
        value = [None] * step + [value] if isinstance(step, int) else {step: value}
    doc = JsonDocument(json_body(value))
    found = [s for s in doc.segments if s.text in markers]
    assert len(found) == count
    assert len({s.location for s in found}) == count
    assert len({s.field for s in found}) == 1


@given(table=csv_tables())
def test_csv_field_is_the_column_name(table: tuple[list[list[str]], str, str]) -> None:
    """Every cell of a CSV/TSV with a header has the field `csv:<its column's name>`."""
    rows, delimiter, ending = table
    content_type = "text/tab-separated-values" if delimiter == "\t" else "text/csv"
    doc = parse_body(content_type, write_csv(rows, delimiter, ending).encode())
    for segment in doc.segments:
        column = int(segment.location.partition(".c")[2])
        assert segment.field == f"csv:{rows[0][column]}"


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(tree=xml_trees())
def test_xml_field_is_the_location_without_indexes(tree: XmlTree) -> None:
    """For any XML document, every segment's field is its location with each `[n]` removed."""
    doc = parse_body("application/xml", write_xml(tree, root=True).encode())
    for segment in doc.segments:
        assert segment.field == re.sub(r"\[\d+\]", "", segment.location)
