"""PDF documents, read with pypdf for what a viewer shows and what the file keeps beside it.

Segments are the text of every page (pypdf's `extract_text`: `Tj` and `TJ` strings with their
kerning, hex strings, fonts' encodings and ToUnicode maps, Flate and the other stream filters,
Form XObjects), the document information dictionary (every key, custom ones too, and their
names), the XMP metadata (as XML), form field values and names (AcroForm), annotations' text
(`/Contents`, `/T`, `/Subj`, link URIs), outline titles, and embedded files, read as documents by
their names' types. Text drawn as paths or pictures is not read (no OCR).

A PDF cannot be rewritten faithfully (text is positioned glyph by glyph, often subset-encoded),
so every segment is `rewritable=False`: a finding a rule would redact or encrypt blocks the
message instead (see `core.inspect`).

Bounds: pypdf's own limits (`CONFIGURATION`: stream lengths, decompressed sizes, element counts,
page tree size, no jbig2dec subprocess) for every stream, MAX_PAGES pages, MAX_TEXT_CHARS
characters of text in all, MAX_READ_SECONDS to read it. A PDF encrypted with a user password is
refused; one that opens with the empty password (owner-password restrictions only, which every
viewer opens without asking) is read. Any error pypdf raises makes the body `UndecodableBody`
naming only the exception's type: pypdf's messages may quote the document. pypdf's log records
(which name objects, keys and values of the document) are kept out of dlp-proxy's logs.
"""

from __future__ import annotations

import io
import logging
import re
import time
from collections.abc import Iterator, Mapping
from typing import Any

from pypdf import Configuration, PdfReader, apply_configuration
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

from dlp_proxy.core.codecs.archives import ENTRY_TYPES
from dlp_proxy.core.codecs.markup import XmlDocument
from dlp_proxy.core.codecs.multipart import PartReader
from dlp_proxy.core.codecs.values import (
    MAX_NESTING,
    TEXT_CHUNK_CHARS,
    Nest,
    chunk_lines,
    context_words,
    location_name,
    name_location,
    prefixed,
)
from dlp_proxy.detection.detector import SEP, Segment
from dlp_proxy.errors import UndecodableBody

__all__ = [
    "CONFIGURATION",
    "MAX_PAGES",
    "MAX_READ_SECONDS",
    "MAX_STREAM_BYTES",
    "MAX_TEXT_CHARS",
    "PDF_TYPES",
    "PdfDocument",
    "is_pdf",
]

MAX_PAGES = 2_000
"""A PDF of more pages than this is refused."""
MAX_TEXT_CHARS = 4_000_000
"""The text of all pages, metadata and fields of one PDF: at most this many characters."""
MAX_STREAM_BYTES = 16 * 1024 * 1024
"""One stream (a page's content, an image, XMP) decodes to at most this many bytes."""
MAX_READ_SECONDS = 10.0
"""Reading a PDF (pages, metadata, attachments) takes at most this long."""

CONFIGURATION = Configuration(
    maximum_declared_stream_length=MAX_STREAM_BYTES,
    array_based_stream_maximum_output_length=MAX_STREAM_BYTES,
    jbig2_maximum_output_length=MAX_STREAM_BYTES,
    lzw_maximum_output_length=MAX_STREAM_BYTES,
    run_length_maximum_output_length=MAX_STREAM_BYTES,
    zlib_maximum_output_length=MAX_STREAM_BYTES,
    zlib_maximum_recovery_input_length=1024 * 1024,
    brotli_maximum_output_length=MAX_STREAM_BYTES,
    image_maximum_buffer_size=MAX_STREAM_BYTES,
    stream_decoding_work_maximum_length=4 * MAX_STREAM_BYTES,
    xmp_maximum_input_length=1024 * 1024,
    page_tree_maximum_entries=4 * MAX_PAGES,
    page_tree_maximum_page_entries=64 * MAX_PAGES,
    outline_maximum_entries=10_000,
    form_fields_maximum_entries=10_000,
    jbig2dec_binary=None,
    disable_legacy_handling=True,
)
"""pypdf's limits while dlp-proxy reads a PDF (applied per call, never process-wide)."""

