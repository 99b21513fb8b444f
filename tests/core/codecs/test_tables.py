"""Tests for dlp_proxy/core/codecs/tables.py: CSV, TSV and NDJSON."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlp_proxy.core.codecs import (
    CsvDocument,
    NdjsonDocument,
    parse_body,
)
from dlp_proxy.errors import UndecodableBody
from tests.core.codecs.support import (
    by_location,
    csv_tables,
    json_values,
    names_only,
    pick_replacements,
    shape,
    values_only,
    write_csv,
)


def test_ndjson_records_are_json_documents() -> None:
    """Each line is a JSON document `l<N>`; rebuild rewrites only changed lines, endings kept."""
    body = b'{"email":"maria@example.com"}\r\n\n  {"n": [1, "x"]}  \n"top"'
    doc = parse_body("application/x-ndjson", body)
    assert isinstance(doc, NdjsonDocument)
    assert [(s.location, s.text, s.context) for s in values_only(doc.segments)] == [
        ("l0>$.email", "maria@example.com", ("email",)),
        ("l2>$.n[1]", "x", ("n",)),
        ("l3>$", "top", ()),
    ]
    assert doc.rebuild({}) == body
    assert doc.rebuild({"l2>$.n[1]": "Y"}) == (
        b'{"email":"maria@example.com"}\r\n\n  {"n":[1,"Y"]}  \n"top"'
    )


@pytest.mark.parametrize("content_type", ["application/jsonl", "application/x-jsonlines"])
def test_json_lines_types(content_type: str) -> None:
    """JSON Lines media types are read as NDJSON."""
    doc = parse_body(content_type, b'{"a":"b"}\n{"a":"c"}\n')
    assert by_location(values_only(doc.segments)) == {"l0>$.a": "b", "l1>$.a": "c"}


def test_json_text_sequence() -> None:
    """`application/json-seq` records start with RS; rebuild keeps the separators."""
    body = b'\x1e{"a":"b"}\n\x1e{"a": "c"}\n'
    doc = parse_body("application/json-seq", body)
    assert by_location(values_only(doc.segments)) == {"l0>$.a": "b", "l1>$.a": "c"}
    assert doc.rebuild({"l1>$.a": "<C>"}) == b'\x1e{"a":"b"}\n\x1e{"a":"<C>"}\n'


@pytest.mark.parametrize(
    ("content_type", "body", "message"),
    [
        (
            "application/x-ndjson",
            b'{"a":1}\n{bad\n',
            "NDJSON body does not parse: record 1: Expecting property name enclosed in double "
            "quotes at column 2",
        ),
        ("application/x-ndjson", b'{"a":1}\n\xff\n', r"NDJSON body is not valid utf-8 \(byte 8\)"),
        ("application/x-ndjson", b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        ("application/json-seq", b'{"a":1}\n', "does not start with a record separator"),
    ],
    ids=["syntax", "not-utf8", "too-deep", "seq-without-rs"],
)
def test_invalid_ndjson_is_undecodable(content_type: str, body: bytes, message: str) -> None:
    """A record that is not JSON makes the body undecodable, naming the record."""
    with pytest.raises(UndecodableBody, match=message):
        parse_body(content_type, body)


CSV_BODY = (
    b"name,email,amount,notes\r\n"
    b'Maria Gonzalez,maria@example.com,12.50,"called, twice\nabout ""card"""\r\n'
    b"John Smith,john@example.com,3,\r\n"
)


def test_csv_cells_are_segments_with_their_column_names_as_context() -> None:
    """Data cells are `csv:r<row>.c<col>`; the header gives context; short numbers are skipped."""
    doc = parse_body("text/csv", CSV_BODY)
    assert isinstance(doc, CsvDocument)
    assert [(s.location, s.text, s.context) for s in values_only(doc.segments)] == [
        ("csv:r1.c0", "Maria Gonzalez", ("name",)),
        ("csv:r1.c1", "maria@example.com", ("email",)),
        ("csv:r1.c3", 'called, twice\nabout "card"', ("notes",)),
        ("csv:r2.c0", "John Smith", ("name",)),
        ("csv:r2.c1", "john@example.com", ("email",)),
    ]


