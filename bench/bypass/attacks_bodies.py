"""Classes of our own on request bodies: JSON, XML, multipart, form and bulk tricks.

`json_tricks`: a byte-order mark, a top-level array or string, unicode escapes, deep nesting,
concatenated documents, comments, NaN. `xml_tricks`: CDATA, internal DTD entities (which a
gateway must expand or refuse), UTF-16, SOAP, SVG. `multipart_tricks`: multipart nested in
multipart, base64 and quoted-printable parts, multipart/related and /mixed, odd boundaries.
`forms`: percent-encoded digits, `+`, `;`, repeated and bracketed fields, a form sent as
text/plain or with no Content-Type. `bulk`: the secret deep in a long body (NDJSON line 500,
CSV row 1500, ...). `spellings`: the secret as people paste it (spaces, dots, en dashes,
zero-width spaces, non-breaking spaces, Arabic-Indic digits, glued to letters). Every class
here is in `registry.MATRIX`.
"""

from __future__ import annotations

import base64
import gzip
import json

from bench.bypass import undo as u
from bench.bypass.cases import FORM, Made, form_part, post, post_json, post_multipart
from bench.bypass.client import H2Request, Http1
from bench.bypass.pii import Secret
from bench.bypass.registry import CARD, H2, HTTP, HTTPS, REVERSE, SSN, case

__all__: list[str] = []

Headers = tuple[tuple[str, str], ...]
Part = tuple[Headers, bytes]
XML = (("Content-Type", "application/xml"),)
XML_TEXT = (u.xml_text(),)
MIME = (u.mime_parts(),)
STRINGS = (u.json_strings(),)


def escaped(text: str, every: int = 1) -> str:
    """`text` with every `every`-th character a JSON unicode escape (all of them by default)."""
    return "".join(f"\\u{ord(ch):04x}" if i % every == 0 else ch for i, ch in enumerate(text))


def charrefs(text: str, hexadecimal: bool = False) -> str:
    """`text` as XML character references."""
    return "".join(f"&#x{ord(ch):x};" if hexadecimal else f"&#{ord(ch)};" for ch in text)


def mime(parts: list[Part], boundary: str, newline: bytes = b"\r\n", close: bool = True) -> bytes:
    """A MIME multipart body with `boundary`; `close` False leaves out the closing delimiter."""
    out = b""
    for headers, data in parts:
        out += b"--" + boundary.encode() + newline
        out += b"".join(f"{k}: {v}".encode() + newline for k, v in headers) + newline
        out += data + newline
    return out + (b"--" + boundary.encode() + b"--" + newline if close else b"")


def post_mime(
    path: str, parts: list[Part], subtype: str = "form-data", boundary: str = "acme-b1", **kw: bool
) -> Http1:
    """A POST of a multipart/`subtype` body."""
    quoted = f'"{boundary}"' if any(c in boundary for c in "=:,;/? ") else boundary
    ctype = f"multipart/{subtype}; boundary={quoted}"
    newline = b"\n" if kw.get("lf") else b"\r\n"
    body = mime(parts, boundary, newline, close=kw.get("close", True))
    return post(path, body, (("Content-Type", ctype),))


# --- JSON tricks ------------------------------------------------------------------------------

JSONS = "json_tricks"


@case(JSONS, SSN, HTTP, own=True)
def json_bom(s: Secret) -> Made:
    """A JSON body behind a UTF-8 byte-order mark."""
    return post("/v1/records", b"\xef\xbb\xbf" + json.dumps({"ssn": s.dashed}).encode())


@case(JSONS, CARD, HTTPS, own=True)
def json_utf16_bom(s: Secret) -> Made:
    """UTF-16LE JSON with a byte-order mark."""
    body = ("\ufeff" + json.dumps({"card": s.spaced})).encode("utf-16-le")
    return post("/v1/records", body, (("Content-Type", "application/json; charset=utf-16"),))


@case(JSONS, SSN, REVERSE, own=True)
def json_array_of_one_string(s: Secret) -> Made:
    """A top-level JSON array of one string."""
    return post_json("/v1/records", [s.dashed])


