"""The `documents` class of issue 15: archives, office documents and PDFs vendors exchange.

The secret travels in a zip (typed, as text/plain, as octet-stream, untyped, nested), in an
xlsx cell (a shared string, a number under an SSN header), an xlsm, a docx paragraph (whole, or
split over runs), a pptx slide, an odt or ods, a PDF (Tj, TJ with kerning, hex string, Flate
stream, the document information) and in office files uploaded in multipart forms (plain and
base64). The undo reads each document as a vendor would: zipfile and the XML's text with its
tags removed, pypdf's text and metadata. Benign twins register as controls. The class is in
`registry.MATRIX`.
"""

from __future__ import annotations

import base64
import email
import email.policy
import io
import re
import zipfile
import zlib
from collections.abc import Iterator

from pypdf import PdfReader

from bench.bypass.cases import BENIGN, Made, form_part, post, post_multipart
from bench.bypass.controls import case as control
from bench.bypass.images import exif_segment, jpeg, png, png_chunk
from bench.bypass.pii import Secret
from bench.bypass.registry import CARD, H2, HTTP, HTTPS, REVERSE, SSN, case
from bench.bypass.seen import Seen
from bench.bypass.undo import Undo, bodies

__all__: list[str] = []

DOCS = "documents"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSM = "application/vnd.ms-excel.sheet.macroEnabled.12"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
ODT = "application/vnd.oasis.opendocument.text"
ODS = "application/vnd.oasis.opendocument.spreadsheet"
ZIP = "application/zip"
PDF = "application/pdf"
SHEET_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
WORD_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
DRAWING_NS = "http://schemas.openxmlformats.org/drawingml/2006/main"
PRESENTATION_NS = "http://schemas.openxmlformats.org/presentationml/2006/main"
ODF_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
)
_TAG = re.compile(rb"<[^>]*>")


# --- building documents ------------------------------------------------------------------------


def make_zip(entries: list[tuple[str, bytes | str]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip of `entries`, in order, with fixed dates (the same bytes every run)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 15, 9, 30, 0))
            info.compress_type = zipfile.ZIP_STORED if name == "mimetype" else method
            archive.writestr(info, data)
    return out.getvalue()


def _content_types(overrides: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        f"{overrides}</Types>"
    )


def xlsx(rows: list[list[str | int | float]]) -> bytes:
    """A minimal xlsx of one sheet: strings as shared strings, numbers in `<v>`."""
    shared: list[str] = []
    xml_rows = []
    for r, row in enumerate(rows, 1):
        cells = []
        for c, value in enumerate(row):
            ref = f"{chr(65 + c)}{r}"
            if isinstance(value, str):
                shared.append(value)
                cells.append(f'<c r="{ref}" t="s"><v>{len(shared) - 1}</v></c>')
            else:
                cells.append(f'<c r="{ref}"><v>{value}</v></c>')
        xml_rows.append(f'<row r="{r}">{"".join(cells)}</row>')
    strings = "".join(f"<si><t>{s}</t></si>" for s in shared)
    sheet = f'<worksheet xmlns="{SHEET_NS}"><sheetData>{"".join(xml_rows)}</sheetData></worksheet>'
    return make_zip(
        [
            ("[Content_Types].xml", _content_types("")),
            ("xl/workbook.xml", f'<workbook xmlns="{SHEET_NS}"><sheets/></workbook>'),
            ("xl/sharedStrings.xml", f'<sst xmlns="{SHEET_NS}">{strings}</sst>'),
            ("xl/worksheets/sheet1.xml", sheet),
        ]
    )


def docx(paragraphs: list[list[str]]) -> bytes:
    """A minimal docx: each paragraph a list of runs."""
    body = "".join(
        "<w:p>"
        + "".join(f'<w:r><w:t xml:space="preserve">{t}</w:t></w:r>' for t in runs)
        + "</w:p>"
        for runs in paragraphs
    )
    document = f'<w:document xmlns:w="{WORD_NS}"><w:body>{body}</w:body></w:document>'
    return make_zip([("[Content_Types].xml", _content_types("")), ("word/document.xml", document)])


