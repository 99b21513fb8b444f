"""Header values: how each header is read, and `Assembled`, the text every field format is built of.

A header is either a protocol header whose value has a fixed *shape* (`Content-Length` is digits,
`Transfer-Encoding` names known codings ...), checked and not inspected when it holds, or a
value read in its own format and inspected:

    shape checked  SHAPES below; a value that fails its shape is inspected as text, and cannot
                   be rewritten (a finding there that a rule would redact blocks)
    Cookie         cookie:<name> (value), cookie:<name>#name (name); a JWT value as below
    Set-Cookie     the same, and attr:<attribute> for attribute values that fail their shape
    Authorization  Basic: basic:user, basic:password (decoded); a JWT: jwt:header>$.alg,
                   jwt:payload>$.sub, jwt:signature; other credentials: credentials (no known
                   scheme: the value as text); never rewritable (a changed credential is
                   useless: a finding there blocks)
    lists          item:0, item:1 ... (X-Forwarded-For, Forwarded, Via, Accept*, entity tags)
    key=value      key:<key>, key:<key>#name (tracestate, baggage)
    parameters     type, param:<name>, param:<name>#name (Content-Type, Content-Disposition)
    URLs, hosts    read by `fields` (Referer, Origin, Location, Content-Location; Host)
    anything else  the value as text (User-Agent, Sec-WebSocket-Protocol, custom headers)

`Assembled` is text made of literal stretches and values: each value is recorded in a `Nest`
(so documents inside it are found) and written back in place, through the escaping its syntax
needs, when it changes; what did not change is written as it came, byte for byte. `fields`
builds query strings, forms, paths and URLs with it too.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import quote

from dlp_proxy.core.codecs.values import (
    SEP,
    JsonNode,
    Nest,
    Node,
    TextNode,
    context_words,
    location_name,
    name_location,
    unique_locations,
)
from dlp_proxy.detection.detector import Segment

__all__ = [
    "KNOWN_HEADERS",
    "SHAPES",
    "SHAPE_MAX_DIGITS",
    "UNREWRITABLE_HEADERS",
    "Assembled",
    "CookieNode",
    "CredentialsNode",
    "HeaderKind",
    "JwtNode",
    "KeyValuesNode",
    "ListNode",
    "ParamsNode",
    "ProductsNode",
    "credentials_node",
    "escaper",
    "header_kind",
    "nonce_text",
    "percent_encode",
    "shape_holds",
]

# A number with more digits than this in a shape-checked header fails its shape: it could be an
# SSN (9 digits), a phone number (10) or a card (13 to 19). `max-age=31536000` (a year) still
# fits. Content-Length is exempt: it is the body's length, which mitmproxy frames the body by.
SHAPE_MAX_DIGITS = 8

Escape = Callable[[str], str]


# --- assembled text -----------------------------------------------------------------------------


def percent_encode(text: str, safe: str) -> str:
    """`text` percent-encoded as UTF-8, `safe` (and letters, digits, `_.-~`) left as they are.

    Characters that came from undecodable bytes (lone surrogates from `surrogateescape`) are
    written as those bytes again.
    """
    try:
        return quote(text, safe=safe, errors="surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that is not an escaped byte
        return quote(text, safe=safe, errors="replace")


def escaper(unsafe: str) -> Escape:
    """An escape that percent-encodes the characters `unsafe` (a regex class body) matches."""
    pattern = re.compile(f"[{unsafe}]")

    def escape(text: str) -> str:
        return pattern.sub(lambda m: percent_encode(m.group(), ""), text)

    return escape


def _as_is(text: str) -> str:
    return text


@dataclass(frozen=True)
class _Slot:
    """A value's place in assembled text: its location and what was written there.

    `logged` is what a log writes in its place (`""`: nothing), `None` to write it as sent
    unless a finding is in it. `alike` is a name's field and text: `Nest` inspects a name once
    per document, so a finding in it is a finding in every name alike.
    """

    location: str
    raw: str
    escape: Escape
    logged: str | None
    alike: tuple[str, str] | None = None


def marked(location: str, marks: Mapping[str, str]) -> str | None:
    """The entity of a finding at `location` or inside it, if any (`marks`: location -> entity)."""
    for where, entity in sorted(marks.items()):
        if where == location or where.startswith(location + SEP):
            return entity
    return None


class Assembled:
    """Text made of literal stretches and values, rebuilt with replaced values in place.

    `value` and `name` record a piece by location (in `nest`: a document found inside it gives
    its segments instead); `raw` is the piece as written, `text` what it means (decoded), and
    `escape` writes a new text in the piece's syntax. `render` writes every unchanged piece as
    it came.
    """

    def __init__(self, depth: int) -> None:
        self.nest = Nest(depth)
        self._pieces: list[str | _Slot] = []

    @property
    def segments(self) -> tuple[Segment, ...]:
        """The values, then the names."""
        return self.nest.segments

    @property
    def uninspectable(self) -> tuple[str, ...]:
        """Locations nothing could be read from (from nested documents)."""
        return tuple(self.nest.uninspectable)

    def literal(self, text: str) -> None:
        """A stretch written back as it is: syntax, or a value with a known shape."""
        if text:
            self._pieces.append(text)

    def value(
        self,
        location: str,
        text: str,
        raw: str | None = None,
        *,
        field: str,
        context: tuple[str, ...] = (),
        escape: Escape = _as_is,
        rewritable: bool = True,
        logged: str | None = None,
    ) -> None:
        """A value at `location`; empty text is kept in place but is no segment."""
        self._pieces.append(_Slot(location, text if raw is None else raw, escape, logged))
        if text:
            self.nest.value(location, text, context, field=field, rewritable=rewritable)
        elif rewritable:
            self.nest.slot(location)

    def name(
        self,
        location: str,
        text: str,
        raw: str | None = None,
        *,
        field: str,
        escape: Escape = _as_is,
        rewritable: bool = True,
        logged: str | None = None,
    ) -> None:
        """A name; `location` and `field` are `name_location`s of its value's."""
        raw = text if raw is None else raw
        self._pieces.append(_Slot(location, raw, escape, logged, (field, text)))
        if text:
            self.nest.name(location, text, field=field, rewritable=rewritable)

    def child(
        self, location: str, node: Node, raw: str, *, field: str, escape: Escape = _as_is
    ) -> None:
        """A value read as a document of this module's own (a cookie's JWT)."""
        self._pieces.append(_Slot(location, raw, escape, None))
        self.nest.child(location, node, field=field)

    def resolve(self, replacements: Mapping[str, str]) -> dict[str, str]:
        """The new text of each piece that changes (decoded, before escaping)."""
        return self.nest.resolve(replacements)

    def render(self, replacements: Mapping[str, str]) -> str:
        """The text with each replaced piece written anew, the rest as it came."""
        changed = self.resolve(replacements)
        return "".join(
            piece
            if isinstance(piece, str)
            else piece.escape(changed[piece.location])
            if piece.location in changed
            else piece.raw
            for piece in self._pieces
        )

    def logged(self, marks: Mapping[str, str]) -> str:
        """The text as a log may show it.

        Each piece's `logged` text, or `<ENTITY>` where a finding is (`marks`: finding location
        to entity), or the piece as sent.
        """
        slots = [p for p in self._pieces if isinstance(p, _Slot)]
        found = {s.location: e for s in slots if (e := marked(s.location, marks)) is not None}
        alike = {s.alike: found[s.location] for s in slots if s.alike and s.location in found}
        out = []
        for piece in self._pieces:
            if isinstance(piece, str):
                out.append(piece)
            elif piece.logged is not None:
                out.append(piece.logged)
            else:
                entity = found.get(piece.location) or (piece.alike and alike.get(piece.alike))
                out.append(piece.escape(f"<{entity}>") if entity else piece.raw)
        return "".join(out)


