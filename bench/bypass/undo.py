"""Undoing a case's trick: what a vendor that knows the trick reads out of its record.

An `Undo` is a named function of `Seen` giving (label, bytes) candidates; the scorer searches
them as it searches the raw views. Each undo is lenient: a body it cannot parse (because the
gateway changed it, say) gives no candidates, never an error.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import csv
import email
import email.message
import email.policy
import gzip
import html
import io
import json
import re
import unicodedata
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes
from xml.etree import ElementTree

from bench.bypass.images import png_chunks
from bench.bypass.seen import Seen, decoded_body
from bench.bypass.wire import BINARY, CONTINUATION, TEXT

__all__ = [
    "Undo",
    "b64_body",
    "b64_header",
    "b64_query",
    "b64_strings",
    "basic_auth",
    "bodies",
    "csv_rows",
    "data_uris",
    "decimal_digits",
    "decode_text",
    "form_join",
    "header_join",
    "header_values",
    "hex_strings",
    "html_entities",
    "json_join",
    "json_keys",
    "json_numbers",
    "json_strings",
    "jwt",
    "mime_parts",
    "percent_twice",
    "png_text",
    "raw_base64",
    "raw_gunzip",
    "ws_message_text",
    "xml_text",
]

Candidates = list[tuple[str, bytes]]


@dataclass(frozen=True)
class Undo:
    """One way to undo a trick: `name` says which, `read` does it."""

    name: str
    read: Callable[[Seen], Candidates]

    def __call__(self, seen: Seen) -> Candidates:
        """The candidates, labelled `undo <name>: <where>`."""
        return [(f"undo {self.name}: {label}", data) for label, data in self.read(seen)]


def bodies(seen: Seen) -> Iterator[tuple[str, bytes]]:
    """Every request body (Content-Encoding undone when it was encoded) and data frame."""
    for r in seen.requests:
        yield "body", decoded_body(r) or r.body
    for f in seen.frames:
        if f.opcode in (TEXT, BINARY, CONTINUATION):
            yield "websocket frame", f.payload


def _headers(seen: Seen, name: str) -> Iterator[str]:
    for r in seen.requests:
        for k, v in (*r.headers, *r.trailers):
            if k.lower() == name.lower():
                yield v


def _b64(text: str) -> bytes | None:
    text = text.strip()
    padded = text + "=" * (-len(text) % 4)
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            return decode(padded)
        except (binascii.Error, ValueError):
            continue
    return None


def basic_auth(header: str = "Authorization") -> Undo:
    """Base64-decode `Basic` credentials in `header`."""

    def read(seen: Seen) -> Candidates:
        out = []
        for value in _headers(seen, header):
            scheme, _, token = value.partition(" ")
            if scheme.lower() == "basic" and (decoded := _b64(token)) is not None:
                out.append((header, decoded))
        return out

    return Undo(f"base64 of the {header} credentials", read)


def jwt(header: str = "Authorization") -> Undo:
    """Base64url-decode each part of a bearer JWT in `header`."""

    def read(seen: Seen) -> Candidates:
        out = []
        for value in _headers(seen, header):
            token = value.split(" ", 1)[-1]
            for i, part in enumerate(token.split(".")):
                if (decoded := _b64(part)) is not None:
                    out.append((f"{header} JWT part {i}", decoded))
        return out

    return Undo("JWT decode", read)


def b64_header(header: str) -> Undo:
    """Base64-decode the whole value of `header` (or of each `;`/`,`-separated item)."""

    def read(seen: Seen) -> Candidates:
        out = []
        for value in _headers(seen, header):
            for item in re.split(r"[;,=\s]+", value):
                if item and (decoded := _b64(item)) is not None:
                    out.append((header, decoded))
        return out

    return Undo(f"base64 of {header}", read)


def _json(data: bytes) -> list[Any]:
    """The JSON documents in `data`: one, or one per line (NDJSON); none if neither parses."""
    text = data.decode("utf-8", "replace")
    try:
        return [json.loads(text)]
    except ValueError:
        pass
    docs = []
    for line in text.splitlines():
        try:
            docs.append(json.loads(line))
        except ValueError:
            continue
    return docs


def _walk(value: Any) -> Iterator[tuple[str, Any]]:
    """(key or "", value) for every value in a JSON document, depth first, in order."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield k, v
            yield from _walk(v)
    elif isinstance(value, list):
        for v in value:
            yield "", v
            yield from _walk(v)


def _keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _keys(v)
    elif isinstance(value, list):
        for v in value:
            yield from _keys(v)