def pptx(texts: list[str]) -> bytes:
    """A minimal pptx of one slide with a text box per text."""
    shapes = "".join(
        f"<p:sp><p:txBody><a:p><a:r><a:t>{t}</a:t></a:r></a:p></p:txBody></p:sp>" for t in texts
    )
    slide = (
        f'<p:sld xmlns:a="{DRAWING_NS}" xmlns:p="{PRESENTATION_NS}"><p:cSld><p:spTree>'
        f"{shapes}</p:spTree></p:cSld></p:sld>"
    )
    return make_zip([("[Content_Types].xml", _content_types("")), ("ppt/slides/slide1.xml", slide)])


def odf(mime: str, body: str) -> bytes:
    """A minimal OpenDocument package: the stored mimetype, then content.xml."""
    content = f"<office:document-content {ODF_NS}><office:body>{body}</office:body>"
    return make_zip([("mimetype", mime), ("content.xml", content + "</office:document-content>")])


def ods(rows: list[list[str]]) -> bytes:
    """A minimal ods of one table."""
    xml_rows = "".join(
        "<table:table-row>"
        + "".join(f"<table:table-cell><text:p>{v}</text:p></table:table-cell>" for v in row)
        + "</table:table-row>"
        for row in rows
    )
    sheet = f'<office:spreadsheet><table:table table:name="Sheet1">{xml_rows}</table:table>'
    return odf(ODS, sheet + "</office:spreadsheet>")


def pdf(
    pages: list[bytes],
    info: dict[str, str] | None = None,
    flate: bool = False,
    extra: list[bytes] | None = None,
    catalog: bytes = b"",
) -> bytes:
    """A PDF with one page per content stream (Helvetica as /F1), an /Info dictionary if given.

    `extra` objects are numbered after the pages and the info; `catalog` adds to the catalog.
    """
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(len(pages)))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R " + catalog + b">>",
        f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, stream in enumerate(pages):
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 "
            f"0 R >> >> /Contents {5 + 2 * i} 0 R >>".encode()
        )
        data = zlib.compress(stream) if flate else stream
        fil = b" /Filter /FlateDecode" if flate else b""
        objects.append(b"<< /Length %d%s >>\nstream\n" % (len(data), fil) + data + b"\nendstream")
    trailer = b""
    if info:
        objects.append(b"<<" + b"".join(f" /{k} ({v})".encode() for k, v in info.items()) + b" >>")
        trailer = b" /Info %d 0 R" % len(objects)
    objects.extend(extra or [])
    out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
    offsets = []
    for number, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\n" % (len(objects) + 1, trailer)
    return out + b"startxref\n%d\n%%%%EOF\n" % xref


def text_page(*lines: bytes) -> bytes:
    """A content stream showing each of `lines` (text operators as given) one under another."""
    shown = b" 0 -16 Td ".join(lines)
    return b"BT /F1 11 Tf 72 720 Td " + shown + b" ET"


def hex_string(text: str) -> bytes:
    """`text` as a PDF hex string shown with Tj."""
    return b"<" + text.encode().hex().encode() + b"> Tj"


# --- what a vendor reads ------------------------------------------------------------------------


def _document_texts(label: str, data: bytes, depth: int = 0) -> Iterator[tuple[str, bytes]]:
    """What a vendor reads out of a document: zip entries (XML without its tags), PDF text."""
    if depth > 5:
        return
    if data.startswith(b"PK\x03\x04"):
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
            entries = [(i.filename, archive.read(i)) for i in archive.infolist()]
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error):
            return
        for name, entry in entries:
            yield f"{label} > {name}", entry
            if name.endswith((".xml", ".rels")):
                yield f"{label} > {name} (text)", _TAG.sub(b"", entry)
            yield from _document_texts(f"{label} > {name}", entry, depth + 1)
    elif data.startswith(b"%PDF-"):
        try:
            reader = PdfReader(io.BytesIO(data))
            for i, page in enumerate(reader.pages):
                yield f"{label} page {i}", page.extract_text().encode()
            for key, value in (reader.metadata or {}).items():
                yield f"{label} info {key}", str(value).encode()
        except Exception:  # noqa: BLE001 - a vendor's reader given a broken PDF reads nothing
            return


