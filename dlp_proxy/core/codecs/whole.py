"""The second reading of a structured body: all of its text at once, ignoring the format.

A format's reading presents values (and names) one by one; a reader that ignores the format sees
what lies between and across them too: a comment the parser drops, text around a JSON document,
an identifier spread over a key and its value. The foundations notes measured that neither
reading alone catches what the other does, so structured bodies are read both ways. The second
reading's segments are `whole:0`, `whole:1` ... (chunks cut at line ends, field `whole`) and
never rewritable: a finding there that no structured segment holds blocks the message.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import replace

from dlp_proxy.core.codecs.binary import mostly_printable
from dlp_proxy.core.codecs.fields import FormDocument
from dlp_proxy.core.codecs.markup import XmlDocument
from dlp_proxy.core.codecs.multipart import MultipartDocument
from dlp_proxy.core.codecs.parse import Document, JsonDocument
from dlp_proxy.core.codecs.tables import CsvDocument, NdjsonDocument
from dlp_proxy.core.codecs.values import TEXT_CHUNK_CHARS, chunk_lines, media_type
from dlp_proxy.detection.detector import SEP, WHOLE_PREFIX, Segment
from dlp_proxy.errors import UndecodableBody

__all__ = [
    "AS_JSON",
    "AS_UTF8",
    "WHOLE_FIELD",
    "WHOLE_PREFIX",
    "other_readings",
    "whole_text_segments",
]

WHOLE_FIELD = "whole"
# The documents a format reads value by value; plain text is read whole already.
_STRUCTURED = (
    JsonDocument,
    NdjsonDocument,
    CsvDocument,
    XmlDocument,
    MultipartDocument,
    FormDocument,
)


def whole_text_segments(document: Document, body: bytes, content_type: str) -> tuple[Segment, ...]:
    """The body's text as second-reading segments, for a structured `document`; else none.

    `body` is the decoded body (no Content-Encoding); it is read in the declared charset, or
    UTF-8, with undecodable bytes replaced (the structured reading decides about those).
    """
    if not isinstance(document, _STRUCTURED):
        return ()
    charset = media_type(content_type)[1].get("charset") or "utf-8"
    try:
        text = body.decode(charset, errors="replace")
    except LookupError:
        text = body.decode("utf-8", errors="replace")
    return tuple(
        Segment(f"{WHOLE_PREFIX}{i}", chunk, (), WHOLE_FIELD, rewritable=False)
        for i, chunk in enumerate(chunk_lines(text, TEXT_CHUNK_CHARS))
        if chunk.strip()
    )


# Where the other readings of a body are located: `whole:json>$.customer.tin`, `whole:utf-8`.
AS_JSON = f"{WHOLE_PREFIX}json"
AS_UTF8 = f"{WHOLE_PREFIX}utf-8"
_JSONISH = re.compile(rb"\s*[\[{]")
_UTF8_NAMES = frozenset({"utf-8", "ascii"})


def other_readings(document: Document, body: bytes, content_type: str) -> tuple[Segment, ...]:
    """The body read as what it is where that differs from what it claims; never rewritable.

    A client can label JSON `text/csv` (or `application/x-www-form-urlencoded`, as jQuery does)
    and a vendor's code that ignores the label still reads JSON; it can declare a charset that
    makes the gateway read ASCII as something else (`charset=utf-16le`, `cp500`). So a body that
    parses as JSON is also read as JSON (`whole:json>...`), and a body in a declared charset
    other than UTF-8 that is valid, printable UTF-8 is also read as UTF-8 (`whole:utf-8`).
    """
    found: list[Segment] = []
    if not isinstance(document, (JsonDocument, NdjsonDocument)) and _JSONISH.match(body):
        try:
            json_document = JsonDocument(body)
        except UndecodableBody:
            json_document = None
        if json_document is not None:
            found.extend(_relocated(AS_JSON, json_document.segments))
    charset = media_type(content_type)[1].get("charset")
    if charset is not None and _codec_name(charset) not in _UTF8_NAMES:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text = ""
        if text.strip() and mostly_printable(text):
            found.append(Segment(AS_UTF8, text, (), AS_UTF8, rewritable=False))
    return tuple(found)


def _relocated(prefix: str, segments: tuple[Segment, ...]) -> list[Segment]:
    return [
        replace(
            s,
            location=f"{prefix}{SEP}{s.location}",
            field=f"{prefix}{SEP}{s.field}",
            rewritable=False,
        )
        for s in segments
    ]


def _codec_name(charset: str) -> str:
    try:
        return codecs.lookup(charset).name
    except LookupError:
        return charset
