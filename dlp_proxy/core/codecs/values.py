"""Values, and the documents nested in them: the building blocks every format shares.

A *node* is a document over text: its `segments`, the `uninspectable` locations it could not read,
and `render(replacements) -> str`. A format records its own values in a `Nest`: each value is a
segment, unless `sniff` finds a document inside it (JSON text, percent-encoded text, base64 text),
in which case the child's segments stand in its place, located `value>child` (`SEP`). `resolve`
sends replacements back down by that prefix and renders each changed child again.

Names (JSON keys, CSV column names, XML tags, multipart field names) are recorded too, with
`Nest.name`, at `name_location` of the value they name (`$.customer.ssn#name`); a name is sniffed
like a value. A node lists its values in document order, then its names in document order, so
that the values of one record stay next to each other. A name or value the format cannot carry
changed is recorded `rewritable=False`: it is inspected, but no replacement is taken for it.

Every value is recorded with its *field* as well as its location: the location with what is
particular to one record or position left out (`$.items[*].sku` for `$.items[3].sku`), so that
the values of one field in a document share it. A nested document's fields are joined the same
way, `field>child field`.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import quote, unquote_to_bytes

from dlp_proxy.detection.detector import NAME_MARK as NAME_MARK
from dlp_proxy.detection.detector import SEP as SEP
from dlp_proxy.detection.detector import Segment
from dlp_proxy.errors import UndecodableBody

# SEP (nested documents) and NAME_MARK (names) are defined beside `Segment`, where detection
# reads them too; names holding either are escaped here (`location_name`).

# Documents inside documents (a JSON string holding base64 of JSON ...) are read this deep.
MAX_NESTING = 4
# A JSON or XML document nested deeper than this many levels is refused.
MAX_DEPTH = 100
# Integers with this many digits or more may be identifiers (account, card, phone numbers).
IDENTIFIER_DIGITS = 6
# A JSON number written as a float (`4.539148803436467e15`) is read as an identifier only up to
# this many integer digits; larger ones are magnitudes, and writing them out would cost memory.
IDENTIFIER_MAX_DIGITS = 64
# Long text is inspected in chunks of about this many characters, cut at line ends.
TEXT_CHUNK_CHARS = 20_000
# Shorter values are never read as base64: ids and codes of that size would be false positives.
BASE64_MIN_CHARS = 16
# Letters alone (no digit, '+', '/', '-', '_' or padding) are base64 only from this length on:
# shorter ones are words and names.
BASE64_MIN_LETTERS_ONLY = 32
# Percent-encoding is undone this many times at most in one layer (`url`, `url2`, `url3`).
PERCENT_MAX_LAYERS = 3
# Decoded base64 must be text: at least this share of its characters printable.
PRINTABLE_SHARE = 0.95

# Codecs Python has but no sender means as a body's charset: they decode escape sequences to
# lone surrogates, or cannot write replacement text back.
UNREAD_CODECS = frozenset({"unicode-escape", "raw-unicode-escape", "idna", "punycode", "undefined"})

_Container = dict[str, Any] | list[Any]


class Node(Protocol):
    """A document over text, which may sit inside a value of another document."""

    @property
    def segments(self) -> tuple[Segment, ...]:
        """Every piece of text worth inspecting, in document order."""
        ...

    @property
    def uninspectable(self) -> tuple[str, ...]:
        """Locations of parts that could not be read (binary, undecodable); usually empty."""
        ...

    def render(self, replacements: Mapping[str, str]) -> str:
        """The text with the segment at each location in `replacements` swapped in."""
        ...


def context_words(name: str) -> tuple[str, ...]:
    """Words of a field name, as context: `cardNumber` -> (`cardnumber`, `card`, `number`)."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    words = [w.lower() for w in re.split(r"[^A-Za-z0-9]+", spaced) if w and not w.isdigit()]
    whole = name.lower()
    return tuple(dict.fromkeys([whole, *words])) if whole and not whole.isdigit() else tuple(words)


class WordCache(dict[str, tuple[str, ...]]):
    """`context_words` of names that repeat (every object of a list), worked out once.

    One per document, so no name outlives the message it came in.
    """

    def __missing__(self, name: str) -> tuple[str, ...]:
        words = self[name] = context_words(name)
        return words