def _parts(seen: Seen) -> Iterator[tuple[str, bytes]]:
    """Every body, and every multipart part decoded (base64, quoted-printable)."""
    yield from bodies(seen)
    for r in seen.requests:
        ctype = r.header("content-type") or ""
        if ctype.lower().startswith("multipart/"):
            head = f"Content-Type: {ctype}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
            message = email.message_from_bytes(head + r.body, policy=email.policy.compat32)
            for part in message.walk():
                payload = part.get_payload(decode=True)
                if isinstance(payload, bytes):
                    yield "part", payload


def _read_documents(seen: Seen) -> list[tuple[str, bytes]]:
    return [found for label, data in _parts(seen) for found in _document_texts(label, data)]


READ = (Undo("documents opened (zipfile, XML text, pypdf)", _read_documents),)


# --- archives -----------------------------------------------------------------------------------


@case(DOCS, SSN, HTTP, undo=READ, own=True)
def zip_of_csv(s: Secret) -> Made:
    """A zip holding a CSV export with an ssn column."""
    body = make_zip([("export/customers.csv", f"id,name,ssn\n17,Dana,{s.dashed}\n")])
    return post("/v1/imports", body, (("Content-Type", ZIP),))


@case(DOCS, CARD, HTTPS, undo=READ, own=True)
def zip_as_text_plain(s: Secret) -> Made:
    """A zip sent as text/plain (the vendor saves it as .zip)."""
    body = make_zip([("notes.txt", f"card on file {s.spaced}\n")])
    return post("/v1/notes", body, (("Content-Type", "text/plain"),))


@case(DOCS, SSN, REVERSE, undo=READ, own=True)
def zip_as_octet_stream(s: Secret) -> Made:
    """A zip sent as application/octet-stream."""
    body = make_zip([("case.json", f'{{"ssn": "{s.dashed}"}}')])
    return post("/v1/files", body, (("Content-Type", "application/octet-stream"),))


@case(DOCS, CARD, HTTP, undo=READ, own=True)
def zip_untyped(s: Secret) -> Made:
    """A zip with no Content-Type at all."""
    body = make_zip([("payment.txt", f"card {s.dashed}\n")])
    return post("/v1/files", body, ())


@case(DOCS, SSN, HTTPS, undo=READ, own=True)
def zip_nested(s: Secret) -> Made:
    """A zip inside a zip, the CSV in the inner one."""
    inner = make_zip([("customers.csv", f"name,ssn\nDana,{s.dashed}\n")])
    body = make_zip([("readme.txt", "monthly export\n"), ("data/export.zip", inner)])
    return post("/v1/imports", body, (("Content-Type", ZIP),))


# --- office documents ---------------------------------------------------------------------------


@case(DOCS, CARD, HTTP, undo=READ, own=True)
def xlsx_shared_string(s: Secret) -> Made:
    """An xlsx whose card number is a shared string (xl/sharedStrings.xml)."""
    body = xlsx([["Customer", "Card"], ["Dana", s.spaced]])
    return post("/v1/imports", body, (("Content-Type", XLSX),))


@case(DOCS, SSN, REVERSE, undo=READ, own=True)
def xlsx_number_under_ssn_header(s: Secret) -> Made:
    """An xlsx with the SSN as a bare number in a cell under an "SSN" header."""
    # An SSN with a leading zero goes as text: as a number it would lose the zero.
    cell: int | str = s.digits if s.digits.startswith("0") else int(s.digits)
    body = xlsx([["Customer", "SSN"], ["Dana", cell]])
    return post("/v1/imports", body, (("Content-Type", XLSX),))


@case(DOCS, SSN, HTTPS, undo=READ, own=True)
def xlsm_cell(s: Secret) -> Made:
    """A macro-enabled workbook (xlsm) with the SSN in a cell."""
    body = xlsx([["Customer", "Note"], ["Dana", f"ssn {s.dashed}"]])
    return post("/v1/imports", body, (("Content-Type", XLSM),))


@case(DOCS, SSN, HTTP, undo=READ, own=True)
def docx_paragraph(s: Secret) -> Made:
    """A docx with the SSN in a paragraph."""
    body = docx([["Call summary"], [f"Customer confirmed ssn {s.dashed} on the call."]])
    return post("/v1/documents", body, (("Content-Type", DOCX),))


