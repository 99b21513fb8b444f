"""Tests for dlp_proxy/core/codecs/parse.py: choosing the document, JSON and text bodies,
what every format shares (fields, the package's exports), and bodies that never crash it."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlp_proxy.core import codecs
from dlp_proxy.core.codecs import (
    JsonDocument,
    Segment,
    TextDocument,
    XmlDocument,
    parse,
    parse_body,
    parse_headers,
    parse_path,
    parse_query,
)
from dlp_proxy.errors import UndecodableBody
from tests.core.codecs.support import (
    BOUNDARY,
    FORM,
    UPLOAD,
    UPLOAD_TYPE,
    by_location,
    fields_by_location,
    json_body,
    json_values,
    multipart,
    names_only,
    rewritable,
    shape,
    values_only,
)

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
    """Strings and integers of 6+ digits are values; short ints, bools, floats, null are not."""
    doc = parse_body("application/json", json.dumps(TICKET).encode())
    assert isinstance(doc, JsonDocument)
    assert [(s.location, s.text) for s in values_only(doc.segments)] == [
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
    assert [s.location for s in values_only(doc.segments)] == [
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
    monkeypatch.setattr(parse, "TEXT_CHUNK_CHARS", 10)
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
        ("text/plain", b"\x01\x02\x03\xff\x04\x05", r"text body is not valid utf-8 \(byte 3\)"),
        ("text/csv; charset=ascii", "é".encode(), r"CSV body is not valid ascii \(byte 0\)"),
        ("text/markdown; charset=ascii", "é".encode(), r"text body is not valid ascii \(byte 0\)"),
        (
            "application/octet-stream",
            b"\x7fELF\x00\xff\xfe",  # a zip's magic (PK) is read as a zip: test_archives
            "cannot inspect a application/octet-stream body: it is not text in a supported format",
        ),
        ("", b"\x7fELF\x02\x01\xff", "cannot inspect a untyped body: it is not text"),
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


@given(value=json_values)
def test_json_rebuild_without_replacements_equals_the_original(value: Any) -> None:
    """Rebuilding with no replacements gives back the same JSON data."""
    body = json.dumps(value).encode()
    assert json.loads(JsonDocument(body).rebuild({})) == json.loads(body)


@given(value=json_values, data=st.data())
def test_json_rebuild_with_replacements_keeps_shape(value: Any, data: st.DataObject) -> None:
    """Replacing any values gives valid JSON of the same shape with just those values changed."""
    doc = JsonDocument(json.dumps(value).encode())
    assert len(by_location(doc.segments)) == len(doc.segments), "two segments share a location"
    original = by_location(values_only(doc.segments))
    chosen = data.draw(
        st.lists(st.sampled_from(sorted(original)), unique=True) if original else st.just([])
    )
    replacements = {loc: data.draw(st.text(), label=loc) for loc in chosen}
    rebuilt = json.loads(doc.rebuild(replacements))
    assert shape(rebuilt) == shape(value)
    assert by_location(values_only(JsonDocument(json.dumps(rebuilt).encode()).segments)) == {
        **original,
        **replacements,
    }


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


@pytest.mark.parametrize("content_type", ["", "text/plain", "application/octet-stream"])
def test_untyped_json_and_xml_bodies_are_read_as_such(content_type: str) -> None:
    """A body of no specific type that is JSON, or XML with a declaration, is read as such."""
    doc = parse_body(content_type, b' {"email": "m@x.example"}')
    assert isinstance(doc, JsonDocument)
    assert by_location(values_only(doc.segments)) == {"$.email": "m@x.example"}
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
    """Parse `body`; if it is a document, rebuild it unchanged and with every segment replaced.

    Every rewritable segment, names too, each with a text of its own (two keys of one JSON
    object redacted alike could not both be written).
    """
    try:
        doc = parse_body(content_type, body)
    except UndecodableBody:
        return
    doc.rebuild({})
    doc.rebuild({location: f"<X{i}>" for i, location in enumerate(rewritable(doc.segments))})


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
                "xml:/root/@xmlns:a": "xml:/root/@xmlns:a",
                "xml:/root/@xmlns:b": "xml:/root/@xmlns:b",
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
                "header:authorization>credentials": "header:authorization>credentials",
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
    assert fields_by_location(values_only(make().segments)) == expected


def test_every_text_chunk_has_the_field_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of one text are numbered locations but one field, `text`."""
    monkeypatch.setattr(parse, "TEXT_CHUNK_CHARS", 10)
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


# --- JSON names, repeated keys, numbers ---------------------------------------------------------