def media_type(content_type: str) -> tuple[str, dict[str, str]]:
    """The lower-cased media type and the parameters of a Content-Type (charset lower-cased)."""
    mime, _, rest = content_type.partition(";")
    params: dict[str, str] = {}
    for param in rest.split(";"):
        key, _, value = param.strip().partition("=")
        key, value = key.strip().lower(), value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        if key and value:
            params.setdefault(key, value)
    if "charset" in params:
        params["charset"] = params["charset"].strip('"').lower()
    return mime.strip().lower(), params


def decode(body: bytes, charset: str, what: str) -> str:
    """`body` as text in `charset`; `UndecodableBody` naming `what` if it is not."""
    try:
        if codecs.lookup(charset).name in UNREAD_CODECS:
            raise UndecodableBody(
                f"charset {charset!r} in the {what} Content-Type is not a text encoding "
                "dlp-proxy reads"
            )
        return body.decode(charset)
    except LookupError:
        raise UndecodableBody(f"unknown charset {charset!r} in the {what} Content-Type") from None
    except UnicodeDecodeError as e:
        raise UndecodableBody(f"{what} body is not valid {charset} (byte {e.start})") from None
    except UnicodeError:  # codecs such as utf-7 raise the base class
        raise UndecodableBody(f"{what} body is not valid {charset}") from None


def location_name(name: str) -> str:
    """A name as it may appear in a location: `>` is written `%3E`, `#` is written `%23`."""
    return name.replace(SEP, "%3E").replace("#", "%23")


def name_location(location: str) -> str:
    """The location of the name of the value at `location` (`NAME_MARK` appended)."""
    return location + NAME_MARK


def unique_locations(prefix: str, names: Iterable[str]) -> tuple[str, ...]:
    """`name`, then `name[1]`, `name[2]` ... for repeats; never one location for two names.

    A field literally named `a[1]` beside two `a` fields must not share their location, or one
    value's spans would be applied to the other's text.
    """
    earlier: dict[str, int] = {}
    taken: set[str] = set()
    locations: list[str] = []
    for raw in names:
        name = location_name(raw)
        count = earlier.get(name, 0)
        earlier[name] = count + 1
        location = f"{prefix}{name}[{count}]" if count else f"{prefix}{name}"
        while location in taken:
            count += 1
            location = f"{prefix}{name}[{count}]"
        taken.add(location)
        locations.append(location)
    return tuple(locations)


def prefixed(
    prefix: str, field: str, segments: Iterable[Segment], *, rewritable: bool = True
) -> list[Segment]:
    """`segments` relocated under `prefix` (a location and the separator), fields under `field`.

    `field` is the field of the value holding them and the separator, or "" for a document
    whose own fields are fields of the outer one (an NDJSON record). A segment stays rewritable
    only when it was and `rewritable` is True (the value holding it can be rewritten).
    """
    return [
        Segment(
            prefix + s.location,
            s.text,
            s.context,
            field + s.field,
            s.rewritable and rewritable,
            s.analyzed,
        )
        for s in segments
    ]