@case(JSONS, CARD, HTTP, own=True)
def json_top_level_string(s: Secret) -> Made:
    """A top-level JSON string."""
    return post_json("/v1/records", s.spaced)


@case(JSONS, SSN, HTTPS, undo=STRINGS, own=True)
def json_digit_escapes(s: Secret) -> Made:
    """Bare SSN digits, each a JSON unicode escape, under ssn."""
    return post("/v1/records", '{"ssn": "' + escaped(s.digits) + '"}')


@case(JSONS, CARD, HTTP, undo=STRINGS, own=True)
def json_partial_escapes(s: Secret) -> Made:
    """A card number with every other digit escaped."""
    return post("/v1/records", '{"card": "' + escaped(s.digits, every=2) + '"}')


@case(JSONS, SSN, REVERSE, undo=STRINGS, own=True)
def json_escaped_dashes(s: Secret) -> Made:
    """An SSN whose dashes are JSON unicode escapes."""
    return post("/v1/records", '{"ssn": "' + "\\u002d".join(s.parts) + '"}')


@case(JSONS, SSN, HTTP, undo=STRINGS, own=True)
def json_escaped_key(s: Secret) -> Made:
    """The secret as an escaped JSON key."""
    return post("/v1/records", '{"' + escaped(s.dashed) + '": {"status": "active"}}')


@case(JSONS, CARD, HTTPS, own=True)
def json_deep_nesting(s: Secret) -> Made:
    """The card 64 objects deep."""
    value: object = {"card": s.spaced}
    for i in range(64):
        value = {f"n{i}": value}
    return post_json("/v1/records", value)


@case(JSONS, SSN, REVERSE, own=True)
def json_concatenated(s: Secret) -> Made:
    """Two JSON documents back to back under application/json."""
    return post("/v1/records", '{"ok": true}\n' + json.dumps({"ssn": s.dashed}))


@case(JSONS, CARD, HTTP, own=True)
def json_with_comment(s: Secret) -> Made:
    """JSON with a comment (JSONC) holding the card."""
    return post("/v1/records", '{"plan": "gold", /* card ' + s.spaced + ' */ "seats": 3}')


@case(JSONS, SSN, HTTPS, own=True)
def json_nan_sibling(s: Secret) -> Made:
    """A NaN (not JSON, accepted by many parsers) before the secret."""
    return post("/v1/records", '{"score": NaN, "ssn": "' + s.dashed + '"}')


@case(JSONS, CARD, REVERSE, own=True)
def json_as_text_plain(s: Secret) -> Made:
    """A JSON body labelled text/plain."""
    body = json.dumps({"card": s.digits})
    return post("/v1/records", body, (("Content-Type", "text/plain"),))


@case(JSONS, SSN, H2, own=True)
def json_api_document(s: Secret) -> Made:
    """A JSON:API document (application/vnd.api+json) over HTTP/2."""
    doc = {"data": {"type": "customers", "id": "C-1042", "attributes": {"ssn": s.dashed}}}
    headers = (("content-type", "application/vnd.api+json"),)
    return H2Request("POST", "/v1/customers", headers, json.dumps(doc).encode())


# --- XML tricks -------------------------------------------------------------------------------

XMLS = "xml_tricks"


def xml(doc: str, headers: Headers = XML) -> Http1:
    """A POST of an XML document."""
    return post("/v1/records", doc, headers)


@case(XMLS, SSN, HTTP, own=True)
def xml_cdata(s: Secret) -> Made:
    """A CDATA section."""
    return xml(f"<note><![CDATA[customer ssn {s.dashed}]]></note>")


@case(XMLS, CARD, HTTPS, undo=XML_TEXT, own=True)
def xml_cdata_split(s: Secret) -> Made:
    """A card split over two CDATA sections with a comment between."""
    half = len(s.spaced) // 2
    return xml(f"<card><![CDATA[{s.spaced[:half]}]]><!-- 7 --><![CDATA[{s.spaced[half:]}]]></card>")


