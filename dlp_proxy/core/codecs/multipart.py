"""Multipart bodies (`multipart/form-data`, `multipart/mixed` ...), split per RFC 2046.

A part without a filename and without a type other than text/plain is a form field: its text
is one value. Any other part is a document of its own, read by the part's Content-Type (or, for
an untyped upload, by its filename's extension); a PNG, JPEG, GIF or WebP image is read for its
metadata (`images`), a zip, office document or PDF as one (`archives`, `pdf`); a part that cannot
be read (another image format, text in an unknown charset, a transfer encoding) is listed in
`uninspectable`.
"""

from __future__ import annotations

import base64
import binascii
import quopri
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote, unquote

from dlp_proxy.core.codecs.values import (
    MAX_NESTING,
    Nest,
    context_words,
    decode,
    location_name,
    media_type,
    name_location,
    unique_locations,
)
from dlp_proxy.detection.detector import Segment
from dlp_proxy.errors import UndecodableBody

# The type an untyped or application/octet-stream upload is read as, by its filename's extension.
EXTENSION_TYPES = {
    ".csv": "text/csv",
    ".tsv": "text/tab-separated-values",
    ".tab": "text/tab-separated-values",
    ".json": "application/json",
    ".ndjson": "application/x-ndjson",
    ".jsonl": "application/x-ndjson",
    ".xml": "application/xml",
    ".txt": "text/plain",
    ".log": "text/plain",
    ".zip": "application/zip",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".xlsm": "application/vnd.ms-excel.sheet.macroenabled.12",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
    ".odp": "application/vnd.oasis.opendocument.presentation",
    ".pdf": "application/pdf",
}

# Content-Transfer-Encodings that leave the content as it is; base64 and quoted-printable parts
# are decoded (`transfer_decode`), parts in any other are not read.
_IDENTITY_ENCODINGS = frozenset({"", "7bit", "8bit", "binary"})
_PARAM = re.compile(r';\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))')
_NEWLINE = re.compile(rb"\r?\n")
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_LENGTH = re.compile(rb"(?im)^(content-length[ \t]*:[ \t]*)\d+")
_LINE = re.compile(rb"[^\r\n]*(?:\r?\n|\Z)")
_HEADER_BREAKS = re.compile(r"[\r\n\x00]")
# Part headers whose values say how to read the part: inspected, never rewritten.
FRAMING_HEADERS = frozenset({"content-type", "content-transfer-encoding", "content-length"})
# Content-Disposition parameters that are segments of their own, by the mark they are located at
# after the part's location (`multipart:file#filename`); the rest of the value is one more.
DISPOSITION_MARKS = {"name": "#name", "filename": "#filename", "filename*": "#filename*"}
# Content-Disposition types: a value that is one of these and the parameters located on their
# own leaves nothing more to inspect.
DISPOSITION_TYPES = frozenset({"form-data", "attachment", "inline"})
# RFC 5987 attr-char less ALPHA / DIGIT: what `filename*` leaves unescaped.
_ATTR_CHARS = "!#$&+-.^_`|~"


class PartDocument(Protocol):
    """What a part holding a document must offer: the `Document` protocol of `parse`."""

    @property
    def segments(self) -> tuple[Segment, ...]:
        """The part's segments."""
        ...

    @property
    def uninspectable(self) -> tuple[str, ...]:
        """Locations inside the part that could not be read."""
        ...

    def rebuild(self, replacements: Mapping[str, str]) -> bytes:
        """The part's new content."""
        ...


# Reads a part's content: (Content-Type, content, depth, context, type guessed from the name)
# to a document, or None when the part cannot be inspected.
PartReader = Callable[[str, bytes, int, tuple[str, ...], bool], PartDocument | None]


@dataclass(frozen=True)
class _Header:
    """A header field of a part: its name as written, its value unfolded, its byte span.

    `end` is where its last line's text ends, before the line break. `exact` is False when
    its bytes are not UTF-8 (they were read as Latin-1, and are not rewritten).
    """

    name: str
    value: str
    start: int
    end: int
    exact: bool = True


@dataclass(frozen=True)
class _Part:
    headers_start: int
    content_start: int
    content_end: int
    charset: str
    headers: tuple[_Header, ...] = ()