PDF_TYPES = frozenset({"application/pdf", "application/x-pdf"})
PDF_MAGIC = b"%PDF-"
# Keys of an annotation whose values are text a viewer shows.
_ANNOTATION_TEXT = ("/Contents", "/T", "/Subj", "/RC")

# pypdf logs what it repairs in a broken PDF, naming the document's keys and values: none of
# that may reach dlp-proxy's logs.
_PYPDF_LOG = logging.getLogger("pypdf")
_PYPDF_LOG.setLevel(logging.CRITICAL + 1)
_PYPDF_LOG.propagate = False
_PYPDF_LOG.addHandler(logging.NullHandler())


def is_pdf(body: bytes) -> bool:
    """True when `body` starts as a PDF file does (`%PDF-`)."""
    return body.startswith(PDF_MAGIC)


# The strings a content stream shows: literal `(...)` (one level of nested parentheses) and
# hex `<...>` strings, read where they stand; `Tj`, `'`, `"` and `TJ` arrays show them.
_SHOWN = re.compile(
    rb"\((?:[^()\\]|\\.|\((?:[^()\\]|\\.)*\))*\)"  # a literal string
    rb"|<[0-9A-Fa-f\s]*>(?!>)"  # a hex string
    rb"|(?<![A-Za-z])(?:Tj|TJ|'|\"|ET)(?![A-Za-z])"  # what shows them, the end of a text object
)
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}
_ESCAPE = re.compile(rb"\\([0-7]{1,3}|\r\n|[\s\S])")


def _unread(shown: str, extracted: str) -> str:
    """The lines of `shown` whose letters and digits `extracted` does not already hold."""
    known = _ALNUM.sub("", extracted.lower())
    lines = (line for line in shown.splitlines() if _ALNUM.sub("", line.lower()) not in known)
    return "\n".join(lines)


_ALNUM = re.compile(r"[\W_]+")


def _content_bytes(page: Any) -> bytes:
    """A page's content streams decoded (within pypdf's limits: a bomb raises there)."""
    contents = page.get_contents()
    return b"" if contents is None else bytes(contents.get_data())


def shown_strings(content: bytes) -> str:
    """The text a content stream shows, read from its string operands as a vendor's tool may.

    pypdf's `extract_text` needs the page's fonts and skips text it cannot map; a reader that
    takes the bytes of `Tj`/`TJ` strings as Latin-1 (as `strings` or a hand-written extractor
    does) still reads them. Strings of one `TJ` array join without a space (kerning between
    digit groups); text objects (`ET`) and separate operators are spaced.
    """
    out: list[str] = []
    pending: list[str] = []
    for match in _SHOWN.finditer(content):
        token = match.group()
        if token.startswith(b"("):
            pending.append(_literal(token[1:-1]).decode("latin-1"))
        elif token.startswith(b"<"):
            pending.append(_hex(token[1:-1]).decode("latin-1"))
        else:
            if pending:
                out.append("".join(pending))
                pending = []
            if token == b"ET":
                out.append("\n")
    if pending:
        out.append("".join(pending))
    return " ".join(part for part in out if part).replace(" \n ", "\n").strip()


def _literal(body: bytes) -> bytes:
    def unescape(match: re.Match[bytes]) -> bytes:
        escaped = match.group(1)
        if escaped[:1].isdigit():
            return bytes([int(escaped, 8) & 0xFF])
        if escaped in (b"\r\n", b"\n", b"\r"):
            return b""  # a line continuation
        return _ESCAPES.get(escaped, escaped)

    return _ESCAPE.sub(unescape, body)


def _hex(body: bytes) -> bytes:
    digits = bytes(c for c in body if chr(c) in "0123456789abcdefABCDEF")
    return bytes.fromhex((digits + b"0" * (len(digits) % 2)).decode("ascii"))