@case(XMLS, SSN, REVERSE, undo=XML_TEXT, own=True)
def xml_dtd_entity(s: Secret) -> Made:
    """An internal DTD entity holding the secret, referenced in the body."""
    return xml(
        f'<?xml version="1.0"?><!DOCTYPE customer [<!ENTITY s "{s.dashed}">]>'
        "<customer><ssn>&s;</ssn></customer>"
    )


@case(XMLS, SSN, HTTP, undo=XML_TEXT, own=True)
def xml_dtd_entities_reordered(s: Secret) -> Made:
    """Two entities declared last part first, referenced in order."""
    area, group, serial = s.parts
    return xml(
        f'<!DOCTYPE c [<!ENTITY b "{group}-{serial}"><!ENTITY a "{area}-">]>'
        "<c><ssn>&a;&b;</ssn></c>"
    )


@case(XMLS, CARD, HTTPS, undo=XML_TEXT, own=True)
def xml_dtd_entity_charrefs(s: Secret) -> Made:
    """An entity whose value is the card as character references."""
    return xml(f'<!DOCTYPE c [<!ENTITY p "{charrefs(s.digits)}">]><c><pan>&p;</pan></c>')


@case(XMLS, SSN, HTTP, own=True)
def xml_soap_envelope(s: Secret) -> Made:
    """A SOAP 1.1 envelope (text/xml, SOAPAction)."""
    doc = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
        '<soap:Body><UpdateCustomer xmlns="urn:acme:crm"><Id>C-1042</Id>'
        f"<TaxId>{s.dashed}</TaxId></UpdateCustomer></soap:Body></soap:Envelope>"
    )
    headers = (("Content-Type", "text/xml; charset=utf-8"), ("SOAPAction", '"urn:acme:update"'))
    return xml(doc, headers)


@case(XMLS, CARD, REVERSE, undo=(u.decode_text("utf-16"),), own=True)
def xml_utf16(s: Secret) -> Made:
    """An XML document in UTF-16 with a byte-order mark."""
    doc = f'<?xml version="1.0" encoding="UTF-16"?><card><number>{s.spaced}</number></card>'
    return post("/v1/records", ("\ufeff" + doc).encode("utf-16-le"), XML)


@case(XMLS, SSN, HTTPS, undo=XML_TEXT, own=True)
def xml_attribute_hex_charrefs(s: Secret) -> Made:
    """An attribute whose value is hexadecimal character references."""
    return xml(f'<customer ssn="{charrefs(s.dashed, hexadecimal=True)}" plan="gold"/>')


@case(XMLS, CARD, HTTP, own=True)
def xml_atom_entry(s: Secret) -> Made:
    """An Atom entry (default namespace), the card in its content."""
    doc = (
        '<entry xmlns="http://www.w3.org/2005/Atom"><title>payment</title>'
        f'<content type="text">card {s.spaced}</content></entry>'
    )
    return xml(doc, (("Content-Type", "application/atom+xml"),))


@case(XMLS, SSN, HTTPS, own=True)
def svg_desc(s: Secret) -> Made:
    """An SVG image whose desc element holds the secret."""
    doc = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8">'
        f'<desc>ssn {s.dashed}</desc><rect width="8" height="8"/></svg>'
    )
    return post("/v1/attachments", doc, (("Content-Type", "image/svg+xml"),))


# --- multipart tricks -------------------------------------------------------------------------

PARTS = "multipart_tricks"


def text_part(name: str, text: bytes, extra: Headers = ()) -> Part:
    """A form-data text part."""
    return ((("Content-Disposition", f'form-data; name="{name}"'), *extra), text)


@case(PARTS, SSN, HTTP, undo=MIME, own=True)
def multipart_nested_mixed(s: Secret) -> Made:
    """A multipart/mixed part nested inside multipart/form-data."""
    inner = mime([((("Content-Type", "text/plain"),), f"ssn {s.dashed}".encode())], "inner-b2")
    nested = (
        (
            ("Content-Disposition", 'form-data; name="files"'),
            ("Content-Type", "multipart/mixed; boundary=inner-b2"),
        ),
        inner,
    )
    return post_mime("/v1/forms", [text_part("note", b"see files"), nested])


