"""Tests for dlp_proxy/core/codecs/protobuf.py: protobuf and gRPC bodies read without a schema."""

from __future__ import annotations

import base64
import gzip
import json
import struct
from dataclasses import dataclass
from typing import Union

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlp_proxy.core.codecs import GrpcDocument, ProtobufDocument, parse_body
from dlp_proxy.core.codecs.protobuf import (
    MAX_MESSAGE_DEPTH,
    MAX_MESSAGES,
    OPAQUE_MAX_BYTES,
    encode_varint,
)
from dlp_proxy.core.inspect import Message
from dlp_proxy.errors import UndecodableBody
from dlp_proxy.policy.model import Action, Direction
from tests.core.codecs.support import by_location
from tests.core.test_inspect import RegexDetector, run

# --- a small encoder ---------------------------------------------------------------------------


def tag(number: int, wire: int) -> bytes:
    """A field's tag."""
    return encode_varint(number << 3 | wire)


def string(number: int, value: str | bytes) -> bytes:
    """A length-delimited field (string, bytes or a nested message)."""
    raw = value.encode() if isinstance(value, str) else value
    return tag(number, 2) + encode_varint(len(raw)) + raw


def varint(number: int, value: int) -> bytes:
    """A varint field (`value` as uint64: negative numbers in two's complement)."""
    return tag(number, 0) + encode_varint(value & 0xFFFF_FFFF_FFFF_FFFF)


def fixed64(number: int, value: int) -> bytes:
    """A fixed64 field."""
    return tag(number, 1) + value.to_bytes(8, "little")


def fixed32(number: int, value: int) -> bytes:
    """A fixed32 field."""
    return tag(number, 5) + value.to_bytes(4, "little")


def frame(message: bytes, flag: int = 0) -> bytes:
    """One gRPC length-prefixed message."""
    return bytes([flag]) + len(message).to_bytes(4, "big") + message


def zigzag(n: int) -> int:
    """`n` as sint64 puts it on the wire."""
    return (n << 1) ^ (n >> 63)


SSN = "219-09-9999"
CARD = 4539148803436467


# --- readings ----------------------------------------------------------------------------------


def test_a_grpc_body_was_refused_before_when_a_string_was_over_127_bytes() -> None:
    """A gRPC message with a long string is read, its text at `grpc:m0>pb:1`."""
    body = frame(string(1, "description " * 20 + f"ssn {SSN}"))
    doc = parse_body("application/grpc", body)
    assert isinstance(doc, GrpcDocument)
    assert by_location(doc.segments)["grpc:m0>pb:1"].endswith(f"ssn {SSN}")


def test_nested_and_repeated_fields_are_located_by_number_and_occurrence() -> None:
    """Field 3's third occurrence inside field 1 is `pb:1.3[2]`, its field `pb:1.3`."""
    inner = string(3, "first " * 30) + string(3, "second") + string(3, f"ssn {SSN}")
    doc = ProtobufDocument(string(1, inner) + string(2, "note"))
    texts = by_location(doc.segments)
    assert texts["pb:1.3"].startswith("first")
    assert texts["pb:1.3[1]"] == "second"
    assert texts["pb:1.3[2]"] == f"ssn {SSN}"
    assert texts["pb:2"] == "note"
    assert {s.field for s in doc.segments if s.location.startswith("pb:1.3")} == {"pb:1.3"}


def test_numbers_are_digits_with_their_zigzag_and_signed_readings() -> None:
    """A card as uint64, an SSN as sint64 and as a negative int64 are listed, never rewritable."""
    body = varint(1, CARD) + varint(2, zigzag(219099999)) + varint(3, -219099999)
    doc = ProtobufDocument(body)
    texts = by_location(doc.segments)
    assert texts["pb:1"] == str(CARD)
    assert texts["pb:2"] == str(zigzag(219099999))  # no context: no zigzag reading
    assert texts["pb:3#int"] == "-219099999"
    assert not any(s.rewritable for s in doc.segments)