class _Budget:
    def __init__(self) -> None:
        self.chars = MAX_TEXT_CHARS
        self.deadline = time.monotonic() + MAX_READ_SECONDS

    def take(self, text: str, where: str) -> str:
        self.chars -= len(text)
        if self.chars < 0:
            raise UndecodableBody(f"PDF holds over {MAX_TEXT_CHARS} characters of text ({where})")
        if time.monotonic() > self.deadline:
            raise UndecodableBody(f"PDF takes over {MAX_READ_SECONDS:g} s to read (at {where})")
        return text


class PdfDocument:
    """A PDF: its pages' text, metadata, form fields, annotations, outline and attachments.

    Locations: `pdf:page:3>text:0` (page 3 from 0, in chunks), `pdf:page:3>annot:0/Contents`,
    `pdf:info:/Author` and its key `pdf:info:/Author#name`, `pdf:xmp>xml:/xmpmeta/...`,
    `pdf:field:<name>` and `pdf:field:<name>#name`, `pdf:outline:0`,
    `pdf:attachment:<name>>csv:r1.c2` and `pdf:attachment:<name>#name` (names with `>` written
    `%3E`). Fields drop the numbers: `pdf:page>text`, `pdf:page>annot/Contents`, `pdf:outline`.
    Nothing is rewritable.
    """

    def __init__(
        self,
        body: bytes,
        read_part: PartReader | None = None,
        depth: int = 0,
        context: tuple[str, ...] = (),
    ) -> None:
        self._body = body
        self._nest = Nest(depth)
        self._budget = _Budget()
        self._context = context
        self._depth = depth
        self._read_part = read_part
        try:
            with apply_configuration(CONFIGURATION):
                self._read(PdfReader(io.BytesIO(body), strict=False))
        except UndecodableBody:
            raise
        except Exception as e:  # noqa: BLE001 - pypdf raises many kinds; messages quote the PDF
            raise UndecodableBody(f"PDF does not parse ({type(e).__name__})") from None
        self.segments = self._nest.segments
        self.uninspectable = tuple(self._nest.uninspectable)
        self._locations = frozenset(s.location for s in self.segments)

    def _read(self, reader: PdfReader) -> None:
        if reader.is_encrypted and not reader.decrypt(""):
            raise UndecodableBody("PDF is encrypted with a password and cannot be inspected")
        pages = reader.pages
        if len(pages) > MAX_PAGES:
            raise UndecodableBody(f"PDF has over {MAX_PAGES} pages")
        for i, page in enumerate(pages):
            where = f"pdf:page:{i}"
            text = self._budget.take(page.extract_text() or "", where)
            for j, chunk in enumerate(chunk_lines(text, TEXT_CHUNK_CHARS)):
                self._text(f"{where}{SEP}text:{j}", chunk, self._context, "pdf:page>text")
            shown = self._budget.take(_unread(shown_strings(_content_bytes(page)), text), where)
            for j, chunk in enumerate(chunk_lines(shown, TEXT_CHUNK_CHARS)):
                self._text(f"{where}{SEP}shown:{j}", chunk, self._context, "pdf:page>shown")
            self._annotations(where, page.get("/Annots"))
        self._info(reader)
        self._xmp(reader)
        self._fields(reader)
        for k, title in enumerate(_outline_titles(reader.outline)):
            self._text(f"pdf:outline:{k}", title, ("outline",), "pdf:outline")
        self._attachments(reader)

    def _text(self, location: str, text: str, context: tuple[str, ...], field: str) -> None:
        if text.strip():
            self._nest.value(location, text, context, field=field, rewritable=False)

    def _annotations(self, where: str, annotations: Any) -> None:
        for k, annotation in enumerate(_resolved(annotations) or ()):
            annotation = _resolved(annotation)
            if not isinstance(annotation, DictionaryObject):
                continue
            for key in _ANNOTATION_TEXT:
                value = _resolved(annotation.get(key))
                if value is not None:
                    text = self._budget.take(str(value), where)
                    words = context_words(key[1:])
                    self._text(f"{where}{SEP}annot:{k}{key}", text, words, f"pdf:page>annot{key}")
            action = _resolved(annotation.get("/A"))
            if isinstance(action, DictionaryObject) and action.get("/URI") is not None:
                text = self._budget.take(str(_resolved(action["/URI"])), where)
                self._text(f"{where}{SEP}annot:{k}/URI", text, ("uri",), "pdf:page>annot/URI")

    def _info(self, reader: PdfReader) -> None:
        info = reader.metadata
        if info is None:
            return
        for key, value in info.items():
            name = location_name(str(key))
            location, field = f"pdf:info:{name}", f"pdf:info:{name}"
            text = self._budget.take(str(_resolved(value)), location)
            self._text(location, text, context_words(str(key).lstrip("/")), field)
            self._nest.name(
                name_location(location), str(key), field=name_location(field), rewritable=False
            )

    def _xmp(self, reader: PdfReader) -> None:
        xmp = reader.xmp_metadata
        if xmp is None:
            return
        data = xmp.stream.get_data()
        if not data.strip():
            return
        self._budget.take(" " * len(data), "pdf:xmp")
        try:
            document = XmlDocument(data, None, self._depth + 1)
        except UndecodableBody:
            self._nest.uninspectable.append("pdf:xmp")
            return
        self._adopt("pdf:xmp", "pdf:xmp", document.segments, document.uninspectable)

    def _fields(self, reader: PdfReader) -> None:
        for name, field in (reader.get_fields() or {}).items():
            label = location_name(str(name))
            location = f"pdf:field:{label}"
            value = _resolved(field.get("/V")) if isinstance(field, dict) else None
            if value is not None:
                text = self._budget.take(_field_text(value), location)
                self._text(location, text, context_words(str(name)), location)
            self._nest.name(
                name_location(location),
                str(name),
                field=name_location(location),
                rewritable=False,
            )

    def _attachments(self, reader: PdfReader) -> None:
        for name, contents in reader.attachments.items():
            label = location_name(str(name))
            for k, content in enumerate(contents):
                location = f"pdf:attachment:{label}" + (f"[{k}]" if k else "")
                field = f"pdf:attachment:{label}"
                self._nest.name(
                    name_location(location),
                    str(name),
                    field=name_location(field),
                    rewritable=False,
                )
                self._attachment(location, field, str(name), content)

    def _attachment(self, location: str, field: str, name: str, content: bytes) -> None:
        if not content:
            return
        self._budget.take(" " * (len(content) // 16), location)
        document = None
        if self._read_part is not None and self._depth + 1 <= MAX_NESTING:
            extension = "." + name.rpartition(".")[2].lower()
            content_type = ENTRY_TYPES.get(extension, "")
            document = self._read_part(
                content_type, content, self._depth + 1, context_words(name), bool(content_type)
            )
        if document is None:
            self._nest.uninspectable.append(location)
            return
        self._adopt(location, field, document.segments, document.uninspectable)

    def _adopt(
        self,
        location: str,
        field: str,
        segments: tuple[Segment, ...],
        uninspectable: tuple[str, ...],
    ) -> None:
        for segment in prefixed(location + SEP, field + SEP, segments, rewritable=False):
            self._nest.values.append(segment)
        self._nest.uninspectable.extend(location + SEP + u for u in uninspectable)

    def rebuild(self, replacements: Mapping[str, str]) -> bytes:
        """The PDF as it was when nothing is replaced; a PDF cannot carry a replacement."""
        for location in replacements:
            if location in self._locations:
                raise UndecodableBody(
                    f"{location} cannot be changed in a PDF: a finding there blocks it"
                )
            raise KeyError(f"no segment at {location!r}")
        return self._body


def _resolved(value: Any) -> Any:
    """An indirect object's target, or the value itself."""
    for _ in range(32):  # a chain of references that never ends is a broken file
        if not isinstance(value, IndirectObject):
            return value
        value = value.get_object()
    raise UndecodableBody("PDF has a chain of object references that does not end")


def _field_text(value: Any) -> str:
    if isinstance(value, ArrayObject):
        return "\n".join(str(_resolved(v)) for v in value)
    return str(value)


def _outline_titles(outline: Any) -> Iterator[str]:
    """Every outline item's title, nested items too."""
    stack = [outline]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, DictionaryObject) and item.get("/Title") is not None:
            yield str(_resolved(item["/Title"]))
