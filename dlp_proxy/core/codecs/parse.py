"""Which document reads a body, and the JSON and plain-text documents.

`parse_body` chooses by Content-Type (and sniffs bodies that do not say); `parse_query`,
`parse_path` and `parse_headers` read the request line and headers. The other formats live
beside this module (`values`, `tables`, `markup`, `multipart`, `fields`); the locations and
fields they give are described in the package's docstring.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Protocol

from dlp_proxy.core.codecs.archives import ZipDocument, is_zip, is_zip_type
from dlp_proxy.core.codecs.binary import mostly_printable, sniff_text
from dlp_proxy.core.codecs.compressed import COMPRESSED_TYPES, CompressedDocument, compression_of
from dlp_proxy.core.codecs.fields import (
    FormDocument,
    HeadersDocument,
    PathDocument,
    QueryDocument,
)
from dlp_proxy.core.codecs.images import ImageDocument, is_image
from dlp_proxy.core.codecs.markup import XmlDocument
from dlp_proxy.core.codecs.multipart import MultipartDocument, binary_type
from dlp_proxy.core.codecs.pdf import PDF_TYPES, PdfDocument, is_pdf
from dlp_proxy.core.codecs.protobuf import (
    GRPC_TYPES,
    PROTOBUF_TYPES,
    GrpcDocument,
    ProtobufDocument,
)
from dlp_proxy.core.codecs.tables import CsvDocument, NdjsonDocument
from dlp_proxy.core.codecs.values import (
    MAX_NESTING,
    TEXT_CHUNK_CHARS,
    JsonNode,
    TextNode,
    decode,
    load_json,
    media_type,
)
from dlp_proxy.detection.detector import Segment
from dlp_proxy.errors import UndecodableBody

__all__ = [
    "Document",
    "JsonDocument",
    "TextDocument",
    "parse_body",
    "parse_headers",
    "parse_path",
    "parse_query",
]

FORM = "application/x-www-form-urlencoded"
NDJSON_TYPES = frozenset(
    {
        "application/x-ndjson",
        "application/ndjson",
        "application/jsonl",
        "application/x-jsonl",
        "application/jsonlines",
        "application/x-jsonlines",
        "application/json-lines",
    }
)
CSV_TYPES = frozenset({"text/csv", "application/csv", "text/x-csv"})
TSV_TYPES = frozenset({"text/tab-separated-values", "text/tsv"})
XML_TYPES = frozenset({"application/xml", "text/xml"})
# Bodies of these types are looked at: one that is JSON or declared XML is read as such.
SNIFFED_TYPES = frozenset({"", "text/plain", "application/octet-stream"})
_SNIFF = re.compile(rb"\s*([\[{]|<\?xml[\s?])")


class Document(Protocol):
    """A parsed body: its segments, and a way to rebuild it with some segments replaced."""

    @property
    def segments(self) -> tuple[Segment, ...]:
        """Every piece of text worth inspecting, in document order."""
        ...

    @property
    def uninspectable(self) -> tuple[str, ...]:
        """Locations of parts that could not be read (binary, undecodable); usually empty."""
        ...

    def rebuild(self, replacements: Mapping[str, str]) -> bytes:
        """The body with the text at each location in `replacements` swapped in.

        Every location must be one of the segments' (`KeyError` otherwise).
        """
        ...


def parse_body(content_type: str, body: bytes) -> Document:
    """The document for a body of the given Content-Type; `UndecodableBody` if it cannot be read.

    JSON (`application/json`, `*+json`), NDJSON, JSON text sequences, CSV, TSV, XML
    (`application/xml`, `text/xml`, `*+xml`), multipart, forms and text have formats of their
    own. An untyped, `text/plain` or `application/octet-stream` body that is JSON, or XML with a
    declaration, is read as such; an image type, or an untyped or octet-stream body, that is a
    PNG, JPEG, GIF or WebP is an `ImageDocument`; any other body is inspected as text when it is
    text (UTF-16 or UTF-32 too, when no charset is named: `sniff_text`).
    """
    return _parse(content_type, body, 0, ())


def parse_query(pairs: Sequence[tuple[str, str]]) -> QueryDocument:
    """The document for a URL's query parameters; `replaced_pairs` gives them back changed."""
    return QueryDocument(pairs)