def test_csv_rebuild_rewrites_only_the_changed_rows() -> None:
    """Untouched rows are copied byte for byte; a changed row is quoted as it needs."""
    doc = parse_body("text/csv", CSV_BODY)
    assert doc.rebuild({}) == CSV_BODY
    assert doc.rebuild({"csv:r2.c0": 'Smith, "J"\nx'}) == (
        b"name,email,amount,notes\r\n"
        b'Maria Gonzalez,maria@example.com,12.50,"called, twice\nabout ""card"""\r\n'
        b'"Smith, ""J""\nx",john@example.com,3,\r\n'
    )


def test_csv_rebuild_keeps_quoting_bom_and_line_endings() -> None:
    """A file quoting every field keeps doing so; the BOM, LF endings and last line stay."""
    body = '\ufeff"name","email"\n"Maria","m@x.example"\n"John","j@x.example"'.encode()
    doc = parse_body("text/csv", body)
    assert by_location(values_only(doc.segments))["csv:r2.c1"] == "j@x.example"
    assert doc.segments[0].context == ("name",)
    assert doc.rebuild({"csv:r2.c1": "<E>"}) == (
        '\ufeff"name","email"\n"Maria","m@x.example"\n"John","<E>"'.encode()
    )


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        (
            "text/csv",
            b"Maria Gonzalez,maria@example.com\n",
            {"csv:r0.c0": "Maria Gonzalez", "csv:r0.c1": "maria@example.com"},
        ),
        (
            "text/csv",
            b"name,account_2024\n",  # three digits in a row: data, not a column name
            {"csv:r0.c0": "name", "csv:r0.c1": "account_2024"},
        ),
        (
            "text/csv; header=absent",
            b"name,email\nx,y\n",
            {"csv:r0.c0": "name", "csv:r0.c1": "email", "csv:r1.c0": "x", "csv:r1.c1": "y"},
        ),
        (
            "text/csv; header=present",
            b"4111111111111111,x\nab,cd\n",
            {"csv:r1.c0": "ab", "csv:r1.c1": "cd"},
        ),
    ],
    ids=["data-first-row", "digits-in-first-row", "header-absent", "header-present"],
)
def test_csv_first_row_is_inspected_unless_it_is_a_header(
    content_type: str, body: bytes, expected: dict[str, str]
) -> None:
    """A first row that does not look like column names (or `header=absent`) is data."""
    assert by_location(values_only(parse_body(content_type, body).segments)) == expected


def test_tsv_and_sniffed_delimiters() -> None:
    """TSV splits on tabs only; a CSV's delimiter is read from its first line."""
    tsv = parse_body("text/tab-separated-values", b"name\temail\nMaria, G.\tm@x.example\n")
    assert by_location(values_only(tsv.segments)) == {
        "csv:r1.c0": "Maria, G.",
        "csv:r1.c1": "m@x.example",
    }
    body = b"name;iban\nMaria;DE89 3704 0044 0532 0130 00\n"
    semi = parse_body("text/csv", body)
    assert by_location(values_only(semi.segments)) == {
        "csv:r1.c0": "Maria",
        "csv:r1.c1": "DE89 3704 0044 0532 0130 00",
    }
    assert semi.rebuild({"csv:r1.c1": "<IBAN>; x"}) == b'name;iban\nMaria;"<IBAN>; x"\n'