class Nest:
    """A document's own values and names by location, and the documents nested in some of them.

    `value` records a value: a segment, or, when `sniff` finds a document in it, that child's
    segments under `location>` (their fields under `field>`); `name` records a name the same
    way. `segments` lists the values, then the names. `split` and `resolve` take replacements
    apart again by prefix. A location that is neither a recorded rewritable value or name nor
    inside a rewritable child is a `KeyError`.

    Names repeat: every record of a list has the same keys. A name whose field, text and
    context an earlier name had (the same key of every record, in `name` or in a nested
    document `adopt`ed) is no segment of its own: it is the earlier one's *alias*, and a
    replacement of the earlier one is a replacement of each of its aliases too. One text in one
    field is then inspected once, and rewritten wherever it is.
    """

    def __init__(self, depth: int) -> None:
        self.depth = depth
        self.values: list[Segment] = []
        self.names: list[Segment] = []
        self.uninspectable: list[str] = []
        self.children: dict[str, Node] = {}
        self._slots: set[str] = set()
        self._heads: set[str] = set()
        # The first plain name of each (field, text, context, rewritable), and its aliases.
        self._named: dict[tuple[str, str, tuple[str, ...], bool], str] = {}
        self._aliases: dict[str, list[str]] = {}

    @property
    def segments(self) -> tuple[Segment, ...]:
        """Every segment: the values in document order, then the names in document order."""
        return (*self.values, *self.names)

    def slot(self, location: str) -> None:
        """Let `location` be replaced whole without making it a segment (e.g. an empty value)."""
        self._slots.add(location)

    def segment(
        self,
        location: str,
        text: str,
        context: tuple[str, ...] = (),
        *,
        field: str,
        rewritable: bool = True,
        analyzed: bool = True,
    ) -> None:
        """Record a value of `field` as a segment as it is, without looking inside it.

        `analyzed=False` lists a short number only for joining split identifiers (`Segment`).
        """
        if rewritable:
            self._slots.add(location)
        self.values.append(Segment(location, text, context, field, rewritable, analyzed))

    def value(
        self,
        location: str,
        text: str,
        context: tuple[str, ...] = (),
        *,
        field: str,
        rewritable: bool = True,
    ) -> None:
        """Record a value of `field`: a segment, or the document found inside it."""
        child = sniff(text, context, self.depth + 1)
        if child is None:
            if rewritable:
                self._slots.add(location)
            self.values.append(Segment(location, text, context, field, rewritable))
        else:
            self._nested(self.values, location, child, field, rewritable)

    def name(
        self,
        location: str,
        text: str,
        context: tuple[str, ...] = (),
        *,
        field: str,
        rewritable: bool = True,
    ) -> None:
        """Record a name: `location` and `field` are `name_location`s of its value's.

        A name is read like a value (a document may be found inside it); it is listed after
        the values. `rewritable=False` for names the format cannot carry changed (XML tags).
        A name like an earlier one is its alias (see the class).
        """
        key = (field, text, context, rewritable)
        first = self._named.get(key)
        if first is not None:
            if rewritable:
                self._slots.add(location)
                self._aliases[first].append(location)
            return
        child = sniff(text, context, self.depth + 1)
        if child is not None:
            self._nested(self.names, location, child, field, rewritable)
            return
        if rewritable:
            self._slots.add(location)
        self.names.append(Segment(location, text, context, field, rewritable))
        self._named[key] = location
        self._aliases[location] = []

    def _nested(
        self, into: list[Segment], location: str, child: Node, field: str, rewritable: bool
    ) -> None:
        """Record the document found in a value or name at `location`, its segments in `into`.

        The child's names (and what is inside them) are listed with the names.
        """
        if rewritable:
            self._slots.add(location)
            self.children[location] = child
            self._heads.add(location)
        for segment in prefixed(location + SEP, field + SEP, child.segments, rewritable=rewritable):
            self._list(segment, into)
        self.uninspectable.extend(location + SEP + u for u in child.uninspectable)

    def _list(self, segment: Segment, into: list[Segment]) -> None:
        """List a nested document's segment: a value in `into`, a name with the names.

        A name (or a segment inside one) like an earlier one is its alias (see the class).
        """
        if NAME_MARK not in segment.field:
            into.append(segment)
            return
        key = (segment.field, segment.text, segment.context, segment.rewritable)
        first = self._named.get(key)
        if first is None:
            self._named[key] = segment.location
            self._aliases[segment.location] = []
            self.names.append(segment)
        elif segment.rewritable:
            self._aliases[first].append(segment.location)

    def child(self, location: str, node: Node, *, field: str) -> None:
        """Record a text document nested at `location`; `resolve` renders it again.

        `field` is the field of the value holding it; "" when the child's fields are the
        document's own (an NDJSON record), so that they are not prefixed.
        """
        self.children[location] = node
        self.adopt(location, node.segments, node.uninspectable, field=field)

    def adopt(
        self,
        location: str,
        segments: Sequence[Segment],
        uninspectable: Sequence[str],
        *,
        field: str,
    ) -> None:
        """List the segments of a document nested at `location` that the caller keeps itself.

        Their fields go under `field>`, or stay as they are when `field` is "" (see `child`).
        Its names (and segments inside them) are listed with the names; one like an earlier one
        is its alias (see the class).
        """
        self._heads.add(location)
        for segment in prefixed(location + SEP, field and field + SEP, segments):
            self._list(segment, self.values)
        self.uninspectable.extend(location + SEP + u for u in uninspectable)

    def split(
        self, replacements: Mapping[str, str]
    ) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
        """Own replacements, and the replacements for each nested document by its location.

        A whole-value replacement of a location wins over replacements inside it; a name's
        replacement is its aliases' too, unless they have their own.
        """
        own: dict[str, str] = {}
        nested: dict[str, dict[str, str]] = {}
        for location, text in replacements.items():
            self._route(location, text, own, nested)
            for alias in self._aliases.get(location, ()):
                if alias not in replacements:
                    self._route(alias, text, own, nested)
        for location in own:
            nested.pop(location, None)
        return own, nested

    def _route(
        self, location: str, text: str, own: dict[str, str], nested: dict[str, dict[str, str]]
    ) -> None:
        head, sep, rest = location.partition(SEP)
        if sep and head in self._heads:
            nested.setdefault(head, {})[rest] = text
        elif not sep and location in self._slots:
            own[location] = text
        else:
            raise KeyError(f"no segment at {location!r}")

    def resolve(self, replacements: Mapping[str, str]) -> dict[str, str]:
        """The new text of every own value that changes, nested documents rendered anew."""
        own, nested = self.split(replacements)
        for location, inner in nested.items():
            own[location] = self.children[location].render(inner)
        return own


