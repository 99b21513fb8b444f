"""Tests for dlp_proxy/core/codecs/values.py: nested documents, percent-encoding, base64,
context words, names and their aliases, JSON as `load_json` reads it."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, unquote, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlp_proxy.core import codecs
from dlp_proxy.core.codecs import (
    Segment,
    context_words,
    parse_body,
    parse_headers,
    parse_query,
    values,
)
from tests.core.codecs.support import (
    FORM,
    by_location,
    fields_by_location,
    json_body,
    json_values,
    names_only,
    pick_replacements,
    shape,
    values_only,
)


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


def test_json_string_holding_json_is_a_nested_document() -> None:
    """A JSON string holding an object is a nested document, rebuilt as a JSON string again."""
    inner = {"customer": {"ssn": "078-05-1120", "tags": ["vip"]}}
    body = json_body({"payload": json.dumps(inner, indent=2), "note": "hi"})
    doc = parse_body("application/json", body)
    assert [(s.location, s.text, s.context) for s in values_only(doc.segments)] == [
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
    assert by_location(values_only(doc.segments)) == {
        "$.a": "[not json]",
        "$.b": "{}",
        "$.c": "[1, ",
    }


def test_nesting_is_bounded() -> None:
    """JSON in a string in a string ... is read MAX_NESTING levels deep; deeper is plain text."""
    value: Any = {"ssn": "078-05-1120"}
    for _ in range(8):
        value = {"v": json.dumps(value)}
    doc = parse_body("application/json", json_body(value))
    [segment] = values_only(doc.segments)
    assert segment.location == ">".join(["$.v"] * codecs.MAX_NESTING)
    assert segment.text.startswith('{"v": ')


def test_nested_json_too_deep_is_plain_text() -> None:
    """A string holding JSON nested too deeply is inspected as text, not refused."""
    deep = "[" * 150 + '"x"' + "]" * 150
    doc = parse_body("application/json", json_body({"v": deep}))
    assert by_location(values_only(doc.segments)) == {"$.v": deep}


def test_separator_in_names_cannot_forge_a_nested_location() -> None:
    """JSON keys and field names holding `>` are written with `\\u003e` and `%3E`."""
    doc = parse_body("application/json", json_body({"a>b": "x", "a": '{"b": "y"}'}))
    assert by_location(values_only(doc.segments)) == {'$["a\\u003eb"]': "x", "$.a>$.b": "y"}
    assert json.loads(doc.rebuild({'$["a\\u003eb"]': "X"}))["a>b"] == "X"
    form = parse_body(FORM, b"a%3Eb=x&a=%7B%22b%22%3A%22y%22%7D")
    assert by_location(values_only(form.segments)) == {"form:a%3Eb": "x", "form:a>$.b": "y"}


def test_a_nested_value_can_still_be_replaced_whole() -> None:
    """Replacing a value's own location wins over replacements inside its nested document."""
    doc = parse_query([("state", '{"email": "m@x.example"}')])
    assert doc.replaced_pairs({"query:state": "gone", "query:state>$.email": "<E>"}) == (
        ("state", "gone"),
    )
    assert doc.replaced_pairs({"query:state>$.email": "<E>"}) == (("state", '{"email":"<E>"}'),)


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
    assert values_only(doc.segments) == (expected,)


@pytest.mark.parametrize(
    "value", ["100% sure", "50%off", "%zz", "a%FFb", "%", "a%4", "plain", "%41 and 100%"]
)
def test_values_that_are_not_cleanly_percent_encoded_stay_as_they_are(value: str) -> None:
    """A `%` that is not an escape, or escapes of bytes that are not UTF-8, mean plain text."""
    doc = parse_body("application/json", json_body({"v": value}))
    assert values_only(doc.segments) == (Segment("$.v", value, ("v",), "$.v"),)


def test_percent_rebuild_re_encodes_only_what_changed() -> None:
    """Characters outside the changed stretch keep their exact spelling (`%7e`, `+`, `%2C`)."""
    value = "to=maria%40example.com&cc=a+b%2Cc&x=%7e"
    doc = parse_body("application/json", json_body({"v": value}))
    [segment] = values_only(doc.segments)
    assert segment.text == "to=maria@example.com&cc=a+b,c&x=~"
    new = segment.text.replace("maria@example.com", "<EMAIL>")
    rebuilt = json.loads(doc.rebuild({segment.location: new}))["v"]
    assert rebuilt == "to=%3CEMAIL%3E&cc=a+b%2Cc&x=%7e"
    assert unquote(rebuilt) == new


