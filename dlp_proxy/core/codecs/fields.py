"""Named fields and the request line: forms, query strings, the URL path, hosts, URLs, headers.

Every byte of these is read as the vendor reads it, names included:

    form, query   form:<name> (value), form:<name>#name (name); query:<name>, query:<name>#name.
                  A piece with no `=` (`?219099999`, `?a&b`) is a name with no value. Names are
                  rewritable: a rebuilt query or form renames the parameter.
    path          path:<i> for each segment (percent-decoded), and for matrix parameters
                  (`/a;ssn=1`) path:<i>;<name> and path:<i>;<name>#name. A fragment (`#...`,
                  which no client should send) is `fragment`, never rewritable.
    host          host:<i> for each DNS label (or IPv6 group), `port` if it is no port number.
                  Never rewritable: a changed host is another destination.
    URL           in a header value (Referer ...): scheme (unless a common one),
                  userinfo:user, userinfo:password, host:<i>, path:<i>, query:<name>, fragment.
    headers       header:<name> for each value (read as `headers` says), header:<name>#name for
                  each name that is no registered header name (never rewritable).

Rebuilding keeps every piece that did not change exactly as it came and writes a changed one in
its syntax (percent-encoding what would end it). The `logged_*` methods give what a log may
show: the path and query with every piece that holds a finding replaced by `<ENTITY>`, query and
matrix values left out, bare query pieces as `<v>`, and never the fragment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from urllib.parse import unquote

from dlp_proxy.core.codecs.headers import (
    KNOWN_HEADERS,
    SHAPES,
    UNREWRITABLE_HEADERS,
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
)
from dlp_proxy.core.codecs.values import (
    Nest,
    Node,
    WordCache,
    context_words,
    location_name,
    name_location,
    requote,
    unique_locations,
    unquote_exact,
)
from dlp_proxy.detection.detector import Segment

_LINE_BREAKS = re.compile(r"[\r\n\x00]")
# Characters a path segment may hold unescaped (RFC 3986 pchar less '%').
PATH_SAFE = "!$&'()*+,;=:@-._~"
# What a changed path segment, matrix parameter name or value keeps unescaped: no ';' (it would
# start a parameter), no '=' in a name.
_HEAD_SAFE = PATH_SAFE.replace(";", "")
_PARAM_NAME_SAFE = _HEAD_SAFE.replace("=", "")
# What a changed query or form name or value keeps unescaped: RFC 3986 query characters less
# those form decoding reads as syntax ('&', '=', '+', and ';' for servers that split on it).
QUERY_SAFE = "!$'()*,/:?@-._~"
# How a log writes a query piece with no `=` (it may be the value itself, `?219099999`).
BARE_PIECE = "<v>"
# Schemes a URL's scheme is not inspected for.
_SCHEMES = frozenset({"http", "https", "ws", "wss", "ftp", "file", "mailto", "data", "about"})
_PORT = re.compile(r"\d{1,5}")
_HOST_ESCAPE = escaper(r"^A-Za-z0-9-")
_FRAGMENT_ESCAPE = escaper(r"^A-Za-z0-9!$&'()*+,;=:@/?._~-")


def split_target(target: str) -> tuple[str, str | None, str | None]:
    """A request target's path, query (after the first `?`) and fragment (after the first `#`).

    A `#` before any `?` starts the fragment: `/a#f?x=1` has no query, and `f?x=1` is the
    fragment. `None` when there is no `?` or `#` at all.
    """
    hash_at, question_at = target.find("#"), target.find("?")
    if hash_at != -1 and (question_at == -1 or hash_at < question_at):
        return target[:hash_at], None, target[hash_at + 1 :]
    if question_at == -1:
        return target, None, None
    query, sep, fragment = target[question_at + 1 :].partition("#")
    return target[:question_at], query, fragment if sep else None


# --- forms and query strings --------------------------------------------------------------------


def _form_unquote(raw: str) -> str:
    """Form decoding as `parse_qsl` (and mitmproxy) does it: `+` a space, non-UTF-8 surrogates."""
    return unquote(raw.replace("+", " "), errors="surrogateescape")


def _query_escape(text: str) -> str:
    """`text` as a form encodes it: spaces `+`, what is not `QUERY_SAFE` percent-encoded."""
    return percent_encode(text, QUERY_SAFE).replace("%20", "+")


class _FormRequote:
    """Writes a new form name or value the way `raw` was written (see `values.requote`).

    What did not change around the changed stretch is copied byte for byte; spaces are `+`
    unless `raw` wrote them `%20`. A `raw` that is not cleanly encoded is encoded anew whole.
    """

    def __init__(self, raw: str, decoded: str) -> None:
        spaced = raw.replace("+", "%20")
        clean = "%" not in spaced or unquote_exact(spaced) == decoded
        self._raw, self._decoded = (spaced, decoded) if clean else ("", "")
        self._plus = "%20" not in raw

    def __call__(self, new: str) -> str:
        if not self._raw and not self._decoded:
            return _query_escape(new)
        text = requote(self._raw, self._decoded, new)
        return text.replace("%20", "+") if self._plus else text


class _EncodedPairs:
    """`name=value` pieces joined by `&` (a form body, a query string), every byte kept.

    A value is located `<prefix><name>` (repeats `[1]` ...), its name `<prefix><name>#name`; a
    piece with no `=` is a name with no value; an empty piece (`a&&b`) is kept and is nothing.
    """

    prefix = ""

    def __init__(self, text: str, depth: int = 0) -> None:
        self._text = Assembled(depth)
        record_pairs(self._text, text, self.prefix)
        self._pieces = _pieces(text)
        self.locations = unique_locations(self.prefix, (name for name, _ in self._pieces))
        self.segments: tuple[Segment, ...] = self._text.segments
        self.uninspectable: tuple[str, ...] = self._text.uninspectable

    @property
    def pairs(self) -> tuple[tuple[str, str], ...]:
        """Each piece as (name, value) as `parse_qsl(keep_blank_values=True)` reads it."""
        return tuple((name, value or "") for name, value in self._pieces)

    def replaced_pairs(self, replacements: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
        """The pairs with replaced names and values swapped in, order kept."""
        changed = self._text.resolve(replacements)
        return tuple(
            (changed.get(name_location(location), name), changed.get(location, value or ""))
            for location, (name, value) in zip(self.locations, self._pieces, strict=True)
        )

    def render(self, replacements: Mapping[str, str]) -> str:
        """The text with each replaced name or value percent-encoded in place, the rest as sent."""
        return self._text.render(replacements)


def _pieces(text: str) -> list[tuple[str, str | None]]:
    """(name, value) of each non-empty piece, decoded; value `None` when there is no `=`."""
    out: list[tuple[str, str | None]] = []
    for piece in text.split("&"):
        if piece:
            name, equals, value = piece.partition("=")
            out.append((_form_unquote(name), _form_unquote(value) if equals else None))
    return out


def record_pairs(text: Assembled, raw: str, prefix: str, *, rewritable: bool = True) -> None:
    """Record the `&`-joined pieces of `raw` into `text` (see `_EncodedPairs`)."""
    pieces = raw.split("&")
    names = [_form_unquote(p.partition("=")[0]) for p in pieces if p]
    locations = iter(unique_locations(prefix, names))
    words = WordCache()
    for i, piece in enumerate(pieces):
        text.literal("&" if i else "")
        if not piece:
            continue
        location = next(locations)
        raw_name, equals, raw_value = piece.partition("=")
        name = _form_unquote(raw_name)
        field = prefix + location_name(name)
        text.name(
            name_location(location),
            name,
            raw_name,
            field=name_location(field),
            escape=_FormRequote(raw_name, name),
            rewritable=rewritable,
            logged=None if equals else BARE_PIECE,
        )
        if equals:
            text.literal("=")
            value = _form_unquote(raw_value)
            text.value(
                location,
                value,
                raw_value,
                field=field,
                context=words[name],
                escape=_FormRequote(raw_value, value),
                rewritable=rewritable,
                logged="",
            )


class FormDocument(_EncodedPairs):
    """An `application/x-www-form-urlencoded` body: fields `form:<name>`, names `#name`.

    `charset` is the body's: the rebuilt body is encoded in it again.
    """

    prefix = "form:"

    def __init__(self, text: str, depth: int = 0, charset: str = "utf-8") -> None:
        super().__init__(text, depth)
        self._charset = charset

    def rebuild(self, replacements: Mapping[str, str]) -> bytes:
        """The form with replaced names and values percent-encoded, the rest byte for byte."""
        return self.render(replacements).encode(self._charset, "surrogateescape")


class QueryDocument(_EncodedPairs):
    """The query string of a URL: `query:<name>`, names `query:<name>#name`.

    Made from the raw query string (`from_string`, every byte read) or from decoded pairs.
    """

    prefix = "query:"

    def __init__(
        self, pairs: Sequence[tuple[str, str]] = (), depth: int = 0, *, raw: str | None = None
    ) -> None:
        if raw is None:
            raw = "&".join(f"{_query_escape(n)}={_query_escape(v)}" for n, v in pairs)
        super().__init__(raw, depth)

    @classmethod
    def from_string(cls, query: str, depth: int = 0) -> QueryDocument:
        """The document for a raw query string (what follows `?`, without a fragment)."""
        return cls(depth=depth, raw=query)

    def rebuild(self, replacements: Mapping[str, str]) -> bytes:
        """The query string with replaced names and values percent-encoded, the rest as sent."""
        return self.render(replacements).encode("utf-8", "surrogateescape")

    def logged_query(self, marks: Mapping[str, str]) -> str:
        """`?` and the query as a log may show it; `""` when there is none.

        Names as sent, or `<ENTITY>` where a finding is (`marks` maps finding locations to
        entities); values left out; bare pieces `<v>`.
        """
        return "?" + self._text.logged(marks) if self._pieces else ""


# --- the path -----------------------------------------------------------------------------------


def _path_part(raw: str) -> tuple[str, str | None]:
    """(text, decoded-or-None) of a path piece: percent-decoded when cleanly encoded."""
    decoded = unquote_exact(raw) if "%" in raw else raw
    return (raw if decoded is None else decoded), decoded


class _Requote:
    """Writes a new path piece like `raw` was written (see `values.requote`)."""

    def __init__(self, raw: str, decoded: str | None, safe: str) -> None:
        self._raw, self._decoded, self._safe = raw, decoded, safe

    def __call__(self, new: str) -> str:
        if self._decoded is None:  # not cleanly encoded: encode the new text whole
            return percent_encode(new, self._safe)
        return requote(self._raw, self._decoded, new, self._safe)


def record_path(text: Assembled, path: str, *, rewritable: bool = True) -> None:
    """Record a path's segments and matrix parameters into `text` (see `PathDocument`)."""
    lead = "/" if path.startswith("/") else ""
    text.literal(lead)
    previous = ""
    for i, part in enumerate(path[len(lead) :].split("/")):
        text.literal("/" if i else "")
        head, *params = part.split(";")
        location = f"path:{i}"
        value, decoded = _path_part(head)
        text.value(
            location,
            value,
            head,
            field=location,
            context=context_words(previous),
            escape=_Requote(head, decoded, _HEAD_SAFE),
            rewritable=rewritable,
        )
        previous = value or previous
        _record_matrix(text, location, params, rewritable)


