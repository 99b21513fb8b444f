"""Classes of issue 15 on how a body is read: charsets, content types that lie, compression.

`charsets`: the body in a charset other than the one declared, or in one a vendor reads
differently (EBCDIC, UTF-7, Latin-1, UTF-16/32 with and without a mark). `content_types`: JSON,
XML or a form sent under another type, multipart without a boundary, no type at all.
`compression`: stacked, unknown, mislabelled and raw codings, the gzip header's own fields,
`Transfer-Encoding: gzip`. Benign twins of each register as controls. Every class here is in
`registry.MATRIX`.
"""

from __future__ import annotations

import base64
import gzip
import json
import struct
import zlib

import brotli  # mitmproxy's own dependency, as is backports.zstd
from backports import zstd

from bench.bypass import undo as u
from bench.bypass.cases import BENIGN, FORM, JSON, Made, post
from bench.bypass.client import Http1
from bench.bypass.controls import case as control
from bench.bypass.pii import Secret
from bench.bypass.registry import CARD, HTTP, HTTPS, REVERSE, SSN, case
from bench.bypass.seen import Seen
from bench.bypass.wire import Chunk, HttpRequest

__all__: list[str] = []

Headers = tuple[tuple[str, str], ...]


def typed(mime: str) -> Headers:
    """Headers saying Content-Type `mime`."""
    return (("Content-Type", mime),)


def raw_deflate(data: bytes) -> bytes:
    """`data` as a raw deflate stream (no zlib header), as some clients send `deflate`."""
    compressor = zlib.compressobj(wbits=-15)
    return compressor.compress(data) + compressor.flush()


def gzip_with_header(data: bytes, name: bytes = b"", comment: bytes = b"") -> bytes:
    """`data` gzip-compressed, with FNAME and FCOMMENT fields in the gzip header (RFC 1952)."""
    flags = (0x08 if name else 0) | (0x10 if comment else 0)
    header = b"\x1f\x8b\x08" + bytes([flags]) + struct.pack("<I", 0) + b"\x00\xff"
    header += (name + b"\x00" if name else b"") + (comment + b"\x00" if comment else b"")
    body = raw_deflate(data)
    return header + body + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


def _gzip_header_fields(seen: Seen) -> u.Candidates:
    """FNAME and FCOMMENT of gzip bodies, as `gzip -lN` shows them."""
    found = []
    for label, data in u.bodies(seen):
        if not data.startswith(b"\x1f\x8b\x08") or len(data) < 10:
            continue
        flags, rest = data[3], data[10:]
        if flags & 0x04 and len(rest) >= 2:
            rest = rest[2 + int.from_bytes(rest[:2], "little") :]
        for bit in (0x08, 0x10):
            if flags & bit:
                field, _, rest = rest.partition(b"\x00")
                found.append((f"{label} gzip header", field))
    return found


GZIP_HEADER = u.Undo("gzip header", _gzip_header_fields)


def _any_decompressed(seen: Seen) -> u.Candidates:
    """What a vendor that decompresses whatever it gets reads (gzip, zlib, deflate, br, zstd)."""
    found = []
    for label, data in u.bodies(seen):
        for name, inflate in (
            ("gzip", gzip.decompress),
            ("zlib", zlib.decompress),
            ("deflate", lambda d: zlib.decompress(d, -15)),
            ("br", brotli.decompress),
            ("zstd", zstd.decompress),
        ):
            try:
                found.append((f"{label} {name}", inflate(data)))
            except Exception:  # noqa: BLE001 - lenient by design: not this coding
                continue
    return found


DECOMPRESSED = u.Undo("decompress anything", _any_decompressed)


def _ebcdic(seen: Seen) -> u.Candidates:
    return [(f"{label} cp500", data.decode("cp500").encode()) for label, data in u.bodies(seen)]


EBCDIC = u.Undo("ebcdic", _ebcdic)


def _utf7(seen: Seen) -> u.Candidates:
    found = []
    for label, data in u.bodies(seen):
        try:
            found.append((f"{label} utf-7", data.decode("utf-7").encode()))
        except UnicodeDecodeError:
            continue
    return found


UTF7 = u.Undo("utf-7", _utf7)


def _utf7_all(text: str) -> str:
    """`text` with every character in one UTF-7 shift sequence (base64 of UTF-16BE)."""
    return "+" + base64.b64encode(text.encode("utf-16-be")).decode().rstrip("=") + "-"


# --- charsets ---------------------------------------------------------------------------------

CHARSETS = "charsets"