@dataclass(frozen=True)
class _Target:
    """What an own location of the document rewrites.

    `kind` is "content" (a field's text), "param" (a Content-Disposition parameter: `key`),
    "header" (the value of `headers[index]`), "preamble" or "epilogue".
    """

    kind: str
    part: str = ""
    key: str = ""
    index: int = -1


@dataclass(frozen=True)
class _Param:
    key: str  # lower-cased, `*` kept
    text: str  # decoded
    start: int  # span of `; key=value` in the unfolded header value
    end: int


def header_fields(body: bytes, start: int, end: int) -> list[_Header]:
    """The header fields between `start` and `end` of `body`, folded lines joined by a space.

    A line without a colon is a field with an empty name, so that no byte goes uninspected.
    Lines that are not UTF-8 are read as Latin-1 (`exact` False).
    """
    fields: list[_Header] = []
    for match in _LINE.finditer(body, start, end):
        raw = match.group().rstrip(b"\r\n")
        if not match.group():
            break
        line, exact = _header_text(raw)
        line_end = match.start() + len(raw)
        if line[:1] in (" ", "\t") and fields:
            last = fields[-1]
            fields[-1] = _Header(
                last.name,
                f"{last.value} {line.strip()}",
                last.start,
                line_end,
                last.exact and exact,
            )
        elif line.strip():
            name, colon, value = line.partition(":")
            if not colon:
                name, value = "", line
            fields.append(_Header(name.strip(), value.strip(), match.start(), line_end, exact))
    return fields


def _header_text(raw: bytes) -> tuple[str, bool]:
    try:
        return raw.decode("utf-8"), True
    except UnicodeDecodeError:
        return raw.decode("latin-1"), False


def disposition_params(value: str) -> list[_Param]:
    """Every parameter of a Content-Disposition value, in order, with its span in `value`.

    Quoted strings are unquoted; `filename*` (RFC 5987) is decoded and keeps its `*`.
    """
    params: list[_Param] = []
    for match in _PARAM.finditer(value):
        key = match.group(1).lower()
        quoted = match.group(2)
        text = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else match.group(3).strip()
        if key.endswith("*"):  # RFC 5987: charset'language'percent-encoded
            charset, _, rest = text.partition("'")
            try:
                text = unquote(
                    rest.partition("'")[2], encoding=charset or "utf-8", errors="replace"
                )
            except LookupError:
                text = unquote(rest.partition("'")[2], errors="replace")
        params.append(_Param(key, text, match.start(), match.end()))
    return params


def disposition(value: str) -> dict[str, str]:
    """The parameters of a Content-Disposition value, quoted strings and `filename*` decoded.

    The first of each name counts, except that `filename*` stands for `filename`.
    """
    params: dict[str, str] = {}
    for param in disposition_params(value):
        if param.key.endswith("*"):
            params[param.key[:-1]] = param.text
        else:
            params.setdefault(param.key, param.text)
    return params


def part_headers(raw: bytes) -> dict[str, str]:
    """Header fields of a part by lower-cased name (the first of each), folded lines joined."""
    headers: dict[str, str] = {}
    for field in header_fields(raw, 0, len(raw)):
        headers.setdefault(field.name.lower(), field.value)
    return headers


def _first_params(params: list[_Param]) -> dict[str, _Param]:
    """The parameters located on their own (DISPOSITION_MARKS): the first of each key."""
    first: dict[str, _Param] = {}
    for param in params:
        if param.key in DISPOSITION_MARKS:
            first.setdefault(param.key, param)
    return first


