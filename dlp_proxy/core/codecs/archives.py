"""Zip archives, and the office documents that are zip packages: xlsx, xlsm, docx, pptx, odt, ods.

A zip is read entry by entry: each entry is a document of its own, read by its name's type (XML,
`.rels` and `.vml` as XML, CSV, TSV, JSON, NDJSON, text, images, PDF) or, for a name that says
nothing, by what its bytes are (a nested zip by its magic number; JSON, XML, text by sniffing).
An entry that cannot be read (binary of a kind no codec reads, an `xl/vbaProject.bin`, a printer
settings blob) is listed in `uninspectable`, so the message fails closed. Entry names, entry
comments, the text in their extra fields and the archive comment are segments too, and so are
bytes outside every entry (before the first, between entries, after the end record), when they
are text; when they are not, they are uninspectable.

The entry list is zipfile's (the central directory, with zip64 and Unicode path fields) and the
central directory is walked again here, byte for byte: the two must agree, and every entry's local
header must name the entry the directory names. Entries are inflated here, never trusting a
declared size: at most the bound plus one byte is produced, and what comes out must be exactly the
declared size, match the CRC, and end the compressed stream. The bounds below are each checked; a
bound that is hit raises `UndecodableBody` naming the bound and the entry (never its content).

Office documents are read two ways more. A spreadsheet's cells take the context of their
column's header cell (xlsx: shared strings, inline strings and numbers in `xl/worksheets/*.xml`;
ods: `content.xml`), so a bare number under "SSN" is read as what the header says it is. And Word
splits a value over runs (`<w:t>219-09</w:t>...<w:t>-9999</w:t>`), which only the joined text
shows: a paragraph of an XML part whose pieces meet inside a number is read again with its tags
removed, as a read-only segment (`zip:word/document.xml#text:0`).

Rebuild writes the archive again with only the changed entries' bytes new (compressed with the
entry's method, CRC and sizes updated, the central directory's offsets moved); every other byte,
entry order, names, dates, comments and extra fields stay as they were. Names, comments and extra
fields cannot be rewritten (`rewritable=False`), nor entries of a zip64 archive.
"""

from __future__ import annotations

import io
import itertools
import re
import struct
import time
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any
from xml.etree import ElementTree

from dlp_proxy.core.codecs.binary import sniff_text
from dlp_proxy.core.codecs.multipart import EXTENSION_TYPES, PartDocument, PartReader
from dlp_proxy.core.codecs.tables import looks_like_header
from dlp_proxy.core.codecs.values import (
    MAX_NESTING,
    TEXT_CHUNK_CHARS,
    Nest,
    chunk_lines,
    context_words,
    location_name,
    name_location,
    unique_locations,
)
from dlp_proxy.detection.detector import SEP, Segment
from dlp_proxy.errors import UndecodableBody

__all__ = [
    "MAX_ENTRIES",
    "MAX_RATIO",
    "MAX_READ_SECONDS",
    "MAX_UNCOMPRESSED_BYTES",
    "RATIO_FLOOR",
    "ZIP_TYPES",
    "ZipDocument",
    "is_zip",
    "is_zip_type",
]