@case(CHARSETS, SSN, HTTP, own=True)
def ascii_labelled_cp500(s: Secret) -> Made:
    """ASCII JSON labelled charset=cp500 (EBCDIC): read as EBCDIC it is noise."""
    body = json.dumps({"note": f"ssn {s.dashed}"})
    return post("/v1/records", body, typed("application/json; charset=cp500"))


@case(CHARSETS, CARD, HTTPS, undo=(EBCDIC,), own=True)
def ebcdic_undeclared(s: Secret) -> Made:
    """EBCDIC (cp500) text with no charset, for a mainframe vendor that reads EBCDIC."""
    body = f"CARD {s.spaced} PLAN GOLD".encode("cp500")
    return post("/v1/batch", body, typed("application/octet-stream"))


@case(CHARSETS, SSN, REVERSE, undo=(u.decode_text("cp037"),), own=True)
def ebcdic_declared(s: Secret) -> Made:
    """EBCDIC (cp037) text, declared."""
    body = f"SSN {s.dashed}".encode("cp037")
    return post("/v1/batch", body, typed("text/plain; charset=cp037"))


@case(CHARSETS, SSN, HTTP, undo=(UTF7,), own=True)
def utf7_shifted_digits(s: Secret) -> Made:
    """The SSN in UTF-7 shift sequences (`+ADIAMQA5-`), labelled text/plain with no charset."""
    body = "ssn " + _utf7_all(s.dashed)
    return post("/v1/notes", body, typed("text/plain"))


@case(CHARSETS, CARD, HTTPS, undo=(UTF7,), own=True)
def utf7_declared(s: Secret) -> Made:
    """The card in UTF-7 shift sequences, declared charset=utf-7."""
    body = "card " + _utf7_all(s.spaced)
    return post("/v1/notes", body, typed("text/plain; charset=utf-7"))


@case(CHARSETS, SSN, REVERSE, own=True)
def latin1_labelled_utf8(s: Secret) -> Made:
    """Latin-1 text (an accented name) labelled UTF-8: invalid UTF-8, the vendor reads Latin-1."""
    body = f"cliente José Núñez, ssn {s.dashed}".encode("latin-1")
    return post("/v1/notes", body, typed("text/plain; charset=utf-8"))


@case(CHARSETS, CARD, HTTP, own=True)
def cp1252_json_labelled_utf8(s: Secret) -> Made:
    """JSON in cp1252 with smart quotes in a note, labelled UTF-8."""
    body = json.dumps({"note": "“urgent”", "card": s.spaced}, ensure_ascii=False).encode("cp1252")
    return post("/v1/records", body, typed("application/json; charset=utf-8"))


@case(CHARSETS, SSN, HTTPS, undo=(u.decode_text("utf-16-le"),), own=True)
def utf16le_no_bom_json(s: Secret) -> Made:
    """UTF-16LE JSON without a mark, labelled application/json with no charset."""
    body = json.dumps({"ssn": s.dashed}).encode("utf-16-le")
    return post("/v1/records", body, typed("application/json"))


@case(CHARSETS, CARD, REVERSE, undo=(u.decode_text("utf-32-le"),), own=True)
def utf32le_no_bom_text(s: Secret) -> Made:
    """UTF-32LE text without a mark, labelled text/plain with no charset."""
    body = f"card {s.spaced}".encode("utf-32-le")
    return post("/v1/notes", body, typed("text/plain"))


@case(CHARSETS, SSN, HTTP, undo=(u.decode_text("utf-32-be"),), own=True)
def utf32be_declared(s: Secret) -> Made:
    """UTF-32BE text, declared."""
    body = f"ssn {s.dashed}".encode("utf-32-be")
    return post("/v1/notes", body, typed("text/plain; charset=utf-32be"))


@case(CHARSETS, CARD, HTTPS, undo=(u.decode_text("utf-16"),), own=True)
def utf16_bom_labelled_latin1(s: Secret) -> Made:
    """UTF-16 with a mark, labelled charset=iso-8859-1: as Latin-1 its digits sit among NULs."""
    body = ("\ufeff" + f"card {s.spaced}").encode("utf-16-le")
    return post("/v1/notes", body, typed("text/plain; charset=iso-8859-1"))


@case(CHARSETS, SSN, REVERSE, own=True)
def unknown_charset(s: Secret) -> Made:
    """ASCII labelled with a charset no codec knows (`x-acme`): a vendor reads it as ASCII."""
    return post("/v1/notes", f"ssn {s.dashed}", typed("text/plain; charset=x-acme"))


