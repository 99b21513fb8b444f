"""Tests for dlp_proxy/core/codecs/archives.py: zip entries as documents, office files, bombs."""

from __future__ import annotations

import contextlib
import io
import struct
import zipfile
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.bypass.attacks_documents import docx, xlsx
from dlp_proxy.core.codecs import ZipDocument, archives, parse_body
from dlp_proxy.core.inspect import Message, inspect
from dlp_proxy.crypto.keys import DataKey, Keyring
from dlp_proxy.errors import UndecodableBody
from dlp_proxy.policy.loader import parse_policy
from dlp_proxy.policy.model import Action, Direction
from tests.support import ScriptedDetector

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
SSN = "219-09-9999"


def make_zip(
    entries: list[tuple[str, bytes | str]],
    method: int = zipfile.ZIP_DEFLATED,
    comment: bytes = b"",
) -> bytes:
    """A zip of `entries` in order, each compressed with `method`."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=(2024, 3, 1, 12, 30, 0))
            info.compress_type = method
            archive.writestr(info, data)
        archive.comment = comment
    return out.getvalue()


def read(body: bytes, content_type: str = "application/zip") -> ZipDocument:
    """The document parse_body gives, checked to be a ZipDocument."""
    document = parse_body(content_type, body)
    assert isinstance(document, ZipDocument)
    return document


def texts(document: ZipDocument) -> dict[str, str]:
    """Segment texts by location."""
    return {s.location: s.text for s in document.segments}


# --- reading -------------------------------------------------------------------------------------


def test_entries_are_read_by_their_names_types() -> None:
    """A CSV, JSON and text entry are each read in their format, located under the entry."""
    body = make_zip(
        [
            ("export/customers.csv", "name,ssn\nAnn,219-09-9999\n"),
            ("meta.json", '{"note": "call back"}'),
            ("readme.txt", "hello there"),
        ]
    )
    found = texts(read(body))
    assert found["zip:export/customers.csv>csv:r1.c1"] == SSN
    assert found["zip:meta.json>$.note"] == "call back"
    assert found["zip:readme.txt>text:0"] == "hello there"
    assert found["zip:export/customers.csv#name"] == "export/customers.csv"


@pytest.mark.parametrize("content_type", ["text/plain", "application/octet-stream", ""])
def test_a_zip_under_a_type_that_does_not_say_so_is_read_as_a_zip(content_type: str) -> None:
    """A zip sent as text/plain, octet-stream or untyped is sniffed by its magic number."""
    body = make_zip([("a.txt", f"ssn {SSN}")])
    assert texts(read(body, content_type))["zip:a.txt>text:0"] == f"ssn {SSN}"


def test_nested_zip_is_read_within_the_depth() -> None:
    """A zip inside a zip is read, its entries located under the outer entry."""
    inner = make_zip([("b.txt", f"ssn {SSN}")])
    found = texts(read(make_zip([("a.zip", inner)])))
    assert found["zip:a.zip>zip:b.txt>text:0"] == f"ssn {SSN}"


def test_a_zip_nested_beyond_the_depth_is_refused() -> None:
    """Archives nested deeper than MAX_NESTING raise UndecodableBody naming the bound."""
    body = make_zip([("x.txt", "deep")])
    for _ in range(archives.MAX_NESTING + 1):
        body = make_zip([("inner.zip", body)], zipfile.ZIP_STORED)
    with pytest.raises(UndecodableBody, match="nested over"):
        read(body)


def test_comments_and_unicode_extra_fields_are_segments() -> None:
    """The archive comment, an entry comment and an Info-ZIP Unicode path field are read."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        info = zipfile.ZipInfo("a.txt")
        info.comment = f"entry {SSN}".encode()
        name = f"ssn {SSN}".encode()
        info.extra = struct.pack("<2HB", 0x7075, 5 + len(name), 1) + b"\0\0\0\0" + name
        archive.writestr(info, "x")
        archive.comment = b"archive note 4111"
    found = texts(read(out.getvalue()))
    assert found["zip:#comment"] == "archive note 4111"
    assert any(loc.endswith("#comment") and text == f"entry {SSN}" for loc, text in found.items())
    assert any(loc.endswith("#extra") and SSN in text for loc, text in found.items())


def test_text_outside_every_entry_is_read_and_binary_there_is_uninspectable() -> None:
    """Bytes after the end record are a segment when text, uninspectable when binary."""
    body = make_zip([("a.txt", "x")])
    assert texts(read(body + f"ssn {SSN}".encode()))["zip:#gap[0]"] == f"ssn {SSN}"
    assert read(body + bytes(range(1, 200))).uninspectable == ("zip:#gap[0]",)


