"""Tables: CSV and TSV, one segment per cell; NDJSON (JSON Lines) and JSON text sequences.

Rebuilding either touches only the records that changed: every other line is copied as it was.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping, Sequence

from dlp_proxy.core.codecs.values import (
    IDENTIFIER_DIGITS,
    NAME_MARK,
    JsonNode,
    Nest,
    context_words,
    decode,
    load_json,
    location_name,
    name_location,
)
from dlp_proxy.errors import UndecodableBody

# Delimiters a CSV body may use; the first line decides, a comma when it is not clear.
CSV_DELIMITERS = ",;\t|"

_NUMBER = re.compile(r"\s*[+-]?\d*(?:[.,]\d+)?\s*")
_HEADER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_ .()#/-]{0,63}")
_DIGIT_RUN = re.compile(r"\d{3}")


def worth_inspecting(text: str) -> bool:
    """False for blank values and plain numbers too short to be identifiers (`42`, `3.50`).

    Such cells and elements are not segments, as a short JSON number is not.
    """
    if not text.strip():
        return False
    return not (_NUMBER.fullmatch(text) and sum(c.isdigit() for c in text) < IDENTIFIER_DIGITS)


def short_digits(text: str) -> bool:
    """True for a few ASCII digits (`219`), too few to inspect, one part of a split id maybe."""
    return text.isascii() and text.isdigit() and len(text) < IDENTIFIER_DIGITS


def looks_like_header(fields: Sequence[str]) -> bool:
    """True when a first row reads as column names: short distinct names, no numbers in them."""
    names = [f.strip() for f in fields]
    return (
        bool(names)
        and all(_HEADER_NAME.fullmatch(n) and not _DIGIT_RUN.search(n) for n in names)
        and len({n.lower() for n in names}) == len(names)
    )


class CsvDocument:
    """A CSV or TSV body: every cell worth inspecting is a segment `csv:r<row>.c<column>`.

    Rows and columns count from 0, over all records (a header is row 0). A cell's field is its
    column: `csv:<name>` by the header's name (stripped, `>` written `%3E`), `csv:c<column>`
    without a header, for an empty name and past the header's last column. The header's names
    are the context of their column, and names of their own: column 3's is located
    `csv:c3#name`, its field `csv:<name>#name`, and it can be replaced like a cell. A first row
    that does not look like a header (or `header=absent`) is data, `csv:r0.c<column>`. Rebuild
    re-writes only the rows that changed, with the same delimiter, quote character and line
    ending; the rest are unchanged.
    """

    def __init__(
        self,
        body: bytes,
        charset: str,
        *,
        delimiter: str | None = None,
        header: bool | None = None,
        depth: int = 0,
    ) -> None:
        self._charset = charset
        text = decode(body, charset, "CSV")
        self._bom = "\ufeff" if text.startswith("\ufeff") else ""
        self._lines = io.StringIO(text[len(self._bom) :], newline="").readlines()
        self._delimiter = delimiter or _sniff_delimiter(self._lines[0] if self._lines else "")
        self._records = self._read()
        first = self._records[0][0] if self._records else []
        self.header = looks_like_header(first) if header is None else header
        names = [name.strip() for name in first] if self.header else []
        columns = [context_words(name) for name in names]
        by_name = [f"csv:{location_name(n)}" if n else f"csv:c{c}" for c, n in enumerate(names)]
        nest = Nest(depth)
        for c, cell in enumerate(first if self.header else []):
            if worth_inspecting(cell):
                nest.name(name_location(f"csv:c{c}"), cell, field=name_location(by_name[c]))
        for r, (fields, _, _) in enumerate(self._records):
            if r == 0 and self.header:
                continue
            for c, cell in enumerate(fields):
                context = columns[c] if c < len(columns) else ()
                field = by_name[c] if c < len(by_name) else f"csv:c{c}"
                if worth_inspecting(cell):
                    nest.value(f"csv:r{r}.c{c}", cell, context, field=field)
                elif short_digits(cell):
                    nest.segment(f"csv:r{r}.c{c}", cell, context, field=field, analyzed=False)
        self._nest = nest
        self.segments = nest.segments
        self.uninspectable = tuple(nest.uninspectable)

    def _read(self) -> list[tuple[list[str], int, int]]:
        """Each record's fields and the lines it spans (a quoted field may hold line breaks)."""
        reader = csv.reader(self._lines, delimiter=self._delimiter, quotechar='"', strict=False)
        records: list[tuple[list[str], int, int]] = []
        start = 0
        try:
            for fields in reader:
                records.append((fields, start, reader.line_num))
                start = reader.line_num
        except csv.Error as e:
            raise UndecodableBody(
                f"CSV body does not parse at line {reader.line_num}: {e}"
            ) from None
        return records

    def rebuild(self, replacements: Mapping[str, str]) -> bytes:
        """The body with the replaced cells; rows without a change are copied as they were."""
        rows: dict[int, dict[int, str]] = {}
        for location, text in self._nest.resolve(replacements).items():
            if location.endswith(NAME_MARK):  # a header name, `csv:c3#name`
                row, column = "0", location.removeprefix("csv:c").removesuffix(NAME_MARK)
            else:
                row, _, column = location.removeprefix("csv:r").partition(".c")
            rows.setdefault(int(row), {})[int(column)] = text
        pieces = [self._bom]
        done = 0
        for r in sorted(rows):
            fields, start, end = self._records[r]
            pieces.append("".join(self._lines[done:start]))
            new = [rows[r].get(c, cell) for c, cell in enumerate(fields)]
            pieces.append(self._write(new, "".join(self._lines[start:end]), fields))
            done = end
        pieces.append("".join(self._lines[done:]))
        return "".join(pieces).encode(self._charset, errors="replace")

    def _write(self, fields: list[str], raw: str, original: list[str]) -> str:
        """One record in this file's dialect, with the original record's line ending."""
        body = raw.rstrip("\r\n")
        ending = raw[len(body) :]
        # When every field was quoted, keep writing them so.
        quote_all = bool(body) and body == self._serialise(original, True, "")
        return self._serialise(fields, quote_all, ending)

    def _serialise(self, fields: list[str], quote_all: bool, ending: str) -> str:
        out = io.StringIO()
        # Written with CRLF whatever the file uses: the writer then quotes every field holding
        # a CR or an LF, which it does not for the characters missing from its terminator.
        writer = csv.writer(
            out,
            delimiter=self._delimiter,
            quotechar='"',
            quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL,
            lineterminator="\r\n",
        )
        writer.writerow(fields)
        return out.getvalue()[:-2] + ending