@case(CHARSETS, CARD, HTTP, own=True)
def json_labelled_utf16_odd(s: Secret) -> Made:
    """UTF-8 JSON labelled charset=utf-16 (of odd length, so no UTF-16 reading at all)."""
    body = json.dumps({"card": s.spaced, "n": 1})
    body += " " * (1 - len(body) % 2)
    return post("/v1/records", body, typed("application/json; charset=utf-16"))


@case(CHARSETS, SSN, HTTPS, own=True)
def shift_jis_declared(s: Secret) -> Made:
    """Japanese text in Shift_JIS, declared, the SSN among it."""
    body = f"お客様の番号 {s.dashed} です".encode("shift_jis")
    return post("/v1/notes", body, typed("text/plain; charset=shift_jis"))


@control(BENIGN, None, HTTP)
def benign_utf16_ticket(s: Secret) -> Made:
    """A UTF-16 ticket with a mark and no PII."""
    body = ("\ufeff" + "Printer on floor 3 offline; driver reinstalled, ticket TCK-4821").encode(
        "utf-16-le"
    )
    return post("/v1/notes", body, typed("text/plain; charset=utf-16"))


@control(BENIGN, None, HTTPS)
def benign_latin1_note(s: Secret) -> Made:
    """A Latin-1 note, declared, no PII."""
    body = "Réunion reportée au jeudi, café offert, salle B12".encode("latin-1")
    return post("/v1/notes", body, typed("text/plain; charset=iso-8859-1"))


# --- content types ----------------------------------------------------------------------------

CTYPES = "content_types"


@case(CTYPES, SSN, HTTP, own=True)
def json_as_form(s: Secret) -> Made:
    """JSON sent as application/x-www-form-urlencoded (jQuery's default)."""
    return post("/v1/records", json.dumps({"customer": {"tin": s.digits}}), FORM)


@case(CTYPES, CARD, HTTPS, own=True)
def json_as_xml(s: Secret) -> Made:
    """JSON labelled application/xml."""
    body = json.dumps({"payment": {"pan": s.digits, "exp": "12/29"}})
    return post("/v1/records", body, typed("application/xml"))


@case(CTYPES, SSN, REVERSE, own=True)
def json_as_multipart_no_boundary(s: Secret) -> Made:
    """JSON labelled multipart/form-data without a boundary."""
    return post("/v1/records", json.dumps({"taxpayer_id": s.digits}), typed("multipart/form-data"))


@case(CTYPES, CARD, HTTP, own=True)
def json_untyped(s: Secret) -> Made:
    """JSON with no Content-Type at all."""
    return post("/v1/records", json.dumps({"card_number": s.digits}), ())


@case(CTYPES, SSN, HTTPS, own=True)
def json_as_octet_stream(s: Secret) -> Made:
    """JSON labelled application/octet-stream, the SSN bare under tin."""
    return post("/v1/records", json.dumps({"tin": s.digits}), typed("application/octet-stream"))


@case(CTYPES, SSN, REVERSE, undo=(u.xml_text(),), own=True)
def xml_as_form(s: Secret) -> Made:
    """XML labelled application/x-www-form-urlencoded, the SSN bare under tin."""
    return post("/v1/records", f"<customer><tin>{s.digits}</tin></customer>", FORM)


@case(CTYPES, CARD, HTTP, undo=(u.xml_text(),), own=True)
def xml_as_json(s: Secret) -> Made:
    """XML labelled application/json."""
    body = f"<payment><pan>{s.digits}</pan></payment>"
    return post("/v1/records", body, JSON)


@case(CTYPES, SSN, HTTPS, undo=(u.xml_text(),), own=True)
def xml_as_csv(s: Secret) -> Made:
    """XML labelled text/csv."""
    body = f"<customer><ssn>{s.digits}</ssn></customer>"
    return post("/v1/import", body, typed("text/csv"))


@case(CTYPES, SSN, REVERSE, undo=(u.form_join("tin"),), own=True)
def form_as_csv(s: Secret) -> Made:
    """A form body labelled text/csv: `tin=...&plan=gold`."""
    return post("/v1/import", f"tin={s.digits}&plan=gold", typed("text/csv"))


@case(CTYPES, CARD, HTTP, undo=(u.form_join("pan"),), own=True)
def form_as_json(s: Secret) -> Made:
    """A form body labelled application/json."""
    return post("/v1/records", f"pan={s.digits}&exp=1229", JSON)