def test_fixed_numbers_and_doubles() -> None:
    """fixed64 and fixed32 are listed as integers; a price as a double is not a number to read."""
    price = int.from_bytes(struct.pack("<d", 19.99), "little")
    whole = int.from_bytes(struct.pack("<d", 219099999.0), "little")
    body = fixed64(1, CARD) + fixed32(2, 219099999) + fixed64(3, price) + fixed64(4, whole)
    texts = by_location(ProtobufDocument(body).segments)
    assert texts["pb:1"] == str(CARD)
    assert texts["pb:2"] == "219099999"
    assert not any(location.startswith("pb:3") for location in texts)
    assert texts["pb:4#double"] == "219099999"


def test_short_numbers_are_for_joins_only() -> None:
    """A small varint is listed with analyzed=False, as a short JSON integer is."""
    doc = ProtobufDocument(varint(1, 42))
    assert [(s.text, s.analyzed) for s in doc.segments] == [("42", False)]


def test_a_map_entry_key_is_the_context_of_its_value() -> None:
    """`map<string, int64>` {"ssn": n}: the value's context is the key's words."""
    doc = ProtobufDocument(string(7, string(1, "ssn") + varint(2, 219099999)))
    value = next(s for s in doc.segments if s.location == "pb:7.2")
    assert value.context == ("ssn",)


def test_json_inside_a_string_field_is_a_nested_document() -> None:
    """A string holding JSON is read as JSON: `pb:2>$.customer.ssn`."""
    doc = ProtobufDocument(string(2, json.dumps({"customer": {"ssn": SSN}})))
    assert by_location(doc.segments)["pb:2>$.customer.ssn"] == SSN


def test_a_string_padded_with_control_characters_is_still_text() -> None:
    """Not mostly printable, not a message: still a string to the vendor."""
    doc = ProtobufDocument(string(1, f"\x01\x01\x01{SSN}"))
    assert by_location(doc.segments)["pb:1"] == f"\x01\x01\x01{SSN}"


def test_printable_bytes_that_are_a_message_are_read_both_ways() -> None:
    """`\\n(` + 40 printable characters is text and a message: both readings are listed."""
    inner = string(1, "x" * 28 + f"ssn {SSN}")
    texts = by_location(ProtobufDocument(string(4, inner)).segments)
    assert texts["pb:4"] == inner.decode()
    assert texts["pb:4.1"] == "x" * 28 + f"ssn {SSN}"


def test_utf16_string_is_text_in_its_charset_and_rebuilt_in_it() -> None:
    """A UTF-16LE string field (BOM) is read and rewritten in UTF-16LE."""
    raw = ("\ufeff" + f"ssn {SSN}").encode("utf-16-le")
    doc = ProtobufDocument(string(1, raw))
    assert by_location(doc.segments)["pb:1"] == f"\ufeffssn {SSN}"
    out = ProtobufDocument(doc.rebuild({"pb:1": "\ufeffok"}))
    assert by_location(out.segments)["pb:1"] == "\ufeffok"


def test_packed_varints_are_numbers() -> None:
    """Bytes that are neither text nor a message are read as packed varints."""
    packed = encode_varint(CARD) + encode_varint(300)
    texts = by_location(ProtobufDocument(string(5, packed)).segments)
    assert texts["pb:5#packed[0]"] == str(CARD)
    assert texts["pb:5#packed[1]"] == "300"


def test_a_uuid_in_bytes_passes_but_long_opaque_bytes_are_uninspectable() -> None:
    """16 opaque bytes pass; more than OPAQUE_MAX_BYTES, or a known format, are uninspectable."""
    uuid = bytes.fromhex("9f1c2b7ad3e84c0fa1b2c3d4e5f6a7b8")
    assert ProtobufDocument(string(1, uuid)).uninspectable == ()
    blob = bytes(range(0x80, 0x100)) * 2  # every byte >= 0x80: no varint ends, no UTF-8
    assert len(blob) > OPAQUE_MAX_BYTES
    assert ProtobufDocument(string(1, blob)).uninspectable == ("pb:1",)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8
    assert ProtobufDocument(string(2, png)).uninspectable == ("pb:2",)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"\x0a\x05ab", "runs past"),
        (b"\x00\x01", "field number 0"),
        (b"\x0b\x0c", "group"),
        (b"\x0e\x01", "wire type 6"),
        (b"\x08" + b"\xff" * 11, "varint"),
    ],
)
def test_bytes_that_are_no_message_are_refused(body: bytes, why: str) -> None:
    """Truncated fields, field 0, groups, wire types 6/7, long varints: UndecodableBody."""
    with pytest.raises(UndecodableBody, match=why):
        ProtobufDocument(body)


