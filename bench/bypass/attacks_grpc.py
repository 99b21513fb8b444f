"""The `grpc` class of issue 15: gRPC, gRPC-web and protobuf bodies.

The secret in a protobuf string field (short, over 127 bytes, nested, the third of a repeated
field, JSON inside it), as a number (uint64, fixed64, sint64, a map entry's value), in the
second message of a stream, over gRPC-web and gRPC-web-text (base64), in a gzip-compressed
message, and in a plain `application/x-protobuf` body. gRPC is HTTP/2: the cases are written
as HTTP/2 requests with `te: trailers`, and the matrix sends them over HTTP/1.1 too (as
gRPC-web is). `PROTOBUF` is the undo of a vendor reading protobuf without a schema: every
string, every number in decimal (zigzag and signed too). Benign twins register as controls.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import struct
import zlib
from collections.abc import Iterator

from bench.bypass.cases import BENIGN, Made, post
from bench.bypass.client import H2Request
from bench.bypass.controls import case as control
from bench.bypass.pii import Secret
from bench.bypass.registry import CARD, H2, HTTP, HTTPS, REVERSE, SSN, case
from bench.bypass.seen import Seen, decoded_body
from bench.bypass.undo import Candidates, Undo

__all__: list[str] = []

GRPC = "grpc"
Headers = tuple[tuple[str, str], ...]

# --- a small protobuf encoder -----------------------------------------------------------------


def varint_bytes(value: int) -> bytes:
    """`value` (uint64; negative numbers in two's complement) as a varint."""
    value &= 0xFFFF_FFFF_FFFF_FFFF
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def text(number: int, value: str | bytes) -> bytes:
    """A length-delimited field: a string, bytes or a nested message."""
    raw = value.encode() if isinstance(value, str) else value
    return varint_bytes(number << 3 | 2) + varint_bytes(len(raw)) + raw


def number(number: int, value: int) -> bytes:
    """A varint field."""
    return varint_bytes(number << 3) + varint_bytes(value)


def fixed64(number: int, value: int) -> bytes:
    """A fixed64 field."""
    return varint_bytes(number << 3 | 1) + value.to_bytes(8, "little")


def double(number: int, value: float) -> bytes:
    """A double field."""
    return varint_bytes(number << 3 | 1) + struct.pack("<d", value)


def float32(number: int, value: float) -> bytes:
    """A float field."""
    return varint_bytes(number << 3 | 5) + struct.pack("<f", value)


def frame(message: bytes, flag: int = 0) -> bytes:
    """One gRPC length-prefixed message."""
    return bytes([flag]) + len(message).to_bytes(4, "big") + message


GRPC_HEADERS: Headers = (
    ("content-type", "application/grpc"),
    ("te", "trailers"),
    ("grpc-accept-encoding", "identity,gzip"),
    ("user-agent", "grpc-python/1.64.0"),
)


def grpc_call(
    body: bytes, method: str = "/acme.support.v1.Tickets/Create", extra: Headers = ()
) -> H2Request:
    """A unary (or client-streaming) gRPC call over HTTP/2."""
    return H2Request("POST", method, (*GRPC_HEADERS, *extra), body)


def grpc_web(body: bytes, ctype: str = "application/grpc-web+proto") -> Made:
    """A gRPC-web call as a browser makes it: HTTP/1.1."""
    headers = (("Content-Type", ctype), ("X-Grpc-Web", "1"), ("Accept", ctype))
    return post("/acme.support.v1.Tickets/Create", body, headers)


# --- the vendor's schema-less reader ----------------------------------------------------------


def _varint(data: bytes, at: int) -> tuple[int, int] | None:
    value = shift = 0
    for i in range(at, min(len(data), at + 10)):
        value |= (data[i] & 0x7F) << shift
        if data[i] < 0x80:
            return value & 0xFFFF_FFFF_FFFF_FFFF, i + 1
        shift += 7
    return None


def _fields(data: bytes) -> list[tuple[int, int | bytes]] | None:
    """(wire type, value) of every field, or None when `data` is no message."""
    out: list[tuple[int, int | bytes]] = []
    at = 0
    while at < len(data):
        tag = _varint(data, at)
        if tag is None or tag[0] >> 3 == 0:
            return None
        wire, at = tag[0] & 7, tag[1]
        if wire == 0:
            read = _varint(data, at)
            if read is None:
                return None
            out.append((0, read[0]))
            at = read[1]
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            if at + size > len(data):
                return None
            out.append((wire, int.from_bytes(data[at : at + size], "little")))
            at += size
        elif wire == 2:
            read = _varint(data, at)
            if read is None or read[1] + read[0] > len(data):
                return None
            out.append((2, data[read[1] : read[1] + read[0]]))
            at = read[1] + read[0]
        else:
            return None
    return out


def _readings(data: bytes, depth: int = 0) -> Iterator[bytes]:
    """Every string and every number of a message, in every reading, as a vendor might."""
    fields = _fields(data) if depth < 32 else None
    if fields is None:
        return
    for wire, value in fields:
        if isinstance(value, bytes):
            yield value
            yield from _readings(value, depth + 1)
            continue
        bits = 32 if wire == 5 else 64
        yield str(value).encode()
        yield str(value - (1 << bits) if value >> (bits - 1) else value).encode()
        yield str((value >> 1) ^ -(value & 1)).encode()
        if wire == 1:
            as_double = struct.unpack("<d", value.to_bytes(8, "little"))[0]
            if as_double == as_double and abs(as_double) < 1e20 and as_double.is_integer():
                yield str(int(as_double)).encode()


def _messages(content_type: str, body: bytes) -> list[bytes]:
    """The protobuf messages of a body: its frames (gunzipped, base64 undone), or the body."""
    ctype = content_type.split(";", 1)[0].strip().lower()
    if not ctype.startswith("application/grpc"):
        return [body]
    if "grpc-web-text" in ctype:
        try:
            body = b"".join(
                base64.b64decode(piece + b"=" * (-len(piece) % 4))
                for piece in body.replace(b"=", b"= ").split()
            )
        except (binascii.Error, ValueError):
            return []
    out: list[bytes] = []
    at = 0
    while at + 5 <= len(body):
        flag, size = body[at], int.from_bytes(body[at + 1 : at + 5], "big")
        message = body[at + 5 : at + 5 + size]
        if flag & 1:
            try:
                message = zlib.decompress(message, wbits=47)
            except zlib.error:
                message = b""
        out.append(message)
        at += 5 + size
    return out


def _read_protobuf(seen: Seen) -> Candidates:
    out: Candidates = []
    for request in seen.requests:
        body = decoded_body(request) or request.body
        ctype = request.header("content-type") or ""
        for i, message in enumerate(_messages(ctype, body)):
            found = list(_readings(message))
            if found:
                out.append((f"protobuf message {i}", b"\n".join(found)))
    return out


PROTOBUF = (Undo("schema-less protobuf reader", _read_protobuf),)


# --- attacks ----------------------------------------------------------------------------------

FILLER = (
    "Customer reports the router drops its connection every evening around eight; firmware "
    "was updated last week and the issue persists after a factory reset. "
)


@case(GRPC, SSN, H2, own=True)
def grpc_short_string(s: Secret) -> Made:
    """The SSN in a short string field of a gRPC message."""
    return grpc_call(frame(text(1, "TCK-4821") + text(2, f"ssn {s.dashed}")))


@case(GRPC, CARD, H2, own=True)
def grpc_long_string(s: Secret) -> Made:
    """A card in a string field over 127 bytes (a two-byte length)."""
    return grpc_call(frame(text(1, "TCK-4822") + text(3, FILLER + f"card {s.spaced}")))


@case(GRPC, SSN, H2, own=True)
def grpc_nested_message(s: Secret) -> Made:
    """The SSN in a string of a message nested in the request."""
    customer = text(1, "Maria") + text(2, f"ssn {s.dashed}") + number(3, 2)
    return grpc_call(frame(text(1, "TCK-4823") + text(5, customer)))


@case(GRPC, SSN, H2, own=True)
def grpc_repeated_third(s: Secret) -> Made:
    """The SSN in the third element of a repeated string field."""
    notes = text(4, "called twice") + text(4, "asked for a refund") + text(4, f"ssn {s.dashed}")
    return grpc_call(frame(text(1, "TCK-4824") + notes))


@case(GRPC, CARD, H2, undo=PROTOBUF, own=True)
def grpc_uint64_card(s: Secret) -> Made:
    """A card number as a uint64 varint."""
    return grpc_call(frame(text(1, "PAY-118") + number(2, int(s.digits))))


@case(GRPC, CARD, H2, undo=PROTOBUF, own=True)
def grpc_fixed64_card(s: Secret) -> Made:
    """A card number as a fixed64."""
    return grpc_call(frame(text(1, "PAY-119") + fixed64(2, int(s.digits))))


@case(GRPC, CARD, H2, undo=PROTOBUF, own=True)
def grpc_sint64_card(s: Secret) -> Made:
    """A card number as a sint64 (zigzag: twice the number on the wire)."""
    return grpc_call(frame(text(1, "PAY-120") + number(2, int(s.digits) << 1)))


@case(GRPC, SSN, H2, undo=PROTOBUF, own=True)
def grpc_map_entry_number(s: Secret) -> Made:
    """The SSN as the int64 value of a map<string, int64> entry keyed `ssn`."""
    # An SSN with a leading zero goes as a string value (as a number it would lose the zero).
    value = text(2, s.digits) if s.digits.startswith("0") else number(2, int(s.digits))
    entry = text(1, "ssn") + value
    return grpc_call(frame(text(1, "TCK-4825") + text(6, entry)))


@case(GRPC, SSN, H2, own=True)
def grpc_second_message(s: Secret) -> Made:
    """The SSN in the second message of a client stream."""
    first = frame(text(1, "TCK-4826") + text(2, "printer offline"))
    return grpc_call(first + frame(text(1, "TCK-4826") + text(2, f"ssn {s.dashed}")))


@case(GRPC, CARD, HTTP, own=True)
def grpc_web_card(s: Secret) -> Made:
    """A card in a gRPC-web message (HTTP/1.1)."""
    return grpc_web(frame(text(1, "PAY-121") + text(2, f"card {s.spaced}")))


@case(GRPC, SSN, HTTPS, undo=PROTOBUF, own=True)
def grpc_web_text(s: Secret) -> Made:
    """The SSN in gRPC-web-text: base64 of the frames."""
    body = base64.b64encode(frame(text(1, "TCK-4827") + text(2, f"ssn {s.dashed}")))
    return grpc_web(body, "application/grpc-web-text")


@case(GRPC, CARD, H2, undo=PROTOBUF, own=True)
def grpc_gzip_message(s: Secret) -> Made:
    """A card in a gzip-compressed gRPC message (flag 1, grpc-encoding: gzip)."""
    message = gzip.compress(text(1, "PAY-122") + text(2, f"card {s.spaced}"), mtime=0)
    return grpc_call(frame(message, 1), extra=(("grpc-encoding", "gzip"),))


@case(GRPC, SSN, H2, own=True)
def grpc_json_in_string(s: Secret) -> Made:
    """JSON inside a string field: {"customer": {"ssn": ...}}."""
    payload = json.dumps({"customer": {"name": "Maria", "ssn": s.dashed}})
    return grpc_call(frame(text(1, "TCK-4828") + text(7, payload)))


@case(GRPC, SSN, REVERSE, own=True)
def protobuf_body(s: Secret) -> Made:
    """An application/x-protobuf body (no gRPC framing)."""
    body = text(1, "TCK-4829") + text(2, text(1, f"ssn {s.dashed}"))
    return post("/v1/tickets", body, (("Content-Type", "application/x-protobuf"),))


# --- benign twins -----------------------------------------------------------------------------

DESCRIPTION = (
    "The Acme X200 mesh router covers homes up to 250 square metres with three dual-band "
    "nodes, supports WPA3, guest networks and per-device parental schedules, and updates its "
    "firmware automatically overnight. Each node has two gigabit ports; the kit ships with "
    "flat Ethernet cables, wall mounts and a quick-start card. Setup takes about ten minutes "
    "in the Acme Home app, which also shows live bandwidth per device and a weekly report."
)
UUID = "3f2b8c1e-9a4d-4e7b-b1c2-5d6e7f8a9b0c"


def _product() -> bytes:
    return (
        text(1, "SKU-X200-3PK")
        + text(2, "Acme X200 mesh router, 3-pack")
        + text(3, DESCRIPTION)
        + text(4, "https://shop.acme.example/p/x200-3pk?utm_source=feed&variant=white")
        + text(5, bytes.fromhex(UUID.replace("-", "")))
        + text(6, UUID)
        + number(7, 1718035200)  # created, seconds
        + number(8, 1718035200123)  # updated, milliseconds
        + float32(9, 249.99)
        + double(10, 1299.5)
        + number(11, 3)
        + text(12, text(1, "color") + text(2, "white"))
    )


@control(BENIGN, None, H2)
def benign_grpc_product(s: Secret) -> Made:
    """A gRPC catalogue update: long description, URL, UUIDs, timestamps, prices."""
    return grpc_call(frame(_product()), "/acme.catalog.v1.Products/Upsert")


@control(BENIGN, None, HTTP)
def benign_grpc_web_product(s: Secret) -> Made:
    """A gRPC-web catalogue query with its product message."""
    return grpc_web(frame(_product()))


@control(BENIGN, None, HTTP)
def benign_protobuf_product(s: Secret) -> Made:
    """An application/x-protobuf product upload."""
    return post("/v1/products", _product(), (("Content-Type", "application/x-protobuf"),))
