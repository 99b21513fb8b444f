"""Tests for dlp_proxy/core/codecs/fields.py: forms, queries, the path, hosts, URLs, headers."""

from __future__ import annotations

import base64
from urllib.parse import parse_qsl, quote, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlp_proxy.core.codecs import (
    FormDocument,
    HeadersDocument,
    HostDocument,
    PathDocument,
    QueryDocument,
    parse_body,
    parse_headers,
    parse_path,
    parse_query,
    parse_target,
    split_target,
)
from dlp_proxy.core.codecs.fields import UrlNode
from dlp_proxy.errors import UndecodableBody
from tests.core.codecs.support import (
    FORM,
    by_location,
    names_only,
    pick_replacements,
    rewritable,
    values_only,
)

SSN = "219-09-9999"

# --- forms ----------------------------------------------------------------------------------------


def test_form_segments_and_repeated_keys() -> None:
    """Form values are `form:name`; repeats get `[1]`, `[2]`; names are `form:name#name`."""
    doc = parse_body(FORM, b"email=a%40b.example&tag=x&tag=y+z&tag=w&blank=&cardNumber=4111")
    assert isinstance(doc, FormDocument)
    assert [(s.location, s.text, s.context) for s in values_only(doc.segments)] == [
        ("form:email", "a@b.example", ("email",)),
        ("form:tag", "x", ("tag",)),
        ("form:tag[1]", "y z", ("tag",)),
        ("form:tag[2]", "w", ("tag",)),
        ("form:cardNumber", "4111", ("cardnumber", "card", "number")),
    ]
    names = {s.location: (s.text, s.field) for s in names_only(doc.segments)}
    assert names["form:email#name"] == ("email", "form:email#name")
    assert names["form:blank#name"] == ("blank", "form:blank#name")
    assert all(s.rewritable for s in doc.segments)


def test_form_rebuild_replaces_values_and_names_and_keeps_the_rest_byte_for_byte() -> None:
    """A replaced value or name is percent-encoded in place; every other byte stays as sent."""
    doc = parse_body(FORM, b"tag=x&tag=y+z&blank=&email=a%40b.example&219099999=1")
    assert doc.rebuild({"form:tag[1]": "<T> &=+", "form:email": "***"}) == (
        b"tag=x&tag=%3CT%3E+%26%3D%2B&blank=&email=%2A%2A%2A&219099999=1"
    )
    assert doc.rebuild({"form:219099999#name": "<US_SSN>"}) == (
        b"tag=x&tag=y+z&blank=&email=a%40b.example&%3CUS_SSN%3E=1"
    )
    assert doc.rebuild({}) == b"tag=x&tag=y+z&blank=&email=a%40b.example&219099999=1"


def test_form_charset_is_used_to_decode_and_to_encode_again() -> None:
    """A form's charset decodes the body; a bad charset is UndecodableBody; rebuild re-encodes."""
    doc = parse_body(f"{FORM}; charset=latin-1", b"name=Zo\xeb")
    assert by_location(values_only(doc.segments)) == {"form:name": "Zoë"}
    with pytest.raises(UndecodableBody, match=f"unknown charset 'nope' in the {FORM} Content-Type"):
        parse_body(f"{FORM}; charset=nope", b"a=b")
    latin = FormDocument("name=Zo\xeb&x=1", charset="latin-1")
    assert latin.rebuild({"form:x": "2"}) == b"name=Zo\xeb&x=2"


pairs_lists = st.lists(st.tuples(st.text(), st.text()), min_size=1, max_size=6)


@given(pairs=pairs_lists, data=st.data())
def test_form_round_trip(pairs: list[tuple[str, str]], data: st.DataObject) -> None:
    """Any form parses back to its pairs; rebuild changes only the replaced names and values."""
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


# --- query strings --------------------------------------------------------------------------------


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
    """Query values are `query:name`, names `query:name#name`; replaced_pairs keeps the order."""
    doc = parse_query([("q", "maria@example.com"), ("page", "2"), ("q", "x"), ("empty", "")])
    assert isinstance(doc, QueryDocument)
    assert by_location(values_only(doc.segments)) == {
        "query:q": "maria@example.com",
        "query:page": "2",
        "query:q[1]": "x",
    }
    assert {s.location for s in names_only(doc.segments)} >= {"query:q#name", "query:empty#name"}
    assert doc.replaced_pairs({"query:q": "<EMAIL>", "query:page#name": "p"}) == (
        ("q", "<EMAIL>"),
        ("p", "2"),
        ("q", "x"),
        ("empty", ""),
    )
    assert doc.rebuild({"query:q[1]": "a b"}) == b"q=maria@example.com&page=2&q=a+b&empty="


