"""Undoing the tricks on hand-made records: what a vendor that knows the trick reads."""

from __future__ import annotations

import base64
import gzip
import json
import zlib

from bench.bypass import undo as u
from bench.bypass.images import png, png_chunk
from bench.bypass.seen import Seen, SeenRequest
from bench.bypass.wire import BINARY, CONTINUATION, TEXT, WsFrame

JSON_TYPE = (("Content-Type", "application/json"),)


def request(
    body: bytes = b"", headers: tuple[tuple[str, str], ...] = (), target: str = "/"
) -> Seen:
    """A record of one request."""
    return Seen(requests=(SeenRequest("http/1.1", "POST", target, headers, body),))


def values(undo: u.Undo, seen: Seen) -> list[bytes]:
    """The candidates' bytes."""
    return [data for _, data in undo(seen)]


def test_basic_auth_and_jwt_and_base64_headers() -> None:
    """Credentials, JWT parts and base64 header values are decoded; labels say the undo."""
    basic = request(headers=(("Authorization", "Basic " + base64.b64encode(b"u:pw").decode()),))
    assert values(u.basic_auth(), basic) == [b"u:pw"]
    assert u.basic_auth()(basic)[0][0].startswith("undo base64")
    claims = base64.urlsafe_b64encode(b'{"ssn":"x"}').rstrip(b"=").decode()
    token = request(headers=(("Authorization", f"Bearer eyJhbGciOiJub25lIn0.{claims}."),))
    assert b'{"ssn":"x"}' in values(u.jwt(), token)
    header = request(headers=(("X-Context", base64.b64encode(b"hidden").decode()),))
    assert b"hidden" in values(u.b64_header("X-Context"), header)


def test_json_keys_strings_and_numbers() -> None:
    """Keys at any depth, decoded and NFKC-folded strings, numbers as the integers they are."""
    doc = request(b'{"a": {"k1": [{"k2": 1}]}, "s": "\\u0031\\uff12", "f": 2.5e3, "n": 7.0}')
    assert values(u.json_keys(), doc) == [b"a", b"k1", b"k2", b"s", b"f", b"n"]
    assert b"12" in values(u.json_strings(), doc)
    assert {b"2500", b"7", b"1"} <= set(values(u.json_numbers(), doc))
    duplicate = request(b'{"ssn": "first", "ssn": "last"}')
    assert {b"first", b"last"} <= set(values(u.json_strings(), duplicate))
    assert values(u.json_keys(), request(b"not json")) == []


def test_joins_of_split_fields() -> None:
    """JSON fields in order (across NDJSON lines too), arrays, forms, queries, headers, CSV."""
    assert values(u.json_join("b", "a"), request(b'{"a": "2", "x": 0, "b": "1"}')) == [b"12"]
    lines = b'{"part": "12", "seq": 0}\n{"part": "34", "seq": 1}\n'
    assert values(u.json_join("part"), request(lines)) == [b"1234"]
    assert values(u.json_join(), request(b"[1, 2, 3]")) == [b"123"]
    assert b"123" in values(u.form_join("a", "b"), request(b"a=1&x=9&b=23"))
    assert b"45" in values(u.form_join("c", "d"), request(target="/?c=4&d=5"))
    headers = request(headers=(("X-B", "2"), ("X-A", "1")))
    assert values(u.header_join("X-A", "X-B"), headers) == [b"12"]
    assert values(u.csv_rows(), request(b"h1,h2\n1,23\n")) == [b"h1h2", b"123"]


def test_text_decodings_and_references_and_double_percent() -> None:
    """UTF-16 bodies and frames decode, character references resolve, %25 decodes twice."""
    assert b"hi 12" in values(u.decode_text("utf-16-le"), request("hi 12".encode("utf-16-le")))
    assert values(u.html_entities(), request(b"&#49;&#50;")) == [b"12"]
    assert values(u.percent_twice(), request(target="/%2531%2532")) == [b"/12"]
    encoded = base64.b64encode(json.dumps({"v": "inner"}).encode()).decode()
    assert b'{"v": "inner"}' in values(
        u.b64_strings(), request(json.dumps({"p": encoded}).encode())
    )