MAX_ENTRIES = 10_000
"""An archive (with the archives nested in it) of more entries than this is refused."""
MAX_UNCOMPRESSED_BYTES = 64 * 1024 * 1024
"""All entries of an archive, nested archives included, inflate to at most this many bytes."""
MAX_RATIO = 100
"""An entry inflates to at most this many times its compressed size ..."""
RATIO_FLOOR = 1024 * 1024
"""... or to this many bytes, whichever is more (a small entry of repetitive XML is normal)."""
MAX_READ_SECONDS = 10.0
"""Reading an archive (entries inflated and parsed) takes at most this long."""

ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
# Media types that are zip packages (the OOXML and ODF families by prefix, in `is_zip_type`).
ZIP_TYPES = frozenset(
    {
        "application/zip",
        "application/x-zip-compressed",
        "application/x-zip",
        "application/vnd.ms-excel.sheet.macroenabled.12",
        "application/vnd.ms-word.document.macroenabled.12",
        "application/vnd.ms-powerpoint.presentation.macroenabled.12",
        "application/epub+zip",
    }
)
_ZIP_PREFIXES = (
    "application/vnd.openxmlformats-officedocument.",
    "application/vnd.oasis.opendocument.",
)
# The type an entry is read as, by its name's extension; others are sniffed (`_entry_type`).
ENTRY_TYPES = {
    **EXTENSION_TYPES,
    ".rels": "application/xml",
    ".vml": "application/xml",
    ".svg": "application/xml",
    ".xsd": "application/xml",
    ".md": "text/plain",
    ".html": "text/html",
    ".htm": "text/html",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
# Compression methods read: stored and deflated (every office suite and zip tool writes these).
_STORED, _DEFLATED = 0, 8
# Extra fields of Info-ZIP that hold a UTF-8 name or comment after a version byte and a CRC.
_UNICODE_EXTRAS = (0x7075, 0x6375)
_CENTRAL = struct.Struct("<4s6H3L5H2L")  # 46 bytes
_LOCAL = struct.Struct("<4s5H3L2H")  # 30 bytes
_END = struct.Struct("<4s4H2LH")  # 22 bytes
_ZIP64_END = b"PK\x06\x06"
_DESCRIPTOR = b"PK\x07\x08"
_CELL_REF = re.compile(r"([A-Z]{1,3})(\d+)")
# Elements whose end ends a line of a part's joined text (Word, Excel, PowerPoint, ODF).
_PARAGRAPHS = frozenset({"p", "h", "si", "list-item"})
_LINE_BREAKS = frozenset({"br", "cr", "line-break"})
_TABS = frozenset({"tab"})
# Digits, and what is written between an identifier's digit groups, at a piece's end or start.
_TRAILING_NUMBER = re.compile(r"[\d \-./\u00a0\u2010-\u2013]+\Z")
_LEADING_NUMBER = re.compile(r"[\d \-./\u00a0\u2010-\u2013]+")


def is_zip(body: bytes) -> bool:
    """True when `body` starts as a zip archive does (a local header or an empty archive's end)."""
    return body.startswith(ZIP_MAGICS)


def is_zip_type(mime: str) -> bool:
    """True for the media types of zip archives and of office documents that are zip packages."""
    return mime in ZIP_TYPES or mime.startswith(_ZIP_PREFIXES)


@dataclass(frozen=True)
class _Entry:
    """One entry: zipfile's info, where its records are, and where it is located."""

    info: zipfile.ZipInfo
    location: str
    field: str
    central_start: int
    central_end: int
    local_start: int
    data_start: int
    data_end: int
    record_end: int  # past the data descriptor, when there is one
    local_extra: bytes


class _Budget:
    """What an archive and the archives nested in it may still use: bytes, entries, time."""

    def __init__(self) -> None:
        self.bytes = MAX_UNCOMPRESSED_BYTES
        self.entries = MAX_ENTRIES
        self.deadline = time.monotonic() + MAX_READ_SECONDS

    def check_time(self, where: str) -> None:
        """Refuse once the archive has taken MAX_READ_SECONDS."""
        if time.monotonic() > self.deadline:
            raise UndecodableBody(
                f"zip archive takes over {MAX_READ_SECONDS:g} s to read (at {where})"
            )


class ZipDocument:
    """A zip archive, or an office document that is one, entry by entry.

    Locations: an entry is `zip:<name>` (its name as in the archive, `>` written `%3E`, `#`
    `%23`; a repeated name `zip:<name>[1]`), so a cell of a CSV inside is
    `zip:export/customers.csv>csv:r3.c2` and a Word paragraph's text
    `zip:word/document.xml>xml:/document/body/p[2]/r/t`. Around an entry: its name
    `zip:<name>#name`, its comment `zip:<name>#comment`, the text in its extra fields
    `zip:<name>#extra`; the archive's comment is `zip:#comment` and text outside every entry
    `zip:#gap[0]`, `zip:#gap[1]` ... A nested archive's entries are `zip:a.zip>zip:b.csv>...`.
    Fields are the locations without a repeat's `[n]`: `zip:export/customers.csv>csv:email`.
    Paragraphs joined where a number was split over runs are `zip:<name>#text:0` (read-only).

    `read_part` reads an entry's bytes by a media type, as multipart's parts are read.
    """

    def __init__(
        self,
        body: bytes,
        read_part: PartReader,
        depth: int = 0,
        context: tuple[str, ...] = (),
        budget: _Budget | None = None,
    ) -> None:
        self._body = body
        self._budget = budget or _Budget()
        self._read_part = read_part
        self._depth = depth
        self._context = context
        archive = _open(body)
        infos = archive.infolist()
        self._budget.entries -= len(infos)
        if self._budget.entries < 0:
            raise UndecodableBody(f"zip archive has over {MAX_ENTRIES} entries")
        self._comment = archive.comment
        self._end_start, self._zip64 = _end_record(body, archive, len(infos))
        self._entries = self._locate(body, archive, infos)
        self._documents: dict[str, PartDocument] = {}
        self._data: dict[str, bytes] = {}
        nest = Nest(depth)
        for entry in self._entries:
            self._budget.check_time(entry.location)
            self._around(nest, entry)
            self._read(nest, entry)
        self._outside(nest)
        self._nest = nest
        contexts = _sheet_contexts(self._entries, self._data)
        self.segments = tuple(_with_context(s, contexts) for s in nest.segments)
        self.uninspectable = tuple(nest.uninspectable)

    # --- reading -------------------------------------------------------------------------------

    def _locate(
        self, body: bytes, archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo]
    ) -> list[_Entry]:
        """Every entry's records, checked against the central directory as written."""
        names = [info.filename for info in infos]
        locations = unique_locations("zip:", names)
        entries: list[_Entry] = []
        position = archive.start_dir
        for info, location in zip(infos, locations, strict=True):
            central = _unpack(_CENTRAL, body, position, "zip central directory")
            if central[0] != b"PK\x01\x02":
                raise UndecodableBody("zip central directory does not list the entries it counts")
            name_length, extra_length, comment_length = central[10], central[11], central[12]
            central_end = position + 46 + name_length + extra_length + comment_length
            raw_name = body[position + 46 : position + 46 + name_length]
            local_start = info.header_offset
            local = _unpack(_LOCAL, body, local_start, f"zip entry {location}")
            if local[0] != b"PK\x03\x04":
                raise UndecodableBody(f"zip entry {location} has no local header where listed")
            data_start = local_start + 30 + local[9] + local[10]
            if body[local_start + 30 : local_start + 30 + local[9]] != raw_name:
                raise UndecodableBody(
                    f"zip entry {location} has another name in its local header than in the "
                    "central directory"
                )
            data_end = data_start + info.compress_size
            if data_end > len(body):
                raise UndecodableBody(f"zip entry {location} is cut short")
            record_end = data_end
            if info.flag_bits & 0x08:  # a data descriptor follows the data
                record_end += 4 if body[data_end : data_end + 4] == _DESCRIPTOR else 0
                record_end += 20 if self._zip64 else 12
            local_extra = body[data_start - local[10] : data_start]
            entries.append(
                _Entry(
                    info,
                    location,
                    f"zip:{location_name(info.filename)}",
                    position,
                    central_end,
                    local_start,
                    data_start,
                    data_end,
                    min(record_end, len(body)),
                    local_extra,
                )
            )
            position = central_end
        return entries

    def _around(self, nest: Nest, entry: _Entry) -> None:
        """The entry's name, comment and extra fields' text, as segments that stay as they are."""
        info, location, field = entry.info, entry.location, entry.field
        nest.name(
            name_location(location),
            info.filename,
            self._context,
            field=name_location(field),
            rewritable=False,
        )
        if info.comment.strip():
            text = _text(info.comment)
            nest.value(
                f"{location}#comment",
                text,
                ("comment",),
                field=f"{field}#comment",
                rewritable=False,
            )
        extras = [*_extra_texts(info.extra), *_extra_texts(entry.local_extra)]
        if extras:
            text = "\n".join(dict.fromkeys(extras))
            nest.value(f"{location}#extra", text, (), field=f"{field}#extra", rewritable=False)

    def _read(self, nest: Nest, entry: _Entry) -> None:
        """The entry's content, as the document it is; or uninspectable."""
        data = self._inflate(entry)
        self._data[entry.location] = data
        if not data:
            return  # a directory, or an empty file: nothing to read
        location, field = entry.location, entry.field
        name = entry.info.filename
        context = (*self._context, *context_words(name.rsplit("/", 1)[-1].rpartition(".")[0]))
        document = self._document(entry, data, context)
        if document is None:
            nest.uninspectable.append(location)
            return
        self._documents[location] = document
        nest.adopt(location, document.segments, document.uninspectable, field=field)
        if _is_xml(entry.info.filename, data):
            nest.values.extend(_joined_text(location, field, data))

    def _document(
        self, entry: _Entry, data: bytes, context: tuple[str, ...]
    ) -> PartDocument | None:
        if is_zip(data):
            if self._depth + 1 > MAX_NESTING:
                raise UndecodableBody(
                    f"zip entry {entry.location} is an archive nested over {MAX_NESTING} deep"
                )
            return ZipDocument(data, self._read_part, self._depth + 1, context, self._budget)
        content_type, guessed = _entry_type(entry.info.filename)
        return self._read_part(content_type, data, self._depth + 1, context, guessed)

    def _inflate(self, entry: _Entry) -> bytes:
        """The entry's bytes, within the bounds; `UndecodableBody` naming the bound hit."""
        info, where = entry.info, entry.location
        if info.flag_bits & 0x01:
            raise UndecodableBody(f"zip entry {where} is encrypted and cannot be inspected")
        compressed = self._body[entry.data_start : entry.data_end]
        limit = min(self._budget.bytes, max(RATIO_FLOOR, len(compressed) * MAX_RATIO))
        if info.file_size > limit:
            raise UndecodableBody(_bound(where, info.file_size, limit, self._budget.bytes))
        if info.compress_type == _STORED:
            data = compressed
        elif info.compress_type == _DEFLATED:
            inflater = zlib.decompressobj(-15)
            try:
                data = inflater.decompress(compressed, limit + 1)
            except zlib.error:
                raise UndecodableBody(f"zip entry {where} does not inflate") from None
            if len(data) > limit:
                raise UndecodableBody(_bound(where, len(data), limit, self._budget.bytes))
            if not inflater.eof or inflater.unused_data:
                raise UndecodableBody(
                    f"zip entry {where}: its compressed data does not end where the archive says"
                )
        else:
            raise UndecodableBody(
                f"zip entry {where} uses compression method {info.compress_type}, which is not "
                "read (stored and deflated are)"
            )
        if len(data) != info.file_size or zlib.crc32(data) != info.CRC:
            raise UndecodableBody(f"zip entry {where} does not match its declared size and CRC")
        self._budget.bytes -= len(data)
        return data

    def _outside(self, nest: Nest) -> None:
        """The archive comment, and bytes outside every record (text, or uninspectable)."""
        if self._comment.strip():
            nest.value(
                "zip:#comment",
                _text(self._comment),
                ("comment",),
                field="zip:#comment",
                rewritable=False,
            )
        spans = sorted(
            [(e.local_start, e.record_end) for e in self._entries]
            + [(e.central_start, e.central_end) for e in self._entries]
        )
        covered, gaps = 0, []
        for start, end in spans:
            if start > covered:
                gaps.append((covered, start))
            covered = max(covered, end)
        if self._end_start > covered:
            gaps.append((covered, self._end_start))
        after = self._end_start + 22 + len(self._comment)
        if after < len(self._body):
            gaps.append((after, len(self._body)))
        index = 0
        for start, end in gaps:
            raw = self._body[start:end]
            if self._zip64 and start >= (self._entries[-1].central_end if self._entries else 0):
                continue  # the zip64 end record and its locator
            if not raw.strip(b"\x00 \t\r\n"):
                continue
            where = f"zip:#gap[{index}]"
            index += 1
            sniffed = sniff_text(raw) if b"PK" not in raw else None
            if sniffed is None:
                nest.uninspectable.append(where)
            else:
                nest.value(where, sniffed[0], (), field="zip:#gap", rewritable=False)

    # --- rebuilding ----------------------------------------------------------------------------

    def rebuild(self, replacements: Mapping[str, str]) -> bytes:
        """The archive with the changed entries written anew; every other byte as it was."""
        own, nested = self._nest.split(replacements)
        if own:  # names, comments and extra text are never slots: split refuses them first
            raise KeyError(f"no segment at {next(iter(own))!r}")
        changed: dict[str, bytes] = {}
        for location, inner in nested.items():
            new = self._documents[location].rebuild(inner)
            if new != self._data[location]:
                changed[location] = new
        if not changed:
            return self._body
        if self._zip64:
            raise UndecodableBody("a zip64 archive cannot be rewritten: a finding in it blocks it")
        return self._rewritten(changed)

    def _rewritten(self, changed: Mapping[str, bytes]) -> bytes:
        body = self._body
        pieces: list[bytes] = []
        done = 0
        shifts: list[tuple[int, int]] = []  # (old offset, shift of what starts at or after it)
        shift = 0
        records: dict[str, tuple[int, int, int]] = {}  # new crc, compressed and full sizes
        for entry in sorted(self._entries, key=lambda e: e.local_start):
            new = changed.get(entry.location)
            if new is None:
                continue
            record, crc, size = _local_record(body, entry, new)
            records[entry.location] = (crc, size, len(new))
            pieces += [body[done : entry.local_start], record]
            done = entry.record_end
            shift += len(record) - (entry.record_end - entry.local_start)
            shifts.append((entry.record_end, shift))
        central_start = min((e.central_start for e in self._entries), default=self._end_start)
        pieces.append(body[done:central_start])
        for entry in self._entries:  # the central directory, in its order, patched
            header = bytearray(body[entry.central_start : entry.central_end])
            if entry.location in records:
                crc, size, full = records[entry.location]
                struct.pack_into("<3L", header, 16, crc, size, full)
                flags = struct.unpack_from("<H", header, 8)[0] & ~0x08
                struct.pack_into("<H", header, 8, flags)
            offset = struct.unpack_from("<L", header, 42)[0]
            struct.pack_into("<L", header, 42, offset + _shift_at(shifts, entry.local_start))
            pieces.append(bytes(header))
        central_end = max((e.central_end for e in self._entries), default=self._end_start)
        pieces.append(body[central_end : self._end_start])
        end = bytearray(body[self._end_start : self._end_start + 22])
        start_dir = struct.unpack_from("<L", end, 16)[0]
        struct.pack_into("<L", end, 16, start_dir + shift)
        pieces += [bytes(end), body[self._end_start + 22 :]]
        return b"".join(pieces)