# --- gRPC framing ------------------------------------------------------------------------------


def test_every_message_of_a_stream_and_the_web_trailer_frame_are_read() -> None:
    """Two messages and a gRPC-web trailer frame: `grpc:m0`, `grpc:m1`, `grpc:m2`."""
    body = frame(string(1, "hello")) + frame(string(1, f"ssn {SSN}"))
    body += frame(b"grpc-status: 0\r\ngrpc-message: ok\r\n", 0x80)
    texts = by_location(GrpcDocument(body, "application/grpc-web").segments)
    assert texts["grpc:m1>pb:1"] == f"ssn {SSN}"
    assert texts["grpc:m2"].startswith("grpc-status: 0")


def test_a_trailer_flag_in_plain_grpc_and_unknown_flags_are_refused() -> None:
    """Flag 0x80 is gRPC-web's only; other bits are never valid."""
    with pytest.raises(UndecodableBody, match="flag"):
        GrpcDocument(frame(b"grpc-status: 0\r\n", 0x80), "application/grpc")
    with pytest.raises(UndecodableBody, match="flag"):
        GrpcDocument(frame(b"", 0x02), "application/grpc")


def test_truncated_frames_are_refused() -> None:
    """A frame header or message cut short is UndecodableBody."""
    with pytest.raises(UndecodableBody, match="header"):
        GrpcDocument(b"\x00\x00\x00", "application/grpc")
    with pytest.raises(UndecodableBody, match="past the end"):
        GrpcDocument(b"\x00\x00\x00\x00\x09\x0a", "application/grpc")


def test_gzip_messages_are_inflated_and_compressed_again() -> None:
    """A gzip-compressed message is read; rebuilding compresses the new message again."""
    body = frame(gzip.compress(string(1, f"ssn {SSN}")), 0x01)
    doc = GrpcDocument(body, "application/grpc")
    assert by_location(doc.segments)["grpc:m0>pb:1"] == f"ssn {SSN}"
    out = doc.rebuild({"grpc:m0>pb:1": "ssn <SSN>"})
    assert out[0] == 0x01
    assert gzip.decompress(out[5:]) == string(1, "ssn <SSN>")


def test_other_compression_is_refused() -> None:
    """A compressed message that is not gzip cannot be read without grpc-encoding."""
    with pytest.raises(UndecodableBody, match="grpc-encoding"):
        GrpcDocument(frame(b"\x28\xb5\x2f\xfd" + b"\x00" * 8, 0x01), "application/grpc")


def test_a_gzip_bomb_is_refused() -> None:
    """A message inflating past its bound is UndecodableBody."""
    bomb = gzip.compress(b"\x00" * (20 * 1024 * 1024))
    with pytest.raises(UndecodableBody):
        GrpcDocument(frame(bomb, 0x01), "application/grpc")


def test_grpc_web_text_is_base64_of_frames_and_rebuilt_as_base64() -> None:
    """Chunks padded one by one decode; a rebuilt body is base64 again."""
    first, second = frame(string(1, "a")), frame(string(1, f"ssn {SSN}"))
    body = base64.b64encode(first) + base64.b64encode(second)
    doc = GrpcDocument(body, "application/grpc-web-text")
    assert by_location(doc.segments)["grpc:m1>pb:1"] == f"ssn {SSN}"
    assert doc.rebuild({}) == body
    out = base64.b64decode(doc.rebuild({"grpc:m1>pb:1": "gone"}))
    assert out == first + frame(string(1, "gone"))


def test_grpc_json_messages_are_json_documents() -> None:
    """`application/grpc+json`: each message is JSON, rebuilt with its frame length."""
    doc = GrpcDocument(frame(json.dumps({"ssn": SSN}).encode()), "application/grpc+json")
    assert by_location(doc.segments)["grpc:m0>$.ssn"] == SSN
    out = doc.rebuild({"grpc:m0>$.ssn": "X"})
    assert out == frame(b'{"ssn":"X"}')


def test_many_messages_are_bounded() -> None:
    """More than MAX_MESSAGES messages in one body are refused."""
    with pytest.raises(UndecodableBody, match="messages"):
        GrpcDocument(frame(b"") * (MAX_MESSAGES + 1), "application/grpc")