def _record_matrix(text: Assembled, segment: str, params: list[str], rewritable: bool) -> None:
    names = [_path_part(p.partition("=")[0])[0] for p in params]
    for location, param, name in zip(
        unique_locations(segment + ";", names), params, names, strict=True
    ):
        text.literal(";")
        raw_name, equals, raw_value = param.partition("=")
        _, decoded_name = _path_part(raw_name)
        text.name(
            name_location(location),
            name,
            raw_name,
            field=name_location(location),
            escape=_Requote(raw_name, decoded_name, _PARAM_NAME_SAFE),
            rewritable=rewritable,
            logged=None if equals else BARE_PIECE,
        )
        if equals:
            text.literal("=")
            value, decoded = _path_part(raw_value)
            text.value(
                location,
                value,
                raw_value,
                field=location,
                context=context_words(name),
                escape=_Requote(raw_value, decoded, _HEAD_SAFE),
                rewritable=rewritable,
                logged="",
            )


class PathDocument:
    """A URL path: each non-empty segment, percent-decoded, is `path:<i>` (its field too).

    `i` counts the path's segments from 0 (`/a//b`: `a` is 0, `b` is 2). The previous segment's
    words are the context (`/customers/42` gives `42` the context `customers`). Matrix
    parameters are `path:<i>;<name>` and `path:<i>;<name>#name`. A query is cut off; a fragment
    is read as `fragment` and cannot be rewritten (`replaced_path` leaves it out).
    """

    def __init__(self, path: str, depth: int = 0) -> None:
        path, _, fragment = split_target(path)
        self._text = Assembled(depth)
        record_path(self._text, path)
        if fragment:
            self._text.nest.value(
                "fragment", fragment, ("fragment",), field="fragment", rewritable=False
            )
        self.segments: tuple[Segment, ...] = self._text.segments
        self.uninspectable: tuple[str, ...] = self._text.uninspectable

    def replaced_path(self, replacements: Mapping[str, str]) -> str:
        """The path with replaced pieces percent-encoded; the others exactly as they were."""
        return self._text.render(replacements)

    def render(self, replacements: Mapping[str, str]) -> str:
        """`replaced_path` (the `Node` protocol)."""
        return self.replaced_path(replacements)

    def rebuild(self, replacements: Mapping[str, str]) -> bytes:
        """`replaced_path` as bytes (UTF-8; a path as sent on the wire is ASCII)."""
        return self.replaced_path(replacements).encode("utf-8", "surrogateescape")

    def logged_path(self, marks: Mapping[str, str]) -> str:
        """The path as a log may show it: findings as `<ENTITY>`, no matrix value, no fragment.

        Each segment or matrix parameter name holding a finding (`marks` maps finding locations
        to entities) is written `<ENTITY>`, percent-encoded.
        """
        return self._text.logged(marks)