def _shift_at(shifts: list[tuple[int, int]], position: int) -> int:
    """How far what started at `position` moved (records before it that changed size)."""
    moved = 0
    for end, shift in shifts:
        if end <= position:
            moved = shift
    return moved


def _local_record(body: bytes, entry: _Entry, new: bytes) -> tuple[bytes, int, int]:
    """A new local header and data for `new`, compressed by the entry's method, no descriptor."""
    info = entry.info
    if info.compress_type == _DEFLATED:
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        data = compressor.compress(new) + compressor.flush()
    else:
        data = new
    crc = zlib.crc32(new)
    header = bytearray(body[entry.local_start : entry.data_start])
    flags = struct.unpack_from("<H", header, 6)[0] & ~0x08
    struct.pack_into("<H", header, 6, flags)
    struct.pack_into("<3L", header, 14, crc, len(data), len(new))
    return bytes(header) + data, crc, len(data)


# --- the archive's structure ---------------------------------------------------------------------


def _open(body: bytes) -> zipfile.ZipFile:
    """Zipfile's reading of the central directory; `UndecodableBody` if it cannot read it."""
    try:
        end = body.rfind(b"PK\x05\x06", max(0, len(body) - 65_557))
        if end >= 0 and len(body) >= end + 22:
            declared = _END.unpack_from(body, end)[4]
            if declared > MAX_ENTRIES:
                raise UndecodableBody(f"zip archive declares over {MAX_ENTRIES} entries")
        # zipfile may warn (`warnings.warn`) about an empty Unicode path field: that says
        # nothing of the content, and under `-W error` it is an exception refused below.
        return zipfile.ZipFile(io.BytesIO(body))
    except UndecodableBody:
        raise
    except Exception as e:  # noqa: BLE001 - zipfile raises many kinds; its messages quote names
        raise UndecodableBody(f"zip archive does not parse ({type(e).__name__})") from None