def test_json_keys_are_names_at_every_depth_whatever_their_value() -> None:
    """Every key is a name segment `<value location>#name`, with its object's context."""
    doc = parse_body("application/json", json.dumps(TICKET).encode())
    names = [(s.location, s.text, s.context, s.field) for s in names_only(doc.segments)]
    assert names == [
        ("$.ticket#name", "ticket", (), "$.ticket#name"),
        ("$.ticket.customer#name", "customer", ("ticket",), "$.ticket.customer#name"),
        *(
            (f"$.ticket.customer.{k}#name", k, ("customer",), f"$.ticket.customer.{k}#name")
            for k in TICKET["ticket"]["customer"]  # objects, lists, null, bools, numbers too
        ),
        (
            '$.ticket["key with space"]#name',
            "key with space",
            ("ticket",),
            '$.ticket["key with space"]#name',
        ),
        ('$.ticket[""]#name', "", ("ticket",), '$.ticket[""]#name'),
        ("$.items#name", "items", (), "$.items#name"),
        ("$.items[0].sku#name", "sku", ("items",), "$.items[*].sku#name"),
    ]
    assert all(s.rewritable for s in doc.segments)
    assert [s.location for s in doc.segments][-len(names) :] == [n[0] for n in names]


def test_json_renamed_key_keeps_its_place_and_value() -> None:
    """A replaced key renames its member in place: order, value and other keys unchanged."""
    body = b'{"a": 1, "078-05-1120": {"x": [1, 2]}, "c": null}'
    doc = parse_body("application/json", body)
    rebuilt = doc.rebuild({'$["078-05-1120"]#name': "<US_SSN>", "$.c#name": "d"})
    assert rebuilt == b'{"a":1,"<US_SSN>":{"x":[1,2]},"d":null}'
    assert doc.rebuild({}) == b'{"a":1,"078-05-1120":{"x":[1,2]},"c":null}'


def test_json_rename_onto_another_key_is_refused() -> None:
    """Two members of one object with different names may not be given the same one."""
    doc = parse_body("application/json", b'{"078-05-1120": 1, "219-09-9999": 2, "n": 3}')
    both = {'$["078-05-1120"]#name': "<US_SSN>", '$["219-09-9999"]#name': "<US_SSN>"}
    with pytest.raises(UndecodableBody, match="two members of one JSON object the same name") as e:
        doc.rebuild(both)
    assert "078" not in str(e.value)
    with pytest.raises(UndecodableBody, match="the same name"):
        doc.rebuild({"$.n#name": "219-09-9999"})
    # Swapping two names is no collision, and a failed rebuild leaves nothing behind.
    swapped = doc.rebuild({'$["078-05-1120"]#name': "219-09-9999", '$["219-09-9999"]#name': "n2"})
    assert swapped == b'{"219-09-9999":1,"n2":2,"n":3}'
    assert doc.rebuild({}) == b'{"078-05-1120":1,"219-09-9999":2,"n":3}'


def test_short_json_numbers_are_listed_for_joins_but_not_analyzed() -> None:
    """`[4, 5, 3, 9]`: each digit is a segment recognizers skip; split ids join them."""
    doc = parse_body("application/json", b'{"d": [4, 5, 39], "big": 1234567, "neg": -3}')
    listed = {s.location: (s.text, s.analyzed) for s in doc.segments if "#" not in s.location}
    assert listed == {
        "$.d[0]": ("4", False),
        "$.d[1]": ("5", False),
        "$.d[2]": ("39", False),
        "$.big": ("1234567", True),
    }
    assert doc.rebuild({"$.d[1]": "x"}) == b'{"d":[4,"x",39],"big":1234567,"neg":-3}'


def test_json_repeated_keys_are_each_inspected_and_kept() -> None:
    """Each repeat of a key is a value of its own, `[dup<n>]`; rebuild writes every repeat."""
    body = b'{"ssn": "078-05-1120", "n": 1, "ssn": "219-09-9999", "ssn": {"ssn": "x"}}'
    doc = parse_body("application/json", body)
    assert [(s.location, s.text, s.field) for s in doc.segments if s.analyzed] == [
        ("$.ssn", "078-05-1120", "$.ssn"),
        ("$.ssn[dup1]", "219-09-9999", "$.ssn"),
        ("$.ssn[dup2].ssn", "x", "$.ssn.ssn"),
        ("$.ssn#name", "ssn", "$.ssn#name"),  # one name for the three: the same text
        ("$.n#name", "n", "$.n#name"),
        ("$.ssn[dup2].ssn#name", "ssn", "$.ssn.ssn#name"),
    ]
    assert doc.rebuild({}) == b'{"ssn":"078-05-1120","n":1,"ssn":"219-09-9999","ssn":{"ssn":"x"}}'
    assert doc.rebuild({"$.ssn[dup1]": "<SSN>"}) == (
        b'{"ssn":"078-05-1120","n":1,"ssn":"<SSN>","ssn":{"ssn":"x"}}'
    )
    # Renamed alike, the repeats stay repeats: that is no collision.
    assert doc.rebuild({"$.ssn#name": "id"}) == (
        b'{"id":"078-05-1120","n":1,"id":"219-09-9999","id":{"ssn":"x"}}'
    )