def test_double_encoded_form_value_is_encoded_twice_again() -> None:
    """A form value still percent-encoded after the form's own decoding is one more layer."""
    doc = parse_body(FORM, b"next=%252Fcustomers%252Fmaria%2540example.com&n=1")
    assert by_location(values_only(doc.segments)) == {
        "form:next>url>text:0": "/customers/maria@example.com",
        "form:n": "1",
    }
    rebuilt = doc.rebuild({"form:next>url>text:0": "/customers/<EMAIL>"})
    assert rebuilt == b"next=%252Fcustomers%252F%253CEMAIL%253E&n=1"


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
    assert values_only(doc.segments) == (
        Segment("$.blob>b64>text:0", TEXT_WITH_SYMBOLS, ("blob",), "$.blob>b64>text"),
    )
    new = "Maria Gonzalez ??>> <EMAIL>, card <CARD>"
    rebuilt = json.loads(doc.rebuild({"$.blob>b64>text:0": new}))["blob"]
    assert rebuilt == b64(new, urlsafe=urlsafe, padded=padded)


def test_base64_of_json_is_nested_json() -> None:
    """Base64 that decodes to JSON is a nested JSON document."""
    value = base64.b64encode(json.dumps({"ssn": "078-05-1120"}).encode()).decode()
    doc = parse_body("application/json", json_body({"data": value}))
    assert values_only(doc.segments) == (
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
    assert values_only(doc.segments) == (Segment("$.id", value, ("id",), "$.id"),)


@given(inner=json_values.filter(lambda v: isinstance(v, dict | list) and v), data=st.data())
def test_nested_json_round_trip(inner: Any, data: st.DataObject) -> None:
    """JSON in a JSON string rebuilds as a JSON string of the same shape, replacements read back."""
    doc = parse_body("application/json", json_body({"payload": json.dumps(inner), "n": "x"}))
    original = by_location(values_only(doc.segments))
    assert len(original) == len(values_only(doc.segments))
    replacements = pick_replacements(data, list(original))
    rebuilt = json.loads(doc.rebuild(replacements))
    assert isinstance(rebuilt["payload"], str)
    assert shape(json.loads(rebuilt["payload"])) == shape(inner)
    again = parse_body("application/json", json_body(rebuilt))
    assert by_location(values_only(again.segments)) == {**original, **replacements}


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
    [segment] = values_only(doc.segments)
    tag = "b64" if layer.startswith("b64") else layer
    assert (segment.location, segment.text) == (f"$.v>{tag}>text:0", text)
    rebuilt = json.loads(doc.rebuild({segment.location: new}))["v"]
    if layer == "b64url" and ("-" in value or "_" in value):
        assert not set(rebuilt) & {"+", "/"}
    again = parse_body("application/json", json_body({"v": rebuilt}))
    assert by_location(values_only(again.segments)) == {segment.location: new}


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
    [segment] = values_only(doc.segments)
    assert segment.location.startswith("$.items[2].v>")
    assert segment.field == expected


def test_nested_fields_in_other_formats() -> None:
    """Form, CSV, XML and header values holding documents prefix their own field too."""
    inner = quote(json.dumps({"ssn": "078-05-1120"}), safe="")
    pairs = [("next", "a%40b.example"), ("next", "c%40d.example")]
    form = parse_body(FORM, urlencode(pairs).encode())
    assert fields_by_location(values_only(form.segments)) == {
        "form:next>url>text:0": "form:next>url>text",
        "form:next[1]>url>text:0": "form:next>url>text",
    }
    table = parse_body("text/csv", f"name,data\nMaria,{inner}\n".encode())
    assert fields_by_location(values_only(table.segments)) == {
        "csv:r1.c0": "csv:name",
        "csv:r1.c1>url>$.ssn": "csv:data>url>$.ssn",
    }
    xml = parse_body("application/xml", f"<r><d>{inner}</d><d>{inner}</d></r>".encode())
    assert set(fields_by_location(values_only(xml.segments)).values()) == {"xml:/r/d>url>$.ssn"}
    headers = parse_headers([("X-Next", "a%40b.example")])
    assert fields_by_location(values_only(headers.segments)) == {
        "header:x-next>url>text:0": "header:x-next>url>text"
    }


# --- names ---------------------------------------------------------------------------------------


def test_nest_records_names_after_values_and_aliases_repeats() -> None:
    """Names are listed after the values; a name like an earlier one is its alias, renamed too."""
    nest = values.Nest(0)
    nest.name("t:a#name", "email", ("r",), field="t:*#name")
    nest.value("t:a", "maria@example.com", field="t:*")
    nest.name("t:b#name", "email", ("r",), field="t:*#name")
    nest.value("t:b", "li@example.com", field="t:*")
    nest.name("t:c#name", "email", ("other",), field="t:*#name")  # another context: its own
    assert [s.location for s in nest.segments] == ["t:a", "t:b", "t:a#name", "t:c#name"]
    assert nest.resolve({"t:a#name": "<E>"}) == {"t:a#name": "<E>", "t:b#name": "<E>"}
    # An alias given a text of its own keeps it.
    assert nest.resolve({"t:a#name": "<E>", "t:b#name": "x"}) == {
        "t:a#name": "<E>",
        "t:b#name": "x",
    }


def test_a_name_that_cannot_be_rewritten_takes_no_replacement() -> None:
    """`rewritable=False` names, and the segments of documents found in them, refuse rewrites."""
    nest = values.Nest(0)
    nest.name("t:a#name", "maria%40example.com", field="t:a#name", rewritable=False)
    nest.name("t:b#name", "plain", field="t:b#name", rewritable=False)
    assert [(s.location, s.text, s.rewritable) for s in nest.segments] == [
        ("t:a#name>url>text:0", "maria@example.com", False),
        ("t:b#name", "plain", False),
    ]
    for location in ("t:a#name>url>text:0", "t:a#name", "t:b#name"):
        with pytest.raises(KeyError, match="no segment at"):
            nest.resolve({location: "x"})


def test_json_keys_are_read_like_values() -> None:
    """A key holding percent-encoded text is a nested document; renaming it re-encodes it."""
    doc = parse_body("application/json", json_body({"maria%40example.com": True}))
    [name] = names_only(doc.segments)
    assert (name.location, name.text, name.field) == (
        '$["maria%40example.com"]#name>url>text:0',
        "maria@example.com",
        '$["maria%40example.com"]#name>url>text',
    )
    assert doc.rebuild({name.location: "<EMAIL>"}) == b'{"%3CEMAIL%3E":true}'


@pytest.mark.parametrize(
    ("key", "location"),
    [("a#name", '$["a\\u0023name"]'), ("x>y#", '$["x\\u003ey\\u0023"]'), ("ok", "$.ok")],
)
def test_json_keys_holding_hash_or_separator_are_escaped(key: str, location: str) -> None:
    """`#` and `>` in quoted keys are written `\\u0023`, `\\u003e`: `#name` ends names only."""
    doc = parse_body("application/json", json_body({key: "v"}))
    assert [s.location for s in doc.segments] == [location, location + "#name"]
    assert json.loads(doc.rebuild({location: "w", location + "#name": "k#2"})) == {"k#2": "w"}


def test_load_json_keeps_every_repeat_of_a_key() -> None:
    """An object repeating a key keeps each member in order; written back, every one is there."""
    data = values.load_json('{"a": 1, "b": 2, "a": 3}')
    assert isinstance(data, values.JsonMembers)
    assert data.pairs == [("a", 1), ("b", 2), ("a", 3)]
    assert data["a"] == 3  # as a dict, the last one, as json.loads reads it
    assert values.dumps_json({"x": data}) == '{"x":{"a":1,"b":2,"a":3}}'
    assert type(values.load_json('{"a": 1, "b": 2}')) is dict


@pytest.mark.parametrize(
    ("literal", "digits"),
    [
        ("219099999.0", "219099999"),
        ("4.539148803436467e15", "4539148803436467"),
        ("2.19099999E8", "219099999"),
        ("-2.19099999E+8", "-219099999"),
        ("0.000123e9", "123000"),
        ("1e5", "100000"),
        # Past a double's precision: the digits written, not those of the nearest double.
        ("1.2345678901234567e16", "12345678901234567"),
        ("1e63", "1" + "0" * 63),
        ("4.5", None),
        ("219099999.5", None),
        ("1e3", None),
        ("12345.0", None),
        ("0.0", None),
        ("0e10", None),
        ("1e64", None),
        ("1e400", None),
    ],
)
def test_integral_digits(literal: str, digits: str | None) -> None:
    """A float literal with a whole value of IDENTIFIER_DIGITS digits or more gives its digits."""
    assert values.integral_digits(literal) == digits


def test_load_json_reads_whole_floats_exactly() -> None:
    """Whole numbers written as floats keep their float value and know their exact digits."""
    number = values.load_json("[4.539148803436467e15, 12.5]")
    assert isinstance(number[0], values.IntegralFloat)
    assert number[0] == 4539148803436467.0
    assert number[0].digits == "4539148803436467"
    assert type(number[1]) is float


# Keys made of pieces that would forge a name's mark or a nested location if written as they are.
forging_keys = st.lists(st.sampled_from(["#name", "#", ">", "a", "_", " ", "é"]), max_size=3).map(
    "".join
)


@given(
    value=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=3).map(lambda s: "~" + s),
        lambda children: (
            st.lists(children, max_size=3) | st.dictionaries(forging_keys, children, max_size=3)
        ),
        max_leaves=15,
    )
)
def test_name_mark_ends_names_only(value: Any) -> None:
    """In every location, `#name` is a name's suffix: no key can write it anywhere else."""
    doc = parse_body("application/json", json_body(value))
    for segment in doc.segments:
        is_name = segment.location.endswith(values.NAME_MARK)
        assert segment.location.count(values.NAME_MARK) == is_name
        assert segment.field.count(values.NAME_MARK) == is_name
        assert segment.field.endswith(values.NAME_MARK) == is_name


def test_short_letters_only_base64_of_a_number_is_decoded() -> None:
    """Base64 of digits can be letters alone (`MTIzNDUwNzgx`): it is read; words stay words."""
    from dlp_proxy.core.codecs.values import base64_bytes

    assert base64_bytes("MTIzNDUwNzgx") == (b"123450781", False, True)
    assert base64_bytes("KarlHeinzMuster") is None