def parse_target(target: str, depth: int = 0) -> tuple[PathDocument, QueryDocument]:
    """The documents of a request target as sent: path (with its fragment) and query.

    Every byte of it is in one of them: the query is what follows the first `?` up to a `#`.
    """
    _, query, _ = split_target(target)
    return PathDocument(target, depth), QueryDocument.from_string(query or "", depth)


# --- hosts and URLs -----------------------------------------------------------------------------


def record_host(text: Assembled, host: str, *, rewritable: bool) -> None:
    """Record a host (`name[:port]`, `[v6]:port` or a bare IPv6 address) into `text`."""
    port = ""
    if host.startswith("[") and "]" in host:
        inner, _, rest = host[1:].partition("]")
        text.literal("[")
        _record_labels(text, inner, ":", rewritable)
        text.literal("]")
        port = rest
    elif host.count(":") > 1:
        _record_labels(text, host, ":", rewritable)
    else:
        name, colon, number = host.partition(":")
        _record_labels(text, name, ".", rewritable)
        port = colon + number
    if port:  # `:443`, or whatever follows an IPv6 address's `]`
        colon = ":" if port.startswith(":") else ""
        text.literal(colon)
        number = port[len(colon) :]
        if colon and _PORT.fullmatch(number):
            text.literal(number)
        else:
            text.value("port", number, field="port", context=("port",), rewritable=rewritable)