class _AssembledNode:
    """A header value read into an `Assembled`: the `Node` protocol over it."""

    def __init__(self, depth: int) -> None:
        self._text = Assembled(depth)

    @property
    def segments(self) -> tuple[Segment, ...]:
        """Every value and name read."""
        return self._text.segments

    @property
    def uninspectable(self) -> tuple[str, ...]:
        """What nested documents could not read (nothing, as they are text)."""
        return self._text.uninspectable

    def render(self, replacements: Mapping[str, str]) -> str:
        """The value with the replaced pieces written anew."""
        return self._text.render(replacements)


def _spaced(text: Assembled, piece: str) -> str:
    """Write `piece`'s leading and trailing whitespace as literals; return what is between."""
    core = piece.strip(" \t")
    if not core:
        text.literal(piece)
        return ""
    start = piece.index(core)
    text.literal(piece[:start])
    return core


def _trailing(text: Assembled, piece: str, core: str) -> None:
    text.literal(piece[piece.index(core) + len(core) :])


def split_outside_quotes(text: str, separator: str) -> list[str]:
    """`text` split at `separator`, except inside double-quoted strings (backslash escapes)."""
    pieces: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            pieces.append("".join(current))
            current = []
            continue
        current.append(char)
    pieces.append("".join(current))
    return pieces


def _unquoted(core: str) -> tuple[str, str, str]:
    """(`"`, inner, `"`) for a quoted string, ("", core, "") otherwise."""
    if len(core) >= 2 and core[0] == core[-1] == '"':
        return '"', core[1:-1], '"'
    return "", core, ""