def test_binary_entry_of_unknown_kind_is_uninspectable() -> None:
    """An entry of binary bytes no codec reads is listed, so the message fails closed."""
    body = make_zip([("xl/vbaProject.bin", bytes(range(256)) * 4), ("empty.bin", b"")])
    assert read(body).uninspectable == ("zip:xl/vbaProject.bin",)


def test_encrypted_entries_and_unknown_methods_are_refused() -> None:
    """An encrypted entry, or one compressed by a method not read, raises UndecodableBody."""
    body = bytearray(make_zip([("a.txt", "hello")]))
    struct.pack_into("<H", body, 6, 1)  # the local header's encryption flag
    central = body.rfind(b"PK\x01\x02")
    struct.pack_into("<H", body, central + 8, 1)
    with pytest.raises(UndecodableBody, match="encrypted"):
        read(bytes(body))
    bz = make_zip([("a.txt", "hello" * 20)], zipfile.ZIP_BZIP2)
    with pytest.raises(UndecodableBody, match="compression method 12"):
        read(bz)


def test_an_entry_whose_data_does_not_match_its_size_is_refused() -> None:
    """A declared size or CRC that the data does not match raises UndecodableBody."""
    body = bytearray(make_zip([("a.txt", "hello world, hello world")]))
    central = body.rfind(b"PK\x01\x02")
    struct.pack_into("<L", body, central + 24, 5)  # uncompressed size: 5
    struct.pack_into("<L", body, 22, 5)
    with pytest.raises(UndecodableBody, match="declared size and CRC"):
        read(bytes(body))


# --- bombs ---------------------------------------------------------------------------------------


def test_too_many_entries_are_refused_quickly() -> None:
    """A zip of 20,000 empty entries is refused by MAX_ENTRIES, fast."""
    body = make_zip([(f"e{i}", b"") for i in range(20_000)], zipfile.ZIP_STORED)
    with pytest.raises(UndecodableBody, match="over 10000 entries"):
        read(body)


def _zeros_zip(size: int) -> bytes:
    """A zip of one entry of `size` zero bytes, deflated in pieces (never all in memory)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = bytes(1024 * 1024)
    data = b"".join(compressor.compress(piece) for _ in range(size // len(piece)))
    data += compressor.flush()
    crc = 0
    for _ in range(size // len(piece)):
        crc = zlib.crc32(piece, crc)
    name = b"zeros.txt"
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(data), size, 9, 0)
    central = struct.pack(
        "<4s6H3L5H2L",
        b"PK\x01\x02",
        20,
        20,
        0,
        8,
        0,
        0,
        crc,
        len(data),
        size,
        9,
        0,
        0,
        0,
        0,
        0,
        0,
    )
    start = len(local) + len(name) + len(data)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(central) + 9, start, 0)
    return local + name + data + central + name + end


def test_a_gigabyte_of_zeros_is_refused_by_the_total_bound() -> None:
    """A 1 GB entry (1 MB deflated) is refused by its declared size before it is inflated."""
    body = _zeros_zip(1024 * 1024 * 1024)
    with pytest.raises(UndecodableBody, match="over 67108864 uncompressed bytes"):
        read(body)


def test_an_entry_lying_about_its_size_stops_at_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """An entry declaring 10 bytes that inflates to 64 MB is cut at the bound plus one byte."""
    body = bytearray(_zeros_zip(64 * 1024 * 1024))
    struct.pack_into("<L", body, 22, 10)
    central = body.rfind(b"PK\x01\x02")
    struct.pack_into("<L", body, central + 24, 10)
    monkeypatch.setattr(archives, "MAX_UNCOMPRESSED_BYTES", 2 * 1024 * 1024)
    with pytest.raises(UndecodableBody, match=r"uncompressed bytes|inflates over"):
        read(bytes(body))


def test_the_total_bound_counts_every_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Entries each under the bound but over it together are refused."""
    monkeypatch.setattr(archives, "MAX_UNCOMPRESSED_BYTES", 3000)
    body = make_zip([(f"{i}.txt", "word " * 200) for i in range(4)])
    with pytest.raises(UndecodableBody, match="3000 uncompressed bytes"):
        read(body)


# --- office documents ----------------------------------------------------------------------------


def test_xlsx_cells_take_their_headers_context() -> None:
    """A number under an SSN header cell, and a shared string under Name, get those words."""
    document = read(xlsx([["Name", "SSN"], ["Ann Lee", 219099999]]), XLSX)
    by_text = {s.text: s for s in document.segments}
    assert "ssn" in by_text["219099999"].context
    assert by_text["219099999"].rewritable
    assert "name" in by_text["Ann Lee"].context
    assert "ssn" not in by_text["SSN"].context


