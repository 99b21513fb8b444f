"""Tests for dlp_proxy/core/codecs/pdf.py: page text, metadata, fields, bounds of a PDF."""

from __future__ import annotations

import contextlib
import logging
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.bypass.attacks_documents import pdf
from dlp_proxy.core.codecs import PdfDocument, parse_body
from dlp_proxy.core.codecs import pdf as pdf_module
from dlp_proxy.core.codecs.pdf import shown_strings
from dlp_proxy.errors import UndecodableBody

SSN = "219-09-9999"


def make_pdf(
    streams: list[bytes],
    info: dict[str, str] | None = None,
    compress: bool = False,
    extra: list[bytes] | None = None,
    catalog: bytes = b"",
) -> bytes:
    """A PDF with one page per content stream in Helvetica (the bypass suite's builder)."""
    return pdf(streams, info, flate=compress, extra=extra, catalog=catalog)


def page(text: bytes) -> bytes:
    """A content stream drawing `text` (operators as given) at the top of the page."""
    return b"BT /F1 12 Tf 72 700 Td " + text + b" ET"


def read(body: bytes, content_type: str = "application/pdf") -> PdfDocument:
    """The document parse_body gives, checked to be a PdfDocument."""
    document = parse_body(content_type, body)
    assert isinstance(document, PdfDocument)
    return document


def all_text(document: PdfDocument) -> str:
    """Every segment's text, one a line."""
    return "\n".join(s.text for s in document.segments)


@pytest.mark.parametrize(
    "operators",
    [
        b"(ssn 219-09-9999) Tj",
        b"[(ssn 219) -15 (-09-) 20 (9999)] TJ",
        b"<73736e203231392d30392d39393939> Tj",
    ],
    ids=["Tj", "TJ-kerning", "hex"],
)
def test_page_text_is_read(operators: bytes) -> None:
    """Text shown by Tj, by a TJ array with kerning between digit groups, in hex, is read."""
    document = read(make_pdf([page(operators)]))
    assert SSN in all_text(document)
    assert [s.location for s in document.segments] == ["pdf:page:0>text:0"]
    assert not any(s.rewritable for s in document.segments)


def test_flate_streams_and_every_page_are_read() -> None:
    """Compressed content streams are read, each page located by its number."""
    document = read(
        make_pdf([page(b"(Invoice 42) Tj"), page(f"({SSN}) Tj".encode())], compress=True)
    )
    found = {s.location: s.text for s in document.segments}
    assert found["pdf:page:1>text:0"] == SSN
    assert found["pdf:page:0>text:0"] == "Invoice 42"


def test_document_information_is_read_with_its_keys() -> None:
    """/Author, /Keywords and a custom key are segments, and so are the keys."""
    info = {"Author": "Ann Lee", "Keywords": f"ssn {SSN}", "CustomerRef": "ref 4111"}
    found = {s.location: s.text for s in read(make_pdf([page(b"(x) Tj")], info)).segments}
    assert found["pdf:info:/Keywords"] == f"ssn {SSN}"
    assert found["pdf:info:/Author"] == "Ann Lee"
    assert found["pdf:info:/CustomerRef#name"] == "/CustomerRef"


def test_annotations_and_form_fields_are_read() -> None:
    """An annotation's /Contents and a form field's value are segments."""
    annotation = f"<< /Type /Annot /Subtype /Text /Rect [0 0 10 10] /Contents (note {SSN}) >>"
    field = "<< /FT /Tx /T (ssn) /V (219-09-9999) >>"
    streams = [page(b"(form) Tj")]
    body = make_pdf(
        streams,
        extra=[annotation.encode(), field.encode()],
        catalog=b"/AcroForm << /Fields [7 0 R] >> ",
    )
    body = body.replace(b"/Contents 5 0 R >>", b"/Contents 5 0 R /Annots [6 0 R] >>")
    found = {s.location: s.text for s in read(body).segments}
    assert found["pdf:page:0>annot:0/Contents"] == f"note {SSN}"
    assert found["pdf:field:ssn"] == SSN


def test_a_pdf_sent_as_octet_stream_or_untyped_is_read() -> None:
    """A PDF is sniffed by its magic number when its type does not say."""
    body = make_pdf([page(b"(hello) Tj")])
    assert all_text(read(body, "application/octet-stream")) == "hello"
    assert all_text(read(body, "")) == "hello"


def test_rebuild_gives_the_pdf_back_and_refuses_any_replacement() -> None:
    """Nothing replaced: the same bytes; a replacement: UndecodableBody (a finding blocks)."""
    body = make_pdf([page(b"(hello) Tj")])
    document = read(body)
    assert document.rebuild({}) == body
    with pytest.raises(UndecodableBody, match="cannot be changed in a PDF"):
        document.rebuild({"pdf:page:0>text:0": "x"})
    with pytest.raises(KeyError):
        document.rebuild({"pdf:page:9>text:0": "x"})