@case(PARTS, CARD, HTTPS, undo=MIME, own=True)
def multipart_nested_deep(s: Secret) -> Made:
    """Three levels of multipart, the card base64 in the innermost part."""
    data = base64.b64encode(f"card {s.spaced}".encode())
    leaf = ((("Content-Type", "text/plain"), ("Content-Transfer-Encoding", "base64")), data)
    level2 = mime([leaf], "lvl-3")
    level1 = mime([((("Content-Type", "multipart/mixed; boundary=lvl-3"),), level2)], "lvl-2")
    top = (
        (
            ("Content-Disposition", 'form-data; name="bundle"'),
            ("Content-Type", "multipart/mixed; boundary=lvl-2"),
        ),
        level1,
    )
    return post_mime("/v1/forms", [top])


@case(PARTS, SSN, REVERSE, undo=MIME, own=True)
def multipart_part_base64(s: Secret) -> Made:
    """A part with Content-Transfer-Encoding: base64."""
    data = base64.b64encode(json.dumps({"ssn": s.dashed}).encode())
    extra = (("Content-Type", "application/json"), ("Content-Transfer-Encoding", "base64"))
    return post_mime("/v1/forms", [text_part("record", data, extra)])


@case(PARTS, CARD, HTTP, undo=MIME, own=True)
def multipart_part_quoted_printable(s: Secret) -> Made:
    """A part with Content-Transfer-Encoding: quoted-printable, every digit =3X."""
    data = "card " + "".join(f"={ord(ch):02X}" if ch.isdigit() else ch for ch in s.spaced)
    extra = (("Content-Type", "text/plain"), ("Content-Transfer-Encoding", "quoted-printable"))
    return post_mime("/v1/forms", [text_part("note", data.encode(), extra)])


@case(PARTS, SSN, HTTPS, own=True)
def multipart_related_json(s: Secret) -> Made:
    """multipart/related with a JSON root part."""
    root = (
        (("Content-Type", "application/json"), ("Content-ID", "<root>")),
        json.dumps({"ssn": s.dashed}).encode(),
    )
    return post_mime("/v1/upload", [root], subtype='related; type="application/json"')


@case(PARTS, CARD, REVERSE, own=True)
def multipart_mixed_top(s: Secret) -> Made:
    """A top-level multipart/mixed body (not form-data)."""
    text: Headers = (("Content-Type", "text/plain"),)
    parts = [(text, b"hello"), (text, f"card {s.spaced}".encode())]
    return post_mime("/v1/messages", parts, subtype="mixed")


@case(PARTS, SSN, HTTP, undo=MIME, own=True)
def multipart_filename_star(s: Secret) -> Made:
    """An RFC 2231 filename* (percent-encoded UTF-8) on a part."""
    disposition = f"form-data; name=\"file\"; filename*=UTF-8''ssn%20{s.dashed}.txt"
    part = ((("Content-Disposition", disposition), ("Content-Type", "text/plain")), b"scan")
    return post_mime("/v1/files", [part])


@case(PARTS, CARD, HTTPS, own=True)
def multipart_quoted_boundary(s: Secret) -> Made:
    """A quoted boundary with = and . in it (as mail clients write them)."""
    return post_mime(
        "/v1/forms",
        [text_part("card", s.digits.encode())],
        boundary="----=_Part_0_1042.1767225600",
    )


@case(PARTS, SSN, REVERSE, undo=(u.mime_parts(),), own=True)
def multipart_gzip_file(s: Secret) -> Made:
    """A gzip file (export.csv.gz) uploaded as a part."""
    data = gzip.compress(f"customer,ssn\nC-1042,{s.dashed}\n".encode(), mtime=0)
    disposition = 'form-data; name="export"; filename="export.csv.gz"'
    part = ((("Content-Disposition", disposition), ("Content-Type", "application/gzip")), data)
    return post_mime("/v1/imports", [part])


