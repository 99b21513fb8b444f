"""Tests for dlp_proxy/core/codecs/multipart.py: multipart bodies."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlp_proxy.core.codecs import (
    SEP,
    MultipartDocument,
    QueryDocument,
    parse_body,
)
from dlp_proxy.core.codecs.multipart import transfer_decode, transfer_encode
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
    values_only,
    write_csv,
)


def test_multipart_fields_and_files() -> None:
    """Fields are values; files are documents by type or extension; binary is uninspectable."""
    doc = parse_body(UPLOAD_TYPE, UPLOAD)
    assert isinstance(doc, MultipartDocument)
    assert [(s.location, s.text, s.context) for s in values_only(doc.segments)] == [
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
    assert by_location(values_only(doc.segments)) == {
        "multipart:[0]": "maria@example.com",
        "multipart:[1]>$.ssn": "078-05-1120",
        "multipart:[2]": "just text",
    }
    assert doc.rebuild({"multipart:[2]": "x"}) == body.replace(b"just text", b"x")


def test_multipart_parts_that_cannot_be_read_are_listed() -> None:
    """Unknown transfer encodings, bad charsets, binary and malformed types are uninspectable."""
    body = multipart(
        b'Content-Disposition: form-data; name="a"\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\n'
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
    assert by_location(values_only(doc.segments)) == {"multipart:e>text:0": "not json: m@x.example"}


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
    assert by_location(values_only(doc.segments)) == {
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
    assert values_only(doc.segments) == ()
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
    original = by_location(values_only(doc.segments))
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
    assert by_location(values_only(again.segments)) == {**original, **replacements}


def doc_part_locations(items: list[tuple[str, str, Any]]) -> list[str]:
    """The location each part of `items` has: its name, `[1]`, `[2]` ... for repeats."""
    locations = QueryDocument([(name, "x") for _, name, _ in items]).locations
    return ["multipart:" + location.removeprefix("query:") for location in locations]


# --- names, filenames, part headers, preamble and epilogue ------------------------------------

AROUND = (
    b"preamble for 078-05-1120\r\n--b\r\n"
    b'Content-Disposition: form-data; name="078-05-1120"; filename="maria@example.com.txt"; '
    b"filename*=UTF-8''caf%C3%A9.txt\r\n"
    b"X-Note: call maria@example.com\r\n back\r\n"
    b"Content-Type: text/plain\r\nContent-Length: 5\r\n\r\n"
    b"hello\r\n--b\r\n"
    b"Content-Disposition: form-data; name=tag; creation-date=219-09-9999\r\n\r\nvip"
    b"\r\n--b--\r\nepilogue li@example.com\r\n"
)


def test_multipart_names_filenames_headers_and_surroundings_are_segments() -> None:
    """Field names, filenames, every header (name and value), preamble and epilogue are read."""
    doc = parse_body("multipart/form-data; boundary=b", AROUND)
    part = "multipart:078-05-1120"
    found = [(s.location, s.text, s.rewritable) for s in doc.segments]
    assert found == [
        (f"{part}>text:0", "hello", True),
        (f"{part}#filename", "maria@example.com.txt", True),
        (f"{part}#filename*", "café.txt", True),
        (f"{part}#header:x-note", "call maria@example.com back", True),
        (f"{part}#header:content-type", "text/plain", False),
        (f"{part}#header:content-length", "5", False),
        ("multipart:tag", "vip", True),
        # What is left of a Content-Disposition without its name and filenames, when not bare.
        ("multipart:tag#header:content-disposition", "form-data; creation-date=219-09-9999", False),
        ("multipart:#preamble", "preamble for 078-05-1120", True),
        ("multipart:#epilogue", "epilogue li@example.com\r\n", True),
        (f"{part}#name", "078-05-1120", True),
        (f"{part}#header:content-disposition#name", "Content-Disposition", False),
        (f"{part}#header:x-note#name", "X-Note", False),
        (f"{part}#header:content-type#name", "Content-Type", False),
        (f"{part}#header:content-length#name", "Content-Length", False),
        ("multipart:tag#name", "tag", True),
        ("multipart:tag#header:content-disposition#name", "Content-Disposition", False),
    ]
    fields = {s.location: s.field for s in doc.segments}
    assert fields[f"{part}#filename"] == f"{part}#filename"
    assert fields["multipart:#preamble"] == "multipart:#preamble"


def test_multipart_renamed_field_and_filenames_rewrite_the_disposition() -> None:
    """New names and filenames are quoted (`filename*` percent-encoded); the rest stays."""
    doc = parse_body("multipart/form-data; boundary=b", AROUND)
    part = "multipart:078-05-1120"
    rebuilt = doc.rebuild(
        {f"{part}#name": "<SSN>", f"{part}#filename": 'a"b\\c\r\nd', f"{part}#filename*": "é x"}
    )
    assert rebuilt == AROUND.replace(
        b'name="078-05-1120"; filename="maria@example.com.txt"; filename*=UTF-8\'\'caf%C3%A9.txt',
        b'name="<SSN>"; filename="a\\"b\\\\c  d"; filename*=UTF-8\'\'%C3%A9%20x',
    )
    again = parse_body("multipart/form-data; boundary=b", rebuilt)
    assert by_location(again.segments)["multipart:<SSN%3E#filename"] == 'a"b\\c  d'
    assert by_location(again.segments)["multipart:<SSN%3E#filename*"] == "é x"
    assert doc.rebuild({"multipart:tag#name": "t2"}).count(b'name="t2"; creation-date=') == 1


def test_multipart_header_values_are_rewritten_on_one_line() -> None:
    """A replaced header value replaces its (folded) lines; framing headers refuse rewrites."""
    doc = parse_body("multipart/form-data; boundary=b", AROUND)
    part = "multipart:078-05-1120"
    rebuilt = doc.rebuild({f"{part}#header:x-note": "call <E>\nlater", f"{part}>text:0": "hi"})
    assert rebuilt == AROUND.replace(
        b"X-Note: call maria@example.com\r\n back\r\n", b"X-Note: call <E> later\r\n"
    ).replace(b"Content-Length: 5\r\n\r\nhello", b"Content-Length: 2\r\n\r\nhi")
    for location in (f"{part}#header:content-type", f"{part}#header:x-note#name"):
        with pytest.raises(KeyError, match="no segment at"):
            doc.rebuild({location: "x"})


def test_multipart_preamble_and_epilogue_are_rewritten_or_dropped() -> None:
    """A replaced preamble or epilogue takes its place; an empty replacement drops it."""
    doc = parse_body("multipart/form-data; boundary=b", AROUND)
    rebuilt = doc.rebuild({"multipart:#preamble": "", "multipart:#epilogue": "<E>"})
    assert rebuilt == AROUND.removeprefix(b"preamble for 078-05-1120").replace(
        b"epilogue li@example.com\r\n", b"<E>"
    )
    assert values_only(parse_body("multipart/form-data; boundary=b", rebuilt).segments)
    with pytest.raises(UndecodableBody, match="boundary inside a part"):
        doc.rebuild({"multipart:#preamble": "x\r\n--b\r\n"})


def test_multipart_headers_that_are_not_utf8_are_read_but_not_rewritten() -> None:
    """A header that is not UTF-8 is read as Latin-1; a rewrite could not keep its other bytes."""
    body = b'--b\r\nContent-Disposition: form-data; name="caf\xe9"\r\nX-A: Zo\xeb\r\n\r\nv\r\n--b--'
    doc = parse_body("multipart/form-data; boundary=b", body)
    texts = {s.location: (s.text, s.rewritable) for s in doc.segments}
    assert texts["multipart:caf\xe9#header:x-a"] == ("Zo\xeb", False)
    assert texts["multipart:caf\xe9#name"] == ("caf\xe9", False)
    assert texts["multipart:caf\xe9"] == ("v", True)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(items=st.lists(parts, min_size=1, max_size=4), data=st.data())
def test_multipart_name_rewrites_round_trip(
    items: list[tuple[str, str, Any]], data: st.DataObject
) -> None:
    """Renamed fields and filenames read back as the new text; the parts' contents stay."""
    body = b"\r\n" + multipart(*(write_part(*item) for item in items), boundary=MULTIPART_BOUNDARY)
    content_type = f"multipart/form-data; boundary={MULTIPART_BOUNDARY}"
    doc = parse_body(content_type, body)
    around = [
        s.location
        for s in doc.segments
        if s.rewritable and SEP not in s.location and s.location.endswith(("#name", "#filename"))
    ]
    chosen = data.draw(st.lists(st.sampled_from(around), unique=True, min_size=1))
    replacements = {location: f'~{i} x"\\y' for i, location in enumerate(chosen)}
    rebuilt = doc.rebuild(replacements)
    again = parse_body(content_type, rebuilt)
    names = [s.text for s in again.segments if s.location.endswith(("#name", "#filename"))]
    for new in replacements.values():
        assert new in names
    old_contents = [p.partition(b"\r\n\r\n")[2] for p in split_parts(body)]
    assert [p.partition(b"\r\n\r\n")[2] for p in split_parts(rebuilt)] == old_contents


