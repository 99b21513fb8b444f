"""Undoing a case's trick: what a vendor that knows the trick reads out of its record.

An `Undo` is a named function of `Seen` giving (label, bytes) candidates; the scorer searches
them as it searches the raw views. Each undo is lenient: a body it cannot parse (because the
gateway changed it, say) gives no candidates, never an error.
"""

from __future__ import annotations

import base64
import binascii
import csv
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

from bench.bypass.images import png_chunks
from bench.bypass.seen import Seen, decoded_body
from bench.bypass.wire import BINARY, CONTINUATION, TEXT

__all__ = [
    "Undo",
    "b64_header",
    "b64_strings",
    "basic_auth",
    "bodies",
    "csv_rows",
    "decode_text",
    "form_join",
    "header_join",
    "html_entities",
    "json_join",
    "json_keys",
    "json_numbers",
    "json_strings",
    "jwt",
    "percent_twice",
    "png_text",
    "ws_message_text",
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