def _pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Keep every duplicate key: `a`, `a#2`, ... (a vendor's parser may take either)."""
    out: dict[str, Any] = {}
    for k, v in pairs:
        key, n = k, 1
        while key in out:
            n += 1
            key = f"{k}#{n}"
        out[key] = v
    return out


def _json_docs(data: bytes) -> list[Any]:
    text = data.decode("utf-8", "replace")
    try:
        return [json.loads(text, object_pairs_hook=_pairs_hook)]
    except ValueError:
        return _json(data)


def json_keys() -> Undo:
    """Every object key of the JSON bodies and frames (as a vendor's parser sees them)."""

    def read(seen: Seen) -> Candidates:
        return [
            ("JSON key", k.encode())
            for label, data in bodies(seen)
            for doc in _json_docs(data)
            for k in _keys(doc)
        ]

    return Undo("JSON keys", read)


def json_strings() -> Undo:
    """Every JSON string value, decoded (escapes undone) and NFKC-folded (fullwidth digits)."""

    def read(seen: Seen) -> Candidates:
        out = []
        for _, data in bodies(seen):
            for doc in _json_docs(data):
                for key, v in [("", doc), *_walk(doc)]:
                    if isinstance(v, str):
                        out.append(("JSON string", unicodedata.normalize("NFKC", v).encode()))
                    if key:
                        out.append(("JSON key", unicodedata.normalize("NFKC", key).encode()))
        return out

    return Undo("JSON string decode", read)


def json_numbers() -> Undo:
    """Every JSON number as the integer a vendor would store (`219099999.0`, `4.5e15`)."""

    def read(seen: Seen) -> Candidates:
        out = []
        for _, data in bodies(seen):
            for doc in _json_docs(data):
                for _, v in [("", doc), *_walk(doc)]:
                    if isinstance(v, bool) or not isinstance(v, int | float):
                        continue
                    try:
                        out.append(("JSON number", str(int(v)).encode()))
                    except (OverflowError, ValueError):
                        continue
        return out

    return Undo("JSON number to integer", read)


def json_join(*fields: str) -> Undo:
    """Join the values of `fields` in order, across the body's documents (NDJSON lines too).

    Each document gives the first occurrence of each field. With no fields: each JSON array.
    """

    def read(seen: Seen) -> Candidates:
        out = []
        for _, data in bodies(seen):
            docs = _json(data)
            if not fields:
                arrays = [v for d in docs for _, v in [("", d), *_walk(d)] if isinstance(v, list)]
                out += [("JSON array joined", "".join(map(str, a)).encode()) for a in arrays]
                continue
            joined = ""
            for doc in docs:
                found: dict[str, str] = {}
                for k, v in _walk(doc):
                    if k in fields and k not in found:
                        found[k] = str(v)
                joined += "".join(found.get(f, "") for f in fields)
            out.append(("JSON fields joined", joined.encode()))
        return out

    return Undo("join the split fields", read)


def form_join(*fields: str) -> Undo:
    """Join the values of form or query fields `fields`, in that order."""

    def read(seen: Seen) -> Candidates:
        out = []
        for r in seen.requests:
            query = r.target.partition("?")[2].partition("#")[0]
            for where, text in (("query", query), ("form body", r.body.decode("latin-1"))):
                pairs = dict(parse_qsl(text, keep_blank_values=True))
                out.append(
                    (f"{where} fields joined", "".join(pairs.get(f, "") for f in fields).encode())
                )
        return out

    return Undo("join the split fields", read)


def header_join(*names: str) -> Undo:
    """Join the values of headers `names`, in that order."""

    def read(seen: Seen) -> Candidates:
        return [
            (
                "headers joined",
                "".join(next(_headers(Seen(requests=(r,)), n), "") for n in names).encode(),
            )
            for r in seen.requests
        ]

    return Undo("join the split headers", read)


def b64_strings() -> Undo:
    """Base64-decode every JSON string value that decodes."""

    def read(seen: Seen) -> Candidates:
        out = []
        for _, data in bodies(seen):
            for doc in _json_docs(data):
                for _, v in [("", doc), *_walk(doc)]:
                    if isinstance(v, str) and len(v) >= 8 and (decoded := _b64(v)) is not None:
                        out.append(("JSON string base64-decoded", decoded))
        return out

    return Undo("base64 of JSON strings", read)


def csv_rows() -> Undo:
    """Join each CSV row's cells."""

    def read(seen: Seen) -> Candidates:
        out = []
        for _, data in bodies(seen):
            rows = csv.reader(io.StringIO(data.decode("utf-8", "replace")))
            out += [("CSV row joined", "".join(row).encode()) for row in rows]
        return out

    return Undo("join CSV cells", read)


def decode_text(*encodings: str) -> Undo:
    """Decode bodies and frames from `encodings` (e.g. utf-16-le) to text."""

    def read(seen: Seen) -> Candidates:
        out = []
        for label, data in bodies(seen):
            for encoding in encodings:
                text = data.decode(encoding, "replace")
                out.append((f"{label} as {encoding}", unicodedata.normalize("NFKC", text).encode()))
        return out

    return Undo(f"decode {'/'.join(encodings)}", read)


def html_entities() -> Undo:
    """Undo HTML/XML character references (`&#50;`) in bodies."""

    def read(seen: Seen) -> Candidates:
        return [
            (label, html.unescape(data.decode("utf-8", "replace")).encode())
            for label, data in bodies(seen)
        ]

    return Undo("character references", read)


def percent_twice() -> Undo:
    """Percent-decode request targets twice (double encoding)."""

    def read(seen: Seen) -> Candidates:
        return [
            ("target", unquote_to_bytes(unquote_to_bytes(r.target).decode("latin-1")))
            for r in seen.requests
        ]

    return Undo("percent-decode twice", read)


def _png_texts(data: bytes) -> Iterator[bytes]:
    for kind, chunk in png_chunks(data):
        if kind == b"tEXt":
            yield chunk
        elif kind == b"zTXt":
            keyword, _, rest = chunk.partition(b"\x00")
            try:
                yield keyword + b" " + zlib.decompress(rest[1:])
            except zlib.error:
                continue
        elif kind == b"iTXt":
            keyword, _, rest = chunk.partition(b"\x00")
            compressed, text = rest[:1] == b"\x01", rest[2:].split(b"\x00", 2)[-1]
            try:
                yield keyword + b" " + (zlib.decompress(text) if compressed else text)
            except zlib.error:
                continue


def png_text() -> Undo:
    """Read PNG text chunks (tEXt, zTXt inflated, iTXt), in a body or in a multipart part."""

    def read(seen: Seen) -> Candidates:
        out = []
        for _, data in bodies(seen):
            at = data.find(b"\x89PNG")
            while at >= 0:
                out += [("PNG text chunk", text) for text in _png_texts(data[at:])]
                at = data.find(b"\x89PNG", at + 1)
        return out

    return Undo("PNG text chunks", read)


def ws_message_text() -> Undo:
    """Join every data frame's payload into one message (a fragmented message)."""

    def read(seen: Seen) -> Candidates:
        data = [f.payload for f in seen.frames if f.opcode in (TEXT, BINARY, CONTINUATION)]
        return [("frames joined", b"".join(data))] if data else []

    return Undo("join the message's fragments", read)


def header_values(name: str, separator: str = ", ") -> Undo:
    """Every value of a repeated header `name`, joined as a framework joins them.

    `, ` for most headers (RFC 9110 5.3); `; ` for HTTP/2 cookie crumbs (RFC 9113 8.2.3).
    """

    def read(seen: Seen) -> Candidates:
        out = []
        for r in seen.requests:
            found = [v for k, v in (*r.headers, *r.trailers) if k.lower() == name.lower()]
            if len(found) > 1:
                joined = separator.join(found).encode("latin-1", "replace")
                out.append((f"{name} values joined", joined))
        return out

    return Undo(f"join the repeated {name} headers", read)


def _xml_texts(data: bytes) -> Iterator[bytes]:
    """The text of an XML document as a parser gives it: entities expanded, CDATA unwrapped."""
    parser = ElementTree.XMLParser()
    try:
        root = ElementTree.fromstring(data, parser=parser)
    except (ElementTree.ParseError, ValueError):
        return
    yield "".join(root.itertext()).encode()
    for element in root.iter():
        for value in element.attrib.values():
            yield value.encode()


def xml_text() -> Undo:
    """Parse XML bodies (internal DTD entities expanded, CDATA unwrapped): text and attributes."""

    def read(seen: Seen) -> Candidates:
        return [("XML text", text) for _, data in bodies(seen) for text in _xml_texts(data.strip())]

    return Undo("XML parse", read)


def _mime_parts(message: email.message.Message) -> Iterator[tuple[str, bytes]]:
    for part in message.walk():
        if filename := part.get_filename():
            yield "part filename", filename.encode()
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            yield f"part {part.get_content_type()} decoded", payload
            if payload.startswith(b"\x1f\x8b"):  # an uploaded .gz file, as the vendor opens it
                with contextlib.suppress(OSError, EOFError, zlib.error):
                    yield f"part {part.get_content_type()} gunzipped", gzip.decompress(payload)


def mime_parts() -> Undo:
    """Walk multipart bodies, nested ones too: each part decoded (base64, quoted-printable).

    RFC 2231 filenames (`filename*=UTF-8''...`) are decoded as well, and a gzip part inflated.
    """

    def read(seen: Seen) -> Candidates:
        out: Candidates = []
        for r in seen.requests:
            ctype = r.header("content-type") or ""
            if not ctype.lower().startswith("multipart/"):
                continue
            head = f"Content-Type: {ctype}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
            message = email.message_from_bytes(head + r.body, policy=email.policy.compat32)
            out += list(_mime_parts(message))
        return out

    return Undo("MIME parts decoded", read)


_DATA_URI = re.compile(rb"data:[\w/+.-]*(?:;[\w=.-]+)*?(;base64)?,([A-Za-z0-9+/=%_-]+)")


def data_uris() -> Undo:
    """Decode every `data:` URI in bodies and frames (base64 or percent-encoded)."""

    def read(seen: Seen) -> Candidates:
        out = []
        for _, data in bodies(seen):
            for m in _DATA_URI.finditer(data):
                payload = m.group(2)
                if m.group(1):
                    decoded = _b64(payload.decode())
                    if decoded is not None:
                        out.append(("data URI", decoded))
                else:
                    out.append(("data URI", unquote_to_bytes(payload)))
        return out

    return Undo("data URIs decoded", read)


def hex_strings() -> Undo:
    """Hex-decode every JSON string (and form value) that is hex of an even length."""

    def read(seen: Seen) -> Candidates:
        out = []
        for _, data in bodies(seen):
            for doc in _json_docs(data):
                for _, v in [("", doc), *_walk(doc)]:
                    if isinstance(v, str) and re.fullmatch(r"(?:[0-9a-fA-F]{2}){4,}", v):
                        out.append(("JSON string hex-decoded", bytes.fromhex(v)))
        return out

    return Undo("hex of JSON strings", read)


def _raw_streams(seen: Seen) -> Iterator[tuple[str, bytes]]:
    """The bytes a raw protocol carried: of a connection that was not HTTP, or after a 101."""
    if seen.other:
        yield "raw bytes", seen.other
    if seen.upgraded:
        yield "bytes after the upgrade", seen.upgraded


def raw_gunzip() -> Undo:
    """Inflate every gzip member found in raw bytes (a protocol that ships compressed records)."""

    def read(seen: Seen) -> Candidates:
        out = []
        for label, data in _raw_streams(seen):
            at = data.find(b"\x1f\x8b")
            while at >= 0:
                inflater = zlib.decompressobj(31)
                with contextlib.suppress(zlib.error):
                    out.append((f"{label} gunzipped", inflater.decompress(data[at:])))
                at = data.find(b"\x1f\x8b", at + 2)
        return out

    return Undo("gzip in raw bytes", read)


def raw_base64() -> Undo:
    """Base64-decode every token of raw bytes (split on whitespace, `:` and `;`)."""

    def read(seen: Seen) -> Candidates:
        out = []
        for label, data in _raw_streams(seen):
            for token in re.split(rb"[\s:;,]+", data):
                if len(token) >= 8 and (decoded := _b64(token.decode("latin-1"))) is not None:
                    out.append((f"{label} base64-decoded", decoded))
        return out

    return Undo("base64 in raw bytes", read)


def b64_body() -> Undo:
    """Base64-decode each whole body (a body sent with `Content-Transfer-Encoding: base64`)."""

    def read(seen: Seen) -> Candidates:
        return [
            ("body base64-decoded", decoded)
            for _, data in bodies(seen)
            if (decoded := _b64(data.decode("latin-1"))) is not None
        ]

    return Undo("base64 of the body", read)


def b64_query() -> Undo:
    """Base64-decode (standard or url-safe) every query parameter's value."""

    def read(seen: Seen) -> Candidates:
        out = []
        for r in seen.requests:
            query = r.target.partition("?")[2].partition("#")[0]
            for _, value in parse_qsl(query, keep_blank_values=True):
                if len(value) >= 8 and (decoded := _b64(value)) is not None:
                    out.append(("query value base64-decoded", decoded))
        return out

    return Undo("base64 of query values", read)


def decimal_digits() -> Undo:
    """Every Unicode decimal digit (Arabic-Indic, Devanagari, ...) read as 0-9, as int() does."""

    def read(seen: Seen) -> Candidates:
        out = []
        for label, data in bodies(seen):
            text = data.decode("utf-8", "replace")
            ascii_digits = "".join(
                str(d) if (d := unicodedata.decimal(ch, None)) is not None else ch for ch in text
            )
            if ascii_digits != text:
                out.append((f"{label} with its digits as 0-9", ascii_digits.encode()))
        return out

    return Undo("Unicode digits as 0-9", read)