def test_multipart_odd_header_lines_and_binary_preamble_are_still_read() -> None:
    """A header line without a colon and a preamble that is not UTF-8 are inspected, not lost."""
    body = b"\xff\xfe pre 078-05-1120\r\n--b\r\nContent-Disposition: form-data; name=a\r\n"
    body += b"078-05-1120\r\n\r\nv\r\n--b--"
    doc = parse_body("multipart/form-data; boundary=b", body)
    texts = {s.location: (s.text, s.rewritable) for s in doc.segments}
    assert texts["multipart:a#header:"] == ("078-05-1120", False)
    assert texts["multipart:#preamble"] == ("\xff\xfe pre 078-05-1120", True)
    assert doc.uninspectable == ()
    assert doc.rebuild({"multipart:#preamble": "x"}) == b"x" + body[body.index(b"\r\n--b") :]


def test_base64_and_quoted_printable_parts_are_read_decoded() -> None:
    """A part in base64 or quoted-printable is read as what it decodes to, by its own type."""
    body = multipart(
        b'Content-Disposition: form-data; name="note"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + base64.encodebytes(b"ssn 219-09-9999 please").strip(),
        b'Content-Disposition: form-data; name="q"\r\n'
        b"Content-Transfer-Encoding: Quoted-Printable\r\n\r\ncard =34111 1111 1111 1111=\r\n ok",
        b'Content-Disposition: form-data; name="f"; filename="c.json"\r\n'
        b"Content-Type: application/json\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.b64encode(b'{"tin": "219099999"}'),
    )
    doc = parse_body(UPLOAD_TYPE, body)
    assert doc.uninspectable == ()
    assert by_location(values_only(doc.segments)) == {
        "multipart:note>text:0": "ssn 219-09-9999 please",
        "multipart:q>text:0": "card 4111 1111 1111 1111 ok",
        "multipart:f>$.tin": "219099999",
    }
    tin = next(s for s in doc.segments if s.location == "multipart:f>$.tin")
    assert tin.context == ("tin",)


