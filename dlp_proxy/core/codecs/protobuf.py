r"""Protobuf and gRPC bodies, read from the wire format without a schema.

A gateway has no `.proto` files, and the vendor's schema decides how each field is read, so a
field is read every plausible way a schema could read it (the union of readings):

- A varint (wire type 0) is a number: its unsigned value is listed as digits (`uint64`), and,
  when it has `IDENTIFIER_DIGITS` digits or more, its two's complement (`int64`, for a negative
  number) at `...#int` and its zigzag value (`sint64`: a card sent as sint64 is twice the card
  on the wire) at `...#sint`, the latter from `SINT_MIN_DIGITS` digits on or with a map key's
  context (every timestamp's half would otherwise be a made-up number). A fixed64 (wire type
  1) or fixed32 (5) is a `double` or `float` when its bits read as one with a short decimal
  form (a price: `19.99`; its digits are listed only when it is a whole number of
  IDENTIFIER_DIGITS digits or more, at `...#double`, `...#float`), else an integer as a varint
  is. Numbers cannot become a token in place: they are `rewritable=False`, so a finding there
  blocks. Short numbers are listed for joins only (`analyzed=False`), as JSON integers are.
- A length-delimited field (2) is a nested message when its bytes parse completely as one,
  and text when they decode as UTF-8 that is mostly printable (`binary.mostly_printable`) or,
  if they are no message, as UTF-8 at all (a string padded with control characters is still a
  string to the vendor), or as UTF-16/32 by `binary.sniff_text`. Both readings are listed when
  both are plausible (`\\n(` and 40 printable characters is a message and a string), each
  rewritable (the message reading of text lists its texts, not its numbers: see
  `_Walker.message`); a replacement in both readings of one field cannot be merged and makes
  `rebuild` raise `UndecodableBody`. Text is a value as in every format (`values.Nest`):
  JSON, percent-encoded or base64 text inside a string field is a nested document
  (`pb:2>$.ssn`). Bytes that are valid UTF-8, not mostly printable and a message are read as
  a message only: small nested messages are such bytes, and reading them as text too would
  make every replacement in them a conflict of two readings.
- Bytes that are neither are read as a packed repeated varint field when they parse as one
  (every number listed as above, at `...#packed[i]`). Bytes that start like a known format
  (`binary.SIGNATURES`: an image, a PDF, an archive, gzip) are `uninspectable`, whatever their
  size. Other bytes are opaque: up to `OPAQUE_MAX_BYTES` they pass (a UUID, a hash, a
  signature, a nonce in bytes form: what such bytes hold a vendor can read only with a key or
  an encoding of its own, which no gateway can undo either), longer ones are `uninspectable`
  (a file, text in a charset nobody named), and the message is refused (fail closed).
- A map entry (`map<string, X>` is a repeated message of a key in field 1 and a value in field
  2) gives its key's words as the value's context: `{"ssn": 219099999}` as a map reads like
  the same JSON.
- Groups (wire types 3 and 4) are refused: proto2's deprecated groups do not occur in gRPC
  services, and bytes holding one are not a message (at the top: `UndecodableBody`; inside a
  field the other readings apply). Wire types 6 and 7, field number 0, a varint over 10 bytes
  and a truncated field are no message either.

Locations: `pb:1.3[2]` is field 3 (its third occurrence: `[2]`, counted per field number)
inside field 1 of the message; fields leave the occurrence out (`pb:1.3`). A field read both
ways has its text at `pb:1` and its nested fields at `pb:1.3`, so readings never share a
location. A gRPC body is a sequence of length-prefixed messages (`grpc:m0>pb:1.3[2]`: message
0), each with the fields of a record (`pb:1.3`, as NDJSON records have); a gRPC-web trailer
frame is text at `grpc:m3` (field `grpc:trailers`), a gzip member's file name or comment at
`grpc:m0#gzip[0]`, a `+json` message a JSON document (`grpc:m0>$.ssn`).

gRPC framing: a flag byte (bit 0x01: compressed; bit 0x80: a gRPC-web trailer frame), a 4-byte
big-endian length, the message. A compressed message is read when it is gzip (its magic
number; every member, with `compression`'s bounds); the codec does not get the
`grpc-encoding` header, so any other compression (deflate, snappy, zstd) is `UndecodableBody`.
`application/grpc-web-text` is base64 of the same frames (chunks padded one by one, as
streaming senders write them); a rebuilt body is encoded again as one chunk.

Rebuild replaces a text field's bytes, writes its length again and every enclosing length and
the frame's length (a compressed frame is compressed again); everything else is copied byte
for byte, and `rebuild({})` is the body as it came.

Why hand-written: the `protobuf` package needs the message's descriptor to decode anything,
and blackboxprotobuf (the schema-less decoder) has been unmaintained since 2020 and guesses one
type per field where the gateway must keep every reading. The wire format is small.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

from dlp_proxy.core.codecs.binary import SIGNATURES, sniff_text
from dlp_proxy.core.codecs.values import (
    IDENTIFIER_DIGITS,
    JsonNode,
    Nest,
    context_words,
    load_json,
)
from dlp_proxy.core.compression import decode_body
from dlp_proxy.detection.detector import Segment
from dlp_proxy.errors import BodyTooLarge, UndecodableBody

__all__ = [
    "GRPC_JSON_TYPES",
    "GRPC_TEXT_TYPES",
    "GRPC_TYPES",
    "MAX_FIELDS",
    "MAX_INFLATED_BYTES",
    "MAX_MESSAGES",
    "MAX_MESSAGE_DEPTH",
    "OPAQUE_MAX_BYTES",
    "PROTOBUF_TYPES",
    "GrpcDocument",
    "ProtobufDocument",
]

PROTOBUF_TYPES = frozenset(
    {
        "application/x-protobuf",
        "application/protobuf",
        "application/vnd.google.protobuf",
        "application/x-google-protobuf",
    }
)
GRPC_JSON_TYPES = frozenset(
    {"application/grpc+json", "application/grpc-web+json", "application/grpc-web-text+json"}
)
GRPC_TEXT_TYPES = frozenset(
    {
        "application/grpc-web-text",
        "application/grpc-web-text+proto",
        "application/grpc-web-text+json",
    }
)
GRPC_TYPES = frozenset(
    {
        "application/grpc",
        "application/grpc+proto",
        "application/grpc-web",
        "application/grpc-web+proto",
        *GRPC_JSON_TYPES,
        *GRPC_TEXT_TYPES,
    }
)

# Length-prefixed messages in one gRPC body (a client or server stream) at most.
MAX_MESSAGES = 10_000
# Messages nested in messages this deep at most; a message deeper is refused.
MAX_MESSAGE_DEPTH = 32
# Fields walked in one body at most, the tries at reading a field's bytes as a message included.
MAX_FIELDS = 200_000
# A compressed gRPC message inflates to this many bytes at most, and this many times its size.
MAX_INFLATED_BYTES = 16 * 1024 * 1024
MAX_INFLATE_RATIO = 200.0
# Opaque bytes (no text, no message, no packed numbers) up to this size pass: a UUID (16), a
# SHA-256 (32), an Ed25519 signature or a SHA-512 (64). Longer ones are uninspectable.
OPAQUE_MAX_BYTES = 64
# A double whose shortest decimal form is this long at most is read as a double (a price).
DOUBLE_MAX_REPR = 12
# ... and a magnitude in this range (random bits and integers below 2**62 read as doubles are
# tiny, often subnormal, numbers).
DOUBLE_MIN, DOUBLE_MAX = 1e-6, 1e18
# A varint's zigzag (sint64) reading is listed from this many digits on (a card number), or
# when a map key gives context: a positive even varint's zigzag is its half, and every
# timestamp's half would be a made-up nine-digit number (a valid ABA routing number one time
# in ten); a bare SSN needs context to be found anyway.
SINT_MIN_DIGITS = 13
# A map entry's key gives context to its value when it is text this long at most.
MAP_KEY_MAX_CHARS = 64

_VARINT, _FIXED64, _BYTES, _GROUP_START, _GROUP_END, _FIXED32 = 0, 1, 2, 3, 4, 5
_COMPRESSED, _TRAILER = 0x01, 0x80
_FRAME_HEAD = 5
_GZIP_MAGIC = b"\x1f\x8b"
_BASE64_PIECE = re.compile(r"[A-Za-z0-9+/]+={0,2}|=+")
_MAGIC = tuple(sorted({sig for sigs in SIGNATURES.values() for sig in sigs}))


def _malformed(what: str) -> UndecodableBody:
    return UndecodableBody(f"protobuf body is not a message: {what}")


class _Budget:
    """Fields left to walk in one body (`MAX_FIELDS`)."""

    def __init__(self) -> None:
        self.left = MAX_FIELDS

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise UndecodableBody(
                f"protobuf body has more than {MAX_FIELDS} fields (readings included)"
            )


@dataclass(frozen=True)
class _Field:
    """One field on the wire, at bytes `start:end`.

    Its tag ends at `tag_end`, its value starts at `value_start` (after the length, for wire
    type 2); `value` is the number, or the length.
    """

    number: int
    wire: int
    start: int
    tag_end: int
    value_start: int
    end: int
    value: int


def _varint(data: bytes, at: int, end: int) -> tuple[int, int] | None:
    """The varint at `at` and where it ends; None if truncated or over 10 bytes."""
    value = shift = 0
    for i in range(at, min(end, at + 10)):
        byte = data[i]
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value & 0xFFFF_FFFF_FFFF_FFFF, i + 1
        shift += 7
    return None


def encode_varint(value: int) -> bytes:
    """`value` (0 or more) as a protobuf varint."""
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _fields(data: bytes, start: int, end: int, budget: _Budget) -> list[_Field] | None:
    """The fields of `data[start:end]` if it is exactly one message (groups refused), else None."""
    fields: list[_Field] = []
    at = start
    while at < end:
        budget.spend()
        tag = _varint(data, at, end)
        if tag is None:
            return None
        key, tag_end = tag
        number, wire = key >> 3, key & 7
        if number == 0 or number > 0x1FFF_FFFF:
            return None
        if wire == _VARINT:
            read = _varint(data, tag_end, end)
            if read is None:
                return None
            value, after = read
            fields.append(_Field(number, wire, at, tag_end, tag_end, after, value))
        elif wire in (_FIXED64, _FIXED32):
            size = 8 if wire == _FIXED64 else 4
            after = tag_end + size
            if after > end:
                return None
            value = int.from_bytes(data[tag_end:after], "little")
            fields.append(_Field(number, wire, at, tag_end, tag_end, after, value))
        elif wire == _BYTES:
            read = _varint(data, tag_end, end)
            if read is None:
                return None
            length, value_start = read
            after = value_start + length
            if after > end:
                return None
            fields.append(_Field(number, wire, at, tag_end, value_start, after, length))
        else:  # groups (3, 4) and the undefined wire types 6 and 7
            return None
        at = fields[-1].end
    return fields


def _zigzag(value: int) -> int:
    return (value >> 1) ^ -(value & 1)


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value >> (bits - 1) else value


def _number_readings(value: int, wire: int, context: tuple[str, ...]) -> list[tuple[str, str]]:
    """(location suffix, digits) of each reading of a number worth listing.

    The first is its primary reading, listed even when short; a double or float is listed only
    when it is a whole number of IDENTIFIER_DIGITS digits or more. The zigzag reading is
    listed from SINT_MIN_DIGITS digits on, or with context (a map entry's key).
    """
    if wire in (_FIXED64, _FIXED32):
        real = _human_real(value, wire)
        if real is not None:
            whole = real.is_integer() and len(str(int(abs(real)))) >= IDENTIFIER_DIGITS
            return [("#double" if wire == _FIXED64 else "#float", str(int(real)))] if whole else []
    bits = 32 if wire == _FIXED32 else 64
    readings = [("", str(value))]
    if len(readings[0][1]) < IDENTIFIER_DIGITS:
        return readings
    signed = _signed(value, bits)
    if signed != value:
        readings.append(("#int", str(signed)))
    if wire == _VARINT:
        zigzag = _zigzag(value)
        digits = str(zigzag)
        long_enough = len(digits.lstrip("-")) >= SINT_MIN_DIGITS
        if zigzag not in (value, signed) and (context or long_enough):
            readings.append(("#sint", digits))
    return readings


def _human_real(value: int, wire: int) -> float | None:
    """The double (fixed64) or float (fixed32) of these bits, if it reads like one a person wrote.

    That is a magnitude in [DOUBLE_MIN, DOUBLE_MAX) and a short decimal form (`19.99`).
    """
    if wire == _FIXED64:
        real = struct.unpack("<d", value.to_bytes(8, "little"))[0]
        shortest = repr(real)
    else:
        raw = value.to_bytes(4, "little")
        real = struct.unpack("<f", raw)[0]
        shortest = next(
            (t for p in range(1, 10) if struct.pack("<f", float(t := f"{real:.{p}g}")) == raw),
            repr(real),
        )
    human = real == 0 or DOUBLE_MIN <= abs(real) < DOUBLE_MAX
    return real if human and len(shortest) <= DOUBLE_MAX_REPR else None


def _packed(raw: bytes, budget: _Budget) -> list[int] | None:
    """`raw` as a packed repeated varint field, if it is exactly that."""
    values: list[int] = []
    at = 0
    while at < len(raw):
        budget.spend()
        read = _varint(raw, at, len(raw))
        if read is None:
            return None
        values.append(read[0])
        at = read[1]
    return values


def _sniffed_text(raw: bytes) -> tuple[str, str] | None:
    """(text, charset) when `raw` is mostly printable UTF-8, UTF-16 or UTF-32 (`sniff_text`)."""
    try:
        return sniff_text(raw)
    except UndecodableBody:
        return None


def _utf8(raw: bytes) -> tuple[str, str] | None:
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return None


def _known_format(raw: bytes) -> bool:
    return any(raw[offset : offset + len(magic)] == magic for offset, magic in _MAGIC)


@dataclass
class _Message:
    """One reading of bytes as a message: its fields, and the readings of each field.

    `path` is the location of the field holding it ("" for the top); `texts` maps a field's
    index to the location and charset of its text reading, `nested` to its message reading.
    """

    path: str
    fields: list[_Field]
    texts: dict[int, tuple[str, str]] = field(default_factory=dict)
    nested: dict[int, _Message] = field(default_factory=dict)


class _Walker:
    """Reads a message's fields into a `Nest`: its texts, numbers and nested messages."""

    def __init__(self, data: bytes, nest: Nest, budget: _Budget) -> None:
        self.data = data
        self.nest = nest
        self.budget = budget

    def message(
        self, start: int, end: int, path: str, field_path: str, level: int, guess: bool = False
    ) -> _Message | None:
        """The message in `data[start:end]` with its readings recorded, or None if it is none.

        `guess`: the bytes are text too, so this reading is a guess; its numbers are left out.
        Printable text often parses as fields of numbers (`Maria` is field 9, a fixed32, ten
        digits), while the numbers a sender means (an identifier as a varint or fixed value)
        have bytes that are no printable text (NULs, bytes over 0x7F), so are read where the
        bytes are no text.
        """
        fields = _fields(self.data, start, end, self.budget)
        if fields is None or (path and not fields):
            return None
        if level > MAX_MESSAGE_DEPTH:
            raise UndecodableBody(
                f"protobuf body nests messages more than {MAX_MESSAGE_DEPTH} deep"
            )
        node = _Message(path, fields)
        value_context = self._map_key(fields)
        seen: dict[int, int] = {}
        for i, f in enumerate(fields):
            count = seen.get(f.number, 0)
            seen[f.number] = count + 1
            step = f"{path}.{f.number}" if path else f"pb:{f.number}"
            location = f"{step}[{count}]" if count else step
            inner_field = f"{field_path}.{f.number}" if field_path else f"pb:{f.number}"
            context = value_context if f.number == 2 else ()
            if f.wire == _BYTES:
                self._bytes(node, i, f, location, inner_field, context, level, guess)
            else:
                self._numbers(location, inner_field, f.value, f.wire, context, guess)
        return node

    def _map_key(self, fields: list[_Field]) -> tuple[str, ...]:
        """The words of a map entry's key (field 1, text), as context for its value (field 2)."""
        if len(fields) != 2 or [f.number for f in fields] != [1, 2] or fields[0].wire != _BYTES:
            return ()
        key = fields[0]
        if key.end - key.value_start > MAP_KEY_MAX_CHARS:
            return ()
        try:
            text = self.data[key.value_start : key.end].decode("utf-8")
        except UnicodeDecodeError:
            return ()
        return context_words(text) if text.isprintable() else ()

    def _bytes(
        self,
        node: _Message,
        index: int,
        f: _Field,
        location: str,
        field_path: str,
        context: tuple[str, ...],
        level: int,
        guess: bool,
    ) -> None:
        if f.end == f.value_start:
            return
        raw = self.data[f.value_start : f.end]
        text = _sniffed_text(raw)
        inner = self.message(
            f.value_start, f.end, location, field_path, level + 1, guess or text is not None
        )
        if text is None and inner is None:  # a string with control characters is a string
            text = _utf8(raw)
        if text is not None and text[0].strip():  # blank text: nothing to read or replace
            node.texts[index] = (location, text[1])
            self.nest.value(location, text[0], context, field=field_path)
        if inner is not None:
            node.nested[index] = inner
        if text is not None or inner is not None:
            return
        packed = None if _known_format(raw) else _packed(raw, self.budget)
        if packed is not None:
            packed_field = f"{field_path}#packed"
            for j, value in enumerate(packed):
                self._numbers(
                    f"{location}#packed[{j}]", packed_field, value, _VARINT, context, guess
                )
        elif _known_format(raw) or len(raw) > OPAQUE_MAX_BYTES:
            self.nest.uninspectable.append(location)

    def _numbers(
        self,
        location: str,
        field_path: str,
        value: int,
        wire: int,
        context: tuple[str, ...],
        guess: bool,
    ) -> None:
        if guess:
            return
        for mark, digits in _number_readings(value, wire, context):
            analyzed = len(digits.lstrip("-")) >= IDENTIFIER_DIGITS
            self.nest.segment(
                location + mark,
                digits,
                context,
                field=field_path + mark,
                rewritable=False,
                analyzed=analyzed,
            )


class _ProtobufMessage:
    """One message's bytes read (`_Walker`), and rendered again with replaced texts."""

    def __init__(self, data: bytes, depth: int, budget: _Budget) -> None:
        self._data = data
        self._nest = Nest(depth)
        root = _Walker(data, self._nest, budget).message(0, len(data), "", "", 0)
        if root is None:
            raise _malformed(_why_not(data))
        self._root = root
        self.segments = self._nest.segments
        self.uninspectable = tuple(self._nest.uninspectable)

    def render(self, replacements: Mapping[str, str]) -> bytes:
        """The message with the text at each location replaced, every length written again."""
        texts = self._nest.resolve(replacements)
        if not texts:
            return self._data
        touched = {a for location in texts for a in _enclosing(location)}
        return self._render(self._root, texts, touched)

    def _render(self, node: _Message, texts: Mapping[str, str], touched: set[str]) -> bytes:
        data = self._data
        out = bytearray()
        for i, f in enumerate(node.fields):
            text = node.texts.get(i)
            inner = node.nested.get(i)
            new_text = texts.get(text[0]) if text is not None else None
            inner_changed = inner is not None and inner.path in touched
            if new_text is not None and inner_changed:
                raise UndecodableBody(
                    f"protobuf field {inner.path if inner else ''} is read as text and as a "
                    "message, and both readings would change: they cannot be merged"
                )
            if new_text is not None and text is not None:
                value = new_text.encode(text[1], errors="replace")
            elif inner is not None and inner_changed:
                value = self._render(inner, texts, touched)
            else:
                out += data[f.start : f.end]
                continue
            out += data[f.start : f.tag_end] + encode_varint(len(value)) + value
        return bytes(out)


def _enclosing(location: str) -> list[str]:
    """The paths of the messages a field's location lies in: `pb:1`, `pb:1.3` for `pb:1.3.5`."""
    steps = location.split(".")
    return [".".join(steps[:n]) for n in range(1, len(steps))]


def _why_not(data: bytes) -> str:
    """Where and why `data` fails to parse as a message (no content quoted)."""
    at = 0
    while at < len(data):
        tag = _varint(data, at, len(data))
        if tag is None:
            return f"a truncated or over-long tag at byte {at}"
        key, after = tag
        number, wire = key >> 3, key & 7
        if number == 0:
            return f"field number 0 at byte {at}"
        if wire in (_GROUP_START, _GROUP_END):
            return f"a group (wire type {wire}) at byte {at}: groups are not read"
        if wire > _FIXED32:
            return f"wire type {wire} at byte {at}"
        if wire in (_VARINT, _BYTES):
            read = _varint(data, after, len(data))
            if read is None:
                return f"a truncated or over-long varint at byte {after}"
            after = read[1] + (read[0] if wire == _BYTES else 0)
        else:
            after += 8 if wire == _FIXED64 else 4
        if after > len(data):
            return f"field {number} at byte {at} runs past the end"
        at = after
    return "it does not parse"


class ProtobufDocument:
    """A protobuf message body (`application/x-protobuf`), read without a schema.

    Locations `pb:1.3[2]`, fields `pb:1.3` (module docstring). `rebuild` writes replaced text
    fields with their lengths, and every enclosing length, again.
    """

    def __init__(self, body: bytes, depth: int = 0) -> None:
        self._message = _ProtobufMessage(body, depth, _Budget())
        self.segments: tuple[Segment, ...] = self._message.segments
        self.uninspectable: tuple[str, ...] = self._message.uninspectable

    def rebuild(self, replacements: Mapping[str, str]) -> bytes:
        """The message with the replaced texts (`KeyError` for a location that is none)."""
        return self._message.render(replacements)


@dataclass(frozen=True)
class _Frame:
    """One length-prefixed message: its flag byte, its bytes as sent, and as read (inflated).

    `names` are the file names and comments of its gzip headers.
    """

    flag: int
    raw: bytes
    payload: bytes
    names: tuple[str, ...] = ()


class GrpcDocument:
    """A gRPC, gRPC-web or gRPC-web-text body: its length-prefixed messages (module docstring).

    Message `i` is `grpc:m<i>`: a protobuf message (`grpc:m0>pb:1.3[2]`), a JSON document for
    the `+json` types (`grpc:m0>$.ssn`), or a gRPC-web trailer frame's text (`grpc:m1`).
    """

    def __init__(self, body: bytes, content_type: str, depth: int = 0) -> None:
        self._body = body
        self._text = content_type in GRPC_TEXT_TYPES
        self._json = content_type in GRPC_JSON_TYPES
        self._web = content_type.startswith("application/grpc-web")
        self._frames = _frames(_unbase64(body) if self._text else body, self._web)
        self._nest = Nest(depth)
        self._messages: dict[str, _ProtobufMessage] = {}
        budget = _Budget()
        for i, frame in enumerate(self._frames):
            self._read(f"grpc:m{i}", frame, depth, budget)
        self.segments: tuple[Segment, ...] = self._nest.segments
        self.uninspectable: tuple[str, ...] = tuple(self._nest.uninspectable)

    def _read(self, location: str, frame: _Frame, depth: int, budget: _Budget) -> None:
        for j, text in enumerate(frame.names):
            if text.strip():
                self._nest.segment(
                    f"{location}#gzip[{j}]", text, field="grpc:gzip", rewritable=False
                )
        if frame.flag & _TRAILER:
            try:
                text = frame.payload.decode("utf-8")
            except UnicodeDecodeError as e:
                raise UndecodableBody(
                    f"gRPC-web trailer frame {location} is not UTF-8 (byte {e.start})"
                ) from None
            self._nest.value(location, text, field="grpc:trailers")
        elif self._json:
            try:
                node = JsonNode(load_json(frame.payload), (), depth + 1)
            except (ValueError, RecursionError) as e:
                raise UndecodableBody(
                    f"gRPC message {location} is not JSON ({type(e).__name__})"
                ) from None
            self._nest.child(location, node, field="")
        else:
            message = _ProtobufMessage(frame.payload, depth + 1, budget)
            self._messages[location] = message
            self._nest.adopt(location, message.segments, message.uninspectable, field="")

    def rebuild(self, replacements: Mapping[str, str]) -> bytes:
        """The body with replaced texts; frame lengths (and base64, gzip) written again."""
        own, nested = self._nest.split(replacements)
        if not own and not nested:
            return self._body
        out = bytearray()
        for i, frame in enumerate(self._frames):
            location = f"grpc:m{i}"
            if location in own:
                payload = own[location].encode("utf-8")
            elif location in nested and location in self._messages:
                payload = self._messages[location].render(nested[location])
            elif location in nested:
                payload = self._nest.children[location].render(nested[location]).encode("utf-8")
            else:
                out += frame.raw
                continue
            if frame.flag & _COMPRESSED:
                payload = gzip.compress(payload, mtime=0)
            out += bytes([frame.flag]) + len(payload).to_bytes(4, "big") + payload
        return base64.b64encode(bytes(out)) if self._text else bytes(out)


def _frames(body: bytes, web: bool) -> list[_Frame]:
    """The length-prefixed messages of a gRPC body, compressed ones inflated."""
    frames: list[_Frame] = []
    at = 0
    while at < len(body):
        if len(frames) >= MAX_MESSAGES:
            raise UndecodableBody(f"gRPC body has more than {MAX_MESSAGES} messages")
        if at + _FRAME_HEAD > len(body):
            raise UndecodableBody(f"gRPC body ends inside a message header at byte {at}")
        flag = body[at]
        allowed = _COMPRESSED | (_TRAILER if web else 0)
        if flag & ~allowed:
            raise UndecodableBody(f"gRPC message at byte {at} has an unknown flag 0x{flag:02x}")
        length = int.from_bytes(body[at + 1 : at + _FRAME_HEAD], "big")
        end = at + _FRAME_HEAD + length
        if end > len(body):
            raise UndecodableBody(f"gRPC message at byte {at} runs past the end of the body")
        raw = body[at:end]
        payload = raw[_FRAME_HEAD:]
        names: list[str] = []
        if flag & _COMPRESSED:
            payload = _gunzip(payload, f"gRPC message at byte {at}", names)
        frames.append(_Frame(flag, raw, payload, tuple(names)))
        at = end
    return frames


def _gunzip(data: bytes, where: str, names: list[str]) -> bytes:
    if not data.startswith(_GZIP_MAGIC):
        raise UndecodableBody(
            f"{where} is compressed, but not with gzip: the grpc-encoding header is not "
            "available to the body's codec, and only gzip is recognised by its bytes"
        )
    limit = min(MAX_INFLATED_BYTES, int(max(len(data), 1) * MAX_INFLATE_RATIO))
    try:
        return decode_body(data, "gzip", limit, MAX_INFLATE_RATIO, names)
    except BodyTooLarge as e:
        raise UndecodableBody(f"{where}: {e}") from None


def _unbase64(body: bytes) -> bytes:
    """A gRPC-web-text body decoded: base64 chunks, each padded on its own."""
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError as e:
        raise UndecodableBody(f"gRPC-web-text body is not base64 (byte {e.start})") from None
    text = text.strip()
    pieces = _BASE64_PIECE.findall(text)
    if "".join(pieces) != text:
        raise UndecodableBody("gRPC-web-text body is not base64 (a character outside it)")
    out = bytearray()
    for piece in pieces:
        try:
            out += base64.b64decode(piece, validate=True)
        except (binascii.Error, ValueError):
            raise UndecodableBody("gRPC-web-text body is not base64 (bad padding)") from None
    return bytes(out)