# --- which header is read how -------------------------------------------------------------------


class HeaderKind(Enum):
    """How a header's value is read."""

    SHAPE = "shape"
    TEXT = "text"
    COOKIE = "cookie"
    SET_COOKIE = "set-cookie"
    CREDENTIALS = "credentials"
    URL = "url"
    HOST = "host"
    LIST = "list"
    TAGS = "tags"
    KEY_VALUES = "key-values"
    PARAMS = "params"
    PRODUCTS = "products"


_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_TIME = r"\d\d:\d\d:\d\d"
# IMF-fixdate, the obsolete RFC 850 date and asctime (RFC 9110 section 5.6.7).
HTTP_DATE = (
    rf"{_DAY}, \d\d {_MONTH} \d{{4}} {_TIME} GMT"
    r"|(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
    rf", \d\d-{_MONTH}-\d\d {_TIME} GMT"
    rf"|{_DAY} {_MONTH} [ \d]\d {_TIME} \d{{4}}"
)
_N = rf"\d{{1,{SHAPE_MAX_DIGITS}}}"
_CODINGS = r"(?:chunked|gzip|x-gzip|deflate|compress|x-compress|identity|br|zstd)"
_CACHE_DIRECTIVE = (
    r"(?:no-cache|no-store|no-transform|only-if-cached|must-revalidate|proxy-revalidate"
    r"|must-understand|private|public|immutable"
    rf"|(?:max-age|s-maxage|min-fresh|stale-while-revalidate|stale-if-error)={_N}"
    rf"|max-stale(?:={_N})?)"
)
_METHODS = r"(?:GET|HEAD|POST|PUT|DELETE|CONNECT|OPTIONS|TRACE|PATCH)"
_SEC_FETCH_DEST = (
    r"(?:audio|audioworklet|document|embed|empty|fencedframe|font|frame|iframe|image|json"
    r"|manifest|object|paintworklet|report|script|serviceworker|sharedworker|style|track"
    r"|video|webidentity|worker|xslt)"
)


# The brands of User-Agent client hints: browsers, and the deliberately odd "Not A Brand".
_BRAND = (
    r"(?:Chromium|Google Chrome|Microsoft Edge|Opera|Opera GX|Brave|Vivaldi|Yandex|HeadlessChrome"
    r"|Samsung Internet|Not[^\"A-Za-z]{1,2}A[^\"A-Za-z]{1,2}Brand)"
)


def _listed(item: str) -> str:
    """A regex for a comma-separated list of `item`s, optional whitespace around commas."""
    return rf"{item}(?:[ \t]*,[ \t]*{item})*"


# The protocol headers checked for shape instead of inspected, by lower-case name: a value that
# matches (case-insensitively, whole) carries only protocol information. `:path` and
# `:authority` are read as a URL and a host instead.
SHAPES: Mapping[str, str] = {
    "content-length": r"\d+",
    "transfer-encoding": _listed(_CODINGS),
    "content-encoding": _listed(_CODINGS),
    "te": _listed(r"(?:trailers|chunked|gzip|deflate|compress|identity)(?:;q=[01](?:\.\d{1,3})?)?"),
    "connection": _listed(r"(?:close|keep-alive|upgrade|te|http2-settings)"),
    "keep-alive": _listed(rf"(?:timeout|max)={_N}"),
    "upgrade": _listed(r"(?:websocket|h2c|HTTP/2\.0|TLS/1\.[0-3])"),
    "date": HTTP_DATE,
    "if-modified-since": HTTP_DATE,
    "if-unmodified-since": HTTP_DATE,
    "last-modified": HTTP_DATE,
    "expires": rf"{HTTP_DATE}|0|-1",
    "retry-after": rf"{HTTP_DATE}|{_N}",
    "if-range": HTTP_DATE,
    "range": rf"bytes=[ \t]*{_listed(rf'(?:{_N}-(?:{_N})?|-{_N})')}",
    "content-range": rf"bytes (?:{_N}-{_N}|\*)/(?:{_N}|\*)",
    "cache-control": _listed(_CACHE_DIRECTIVE),
    "pragma": r"no-cache",
    "expect": r"100-continue",
    "max-forwards": _N,
    "age": _N,
    "accept-ranges": r"bytes|none",
    "upgrade-insecure-requests": r"1",
    "dnt": r"[01]",
    "sec-gpc": r"1",
    "priority": r"u=[0-7](?:[ \t]*,[ \t]*i(?:=\?[01])?)?|i(?:=\?[01])?(?:[ \t]*,[ \t]*u=[0-7])?",
    "sec-fetch-dest": _SEC_FETCH_DEST,
    "sec-fetch-mode": r"cors|navigate|no-cors|same-origin|websocket",
    "sec-fetch-site": r"cross-site|same-origin|same-site|none",
    "sec-fetch-user": r"\?[01]",
    "sec-websocket-version": r"\d{1,2}",
    "sec-websocket-key": r"[A-Za-z0-9+/]{22}==",
    "sec-websocket-accept": r"[A-Za-z0-9+/]{27}=",
    "sec-ch-ua": _listed(rf'"{_BRAND}";v="\d{{1,4}}(?:\.\d{{1,4}}){{0,3}}"'),
    "sec-ch-ua-full-version-list": _listed(rf'"{_BRAND}";v="\d{{1,4}}(?:\.\d{{1,4}}){{0,3}}"'),
    "sec-ch-ua-mobile": r"\?[01]",
    "sec-ch-ua-platform": r'"(?:Android|Chrome OS|Chromium OS|iOS|Linux|macOS|Windows|Unknown)?"',
    ":method": _METHODS,
    ":scheme": r"https?",
}
_SHAPES = {name: re.compile(rf"(?:{pattern})", re.IGNORECASE) for name, pattern in SHAPES.items()}

