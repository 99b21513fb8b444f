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

from dlp_proxy.core.codecs.binary import mostly_printable, sniff_text
from dlp_proxy.core.codecs.fields import FormDocument
from dlp_proxy.core.codecs.markup import XmlDocument
from dlp_proxy.core.codecs.multipart import MultipartDocument
from dlp_proxy.core.codecs.parse import Document, JsonDocument
from dlp_proxy.core.codecs.protobuf import GrpcDocument, ProtobufDocument
from dlp_proxy.core.codecs.tables import CsvDocument, NdjsonDocument
from dlp_proxy.core.codecs.values import TEXT_CHUNK_CHARS, chunk_lines, media_type
from dlp_proxy.detection.detector import SEP, WHOLE_PREFIX, Segment
from dlp_proxy.errors import UndecodableBody

__all__ = [
    "AS_FORM",
    "AS_JSON",
    "AS_UTF7",
    "AS_UTF8",
    "AS_XML",
    "WHOLE_FIELD",
    "WHOLE_PREFIX",
    "coding_header_segments",
    "is_other_reading",
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
    GrpcDocument,
    ProtobufDocument,
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


# Where the other readings of a body are located: `whole:json>$.customer.tin`, `whole:utf-8`,
# `whole:xml>xml:/customer/tin`, `whole:form>form:tin`, `whole:utf-16-le`, `whole:utf-7`.
AS_JSON = f"{WHOLE_PREFIX}json"
AS_XML = f"{WHOLE_PREFIX}xml"
AS_FORM = f"{WHOLE_PREFIX}form"
AS_UTF8 = f"{WHOLE_PREFIX}utf-8"
AS_UTF7 = f"{WHOLE_PREFIX}utf-7"
AS_GZIP_HEADER = f"{WHOLE_PREFIX}gzip-header"
AS_EBCDIC = f"{WHOLE_PREFIX}ebcdic"
_JSONISH = re.compile(rb"\s*[\[{]")
_XMLISH = re.compile(rb"\s*<[A-Za-z?!]")
# `name=value&name=value`, as a form is written: at least one `=`, no spaces or line breaks
# inside a pair (a trailing line break is allowed).
_FORMISH = re.compile(rb"[^\s=&]+=[^\s&]*(?:&[^\s=&]*(?:=[^\s&]*)?)*\s*")
# A UTF-7 shift sequence of at least one UTF-16 unit: `+` then base64, ended by `-` or a
# character outside base64 (RFC 2152). `+-` is a literal plus.
_UTF7_SHIFT = re.compile(rb"\+[A-Za-z0-9+/]{3,}")
_UTF8_NAMES = frozenset({"utf-8", "ascii"})


def other_readings(document: Document, body: bytes, content_type: str) -> tuple[Segment, ...]:
    """The body read as what it is where that differs from what it claims; never rewritable.

    A client can label JSON `text/csv` (or `application/x-www-form-urlencoded`, as jQuery does)
    and a vendor's code that ignores the label still reads JSON; it can declare a charset that
    makes the gateway read ASCII as something else (`charset=utf-16le`, `cp500`). So a body is
    also read as JSON when it parses as JSON (`whole:json>...`), as XML when it parses as XML
    (`whole:xml>...`), as a form when it is written like one (`whole:form>...`); and its text
    is also read in every charset it plausibly is in besides the declared one: UTF-8 when it is
    valid, printable UTF-8 (`whole:utf-8`), the charset its byte order mark or NUL bytes say
    (`whole:utf-16-le` ...), EBCDIC when it is not UTF-8 and reads as ASCII text in IBM-500
    (`whole:ebcdic`), UTF-7 when it holds UTF-7 shift sequences (`whole:utf-7`).
    """
    found: list[Segment] = []
    found.extend(_as_document(document, body))
    found.extend(_as_charsets(body, content_type))
    return tuple(found)


def coding_header_segments(texts: list[str]) -> tuple[Segment, ...]:
    """The texts of gzip members' headers (`compression.decode_body`) as read-only segments.

    A vendor that keeps the file name (`gzip -N`) or the comment reads them; decompressing
    drops them. They are located `whole:gzip-header:0` ... and read as other readings are.
    """
    return tuple(
        Segment(f"{AS_GZIP_HEADER}:{i}", text, (), AS_GZIP_HEADER, rewritable=False)
        for i, text in enumerate(texts)
    )


def is_other_reading(location: str) -> bool:
    """Whether `location` is in a reading of the body as other than it claims to be."""
    return location.startswith(_OTHER_PREFIXES)


def _as_document(document: Document, body: bytes) -> list[Segment]:
    """The body parsed as JSON, XML or a form, where that is not how it was read."""
    if not isinstance(document, (JsonDocument, NdjsonDocument)) and _JSONISH.match(body):
        try:
            return _relocated(AS_JSON, JsonDocument(body).segments)
        except UndecodableBody:
            pass
    if not isinstance(document, XmlDocument) and _XMLISH.match(body):
        try:
            return _relocated(AS_XML, XmlDocument(body, None).segments)
        except UndecodableBody:
            pass
    if not isinstance(document, FormDocument) and _FORMISH.fullmatch(body):
        try:
            return _relocated(AS_FORM, FormDocument(body.decode("utf-8").strip()).segments)
        except (UndecodableBody, UnicodeDecodeError):
            pass
    return []


def _as_charsets(body: bytes, content_type: str) -> list[Segment]:
    """The body's text in the charsets it plausibly is in, besides the declared one."""
    declared = media_type(content_type)[1].get("charset")
    declared_name = _codec_name(declared) if declared else "utf-8"
    found = []
    sniffed = _sniffed_charset(body)
    if sniffed is not None and _codec_name(sniffed) != declared_name:
        text = _printable(body, sniffed)
        if text:
            found.append(Segment(f"{WHOLE_PREFIX}{sniffed}", text, (), WHOLE_FIELD, False))
    if declared_name not in _UTF8_NAMES:
        text = _printable(body, "utf-8")
        if text:
            found.append(Segment(AS_UTF8, text, (), AS_UTF8, rewritable=False))
    elif declared is None and sniffed is not None and not body.startswith(_BOMS):
        # NULs between ASCII characters made the sniffer say UTF-16 or UTF-32; a vendor that
        # reads UTF-8 (and skips NULs, as the detector's normalising does) reads the ASCII.
        text = _printable(body, "utf-8", ignore="\x00")
        if text:
            found.append(Segment(AS_UTF8, text, (), AS_UTF8, rewritable=False))
    ebcdic = _as_ebcdic(body, declared_name)
    if ebcdic:
        found.append(Segment(AS_EBCDIC, ebcdic, (), AS_EBCDIC, rewritable=False))
    if declared_name != "utf-7" and _hides_ascii_in_utf7(body):
        text = _printable(body, "utf-7")
        if text and text != body.decode("latin-1"):
            found.append(Segment(AS_UTF7, text, (), AS_UTF7, rewritable=False))
    return found


# EBCDIC letters, digits and space are bytes 0x40 and 0x81-0xF9: text in it is no valid UTF-8,
# and read in IBM-500 it is mostly ASCII letters, digits, spaces and punctuation.
_EBCDIC_CODECS = frozenset({"cp500", "cp037", "cp1026", "cp1140", "cp273", "cp875"})
EBCDIC_ASCII_SHARE = 0.9
_SAMPLE_BYTES = 4096
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")


def _as_ebcdic(body: bytes, declared: str) -> str:
    """`body` read as EBCDIC (IBM-500) when it is not UTF-8 and reads as ASCII text; else ''."""
    sample = body[:_SAMPLE_BYTES]
    # EBCDIC's digits are 0xF0-0xF9 and its space 0x40: ASCII bodies need no second look.
    if declared in _EBCDIC_CODECS or sample.isascii() or b"\x40" not in sample:
        return ""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        head = sample.decode("cp500")
        ascii_text = sum(1 for c in head if " " <= c <= "~" or c in "\t\r\n")
        if ascii_text >= len(head) * EBCDIC_ASCII_SHARE:
            return body.decode("cp500")
    return ""


def _hides_ascii_in_utf7(body: bytes) -> bool:
    """Whether a UTF-7 shift sequence in `body` decodes to ASCII letters or digits.

    Text has plus signs before letters and digits (`+15551234567`, `C++`), which decode to
    CJK or nothing; a shift sequence written to hide `219` decodes to ASCII.
    """
    for match in _UTF7_SHIFT.finditer(body):
        try:
            decoded = (match.group() + b"-").decode("utf-7")
        except UnicodeDecodeError:
            continue
        if any(c.isascii() and c.isalnum() for c in decoded):
            return True
    return False


def _sniffed_charset(body: bytes) -> str | None:
    """The UTF-16 or UTF-32 a byte order mark or NUL bytes say; None when they say nothing.

    UTF-8 is left to the UTF-8 reading. Only a body with a mark or a NUL near its start is
    looked at: most are neither.
    """
    if not body.startswith(_BOMS) and b"\x00" not in body[:_SAMPLE_BYTES]:
        return None
    try:
        sniffed = sniff_text(body)
    except UndecodableBody:
        return None
    if sniffed is None or sniffed[1] == "utf-8":
        return None
    return sniffed[1]


def _printable(body: bytes, charset: str, ignore: str = "") -> str:
    """`body` decoded in `charset` when it decodes and, but for `ignore`, is mostly printable."""
    try:
        text = body.decode(charset)
    except UnicodeDecodeError:
        return ""
    shown = text.translate({ord(c): None for c in ignore}) if ignore else text
    return text if shown.strip() and mostly_printable(shown) else ""


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


_OTHER_PREFIXES = (
    AS_JSON,
    AS_XML,
    AS_FORM,
    AS_UTF8,
    AS_UTF7,
    AS_GZIP_HEADER,
    AS_EBCDIC,
    f"{WHOLE_PREFIX}utf-16",
    f"{WHOLE_PREFIX}utf-32",
)