def _end_record(body: bytes, archive: zipfile.ZipFile, count: int) -> tuple[int, bool]:
    """Where the end of central directory record starts, and whether the archive is zip64."""
    end = body.rfind(b"PK\x05\x06", max(0, len(body) - 65_557 - 22))
    while end >= 0 and end + 22 + _END.unpack_from(body, end)[7] > len(body):
        end = body.rfind(b"PK\x05\x06", 0, end)
    if end < 0:
        raise UndecodableBody("zip archive has no end of central directory record")
    zip64 = body.rfind(_ZIP64_END, 0, end) >= 0 and body[end - 20 : end - 16] == b"PK\x06\x07"
    declared = _END.unpack_from(body, end)[4]
    if not zip64 and declared != count:
        raise UndecodableBody(
            f"zip archive's end record counts {declared} entries, its directory {count}"
        )
    return end, zip64


def _unpack(layout: struct.Struct, body: bytes, position: int, what: str) -> tuple[Any, ...]:
    if position < 0 or position + layout.size > len(body):
        raise UndecodableBody(f"{what} is cut short")
    return layout.unpack_from(body, position)


def _bound(where: str, size: int, limit: int, left: int) -> str:
    if limit == left:
        return (
            f"zip entry {where} would take the archive over {MAX_UNCOMPRESSED_BYTES} "
            "uncompressed bytes"
        )
    return f"zip entry {where} inflates over {MAX_RATIO}:1 (to over {limit} bytes, {size} seen)"


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp437")