def test_a_bare_query_is_a_name_and_every_piece_is_read() -> None:
    """`?219099999` is a name with no value; `a&&219-09-9999` keeps its empty piece."""
    bare = QueryDocument.from_string("219099999")
    assert [(s.location, s.text) for s in bare.segments] == [("query:219099999#name", "219099999")]
    assert bare.pairs == (("219099999", ""),)
    assert bare.rebuild({"query:219099999#name": "<US_SSN>"}) == b"%3CUS_SSN%3E"
    doc = QueryDocument.from_string(f"a&&{SSN}&b=%E9&c=%zz+1")
    assert by_location(doc.segments) == {
        "query:a#name": "a",
        f"query:{SSN}#name": SSN,
        "query:b": "\udce9",
        "query:b#name": "b",
        "query:c": "%zz 1",
        "query:c#name": "c",
    }
    assert doc.rebuild({f"query:{SSN}#name": "x"}) == b"a&&x&b=%E9&c=%zz+1"
    assert doc.rebuild({"query:c": "y"}) == f"a&&{SSN}&b=%E9&c=y".encode()


@given(
    raw=st.lists(
        st.sampled_from([*"ab=&%+1é", "%41", "%E9", "%2", "%C3%A9", "%2B", "%26"]), max_size=12
    ).map("".join),
    data=st.data(),
)
def test_a_raw_query_reads_as_mitmproxy_reads_it_and_rebuilds_faithfully(
    raw: str, data: st.DataObject
) -> None:
    """Pairs are `parse_qsl`'s (mitmproxy's); unchanged it rebuilds byte for byte; replaced
    names and values read back, and nothing else moves."""
    doc = QueryDocument.from_string(raw)
    assert doc.pairs == tuple(parse_qsl(raw, keep_blank_values=True, errors="surrogateescape"))
    assert doc.rebuild({}) == raw.encode("utf-8", "surrogateescape")
    texts = rewritable(doc.segments)
    replacements = pick_replacements(data, [loc for loc in texts if ">" not in loc])
    again = QueryDocument.from_string(doc.rebuild(replacements).decode("utf-8", "surrogateescape"))
    assert again.pairs == doc.replaced_pairs(replacements)
    for location, text in replacements.items():
        assert by_location(again.segments).get(location, text) == text


def test_the_logged_query_keeps_clean_names_only() -> None:
    """Logged: names as sent, `<ENTITY>` where a finding is (and in names alike), no values."""
    doc = QueryDocument.from_string(f"email=maria%40x.example&{SSN}=1&&{SSN}=2&flag")
    marks = {f"query:{SSN}#name": "US_SSN", "query:email": "EMAIL_ADDRESS"}
    assert doc.logged_query(marks) == "?email=&%3CUS_SSN%3E=&&%3CUS_SSN%3E=&<v>"
    assert QueryDocument.from_string("").logged_query({}) == ""


# --- the request target and the path ------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "parts"),
    [
        ("/a", ("/a", None, None)),
        ("/a?x=1", ("/a", "x=1", None)),
        ("/a?x=1#f?g", ("/a", "x=1", "f?g")),
        ("/a#f?x=1", ("/a", None, "f?x=1")),
        ("/a?", ("/a", "", None)),
        ("/a#", ("/a", None, "")),
    ],
)
def test_a_request_target_splits_at_its_first_question_mark_or_hash(
    target: str, parts: tuple[str, str | None, str | None]
) -> None:
    """The query follows the first `?`; a `#` before it starts the fragment instead."""
    assert split_target(target) == parts