@case(CTYPES, SSN, HTTPS, undo=(u.mime_parts(),), own=True)
def multipart_without_boundary(s: Secret) -> Made:
    """A multipart body whose Content-Type names no boundary: the first line does."""
    body = (
        f'--acme7\r\nContent-Disposition: form-data; name="tin"\r\n\r\n{s.digits}\r\n--acme7--\r\n'
    )
    return post("/v1/upload", body, typed("multipart/form-data"))


@case(CTYPES, CARD, REVERSE, undo=(u.mime_parts(),), own=True)
def multipart_wrong_boundary(s: Secret) -> Made:
    """A multipart body whose declared boundary is not the one the body uses."""
    body = (
        f'--real7\r\nContent-Disposition: form-data; name="pan"\r\n\r\n{s.digits}\r\n--real7--\r\n'
    )
    return post("/v1/upload", body, typed("multipart/form-data; boundary=declared9"))


@case(CTYPES, SSN, HTTP, own=True)
def content_type_twice_csv_json(s: Secret) -> Made:
    """Two Content-Type headers: text/csv first, application/json second."""
    body = json.dumps({"tin": s.digits})
    return post(
        "/v1/records", body, (("Content-Type", "text/csv"), ("Content-Type", "application/json"))
    )


@case(CTYPES, CARD, HTTPS, own=True)
def ndjson_as_json(s: Secret) -> Made:
    """NDJSON labelled application/json, the card in the second record."""
    body = json.dumps({"plan": "gold"}) + "\n" + json.dumps({"pan": s.digits}) + "\n"
    return post("/v1/records", body, JSON)


@case(CTYPES, SSN, REVERSE, own=True)
def json_as_image(s: Secret) -> Made:
    """JSON labelled image/png."""
    return post("/v1/records", json.dumps({"tin": s.digits}), typed("image/png"))


@control(BENIGN, None, HTTP)
def benign_json_as_form(s: Secret) -> Made:
    """A clean JSON ticket labelled as a form (jQuery's default)."""
    body = json.dumps({"ticket": "TCK-4821", "subject": "Printer offline", "priority": "high"})
    return post("/v1/tickets", body, FORM)


@control(BENIGN, None, HTTPS)
def benign_xml_as_text(s: Secret) -> Made:
    """A clean XML order labelled text/plain."""
    body = "<order><sku>PRN-4410</sku><qty>2</qty><price>129.90</price></order>"
    return post("/v1/orders", body, typed("text/plain"))


# --- compression ------------------------------------------------------------------------------

COMPRESSION = "compression"


def _encoded(coding: str) -> Headers:
    return (("Content-Type", "text/plain"), ("Content-Encoding", coding))


@case(COMPRESSION, SSN, HTTP, undo=(DECOMPRESSED,), own=True)
def gzip_labelled_identity(s: Secret) -> Made:
    """The gzip bytes sent with Content-Encoding: identity."""
    return post(
        "/v1/notes", gzip.compress(f"ssn {s.dashed}".encode(), mtime=0), _encoded("identity")
    )


@case(COMPRESSION, CARD, HTTPS, undo=(DECOMPRESSED,), own=True)
def gzip_unlabelled(s: Secret) -> Made:
    """The gzip bytes with no Content-Encoding, labelled text/plain."""
    return post(
        "/v1/notes", gzip.compress(f"card {s.spaced}".encode(), mtime=0), typed("text/plain")
    )


@case(COMPRESSION, SSN, REVERSE, undo=(DECOMPRESSED,), own=True)
def gzip_as_octet_stream(s: Secret) -> Made:
    """A gzip file uploaded as application/gzip."""
    return post(
        "/v1/upload",
        gzip.compress(f"ssn {s.dashed}\n".encode(), mtime=0),
        typed("application/gzip"),
    )


@case(COMPRESSION, CARD, HTTP, undo=(DECOMPRESSED,), own=True)
def zstd_unlabelled(s: Secret) -> Made:
    """The zstd bytes with no Content-Encoding, labelled application/octet-stream."""
    body = zstd.compress(json.dumps({"card": s.spaced}).encode())
    return post("/v1/records", body, typed("application/octet-stream"))


@case(COMPRESSION, SSN, HTTPS, own=True)
def raw_deflate_body(s: Secret) -> Made:
    """A raw deflate stream (no zlib header) as Content-Encoding: deflate."""
    body = raw_deflate(json.dumps({"ssn": s.dashed}).encode())
    return post("/v1/records", body, (*JSON, ("Content-Encoding", "deflate")))