def _extra_texts(extra: bytes) -> Iterator[str]:
    """The text in an extra field block: Info-ZIP Unicode names and comments, any text record."""
    position = 0
    while position + 4 <= len(extra):
        kind, size = struct.unpack_from("<2H", extra, position)
        data = extra[position + 4 : position + 4 + size]
        position += 4 + size
        if kind in _UNICODE_EXTRAS and len(data) > 5:
            data = data[5:]
        sniffed = sniff_text(data) if len(data) >= 4 else None
        if sniffed is not None and sniffed[0].strip():
            yield sniffed[0]
    if position < len(extra):  # not records: read the whole block if it is text
        sniffed = sniff_text(extra)
        if sniffed is not None:
            yield sniffed[0]


def _entry_type(name: str) -> tuple[str, bool]:
    """The media type an entry is read as by its name, and whether it is a guess; "" to sniff."""
    extension = "." + name.rsplit("/", 1)[-1].rpartition(".")[2].lower()
    content_type = ENTRY_TYPES.get(extension, "")
    # XML that does not parse is refused, not read as text: a DOCTYPE's entities would hide text.
    return content_type, content_type not in ("", "application/xml")


def _is_xml(name: str, data: bytes) -> bool:
    return _entry_type(name)[0] == "application/xml" or data.lstrip()[:5] == b"<?xml"