# --- nested documents ----------------------------------------------------------------------------

_BASE64 = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")
_BASE64_MARK = re.compile(r"[0-9+/_-]")
_HEX = re.compile(r"[0-9A-Fa-f]+")
# Bytes that are a number as people write one: seven digits or more, with separators.
_NUMBER_BYTES = re.compile(rb"[ .-]*(?:[0-9][ .-]*){7,}")
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_BARE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def sniff(text: str, context: tuple[str, ...], depth: int) -> Node | None:
    """The document inside a value, if any: JSON text, percent-encoded or base64 text.

    `depth` is the depth the child would have; at `MAX_NESTING` nothing more is looked into.
    """
    if depth >= MAX_NESTING or len(text) < 2:
        return None
    node: Node | None = None
    if text[0] in "{[ \t\r\n":
        node = _json_inside(text, context, depth)
    if node is None and "%" in text:
        node = _percent_inside(text, context, depth)
    if node is None and len(text) >= BASE64_MIN_CHARS:
        node = _base64_inside(text, context, depth)
    return node


def _inner(text: str, context: tuple[str, ...], depth: int) -> Node:
    """What a decoding layer holds: another document if one is found, else text."""
    return sniff(text, context, depth) or TextNode(text, context)


def _json_inside(text: str, context: tuple[str, ...], depth: int) -> Node | None:
    stripped = text.strip()
    if (stripped[:1], stripped[-1:]) not in (("{", "}"), ("[", "]")):
        return None
    try:
        data = load_json(stripped)
        return JsonNode(data, context, depth) if data else None
    except (ValueError, RecursionError, UndecodableBody):
        return None  # not JSON after all, or too deep: it stays one text segment


def unquote_exact(text: str) -> str | None:
    """`text` percent-decoded, if it is exactly that: every `%` an escape, UTF-8 underneath."""
    if _BARE_PERCENT.search(text) or not _ESCAPE.search(text):
        return None
    try:
        return unquote_to_bytes(text).decode("utf-8")
    except UnicodeError:  # escapes of bytes that are not UTF-8, or a lone surrogate
        return None


def _percent_inside(text: str, context: tuple[str, ...], depth: int) -> Node | None:
    layers = [text]
    while len(layers) <= PERCENT_MAX_LAYERS:
        decoded = unquote_exact(layers[-1])
        if decoded is None:
            break
        layers.append(decoded)
    if len(layers) == 1:
        return None
    return PercentLayer(layers, _inner(layers[-1], context, depth + 1))


def _b64encode(raw: bytes, urlsafe: bool, padded: bool) -> str:
    text = (base64.urlsafe_b64encode(raw) if urlsafe else base64.b64encode(raw)).decode("ascii")
    return text if padded else text.rstrip("=")


def _base64_inside(text: str, context: tuple[str, ...], depth: int) -> Node | None:
    found = decode_base64_text(text)
    if found is None:
        return None
    decoded, urlsafe, padded = found
    return Base64Layer(urlsafe, padded, _inner(decoded, context, depth + 1))


def decode_base64_text(text: str) -> tuple[str, bool, bool] | None:
    """`(decoded, urlsafe, padded)` when `text` is exactly base64 of mostly printable UTF-8.

    Identifiers that merely use the base64 alphabet (hex hashes, words, short ids) are not.
    """
    found = base64_bytes(text)
    if found is None:
        return None
    raw, urlsafe, padded = found
    try:
        decoded = raw.decode("utf-8")
    except ValueError:
        return None
    return (decoded, urlsafe, padded) if _mostly_printable(decoded) else None