@case(COMPRESSION, CARD, REVERSE, own=True)
def unknown_coding(s: Secret) -> Made:
    """Content-Encoding: x-custom over a plain body (a vendor may ignore the coding)."""
    return post("/v1/notes", f"card {s.spaced}", _encoded("x-custom"))


@case(COMPRESSION, SSN, HTTP, own=True)
def gzip_then_br(s: Secret) -> Made:
    """Stacked codings: gzip, then brotli."""
    body = brotli.compress(gzip.compress(f"ssn {s.dashed}".encode(), mtime=0))
    return post("/v1/notes", body, _encoded("gzip, br"))


@case(COMPRESSION, CARD, HTTPS, own=True)
def deflate_then_zstd(s: Secret) -> Made:
    """Stacked codings: deflate, then zstd, as two Content-Encoding headers."""
    body = zstd.compress(zlib.compress(f"card {s.spaced}".encode()))
    headers = (("Content-Type", "text/plain"), ("Content-Encoding", "deflate"))
    return post("/v1/notes", body, (*headers, ("Content-Encoding", "zstd")))


@case(COMPRESSION, SSN, REVERSE, own=True)
def coding_upper_case(s: Secret) -> Made:
    """Content-Encoding: X-GZIP (an old alias, upper case)."""
    return post("/v1/notes", gzip.compress(f"ssn {s.dashed}".encode(), mtime=0), _encoded("X-GZIP"))


@case(COMPRESSION, CARD, HTTP, undo=(GZIP_HEADER,), own=True)
def gzip_header_name(s: Secret) -> Made:
    """The card in the gzip header's file name (FNAME), the content harmless."""
    body = gzip_with_header(b"see attached\n", name=f"card {s.spaced}.txt".encode())
    return post("/v1/notes", body, _encoded("gzip"))


@case(COMPRESSION, SSN, HTTPS, undo=(GZIP_HEADER,), own=True)
def gzip_header_comment(s: Secret) -> Made:
    """The SSN in the gzip header's comment (FCOMMENT)."""
    body = gzip_with_header(b"see attached\n", comment=f"ssn {s.dashed}".encode())
    return post("/v1/notes", body, _encoded("gzip"))


@case(COMPRESSION, SSN, HTTP, undo=(DECOMPRESSED,), own=True)
def transfer_encoding_gzip(s: Secret) -> Made:
    """Transfer-Encoding: gzip, chunked (HTTP/1.1 allows codings before chunked)."""
    data = gzip.compress(f"ssn {s.dashed}".encode(), mtime=0)
    headers = (("Content-Type", "text/plain"), ("Transfer-Encoding", "gzip, chunked"))
    request = HttpRequest("POST", "/v1/notes", headers, chunks=(Chunk(data),))
    return Http1(request)


@case(COMPRESSION, CARD, REVERSE, own=True)
def brotli_trailing_bytes(s: Secret) -> Made:
    """Plain bytes after the end of a brotli stream."""
    body = brotli.compress(b"see attached\n") + f"card {s.spaced}".encode()
    return post("/v1/notes", body, _encoded("br"))


@case(COMPRESSION, SSN, HTTP, own=True)
def zlib_trailing_bytes(s: Secret) -> Made:
    """Plain bytes after the end of a zlib (deflate) stream."""
    body = zlib.compress(b"see attached\n") + f"ssn {s.dashed}".encode()
    return post("/v1/notes", body, _encoded("deflate"))


@case(COMPRESSION, CARD, HTTPS, own=True)
def gzip_labelled_not_gzip(s: Secret) -> Made:
    """Content-Encoding: gzip over a plain body (a lenient vendor reads it as it is)."""
    return post("/v1/notes", f"card {s.spaced}", _encoded("gzip"))


@control(BENIGN, None, HTTP)
def benign_gzip_upload(s: Secret) -> Made:
    """A gzip-compressed log file uploaded as application/gzip, no PII."""
    log = "".join(
        f"2026-12-0{d} 10:0{d}:00 INFO sync finished in {d * 13} ms\n" for d in range(1, 9)
    )
    return post("/v1/upload", gzip.compress(log.encode(), mtime=0), typed("application/gzip"))


@control(BENIGN, None, HTTPS)
def benign_stacked_codings(s: Secret) -> Made:
    """A clean JSON order, gzip then brotli."""
    data = json.dumps({"order": "ORD-88213", "sku": "PRN-4410", "qty": 2}).encode()
    body = brotli.compress(gzip.compress(data, mtime=0))
    return post("/v1/orders", body, (*JSON, ("Content-Encoding", "gzip, br")))