def test_every_byte_of_the_request_target_is_read() -> None:
    """Path segments, matrix parameters, query names, a bare query and the fragment are read."""
    path, query = parse_target(f"/customers/{SSN}/t;ssn={SSN};{SSN}?{SSN}&q=1#ssn={SSN}")
    assert by_location(path.segments) == {
        "path:0": "customers",
        "path:1": SSN,
        "path:2": "t",
        "path:2;ssn": SSN,
        "path:2;ssn#name": "ssn",
        f"path:2;{SSN}#name": SSN,
        "fragment": f"ssn={SSN}",
    }
    assert [s.location for s in path.segments if not s.rewritable] == ["fragment"]
    assert by_location(query.segments) == {
        f"query:{SSN}#name": SSN,
        "query:q": "1",
        "query:q#name": "q",
    }


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
    """A replaced segment is percent-encoded (`/`, `;` too); the rest is kept as it was written."""
    path = "/v1/customers/maria%40example.com/x%2Fy;v=1/%7e"
    doc = parse_path(path)
    assert doc.replaced_path({}) == path
    assert doc.replaced_path({"path:2": "<EMAIL> a/b?#;"}) == (
        "/v1/customers/%3CEMAIL%3E%20a%2Fb%3F%23%3B/x%2Fy;v=1/%7e"
    )
    assert doc.rebuild({"path:1": "c"}) == b"/v1/c/maria%40example.com/x%2Fy;v=1/%7e"
    assert doc.replaced_path({"path:3;v": "a;b", "path:3;v#name": "k=v"}) == (
        "/v1/customers/maria%40example.com/x%2Fy;k%3Dv=a%3Bb/%7e"
    )


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


def test_the_fragment_is_read_but_never_rewritten_or_logged() -> None:
    """A fragment (no client should send one) is inspected; a replacement there is refused."""
    doc = parse_path(f"/a#{quote(SSN)}")
    assert by_location(doc.segments) == {"path:0": "a", "fragment": SSN}
    with pytest.raises(KeyError):
        doc.replaced_path({"fragment": "x"})
    assert doc.logged_path({"fragment": "US_SSN"}) == "/a"


def test_the_logged_path_marks_findings_and_leaves_out_matrix_values() -> None:
    """Logged: segments as sent, `<ENTITY>` where a finding is, matrix values and fragment out."""
    doc = parse_path(f"/customers/{SSN}/x;session=abc;{SSN}/maria%2540x.example#{SSN}")
    marks = {"path:1": "US_SSN", "path:3>url>text:0": "EMAIL_ADDRESS"}
    assert doc.logged_path(marks) == "/customers/%3CUS_SSN%3E/x;session=;<v>/%3CEMAIL_ADDRESS%3E"


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


# --- hosts and URLs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "texts"),
    [
        ("api.vendor.example", {"host:0": "api", "host:1": "vendor", "host:2": "example"}),
        (f"{SSN}.vendor.example:8443", {"host:0": SSN, "host:1": "vendor", "host:2": "example"}),
        ("xn--mller-kva.example", {"host:0": "müller", "host:1": "example"}),
        ("[2001:db8::1]:443", {"host:0": "2001", "host:1": "db8", "host:3": "1"}),
        ("2001:db8::1", {"host:0": "2001", "host:1": "db8", "host:3": "1"}),
        (
            "vendor.example:219099999",
            {"host:0": "vendor", "host:1": "example", "port": "219099999"},
        ),
        ("[::1]x219099999", {"host:2": "1", "port": "x219099999"}),
    ],
)
def test_a_host_is_read_label_by_label_and_never_rewritten(
    host: str, texts: dict[str, str]
) -> None:
    """Each DNS label (IPv6 group) is `host:<i>`; a port that is no port number is `port`."""
    doc = HostDocument(host)
    assert by_location(doc.segments) == texts
    assert not any(s.rewritable for s in doc.segments)
    assert doc.render({}) == host


def test_a_url_is_read_by_its_parts_and_rebuilt_in_place() -> None:
    """userinfo, host labels, path, query names and values, fragment; a custom scheme too."""
    url = "https://maria:s3cret@shop.example:8080/c/maria%40x.example?email=a%40b.example#top"
    node = UrlNode(url)
    assert by_location(node.segments) == {
        "userinfo:user": "maria",
        "userinfo:password": "s3cret",
        "host:0": "shop",
        "host:1": "example",
        "path:0": "c",
        "path:1": "maria@x.example",
        "query:email": "a@b.example",
        "query:email#name": "email",
        "fragment": "top",
    }
    assert node.render({}) == url
    assert node.render({"query:email": "<E>", "userinfo:password": "***", "path:1": "x y"}) == (
        "https://maria:***@shop.example:8080/c/x%20y?email=%3CE%3E#top"
    )
    assert by_location(UrlNode(f"x{SSN}:opaque").segments) == {
        "scheme": f"x{SSN}",
        "path:0": "opaque",
    }
    assert by_location(UrlNode("/relative?a=1").segments)["query:a"] == "1"


