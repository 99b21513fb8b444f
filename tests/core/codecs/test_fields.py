"""Tests for dlp_proxy/core/codecs/fields.py: forms, query strings, the URL path, headers."""

from __future__ import annotations

from urllib.parse import quote, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlp_proxy.core.codecs import (
    FormDocument,
    HeadersDocument,
    PathDocument,
    QueryDocument,
    parse_body,
    parse_headers,
    parse_path,
    parse_query,
)
from dlp_proxy.errors import UndecodableBody
from tests.core.codecs.support import FORM, by_location, pick_replacements


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