@case(DOCS, SSN, HTTPS, undo=READ, own=True)
def docx_split_runs(s: Secret) -> Made:
    """A docx with the SSN split over two runs (<w:t>219-09</w:t> ... <w:t>-9999</w:t>)."""
    first, second = s.dashed[:6], s.dashed[6:]
    body = docx([["Call summary"], ["Customer ssn ", first, second, " confirmed."]])
    return post("/v1/documents", body, (("Content-Type", DOCX),))


@case(DOCS, CARD, REVERSE, undo=READ, own=True)
def pptx_slide(s: Secret) -> Made:
    """A pptx slide with a card number in a text box."""
    body = pptx(["Escalation review", f"Card used: {s.spaced}"])
    return post("/v1/documents", body, (("Content-Type", PPTX),))


@case(DOCS, SSN, HTTP, undo=READ, own=True)
def odt_paragraph(s: Secret) -> Made:
    """An OpenDocument text with the SSN in a paragraph, partly in a span."""
    text = f"<office:text><text:p>Customer ssn <text:span>{s.dashed}</text:span></text:p>"
    body = odf(ODT, text + "</office:text>")
    return post("/v1/documents", body, (("Content-Type", ODT),))


@case(DOCS, CARD, HTTPS, undo=READ, own=True)
def ods_cell(s: Secret) -> Made:
    """An OpenDocument spreadsheet with a card number in a cell."""
    body = ods([["Customer", "Card"], ["Dana", s.dashed]])
    return post("/v1/imports", body, (("Content-Type", ODS),))


# --- PDF ----------------------------------------------------------------------------------------


@case(DOCS, SSN, HTTP, undo=READ, own=True)
def pdf_tj(s: Secret) -> Made:
    """A PDF page showing the SSN with Tj."""
    body = pdf([text_page(b"(Case summary) Tj", f"(Customer ssn {s.dashed}) Tj".encode())])
    return post("/v1/documents", body, (("Content-Type", PDF),))


@case(DOCS, CARD, HTTPS, undo=READ, own=True)
def pdf_tj_kerning(s: Secret) -> Made:
    """A PDF page showing the card in a TJ array with kerning between its digit groups."""
    groups = " -12 ".join(f"({g})" for g in s.parts)
    body = pdf([text_page(b"(Payment card) Tj", f"[{groups}] TJ".encode())])
    return post("/v1/documents", body, (("Content-Type", PDF),))


@case(DOCS, SSN, REVERSE, undo=READ, own=True)
def pdf_hex_string(s: Secret) -> Made:
    """A PDF page showing the SSN as a hex string."""
    body = pdf([text_page(b"(Customer record) Tj", hex_string(f"ssn {s.dashed}"))])
    return post("/v1/documents", body, (("Content-Type", PDF),))


@case(DOCS, CARD, HTTP, undo=READ, own=True)
def pdf_flate_stream(s: Secret) -> Made:
    """A PDF whose page content is a Flate-compressed stream."""
    page = text_page(b"(Receipt) Tj", f"(card {s.spaced}) Tj".encode())
    return post("/v1/documents", pdf([page], flate=True), (("Content-Type", PDF),))


@case(DOCS, SSN, HTTPS, undo=READ, own=True)
def pdf_info_keywords(s: Secret) -> Made:
    """A PDF whose document information /Keywords holds the SSN (the page is clean)."""
    info = {"Title": "Case notes", "Keywords": f"ssn {s.dashed}"}
    body = pdf([text_page(b"(Case notes attached) Tj")], info=info, flate=True)
    return post("/v1/documents", body, (("Content-Type", PDF),))


@case(DOCS, CARD, REVERSE, undo=READ, own=True)
def pdf_info_author(s: Secret) -> Made:
    """A PDF whose /Author holds a card number."""
    info = {"Author": f"card {s.dashed}", "Producer": "acme-export 2.1"}
    body = pdf([text_page(b"(Statement) Tj")], info=info, flate=True)
    return post("/v1/documents", body, (("Content-Type", "application/octet-stream"),))


# --- multipart uploads of documents -------------------------------------------------------------