@case(PARTS, CARD, HTTP, own=True)
def multipart_part_utf16(s: Secret) -> Made:
    """A text part in UTF-16 (charset in the part's Content-Type)."""
    data = ("\ufeff" + f"card {s.spaced}").encode("utf-16-le")
    extra = (("Content-Type", "text/plain; charset=utf-16"),)
    return post_mime("/v1/forms", [text_part("note", data, extra)])


@case(PARTS, SSN, HTTPS, own=True)
def multipart_unterminated(s: Secret) -> Made:
    """A multipart body without its closing delimiter."""
    parts = [text_part("note", b"ok"), text_part("ssn", s.dashed.encode())]
    return post_mime("/v1/forms", parts, close=False)


@case(PARTS, CARD, REVERSE, own=True)
def multipart_bare_lf(s: Secret) -> Made:
    """A multipart body with bare LF line ends."""
    return post_mime("/v1/forms", [text_part("card", s.spaced.encode())], lf=True)


# --- forms ------------------------------------------------------------------------------------

FORMS = "forms"
FORM_UTF8 = (("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),)


def pct_digits(text: str) -> str:
    """`text` with its digits percent-encoded."""
    return "".join(f"%{ord(ch):02X}" if ch.isdigit() else ch for ch in text)


@case(FORMS, SSN, HTTP, own=True)
def form_charset_pct_digits(s: Secret) -> Made:
    """A utf-8 form (charset parameter) with %-encoded digits."""
    return post("/v1/verify", f"ssn={pct_digits(s.dashed)}&source=kiosk", FORM_UTF8)


@case(FORMS, CARD, HTTPS, own=True)
def form_plus_spaces(s: Secret) -> Made:
    """A form value with + for spaces."""
    return post("/v1/pay", "card=" + "+".join(s.parts) + "&plan=gold", FORM)


@case(FORMS, SSN, REVERSE, own=True)
def form_repeated_first(s: Secret) -> Made:
    """A repeated form field, the secret in the first."""
    return post("/v1/verify", f"ssn={s.dashed}&ssn=on+file", FORM)


@case(FORMS, CARD, HTTP, own=True)
def form_semicolons(s: Secret) -> Made:
    """A form with ; between its pairs."""
    return post("/v1/pay", f"plan=gold;card={s.digits};src=web", FORM)


@case(FORMS, SSN, HTTPS, own=True)
def form_bracket_keys(s: Secret) -> Made:
    """Bracketed form keys (customer[tax][ssn])."""
    return post(
        "/v1/verify", f"customer%5Btax%5D%5Bssn%5D={s.dashed}&customer%5Bplan%5D=gold", FORM
    )


@case(FORMS, CARD, REVERSE, own=True)
def form_text_plain(s: Secret) -> Made:
    """A form with enctype text/plain (name=value lines)."""
    body = f"card={s.spaced}\r\nplan=gold\r\n"
    return post("/v1/pay", body, (("Content-Type", "text/plain"),))


@case(FORMS, SSN, HTTP, own=True)
def form_no_content_type(s: Secret) -> Made:
    """A form body with no Content-Type at all."""
    return post("/v1/verify", f"ssn={s.dashed}&source=kiosk", ())


@case(FORMS, CARD, HTTPS, own=True)
def form_json_in_field(s: Secret) -> Made:
    """URL-encoded JSON inside a form field."""
    inner = json.dumps({"card": s.digits}).replace('"', "%22").replace("{", "%7B")
    inner = inner.replace("}", "%7D").replace(":", "%3A").replace(" ", "+")
    return post("/v1/pay", f"payload={inner}&v=2", FORM)


@case(FORMS, SSN, REVERSE, own=True)
def form_pct_encoded_key(s: Secret) -> Made:
    """Bare digits under a field name percent-encoded throughout (%73%73%6E)."""
    return post("/v1/verify", f"%73%73%6E={s.digits}&source=kiosk", FORM)


@case(FORMS, CARD, H2, own=True)
def form_over_h2(s: Secret) -> Made:
    """A form over HTTP/2, the card dashed."""
    body = f"card={s.dashed}&plan=gold".encode()
    return H2Request("POST", "/v1/pay", (("content-type", FORM[0][1]),), body)


# --- bulk: the secret deep in a long body -----------------------------------------------------

BULK = "bulk"


def ndjson_events(n: int, at: int, line: str) -> str:
    """`n` page-view events, one a line, with `line` as line `at` (1-based)."""
    lines = [
        json.dumps(
            {"event": "page_view", "seq": i, "path": f"/help/article-{i % 40}", "ms": i % 97}
        )
        for i in range(1, n + 1)
    ]
    lines[at - 1] = line
    return "\n".join(lines) + "\n"


@case(BULK, SSN, HTTP, own=True)
def ndjson_line_500(s: Secret) -> Made:
    """NDJSON, the secret in line 500 of 600."""
    body = ndjson_events(600, 500, json.dumps({"event": "kyc", "ssn": s.dashed}))
    return post("/v1/events", body, (("Content-Type", "application/x-ndjson"),))


@case(BULK, CARD, HTTPS, own=True)
def ndjson_gzip_line_500(s: Secret) -> Made:
    """Gzip-encoded NDJSON, the card in line 500."""
    body = ndjson_events(600, 500, json.dumps({"event": "checkout", "card": s.spaced}))
    headers = (("Content-Type", "application/x-ndjson"), ("Content-Encoding", "gzip"))
    return post("/v1/events", gzip.compress(body.encode(), mtime=0), headers)


@case(BULK, SSN, REVERSE, own=True)
def csv_row_1500(s: Secret) -> Made:
    """A 1600-row CSV, the secret in a notes cell of row 1500."""
    rows = [f"T-{i},open,low,printer queue {i % 13}" for i in range(1600)]
    rows[1499] = f"T-1499,open,low,customer ssn {s.dashed}"
    body = "ticket,status,priority,notes\n" + "\n".join(rows) + "\n"
    return post("/v1/import", body, (("Content-Type", "text/csv"),))


@case(BULK, CARD, HTTP, own=True)
def json_array_last(s: Secret) -> Made:
    """A JSON array of 500 objects, the card in the last."""
    items: list[object] = [{"sku": f"KB-{i % 300}", "qty": i % 5 + 1} for i in range(499)]
    items.append({"sku": "GIFT", "card": s.digits})
    return post_json("/v1/orders", items)


@case(BULK, SSN, H2, own=True)
def log_lines(s: Secret) -> Made:
    """A text log of 700 lines over HTTP/2, the secret in line 640."""
    lines = [
        f"2026-01-15T09:{i % 60:02d}:00Z INFO worker-{i % 7} job done in {i % 90} ms"
        for i in range(700)
    ]
    lines[639] = f"2026-01-15T09:39:00Z WARN kyc lookup failed for ssn {s.dashed}"
    body = ("\n".join(lines) + "\n").encode()
    return H2Request("POST", "/v1/logs", (("content-type", "text/plain"),), body)


@case(BULK, CARD, REVERSE, own=True)
def tsv_row_900(s: Secret) -> Made:
    """A tab-separated export, the card in row 900 of 950."""
    rows = [f"O-{i}\tshipped\t{i % 50}.99" for i in range(950)]
    rows[899] = f"O-899\tpaid\t{s.spaced}"
    body = "order\tstatus\tamount\n" + "\n".join(rows) + "\n"
    return post("/v1/import", body, (("Content-Type", "text/tab-separated-values"),))


@case(BULK, SSN, HTTPS, own=True)
def multipart_part_180(s: Secret) -> Made:
    """A form of 200 parts, the secret in part 180."""
    parts = [form_part(f"field_{i}", f"value {i}") for i in range(200)]
    parts[179] = form_part("field_179", f"ssn {s.dashed}")
    return post_multipart("/v1/forms", parts)


@case(BULK, CARD, HTTP, own=True)
def json_many_keys(s: Secret) -> Made:
    """A JSON object of 1200 keys, the card under the 1199th."""
    doc: dict[str, object] = {f"flag_{i}": i % 2 == 0 for i in range(1200)}
    doc["flag_1198"] = s.spaced
    return post_json("/v1/settings", doc)


@case(BULK, SSN, REVERSE, own=True)
def form_many_fields(s: Secret) -> Made:
    """A form of 400 fields, the secret in field 350."""
    pairs = [f"f{i}=v{i}" for i in range(400)]
    pairs[349] = f"f349={s.dashed}"
    return post("/v1/verify", "&".join(pairs), FORM)


# --- spellings: the secret written as people and programs write it ----------------------------

SPELLINGS = "spellings"


def note(text: str) -> Http1:
    """A JSON note whose text is `text`, in raw UTF-8 as browsers send it (no escapes)."""
    doc = json.dumps({"ticket": "TCK-4821", "text": text}, ensure_ascii=False)
    return post("/v1/notes", doc.encode(), (("Content-Type", "application/json; charset=utf-8"),))


@case(SPELLINGS, SSN, HTTP, own=True)
def ssn_spaced(s: Secret) -> Made:
    """An SSN with spaces between its parts."""
    return note(f"customer ssn {s.spaced} confirmed")


@case(SPELLINGS, SSN, HTTPS, own=True)
def ssn_dotted(s: Secret) -> Made:
    """An SSN with dots between its parts."""
    return note(f"ssn: {s.dotted}")


@case(SPELLINGS, SSN, REVERSE, own=True)
def ssn_en_dashes(s: Secret) -> Made:
    """An SSN with en dashes (pasted from a word processor)."""
    return note("social security number " + "\u2013".join(s.parts))


@case(SPELLINGS, SSN, HTTP, own=True)
def ssn_zero_width(s: Secret) -> Made:
    """An SSN with a zero-width space after every character."""
    return note("ssn " + "".join(ch + "\u200b" for ch in s.dashed))


@case(SPELLINGS, SSN, HTTPS, undo=(u.decimal_digits(),), own=True)
def ssn_arabic_indic(s: Secret) -> Made:
    """An SSN in Arabic-Indic digits."""
    digits = "".join(chr(0x0660 + int(ch)) if ch.isdigit() else ch for ch in s.dashed)
    return note(f"ssn {digits}")


@case(SPELLINGS, SSN, REVERSE, own=True)
def ssn_slashes(s: Secret) -> Made:
    """An SSN with slashes between its parts, in a form."""
    return post("/v1/verify", "ref=" + "%2F".join(s.parts) + "&kind=ssn", FORM)


@case(SPELLINGS, CARD, REVERSE, own=True)
def card_nbsp(s: Secret) -> Made:
    """A card number with non-breaking spaces between its groups."""
    return note("card " + "\u00a0".join(s.parts))


@case(SPELLINGS, CARD, HTTP, own=True)
def card_glued(s: Secret) -> Made:
    """A card number glued between letters in one token."""
    return note(f"token pan{s.digits}exp1229 stored")


@case(SPELLINGS, CARD, HTTPS, own=True)
def card_mixed_separators(s: Secret) -> Made:
    """A card number with a dash, a space and a dot between its groups."""
    a, b, c, d = s.parts
    return note(f"card {a}-{b} {c}.{d}")


@case(SPELLINGS, CARD, H2, own=True)
def card_bare_in_prose(s: Secret) -> Made:
    """Sixteen bare digits in a sentence (HTTP/2)."""
    body = json.dumps({"text": f"the number on the card is {s.digits} thanks"}).encode()
    return H2Request("POST", "/v1/notes", (("content-type", "application/json"),), body)


@case(JSONS, SSN, HTTP, own=True)
def json_string_of_json(s: Secret) -> Made:
    """JSON inside a JSON string (double-encoded)."""
    return post_json("/v1/records", {"payload": json.dumps({"ssn": s.dashed})})


@case(PARTS, SSN, HTTPS, own=True)
def multipart_boundary_secret(s: Secret) -> Made:
    """The secret as the multipart boundary (in Content-Type and every delimiter line)."""
    return post_mime("/v1/forms", [text_part("note", b"see attached")], boundary=f"--{s.dashed}")
