"""Tests for dlp_proxy/core/codecs/headers.py: header shapes, cookies, credentials, lists."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlp_proxy.core.codecs.headers import (
    SHAPES,
    Assembled,
    CookieNode,
    HeaderKind,
    JwtNode,
    KeyValuesNode,
    ListNode,
    ParamsNode,
    ProductsNode,
    credentials_node,
    escaper,
    header_kind,
    nonce_text,
    percent_encode,
    shape_holds,
    split_outside_quotes,
)
from tests.core.codecs.support import by_location, names_only, values_only

SSN = "219-09-9999"


def _b64url(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def jwt(header: object, payload: object, signature: str = "c2lnbmF0dXJl") -> str:
    """A compact JWT of these parts (the signature is not checked by anyone here)."""
    return f"{_b64url(header)}.{_b64url(payload)}.{signature}"


# --- shapes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("content-length", "1234567890123"),
        ("transfer-encoding", "gzip, chunked"),
        ("content-encoding", "br"),
        ("te", "trailers, deflate;q=0.5"),
        ("connection", "keep-alive, Upgrade"),
        ("keep-alive", "timeout=5, max=1000"),
        ("upgrade", "websocket"),
        ("date", "Sun, 06 Nov 1994 08:49:37 GMT"),
        ("if-modified-since", "Sunday, 06-Nov-94 08:49:37 GMT"),
        ("last-modified", "Sun Nov  6 08:49:37 1994"),
        ("expires", "0"),
        ("retry-after", "120"),
        ("range", "bytes=0-499, 500-, -200"),
        ("content-range", "bytes 0-499/1234"),
        ("cache-control", "no-cache, no-store, max-age=31536000"),
        ("pragma", "no-cache"),
        ("expect", "100-continue"),
        ("upgrade-insecure-requests", "1"),
        ("priority", "u=3, i"),
        ("sec-fetch-dest", "empty"),
        ("sec-fetch-site", "same-origin"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("sec-ch-ua", '"Not_A Brand";v="8", "Chromium";v="120", "Google Chrome";v="120"'),
        ("sec-ch-ua-platform", '"Windows"'),
        (":method", "PATCH"),
        (":scheme", "https"),
    ],
)
def test_protocol_headers_of_their_shape_hold(name: str, value: str) -> None:
    """Each shape-checked header accepts what the protocol puts there."""
    assert header_kind(name) is HeaderKind.SHAPE
    assert shape_holds(name, value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("content-length", SSN),
        ("transfer-encoding", f"chunked, x-{SSN}"),
        ("connection", f"close, X-{SSN}"),
        ("keep-alive", "timeout=219099999"),
        ("date", f"Sun, 06 Nov 1994 08:49:37 GMT {SSN}"),
        ("range", "bytes=219099999-219099999"),
        ("cache-control", "max-age=219099999"),
        ("cache-control", f'no-cache="{SSN}"'),
        ("expect", f"100-continue; {SSN}"),
        ("sec-fetch-mode", SSN),
        (":method", f"GET{SSN}"),
        ("sec-ch-ua", '"Maria Gonzalez";v="8"'),
        ("sec-ch-ua-platform", f'"{SSN}"'),
    ],
)
def test_a_value_that_could_carry_data_fails_its_shape(name: str, value: str) -> None:
    """Unknown tokens, numbers of SSN length and anything extra fail the shape."""
    assert not shape_holds(name, value)


def test_shapes_are_few_and_every_other_header_is_read() -> None:
    """A short list of protocol headers; cookies, credentials and custom headers are read."""
    assert len(SHAPES) < 40
    assert not shape_holds("x-custom", "1")
    assert header_kind("cookie") is HeaderKind.COOKIE
    assert header_kind("authorization") is HeaderKind.CREDENTIALS
    assert header_kind("referer") is HeaderKind.URL
    assert header_kind("user-agent") is HeaderKind.PRODUCTS
    assert header_kind("sec-websocket-protocol") is HeaderKind.TEXT
    assert header_kind("x-219099999") is HeaderKind.TEXT


def test_a_websocket_nonce_is_read_only_when_its_bytes_hold_text() -> None:
    """16 random bytes are nothing; 16 bytes spelling an SSN are that text; not a nonce: None."""
    assert nonce_text("sec-websocket-key", base64.b64encode(bytes(range(16))).decode()) is None
    spelled = base64.b64encode(f"{SSN}abcde".encode()).decode()
    assert nonce_text("sec-websocket-key", spelled) == f"{SSN}abcde"
    assert nonce_text("x-key", spelled) is None


# --- assembled text -------------------------------------------------------------------------------


def test_assembled_text_renders_changed_values_escaped_and_the_rest_as_sent() -> None:
    """Literals and unchanged pieces come back byte for byte; a changed one through its escape."""
    text = Assembled(0)
    text.literal("<<")
    text.name("k#name", "k", "%6B", field="k#name", escape=escaper("<>"))
    text.literal("=")
    text.value("k", "a b", "a+b", field="k", escape=escaper(" "), logged="")
    assert text.render({}) == "<<%6B=a+b"
    assert text.render({"k": "x y", "k#name": "<n>"}) == "<<%3Cn%3E=x%20y"
    assert text.logged({}) == "<<%6B="
    assert text.logged({"k#name": "US_SSN"}) == "<<%3CUS_SSN%3E="
    with pytest.raises(KeyError):
        text.render({"nowhere": "x"})


def test_percent_encoding_writes_escaped_bytes_back() -> None:
    """A lone surrogate from an undecodable byte is that byte again; others become `?`."""
    assert percent_encode("a\udce9 b", "") == "a%E9%20b"
    assert percent_encode("\ud800", "") == "%3F"


def test_splitting_respects_quoted_strings() -> None:
    """A separator inside a quoted string (with escapes) does not split."""
    assert split_outside_quotes('a, "b, \\"c", d', ",") == ["a", ' "b, \\"c"', " d"]


# --- cookies --------------------------------------------------------------------------------------


def test_cookie_names_and_values_are_read_and_a_jwt_value_as_a_token() -> None:
    """Each cookie is `cookie:<name>`, its name `cookie:<name>#name`; a JWT value by its parts."""
    token = jwt({"alg": "HS256"}, {"sub": "maria@example.com"})
    value = f'sid=abc; ssn="{SSN}"; {SSN}; tok={token}'
    node = CookieNode(value)
    assert by_location(values_only(node.segments)) == {
        "cookie:sid": "abc",
        "cookie:ssn": SSN,
        "cookie:": SSN,
        "cookie:tok>jwt:header>$.alg": "HS256",
        "cookie:tok>jwt:payload>$.sub": "maria@example.com",
        "cookie:tok>jwt:signature": "c2lnbmF0dXJl",
    }
    assert {s.location for s in names_only(node.segments)} >= {
        "cookie:sid#name",
        "cookie:ssn#name",
        "cookie:tok#name",
    }
    fixed = {s.location for s in node.segments if not s.rewritable}
    assert fixed
    assert all(location.startswith("cookie:tok>") for location in fixed)
    assert node.render({}) == value
    assert node.render({"cookie:ssn": "<US SSN>", "cookie:sid#name": "s;d"}) == (
        f's%3Bd=abc; ssn="<US%20SSN>"; {SSN}; tok={token}'
    )


def test_set_cookie_attributes_of_their_shape_are_kept_and_others_read() -> None:
    """Expires, Max-Age, Secure pass; Path, Domain and unknown attributes are read."""
    value = (
        f"id={SSN}; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Max-Age=60; Path=/{SSN}; Note=x; Secure"
    )
    node = CookieNode(value, response=True)
    assert by_location(node.segments) == {
        "cookie:id": SSN,
        "attr:path": f"/{SSN}",
        "attr:note": "x",
        "cookie:id#name": "id",
        "attr:note#name": "Note",
    }
    assert node.render({"attr:path": "/"}) == value.replace(f"Path=/{SSN}", "Path=/")


@given(
    st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40)
    | st.text(alphabet=st.sampled_from(list(';,="\\ \tW/abAB1%')), max_size=30)
)
def test_every_header_reading_gives_its_value_back_unchanged(value: str) -> None:
    """Whatever a header holds, reading it and rendering without replacements is the identity."""
    for node in (
        CookieNode(value),
        CookieNode(value, response=True),
        ListNode(value),
        ListNode(value, tags=True),
        KeyValuesNode(value),
        ParamsNode(value),
        ProductsNode(value),
    ):
        assert node.render({}) == value


# --- credentials and tokens -----------------------------------------------------------------------


def test_basic_credentials_are_decoded_into_user_and_password() -> None:
    """`Basic` base64 becomes `basic:user` and `basic:password`, neither rewritable."""
    node = credentials_node("Basic " + base64.b64encode(f"maria:{SSN}:x".encode()).decode())
    assert node is not None
    assert [(s.location, s.text, s.rewritable) for s in node.segments] == [
        ("basic:user", "maria", False),
        ("basic:password", f"{SSN}:x", False),
    ]
    assert credentials_node(f"Token{SSN} abc") is None  # no known scheme: read whole as text
    for value in ("Basic not*base64", f"Token {SSN}"):
        other = credentials_node(value)
        assert other is not None
        credentials = value.split(" ", 1)[1]
        assert [(s.location, s.text, s.rewritable) for s in other.segments] == [
            ("credentials", credentials, False)
        ]
        assert other.render({}) == value


def test_a_bearer_jwt_is_read_as_json_claims_signed_or_not() -> None:
    """Header and payload claims (names too) are segments; an `alg: none` token also."""
    token = jwt({"alg": "none", "typ": "JWT"}, {"sub": "u1", "ssn": SSN}, signature="")
    node = credentials_node(f"Bearer {token}")
    assert isinstance(node, JwtNode)
    texts = by_location(node.segments)
    assert texts["jwt:payload>$.ssn"] == SSN
    assert texts["jwt:payload>$.ssn#name"] == "ssn"
    assert texts["jwt:header>$.alg"] == "none"
    assert "jwt:signature" not in texts
    assert not any(s.rewritable for s in node.segments)
    assert node.render({}) == f"Bearer {token}"
    again = node.render({"jwt:payload>$.ssn": "x"})
    payload = again.split(".")[1]
    assert json.loads(base64.urlsafe_b64decode(payload + "==")) == {"sub": "u1", "ssn": "x"}
    with pytest.raises(KeyError):
        node.render({"jwt:signature": "x"})


@pytest.mark.parametrize(
    "token",
    ["opaque-token", "a.b.c", f"{_b64url({'typ': 'JWT'})}.{_b64url({})}.x", "eyJ!.e30.x"],
)
def test_what_is_no_readable_jwt_is_left_to_be_read_as_text(token: str) -> None:
    """Opaque tokens, parts that do not decode, a header without `alg`: no JWT node."""
    assert JwtNode.read(token, 0) is None


def test_a_jwt_payload_that_is_not_json_is_read_as_text() -> None:
    """A payload of text (or bytes) is still inspected, as text."""
    payload = base64.urlsafe_b64encode(SSN.encode()).decode().rstrip("=")
    node = JwtNode.read(f"{_b64url({'alg': 'HS256'})}.{payload}.sig0", 0)
    assert node is not None
    assert by_location(node.segments)["jwt:payload>text:0"] == SSN


# --- lists, key=value lists, parameters -----------------------------------------------------------


def test_list_elements_and_entity_tags_are_items() -> None:
    """Elements are `item:<i>`; entity tags and quoted elements are read without their quotes."""
    node = ListNode('10.0.0.1, "for=[::1]", 219.0.0.1')
    assert by_location(node.segments) == {
        "item:0": "10.0.0.1",
        "item:1": "for=[::1]",
        "item:2": "219.0.0.1",
    }
    tags = ListNode(f'W/"{SSN}", "abc", *', tags=True)
    assert by_location(tags.segments) == {"item:0": SSN, "item:1": "abc", "item:2": "*"}
    assert tags.render({"item:0": 'a, "b'}) == 'W/"a%2C %22b", "abc", *'


def test_key_value_lists_read_keys_and_percent_decoded_values() -> None:
    """`baggage` keys are names, values percent-decoded; a changed value cannot add a key."""
    node = KeyValuesNode(f"user=maria%40example.com;p=1, {SSN}=x, bare")
    assert by_location(node.segments) == {
        "key:user>url>text:0": "maria@example.com;p=1",
        f"key:{SSN}": "x",
        "key:": "bare",
        "key:user#name": "user",
        f"key:{SSN}#name": SSN,
    }
    assert node.render({f"key:{SSN}": "a,b=c"}) == (
        f"user=maria%40example.com;p=1, {SSN}=a%2Cb%3Dc, bare"
    )


def test_parameters_are_read_by_name_and_value() -> None:
    """The leading token is `type`; parameter values are read, unusual names too."""
    node = ParamsNode(f'attachment; filename="{SSN}.csv"; x-id={SSN}', rewritable=False)
    assert by_location(node.segments) == {
        "type": "attachment",
        "param:filename": f"{SSN}.csv",
        "param:x-id": SSN,
        "param:x-id#name": "x-id",
    }
    assert not any(s.rewritable for s in node.segments)


def test_a_user_agent_is_read_between_its_version_numbers() -> None:
    """Versions stay as they are (read as text, `120.0.0.0` is an IP address); all else is read,
    and so are versions laid out as an SSN or a phone number."""
    agent = f"Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0.0.0 Safari/537.36 x/{SSN} y/219.09.9999"
    node = ProductsNode(agent)
    assert by_location(node.segments) == {
        "text:0": "Mozilla/",
        "text:1": " (X11; Linux x86_64) Chrome/",
        "text:2": " Safari/",
        "text:3": f" x/{SSN} y/219.09.9999",
    }
    assert node.render({}) == agent
    assert node.render({"text:1": " (<X>) Chrome/"}) == agent.replace("X11; Linux x86_64", "<X>")


def test_a_jwts_times_are_not_read_as_numbers_but_other_values_of_theirs_are() -> None:
    """`iat` and `exp` of ten digits are times (read as text: phone numbers); nine are read."""
    token = jwt({"alg": "HS256"}, {"iat": 1767225600, "exp": 219099999, "n": 1767225600})
    node = JwtNode.read(token, 0)
    assert node is not None
    numbers = {s.location: s.text for s in values_only(node.segments) if s.text.isdigit()}
    assert numbers == {"jwt:payload>$.exp": "219099999", "jwt:payload>$.n": "1767225600"}