def _record_labels(text: Assembled, name: str, separator: str, rewritable: bool) -> None:
    for i, label in enumerate(name.split(separator)):
        text.literal(separator if i else "")
        shown = label
        if label.lower().startswith("xn--"):
            try:
                shown = label[4:].encode("ascii").decode("punycode")
            except UnicodeError:
                shown = label
        location = f"host:{i}"
        text.value(
            location,
            shown,
            label,
            field=location,
            context=("host",),
            escape=_HOST_ESCAPE,
            rewritable=rewritable,
        )


class HostDocument:
    """A host name: each DNS label `host:<i>` (punycode decoded), never rewritable."""

    def __init__(self, host: str, depth: int = 0, *, rewritable: bool = False) -> None:
        self._text = Assembled(depth)
        record_host(self._text, host, rewritable=rewritable)
        self.segments: tuple[Segment, ...] = self._text.segments
        self.uninspectable: tuple[str, ...] = self._text.uninspectable

    def render(self, replacements: Mapping[str, str]) -> str:
        """The host with replaced labels (only when made rewritable)."""
        return self._text.render(replacements)


_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
# What changed userinfo keeps unescaped (RFC 3986 userinfo less ':').
_USERINFO_SAFE = "!$&'()*+,;=-._~"


class UrlNode:
    """A URL or a relative reference, as a header holds it (Referer, Origin, Location).

    `scheme` (when not a common one), `userinfo:user`, `userinfo:password`, `host:<i>`,
    `port`, `path:<i>` (matrix parameters too), `query:<name>` and `query:<name>#name`,
    `fragment`; what cannot be read as one of them is read as the path.
    """

    def __init__(self, url: str, depth: int = 0, *, rewritable: bool = True) -> None:
        text = self._text = Assembled(depth)
        rest = url
        scheme = _SCHEME.match(url)
        if scheme is not None:
            rest = url[scheme.end() :]
            if scheme[1].lower() in _SCHEMES:
                text.literal(scheme[0])
            else:
                text.value("scheme", scheme[1], field="scheme", rewritable=rewritable)
                text.literal(":")
        if rest.startswith("//"):
            text.literal("//")
            ends = [i for i in (rest.find(c, 2) for c in "/?#") if i != -1]
            end = min(ends, default=len(rest))
            self._authority(rest[2:end], rewritable)
            rest = rest[end:]
        path, query, fragment = split_target(rest)
        record_path(text, path, rewritable=rewritable)
        if query is not None:
            text.literal("?")
            record_pairs(text, query, "query:", rewritable=rewritable)
        if fragment is not None:
            text.literal("#")
            text.value(
                "fragment",
                fragment,
                field="fragment",
                context=("fragment",),
                escape=_FRAGMENT_ESCAPE,
                rewritable=rewritable,
            )
        self.segments: tuple[Segment, ...] = text.segments
        self.uninspectable: tuple[str, ...] = text.uninspectable

    def _authority(self, authority: str, rewritable: bool) -> None:
        text = self._text
        userinfo, at, host = authority.rpartition("@")
        if at:
            user, colon, password = userinfo.partition(":")
            self._userinfo("userinfo:user", user, ("user",), rewritable)
            text.literal(colon)
            self._userinfo("userinfo:password", password, ("password",), rewritable)
            text.literal("@")
        record_host(text, host, rewritable=rewritable)

    def _userinfo(
        self, location: str, raw: str, context: tuple[str, ...], rewritable: bool
    ) -> None:
        value, decoded = _path_part(raw)
        self._text.value(
            location,
            value,
            raw,
            field=location,
            context=context,
            escape=_Requote(raw, decoded, _USERINFO_SAFE),
            rewritable=rewritable,
        )

    def render(self, replacements: Mapping[str, str]) -> str:
        """The URL with replaced pieces written in place."""
        return self._text.render(replacements)