def test_csv_cells_can_hold_nested_documents() -> None:
    """A cell holding JSON or base64 is a nested document like any other value."""
    body = b'id,payload\nA-1,"{""ssn"": ""078-05-1120""}"\n'
    doc = parse_body("text/csv", body)
    assert by_location(values_only(doc.segments)) == {
        "csv:r1.c0": "A-1",
        "csv:r1.c1>$.ssn": "078-05-1120",
    }
    assert doc.rebuild({"csv:r1.c1>$.ssn": "<SSN>"}) == (b'id,payload\nA-1,"{""ssn"":""<SSN>""}"\n')


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b'a,b\n"' + b"x" * (csv.field_size_limit() + 1) + b'",y\n',
            "CSV body does not parse at line 2: field larger than field limit",
        ),
        (b"a,b\n\xff\n", r"CSV body is not valid utf-8 \(byte 4\)"),
    ],
    ids=["field-over-limit", "not-utf8"],
)
def test_invalid_csv_is_undecodable(body: bytes, message: str) -> None:
    """A field over csv's size limit or bytes outside the charset make the body undecodable."""
    with pytest.raises(UndecodableBody, match=message):
        parse_body("text/csv", body)


def test_a_one_megabyte_csv_is_parsed_and_rebuilt_quickly() -> None:
    """A 1 MB export is read and rebuilt in linear time (well under the bound on a slow CI)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "name", "email", "note", "created"])
    i = 0
    while out.tell() < 1_000_000:
        writer.writerow([i, f"Customer {i}", f"user{i}@example.com", "called, twice", "2026-01-02"])
        i += 1
    body = out.getvalue().encode()
    doc = parse_body("text/csv", body)
    replacements = {s.location: "<X>" for s in values_only(doc.segments)[::5]}
    rebuilt = doc.rebuild(replacements)
    assert len(values_only(doc.segments)) == 4 * i
    assert len(names_only(doc.segments)) == 5
    assert rebuilt.count(b"\r\n") == body.count(b"\r\n")


@given(values=st.lists(json_values, min_size=1, max_size=4), data=st.data())
def test_ndjson_round_trip(values: list[Any], data: st.DataObject) -> None:
    """Any NDJSON rebuilds with the same lines, shapes and endings; replacements read back."""
    endings = [data.draw(st.sampled_from(["\n", "\r\n", "\n\n"])) for _ in values]
    text = "".join(json.dumps(v) + e for v, e in zip(values, endings, strict=True))
    doc = parse_body("application/x-ndjson", text.encode())
    assert doc.rebuild({}) == text.encode()
    original = by_location(values_only(doc.segments))
    replacements = pick_replacements(data, list(original))
    rebuilt = doc.rebuild(replacements).decode()
    old_lines, new_lines = text.split("\n"), rebuilt.split("\n")
    assert len(new_lines) == len(old_lines)
    changed = {int(location[1:].partition(">")[0]) for location in replacements}
    for i, (old, new) in enumerate(zip(old_lines, new_lines, strict=True)):
        if i not in changed:
            assert new == old
        elif old.strip():
            assert shape(json.loads(new)) == shape(json.loads(old))
    again = parse_body("application/x-ndjson", rebuilt.encode())
    assert by_location(values_only(again.segments)) == {**original, **replacements}


def csv_records(text: str, delimiter: str) -> list[tuple[list[str], str]]:
    """Each record's fields and its exact text, read back with the csv module."""
    lines = io.StringIO(text, newline="").readlines()
    reader = csv.reader(lines, delimiter=delimiter)
    records: list[tuple[list[str], str]] = []
    start = 0
    for fields in reader:
        records.append((fields, "".join(lines[start : reader.line_num])))
        start = reader.line_num
    return records


@given(table=csv_tables(), data=st.data())
def test_csv_round_trip(table: tuple[list[list[str]], str, str], data: st.DataObject) -> None:
    """Any CSV/TSV rebuilds with the same rows: changed cells read back, other rows untouched."""
    rows, delimiter, ending = table
    content_type = "text/tab-separated-values" if delimiter == "\t" else "text/csv"
    text = write_csv(rows, delimiter, ending)
    doc = parse_body(content_type, text.encode())
    assert doc.rebuild({}) == text.encode()
    original = by_location(values_only(doc.segments))
    replacements = pick_replacements(data, list(original))
    rebuilt = doc.rebuild(replacements).decode()
    expected = [list(row) for row in rows]
    for location, new in replacements.items():
        row, _, column = location.removeprefix("csv:r").partition(".c")
        expected[int(row)][int(column)] = new
    records, old_records = csv_records(rebuilt, delimiter), csv_records(text, delimiter)
    assert [fields for fields, _ in records] == expected
    for (fields, raw), (old_fields, old_raw) in zip(records, old_records, strict=True):
        if fields == old_fields:
            assert raw == old_raw
    assert by_location(values_only(parse_body(content_type, rebuilt.encode()).segments)) == {
        **original,
        **replacements,
    }