# --- headers --------------------------------------------------------------------------------------

HEADERS = [
    ("Host", "api.example"),
    ("Authorization", "Bearer maria@example.com"),
    ("Cookie", "email=maria@example.com"),
    ("Accept-Language", "en"),
    ("Content-Type", "application/json"),
    ("Content-Length", "17"),
    ("X-Forwarded-For", "10.0.0.1"),
    ("Sec-Fetch-Mode", "cors"),
    ("X-Customer-Email", "maria@example.com"),
    ("Referer", "https://shop.example/?email=maria%40example.com"),
    ("x-customer-email", "second@example.com"),
    ("X-Empty", ""),
]


def test_every_header_is_read_except_protocol_headers_of_their_shape() -> None:
    """Values in their formats, custom names as names; Content-Length and Sec-Fetch-Mode skip."""
    doc = parse_headers(HEADERS)
    assert isinstance(doc, HeadersDocument)
    found = {s.location: (s.text, s.rewritable) for s in doc.segments}
    assert found == {
        "header:host>host:0": ("api", False),
        "header:host>host:1": ("example", False),
        "header:authorization>credentials": ("maria@example.com", False),
        "header:cookie>cookie:email": ("maria@example.com", True),
        "header:cookie>cookie:email#name": ("email", True),
        "header:accept-language>item:0": ("en", True),
        "header:content-type>type": ("application/json", False),
        "header:x-forwarded-for>item:0": ("10.0.0.1", True),
        "header:x-customer-email": ("maria@example.com", True),
        "header:x-customer-email#name": ("X-Customer-Email", False),
        "header:referer>host:0": ("shop", True),
        "header:referer>host:1": ("example", True),
        "header:referer>query:email": ("maria@example.com", True),
        "header:referer>query:email#name": ("email", True),
        "header:x-customer-email[1]": ("second@example.com", True),
        "header:x-customer-email[1]#name": ("x-customer-email", False),
        "header:x-empty#name": ("X-Empty", False),
    }
    fields = {s.location: s.field for s in doc.segments}
    assert fields["header:x-customer-email[1]"] == "header:x-customer-email"
    assert fields["header:cookie>cookie:email"] == "header:cookie>cookie:email"


def test_a_protocol_header_that_fails_its_shape_is_read_as_text_and_not_rewritable() -> None:
    """`Content-Length: 219-09-9999` or `max-age=219099999` carry data: inspected, fixed."""
    doc = parse_headers(
        [
            ("Content-Length", SSN),
            ("Cache-Control", "no-cache, max-age=60"),
            ("Cache-Control", "max-age=219099999"),
            ("Range", "bytes=0-99"),
            ("Range", "bytes=219099999-"),
            ("Date", "Sun, 06 Nov 1994 08:49:37 GMT"),
            ("Date", f"Sun, {SSN}"),
        ]
    )
    assert [(s.location, s.text, s.rewritable) for s in doc.segments] == [
        ("header:content-length", SSN, False),
        ("header:cache-control[1]", "max-age=219099999", False),
        ("header:range[1]", "bytes=219099999-", False),
        ("header:date[1]", f"Sun, {SSN}", False),
    ]


def test_a_websocket_key_holding_text_is_read_as_that_text() -> None:
    """A random nonce passes; 16 bytes that spell an SSN are inspected as what they spell."""
    random_key = "dGhlIHNhbXBsZSBub25jZQ=="[:0] + base64.b64encode(bytes(range(16))).decode()
    spelled = base64.b64encode(f"{SSN}xxxxx".encode()).decode()
    doc = parse_headers([("Sec-WebSocket-Key", random_key), ("Sec-WebSocket-Key", spelled)])
    assert [(s.location, s.text) for s in doc.segments] == [
        ("header:sec-websocket-key[1]", f"{SSN}xxxxx")
    ]