def base64_bytes(text: str) -> tuple[bytes, bool, bool] | None:
    """`(raw, urlsafe, padded)` when `text` is exactly base64, as an encoder writes it.

    Identifiers that merely use the base64 alphabet (hex hashes, words, short ids) are not.
    """
    if not _BASE64.fullmatch(text) or _HEX.fullmatch(text):
        return None
    body = text.rstrip("=")
    has_padding = len(body) < len(text)
    if len(body) % 4 == 1 or (has_padding and len(text) % 4):
        return None
    # A word or name without digits is not base64, whatever its letters, unless it decodes to
    # a number (base64 of digits is letters only when every third digit is 0-3).
    word_like = (
        not has_padding and len(body) < BASE64_MIN_LETTERS_ONLY and not _BASE64_MARK.search(body)
    )
    urlsafe = "-" in body or "_" in body
    if urlsafe and ("+" in body or "/" in body):
        return None
    try:
        raw = base64.b64decode(
            body + "=" * (-len(body) % 4), altchars=b"-_" if urlsafe else None, validate=True
        )
    except (binascii.Error, ValueError):
        return None
    padded = has_padding or len(text) % 4 == 0
    if _b64encode(raw, urlsafe, padded) != text:
        return None
    if word_like and not _NUMBER_BYTES.fullmatch(raw):
        return None
    return raw, urlsafe, padded


def _mostly_printable(text: str) -> bool:
    if not text.strip():
        return False
    odd = sum(1 for c in text if not (c.isprintable() or c in "\t\n\r"))
    return odd <= len(text) * (1 - PRINTABLE_SHARE)


class _Layer:
    """An encoding around a text document: segments under `tag>`, re-encoded on render."""

    tag = ""

    def __init__(self, inner: Node) -> None:
        self._inner = inner
        self.segments = tuple(prefixed(self.tag + SEP, self.tag + SEP, inner.segments))
        self.uninspectable = tuple(self.tag + SEP + u for u in inner.uninspectable)

    def render(self, replacements: Mapping[str, str]) -> str:
        """The inner document rendered with its replacements, encoded as before."""
        inner: dict[str, str] = {}
        for location, text in replacements.items():
            head, sep, rest = location.partition(SEP)
            if head != self.tag or not sep:
                raise KeyError(f"no segment at {location!r}")
            inner[rest] = text
        return self.encode(self._inner.render(inner))

    def encode(self, text: str) -> str:
        """`text` in this layer's encoding."""
        raise NotImplementedError


class PercentLayer(_Layer):
    """Percent-encoded text (`url`), or text encoded two or three times (`url2`, `url3`).

    `layers` is the value as found, then each decoding of it. Rendering re-encodes as many
    times, keeping every character outside the changed stretch exactly as it was written.
    """

    def __init__(self, layers: list[str], inner: Node) -> None:
        self.tag = "url" if len(layers) == 2 else f"url{len(layers) - 1}"
        self._layers = layers
        super().__init__(inner)

    def encode(self, text: str) -> str:
        """`text` percent-encoded as many times as the original value was."""
        for encoded, decoded in zip(self._layers[-2::-1], self._layers[:0:-1], strict=True):
            text = requote(encoded, decoded, text)
        return text


class Base64Layer(_Layer):
    """Base64 of UTF-8 text (`b64`), re-encoded with the same alphabet and padding."""

    tag = "b64"

    def __init__(self, urlsafe: bool, padded: bool, inner: Node) -> None:
        self._urlsafe = urlsafe
        self._padded = padded
        super().__init__(inner)

    def encode(self, text: str) -> str:
        """`text` as UTF-8 in base64, standard or URL-safe alphabet, padded or not, as found."""
        return _b64encode(text.encode("utf-8", "replace"), self._urlsafe, self._padded)


