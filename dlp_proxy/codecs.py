"""Content codecs: turn a body into text segments to inspect, and rebuild it after changes.

Each document knows its format. `segments` lists every piece of text worth inspecting, with a
location (a JSON path, a form field, a line) and context words (the field names). `rebuild`
takes replacement texts by location and returns a body of the same format and structure.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode

from dlp_proxy.errors import UndecodableBody

__all__ = [
    "Document",
    "Segment",
    "context_words",
    "parse_body",
    "parse_query",
]

# Integers with this many digits or more may be identifiers (account, card, phone numbers).
IDENTIFIER_DIGITS = 6
# Long text is inspected in chunks of about this many characters, cut at line ends.
TEXT_CHUNK_CHARS = 20_000

_Container = dict[str, Any] | list[Any]


@dataclass(frozen=True)
class Segment:
    """A piece of text to inspect: where it is, what it says, and the words around it."""

    location: str
    text: str
    context: tuple[str, ...] = ()


class Document(Protocol):
    """A parsed body: its segments, and a way to rebuild it with some segments replaced."""

    @property
    def segments(self) -> tuple[Segment, ...]: ...

    def rebuild(self, replacements: Mapping[str, str]) -> bytes:
        """The body with the text at each location in `replacements` swapped in."""
        ...


def context_words(name: str) -> tuple[str, ...]:
    """Words of a field name, as context: `cardNumber` -> (`cardnumber`, `card`, `number`)."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    words = [w.lower() for w in re.split(r"[^A-Za-z0-9]+", spaced) if w and not w.isdigit()]
    whole = name.lower()
    return tuple(dict.fromkeys([whole, *words])) if whole and not whole.isdigit() else tuple(words)


def parse_body(content_type: str, body: bytes) -> Document:
    """The document for a body of the given Content-Type; `UndecodableBody` if it cannot be read."""
    mime, charset = _media_type(content_type)
    if not body:
        return _EmptyDocument()
    if mime == "application/json" or mime.endswith("+json"):
        return JsonDocument(body)
    if mime == "application/x-www-form-urlencoded":
        return FormDocument(_decode(body, charset or "utf-8", mime))
    if mime.startswith("text/"):
        return TextDocument(body, charset or "utf-8")
    # Unknown or missing types are inspected as text when they are text, and refused otherwise.
    try:
        return TextDocument(body, charset or "utf-8")
    except UndecodableBody:
        raise UndecodableBody(
            f"cannot inspect a {mime or 'untyped'} body: it is not text in a supported format"
        ) from None


def parse_query(pairs: Sequence[tuple[str, str]]) -> QueryDocument:
    """The document for a URL's query parameters."""
    return QueryDocument(pairs)


def _media_type(content_type: str) -> tuple[str, str | None]:
    mime, _, params = content_type.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key.lower() == "charset" and value:
            charset = value.strip().strip('"').lower()
    return mime.strip().lower(), charset


def _decode(body: bytes, charset: str, what: str) -> str:
    try:
        return body.decode(charset)
    except LookupError:
        raise UndecodableBody(f"unknown charset {charset!r} in the {what} Content-Type") from None
    except UnicodeDecodeError as e:
        raise UndecodableBody(f"{what} body is not valid {charset} (byte {e.start})") from None


class _EmptyDocument:
    segments: tuple[Segment, ...] = ()

    def rebuild(self, replacements: Mapping[str, str]) -> bytes:
        return b""