def parse_path(path: str) -> PathDocument:
    """The document for a URL path (a query or fragment is cut off).

    `replaced_path` gives the new path as `str`, `rebuild` as bytes.
    """
    return PathDocument(path)


def parse_headers(pairs: Sequence[tuple[str, str]]) -> HeadersDocument:
    """The document for header (name, value) pairs: every name and value, in its own format.

    Protocol headers in `SHAPES` are checked for shape instead (docs/headers.md).
    `replaced_pairs` gives every pair back, in order, with the replaced values.
    """
    return HeadersDocument(pairs)


def _parse(content_type: str, body: bytes, depth: int, context: tuple[str, ...]) -> Document:
    mime, params = media_type(content_type)
    charset = params.get("charset")
    if not body:
        return _EmptyDocument()
    if mime == "application/json" or mime.endswith("+json"):
        return JsonDocument(body, context, depth)
    if mime in NDJSON_TYPES or mime == "application/json-seq":
        seq = mime == "application/json-seq"
        return NdjsonDocument(body, charset or "utf-8", seq=seq, depth=depth)
    if mime in CSV_TYPES or mime in TSV_TYPES:
        header = {"present": True, "absent": False}.get(params.get("header", "").lower())
        delimiter = "\t" if mime in TSV_TYPES else None
        return CsvDocument(
            body, charset or "utf-8", delimiter=delimiter, header=header, depth=depth
        )
    if mime in XML_TYPES or mime.endswith("+xml"):
        return XmlDocument(body, charset, depth)
    if mime.startswith("multipart/"):
        return MultipartDocument(body, params.get("boundary"), _read_part, depth)
    if mime == FORM:
        return FormDocument(decode(body, charset or "utf-8", mime), depth)
    if mime in GRPC_TYPES:  # length-prefixed protobuf (or JSON) messages, base64 for -text
        return GrpcDocument(body, mime, depth)
    if mime in PROTOBUF_TYPES:
        return ProtobufDocument(body, depth)
    if is_zip_type(mime) or (is_zip(body) and _may_be_document(mime)):  # xlsx, docx, zip ...
        return ZipDocument(body, _read_part, depth, context)
    if mime in PDF_TYPES or (is_pdf(body) and _may_be_document(mime)):
        return PdfDocument(body, _read_part, depth, context)
    if is_image(mime, body):  # an image type, or an untyped body, that is a PNG, JPEG, GIF, WebP
        return ImageDocument(body, context, depth)
    coding = compression_of(body)
    if coding is not None and (mime in COMPRESSED_TYPES or mime in SNIFFED_TYPES):
        return CompressedDocument(body, coding, _read_compressed, depth)
    if mime in SNIFFED_TYPES:
        sniffed = _sniffed(body, charset, depth, context)
        if sniffed is not None:
            return sniffed
    if charset is None:  # UTF-16 or UTF-32 by a byte order mark or UTF-16's NULs, else UTF-8
        text = sniff_text(body)
        if text is not None:
            return TextDocument(body, text[1], context)
    if mime.startswith("text/"):
        return _text(body, charset, context)
    # Unknown or missing types are inspected as text when they are text, and refused otherwise.
    try:
        return _text(body, charset, context)
    except UndecodableBody:
        raise UndecodableBody(
            f"cannot inspect a {mime or 'untyped'} body: it is not text in a supported format"
        ) from None


def _read_compressed(inner: bytes, depth: int) -> Document:
    """What a compressed file holds, read as an untyped body is (nested one level deeper)."""
    if depth > MAX_NESTING:
        raise UndecodableBody(f"compressed files nested more than {MAX_NESTING} deep")
    return _parse("", inner, depth, ())


# Text that says it is UTF-8 (or says nothing) but is not is read in the 8-bit charsets most
# such text is in, when that gives printable text: Windows-1252, else Latin-1 (every byte).
_EIGHT_BIT = ("cp1252", "latin-1")