def test_deep_nesting_is_refused_quickly() -> None:
    """A message nested 1,000 deep is refused past MAX_MESSAGE_DEPTH, in well under a second."""
    body = varint(1, 1)
    for _ in range(1000):
        body = string(1, body)
    with pytest.raises(UndecodableBody, match=str(MAX_MESSAGE_DEPTH)):
        ProtobufDocument(body)


# --- rebuild -----------------------------------------------------------------------------------


def test_replacing_a_nested_text_writes_every_length_again() -> None:
    """A longer text two levels down: its length, its parents' and the frame's change."""
    inner = string(2, string(3, f"ssn {SSN}") + varint(4, 7))
    body = frame(string(1, "head") + inner + fixed32(9, 5))
    doc = GrpcDocument(body, "application/grpc")
    new = "ssn " + "<US_SSN>" * 30  # over 127 bytes: a two-byte length
    out = doc.rebuild({"grpc:m0>pb:2.3": new})
    assert int.from_bytes(out[1:5], "big") == len(out) - 5
    texts = by_location(GrpcDocument(out, "application/grpc").segments)
    assert texts["grpc:m0>pb:2.3"] == new
    assert texts["grpc:m0>pb:1"] == "head"
    assert texts["grpc:m0>pb:2.4"] == "7"
    assert texts["grpc:m0>pb:9"] == "5"


def test_a_number_or_unknown_location_cannot_be_replaced() -> None:
    """Numbers are not rewritable, unknown locations are KeyError."""
    doc = ProtobufDocument(varint(1, CARD) + string(2, "x"))
    with pytest.raises(KeyError):
        doc.rebuild({"pb:1": "token"})
    with pytest.raises(KeyError):
        doc.rebuild({"pb:3": "token"})


def test_both_readings_of_one_field_replaced_cannot_be_merged() -> None:
    """The text and the nested reading of one field both changed: UndecodableBody."""
    inner = string(1, "x" * 28 + f"ssn {SSN}")
    doc = ProtobufDocument(string(4, inner))
    with pytest.raises(UndecodableBody, match="both"):
        doc.rebuild({"pb:4": "a", "pb:4.1": "b"})
    assert ProtobufDocument(doc.rebuild({"pb:4.1": "b"})).segments[0].text == "b"


# --- properties --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    """A string field."""

    number: int
    value: str


@dataclass(frozen=True)
class Number:
    """A varint field."""

    number: int
    value: int


@dataclass(frozen=True)
class Sub:
    """A nested message field."""

    number: int
    fields: tuple[Tree, ...]


Tree = Union[Text, Number, Sub]  # noqa: UP007 - a forward reference in a dataclass


def encode(fields: tuple[Tree, ...]) -> bytes:
    """A message of `fields`."""
    out = b""
    for f in fields:
        if isinstance(f, Text):
            out += string(f.number, f.value)
        elif isinstance(f, Number):
            out += varint(f.number, f.value)
        else:
            out += string(f.number, encode(f.fields))
    return out


def strings_of(fields: tuple[Tree, ...]) -> list[str]:
    """Every non-blank string in a tree."""
    out: list[str] = []
    for f in fields:
        if isinstance(f, Text) and f.value.strip():
            out.append(f.value)
        elif isinstance(f, Sub):
            out += strings_of(f.fields)
    return out


# Text as senders write it: printable (no controls, unassigned or private-use code points).
words = st.text(
    st.characters(
        codec="utf-8",
        exclude_categories=("Cs", "Cc", "Cn", "Co"),
        exclude_characters="\ufffd\ufffe\uffff",
    ),
    min_size=1,
)
numbers = st.integers(1, 60)
trees: st.SearchStrategy[tuple[Tree, ...]] = st.recursive(
    st.tuples(
        st.one_of(
            st.builds(Text, numbers, words), st.builds(Number, numbers, st.integers(0, 2**64 - 1))
        )
    ),
    lambda children: st.lists(
        st.one_of(
            st.builds(Text, numbers, words),
            st.builds(Number, numbers, st.integers(0, 2**64 - 1)),
            st.builds(Sub, numbers, children),
        ),
        min_size=1,
        max_size=4,
    ).map(tuple),
    max_leaves=12,
)