def test_json_keys_of_every_record_are_one_name() -> None:
    """The key of a list's records is one segment for its field, renamed in every record."""
    records = [{"078-05-1120": i, "id": f"r{i}"} for i in range(3)]
    doc = parse_body("application/json", json_body({"rows": records}))
    assert [(s.location, s.field) for s in names_only(doc.segments)] == [
        ("$.rows#name", "$.rows#name"),
        ('$.rows[0]["078-05-1120"]#name', '$.rows[*]["078-05-1120"]#name'),
        ("$.rows[0].id#name", "$.rows[*].id#name"),
    ]
    rebuilt = json.loads(doc.rebuild({'$.rows[0]["078-05-1120"]#name': "<SSN>"}))
    assert rebuilt == {"rows": [{"<SSN>": i, "id": f"r{i}"} for i in range(3)]}


@pytest.mark.parametrize(
    ("literal", "text"),
    [
        ("219099999.0", "219099999"),
        ("4.539148803436467e15", "4539148803436467"),
        ("2.19099999E8", "219099999"),
        ("-4.111111111111111E15", "-4111111111111111"),
    ],
)
def test_json_whole_floats_are_read_as_integers(literal: str, text: str) -> None:
    """A float that is a whole identifier-length number is a segment of its digits, in lists too."""
    doc = parse_body("application/json", f'{{"ssn": {literal}, "l": [1.5, {literal}]}}'.encode())
    assert by_location(values_only(doc.segments)) == {"$.ssn": text, "$.l[1]": text}
    rebuilt = json.loads(doc.rebuild({"$.l[1]": "<X>"}))
    assert rebuilt == {"ssn": float(literal), "l": [1.5, "<X>"]}  # a replaced number: a string


def test_json_fractions_and_short_floats_are_no_segments() -> None:
    """Amounts and rates are not identifiers, however they are written."""
    doc = parse_body("application/json", b'{"a": 4.5, "b": 219099999.5, "c": 1e3, "d": 1e400}')
    assert values_only(doc.segments) == ()


# Keys no document is found in (no `%`, nothing that starts JSON or is long enough for base64).
name_keys = st.text(alphabet=st.sampled_from('ab_#>."\\ 19é'), max_size=5)
named_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | plain_strings,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(name_keys, children, max_size=4)
    ),
    max_leaves=20,
)


def ordered(value: Any) -> Any:
    """JSON data with objects as lists of (key, value) pairs, so that order counts."""
    if isinstance(value, dict):
        return [(k, ordered(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [ordered(v) for v in value]
    return value


def renamed(value: Any, field: str, target: str, new: str) -> Any:
    """`ordered(value)` with every key whose field (`$.a[*].b`, as JsonNode writes) is `target`
    renamed to `new`: the oracle of a rename."""
    if isinstance(value, dict):
        out = []
        for k, v in value.items():
            inner = codecs.values.json_path(field, k)
            out.append((new if inner == target else k, renamed(v, inner, target, new)))
        return out
    if isinstance(value, list):
        return [renamed(v, f"{field}[*]", target, new) for v in value]
    return value


def all_keys(value: Any) -> set[str]:
    """Every key of every object in `value`."""
    if isinstance(value, dict):
        return set(value).union(*(all_keys(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(all_keys(v) for v in value))
    return set()


@given(value=named_json)
def test_every_json_key_is_a_name_segment(value: Any) -> None:
    """For any JSON document, each key is the text of a name whose field is its location starred."""
    doc = JsonDocument(json_body(value))
    names = names_only(doc.segments)
    assert {s.text for s in names} == all_keys(value)
    for segment in names:
        assert segment.location.endswith("#name")
        assert segment.field == starred(segment.location)
    assert json.loads(doc.rebuild({})) == json.loads(json_body(value))


@given(value=named_json.filter(lambda v: bool(all_keys(v))), data=st.data())
def test_renaming_a_key_renames_it_in_its_field_only(value: Any, data: st.DataObject) -> None:
    """A renamed key parses back as the new key, in place, wherever its field has it."""
    doc = JsonDocument(json_body(value))
    name = data.draw(st.sampled_from(names_only(doc.segments)))
    rebuilt = doc.rebuild({name.location: "~new~"})
    target = name.field.removesuffix("#name")
    expected = renamed(json.loads(json_body(value)), "$", target, "~new~")
    assert ordered(json.loads(rebuilt, object_pairs_hook=dict)) == expected
    assert rebuilt.count(b'"~new~":') >= 1


@pytest.mark.parametrize(
    ("content_type", "charset"),
    [("text/plain; charset=utf-8", "cp1252"), ("text/plain", "cp1252"), ("", "cp1252")],
)
def test_text_that_is_not_utf8_is_read_in_an_eight_bit_charset(
    content_type: str, charset: str
) -> None:
    """Latin-1 text labelled UTF-8 (or not labelled) is read, and rebuilt, as Windows-1252."""
    body = "cliente José Núñez, “urgente”".encode(charset)
    document = parse_body(content_type, body)
    assert [s.text for s in document.segments] == ["cliente José Núñez, “urgente”"]
    assert document.rebuild({"text:0": "cliente <PERSON>"}) == b"cliente <PERSON>"


def test_eight_bit_fallback_needs_printable_text() -> None:
    """Binary bytes are not taken for Latin-1 text: they stay refused."""
    with pytest.raises(UndecodableBody, match="not valid utf-8"):
        parse_body("text/plain", bytes(range(256)))