_KINDS: Mapping[str, HeaderKind] = {
    **dict.fromkeys(SHAPES, HeaderKind.SHAPE),
    "cookie": HeaderKind.COOKIE,
    "set-cookie": HeaderKind.SET_COOKIE,
    "authorization": HeaderKind.CREDENTIALS,
    "proxy-authorization": HeaderKind.CREDENTIALS,
    **dict.fromkeys(("referer", "origin", "location", "content-location", ":path"), HeaderKind.URL),
    "host": HeaderKind.HOST,
    ":authority": HeaderKind.HOST,
    **dict.fromkeys(
        (
            "x-forwarded-for",
            "x-forwarded-host",
            "x-forwarded-proto",
            "forwarded",
            "via",
            "accept",
            "accept-charset",
            "accept-encoding",
            "accept-language",
            "content-language",
        ),
        HeaderKind.LIST,
    ),
    **dict.fromkeys(("if-match", "if-none-match", "etag"), HeaderKind.TAGS),
    "tracestate": HeaderKind.KEY_VALUES,
    "baggage": HeaderKind.KEY_VALUES,
    "content-type": HeaderKind.PARAMS,
    "content-disposition": HeaderKind.PARAMS,
    "user-agent": HeaderKind.PRODUCTS,
    "server": HeaderKind.PRODUCTS,
}

# Headers no value of which may be rewritten: credentials (a changed one is useless), where the
# request goes, how the body is parsed; a finding there that a rule would redact blocks. So do
# the shape-checked headers whose value failed its shape.
UNREWRITABLE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "host", ":authority", ":path", "content-type"}
)

# Registered header names: a header so named says nothing by its name. Any other name is
# inspected as a name (`header:x-219099999#name`), and can never be rewritten.
KNOWN_HEADERS = frozenset(
    {
        *_KINDS,
        "access-control-allow-credentials",
        "access-control-allow-headers",
        "access-control-allow-methods",
        "access-control-allow-origin",
        "access-control-expose-headers",
        "access-control-max-age",
        "access-control-request-headers",
        "access-control-request-method",
        "allow",
        "alt-svc",
        "content-md5",
        "content-security-policy",
        "cross-origin-embedder-policy",
        "cross-origin-opener-policy",
        "cross-origin-resource-policy",
        "digest",
        "early-data",
        "from",
        "link",
        "origin-agent-cluster",
        "permissions-policy",
        "proxy-authenticate",
        "proxy-connection",
        "referrer-policy",
        "sec-ch-ua",
        "sec-ch-ua-mobile",
        "sec-ch-ua-platform",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
        "server",
        "server-timing",
        "strict-transport-security",
        "timing-allow-origin",
        "traceparent",
        "trailer",
        "user-agent",
        "vary",
        "warning",
        "www-authenticate",
        "x-content-type-options",
        "x-forwarded-port",
        "x-frame-options",
        "x-real-ip",
        "x-request-id",
        "x-requested-with",
        "x-xss-protection",
        ":status",
    }
)


def header_kind(name: str) -> HeaderKind:
    """How the header `name` (lower case) is read."""
    return _KINDS.get(name, HeaderKind.TEXT)


def shape_holds(name: str, value: str) -> bool:
    """True when the shape-checked header `name` (lower case) has a value of its shape."""
    shape = _SHAPES.get(name)
    return shape is not None and shape.fullmatch(value.strip(" \t")) is not None


# WebSocket nonces are 16 random bytes (the accept value a SHA-1): random bytes hold no run of
# this many printable characters but by chance (about 3 in 100 keys); text put there does.
_PRINTABLE_RUN = re.compile(rb"[\x20-\x7e]{6,}")