class JsonDocument:
    """A JSON body: every string value, and integers that look like identifiers."""

    def __init__(self, body: bytes) -> None:
        self._slots: dict[str, tuple[_Container | None, str | int]] = {}
        segments: list[Segment] = []
        try:
            self._data = json.loads(body)
            self._walk(self._data, "$", None, None, (), segments)
        except UnicodeDecodeError as e:
            raise UndecodableBody(f"JSON body is not valid UTF-8 (byte {e.start})") from None
        except json.JSONDecodeError as e:
            raise UndecodableBody(
                f"JSON body does not parse: {e.msg} at line {e.lineno} column {e.colno}"
            ) from None
        except RecursionError:
            raise UndecodableBody("JSON body is nested too deeply to inspect") from None
        except ValueError as e:  # e.g. an integer over Python's 4300-digit conversion limit
            raise UndecodableBody(f"JSON body does not parse: {e}") from None
        self.segments = tuple(segments)

    def _walk(
        self,
        value: Any,
        path: str,
        parent: _Container | None,
        key: str | int | None,
        context: tuple[str, ...],
        out: list[Segment],
    ) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                self._walk(v, _json_path(path, k), value, k, context_words(k), out)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                self._walk(v, f"{path}[{i}]", value, i, context, out)
        elif isinstance(value, str) or (
            isinstance(value, int)
            and not isinstance(value, bool)
            and len(str(abs(value))) >= IDENTIFIER_DIGITS
        ):
            self._slots[path] = (parent, key if key is not None else 0)
            out.append(Segment(path, str(value), context))

    def rebuild(self, replacements: Mapping[str, str]) -> bytes:
        """Re-serialise the JSON with the replaced values (numbers replaced become strings)."""
        data = self._data
        originals: list[tuple[_Container, str | int, Any]] = []
        try:
            for location, text in replacements.items():
                parent, key = self._slots[location]
                if parent is None:
                    data = text
                else:
                    originals.append((parent, key, parent[key]))  # type: ignore[index]
                    parent[key] = text  # type: ignore[index]
            try:
                return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            except UnicodeEncodeError:
                # Lone surrogates (legal JSON escapes such as \ud800) have no UTF-8 form.
                return json.dumps(data, separators=(",", ":")).encode("ascii")
        finally:
            # The parsed data is shared by every call: put back what this call changed.
            for parent, key, value in reversed(originals):
                parent[key] = value


def _json_path(path: str, key: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


class _PairsDocument:
    """Shared by forms and query strings: ordered (name, value) pairs."""

    prefix = ""

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        self.pairs = tuple(pairs)
        self.locations = self._unique_locations()
        self.segments = tuple(
            Segment(loc, value, context_words(name))
            for loc, (name, value) in zip(self.locations, self.pairs, strict=True)
            if value
        )

    def _unique_locations(self) -> tuple[str, ...]:
        """`name`, then `name[1]`, `name[2]` ... for repeats; never one location for two pairs.

        A pair literally named `a[1]` beside two `a` pairs must not share their location, or
        one value's spans would be applied to the other's text.
        """
        earlier: dict[str, int] = {}
        taken: set[str] = set()
        locations: list[str] = []
        for name, _ in self.pairs:
            count = earlier.get(name, 0)
            earlier[name] = count + 1
            location = f"{self.prefix}{name}[{count}]" if count else f"{self.prefix}{name}"
            while location in taken:
                count += 1
                location = f"{self.prefix}{name}[{count}]"
            taken.add(location)
            locations.append(location)
        return tuple(locations)

    def replaced_pairs(self, replacements: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
        """The pairs with replaced values swapped in, order kept."""
        return tuple(
            (name, replacements.get(loc, value))
            for loc, (name, value) in zip(self.locations, self.pairs, strict=True)
        )


class FormDocument(_PairsDocument):
    """An `application/x-www-form-urlencoded` body."""

    prefix = "form:"

    def __init__(self, text: str) -> None:
        super().__init__(parse_qsl(text, keep_blank_values=True))

    def rebuild(self, replacements: Mapping[str, str]) -> bytes:
        """Re-encode the form with the replaced values."""
        return urlencode(self.replaced_pairs(replacements)).encode("ascii")


class QueryDocument(_PairsDocument):
    """The query parameters of a URL."""

    prefix = "query:"

    def rebuild(self, replacements: Mapping[str, str]) -> bytes:
        """The query string with replaced values, URL-encoded."""
        return urlencode(self.replaced_pairs(replacements)).encode("ascii")


class TextDocument:
    """Plain text, inspected in chunks cut at line ends."""

    def __init__(self, body: bytes, charset: str) -> None:
        self._charset = charset
        text = _decode(body, charset, "text")
        self._chunks = _chunk_lines(text, TEXT_CHUNK_CHARS)
        self.segments = tuple(
            Segment(f"text:{i}", chunk) for i, chunk in enumerate(self._chunks) if chunk.strip()
        )

    def rebuild(self, replacements: Mapping[str, str]) -> bytes:
        """The text with replaced chunks, in the original charset."""
        text = "".join(replacements.get(f"text:{i}", c) for i, c in enumerate(self._chunks))
        return text.encode(self._charset, errors="replace")


def _chunk_lines(text: str, size: int) -> list[str]:
    chunks: list[str] = []
    current: list[str] = []
    length = 0
    for line in text.splitlines(keepends=True):
        if current and length + len(line) > size:
            chunks.append("".join(current))
            current, length = [], 0
        current.append(line)
        length += len(line)
    if current:
        chunks.append("".join(current))
    return chunks or [""]