def test_docx_text_split_over_runs_is_read_joined() -> None:
    """A paragraph whose runs split a number is read again joined, read-only; others are not."""
    document = read(docx([["ssn 219-09", "-9999"], ["hello", " world"]]), DOCX)
    joined = [s for s in document.segments if "#text:" in s.location]
    assert [(s.location, s.text) for s in joined] == [
        ("zip:word/document.xml#text:0", f"ssn {SSN}\n")
    ]
    assert not any(s.rewritable for s in joined)


def test_ods_cells_take_their_headers_context() -> None:
    """An ods cell under an SSN header gets its context, its text and its value attribute."""
    content = (
        '<office:document-content xmlns:office="o" xmlns:table="t" xmlns:text="x">'
        "<office:body><office:spreadsheet><table:table>"
        "<table:table-row><table:table-cell><text:p>SSN</text:p></table:table-cell></table:table-row>"
        '<table:table-row><table:table-cell office:value="219099999"><text:p>219099999</text:p>'
        "</table:table-cell></table:table-row>"
        "</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    body = make_zip(
        [("mimetype", "application/vnd.oasis.opendocument.spreadsheet"), ("content.xml", content)],
        zipfile.ZIP_STORED,
    )
    document = read(body, "application/vnd.oasis.opendocument.spreadsheet")
    numbers = [s for s in document.segments if s.text == "219099999"]
    assert len(numbers) == 2
    assert all("ssn" in s.context for s in numbers)


# --- rebuilding ----------------------------------------------------------------------------------


def test_rebuild_changes_only_the_replaced_entry() -> None:
    """A replaced cell rewrites one entry; the others keep their bytes, names, dates, order."""
    body = xlsx([["Name", "SSN"], ["Ann Lee", 219099999]])
    document = read(body, XLSX)
    location = next(s.location for s in document.segments if s.text == "219099999")
    new = document.rebuild({location: "<US_SSN>"})
    before, after = zipfile.ZipFile(io.BytesIO(body)), zipfile.ZipFile(io.BytesIO(new))
    assert after.testzip() is None
    assert [i.filename for i in after.infolist()] == [i.filename for i in before.infolist()]
    assert [i.date_time for i in after.infolist()] == [i.date_time for i in before.infolist()]
    for info in before.infolist():
        if info.filename == "xl/worksheets/sheet1.xml":
            assert b"<v>&lt;US_SSN&gt;</v>" in after.read(info.filename)
        else:
            assert after.read(info.filename) == before.read(info.filename)
            start = info.header_offset
            size = 30 + len(info.filename) + info.compress_size
            moved = after.getinfo(info.filename).header_offset
            assert new[moved : moved + size] == body[start : start + size]


def test_rebuild_with_nothing_replaced_is_the_original() -> None:
    """rebuild({}) and a replacement by the same text give the exact bytes."""
    body = docx([["hello", " world"]])
    document = read(body, DOCX)
    assert document.rebuild({}) == body
    location = next(s.location for s in document.segments if s.text == "hello")
    assert document.rebuild({location: "hello"}) == body


def test_names_and_comments_cannot_be_replaced() -> None:
    """An entry name is not rewritable: replacing it is a KeyError."""
    document = read(make_zip([("a.txt", "x y z")]))
    with pytest.raises(KeyError):
        document.rebuild({"zip:a.txt#name": "b.txt"})


entries = st.lists(
    st.tuples(
        st.text("abcdefgh/._-", min_size=1, max_size=12).filter(lambda n: not n.endswith("/")),
        st.text(min_size=1, max_size=60).filter(lambda t: t.strip()),
    ),
    min_size=1,
    max_size=5,
    unique_by=lambda e: e[0],
)


@settings(max_examples=40, deadline=None)
@given(entries, st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]), st.data())
def test_round_trip_replaces_one_entry_and_keeps_the_rest(
    items: list[tuple[str, str]], method: int, data: st.DataObject
) -> None:
    """Replacing one text segment changes that entry only; every other entry reads the same."""
    named = [(f"{name}.txt", text) for name, text in items]
    body = make_zip(named, method)
    document = read(body)
    assert document.rebuild({}) == body
    writable = [s for s in document.segments if s.rewritable]
    if not writable:
        return
    target = data.draw(st.sampled_from(writable))
    new = document.rebuild({target.location: "<REDACTED>"})
    after = zipfile.ZipFile(io.BytesIO(new))
    assert after.testzip() is None
    assert [i.filename for i in after.infolist()] == [n for n, _ in named]
    changed = [n for n, t in named if after.read(n) != t.encode()]
    assert len(changed) <= 1
    assert all(i.compress_type == method for i in after.infolist())


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_raise_nothing_but_undecodable_body(data: bytes) -> None:
    """Garbage after a zip magic number either reads or raises UndecodableBody."""
    for body in (
        b"PK\x03\x04" + data,
        b"PK\x05\x06" + data,
        make_zip([("a.txt", "x")])[:-3] + data,
    ):
        with contextlib.suppress(UndecodableBody):
            read(body)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 400), st.integers(0, 255))