def nonce_text(name: str, value: str) -> str | None:
    """The bytes of a WebSocket nonce of the right shape as text, when they hold text.

    `None` when they hold none, or the header is no nonce: then `shape_holds` decides.
    """
    if name not in ("sec-websocket-key", "sec-websocket-accept") or not shape_holds(name, value):
        return None
    raw = base64.b64decode(value.strip(" \t"))
    return raw.decode("latin-1") if _PRINTABLE_RUN.search(raw) else None


# --- cookies ------------------------------------------------------------------------------------

# What a cookie value may hold unescaped (RFC 6265 cookie-octet), and a name (an HTTP token).
_COOKIE_ESCAPE = escaper(r"^\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e")
_TOKEN_ESCAPE = escaper(r"^A-Za-z0-9!#$%&'*+.^_`|~-")
# Set-Cookie attributes by lower-case name, with the shape of a value kept as it is (None: the
# value is always read: a domain or path is the server's to choose, and can hold anything).
_SET_COOKIE_ATTRIBUTES: Mapping[str, re.Pattern[str] | None] = {
    "expires": re.compile(HTTP_DATE, re.IGNORECASE),
    "max-age": re.compile(rf"-?{_N}"),
    "samesite": re.compile(r"strict|lax|none", re.IGNORECASE),
    "priority": re.compile(r"low|medium|high", re.IGNORECASE),
    "secure": re.compile(""),
    "httponly": re.compile(""),
    "partitioned": re.compile(""),
    "domain": None,
    "path": None,
}


@dataclass(frozen=True)
class _Pair:
    """One `name=value` of a list, every character kept.

    The space before, the name, what joins it to the value (`=` and any space around it; empty
    when there is no `=`), the value, the space after.
    """

    lead: str
    name: str
    equals: str
    value: str
    trail: str


def _pairs(pieces: list[str], bare_is_value: bool) -> list[_Pair]:
    """Each piece as a pair; one with no `=` is a bare value (`bare_is_value`) or a bare name."""
    out = []
    for piece in pieces:
        core = piece.strip(" \t")
        start = piece.index(core) if core else len(piece)
        lead, trail = piece[:start], piece[start + len(core) :]
        head, equals, tail = core.partition("=")
        if not equals:
            name, value = ("", core) if bare_is_value else (core, "")
            out.append(_Pair(lead, name, "", value, trail))
            continue
        name, value = head.rstrip(" \t"), tail.lstrip(" \t")
        joint = head[len(name) :] + "=" + tail[: len(tail) - len(value)]
        out.append(_Pair(lead, name, joint, value, trail))
    return out


class CookieNode(_AssembledNode):
    """A `Cookie` header (`a=b; c=d`), or a `Set-Cookie` header (`response`: attributes follow).

    Each value is `cookie:<name>` (its field too), each name `cookie:<name>#name`; a value that
    is a JWT is read as one (`cookie:sid>jwt:payload>$.sub`). A changed value is written with
    what a cookie cannot hold percent-encoded; the server then has a different cookie (a
    session it no longer knows). A Set-Cookie attribute of its known shape is kept as it is;
    others are read as `attr:<name>` (and `attr:<name>#name` for unknown attributes).
    """

    def __init__(self, value: str, depth: int = 0, *, response: bool = False) -> None:
        super().__init__(depth)
        pieces = value.split(";")
        cookies = _pairs(pieces[:1] if response else pieces, bare_is_value=True)
        locations = unique_locations("cookie:", (p.name for p in cookies))
        for i, (location, pair) in enumerate(zip(locations, cookies, strict=True)):
            self._text.literal(";" if i else "")
            self._cookie(location, pair, depth)
        if response:
            self._attributes(_pairs(pieces[1:], bare_is_value=False))

    def _cookie(self, location: str, pair: _Pair, depth: int) -> None:
        text = self._text
        field = "cookie:" + location_name(pair.name)
        text.literal(pair.lead)
        if pair.name:
            text.name(
                name_location(location),
                pair.name,
                field=name_location(field),
                escape=_TOKEN_ESCAPE,
            )
        text.literal(pair.equals)
        opening, inner, closing = _unquoted(pair.value)
        text.literal(opening)
        jwt = JwtNode.read(inner, depth + 1)
        if jwt is not None:
            text.child(location, jwt, inner, field=field)
        else:
            context = context_words(pair.name) or ("cookie",)
            text.value(location, inner, field=field, context=context, escape=_COOKIE_ESCAPE)
        text.literal(closing + pair.trail)

    def _attributes(self, attributes: list[_Pair]) -> None:
        text = self._text
        names = [a.name.lower() for a in attributes]
        for location, attribute in zip(unique_locations("attr:", names), attributes, strict=True):
            text.literal(";" + attribute.lead)
            lower = attribute.name.lower()
            field = "attr:" + location_name(lower)
            if lower in _SET_COOKIE_ATTRIBUTES:
                text.literal(attribute.name)
            else:
                text.name(
                    name_location(location),
                    attribute.name,
                    field=name_location(field),
                    escape=_TOKEN_ESCAPE,
                )
            text.literal(attribute.equals)
            shape = _SET_COOKIE_ATTRIBUTES.get(lower)
            if shape is not None and shape.fullmatch(attribute.value):
                text.literal(attribute.value)
            else:
                context = context_words(attribute.name)
                escape = _COOKIE_ESCAPE
                text.value(location, attribute.value, field=field, context=context, escape=escape)
            text.literal(attribute.trail)