def test_a_flate_bomb_is_refused_within_its_bound() -> None:
    """A content stream inflating past MAX_STREAM_BYTES is refused, quickly."""
    compressor = zlib.compressobj(9)
    piece = b" " * (1024 * 1024)
    data = b"".join(compressor.compress(piece) for _ in range(64)) + compressor.flush()
    stream = b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data
    body = make_pdf([b"(x) Tj"]).replace(b"<< /Length 6 >>\nstream\n(x) Tj", stream)
    with pytest.raises(UndecodableBody, match="PDF does not parse"):
        read(body)


def test_too_many_pages_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A PDF of more than MAX_PAGES pages is refused."""
    monkeypatch.setattr(pdf_module, "MAX_PAGES", 2)
    with pytest.raises(UndecodableBody, match="over 2 pages"):
        read(make_pdf([page(b"(a) Tj")] * 3))


def test_too_much_text_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Text past MAX_TEXT_CHARS is refused, naming where."""
    monkeypatch.setattr(pdf_module, "MAX_TEXT_CHARS", 10)
    with pytest.raises(UndecodableBody, match="over 10 characters"):
        read(make_pdf([page(b"(twenty characters!!) Tj")]))


def test_errors_name_the_exception_type_never_the_content() -> None:
    """A broken PDF's error says what kind of failure, not what pypdf quoted."""
    with pytest.raises(UndecodableBody) as caught:
        read(b"%PDF-1.4\n1 0 obj << /Secret (219-09-9999) ")
    assert SSN not in str(caught.value)


def test_pypdf_logs_nothing_into_ours(caplog: pytest.LogCaptureFixture) -> None:
    """pypdf's repair messages (which quote the document) never reach the log records."""
    body = make_pdf([page(f"({SSN}) Tj".encode())]).replace(b"startxref\n", b"startxref\n9")
    with caplog.at_level(logging.DEBUG), contextlib.suppress(UndecodableBody):
        read(body)
    assert not [r for r in caplog.records if r.name.startswith("pypdf")]


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_raise_nothing_but_undecodable_body(data: bytes) -> None:
    """Garbage after a PDF header either reads or raises UndecodableBody."""
    for body in (b"%PDF-1.4\n" + data, make_pdf([page(b"(a) Tj")])[:-40] + data):
        with contextlib.suppress(UndecodableBody):
            read(body)


@settings(max_examples=25, deadline=None)
@given(
    st.text(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -.,:;#",
        min_size=1,
        max_size=40,
    ).filter(lambda t: t.strip())
)
def test_shown_text_is_read_back(text: str) -> None:
    """Whatever printable ASCII a Tj shows is what the page's segment holds."""
    document = read(make_pdf([page(b"(" + text.encode() + b") Tj")]))
    assert all_text(document).strip() == text.strip()


def _without_fonts(body: bytes) -> bytes:
    return body.replace(b" /Resources << /Font << /F1 3 0 R >> >>", b"")


def test_text_shown_without_fonts_is_read_from_the_strings() -> None:
    """A page with no fonts shows nothing to pypdf; its strings still hold the SSN: read them."""
    body = _without_fonts(make_pdf([page(f"(Customer ssn {SSN}) Tj".encode())]))
    assert SSN in all_text(read(body))


def test_shown_strings_are_not_read_twice() -> None:
    """What pypdf extracts already is not listed again from the raw strings."""
    document = read(make_pdf([page(f"(Customer ssn {SSN}) Tj".encode())]))
    assert [s.location for s in document.segments if SSN in s.text] == ["pdf:page:0>text:0"]


def test_a_flate_bomb_on_a_page_without_fonts_is_refused() -> None:
    """The page's content is decoded under the limits even when pypdf would skip it."""
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(b" " * (1024 * 1024)) for _ in range(64))
    data += compressor.flush()
    stream = b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data
    body = _without_fonts(make_pdf([b"(x) Tj"])).replace(b"<< /Length 6 >>\nstream\n(x) Tj", stream)
    with pytest.raises(UndecodableBody, match="LimitReachedError"):
        read(body)


@given(st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), min_size=1, max_size=80))
def test_shown_strings_round_trip(text: str) -> None:
    """Any Latin-1 text written as an escaped literal or hex string is read back."""
    raw = text.encode("latin-1")
    escaped = raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
    assert shown_strings(b"BT (" + escaped + b") Tj ET") == text.strip()
    assert shown_strings(b"BT <" + raw.hex().encode() + b"> Tj ET") == text.strip()