def _readable(text: str) -> bool:
    """Whether the gateway takes a string's bytes for text (not a nested document)."""
    return not text.lstrip().startswith(("{", "[")) and "%" not in text and len(text) < 16


@settings(max_examples=150, deadline=None)
@given(trees)
def test_every_string_of_a_random_tree_is_read(fields: tuple[Tree, ...]) -> None:
    """Encoded then read: every string is a segment's text, and rebuild({}) is identical."""
    body = encode(fields)
    doc = ProtobufDocument(body)
    texts = {s.text for s in doc.segments}
    for value in strings_of(fields):
        if _readable(value):
            assert value in texts
    assert doc.rebuild({}) == body


@settings(max_examples=100, deadline=None)
@given(trees, st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300))
def test_replacing_the_first_string_reencodes_lengths(fields: tuple[Tree, ...], new: str) -> None:
    """A replacement of another length decodes back to the new text, the rest unchanged."""
    body = encode((Text(1, "ssn 219-09-9999 " * 3), *fields))
    doc = ProtobufDocument(body)
    out = doc.rebuild({"pb:1": new})
    assert out.endswith(encode(fields))
    assert out.startswith(string(1, new))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_raise_nothing_but_undecodable_body(body: bytes) -> None:
    """Random protobuf or gRPC bodies: a document, or UndecodableBody, never anything else."""
    for kind in ("application/x-protobuf", "application/grpc-web", "application/grpc-web-text"):
        try:
            doc = parse_body(kind, body)
        except UndecodableBody:
            continue
        assert doc.rebuild({}) == body


# --- through inspection ------------------------------------------------------------------------


def _grpc_message(body: bytes) -> Message:
    return Message(
        direction=Direction.REQUEST,
        method="POST",
        host="api.vendor.example",
        path="/acme.Tickets/Create",
        query=(),
        content_type="application/grpc",
        body=body,
    )


def test_an_email_in_a_grpc_string_is_redacted_and_the_frame_stays_valid() -> None:
    """Inspection redacts inside the message; the frame's and the field's lengths are right."""
    body = frame(string(1, "ticket 7") + string(2, string(3, "write to maria@example.com")))
    decision = run(_grpc_message(body))
    assert decision.action is Action.REDACT
    assert decision.body is not None
    doc = GrpcDocument(decision.body, "application/grpc")
    texts = by_location(doc.segments)
    assert "maria@example.com" not in texts["grpc:m0>pb:2.3"]
    assert texts["grpc:m0>pb:1"] == "ticket 7"


def test_an_ssn_in_a_grpc_string_blocks_and_a_card_number_varint_cannot_be_rewritten() -> None:
    """An SSN blocks (the rule); a card as a uint64 blocks too: a number cannot be a token."""
    assert run(_grpc_message(frame(string(1, f"ssn {SSN}")))).action is Action.BLOCK
    detector = RegexDetector(patterns={"CREDIT_CARD": (r"^4539148803436467$", 1.0)})
    decision = run(_grpc_message(frame(varint(1, CARD))), detector=detector)
    assert decision.action is Action.BLOCK


def test_zigzag_readings_are_for_card_lengths_or_with_context() -> None:
    """A card as sint64 is read back; a timestamp's half is not; a map key enables it."""
    texts = by_location(ProtobufDocument(varint(1, zigzag(CARD)) + varint(2, 1718035200)).segments)
    assert texts["pb:1#sint"] == str(CARD)
    assert "pb:2#sint" not in texts
    entry = ProtobufDocument(string(3, string(1, "ssn") + varint(2, zigzag(219099999))))
    assert by_location(entry.segments)["pb:3.2#sint"] == "219099999"


def test_a_float_price_is_not_an_integer_to_read() -> None:
    """A float32 249.99 is no ten-digit number; an integer fixed32 is."""
    texts = by_location(
        ProtobufDocument(fixed32(1, struct.unpack("<I", struct.pack("<f", 249.99))[0])).segments
    )
    assert texts == {}


def test_text_read_as_a_message_lists_no_numbers() -> None:
    """`Maria` parses as field 9 (a fixed32): that guess lists no ten-digit number."""
    doc = ProtobufDocument(string(5, string(1, "Maria") + string(2, "Yellowish")))
    assert [s.text for s in doc.segments] == ["Maria", "Yellowish"]