def _sniff_delimiter(line: str) -> str:
    counts = {d: line.count(d) for d in CSV_DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


class NdjsonDocument:
    """NDJSON / JSON Lines (one JSON text a line) or a JSON text sequence (RFC 7464, `seq`).

    Each record is a JSON document at `l<N>` (from 0), so a value is located `l3>$.email` and
    its key `l3>$.email#name`; its field is the record's own (`$.email`, `$.email#name`),
    shared by every record. A key is a segment in the first record that has it only, and a
    rename rewrites every record that has it. Blank lines are kept and
    skipped. Rebuild writes only the changed records again, compact,
    each with the whitespace and line ending it had.
    """

    def __init__(self, body: bytes, charset: str, *, seq: bool = False, depth: int = 0) -> None:
        self._charset = charset
        what = "JSON text sequence" if seq else "NDJSON"
        text = decode(body, charset, what)
        if seq:
            self._lead, *self._records = text.split("\x1e")
            if self._lead.strip():
                raise UndecodableBody(f"{what} body does not start with a record separator")
            self._records = ["\x1e" + r for r in self._records]
        else:
            self._lead = ""
            self._records = [line + "\n" for line in text.split("\n")]
            self._records[-1] = self._records[-1][:-1]
        self._space = " \t\r\n\x1e" if seq else " \t\r\n"
        nest = Nest(depth)
        for i, record in enumerate(self._records):
            stripped = record.strip(self._space)
            if not stripped:
                continue
            try:
                node = JsonNode(load_json(stripped), (), depth + 1)
            except json.JSONDecodeError as e:
                raise UndecodableBody(
                    f"{what} body does not parse: record {i}: {e.msg} at column {e.colno}"
                ) from None
            except RecursionError:
                raise UndecodableBody(f"{what} body is nested too deeply to inspect") from None
            except ValueError as e:  # e.g. an integer over Python's 4300-digit conversion limit
                raise UndecodableBody(f"{what} body does not parse: record {i}: {e}") from None
            nest.child(f"l{i}", node, field="")
        self._nest = nest
        self.segments = nest.segments
        self.uninspectable = tuple(nest.uninspectable)

    def rebuild(self, replacements: Mapping[str, str]) -> bytes:
        """The body with the changed records written again; other lines are unchanged."""
        records = list(self._records)
        for location, text in self._nest.resolve(replacements).items():
            i = int(location[1:])
            record = records[i]
            stripped = record.strip(self._space)
            start = len(record) - len(record.lstrip(self._space))
            records[i] = record[:start] + text + record[start + len(stripped) :]
        return (self._lead + "".join(records)).encode(self._charset, errors="replace")