# --- office documents ----------------------------------------------------------------------------


def _local(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _tree(data: bytes) -> ElementTree.Element | None:
    """The entry's XML as a tree (it parsed as an XmlDocument already: no DOCTYPE), or None."""
    try:
        return ElementTree.fromstring(data)
    except (ElementTree.ParseError, ValueError):
        return None


def _paths(root: ElementTree.Element) -> dict[ElementTree.Element, str]:
    """Each element's path as `markup.XmlDocument` locates it: local names, `[n]` on repeats."""
    paths = {root: f"/{_local(root.tag)}"}
    stack = [root]
    while stack:
        parent = stack.pop()
        children = [c for c in parent if isinstance(c.tag, str)]
        counts: dict[str, int] = {}
        for child in children:
            counts[_local(child.tag)] = counts.get(_local(child.tag), 0) + 1
        seen: dict[str, int] = {}
        for child in children:
            name = _local(child.tag)
            seen[name] = seen.get(name, 0) + 1
            index = f"[{seen[name]}]" if counts[name] > 1 else ""
            paths[child] = f"{paths[parent]}/{name}{index}"
            stack.append(child)
    return paths


def _joined_text(location: str, field: str, data: bytes) -> list[Segment]:
    """An office part's paragraphs whose pieces meet inside a number, joined (read-only).

    Only those: a paragraph read whole as well as run by run would have each of its findings
    twice, once where it cannot be rewritten, and every redaction in it would become a block.
    """
    root = _tree(data)
    if root is None or not any(_local(e.tag) in _PARAGRAPHS for e in root.iter()):
        return []
    lines: list[str] = []
    for _, pieces in _paragraphs(root):
        if _number_seam(pieces):
            lines.append("".join(pieces).strip() + "\n")
    if not lines:
        return []
    chunks = chunk_lines("".join(lines), TEXT_CHUNK_CHARS)
    return [
        Segment(f"{location}#text:{i}", chunk, (), f"{field}#text", rewritable=False)
        for i, chunk in enumerate(chunks)
        if chunk.strip()
    ]


def _number_seam(pieces: list[str]) -> bool:
    """True when two neighbouring pieces meet inside a number (`219-09` then `-9999`).

    Each side of the seam must have a digit before any character that is not a digit or one
    written between digit groups: `card 4111` then ` thanks` is no seam.
    """
    for left, right in itertools.pairwise(p for p in pieces if p):
        tail = _TRAILING_NUMBER.search(left)
        head = _LEADING_NUMBER.match(right)
        if (
            tail
            and head
            and any(c.isdigit() for c in tail.group())
            and any(c.isdigit() for c in head.group())
        ):
            return True
    return False


def _paragraphs(root: ElementTree.Element) -> Iterator[tuple[ElementTree.Element, list[str]]]:
    """Each innermost paragraph-like element and the pieces of text in it, in order."""
    for element in root.iter():
        if _local(element.tag) not in _PARAGRAPHS:
            continue
        if any(_local(e.tag) in _PARAGRAPHS for e in element.iter() if e is not element):
            continue
        pieces: list[str] = []
        _pieces(element, pieces)
        yield element, pieces


def _pieces(element: ElementTree.Element, pieces: list[str]) -> None:
    name = _local(element.tag)
    if name in _LINE_BREAKS or name in _TABS or name == "s":
        pieces.append(" ")
    if element.text:
        pieces.append(element.text)
    for child in element:
        _pieces(child, pieces)
        if child.tail:
            pieces.append(child.tail)


def _sheet_contexts(entries: list[_Entry], data: Mapping[str, bytes]) -> dict[str, tuple[str, ...]]:
    """Context words by location prefix: every cell under a header cell gets the header's words.

    xlsx: the cells of `xl/worksheets/*.xml` (their values, and the shared strings they use);
    ods: the cells of `content.xml`'s tables.
    """
    by_name = {e.info.filename: e.location for e in entries}
    contexts: dict[str, tuple[str, ...]] = {}
    shared_location = by_name.get("xl/sharedStrings.xml")
    shared = _shared_strings(data.get(shared_location, b"")) if shared_location else []
    for name, location in by_name.items():
        if name.startswith("xl/worksheets/") and name.endswith(".xml"):
            _xlsx_contexts(location, data.get(location, b""), shared, shared_location, contexts)
        elif name == "content.xml" and b"table:table" in data.get(location, b""):
            _ods_contexts(location, data.get(location, b""), contexts)
    return contexts


def _shared_strings(data: bytes) -> list[tuple[str, str]]:
    """Each shared string's text and its element's path."""
    root = _tree(data) if data else None
    if root is None:
        return []
    paths = _paths(root)
    return [
        ("".join(t.text or "" for t in si.iter() if _local(t.tag) == "t"), paths[si])
        for si in root
        if _local(si.tag) == "si"
    ]


def _column(reference: str | None, position: int) -> int:
    match = _CELL_REF.fullmatch(reference or "")
    if match is None:
        return position
    column = 0
    for letter in match.group(1):
        column = column * 26 + ord(letter) - 64
    return column - 1


def _xlsx_contexts(
    location: str,
    data: bytes,
    shared: list[tuple[str, str]],
    shared_location: str | None,
    contexts: dict[str, tuple[str, ...]],
) -> None:
    root = _tree(data)
    if root is None:
        return
    paths = _paths(root)
    rows: list[list[tuple[int, str, list[str]]]] = []  # per row: (column, text, locations)
    for row in root.iter():
        if _local(row.tag) != "row":
            continue
        cells = []
        for position, cell in enumerate(c for c in row if _local(c.tag) == "c"):
            kind = cell.get("t", "")
            places = [f"{location}{SEP}xml:{paths[cell]}"]
            value = next((c.text or "" for c in cell if _local(c.tag) == "v"), "")
            text = value
            if kind == "s" and value.strip().isdigit() and int(value) < len(shared):
                text, path = shared[int(value)]
                if shared_location:
                    places.append(f"{shared_location}{SEP}xml:{path}")
            elif kind == "inlineStr":
                text = "".join(t.text or "" for t in cell.iter() if _local(t.tag) == "t")
            cells.append((_column(cell.get("r"), position), text, places))
        rows.append(cells)
    _header_contexts(rows, contexts)


def _ods_contexts(location: str, data: bytes, contexts: dict[str, tuple[str, ...]]) -> None:
    root = _tree(data)
    if root is None:
        return
    paths = _paths(root)
    for table in root.iter():
        if _local(table.tag) != "table":
            continue
        rows: list[list[tuple[int, str, list[str]]]] = []
        for row in table.iter():
            if _local(row.tag) != "table-row":
                continue
            cells, column = [], 0
            for cell in row:
                if _local(cell.tag) not in ("table-cell", "covered-table-cell"):
                    continue
                text = "\n".join("".join(p.itertext()) for p in cell if _local(p.tag) == "p")
                cells.append((column, text, [f"{location}{SEP}xml:{paths[cell]}"]))
                repeat = next(
                    (v for k, v in cell.attrib.items() if _local(k) == "number-columns-repeated"),
                    "1",
                )
                column += int(repeat) if repeat.isdigit() and int(repeat) < 16_384 else 1
            rows.append(cells)
        _header_contexts(rows, contexts)


def _header_contexts(
    rows: list[list[tuple[int, str, list[str]]]], contexts: dict[str, tuple[str, ...]]
) -> None:
    """Give every cell below a header row the words of its column's header cell."""
    header = next((r for r in rows if any(text.strip() for _, text, _ in r)), None)
    if header is None:
        return
    names = {column: text.strip() for column, text, _ in header if text.strip()}
    if not looks_like_header(list(names.values())):
        return
    words = {column: context_words(name) for column, name in names.items()}
    for row in rows[rows.index(header) + 1 :]:
        for column, _, places in row:
            if column in words:
                for place in places:
                    contexts[place] = tuple(
                        dict.fromkeys((*contexts.get(place, ()), *words[column]))
                    )


def _with_context(segment: Segment, contexts: Mapping[str, tuple[str, ...]]) -> Segment:
    """`segment` with the context of the cell it is in, if it is in one."""
    if not contexts:
        return segment
    location = segment.location
    # A cell's segments are its location's descendants: `...c[3]/v`, `...c[3]/@value`.
    cut = len(location)
    while cut > 0:
        words = contexts.get(location[:cut])
        if words is not None:
            return replace(segment, context=tuple(dict.fromkeys((*segment.context, *words))))
        cut = max(location.rfind("/", 0, cut), location.rfind(SEP, 0, cut))
        if cut < 0:
            break
    return segment