# --- credentials and tokens ---------------------------------------------------------------------

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)( +)(.*)", re.DOTALL)
# Authentication schemes whose credentials follow them (IANA's registry and common others). A
# value that starts with another word is read whole as text.
KNOWN_SCHEMES = frozenset(
    {
        "basic",
        "bearer",
        "digest",
        "dpop",
        "hoba",
        "mutual",
        "negotiate",
        "ntlm",
        "privatetoken",
        "concealed",
        "scram-sha-1",
        "scram-sha-256",
        "vapid",
        "aws4-hmac-sha256",
        "token",
        "apikey",
        "sharedkey",
        "signature",
        "gnap",
    }
)


def credentials_node(value: str, depth: int = 0) -> Node | None:
    """The document of an `Authorization` value, read after its scheme.

    Basic credentials decoded, a JWT read, other credentials as `credentials`; `None` when the
    value is to be read whole as text (no known scheme). Nothing in it is rewritable.
    """
    match = _SCHEME.fullmatch(value)
    if match is None or match[1].lower() not in KNOWN_SCHEMES:
        return None
    lead, credentials = match[1] + match[2], match[3]
    if match[1].lower() == "basic":
        found = BasicNode.read(credentials, depth, lead=lead)
    else:
        found = JwtNode.read(credentials, depth, lead=lead)
    return found or CredentialsNode(lead, credentials, depth)


class CredentialsNode(_AssembledNode):
    """Credentials after their scheme (`Token 219099999`): `credentials`, text, not rewritable."""

    def __init__(self, lead: str, credentials: str, depth: int = 0) -> None:
        super().__init__(depth)
        self._text.literal(lead)
        context = ("authorization", "credentials")
        self._text.value(
            "credentials", credentials, field="credentials", context=context, rewritable=False
        )


def _b64decode(text: str, urlsafe: bool) -> bytes | None:
    body = text.rstrip("=")
    alphabet = r"[A-Za-z0-9_-]*" if urlsafe else r"[A-Za-z0-9+/]*"
    if not re.fullmatch(alphabet, body) or len(body) % 4 == 1:
        return None
    try:
        padded = body + "=" * (-len(body) % 4)
        return base64.b64decode(padded, altchars=b"-_" if urlsafe else None, validate=True)
    except (binascii.Error, ValueError):
        return None