def _text(body: bytes, charset: str | None, context: tuple[str, ...]) -> TextDocument:
    """Text in `charset`; text claiming UTF-8 that is not is read as Windows-1252 or Latin-1.

    A vendor's reader given invalid UTF-8 falls back to an 8-bit charset (or replaces the
    bytes); refusing the body would block every legacy export, so it is read that way too,
    and written back in it (every byte of Latin-1 decodes, so the round trip is exact).
    """
    try:
        return TextDocument(body, charset or "utf-8", context)
    except UndecodableBody:
        fallback = _eight_bit(body) if charset in (None, "utf-8", "utf8") else None
        if fallback is None:
            raise
        return TextDocument(body, fallback, context)


def _eight_bit(body: bytes) -> str | None:
    """The first of `_EIGHT_BIT` that reads `body` as mostly printable text, or None."""
    for charset in _EIGHT_BIT:
        try:
            text = body.decode(charset)
        except UnicodeDecodeError:
            continue
        if mostly_printable(text):
            return charset
    return None


def _sniffed(
    body: bytes, charset: str | None, depth: int, context: tuple[str, ...]
) -> Document | None:
    """A JSON or declared-XML document for a body whose type does not say, or None."""
    match = _SNIFF.match(body)
    if match is None:
        return None
    try:
        if match.group(1) in (b"[", b"{"):
            if charset not in (None, "utf-8", "us-ascii", "ascii"):
                return None
            return JsonDocument(body, context, depth)
        return XmlDocument(body, charset, depth)
    except UndecodableBody:
        return None


def _read_part(
    content_type: str, content: bytes, depth: int, context: tuple[str, ...], guessed: bool
) -> Document | None:
    """The document in a multipart part, or None when it cannot be inspected.

    A type guessed from a filename that turns out wrong is read as text instead.
    """
    mime, params = media_type(content_type)
    if binary_type(mime) and not is_image(mime, content) and not _is_document(mime, content):
        return None
    try:
        return _parse(content_type, content, depth, context)
    except UndecodableBody:
        if not guessed:
            return None
    try:
        return TextDocument(content, params.get("charset", "utf-8"), context)
    except UndecodableBody:
        return None


def _may_be_document(mime: str) -> bool:
    """True for types whose body is read as the zip or PDF its magic number says it is.

    A vendor saves a zip sent as `text/plain` or `application/octet-stream` as what it is.
    """
    return mime in SNIFFED_TYPES or binary_type(mime)


def _is_document(mime: str, content: bytes) -> bool:
    """True for a part that is an archive, office document or PDF, by its type or its bytes."""
    return is_zip_type(mime) or mime in PDF_TYPES or is_zip(content) or is_pdf(content)


class _EmptyDocument:
    segments: tuple[Segment, ...] = ()
    uninspectable: tuple[str, ...] = ()

    def rebuild(self, replacements: Mapping[str, str]) -> bytes:
        if replacements:
            raise KeyError(f"no segment at {next(iter(replacements))!r}")
        return b""


class JsonDocument:
    """A JSON body: every key and string value, and numbers that look like identifiers.

    Read as `values.JsonNode` says: every repeat of a key is inspected and written back, whole
    numbers written as floats are read as their digits. A string (or key) holding a JSON object
    or array, percent-encoded or base64 text is a nested document. Rebuild writes compact UTF-8
    JSON; replaced numbers become strings, replaced keys rename their members in place.
    """

    uninspectable: tuple[str, ...] = ()

    def __init__(self, body: bytes, context: tuple[str, ...] = (), depth: int = 0) -> None:
        try:
            self._node = JsonNode(load_json(body), context, depth)
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
        self.segments = self._node.segments
        self.uninspectable = self._node.uninspectable

    def rebuild(self, replacements: Mapping[str, str]) -> bytes:
        """Re-serialise the JSON with the replaced values (numbers replaced become strings)."""
        return self._node.render(replacements).encode("utf-8")


class TextDocument:
    """Plain text, inspected in chunks cut at line ends (`text:0`, `text:1` ...)."""

    uninspectable: tuple[str, ...] = ()

    def __init__(self, body: bytes, charset: str, context: tuple[str, ...] = ()) -> None:
        self._charset = charset
        self._node = TextNode(decode(body, charset, "text"), context, TEXT_CHUNK_CHARS)
        self.segments = self._node.segments

    def rebuild(self, replacements: Mapping[str, str]) -> bytes:
        """The text with replaced chunks, in the original charset."""
        return self._node.render(replacements).encode(self._charset, errors="replace")