# --- headers ------------------------------------------------------------------------------------


class HeadersDocument:
    """Request or response header fields: `header:<lower-case name>`, repeats `[1]` ...

    Every header is read (see the table in `headers`): a protocol header whose value has its
    shape (`SHAPES`) gives no segment; every other value is read in its format, and a name that
    is not a registered header name is a segment too (`header:<name>#name`, never rewritable).
    `replaced_pairs` gives every pair back in order; line breaks and NULs in a replacement
    become spaces, so a replacement can never start a header of its own.
    """

    prefix = "header:"

    def __init__(self, pairs: Sequence[tuple[str, str]], depth: int = 0) -> None:
        self.pairs = tuple(pairs)
        self.locations = unique_locations(self.prefix, (name.lower() for name, _ in self.pairs))
        self._nest = Nest(depth)
        self._words = WordCache()
        for location, (name, value) in zip(self.locations, self.pairs, strict=True):
            lower = name.lower()
            field = self.prefix + location_name(lower)
            if lower not in KNOWN_HEADERS:
                self._nest.name(
                    name_location(location),
                    name,
                    field=name_location(field),
                    rewritable=False,
                )
            if value:
                self._read(location, field, lower, value, depth)
        self.segments: tuple[Segment, ...] = self._nest.segments
        self.uninspectable: tuple[str, ...] = tuple(self._nest.uninspectable)

    def _read(self, location: str, field: str, name: str, value: str, depth: int) -> None:
        kind = header_kind(name)
        rewritable = name not in UNREWRITABLE_HEADERS
        if kind is HeaderKind.SHAPE:
            held = nonce_text(name, value)
            if held is None and shape_holds(name, value):
                return  # protocol information only
            value, rewritable = (value if held is None else held), False
        node = self._node(kind, name, value, depth + 1, rewritable)
        if node is not None:
            self._nest.child(location, node, field=field)
        else:
            self._nest.value(location, value, self._words[name], field=field, rewritable=rewritable)

    def _node(
        self, kind: HeaderKind, name: str, value: str, depth: int, rewritable: bool
    ) -> Node | None:
        """The document a header value holds; `None` to read it as text."""
        context = self._words[name]
        if kind is HeaderKind.COOKIE or kind is HeaderKind.SET_COOKIE:
            return CookieNode(value, depth, response=kind is HeaderKind.SET_COOKIE)
        if kind is HeaderKind.CREDENTIALS:
            return credentials_node(value, depth)
        if kind is HeaderKind.URL:
            return UrlNode(value, depth, rewritable=rewritable)
        if kind is HeaderKind.HOST:
            return HostDocument(value, depth, rewritable=rewritable)
        if kind is HeaderKind.LIST or kind is HeaderKind.TAGS:
            tags = kind is HeaderKind.TAGS
            return ListNode(value, depth, context=context, rewritable=rewritable, tags=tags)
        if kind is HeaderKind.KEY_VALUES:
            return KeyValuesNode(value, depth, rewritable=rewritable)
        if kind is HeaderKind.PARAMS:
            return ParamsNode(value, depth, rewritable=rewritable)
        if kind is HeaderKind.PRODUCTS:
            return ProductsNode(value, depth, context=context)
        if kind is HeaderKind.TEXT:
            return JwtNode.read(value.strip(" \t"), depth) if value.count(".") == 2 else None
        return None

    def replaced_pairs(self, replacements: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
        """Every header pair, names as given, the replaced values swapped in (one line each)."""
        changed = self._nest.resolve(replacements)
        return tuple(
            (name, _LINE_BREAKS.sub(" ", changed[location]) if location in changed else value)
            for location, (name, value) in zip(self.locations, self.pairs, strict=True)
        )

    def rebuild(self, replacements: Mapping[str, str]) -> bytes:
        """The header block as HTTP/1.1 writes it, `name: value` CRLF, in UTF-8."""
        lines = (f"{name}: {value}\r\n" for name, value in self.replaced_pairs(replacements))
        return "".join(lines).encode("utf-8", "surrogateescape")


__all__ = [
    "BARE_PIECE",
    "PATH_SAFE",
    "QUERY_SAFE",
    "SHAPES",
    "FormDocument",
    "HeadersDocument",
    "HostDocument",
    "PathDocument",
    "QueryDocument",
    "UrlNode",
    "parse_target",
    "record_host",
    "record_pairs",
    "record_path",
    "split_target",
]