def _as_text(raw: bytes) -> str:
    """UTF-8, or Latin-1 when not (every byte a character, so nothing is lost)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


class BasicNode(_AssembledNode):
    """`Basic` credentials: base64 of `user:password`, read as `basic:user` and `basic:password`.

    Nothing in it is rewritable (a changed credential is useless): a replacement is a
    `KeyError`.
    """

    def __init__(self, lead: str, decoded: str, padded: bool, depth: int) -> None:
        super().__init__(depth)
        self._lead, self._padded = lead, padded
        user, colon, password = decoded.partition(":")
        text = self._text
        text.value(
            "basic:user", user, field="basic:user", context=("user", "username"), rewritable=False
        )
        text.literal(colon)
        text.value(
            "basic:password",
            password,
            field="basic:password",
            context=("password",),
            rewritable=False,
        )

    @classmethod
    def read(cls, credentials: str, depth: int, *, lead: str = "") -> Node | None:
        """The node, or `None` when `credentials` is not base64 (then it is read as text)."""
        token = credentials.strip(" \t")
        raw = _b64decode(token, urlsafe=False)
        if raw is None or token != credentials:
            return None
        return cls(lead, _as_text(raw), token.endswith("="), depth)

    def render(self, replacements: Mapping[str, str]) -> str:
        """The credentials base64-encoded again, after the scheme."""
        encoded = base64.b64encode(self._text.render(replacements).encode("utf-8")).decode()
        return self._lead + (encoded if self._padded else encoded.rstrip("="))


_JWT = re.compile(r"([A-Za-z0-9_-]{4,})\.([A-Za-z0-9_-]*)\.([A-Za-z0-9_-]*)")
# Claims that are times (RFC 7519 NumericDate, OpenID Connect's auth_time and updated_at): a
# value of ten digits, a second between 2001 and 2096, is that time, not an identifier (read as
# text, every token's `iat` is a phone number). Any other value of theirs is read.
_TIME_CLAIMS = frozenset({"$.exp", "$.nbf", "$.iat", "$.auth_time", "$.updated_at"})
_NUMERIC_DATE = re.compile(r"[1-3]\d{9}")


class JwtNode:
    """A JSON Web Token (`header.payload.signature`, base64url), read part by part.

    `jwt:header>$.alg`, `jwt:payload>$.sub` (claims read as JSON, names too), and
    `jwt:signature` as text.

    Read whether or not it is signed (`alg: none` too). Nothing in it is rewritable: a signed
    token changed is a forged one. `render` encodes changed parts again all the same.
    """

    uninspectable: tuple[str, ...] = ()

    def __init__(self, lead: str, parts: list[str], header: Node, payload: Node, depth: int):
        self._lead, self._parts, self._nodes = lead, parts, (header, payload)
        signature = Nest(depth)
        if parts[2]:
            signature.value("jwt:signature", parts[2], field="jwt:signature", rewritable=False)
        claims = [s for s in payload.segments if not _is_time(s)]
        self.segments = tuple(
            [
                *(_under("jwt:header", s) for s in header.segments),
                *(_under("jwt:payload", s) for s in claims),
                *signature.segments,
            ]
        )

    @classmethod
    def read(cls, token: str, depth: int, *, lead: str = "") -> JwtNode | None:
        """The token read, or `None` when `token` is not a JWT whose parts decode."""
        match = _JWT.fullmatch(token)
        if match is None:
            return None
        parts = [match[1], match[2], match[3]]
        header = _b64_json(parts[0])
        raw_payload = _b64decode(parts[1], urlsafe=True)
        if not isinstance(header, dict) or "alg" not in header or raw_payload is None:
            return None
        payload = _b64_json(parts[1])
        inner: Node = (
            JsonNode(payload, (), depth + 1)
            if isinstance(payload, dict | list)
            else TextNode(_as_text(raw_payload))
        )
        return cls(lead, parts, JsonNode(header, (), depth + 1), inner, depth)

    def render(self, replacements: Mapping[str, str]) -> str:
        """The token with changed parts encoded again; the signature as it was."""
        inner: dict[str, dict[str, str]] = {"jwt:header": {}, "jwt:payload": {}}
        for location, text in replacements.items():
            head, sep, rest = location.partition(SEP)
            if head not in inner or not sep:
                raise KeyError("a JWT's signature cannot be replaced")
            inner[head][rest] = text
        parts = list(self._parts)
        for i, (node, wanted) in enumerate(zip(self._nodes, inner.values(), strict=True)):
            if wanted:
                encoded = base64.urlsafe_b64encode(node.render(wanted).encode("utf-8"))
                parts[i] = encoded.decode("ascii").rstrip("=")
        return self._lead + ".".join(parts)


def _is_time(claim: Segment) -> bool:
    return claim.location in _TIME_CLAIMS and _NUMERIC_DATE.fullmatch(claim.text) is not None


def _under(head: str, segment: Segment) -> Segment:
    return Segment(
        head + SEP + segment.location,
        segment.text,
        segment.context,
        head + SEP + segment.field,
        False,
    )


def _b64_json(part: str) -> Any:
    raw = _b64decode(part, urlsafe=True)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None


# --- lists, key=value lists and parameters ------------------------------------------------------

_LIST_ESCAPE = escaper(r',;"\\\x00-\x1f\x7f')
_PARAM_ESCAPE = escaper(r',;="\\\s\x00-\x1f\x7f')


class ListNode(_AssembledNode):
    """A comma-separated list: each element `item:<i>` (its field too), read as text.

    `tags` reads entity tags (`W/"xyz"`): the text between the quotes. A quoted element is
    read without its quotes.
    """

    def __init__(
        self,
        value: str,
        depth: int = 0,
        *,
        context: tuple[str, ...] = (),
        rewritable: bool = True,
        tags: bool = False,
    ) -> None:
        super().__init__(depth)
        for i, piece in enumerate(split_outside_quotes(value, ",")):
            self._text.literal("," if i else "")
            core = _spaced(self._text, piece)
            if not core:
                continue
            weak = "W/" if tags and core.startswith("W/") else ""
            opening, inner, closing = _unquoted(core[len(weak) :])
            self._text.literal(weak + opening)
            location = f"item:{i}"
            self._text.value(
                location,
                inner,
                field=location,
                context=context,
                escape=_LIST_ESCAPE,
                rewritable=rewritable,
            )
            self._text.literal(closing)
            _trailing(self._text, piece, core)


class KeyValuesNode(_AssembledNode):
    """A comma-separated `key=value` list (`tracestate`, `baggage`).

    `key:<key>` for each value (its field too), `key:<key>#name` for each key; an element with
    no `=` is a value `key:`.

    Values are percent-decoded when they are percent-encoded (`baggage`).
    """

    def __init__(self, value: str, depth: int = 0, *, rewritable: bool = True) -> None:
        super().__init__(depth)
        pairs = _pairs(split_outside_quotes(value, ","), bare_is_value=True)
        for i, (location, pair) in enumerate(
            zip(unique_locations("key:", (p.name for p in pairs)), pairs, strict=True)
        ):
            text = self._text
            field = "key:" + location_name(pair.name)
            text.literal(("," if i else "") + pair.lead)
            if pair.name:
                text.name(
                    name_location(location),
                    pair.name,
                    field=name_location(field),
                    escape=_PARAM_ESCAPE,
                    rewritable=rewritable,
                )
            text.literal(pair.equals)
            text.value(
                location,
                pair.value,
                field=field,
                context=context_words(pair.name),
                escape=_PARAM_ESCAPE,
                rewritable=rewritable,
            )
            text.literal(pair.trail)


# Parameter names that say nothing by themselves: read as names only when not one of these.
_KNOWN_PARAMETERS = frozenset(
    {"charset", "boundary", "filename", "filename*", "name", "q", "version", "profile", "type"}
)


class ParamsNode(_AssembledNode):
    """A value with parameters (`Content-Type`, `Content-Disposition`).

    The leading token is `type`, each parameter value `param:<name>` (quotes removed), each
    parameter name that is not a common one `param:<name>#name`.
    """

    def __init__(self, value: str, depth: int = 0, *, rewritable: bool = True) -> None:
        super().__init__(depth)
        text = self._text
        pieces = split_outside_quotes(value, ";")
        core = _spaced(text, pieces[0])
        if core:
            text.value("type", core, field="type", context=("type",), rewritable=rewritable)
            _trailing(text, pieces[0], core)
        params = _pairs(pieces[1:], bare_is_value=False)
        names = [p.name.lower() for p in params]
        for location, pair in zip(unique_locations("param:", names), params, strict=True):
            lower = pair.name.lower()
            field = "param:" + location_name(lower)
            text.literal(";" + pair.lead)
            if lower in _KNOWN_PARAMETERS:
                text.literal(pair.name)
            else:
                text.name(
                    name_location(location),
                    pair.name,
                    field=name_location(field),
                    escape=_PARAM_ESCAPE,
                    rewritable=rewritable,
                )
            text.literal(pair.equals)
            opening, inner, closing = _unquoted(pair.value)
            text.literal(opening)
            text.value(
                location,
                inner,
                field=field,
                context=context_words(lower),
                escape=_PARAM_ESCAPE,
                rewritable=rewritable,
            )
            text.literal(closing + pair.trail)


# A product's version in a User-Agent (`Chrome/120.0.6099.109`): read as text it looks like an IP
# address, so one of this shape is kept as it is. Numbers laid out as an SSN or a phone number
# (`219.09.9999`, `212.555.0142`), or with more digits than a version has, are read.
_VERSION = re.compile(r"(?<=/)\d{1,4}(?:\.\d{1,4}){0,3}(?=[ \t;)]|$)")


def _plain_version(version: str) -> bool:
    lengths = [len(part) for part in version.split(".")]
    return sum(lengths) <= 12 and lengths[:3] not in ([3, 2, 4], [3, 3, 4])


class ProductsNode(_AssembledNode):
    """A product list (`User-Agent`, `Server`): the text between version numbers.

    `Mozilla/5.0 (X11; Linux) Chrome/120.0.0.0` is read as `text:0` (`Mozilla/`), `text:1`
    (` (X11; Linux) Chrome/`): the versions are kept as they are (see `_VERSION`), all the
    rest is text.
    """

    def __init__(self, value: str, depth: int = 0, *, context: tuple[str, ...] = ()) -> None:
        super().__init__(depth)
        start = count = 0
        stretches: list[tuple[str, bool]] = []
        for match in _VERSION.finditer(value):
            if _plain_version(match[0]):
                stretches += [(value[start : match.start()], True), (match[0], False)]
                start = match.end()
        stretches.append((value[start:], True))
        for text, read in stretches:
            if not read:
                self._text.literal(text)
                continue
            location = f"text:{count}"
            self._text.value(location, text, field="text", context=context)
            count += 1
