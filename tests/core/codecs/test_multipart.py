"""Tests for dlp_proxy/core/codecs/multipart.py: multipart bodies."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlp_proxy.core.codecs import (
    MultipartDocument,
    QueryDocument,
    parse_body,
)
from dlp_proxy.errors import UndecodableBody
from tests.core.codecs.support import (
    BOUNDARY,
    UPLOAD,
    UPLOAD_TYPE,
    by_location,
    csv_tables,
    json_values,
    multipart,
    pick_replacements,
    write_csv,
)


def test_multipart_fields_and_files() -> None:
    """Fields are values; files are documents by type or extension; binary is uninspectable."""
    doc = parse_body(UPLOAD_TYPE, UPLOAD)
    assert isinstance(doc, MultipartDocument)
    assert [(s.location, s.text, s.context) for s in doc.segments] == [
        ("multipart:email", "maria@example.com", ("email",)),
        ("multipart:file>csv:r1.c0", "Maria Gonzalez", ("name",)),
        ("multipart:file>csv:r1.c1", "078-05-1120", ("ssn",)),
        ("multipart:meta>$.customer.phone", "+1 555-010-0199", ("phone",)),
    ]
    assert doc.uninspectable == ("multipart:photo",)


def test_multipart_rebuild_changes_only_the_replaced_parts() -> None:
    """Boundary, headers and untouched parts stay byte for byte; Content-Length is corrected."""
    doc = parse_body(UPLOAD_TYPE, UPLOAD)
    assert doc.rebuild({}) == UPLOAD
    rebuilt = doc.rebuild(
        {"multipart:file>csv:r1.c1": "<SSN>", "multipart:meta>$.customer.phone": "<P>"}
    )
    assert rebuilt == UPLOAD.replace(
        b"Content-Length: 38\r\n\r\nname,ssn\r\nMaria Gonzalez,078-05-1120\r\n",
        b"Content-Length: 32\r\n\r\nname,ssn\r\nMaria Gonzalez,<SSN>\r\n",
    ).replace(b'{"customer": {"phone": "+1 555-010-0199"}}', b'{"customer":{"phone":"<P>"}}')


def test_multipart_unnamed_parts_lf_endings_and_preamble() -> None:
    """multipart/mixed parts without names are `multipart:[i]`; LF-only bodies are read too."""
    body = (
        b"preamble\n"
        + multipart(
            b"Content-Type: text/plain\n\nmaria@example.com",
            b'Content-Type: application/json\n\n{"ssn": "078-05-1120"}',
            b"\njust text",
            boundary="b1",
            newline=b"\n",
        )
        + b"epilogue\n"
    )
    doc = parse_body('multipart/mixed; boundary="b1"', body)
    assert by_location(doc.segments) == {
        "multipart:[0]": "maria@example.com",
        "multipart:[1]>$.ssn": "078-05-1120",
        "multipart:[2]": "just text",
    }
    assert doc.rebuild({"multipart:[2]": "x"}) == body.replace(b"just text", b"x")


def test_multipart_parts_that_cannot_be_read_are_listed() -> None:
    """Transfer encodings, bad charsets, binary and malformed declared types are uninspectable."""
    body = multipart(
        b'Content-Disposition: form-data; name="a"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        b"bWFyaWFAZXhhbXBsZS5jb20=",
        b'Content-Disposition: form-data; name="b"\r\n\r\n\xff\xfe',
        b'Content-Disposition: form-data; name="c"; filename="x.pdf"\r\n'
        b"Content-Type: application/pdf\r\n\r\n%PDF-1.7",
        b'Content-Disposition: form-data; name="d"; filename="x.json"\r\n'
        b"Content-Type: application/json\r\n\r\n{not json",
        b'Content-Disposition: form-data; name="e"; filename="notes.json"\r\n\r\n'
        b"not json: m@x.example",
        b'Content-Disposition: form-data; name="f"; filename="blob"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n\x00\xff\x10",
    )
    doc = parse_body(UPLOAD_TYPE, body)
    assert doc.uninspectable == (
        "multipart:a",
        "multipart:b",
        "multipart:c",
        "multipart:d",
        "multipart:f",
    )
    # A type guessed from the filename that turns out wrong falls back to text.
    assert by_location(doc.segments) == {"multipart:e>text:0": "not json: m@x.example"}


def test_multipart_nested_multipart_and_encoded_filenames() -> None:
    """A multipart part is a document too; `filename*` names and quoted names are decoded."""
    inner = multipart(
        b"Content-Disposition: attachment; filename*=UTF-8''caf%C3%A9.txt\r\n\r\nmaria@example.com",
        boundary="inner",
    )
    body = multipart(
        b'Content-Disposition: form-data; name="a \\"b\\""\r\nContent-Type: multipart/mixed; '
        b"boundary=inner\r\n\r\n" + inner,
    )
    doc = parse_body(UPLOAD_TYPE, body)
    assert by_location(doc.segments) == {
        'multipart:a "b">multipart:[0]>text:0': "maria@example.com"
    }
    rebuilt = doc.rebuild({'multipart:a "b">multipart:[0]>text:0': "<E>"})
    assert rebuilt == body.replace(b"\n\r\nmaria@example.com", b"\n\r\n<E>")


def test_multipart_empty_parts_are_kept_and_only_well_formed_ones_take_content() -> None:
    """Empty parts survive rebuild; a part without a blank line after its headers stays empty."""
    body = (
        b"--b\r\n\r\n--b\r\n"
        b'Content-Disposition: form-data; name="x"\r\n\r\n\r\n--b\r\n'
        b'Content-Disposition: form-data; name="y"\r\n\r\n--b--'
    )
    doc = parse_body("multipart/form-data; boundary=b", body)
    assert doc.segments == ()
    assert doc.rebuild({}) == body
    assert doc.rebuild({"multipart:x": "v"}) == body.replace(b'"x"\r\n\r\n', b'"x"\r\n\r\nv')
    for location in ("multipart:[0]", "multipart:y"):
        with pytest.raises(KeyError):
            doc.rebuild({location: "v"})


@pytest.mark.parametrize(
    ("content_type", "body", "message"),
    [
        ("multipart/form-data", b"--x\r\n\r\na\r\n--x--", "no boundary parameter"),
        (UPLOAD_TYPE, b"no delimiter here", "its boundary never appears"),
        (
            UPLOAD_TYPE,
            UPLOAD[: UPLOAD.index(b'Content-Disposition: form-data; name="meta"')],
            "no closing boundary",
        ),
        (
            UPLOAD_TYPE,
            multipart(b'Content-Disposition: form-data; name="a"\r\nno blank line'),
            "part 0 has no blank line after its headers",
        ),
        ("multipart/form-data; boundary=\u00e9", b"--x--", "boundary is not ASCII"),
    ],
    ids=["no-boundary", "no-delimiter", "not-closed", "no-blank-line", "non-ascii-boundary"],
)
def test_malformed_multipart_is_undecodable(content_type: str, body: bytes, message: str) -> None:
    """A multipart body that is not whole or has no boundary is undecodable."""
    with pytest.raises(UndecodableBody, match=message):
        parse_body(content_type, body)


def test_multipart_replacement_holding_the_boundary_is_refused() -> None:
    """A replacement that would end a part early is refused instead of corrupting the body."""
    doc = parse_body(UPLOAD_TYPE, UPLOAD)
    with pytest.raises(UndecodableBody, match="boundary inside a part"):
        doc.rebuild({"multipart:email": f"x\r\n--{BOUNDARY}--"})
    # The boundary inside a line is no delimiter: such a replacement is fine.
    assert doc.rebuild({"multipart:email": f"x--{BOUNDARY}--"}).count(BOUNDARY.encode()) == 7


MULTIPART_BOUNDARY = "dlp-test-7MA4YWxkTrZu0gW"
part_names = st.from_regex(r"[a-z]{1,6}", fullmatch=True)
parts = st.one_of(
    st.tuples(
        st.just("field"), part_names, st.text(alphabet=st.characters(exclude_categories=("Cs",)))
    ),
    st.tuples(st.just("csv"), part_names, csv_tables().map(lambda t: write_csv(*t))),
    st.tuples(st.just("json"), part_names, json_values.map(json.dumps)),
    st.tuples(st.just("binary"), part_names, st.binary()),
)


def write_part(kind: str, name: str, content: str | bytes) -> bytes:
    """One multipart part: a field, a CSV file, a JSON file typed by extension, or a PNG."""
    headers = {
        "field": f'Content-Disposition: form-data; name="{name}"',
        "csv": f'Content-Disposition: form-data; name="{name}"; filename="{name}.csv"\r\n'
        "Content-Type: text/csv",
        "json": f'Content-Disposition: form-data; name="{name}"; filename="{name}.json"',
        "binary": f'Content-Disposition: form-data; name="{name}"; filename="{name}.png"\r\n'
        "Content-Type: image/png",
    }[kind]
    data = content if isinstance(content, bytes) else content.encode()
    return headers.encode() + b"\r\n\r\n" + data


def split_parts(body: bytes) -> list[bytes]:
    """The parts of a body written with MULTIPART_BOUNDARY, headers and content."""
    delimiter = b"\r\n--" + MULTIPART_BOUNDARY.encode()
    return body.split(delimiter)[1:-1]


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(items=st.lists(parts, min_size=1, max_size=5), data=st.data())
def test_multipart_round_trip(items: list[tuple[str, str, Any]], data: st.DataObject) -> None:
    """Any multipart upload rebuilds with the same parts and headers; replacements read back."""
    body = multipart(*(write_part(*item) for item in items), boundary=MULTIPART_BOUNDARY)
    body = b"\r\n" + body  # so every part sits between two CRLF-led delimiters
    content_type = f"multipart/form-data; boundary={MULTIPART_BOUNDARY}"
    doc = parse_body(content_type, body)
    assert doc.rebuild({}) == body
    assert len(doc.uninspectable) == sum(kind == "binary" for kind, _, _ in items)
    original = by_location(doc.segments)
    replacements = pick_replacements(data, list(original))
    rebuilt = doc.rebuild(replacements)
    old_parts, new_parts = split_parts(body), split_parts(rebuilt)
    assert len(new_parts) == len(old_parts) == len(items)
    for old, new in zip(old_parts, new_parts, strict=True):
        assert new.partition(b"\r\n\r\n")[0] == old.partition(b"\r\n\r\n")[0]
    changed = {location.partition(">")[0] for location in replacements}
    for old, new, location in zip(old_parts, new_parts, doc_part_locations(items), strict=True):
        if location not in changed:
            assert new == old
    again = parse_body(content_type, rebuilt)
    assert by_location(again.segments) == {**original, **replacements}


def doc_part_locations(items: list[tuple[str, str, Any]]) -> list[str]:
    """The location each part of `items` has: its name, `[1]`, `[2]` ... for repeats."""
    locations = QueryDocument([(name, "x") for _, name, _ in items]).locations
    return ["multipart:" + location.removeprefix("query:") for location in locations]
