"""Named fields and the request line: forms, query strings, headers and the URL path."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from urllib.parse import parse_qsl, quote, urlencode

from dlp_proxy.core.codecs.values import (
    Nest,
    WordCache,
    context_words,
    location_name,
    requote,
    unique_locations,
    unquote_exact,
)

# Headers never inspected: transport and framing, content negotiation, caching, credentials
# and session state, browser and tracing metadata. Their values carry no customer data a
# vendor exchange puts there, or must reach the server exactly as sent. Cookies are among them:
# rewriting one breaks the session it belongs to. Names are matched lower-cased; a name ending
# in '*' matches every name it starts.
UNINSPECTED_HEADERS = frozenset(
    {
        "accept*",
        "access-control-*",
        "authorization",
        "cache-control",
        "connection",
        "content-encoding",
        "content-language",
        "content-length",
        "content-md5",
        "content-range",
        "content-type",
        "cookie",
        "date",
        "dnt",
        "expect",
        "forwarded",
        "host",
        "if-*",
        "keep-alive",
        "origin",
        "pragma",
        "priority",
        "proxy-*",
        "range",
        "sec-*",
        "set-cookie",
        "te",
        "traceparent",
        "tracestate",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "upgrade-insecure-requests",
        "user-agent",
        "via",
        "x-forwarded-*",
        "x-real-ip",
    }
)
_HEADER_PREFIXES = tuple(h[:-1] for h in UNINSPECTED_HEADERS if h.endswith("*"))
_HEADER_NAMES = frozenset(h for h in UNINSPECTED_HEADERS if not h.endswith("*"))
_LINE_BREAKS = re.compile(r"[\r\n\x00]")
# Characters a path segment may hold unescaped (RFC 3986 pchar less '%').
PATH_SAFE = "!$&'()*+,;=:@-._~"


def inspected_header(name: str) -> bool:
    """False for the headers in `UNINSPECTED_HEADERS` and HTTP/2 pseudo-headers."""
    lower = name.lower()
    return not (
        lower.startswith(":") or lower in _HEADER_NAMES or lower.startswith(_HEADER_PREFIXES)
    )


class _PairsDocument:
    """Ordered (name, value) pairs: each non-empty value a segment `<prefix><name>`.

    A repeated name is located `<prefix><name>[1]` ..., but every value of a name has the field
    `<prefix><name>`.
    """

    prefix = ""

    def __init__(self, pairs: Sequence[tuple[str, str]], depth: int = 0) -> None:
        self.pairs = tuple(pairs)
        self.locations = unique_locations(self.prefix, (name for name, _ in self.pairs))
        self._nest = Nest(depth)
        words = WordCache()
        for location, (name, value) in zip(self.locations, self.pairs, strict=True):
            if value:
                field = self.prefix + location_name(name)
                self._nest.value(location, value, words[name], field=field)
            else:
                self._nest.slot(location)
        self.segments = tuple(self._nest.segments)
        self.uninspectable = tuple(self._nest.uninspectable)

    def replaced_pairs(self, replacements: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
        """The pairs with replaced values swapped in, order kept."""
        changed = self._nest.resolve(replacements)
        return tuple(
            (name, changed.get(location, value))
            for location, (name, value) in zip(self.locations, self.pairs, strict=True)
        )


class FormDocument(_PairsDocument):
    """An `application/x-www-form-urlencoded` body: fields `form:<name>`."""

    prefix = "form:"

    def __init__(self, text: str, depth: int = 0) -> None:
        super().__init__(parse_qsl(text, keep_blank_values=True), depth)

    def rebuild(self, replacements: Mapping[str, str]) -> bytes:
        """Re-encode the form with the replaced values."""
        return urlencode(self.replaced_pairs(replacements), errors="replace").encode("ascii")


class QueryDocument(_PairsDocument):
    """The query parameters of a URL: `query:<name>`."""

    prefix = "query:"

    def rebuild(self, replacements: Mapping[str, str]) -> bytes:
        """The query string with replaced values, URL-encoded."""
        return urlencode(self.replaced_pairs(replacements), errors="replace").encode("ascii")


class HeadersDocument(_PairsDocument):
    """Request or response header fields: `header:<lower-case name>`, repeats `[1]` ...

    Headers in `UNINSPECTED_HEADERS` are no segments and are never changed (`pairs` holds the
    inspected ones, `all_pairs` every one). `replaced_pairs` gives every pair back in order;
    line breaks and NULs in a replacement become spaces, so a replacement can never start a
    header of its own.
    """

    prefix = "header:"

    def __init__(self, pairs: Sequence[tuple[str, str]], depth: int = 0) -> None:
        self.all_pairs = tuple(pairs)
        self._inspected = [
            i for i, (name, _) in enumerate(self.all_pairs) if inspected_header(name)
        ]
        super().__init__(
            [(self.all_pairs[i][0].lower(), self.all_pairs[i][1]) for i in self._inspected], depth
        )

    def replaced_pairs(self, replacements: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
        """Every header pair, names as given, the replaced values swapped in (one line each)."""
        pairs = list(self.all_pairs)
        for i, (_, value) in zip(
            self._inspected, super().replaced_pairs(replacements), strict=True
        ):
            if value != pairs[i][1]:
                pairs[i] = (pairs[i][0], _LINE_BREAKS.sub(" ", value))
        return tuple(pairs)

    def rebuild(self, replacements: Mapping[str, str]) -> bytes:
        """The header block as HTTP/1.1 writes it, `name: value` CRLF, in UTF-8."""
        lines = (f"{name}: {value}\r\n" for name, value in self.replaced_pairs(replacements))
        return "".join(lines).encode("utf-8", "surrogateescape")


class PathDocument:
    """A URL path (without query): each non-empty segment, percent-decoded, is `path:<i>`.

    `i` counts the path's segments from 0 (`/a//b`: `a` is 0, `b` is 2); it is the field as
    well, a position in a path being what names its value. The previous
    segment's words are the context (`/customers/42` gives `42` the context `customers`).
    """

    uninspectable: tuple[str, ...] = ()

    def __init__(self, path: str, depth: int = 0) -> None:
        path = path.partition("?")[0].partition("#")[0]
        self._lead = "/" if path.startswith("/") else ""
        self._parts = path[len(self._lead) :].split("/")
        self._decoded = [unquote_exact(p) if "%" in p else p for p in self._parts]
        self._nest = Nest(depth)
        previous = ""
        for i, (part, decoded) in enumerate(zip(self._parts, self._decoded, strict=True)):
            text = part if decoded is None else decoded
            if text:
                location = f"path:{i}"
                self._nest.value(location, text, context_words(previous), field=location)
                previous = text
        self.segments = tuple(self._nest.segments)

    def replaced_path(self, replacements: Mapping[str, str]) -> str:
        """The path with replaced segments percent-encoded; the others exactly as they were."""
        parts = list(self._parts)
        for location, text in self._nest.resolve(replacements).items():
            i = int(location.removeprefix("path:"))
            decoded = self._decoded[i]
            if decoded is None:  # the segment was not cleanly encoded: encode the new text whole
                parts[i] = quote(text, safe=PATH_SAFE, errors="replace")
            else:
                parts[i] = requote(parts[i], decoded, text, PATH_SAFE)
        return self._lead + "/".join(parts)

    def rebuild(self, replacements: Mapping[str, str]) -> bytes:
        """`replaced_path` as bytes (UTF-8; a path as sent on the wire is ASCII)."""
        return self.replaced_path(replacements).encode("utf-8", "surrogateescape")