def _quoted(text: str) -> str:
    """`text` as a quoted string for a header parameter: backslash and `"` escaped, one line."""
    text = _HEADER_BREAKS.sub(" ", text)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class MultipartDocument:
    """A multipart body, each part located by its field name.

    A part is `multipart:<name>` (`multipart:[i]` for a part without a name; repeats `[1]`,
    `[2]` ...), so a cell of an uploaded CSV is located `multipart:file>csv:r3.c2`. Its field
    is `multipart:<name>` for every repeat (`multipart:[i]` stays, the position being all that
    names such a part), and `multipart:file>csv:email` inside a document.

    What is around the content is located after the part's location, its field after the
    part's field: the field name `multipart:file#name` (a name, context none), the filename
    `multipart:file#filename` (and `#filename*`, the RFC 5987 one, when given), each header
    field's value `multipart:file#header:x-note` (repeats `[1]` ...) and its name as written
    `multipart:file#header:x-note#name`. Content-Disposition's value is what is left of it
    without those parameters, and no segment when only its type is left. Outside the parts,
    the preamble is `multipart:#preamble`, the epilogue `multipart:#epilogue` (fields the
    same). No part location holds `#` (a name's is written `%23`). Header lines, preamble and
    epilogue that are not UTF-8 are read as Latin-1; a header line without a colon is read as
    a value with no name.

    Rebuild keeps the boundary and every untouched part, header and byte around them. A
    changed part gets its new content (and its Content-Length, if it has one, fixed); a
    replaced field name or filename rewrites the part's Content-Disposition line with the new
    text quoted (backslash and `"` escaped, line breaks made spaces; `filename*`
    percent-encoded in UTF-8); a replaced header value rewrites that header on one line.
    Header names, Content-Disposition's other text, the framing headers (`FRAMING_HEADERS`)
    and headers that are not UTF-8 cannot be rewritten (`rewritable=False`). A replaced
    preamble or epilogue is written in its place (a replacement of "" drops it). A part,
    preamble or epilogue whose new text would hold a delimiter line is refused
    (`UndecodableBody`).
    """

    def __init__(
        self, body: bytes, boundary: str | None, read_part: PartReader, depth: int = 0
    ) -> None:
        if not boundary:
            raise UndecodableBody("multipart body has no boundary parameter in its Content-Type")
        try:
            self._delimiter = b"--" + boundary.encode("ascii")
        except UnicodeEncodeError:
            raise UndecodableBody("multipart boundary is not ASCII") from None
        # A delimiter line: the boundary at the start of a line, alone on it or closing.
        self._line = re.compile(
            rb"(?:\A|\r?\n)" + re.escape(self._delimiter) + rb"(--)?[ \t]*(?:\r?\n|\Z)"
        )
        self._body = body
        self._preamble_end = 0
        self._epilogue_start = len(body)
        spans = self._split(body)
        self._parts: dict[str, _Part] = {}
        self._documents: dict[str, PartDocument] = {}
        self._targets: dict[str, _Target] = {}
        nest = Nest(depth)
        heads = [tuple(header_fields(body, start, content)) for start, content, _ in spans]
        headers = [{h.name.lower(): h.value for h in reversed(fields)} for fields in heads]
        names = [disposition(h.get("content-disposition", "")) for h in headers]
        labels = [n.get("name", f"[{i}]") for i, n in enumerate(names)]
        locations = unique_locations("multipart:", labels)
        for location, label, (start, content, end), fields, params, raw in zip(
            locations, labels, spans, headers, names, heads, strict=True
        ):
            field = f"multipart:{location_name(label)}"
            mime, type_params = media_type(fields.get("content-type", ""))
            charset = type_params.get("charset", "utf-8")
            self._parts[location] = _Part(start, content, end, charset, raw)
            context = context_words(params.get("name", ""))
            data = body[content:end]
            transfer = fields.get("content-transfer-encoding", "").strip().lower()
            if transfer not in _IDENTITY_ENCODINGS:
                self._encoded(nest, location, field, fields, params, data, read_part, depth)
            elif "filename" not in params and mime in ("", "text/plain"):
                # Only a part whose headers end with a blank line can be given content.
                head = body[start:content]
                writable = head in (b"\n", b"\r\n") or head.endswith((b"\n\n", b"\n\r\n"))
                self._targets[location] = _Target("content", location)
                self._field(nest, location, field, data, charset, context, writable)
            else:
                self._file(nest, location, field, fields, params, data, read_part, depth, context)
            self._headers(nest, location, field, raw, context)
        self._around(nest)
        self._nest = nest
        self.segments = nest.segments
        self.uninspectable = tuple(nest.uninspectable)

    def _split(self, body: bytes) -> list[tuple[int, int, int]]:
        """Each part's (start, content start, content end); refuses a body that is not whole.

        Notes where the preamble ends and the epilogue starts.
        """
        spans: list[tuple[int, int, int]] = []
        start: int | None = None
        for match in self._line.finditer(body):
            if start is None:
                self._preamble_end = match.start()
            else:
                spans.append(self._part_span(body, start, match.start(), len(spans)))
            if match.group(1):
                self._epilogue_start = match.end()
                return spans
            start = match.end()
        if start is None:
            raise UndecodableBody("multipart body has no part: its boundary never appears")
        raise UndecodableBody("multipart body has no closing boundary (it is cut short)")

    @staticmethod
    def _part_span(body: bytes, start: int, end: int, index: int) -> tuple[int, int, int]:
        if start == end:  # nothing at all between two delimiters
            return start, end, end
        blank = _NEWLINE.match(body, start, end)
        if blank:  # no headers at all
            return start, blank.end(), end
        separator = _BLANK_LINE.search(body, start, end)
        if separator is None and body[start:end].endswith(b"\n"):
            return start, end, end  # headers, then the delimiter's own line break: no content
        if separator is None:
            raise UndecodableBody(f"multipart part {index} has no blank line after its headers")
        return start, separator.end(), end

    def _headers(
        self,
        nest: Nest,
        location: str,
        field: str,
        headers: tuple[_Header, ...],
        context: tuple[str, ...],
    ) -> None:
        """The part's field name, filename and header fields, as segments."""
        marks = unique_locations("#header:", (h.name.lower() for h in headers))
        for index, (mark, header) in enumerate(zip(marks, headers, strict=True)):
            lower = header.name.lower()
            where, kind = location + mark, field + mark.partition("[")[0]
            # A line without a name (no colon) is read, but cannot be written back as it was.
            value = header.value
            rewritable = header.exact and bool(header.name) and lower not in FRAMING_HEADERS
            if lower == "content-disposition":
                rewritable = False  # only its name and filenames: the rest frames the part
                if mark == "#header:content-disposition":  # the first: the one that counts
                    value = self._disposition(nest, location, field, index, header)
            if value.strip():
                if rewritable:
                    self._targets[where] = _Target("header", location, index=index)
                nest.value(where, value, context_words(lower), field=kind, rewritable=rewritable)
            if header.name:
                nest.name(
                    name_location(where),
                    header.name,
                    context,
                    field=name_location(kind),
                    rewritable=False,
                )

    def _disposition(
        self, nest: Nest, location: str, field: str, index: int, header: _Header
    ) -> str:
        """Record the name and filenames of a Content-Disposition; the rest of its text."""
        value = header.value
        first = _first_params(disposition_params(value))
        for key, param in first.items():
            where = location + DISPOSITION_MARKS[key]
            kind = field + DISPOSITION_MARKS[key]
            if header.exact:
                self._targets[where] = _Target("param", location, key=key, index=index)
            if key == "name":
                nest.name(where, param.text, (), field=kind, rewritable=header.exact)
            elif param.text:
                words = context_words("filename")
                nest.value(where, param.text, words, field=kind, rewritable=header.exact)
        rest, done = [], 0
        for param in sorted(first.values(), key=lambda p: p.start):
            rest.append(value[done : param.start])
            done = param.end
        rest.append(value[done:])
        left = "".join(rest)
        return "" if left.strip(" \t;").lower() in DISPOSITION_TYPES else left

    def _around(self, nest: Nest) -> None:
        """The preamble and the epilogue, as segments, when they hold any text."""
        body = self._body
        for where, raw in (
            ("multipart:#preamble", body[: self._preamble_end]),
            ("multipart:#epilogue", body[self._epilogue_start :]),
        ):
            if not raw.strip():
                continue
            text, _ = _header_text(raw)  # what no parser reads: as UTF-8, or else as Latin-1
            self._targets[where] = _Target(where.removeprefix("multipart:#"))
            nest.value(where, text, field=where)

    @staticmethod
    def _field(
        nest: Nest,
        location: str,
        field: str,
        data: bytes,
        charset: str,
        context: tuple[str, ...],
        writable: bool,
    ) -> None:
        try:
            text = decode(data, charset, "multipart field")
        except UndecodableBody:
            nest.uninspectable.append(location)
            return
        if text:
            nest.value(location, text, context, field=field)
        elif writable:
            nest.slot(location)

    def _encoded(
        self,
        nest: Nest,
        location: str,
        field: str,
        fields: Mapping[str, str],
        params: Mapping[str, str],
        data: bytes,
        read_part: PartReader,
        depth: int,
    ) -> None:
        """A part in base64 or quoted-printable: its decoded content, re-encoded on a change."""
        transfer = fields.get("content-transfer-encoding", "").strip().lower()
        decoded = transfer_decode(transfer, data)
        if decoded is None:
            nest.uninspectable.append(location)  # an unknown transfer encoding, or corrupt
            return
        plain = dict(fields)
        plain.pop("content-transfer-encoding")
        plain.setdefault("content-type", "text/plain")
        inner: dict[str, PartDocument] = {}
        context = context_words(params.get("name", ""))
        self._file(nest, location, field, plain, params, decoded, read_part, depth, context, inner)
        if location in inner:
            self._documents[location] = _TransferEncoded(inner[location], transfer, data)

    def _file(
        self,
        nest: Nest,
        location: str,
        field: str,
        fields: Mapping[str, str],
        params: Mapping[str, str],
        data: bytes,
        read_part: PartReader,
        depth: int,
        context: tuple[str, ...],
        into: dict[str, PartDocument] | None = None,
    ) -> None:
        content_type = fields.get("content-type", "")
        mime, type_params = media_type(content_type)
        guessed = False
        if mime in ("", "application/octet-stream") and "filename" in params:
            extension = "." + params["filename"].rpartition(".")[2].lower()
            if extension in EXTENSION_TYPES:
                charset = type_params.get("charset")
                content_type = EXTENSION_TYPES[extension] + (
                    f"; charset={charset}" if charset else ""
                )
                guessed = True
        document = None
        if depth + 1 <= MAX_NESTING:
            document = read_part(content_type, data, depth + 1, context, guessed)
        if document is None:
            nest.uninspectable.append(location)
        else:
            (self._documents if into is None else into)[location] = document
            nest.adopt(location, document.segments, document.uninspectable, field=field)

    def rebuild(self, replacements: Mapping[str, str]) -> bytes:
        """The body with the replaced parts, names, headers and surrounding text; else as it was."""
        own, nested = self._nest.split(replacements)
        texts = dict(own)
        contents: dict[str, bytes] = {}
        for location, inner in nested.items():
            child = self._nest.children.get(location)
            if child is not None:
                texts[location] = child.render(inner)
            else:
                contents[location] = self._documents[location].rebuild(inner)
        edits: list[tuple[int, int, bytes]] = []
        changed: dict[str, dict[int, str]] = {}  # part -> header index -> new value
        params: dict[str, dict[str, str]] = {}  # part -> disposition key -> new text
        for location, text in texts.items():
            target = self._targets[location]
            if target.kind == "content":
                contents[location] = text.encode(self._parts[location].charset, "replace")
            elif target.kind == "header":
                changed.setdefault(target.part, {})[target.index] = text
            elif target.kind == "param":
                params.setdefault(target.part, {})[target.key] = text
            else:
                edits.append(self._outside(target.kind, text))
        for location, new in params.items():
            index, value = self._new_disposition(location, new)
            changed.setdefault(location, {})[index] = value
        for location in sorted(set(contents) | set(changed), key=self._start):
            edits.extend(self._part_edits(location, contents.get(location), changed.get(location)))
        return self._spliced(edits)

    def _start(self, location: str) -> int:
        return self._parts[location].headers_start

    def _outside(self, kind: str, text: str) -> tuple[int, int, bytes]:
        """The edit that writes a new preamble or epilogue."""
        data = text.encode("utf-8", "replace")
        self._refuse_delimiter(data)
        if kind == "preamble":
            return 0, self._preamble_end, data
        return self._epilogue_start, len(self._body), data

    def _new_disposition(self, location: str, new: Mapping[str, str]) -> tuple[int, str]:
        """The index of the part's Content-Disposition and its value with new parameters."""
        headers = self._parts[location].headers
        index = next(i for i, h in enumerate(headers) if h.name.lower() == "content-disposition")
        value = headers[index].value
        first = _first_params(disposition_params(value))
        pieces, done = [], 0
        for key, param in sorted(first.items(), key=lambda kp: kp[1].start):
            if key not in new:
                continue
            written = value[param.start : param.end]
            lead = written[: written.index("=") + 1]  # `; name=` as it was written
            if key.endswith("*"):
                text = "UTF-8''" + quote(new[key], safe=_ATTR_CHARS, errors="replace")
            else:
                text = _quoted(new[key])
            pieces += [value[done : param.start], lead, text]
            done = param.end
        pieces.append(value[done:])
        return index, "".join(pieces)

    def _part_edits(
        self, location: str, content: bytes | None, headers: Mapping[int, str] | None
    ) -> list[tuple[int, int, bytes]]:
        """The edits of one part: its header block, and its content when that changes."""
        part, body = self._parts[location], self._body
        pieces: list[bytes] = []
        done = part.headers_start
        for index, value in sorted((headers or {}).items()):
            header = part.headers[index]
            line = f"{header.name}: {_HEADER_BREAKS.sub(' ', value)}".encode("utf-8", "replace")
            pieces += [body[done : header.start], line]
            done = header.end
        pieces.append(body[done : part.content_start])
        block = b"".join(pieces)
        if content is None:
            return [(part.headers_start, part.content_start, block)]
        self._refuse_delimiter(content)
        block = _with_length(block, len(content))
        return [(part.headers_start, part.content_end, block + content)]

    def _refuse_delimiter(self, data: bytes) -> None:
        if self._line.search(data):
            raise UndecodableBody("a replacement would put the multipart boundary inside a part")

    def _spliced(self, edits: list[tuple[int, int, bytes]]) -> bytes:
        body = self._body
        pieces: list[bytes] = []
        done = 0
        for start, end, data in sorted(edits, key=lambda e: e[0]):
            pieces += [body[done:start], data]
            done = end
        pieces.append(body[done:])
        return b"".join(pieces)