def test_a_flipped_byte_never_raises_anything_else(position: int, value: int) -> None:
    """One byte of a valid xlsx changed either reads or raises UndecodableBody."""
    body = bytearray(xlsx([["Name"], ["Ann"]]))
    body[position % len(body)] = value
    with contextlib.suppress(UndecodableBody):
        read(bytes(body))


# --- through the inspector -----------------------------------------------------------------------

POLICY = """
version: 1
name: unit
mode: enforce
on_error: block
max_body_bytes: 1000000
unknown_destinations: inspect
rules:
  - id: redact-ssn
    entities: [US_SSN]
    action: redact
  - id: encrypt-cards
    entities: [CREDIT_CARD]
    action: encrypt
  - id: redact-emails
    entities: [EMAIL_ADDRESS]
    action: redact
"""
KEYRING = Keyring(keys=(DataKey(id="k", created="x", state="active", secret=b"\x07" * 32),))


def _inspect(body: bytes, content_type: str) -> tuple[Action, bytes | None]:
    message = Message(
        direction=Direction.REQUEST,
        method="POST",
        host="api.vendor.example",
        path="/upload",
        content_type=content_type,
        body=body,
    )
    decision = inspect(message, parse_policy(POLICY), detector=ScriptedDetector(), keyring=KEYRING)
    return decision.action, decision.body


def test_an_ssn_in_an_xlsx_cell_is_redacted_and_the_rest_kept() -> None:
    """The inspector redacts the cell; the xlsx opens and its other entries are identical."""
    body = xlsx([["Name", "Note"], ["Ann", f"ssn {SSN}"]])
    action, new = _inspect(body, XLSX)
    assert action is Action.REDACT
    assert new is not None
    before, after = zipfile.ZipFile(io.BytesIO(body)), zipfile.ZipFile(io.BytesIO(new))
    assert SSN.encode() not in after.read("xl/sharedStrings.xml")
    for name in ("[Content_Types].xml", "xl/workbook.xml", "xl/worksheets/sheet1.xml"):
        assert after.read(name) == before.read(name)


def test_a_card_split_over_docx_runs_blocks() -> None:
    """A value only the joined paragraph shows cannot be rewritten there: the message blocks."""
    action, new = _inspect(docx([["card 4111 1111", " 1111 1111"]]), DOCX)
    assert action is Action.BLOCK
    assert new is None


def test_an_email_in_a_paragraph_of_several_runs_is_redacted_not_blocked() -> None:
    """Runs that do not split a number are read run by run only: the email is rewritten."""
    action, new = _inspect(docx([["write to ", "maria@example.com", " today"]]), DOCX)
    assert action is Action.REDACT
    assert new is not None
    assert b"maria@" not in zipfile.ZipFile(io.BytesIO(new)).read("word/document.xml")


def test_a_card_split_over_runs_of_an_uploaded_docx_blocks() -> None:
    """Inside a multipart upload the joined text is a read-only segment: a card there blocks."""
    document = docx([["card 4111 1111", " 1111 1111"]])
    boundary = "b0undary"
    body = (
        (
            f"--{boundary}\r\nContent-Disposition: form-data; name=file; filename=a.docx\r\n"
            f"Content-Type: {DOCX}\r\n\r\n"
        ).encode()
        + document
        + f"\r\n--{boundary}--\r\n".encode()
    )
    action, new = _inspect(body, f"multipart/form-data; boundary={boundary}")
    assert action is Action.BLOCK
    assert new is None


def test_a_clean_docx_passes_unchanged() -> None:
    """A docx with no finding is allowed and not rebuilt."""
    body = docx([["Quarterly", " report"], ["All good"]])
    action, new = _inspect(body, DOCX)
    assert action is Action.ALLOW
    assert new in (None, body)


def test_a_card_in_one_docx_run_is_encrypted_in_place() -> None:
    """A card within one run is found there (and again, joined): encrypted, not blocked."""
    action, new = _inspect(docx([["card 4111 1111 1111 1111", " thanks"]]), DOCX)
    assert action is Action.ENCRYPT
    assert new is not None
    assert b"4111" not in zipfile.ZipFile(io.BytesIO(new)).read("word/document.xml")