def test_png_text_chunks_and_fragments() -> None:
    """tEXt, zTXt (inflated) and iTXt are read, in a body or a part; fragments are joined."""
    image = png(
        (
            png_chunk(b"tEXt", b"A\x00one"),
            png_chunk(b"zTXt", b"B\x00\x00" + zlib.compress(b"two")),
            png_chunk(b"iTXt", b"C\x00\x01\x00en\x00\x00" + zlib.compress(b"three")),
        )
    )
    assert values(u.png_text(), request(b"--b\r\n\r\n" + image)) == [
        b"A\x00one",
        b"B two",
        b"C three",
    ]
    frames = Seen(
        frames=(
            WsFrame(TEXT, b"ab", fin=False),
            WsFrame(CONTINUATION, b"cd"),
            WsFrame(BINARY, b"e"),
        )
    )
    assert values(u.ws_message_text(), frames) == [b"abcde"]


def test_repeated_headers_are_joined_as_frameworks_join_them() -> None:
    """Two values of one header, joined with `, ` (or `; ` for cookie crumbs); one gives none."""
    two = request(headers=(("X-Ssn", "219-09"), ("x-ssn", "9999"), ("X-Other", "1")))
    assert values(u.header_values("X-Ssn"), two) == [b"219-09, 9999"]
    crumbs = request(headers=(("cookie", "a=1"), ("cookie", "b=2")))
    assert values(u.header_values("cookie", "; "), crumbs) == [b"a=1; b=2"]
    assert values(u.header_values("X-Other"), two) == []


def test_xml_is_read_as_a_parser_reads_it() -> None:
    """Internal entities expanded (in any order), CDATA unwrapped, character references undone."""
    doc = b'<!DOCTYPE c [<!ENTITY b "-99"><!ENTITY a "21">]><c k="&#x34;2"><![CDATA[x]]>&a;&b;</c>'
    assert values(u.xml_text(), request(doc)) == [b"x21-99", b"42"]
    assert values(u.xml_text(), request(b"<unclosed>")) == []


def test_mime_parts_are_walked_and_decoded() -> None:
    """Nested parts, base64 and quoted-printable payloads, RFC 2231 filenames, gzip files."""
    inner = (
        b"--in\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.b64encode(b"deep")
        + b"\r\n--in--\r\n"
    )
    body = (
        b'--out\r\nContent-Disposition: form-data; name="q"\r\n'
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n=34=32\r\n"
        b"--out\r\nContent-Disposition: form-data; name=\"f\"; filename*=UTF-8''a%20b.txt\r\n"
        b"Content-Type: application/gzip\r\n\r\n" + gzip.compress(b"zipped", mtime=0) + b"\r\n"
        b"--out\r\nContent-Type: multipart/mixed; boundary=in\r\n\r\n" + inner + b"--out--\r\n"
    )
    seen = request(body, (("Content-Type", "multipart/form-data; boundary=out"),))
    found = values(u.mime_parts(), seen)
    assert b"42" in found
    assert b"a b.txt" in found
    assert b"zipped" in found
    assert b"deep" in found
    assert values(u.mime_parts(), request(body, JSON_TYPE)) == []


def test_data_uris_hex_and_base64_bodies_and_queries() -> None:
    """data: URIs (base64 and percent), hex JSON strings, a base64 body, base64 query values."""
    uri = b'{"a": "data:text/plain;base64,' + base64.b64encode(b"hidden") + b'"}'
    assert values(u.data_uris(), request(uri)) == [b"hidden"]
    assert values(u.data_uris(), request(b"see data:,a%20b")) == [b"a b"]
    assert values(u.hex_strings(), request(b'{"h": "' + b"card 1".hex().encode() + b'"}')) == [
        b"card 1"
    ]
    assert values(u.hex_strings(), request(b'{"h": "abc"}')) == []
    assert values(u.b64_body(), request(base64.b64encode(b"whole body"))) == [b"whole body"]
    token = base64.urlsafe_b64encode(b'{"pan": 1}').rstrip(b"=").decode()
    assert values(u.b64_query(), request(target=f"/c?state={token}&x=1")) == [b'{"pan": 1}']


def test_raw_bytes_gunzipped_and_base64_decoded() -> None:
    """gzip members in raw bytes (or after an upgrade) inflate; base64 tokens decode."""
    raw = Seen(other=b"\x00\x01" + gzip.compress(b"inside", mtime=0))
    assert values(u.raw_gunzip(), raw) == [b"inside"]
    after = Seen(upgraded=b"x " + base64.b64encode(b"line two") + b"\n")
    assert values(u.raw_base64(), after) == [b"line two"]
    assert values(u.raw_gunzip(), request(b"\x1f\x8b in a body is not raw")) == []