def _with_length(headers: bytes, length: int) -> bytes:
    """Part headers with a Content-Length, if they have one, set to `length`."""
    return _LENGTH.sub(lambda m: m.group(1) + str(length).encode("ascii"), headers)


# Base64 lines in MIME are at most 76 characters (RFC 2045 6.8).
_BASE64_LINE = 76


def transfer_decode(transfer: str, data: bytes) -> bytes | None:
    """A part's content with its Content-Transfer-Encoding undone; None if it is unknown or corrupt.

    Base64 may have line breaks and other whitespace in it (RFC 2045 6.8), quoted-printable soft
    line breaks (`=` at a line's end).
    """
    if transfer == "base64":
        try:
            return base64.b64decode(b"".join(data.split()), validate=True)
        except (binascii.Error, ValueError):
            return None
    if transfer == "quoted-printable":
        return quopri.decodestring(data)
    return None


def transfer_encode(transfer: str, data: bytes, newline: bytes) -> bytes:
    """`data` in `transfer` again (base64 in 76-character lines), broken with `newline`."""
    if transfer == "base64":
        text = base64.b64encode(data)
        lines = [text[i : i + _BASE64_LINE] for i in range(0, len(text), _BASE64_LINE)]
        return newline.join(lines)
    # Only soft line breaks are the encoding's; the data's own line breaks stay as they were.
    return quopri.encodestring(data).replace(b"=\n", b"=" + newline)


class _TransferEncoded:
    """A part document read from base64 or quoted-printable, written back in it."""

    def __init__(self, inner: PartDocument, transfer: str, raw: bytes) -> None:
        self._inner = inner
        self._transfer = transfer
        self._newline = b"\r\n" if b"\r\n" in raw else b"\n"
        self.segments = inner.segments
        self.uninspectable = inner.uninspectable

    def rebuild(self, replacements: Mapping[str, str]) -> bytes:
        """The inner document rebuilt, encoded again."""
        return transfer_encode(self._transfer, self._inner.rebuild(replacements), self._newline)


def binary_type(mime: str) -> bool:
    """True for media types that are never text: images, audio, video, fonts, archives, PDF.

    A part of such a type is not read, unless it is an image `images.is_image` reads, or a zip,
    office document or PDF (`parse`).
    """
    major = mime.partition("/")[0]
    return major in ("image", "audio", "video", "font", "model") or mime in _BINARY


_BINARY = frozenset(
    {
        "application/pdf",
        "application/zip",
        "application/gzip",
        "application/x-gzip",
        "application/x-tar",
        "application/x-7z-compressed",
        "application/x-rar-compressed",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
    }
)
