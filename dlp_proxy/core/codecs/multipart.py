"""Multipart bodies (`multipart/form-data`, `multipart/mixed` ...), split per RFC 2046.

A part without a filename and without a type other than text/plain is a form field: its text
is one value. Any other part is a document of its own, read by the part's Content-Type (or, for
an untyped upload, by its filename's extension); a part that cannot be read (an image, a PDF,
text in an unknown charset, a transfer encoding) is listed in `uninspectable`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import unquote

from dlp_proxy.core.codecs.values import (
    MAX_NESTING,
    Nest,
    context_words,
    decode,
    location_name,
    media_type,
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
}

# Content-Transfer-Encodings that leave the content as it is; parts in others are not read.
_IDENTITY_ENCODINGS = frozenset({"", "7bit", "8bit", "binary"})
_PARAM = re.compile(r';\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))')
_NEWLINE = re.compile(rb"\r?\n")
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_LENGTH = re.compile(rb"(?im)^(content-length[ \t]*:[ \t]*)\d+")


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
class _Part:
    headers_start: int
    content_start: int
    content_end: int
    charset: str


def disposition(value: str) -> dict[str, str]:
    """The parameters of a Content-Disposition value, quoted strings and `filename*` decoded."""
    params: dict[str, str] = {}
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
            key = key[:-1]
            params[key] = text
        else:
            params.setdefault(key, text)
    return params


def part_headers(raw: bytes) -> dict[str, str]:
    """Header fields of a part by lower-cased name (the first of each), folded lines joined."""
    headers: dict[str, str] = {}
    last = ""
    for line in raw.decode("utf-8", "replace").splitlines():
        if line[:1] in (" ", "\t") and last:
            headers[last] += " " + line.strip()
            continue
        name, colon, value = line.partition(":")
        if colon:
            last = name.strip().lower()
            headers.setdefault(last, value.strip())
    return headers


class MultipartDocument:
    """A multipart body, each part located by its field name.

    A part is `multipart:<name>` (`multipart:[i]` for a part without a name; repeats `[1]`,
    `[2]` ...), so a cell of an uploaded CSV is located `multipart:file>csv:r3.c2`. Its field
    is `multipart:<name>` for every repeat (`multipart:[i]` stays, the position being all that
    names such a part), and `multipart:file>csv:email` inside a document. Rebuild
    keeps the boundary, preamble, epilogue, every header and every untouched part byte for
    byte; a changed part gets its new content (and its Content-Length, if it has one, fixed).
    A part whose content would then hold a delimiter line is refused (`UndecodableBody`).
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
        spans = self._split(body)
        self._parts: dict[str, _Part] = {}
        self._documents: dict[str, PartDocument] = {}
        nest = Nest(depth)
        headers = [part_headers(body[start:content]) for start, content, _ in spans]
        names = [disposition(h.get("content-disposition", "")) for h in headers]
        labels = [n.get("name", f"[{i}]") for i, n in enumerate(names)]
        locations = unique_locations("multipart:", labels)
        for location, label, (start, content, end), fields, params in zip(
            locations, labels, spans, headers, names, strict=True
        ):
            field = f"multipart:{location_name(label)}"
            mime, type_params = media_type(fields.get("content-type", ""))
            charset = type_params.get("charset", "utf-8")
            self._parts[location] = _Part(start, content, end, charset)
            context = context_words(params.get("name", ""))
            data = body[content:end]
            if fields.get("content-transfer-encoding", "").lower() not in _IDENTITY_ENCODINGS:
                nest.uninspectable.append(location)  # base64, quoted-printable: not decoded
            elif "filename" not in params and mime in ("", "text/plain"):
                # Only a part whose headers end with a blank line can be given content.
                head = body[start:content]
                writable = head in (b"\n", b"\r\n") or head.endswith((b"\n\n", b"\n\r\n"))
                self._field(nest, location, field, data, charset, context, writable)
            else:
                self._file(nest, location, field, fields, params, data, read_part, depth, context)
        self._nest = nest
        self.segments = tuple(nest.segments)
        self.uninspectable = tuple(nest.uninspectable)

    def _split(self, body: bytes) -> list[tuple[int, int, int]]:
        """Each part's (start, content start, content end); refuses a body that is not whole."""
        spans: list[tuple[int, int, int]] = []
        start: int | None = None
        for match in self._line.finditer(body):
            if start is not None:
                spans.append(self._part_span(body, start, match.start(), len(spans)))
            if match.group(1):
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
            self._documents[location] = document
            nest.adopt(location, document.segments, document.uninspectable, field=field)

    def rebuild(self, replacements: Mapping[str, str]) -> bytes:
        """The body with the changed parts' new content; everything else as it was."""
        own, nested = self._nest.split(replacements)
        contents: dict[str, bytes] = {
            location: text.encode(self._parts[location].charset, "replace")
            for location, text in own.items()
        }
        for location, inner in nested.items():
            child = self._nest.children.get(location)
            if child is not None:
                text = child.render(inner)
                contents[location] = text.encode(self._parts[location].charset, "replace")
            else:
                contents[location] = self._documents[location].rebuild(inner)
        return self._spliced(contents)

    def _spliced(self, contents: Mapping[str, bytes]) -> bytes:
        body = self._body
        pieces: list[bytes] = []
        done = 0
        for location in sorted(contents, key=lambda loc: self._parts[loc].content_start):
            part, content = self._parts[location], contents[location]
            if self._line.search(content):
                raise UndecodableBody(
                    "a replacement would put the multipart boundary inside a part"
                )
            headers = _with_length(body[part.headers_start : part.content_start], len(content))
            pieces += [body[done : part.headers_start], headers, content]
            done = part.content_end
        pieces.append(body[done:])
        return b"".join(pieces)


def _with_length(headers: bytes, length: int) -> bytes:
    """Part headers with a Content-Length, if they have one, set to `length`."""
    return _LENGTH.sub(lambda m: m.group(1) + str(length).encode("ascii"), headers)


def binary_type(mime: str) -> bool:
    """True for media types that are never text: images, audio, video, fonts, archives, PDF."""
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