@case(DOCS, SSN, HTTP, undo=READ, own=True)
def multipart_xlsx(s: Secret) -> Made:
    """A multipart upload of an xlsx (octet-stream, filename .xlsx)."""
    workbook = xlsx([["Customer", "Note"], ["Dana", f"ssn {s.dashed}"]])
    disposition = 'form-data; name="file"; filename="export.xlsx"'
    part = (
        (("Content-Disposition", disposition), ("Content-Type", "application/octet-stream")),
        workbook,
    )
    return post_multipart("/v1/imports", [form_part("kind", "customers"), part])


@case(DOCS, SSN, HTTPS, undo=READ, own=True)
def multipart_base64_docx(s: Secret) -> Made:
    """A multipart part with Content-Transfer-Encoding: base64 holding a docx."""
    document = docx([[f"Customer ssn {s.dashed}"]])
    headers = (
        ("Content-Disposition", 'form-data; name="file"; filename="notes.docx"'),
        ("Content-Type", DOCX),
        ("Content-Transfer-Encoding", "base64"),
    )
    encoded = base64.encodebytes(document)
    return post_multipart("/v1/documents", [(headers, encoded)])


@case(DOCS, CARD, H2, undo=READ, own=True)
def multipart_pdf(s: Secret) -> Made:
    """A multipart upload of a PDF (application/pdf, filename .pdf)."""
    document = pdf([text_page(f"(card {s.spaced}) Tj".encode())], flate=True)
    disposition = 'form-data; name="file"; filename="receipt.pdf"'
    part = ((("Content-Disposition", disposition), ("Content-Type", PDF)), document)
    return post_multipart("/v1/documents", [part])


# --- benign twins ---------------------------------------------------------------------------------


@control(BENIGN, None, HTTP)
def benign_clean_xlsx(s: Secret) -> Made:
    """A clean xlsx: product codes, names, prices and stock."""
    rows: list[list[str | int | float]] = [
        ["SKU", "Product", "Price", "Stock"],
        ["KB-204", "Wireless keyboard", 49.99, 132],
        ["MS-118", "Optical mouse", 19.9, 540],
        ["HD-7731", "USB-C hub", 34.5, 88],
    ]
    return post("/v1/imports", xlsx(rows), (("Content-Type", XLSX),))


@control(BENIGN, None, HTTP)
def benign_clean_docx(s: Secret) -> Made:
    """A clean docx: meeting notes about a printer queue, some text split over runs."""
    paragraphs = [
        ["Weekly ", "support review"],
        ["The printer queue on floor 3 ", "was cleared twice this week."],
        ["Action: update the driver package before the next release."],
    ]
    return post("/v1/documents", docx(paragraphs), (("Content-Type", DOCX),))


@control(BENIGN, None, HTTP)
def benign_product_catalogue_zip(s: Secret) -> Made:
    """A product catalogue zip: a JPEG and a PNG of products and a CSV of codes and prices."""
    csv = "sku,product,price_usd\nKB-204,Wireless keyboard,49.99\nMS-118,Optical mouse,19.90\n"
    photo = jpeg((exif_segment(make="Canon", model="EOS R6"),))
    icon = png((png_chunk(b"tEXt", b"Software\x00catalogue-builder 1.4"),))
    body = make_zip(
        [("catalogue.csv", csv), ("images/kb-204.jpg", photo), ("images/ms-118.png", icon)]
    )
    return post("/v1/catalogue", body, (("Content-Type", ZIP),))


@control(BENIGN, None, HTTP)
def benign_pdf_invoice(s: Secret) -> Made:
    """A clean PDF invoice: invoice number, dates and amounts, no personal data."""
    page = text_page(
        b"(INVOICE INV-2041) Tj",
        b"(Issued 2026-01-15   Due 2026-02-14) Tj",
        b"[(Support plan, 12 months) -400 (1,200.00 USD)] TJ",
        b"(Onboarding workshop   240.00 USD) Tj",
        b"(Total due   1,440.00 USD) Tj",
    )
    info = {"Title": "Invoice INV-2041", "Producer": "acme-billing 3.2"}
    return post("/v1/invoices", pdf([page], info=info, flate=True), (("Content-Type", PDF),))