def test_credentials_are_decoded_and_never_rewritable() -> None:
    """Basic is decoded to user and password; nothing in Authorization may be rewritten."""
    basic = "Basic " + base64.b64encode(f"maria:{SSN}".encode()).decode()
    doc = parse_headers([("Authorization", basic), ("Proxy-Authorization", "Negotiate abc")])
    assert [(s.location, s.text, s.rewritable) for s in doc.segments] == [
        ("header:authorization>basic:user", "maria", False),
        ("header:authorization>basic:password", SSN, False),
        ("header:proxy-authorization>credentials", "abc", False),
    ]
    with pytest.raises(KeyError):
        doc.replaced_pairs({"header:authorization>basic:password": "***"})


def test_header_names_are_read_but_never_rewritten() -> None:
    """A custom header named after an SSN is a name segment; a replacement there is refused."""
    doc = parse_headers([(f"X-{SSN}", "1"), ("User-Agent", "curl/8.5.0")])
    assert by_location(names_only(doc.segments)) == {f"header:x-{SSN}#name": f"X-{SSN}"}
    with pytest.raises(KeyError):
        doc.replaced_pairs({f"header:x-{SSN}#name": "X-a"})


def test_header_replacements_keep_order_and_cannot_add_lines() -> None:
    """replaced_pairs gives every pair back; CR, LF and NUL in a replacement become spaces."""
    doc = parse_headers(HEADERS)
    pairs = doc.replaced_pairs({"header:x-customer-email": "<E>\r\nX-Admin: 1\x00"})
    assert pairs[8] == ("X-Customer-Email", "<E>  X-Admin: 1 ")
    assert pairs[:8] == tuple(HEADERS[:8])
    assert pairs[9:] == tuple(HEADERS[9:])
    assert doc.replaced_pairs({}) == tuple(HEADERS)
    cookie = doc.replaced_pairs({"header:cookie>cookie:email": "a\r\nb; c=d"})
    assert cookie[2] == ("Cookie", "email=a%0D%0Ab%3B%20c=d")
    block = parse_headers([("X-A", "b"), ("Host", "h")]).rebuild({"header:x-a": "c"})
    assert block == b"X-A: c\r\nHost: h\r\n"


@given(
    pairs=st.lists(
        st.tuples(
            st.sampled_from(
                ["X-Email", "x-email", "Host", "Cookie", "X-Note", "Accept", "Referer", "Baggage"]
            ),
            st.text(alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="%")),
        ),
        max_size=6,
    ),
    data=st.data(),
)
def test_headers_round_trip(pairs: list[tuple[str, str]], data: st.DataObject) -> None:
    """Only replaced values change, each on one line; a plain value's replacement reads back."""
    doc = parse_headers(pairs)
    texts = rewritable(doc.segments)
    replacements = pick_replacements(data, list(texts))
    new_pairs = doc.replaced_pairs(replacements)
    assert [name for name, _ in new_pairs] == [name for name, _ in pairs]
    # A name is inspected once per field and rewritten wherever it is (its aliases).
    fields = {s.location: s.field for s in doc.segments}
    touched = {fields[location].split(">")[0] for location in replacements}
    for (name, value), (_, old) in zip(new_pairs, pairs, strict=True):
        if f"header:{name.lower()}" not in touched:
            assert value == old
        if value != old:
            assert not set(value) & {"\r", "\n", "\x00"}
    again = by_location(parse_headers(new_pairs).segments)
    for location, text in replacements.items():
        if location.startswith(("header:x-email", "header:x-note")) and ">" not in location:
            assert again[location] == text.replace("\r", " ").replace("\n", " ").replace(
                "\x00", " "
            )


# Any text, and text of the characters URLs are made of, so that odd shapes come up often.
url_texts = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40) | st.text(
    alphabet=st.sampled_from(list("[]:@/?#;=&%.+ xX1é\"',")), max_size=30
)


@given(url_texts)
def test_every_reading_of_a_request_line_part_gives_it_back_unchanged(text: str) -> None:
    """Whatever a URL, host, path or query holds, rendering without replacements is identity."""
    assert UrlNode(text).render({}) == text
    assert HostDocument(text).render({}) == text
    assert parse_path(text).replaced_path({}) == split_target(text)[0]
    assert QueryDocument.from_string(text).render({}) == text
    path, query = parse_target(text)
    rest = split_target(text)[1]
    assert query.render({}) == (rest or "")
    assert path.replaced_path({}) == split_target(text)[0]