def requote(encoded: str, decoded: str, new: str, safe: str = "") -> str:
    """`new` percent-encoded, written like `encoded` (which decodes exactly to `decoded`).

    The stretch before and after what changed is copied from `encoded` byte for byte; the rest
    is quoted, leaving unescaped the characters `encoded` left unescaped, and those in `safe`.
    """
    if new == decoded:
        return encoded
    limit = min(len(decoded), len(new))
    start = 0
    while start < limit and decoded[start] == new[start]:
        start += 1
    tail = 0
    while tail < limit - start and decoded[-1 - tail] == new[-1 - tail]:
        tail += 1
    offsets = _char_offsets(encoded, decoded)
    keep = "".join(sorted({c for c in encoded if c < "\x80" and c != "%"} | set(safe)))
    middle = quote(new[start : len(new) - tail], safe=keep, errors="replace")
    return encoded[: offsets[start]] + middle + encoded[offsets[len(decoded) - tail] :]


def _char_offsets(encoded: str, decoded: str) -> list[int]:
    """Where each character of `decoded` starts in `encoded`, plus the end."""
    starts: list[int] = []  # per decoded byte; -1 inside a character written literally
    i = 0
    while i < len(encoded):
        starts.append(i)
        if encoded[i] == "%":
            i += 3
        else:
            starts.extend([-1] * (_utf8_size(encoded[i]) - 1))
            i += 1
    offsets: list[int] = []
    byte = 0
    for char in decoded:
        offsets.append(starts[byte])
        byte += _utf8_size(char)
    offsets.append(len(encoded))
    return offsets


def _utf8_size(char: str) -> int:
    code = ord(char)
    return 1 if code < 0x80 else 2 if code < 0x800 else 3 if code < 0x10000 else 4


# --- JSON and text nodes -------------------------------------------------------------------------


class JsonMembers(dict[str, Any]):
    """A JSON object that repeats a key: `pairs` holds every member, in document order.

    As a dict it holds the last value of each key, as `json.loads` would; `items` gives every
    pair, so `json.dumps` writes each occurrence back.
    """

    __slots__ = ("pairs",)

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        self.pairs = pairs

    # A list, not a view: json's encoder (C and Python) writes a dict subclass from `items()`.
    def items(self) -> list[tuple[str, Any]]:  # type: ignore[override]
        """Every member, repeats included, in document order."""
        return self.pairs


class IntegralFloat(float):
    """A JSON number written with a fraction or an exponent whose value is a whole number.

    `digits` is that number written out exactly from its literal (`4.539148803436467e15` is
    `4539148803436467`): what a reader that takes it for an integer sees. It is written back as
    the float it is.
    """

    __slots__ = ("digits",)
    digits: str


def integral_digits(literal: str) -> str | None:
    """The integer a JSON number literal is exactly, if it has IDENTIFIER_DIGITS digits or more.

    `219099999.0` and `2.19099999E8` are `219099999`; `4.5`, `1e3` and `1e400` are None (not
    whole, too short, over IDENTIFIER_MAX_DIGITS).
    """
    sign, digits, exponent = Decimal(literal).as_tuple()
    if not isinstance(exponent, int) or exponent > IDENTIFIER_MAX_DIGITS:
        return None
    if exponent < 0:
        if any(digits[exponent:]):
            return None
        digits = digits[:exponent]
    head = "".join(map(str, digits)).lstrip("0")
    whole = head + "0" * max(exponent, 0)
    if not head or not IDENTIFIER_DIGITS <= len(whole) <= IDENTIFIER_MAX_DIGITS:
        return None
    return "-" + whole if sign else whole


def _json_float(literal: str) -> float:
    if "e" not in literal and "E" not in literal:
        whole, _, fraction = literal.partition(".")
        if fraction.strip("0") or len(whole) < IDENTIFIER_DIGITS:
            return float(literal)  # the usual `12.5`: not whole, or too short
    digits = integral_digits(literal)
    if digits is None:
        return float(literal)
    number = IntegralFloat(literal)
    number.digits = digits
    return number


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members = dict(pairs)
    return members if len(members) == len(pairs) else JsonMembers(pairs)


def load_json(text: str | bytes) -> Any:
    """JSON text parsed, keeping what `json.loads` drops.

    Every repeat of a key in an object is kept (`JsonMembers`), and the exact digits of whole
    numbers written as floats (`IntegralFloat`). Raises what `json.loads` raises.
    """
    return json.loads(text, object_pairs_hook=_json_object, parse_float=_json_float)


# Where a JSON value sits: its container (None for the root), its key or index, its position
# among the object's members, and whether the slot is the member's name rather than its value.
_JsonSlot = tuple[_Container | None, str | int, int, bool]