def test_a_changed_encoded_part_is_encoded_again() -> None:
    """A replacement inside a base64 part is written back in base64; the rest stays as it was."""
    head = (
        b'Content-Disposition: form-data; name="note"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
    )
    body = multipart(
        head + base64.b64encode(b"ssn 219-09-9999 please"),
        b'Content-Disposition: form-data; name="x"\r\n\r\nkeep',
    )
    doc = parse_body(UPLOAD_TYPE, body)
    rebuilt = doc.rebuild({"multipart:note>text:0": "ssn <SSN> please"})
    assert rebuilt == body.replace(
        base64.b64encode(b"ssn 219-09-9999 please"), base64.b64encode(b"ssn <SSN> please")
    )


def test_corrupt_base64_parts_are_uninspectable() -> None:
    """Base64 that does not decode is not guessed at: the part cannot be inspected."""
    body = multipart(
        b'Content-Disposition: form-data; name="a"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        b"not*base64!"
    )
    assert parse_body(UPLOAD_TYPE, body).uninspectable == ("multipart:a",)


@given(
    st.binary(max_size=500),
    st.sampled_from(["base64", "quoted-printable"]),
    st.sampled_from([b"\n", b"\r\n"]),
)
def test_transfer_encodings_round_trip(data: bytes, transfer: str, newline: bytes) -> None:
    """Whatever bytes are encoded come back from decoding, with either line break."""
    assert transfer_decode(transfer, transfer_encode(transfer, data, newline)) == data