@given(table=csv_tables())
def test_csv_field_is_the_column_name(table: tuple[list[list[str]], str, str]) -> None:
    """Every cell of a CSV/TSV with a header has the field `csv:<its column's name>`."""
    rows, delimiter, ending = table
    content_type = "text/tab-separated-values" if delimiter == "\t" else "text/csv"
    doc = parse_body(content_type, write_csv(rows, delimiter, ending).encode())
    for segment in values_only(doc.segments):
        column = int(segment.location.partition(".c")[2])
        assert segment.field == f"csv:{rows[0][column]}"


# --- names ---------------------------------------------------------------------------------------


def test_csv_header_names_are_segments_that_can_be_renamed() -> None:
    """Each header cell is the name of its column, `csv:c<column>#name`; a rename rewrites it."""
    doc = parse_body("text/csv", CSV_BODY)
    assert [(s.location, s.text, s.field, s.rewritable) for s in names_only(doc.segments)] == [
        ("csv:c0#name", "name", "csv:name#name", True),
        ("csv:c1#name", "email", "csv:email#name", True),
        ("csv:c2#name", "amount", "csv:amount#name", True),
        ("csv:c3#name", "notes", "csv:notes#name", True),
    ]
    assert doc.rebuild({"csv:c1#name": "e, mail"}) == CSV_BODY.replace(
        b"name,email,", b'name,"e, mail",'
    )


def test_a_declared_header_is_inspected_as_names() -> None:
    """With `header=present`, a first row that holds data is still read, as the column names."""
    doc = parse_body("text/csv; header=present", b"4111111111111111,x\nab,cd\n")
    assert by_location(names_only(doc.segments)) == {
        "csv:c0#name": "4111111111111111",
        "csv:c1#name": "x",
    }
    assert doc.rebuild({"csv:c0#name": "<CARD>"}) == b"<CARD>,x\nab,cd\n"


def test_ndjson_keys_are_one_name_for_every_record() -> None:
    """A key every record has is inspected once; renaming it rewrites each record holding it."""
    body = b'{"ssn": "1", "a": 2}\n{"b": 3}\n{"a": 4, "ssn": "5"}\n'
    doc = parse_body("application/x-ndjson", body)
    assert [(s.location, s.field) for s in names_only(doc.segments)] == [
        ("l0>$.ssn#name", "$.ssn#name"),
        ("l0>$.a#name", "$.a#name"),
        ("l1>$.b#name", "$.b#name"),
    ]
    assert doc.rebuild({"l0>$.ssn#name": "<K>"}) == (
        b'{"<K>":"1","a":2}\n{"b": 3}\n{"a":4,"<K>":"5"}\n'
    )


@given(table=csv_tables(), data=st.data())
def test_csv_header_rename_round_trip(
    table: tuple[list[list[str]], str, str], data: st.DataObject
) -> None:
    """Renamed header cells read back as the new names; the data rows stay byte for byte."""
    rows, delimiter, ending = table
    content_type = "text/tab-separated-values" if delimiter == "\t" else "text/csv"
    text = write_csv(rows, delimiter, ending)
    doc = parse_body(content_type, text.encode())
    names = by_location(names_only(doc.segments))
    assert sorted(names.values()) == sorted(rows[0])
    replacements = pick_replacements(data, list(names))
    rebuilt = doc.rebuild(replacements).decode()
    header = list(rows[0])
    for location, new in replacements.items():
        header[int(location.removeprefix("csv:c").removesuffix("#name"))] = new
    records = csv_records(rebuilt, delimiter)
    assert records[0][0] == header
    assert [raw for _, raw in records[1:]] == [raw for _, raw in csv_records(text, delimiter)[1:]]