class JsonNode:
    """Parsed JSON (read with `load_json`): every key and string value, identifier-like numbers.

    Locations are JSON paths (`$.customer.ssn`, `$.items[0]`, `$["key with space"]`); a key is
    located at its value's location with `#name` (`$.customer.ssn#name`), whatever its value
    is. A key repeated in one object is located `$.a`, then `$.a[dup1]`, `$.a[dup2]` ... (no list
    index or quoted key is written so), every repeat with the field `$.a`. Fields are the paths
    with every list index `[*]` (`$.items[*]`, `$.items[*].sku#name`). Values of a list inherit
    their list's key as context, a key its object's context; the root's context is `context`.
    Integers of IDENTIFIER_DIGITS digits or more are segments, and so are whole numbers written
    as floats (`219099999.0`), as the integer's digits.

    Keys repeat (every record of a list has the same ones): only the first key of each field is
    a segment (`$.customers[0].email#name`, for the field `$.customers[*].email#name`, whose
    keys all have the same text); replacing it renames that key in every record.

    `render` writes compact JSON: a replaced value becomes a string (a number too), a replaced
    key renames its member in place, and every repeat of a key is written again. A rename
    that would give two members of one object that had different names the same name (two
    keys redacted alike) raises `UndecodableBody`: the vendor would read only one of them.
    """

    def __init__(self, data: Any, context: tuple[str, ...] = (), depth: int = 0) -> None:
        self._data = data
        self._slots: dict[str, _JsonSlot] = {}
        self._words = WordCache()
        self._steps: dict[str, str] = {}  # json_path("", key) of keys that repeat
        # The first key of each field (by its value's field), and the other keys of that field.
        self._names: dict[str, str] = {}
        self._aliases: dict[str, list[dict[str, Any]]] = {}  # the objects holding each first key
        self._nest = Nest(depth)
        self._walk(data, "$", "$", None, 0, -1, context, 0)
        self.segments = self._nest.segments
        self.uninspectable = tuple(self._nest.uninspectable)

    def _walk(
        self,
        value: Any,
        path: str,
        field: str,
        parent: _Container | None,
        key: str | int,
        member: int,
        context: tuple[str, ...],
        level: int,
    ) -> None:
        if isinstance(value, dict):
            _check_depth(level)
            repeats: dict[str, int] | None = {} if isinstance(value, JsonMembers) else None
            for i, (k, v) in enumerate(value.items()):
                step = self._steps.get(k) or self._steps.setdefault(k, json_path("", k))
                location = path + step
                if repeats is not None:
                    seen = repeats.get(k, 0)
                    repeats[k] = seen + 1
                    location += f"[dup{seen}]" if seen else ""
                inner = field + step
                first = self._names.get(inner)
                if first is None:  # the first key of its field: a segment
                    name = self._names[inner] = name_location(location)
                    self._slots[name] = (value, k, i, True)
                    self._aliases[name] = [value]
                    self._nest.name(name, k, context, field=name_location(inner))
                elif self._aliases[first][-1] is not value:  # the same key in another record
                    self._aliases[first].append(value)
                self._walk(v, location, inner, value, k, i, self._words[k], level + 1)
        elif isinstance(value, list):
            _check_depth(level)
            for i, v in enumerate(value):
                self._walk(v, f"{path}[{i}]", f"{field}[*]", value, i, i, context, level + 1)
        elif isinstance(value, str):
            self._slots[path] = (parent, key, member, False)
            self._nest.value(path, value, context, field=field)
        elif isinstance(value, IntegralFloat):
            self._slots[path] = (parent, key, member, False)
            self._nest.segment(path, value.digits, context, field=field)
        elif isinstance(value, int) and not isinstance(value, bool):
            digits = str(value)
            # A short number is listed for joins only: a card one digit per array element.
            long_enough = len(digits.lstrip("-")) >= IDENTIFIER_DIGITS
            if long_enough or value >= 0:
                self._slots[path] = (parent, key, member, False)
                self._nest.segment(path, digits, context, field=field, analyzed=long_enough)

    def render(self, replacements: Mapping[str, str]) -> str:
        """Compact JSON with the replaced values and keys (numbers replaced become strings)."""
        data = self._data
        undo: list[Callable[[], None]] = []
        renames: dict[int, tuple[dict[str, Any], dict[int, str]]] = {}
        try:
            for location, text in self._nest.resolve(replacements).items():
                parent, key, member, is_name = self._slots[location]
                if parent is None:
                    data = text
                elif is_name and isinstance(key, str):
                    for members in self._aliases[location]:  # the key wherever it is
                        names = renames.setdefault(id(members), (members, {}))[1]
                        names.update(
                            (i, text) for i, (k, _) in enumerate(members.items()) if k == key
                        )
                else:
                    undo.append(_put(parent, key, member, text))
            for members, names in renames.values():
                undo.append(_renamed(members, names))
            return dumps_json(data)
        finally:
            # The parsed data is shared by every call: put back what this call changed.
            for restore in reversed(undo):
                restore()


def _check_depth(level: int) -> None:
    if level >= MAX_DEPTH:
        raise UndecodableBody(
            f"JSON body is nested too deeply to inspect (over {MAX_DEPTH} levels)"
        )


def _put(parent: _Container, key: str | int, member: int, text: str) -> Callable[[], None]:
    """Set one value to `text`; the function returned puts the old value back."""
    if isinstance(parent, JsonMembers):
        pairs = parent.pairs
        old_pair = pairs[member]
        pairs[member] = (old_pair[0], text)
        return lambda: pairs.__setitem__(member, old_pair)
    if isinstance(parent, list) and isinstance(key, int):
        items = parent
        old_item = items[key]
        items[key] = text
        return lambda: items.__setitem__(key, old_item)
    assert isinstance(parent, dict), "slots are made by _walk"
    assert isinstance(key, str), "slots are made by _walk"
    values = parent
    old_value = values[key]
    values[key] = text
    return lambda: values.__setitem__(key, old_value)


def _renamed(members: dict[str, Any], names: Mapping[int, str]) -> Callable[[], None]:
    """Rename the members at the positions in `names`, order kept; returns how to undo it.

    Members that had one name may keep sharing one (a repeated key renamed alike); members that
    had different names must not end up with the same one.
    """
    before = list(members.items())
    after = [(names.get(i, k), v) for i, (k, v) in enumerate(before)]
    origin: dict[str, str] = {}
    for (old, _), (new, _) in zip(before, after, strict=True):
        if origin.setdefault(new, old) != old:
            raise UndecodableBody(
                "a replacement would give two members of one JSON object the same name (keys "
                "redacted alike, or a key renamed to another's name), and the vendor would "
                "read only one of them: encrypt such keys instead of redacting them"
            )
    if isinstance(members, JsonMembers):
        saved = members.pairs
        members.pairs = after

        def restore_pairs() -> None:
            members.pairs = saved

        return restore_pairs
    members.clear()
    members.update(after)

    def restore() -> None:
        members.clear()
        members.update(before)

    return restore


def json_path(path: str, key: str) -> str:
    """`path.key`, or `path["key"]` for keys that are not identifiers (`>` and `#` escaped)."""
    if _IDENTIFIER.fullmatch(key):
        return f"{path}.{key}"
    quoted = json.dumps(key, ensure_ascii=False).replace(SEP, "\\u003e").replace("#", "\\u0023")
    return f"{path}[{quoted}]"


def dumps_json(data: Any) -> str:
    """Compact JSON with non-ASCII kept, or ASCII with escapes when it holds lone surrogates."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(data, separators=(",", ":"))
    return text


class TextNode:
    """Plain text, inspected in chunks cut at line ends (`text:0`, `text:1` ...), field `text`."""

    uninspectable: tuple[str, ...] = ()

    def __init__(
        self, text: str, context: tuple[str, ...] = (), chunk_chars: int = TEXT_CHUNK_CHARS
    ) -> None:
        self._chunks = chunk_lines(text, chunk_chars)
        self.segments = tuple(
            Segment(f"text:{i}", chunk, context, "text")
            for i, chunk in enumerate(self._chunks)
            if chunk.strip()
        )

    def render(self, replacements: Mapping[str, str]) -> str:
        """The text with replaced chunks."""
        if replacements:
            chunks = {f"text:{i}" for i in range(len(self._chunks))}
            for location in replacements:
                if location not in chunks:
                    raise KeyError(f"no segment at {location!r}")
        return "".join(replacements.get(f"text:{i}", c) for i, c in enumerate(self._chunks))


def chunk_lines(text: str, size: int) -> list[str]:
    """`text` cut at line ends into chunks of about `size` characters (a long line is whole)."""
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
