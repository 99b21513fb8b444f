"""The cases that carry a secret, class by class (the table's categories).

Each function makes one case from its secret; its name is the case's name and its docstring
the trick. `own=True` marks a variant added beyond the list in issue 14. This module holds the
issue's classes; `bench.bypass.attacks_wire` and `bench.bypass.attacks_bodies` (imported at
the end) add classes of our own. All register into `bench.bypass.registry.ATTACKS`, which is
`CATALOG` here; the classes of `registry.MATRIX` also run over every other channel.
"""

from __future__ import annotations

import gzip
import json

import brotli  # mitmproxy's own dependency, as is backports.zstd
from backports import zstd

from bench.bypass import undo as u
from bench.bypass.cases import (
    FORM,
    JSON,
    TCP,
    UA,
    WS,
    Made,
    b64,
    chunked_json,
    form_part,
    get,
    got_bytes,
    got_frames,
    got_upgraded,
    h2c_after_upgrade,
    jwt,
    post,
    post_json,
    post_multipart,
    reply_json,
    sse,
    upgrade,
    ws,
    zlib_compress,
)
from bench.bypass.client import H2Request, Http1, RawTcp
from bench.bypass.images import exif_segment, gif, jpeg, jpeg_segment, png, png_chunk, xmp_segment
from bench.bypass.pii import Secret
from bench.bypass.registry import ATTACKS, CARD, H2, HTTP, HTTPS, REVERSE, SSN, TUNNEL, case
from bench.bypass.vendor import H2Reply, Script, http_response
from bench.bypass.wire import (
    BINARY,
    CLOSE,
    CONTINUATION,
    PING,
    PONG,
    TEXT,
    Chunk,
    HttpRequest,
    ws_frame,
)

__all__ = ["CATALOG", "CATEGORIES"]

CATALOG = ATTACKS
Headers = tuple[tuple[str, str], ...]
XML = (("Content-Type", "application/xml"),)
CSV = (("Content-Type", "text/csv"),)
HELLO = ws_frame(TEXT, b'{"type":"hello"}')


# --- raw TCP: CONNECT to something that is neither TLS nor HTTP -------------------------------

RAW = "raw_tcp"


@case(RAW, SSN, TUNNEL, script=TCP, delivered=got_bytes)
def tcp_client_first_text(s: Secret) -> Made:
    """A line protocol after CONNECT, the client speaking first (its first line looks like HTTP)."""
    return RawTcp((f"SYNC v1\nrecord=customer\nssn={s.dashed}\n".encode(),))


@case(RAW, CARD, TUNNEL, script=TCP, delivered=got_bytes)
def tcp_client_first_binary(s: Secret) -> Made:
    """A length-prefixed binary record."""
    record = len(s.digits).to_bytes(2, "big") + s.digits.encode()
    return RawTcp((b"\x00\x01" + record + b"\x00\x00",))


@case(RAW, SSN, TUNNEL, script=TCP, delivered=got_bytes)
def tcp_client_first_json_line(s: Secret) -> Made:
    """A JSON line over raw TCP."""
    return RawTcp((json.dumps({"op": "upsert", "ssn": s.dashed}).encode() + b"\n",))


@case(
    RAW, SSN, TUNNEL, script=Script(kind="tcp", banner=b"220 sync ready\r\n"), delivered=got_bytes
)
def tcp_server_first_banner(s: Secret) -> Made:
    """The server greets first (SMTP-like), then the client sends."""
    return RawTcp((f"HELO acme\r\nDATA ssn {s.dashed}\r\n".encode(),), wait_banner=True)


@case(RAW, CARD, TUNNEL, script=Script(kind="tcp", banner=b"* OK ready\r\n"), delivered=got_bytes)
def tcp_server_first_card(s: Secret) -> Made:
    """The server greets first (IMAP-like), then the client sends a card."""
    return RawTcp((f"a1 NOTE card {s.spaced}\r\n".encode(),), wait_banner=True)


@case(RAW, CARD, HTTPS, script=TCP, delivered=got_bytes, own=True)
def tcp_inside_tls(s: Secret) -> Made:
    """TLS through the tunnel, then a protocol that is not HTTP."""
    return RawTcp((f"SYNC/1\ncard:{s.digits}\n".encode(),))


@case(RAW, SSN, TUNNEL, script=TCP, delivered=got_bytes, own=True)
def tcp_redis_command(s: Secret) -> Made:
    """A Redis (RESP) SET command whose value is the secret."""
    parts = (b"SET", b"customer:1042:ssn", s.dashed.encode())
    command = b"*3\r\n" + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
    return RawTcp((command,))


@case(RAW, CARD, TUNNEL, script=TCP, delivered=got_bytes, own=True)
def tcp_postgres_query(s: Secret) -> Made:
    """A PostgreSQL simple query message (binary framing, SQL text)."""
    sql = f"INSERT INTO cards (pan) VALUES ('{s.digits}');".encode() + b"\x00"
    startup = b"\x00\x03\x00\x00user\x00sync\x00database\x00crm\x00\x00"
    query = b"Q" + (len(sql) + 4).to_bytes(4, "big") + sql
    return RawTcp(((len(startup) + 4).to_bytes(4, "big") + startup + query,))


@case(RAW, CARD, TUNNEL, script=TCP, delivered=got_bytes, own=True)
def tcp_split_writes(s: Secret) -> Made:
    """The secret split over two writes a moment apart."""
    half = len(s.spaced) // 2
    first = b"\x02" + f"card={s.spaced[:half]}".encode()
    return RawTcp((first, f"{s.spaced[half:]}\x03".encode()), gap=0.3)


@case(RAW, SSN, TUNNEL, script=TCP, undo=(u.raw_gunzip(),), delivered=got_bytes, own=True)
def tcp_gzip_record(s: Secret) -> Made:
    """A gzip-compressed JSON record over raw TCP."""
    return RawTcp((gzip.compress(json.dumps({"ssn": s.dashed}).encode(), mtime=0),))


@case(RAW, CARD, TUNNEL, script=TCP, undo=(u.raw_base64(),), delivered=got_bytes, own=True)
def tcp_base64_line(s: Secret) -> Made:
    """A base64 line (no space in it, so it does not look like HTTP)."""
    return RawTcp((b64(json.dumps({"card": s.spaced})).encode() + b"\n",))


@case(RAW, SSN, HTTPS, script=TCP, delivered=got_bytes, own=True)
def tcp_tls_custom_alpn(s: Secret) -> Made:
    """TLS offering a custom ALPN protocol, then a binary record."""
    record = b"\x01" + len(s.dashed).to_bytes(2, "big") + s.dashed.encode()
    return RawTcp((record,), alpn=("acme-sync/1",))


@case(RAW, SSN, TUNNEL, script=TCP, delivered=got_bytes, own=True)
def tcp_utf16_text(s: Secret) -> Made:
    """UTF-16LE text over raw TCP."""
    return RawTcp((f"ssn={s.dashed}\n".encode("utf-16-le"),))


# --- upgrades: protocols a 101 switches to ---------------------------------------------------

UPGRADES = "upgrades"


@case(UPGRADES, SSN, HTTP, script=Script(upgrade="foo"), delivered=got_upgraded)
def upgrade_custom_protocol(s: Secret) -> Made:
    """Upgrade: foo answered 101, then raw bytes."""
    return upgrade("foo/1", f"RECORD ssn={s.dashed}\n".encode())


@case(UPGRADES, CARD, HTTPS, script=Script(upgrade="foo"), delivered=got_upgraded)
def upgrade_custom_over_tls(s: Secret) -> Made:
    """Upgrade: foo inside TLS."""
    return upgrade("foo/1", f"RECORD card={s.spaced}\n".encode())


@case(UPGRADES, SSN, REVERSE, script=Script(upgrade="acme"), delivered=got_upgraded, own=True)
def upgrade_custom_reverse(s: Secret) -> Made:
    """A custom upgrade through the reverse listener."""
    return upgrade("acme-sync", f"RECORD ssn={s.digits}\n".encode())


@case(UPGRADES, SSN, TUNNEL, script=WS, delivered=got_frames(TEXT))
def websocket_version_8(s: Secret) -> Made:
    """A WebSocket handshake with Sec-WebSocket-Version: 8."""
    return ws((ws_frame(TEXT, json.dumps({"ssn": s.dashed}).encode()),), version="8")


@case(UPGRADES, CARD, TUNNEL, script=WS, delivered=got_frames(TEXT), own=True)
def websocket_no_version(s: Secret) -> Made:
    """A WebSocket handshake without Sec-WebSocket-Version."""
    return ws((ws_frame(TEXT, f"card {s.spaced}".encode()),), version="")


@case(UPGRADES, CARD, HTTP, script=Script(upgrade="h2c"), delivered=got_upgraded)
def h2c_upgrade(s: Secret) -> Made:
    """Upgrade: h2c, then HTTP/2 frames with the secret in a DATA frame."""
    settings, after = h2c_after_upgrade(json.dumps({"card_number": s.digits}).encode())
    headers = (
        *UA,
        ("Connection", "Upgrade, HTTP2-Settings"),
        ("Upgrade", "h2c"),
        ("HTTP2-Settings", settings),
    )
    return Http1(HttpRequest("GET", "/", headers), after_upgrade=after)


@case(UPGRADES, SSN, HTTP, script=Script(upgrade="TLS"), delivered=got_upgraded, own=True)
def upgrade_tls_token(s: Secret) -> Made:
    """Upgrade: TLS/1.2 (RFC 2817) answered 101, then plain bytes."""
    return upgrade("TLS/1.2", f"ssn {s.dashed}\n".encode())


@case(UPGRADES, CARD, HTTPS, script=Script(upgrade="acme"), own=True)
def upgrade_request_body(s: Secret) -> Made:
    """A POST asking to upgrade, the secret in its own JSON body."""
    head = (*UA, *JSON, ("Connection", "Upgrade"), ("Upgrade", "acme-sync"))
    body = json.dumps({"card": s.spaced}).encode()
    return Http1(HttpRequest("POST", "/v1/sync", head, body), after_upgrade=b"HELLO\n")


@case(UPGRADES, SSN, REVERSE, script=Script(upgrade="acme"), own=True)
def upgrade_token_secret(s: Secret) -> Made:
    """The secret inside the Upgrade protocol token."""
    return upgrade(f"acme-{s.digits}", b"HELLO\n")


@case(UPGRADES, CARD, HTTP, script=Script(upgrade="acme"), delivered=got_upgraded, own=True)
def upgrade_http_inside(s: Secret) -> Made:
    """After a custom 101, an HTTP request with the secret in its body."""
    inner = HttpRequest("POST", "/inner", JSON, json.dumps({"card": s.spaced}).encode())
    return upgrade("acme-sync", inner.wire("/inner", "vendor"))


# --- websocket --------------------------------------------------------------------------------

WEBSOCKET = "websocket"


@case(WEBSOCKET, SSN, TUNNEL, script=WS, delivered=got_frames(TEXT))
def ws_text_frame(s: Secret) -> Made:
    """Control: a text message (already inspected)."""
    text = json.dumps({"type": "message", "text": f"my ssn is {s.dashed}"})
    return ws((ws_frame(TEXT, text.encode()),))


@case(WEBSOCKET, SSN, TUNNEL, script=WS, delivered=got_frames(PING))
def ws_ping_payload(s: Secret) -> Made:
    """The secret in a ping's payload."""
    return ws((HELLO, ws_frame(PING, f"ssn {s.dashed}".encode())))


@case(WEBSOCKET, CARD, TUNNEL, script=WS, delivered=got_frames(PONG))
def ws_pong_payload(s: Secret) -> Made:
    """The secret in an unsolicited pong's payload."""
    return ws((HELLO, ws_frame(PONG, f"card {s.spaced}".encode())))


@case(WEBSOCKET, SSN, TUNNEL, script=WS, delivered=got_frames(CLOSE))
def ws_close_reason(s: Secret) -> Made:
    """The secret in the close frame's reason."""
    return ws((HELLO, ws_frame(CLOSE, b"\x03\xe8" + f"done {s.dashed}".encode())))


@case(WEBSOCKET, SSN, TUNNEL, script=WS)
def ws_subprotocol(s: Secret) -> Made:
    """The secret as a Sec-WebSocket-Protocol value."""
    return ws((HELLO,), headers=(("Sec-WebSocket-Protocol", f"chat.v2, {s.digits}"),))


@case(WEBSOCKET, CARD, TUNNEL, script=WS, delivered=got_frames(BINARY))
def ws_binary_utf8(s: Secret) -> Made:
    """UTF-8 text in a binary frame."""
    return ws((ws_frame(BINARY, f"card on file {s.spaced}".encode()),))


@case(
    WEBSOCKET,
    SSN,
    TUNNEL,
    script=WS,
    undo=(u.decode_text("utf-16-le"),),
    delivered=got_frames(BINARY),
)
def ws_binary_utf16le(s: Secret) -> Made:
    """UTF-16LE text in a binary frame."""
    return ws((ws_frame(BINARY, f"ssn {s.dashed}".encode("utf-16-le")),))


@case(
    WEBSOCKET,
    CARD,
    TUNNEL,
    script=WS,
    undo=(u.decode_text("utf-16-be"),),
    delivered=got_frames(BINARY),
)
def ws_binary_utf16be(s: Secret) -> Made:
    """UTF-16BE text in a binary frame."""
    return ws((ws_frame(BINARY, f"card {s.spaced}".encode("utf-16-be")),))


@case(
    WEBSOCKET,
    SSN,
    TUNNEL,
    script=WS,
    undo=(u.ws_message_text(),),
    delivered=got_frames(TEXT, CONTINUATION),
    own=True,
)
def ws_fragmented_text(s: Secret) -> Made:
    """A text message in two fragments, the secret split between them."""
    first = ws_frame(TEXT, f"my ssn is {s.dashed[:5]}".encode(), fin=False)
    return ws((first, ws_frame(CONTINUATION, f"{s.dashed[5:]} thanks".encode())))


@case(WEBSOCKET, CARD, HTTPS, script=WS, delivered=got_frames(TEXT), own=True)
def ws_over_tls(s: Secret) -> Made:
    """Control: a text message over wss."""
    return ws((ws_frame(TEXT, json.dumps({"card": s.spaced}).encode()),))


@case(WEBSOCKET, SSN, TUNNEL, script=WS, own=True)
def ws_handshake_query(s: Secret) -> Made:
    """The secret in the handshake's query string."""
    return ws((HELLO,), target=f"/v1/stream?customer={s.dashed}")


@case(WEBSOCKET, SSN, TUNNEL, script=WS, delivered=got_frames(BINARY), own=True)
def ws_binary_json(s: Secret) -> Made:
    """JSON in a binary frame."""
    return ws((ws_frame(BINARY, json.dumps({"ssn": s.dashed}).encode()),))


@case(WEBSOCKET, SSN, REVERSE, script=WS, delivered=got_frames(TEXT), own=True)
def ws_reverse_text(s: Secret) -> Made:
    """A text message through the reverse listener."""
    return ws((ws_frame(TEXT, json.dumps({"ssn": s.dashed}).encode()),))


@case(
    WEBSOCKET,
    CARD,
    TUNNEL,
    script=WS,
    undo=(u.b64_strings(),),
    delivered=got_frames(TEXT),
    own=True,
)
def ws_base64_field(s: Secret) -> Made:
    """Base64 JSON inside a text message's field."""
    inner = b64(json.dumps({"card": s.spaced}))
    return ws((ws_frame(TEXT, json.dumps({"type": "blob", "data": inner}).encode()),))


@case(WEBSOCKET, SSN, TUNNEL, script=WS, delivered=got_frames(TEXT), own=True)
def ws_after_many_messages(s: Secret) -> Made:
    """The secret in the 40th message of a chat."""
    chatter = tuple(
        ws_frame(TEXT, json.dumps({"type": "typing", "seq": i}).encode()) for i in range(39)
    )
    return ws((*chatter, ws_frame(TEXT, f"ok my ssn is {s.dashed}".encode())))


@case(WEBSOCKET, CARD, HTTPS, script=WS, delivered=got_frames(PING), own=True)
def ws_tls_ping(s: Secret) -> Made:
    """The secret in a ping's payload over wss."""
    return ws((HELLO, ws_frame(PING, s.digits.encode())))


# --- trailers and chunk extensions ------------------------------------------------------------

TRAILERS = "trailers"
_CHUNKS = (Chunk(b'{"upload": "batch-7", '), Chunk(b'"rows": 3}'))


def chunked(trailers: Headers = (), chunks: tuple[Chunk, ...] = _CHUNKS) -> Http1:
    """A chunked JSON upload with `trailers`."""
    request = HttpRequest("POST", "/v1/upload", (*UA, *JSON), chunks=chunks, trailers=trailers)
    return Http1(request)


@case(TRAILERS, SSN, HTTP)
def trailer_ssn(s: Secret) -> Made:
    """A chunked request whose trailer carries the secret."""
    return chunked((("X-Customer-Ssn", s.dashed),))


@case(TRAILERS, CARD, HTTPS, spread=False)
def trailer_card_tls(s: Secret) -> Made:
    """A trailer inside TLS."""
    return chunked((("X-Checksum", f"card={s.digits}"),))


@case(TRAILERS, SSN, REVERSE, own=True, spread=False)
def trailer_reverse(s: Secret) -> Made:
    """A trailer through the reverse listener."""
    return chunked((("X-Ref", s.digits),))


@case(TRAILERS, SSN, HTTP)
def chunk_extension(s: Secret) -> Made:
    """The secret in a chunk extension."""
    return chunked(chunks=(Chunk(_CHUNKS[0].data, f"ext={s.digits}"), _CHUNKS[1]))


@case(TRAILERS, CARD, REVERSE)
def chunk_extension_quoted(s: Secret) -> Made:
    """A quoted chunk extension."""
    return chunked(chunks=(_CHUNKS[0], Chunk(_CHUNKS[1].data, f'ref="{s.dashed}"')))


@case(TRAILERS, SSN, H2, spread=False)
def h2_request_trailers(s: Secret) -> Made:
    """HTTP/2 request trailers."""
    headers = (("content-type", "application/json"),)
    trailers = (("x-customer-ssn", s.dashed),)
    return H2Request("POST", "/v1/upload", headers, b'{"upload": "batch-7"}', trailers)


@case(TRAILERS, CARD, H2, own=True, spread=False)
def h2_trailers_grpc(s: Secret) -> Made:
    """HTTP/2 trailers of a gRPC-like call."""
    headers = (("content-type", "application/grpc"), ("te", "trailers"))
    trailers = (("grpc-trace-bin", s.spaced),)
    return H2Request("POST", "/acme.Sync/Push", headers, b"\x00\x00\x00\x00\x02\x08\x01", trailers)


@case(TRAILERS, SSN, HTTP, own=True)
def chunks_split_secret(s: Secret) -> Made:
    """Control: the secret split across two chunks of the body."""
    first = Chunk(f'{{"ssn": "{s.dashed[:6]}'.encode())
    return chunked(chunks=(first, Chunk(f'{s.dashed[6:]}"}}'.encode())))


@case(TRAILERS, SSN, HTTPS, own=True)
def trailer_declared(s: Secret) -> Made:
    """A trailer announced by Trailer and TE: trailers, the secret spaced."""
    request = HttpRequest(
        "POST",
        "/v1/upload",
        (*UA, *JSON, ("TE", "trailers"), ("Trailer", "X-Audit")),
        chunks=_CHUNKS,
        trailers=(("X-Audit", f"verified {s.spaced}"),),
    )
    return Http1(request)


@case(TRAILERS, CARD, REVERSE, undo=(u.header_join("X-Part-1", "X-Part-2"),), own=True)
def trailer_split(s: Secret) -> Made:
    """A card split over two trailers."""
    return chunked((("X-Part-1", s.digits[:8]), ("X-Part-2", s.digits[8:])))


# --- the response direction: the vendor sends the secret back ---------------------------------

RESPONSE = "response"


def ask(what: str) -> Http1:
    """A GET for one of a customer's resources."""
    return get(f"/v1/customers/C-1042/{what}")


@case(RESPONSE, SSN, HTTP, direction="response")
def response_json(s: Secret) -> Made:
    """The vendor sends the secret back in JSON."""
    return ask("profile"), reply_json({"customer": {"id": "C-1042", "ssn": s.dashed}})


@case(RESPONSE, CARD, HTTP, direction="response")
def response_sse(s: Secret) -> Made:
    """A finite text/event-stream, one event with the secret."""
    events = ['{"status": "queued"}', f'{{"card": "{s.spaced}"}}', '{"status": "done"}']
    return ask("events"), Script(reply=sse(events))


@case(RESPONSE, SSN, HTTP, direction="response")
def response_chunked(s: Secret) -> Made:
    """A chunked response, the secret in one chunk."""
    return ask("export"), Script(
        reply=chunked_json(['{"rows": [', f'{{"ssn": "{s.dashed}"}}', "]}"])
    )


@case(RESPONSE, CARD, HTTPS, direction="response", own=True, spread=False)
def response_https_json(s: Secret) -> Made:
    """JSON inside TLS."""
    return ask("cards"), reply_json({"card": {"number": s.spaced, "status": "active"}})


@case(RESPONSE, SSN, H2, direction="response", own=True, spread=False)
def response_h2_json(s: Secret) -> Made:
    """JSON over HTTP/2."""
    body = json.dumps({"ssn": s.dashed}).encode()
    return H2Request("GET", "/v1/customers/C-1042"), Script(h2=H2Reply(body=body))


@case(RESPONSE, CARD, TUNNEL, direction="response", own=True)
def response_websocket(s: Secret) -> Made:
    """The vendor sends the secret in a WebSocket message."""
    sent = (json.dumps({"card": s.spaced}).encode(),)
    return ws((ws_frame(TEXT, b'{"type":"subscribe"}'),)), Script(upgrade="websocket", ws_send=sent)


@case(RESPONSE, SSN, HTTP, direction="response", own=True)
def response_trailer(s: Secret) -> Made:
    """A chunked response whose trailer carries the secret."""
    head = http_response(200, (*JSON, ("Trailer", "X-Ssn")), b"", chunked=(b'{"ok": true}',))
    return ask("audit"), Script(reply=head[:-2] + f"X-Ssn: {s.dashed}\r\n\r\n".encode())


@case(RESPONSE, CARD, REVERSE, direction="response", own=True, spread=False)
def response_reverse(s: Secret) -> Made:
    """JSON from behind the reverse listener."""
    return ask("billing"), reply_json({"card": s.digits})


@case(RESPONSE, SSN, HTTPS, direction="response", own=True)
def response_gzip_json(s: Secret) -> Made:
    """A gzip-encoded JSON response."""
    body = gzip.compress(json.dumps({"ssn": s.dashed}).encode(), mtime=0)
    headers = (*JSON, ("Content-Encoding", "gzip"))
    return ask("profile.gz"), Script(reply=http_response(200, headers, body))


@case(RESPONSE, CARD, HTTP, direction="response", own=True)
def response_header(s: Secret) -> Made:
    """The secret in a response header."""
    headers = (*JSON, ("X-Card-Ref", s.spaced))
    return ask("card-ref"), Script(reply=http_response(200, headers, b'{"ok": true}'))


@case(RESPONSE, SSN, REVERSE, direction="response", own=True)
def response_set_cookie(s: Secret) -> Made:
    """The secret in a Set-Cookie the vendor sends."""
    headers = (*JSON, ("Set-Cookie", f"cust_ssn={s.dashed}; Path=/; HttpOnly"))
    return ask("session"), Script(reply=http_response(200, headers, b'{"ok": true}'))


@case(RESPONSE, SSN, HTTP, direction="response", own=True)
def response_location(s: Secret) -> Made:
    """A redirect whose Location holds the secret."""
    headers = (("Location", f"/v1/customers/{s.dashed}/profile"), ("Content-Length", "0"))
    raw = "HTTP/1.1 303 See Other\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    return ask("lookup"), Script(reply=raw.encode())


@case(RESPONSE, CARD, HTTPS, direction="response", own=True)
def response_xml(s: Secret) -> Made:
    """An XML response."""
    body = f'<?xml version="1.0"?><card><number>{s.spaced}</number></card>'.encode()
    return ask("card.xml"), Script(reply=http_response(200, XML, body))


# --- names: the secret where a parser sees a name, not a value --------------------------------

NAMES = "names"


def xml(text: str) -> Http1:
    """A POST of an XML document."""
    return post("/v1/records", '<?xml version="1.0"?>' + text, XML)


@case(NAMES, SSN, HTTP, undo=(u.json_keys(),))
def json_key(s: Secret) -> Made:
    """The secret as a JSON object key."""
    return post_json("/v1/records", {s.dashed: {"plan": "gold", "status": "active"}})


@case(NAMES, CARD, REVERSE, undo=(u.json_keys(),))
def json_nested_key(s: Secret) -> Made:
    """A nested JSON key."""
    return post_json("/v1/records", {"accounts": {"by_card": {s.digits: {"limit": 5000}}}})


@case(NAMES, SSN, HTTP, undo=(u.json_keys(),), own=True)
def json_key_in_array(s: Secret) -> Made:
    """A key of an object inside an array."""
    return post_json("/v1/records", [{"ok": True}, {s.digits: True}])


@case(NAMES, SSN, HTTPS)
def form_field_name(s: Secret) -> Made:
    """A form field's name."""
    return post("/v1/verify", f"{s.dashed}=verified&source=kiosk", FORM)


@case(NAMES, CARD, HTTP)
def query_param_name(s: Secret) -> Made:
    """A query parameter's name."""
    return get(f"/v1/lookup?{s.digits}=1&fields=status")


@case(NAMES, SSN, REVERSE)
def bare_query(s: Secret) -> Made:
    """A bare query string."""
    return get(f"/v1/lookup?{s.digits}")


@case(NAMES, SSN, HTTP)
def multipart_field_name(s: Secret) -> Made:
    """A multipart field's name."""
    return post_multipart("/v1/forms", [form_part(s.dashed, "verified"), form_part("x", "kiosk")])


@case(NAMES, CARD, HTTPS)
def multipart_filename(s: Secret) -> Made:
    """A multipart filename."""
    disposition = f'form-data; name="file"; filename="statement-{s.digits}.pdf"'
    pdf = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
    part = ((("Content-Disposition", disposition), ("Content-Type", "application/pdf")), pdf)
    return post_multipart("/v1/files", [part])


@case(NAMES, SSN, REVERSE)
def multipart_part_header(s: Secret) -> Made:
    """A part header (Content-Description)."""
    extra = (("Content-Description", f"customer {s.dashed}"),)
    return post_multipart("/v1/forms", [form_part("note", "see attachment", extra)])


@case(NAMES, CARD, HTTP)
def multipart_preamble(s: Secret) -> Made:
    """The multipart preamble."""
    preamble = f"card on file {s.spaced}".encode()
    return post_multipart("/v1/forms", [form_part("note", "ok")], preamble=preamble)


@case(NAMES, SSN, HTTP)
def multipart_epilogue(s: Secret) -> Made:
    """The multipart epilogue."""
    epilogue = f"ssn {s.dashed}\r\n".encode()
    return post_multipart("/v1/forms", [form_part("note", "ok")], epilogue=epilogue)


@case(NAMES, CARD, REVERSE)
def csv_header_cell(s: Secret) -> Made:
    """A CSV header cell."""
    return post("/v1/import", f"ticket,status,acct_{s.digits}\nTCK-4821,open,yes\n", CSV)


@case(NAMES, SSN, HTTP)
def xml_element_name(s: Secret) -> Made:
    """An XML element name."""
    return xml(f"<customer><ssn-{s.dashed}>active</ssn-{s.dashed}></customer>")


@case(NAMES, CARD, HTTPS)
def xml_attribute_name(s: Secret) -> Made:
    """An XML attribute name."""
    return xml(f'<account c{s.digits}="primary"/>')


@case(NAMES, SSN, REVERSE)
def xml_namespace_uri(s: Secret) -> Made:
    """An XML namespace URI."""
    return xml(f'<c:customer xmlns:c="urn:acme:{s.dashed}"><c:status>open</c:status></c:customer>')


@case(NAMES, CARD, HTTP)
def xml_namespace_prefix(s: Secret) -> Made:
    """An XML namespace prefix."""
    p = f"n{s.digits}"
    return xml(f'<{p}:note xmlns:{p}="urn:acme:notes">ok</{p}:note>')


@case(NAMES, SSN, HTTP)
def xml_processing_instruction(s: Secret) -> Made:
    """An XML processing instruction."""
    return xml(f'<?acme-ref ssn="{s.dashed}"?><ticket><status>open</status></ticket>')


@case(NAMES, CARD, REVERSE)
def xml_comment(s: Secret) -> Made:
    """An XML comment."""
    return xml(f"<ticket><!-- card {s.spaced} --><status>open</status></ticket>")


# --- headers ----------------------------------------------------------------------------------

HEADERS = "headers"
_TICKET = {"subject": "printer offline", "priority": "high"}


def with_headers(headers: Headers) -> Http1:
    """A JSON ticket POST with extra `headers`."""
    return post_json("/v1/tickets", _TICKET, headers)


@case(HEADERS, SSN, HTTP)
def cookie_value(s: Secret) -> Made:
    """A cookie's value."""
    return with_headers((("Cookie", f"session=7f3a9c2e1b; cust_ref={s.dashed}"),))


@case(HEADERS, CARD, HTTPS, undo=(u.basic_auth(),))
def basic_auth_password(s: Secret) -> Made:
    """Basic auth, the secret as the password."""
    return with_headers((("Authorization", "Basic " + b64(f"svc-billing:{s.digits}")),))


@case(HEADERS, SSN, REVERSE, undo=(u.basic_auth(),))
def basic_auth_user(s: Secret) -> Made:
    """Basic auth, the secret as the user."""
    return with_headers((("Authorization", "Basic " + b64(f"{s.dashed}:Winter-Sky-42")),))


@case(HEADERS, SSN, HTTP, undo=(u.jwt(),))
def bearer_jwt_claim(s: Secret) -> Made:
    """A bearer JWT with the secret in a claim."""
    token = jwt({"sub": "svc-portal", "ssn": s.dashed, "scope": "tickets"})
    return with_headers((("Authorization", f"Bearer {token}"),))


@case(HEADERS, CARD, HTTPS, undo=(u.jwt(),))
def bearer_jwt_alg_none(s: Secret) -> Made:
    """An unsigned (alg: none) bearer JWT."""
    token = jwt({"sub": "svc-portal", "card": s.digits}, alg="none")
    return with_headers((("Authorization", f"Bearer {token}"),))


@case(HEADERS, SSN, HTTP)
def user_agent(s: Secret) -> Made:
    """User-Agent."""
    return Http1(HttpRequest("GET", "/v1/status", (("User-Agent", f"kiosk/2.1 (c {s.dashed})"),)))


@case(HEADERS, CARD, REVERSE)
def referer(s: Secret) -> Made:
    """Referer, a URL with the secret."""
    return get("/v1/status", (("Referer", f"https://portal.acme.example/cards/{s.digits}/view"),))


@case(HEADERS, SSN, HTTP)
def if_none_match(s: Secret) -> Made:
    """If-None-Match."""
    return get("/v1/status", (("If-None-Match", f'W/"{s.digits}"'),))


@case(HEADERS, SSN, REVERSE)
def x_forwarded_for(s: Secret) -> Made:
    """X-Forwarded-For."""
    return get("/v1/status", (("X-Forwarded-For", f"203.0.113.7, {s.dashed}"),))


@case(HEADERS, CARD, HTTP)
def x_forwarded_host(s: Secret) -> Made:
    """X-Forwarded-Host, the secret as a label."""
    return get("/v1/status", (("X-Forwarded-Host", f"c{s.digits}.portal.acme.example"),))


@case(HEADERS, SSN, HTTPS)
def tracestate(s: Secret) -> Made:
    """Tracestate."""
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    state = f"acme={s.digits},congo=t61rcWkgMzE"
    return get("/v1/status", (("traceparent", parent), ("tracestate", state)))


@case(HEADERS, CARD, HTTP)
def baggage(s: Secret) -> Made:
    """Baggage."""
    return get("/v1/status", (("baggage", f"card_ref={s.digits},tenant=acme"),))


@case(HEADERS, SSN, REVERSE)
def accept_language(s: Secret) -> Made:
    """Accept-Language."""
    return get("/v1/status", (("Accept-Language", f"en-US,en;q=0.9,x-{s.digits};q=0.1"),))


@case(HEADERS, CARD, HTTP, undo=(u.basic_auth("Proxy-Authorization"),))
def proxy_authorization(s: Secret) -> Made:
    """Proxy-Authorization to the explicit proxy."""
    credentials = "Basic " + b64(f"gw-user:{s.digits}")
    return get("/v1/status", (("Proxy-Authorization", credentials),))


@case(HEADERS, SSN, REVERSE, spread=(HTTP, HTTPS, H2))
def host_subdomain(s: Secret) -> Made:
    """The Host header, the secret as a subdomain label (reverse mode)."""
    return get("/v1/status", (("Host", f"{s.digits}.tenant.acme.example"),))


@case(HEADERS, CARD, HTTPS)
def content_type_parameter(s: Secret) -> Made:
    """A Content-Type parameter."""
    ctype = f"application/json; charset=utf-8; x-ref={s.digits}"
    return post("/v1/tickets", json.dumps(_TICKET), (("Content-Type", ctype),))


@case(HEADERS, SSN, HTTP)
def custom_x_header(s: Secret) -> Made:
    """Control: a custom X- header (already inspected)."""
    return with_headers((("X-Customer-Ssn", s.dashed),))


@case(HEADERS, SSN, REVERSE, own=True)
def authorization_token_scheme(s: Secret) -> Made:
    """A custom Authorization scheme."""
    return get("/v1/status", (("Authorization", f"Token {s.digits}"),))


@case(HEADERS, CARD, HTTP, own=True)
def header_name(s: Secret) -> Made:
    """The secret in a header's name."""
    return get("/v1/status", ((f"X-Card-{s.digits}", "1"),))


@case(HEADERS, SSN, HTTPS, undo=(u.b64_header("X-Context"),), own=True)
def header_base64_json(s: Secret) -> Made:
    """Base64 JSON in a header."""
    return get("/v1/status", (("X-Context", b64(json.dumps({"ssn": s.dashed}))),))


@case(HEADERS, CARD, H2, own=True, spread=False)
def h2_header(s: Secret) -> Made:
    """Control: a custom header over HTTP/2."""
    return H2Request("GET", "/v1/status", (("x-card-ref", s.spaced),))


@case(
    HEADERS, SSN, HTTP, undo=(u.header_join("X-Ssn-Area", "X-Ssn-Group", "X-Ssn-Serial"),), own=True
)
def split_headers(s: Secret) -> Made:
    """The SSN split over three headers."""
    area, group, serial = s.parts
    headers = (("X-Ssn-Area", area), ("X-Ssn-Group", group), ("X-Ssn-Serial", serial))
    return get("/v1/status", headers)


# --- URL --------------------------------------------------------------------------------------

URL = "url"


def pct(text: str) -> str:
    """Every character of `text` percent-encoded."""
    return "".join(f"%{ord(ch):02X}" for ch in text)


@case(URL, SSN, HTTP)
def path_segment_bare(s: Secret) -> Made:
    """A bare path segment."""
    return get(f"/v1/customers/{s.digits}/tickets")


@case(URL, SSN, REVERSE)
def path_segment_dashed(s: Secret) -> Made:
    """A dashed path segment."""
    return get(f"/v1/customers/{s.dashed}/tickets")


@case(URL, CARD, HTTPS, own=True)
def path_segment_card(s: Secret) -> Made:
    """A card number as a path segment."""
    return get(f"/v1/cards/{s.digits}/limits")


@case(URL, SSN, HTTP)
def fragment(s: Secret) -> Made:
    """A fragment, sent raw on the request line."""
    return get(f"/v1/tickets#{s.dashed}")


@case(URL, CARD, REVERSE, own=True, spread=False)
def fragment_reverse(s: Secret) -> Made:
    """A fragment through the reverse listener."""
    return get(f"/v1/tickets#card={s.digits}")


@case(URL, CARD, HTTP)
def userinfo(s: Secret) -> Made:
    """Userinfo in an absolute-form request line."""
    absolute = f"http://user:{s.digits}@{{authority}}/v1/profile"
    return Http1(HttpRequest("GET", "/v1/profile", UA, absolute=absolute))


@case(URL, SSN, REVERSE, own=True)
def path_percent_encoded(s: Secret) -> Made:
    """Every character of a path segment percent-encoded."""
    return get(f"/v1/customers/{pct(s.dashed)}/tickets")


@case(URL, SSN, HTTP, undo=(u.percent_twice(),), own=True)
def path_double_encoded(s: Secret) -> Made:
    """A percent-encoded percent-encoding in the path."""
    return get("/v1/customers/" + pct(s.dashed).replace("%", "%25") + "/tickets")


@case(URL, CARD, HTTP, own=True)
def path_matrix_parameter(s: Secret) -> Made:
    """A matrix parameter in the path."""
    return get(f"/v1/accounts;card={s.digits}/statements")


@case(URL, SSN, REVERSE, own=True)
def query_value(s: Secret) -> Made:
    """Control: a query parameter's value (already inspected)."""
    return get(f"/v1/lookup?ssn={s.dashed}")


@case(URL, CARD, H2, own=True, spread=False)
def h2_path(s: Secret) -> Made:
    """A path segment over HTTP/2."""
    return H2Request("GET", f"/v1/cards/{s.digits}")


# --- JSON quirks ------------------------------------------------------------------------------

QUIRKS = "json_quirks"
NUMBERS = (u.json_numbers(),)


def exponent(digits: str) -> str:
    """`digits` as a JSON number in exponent form: 4539148803436467 -> 4.539148803436467e15."""
    return f"{digits[0]}.{digits[1:]}e{len(digits) - 1}"


@case(QUIRKS, SSN, HTTP, undo=(u.json_strings(),))
def json_duplicate_keys(s: Secret) -> Made:
    """Duplicate keys: the secret in the first, a clean value in the last."""
    return post("/v1/records", f'{{"ssn": "{s.dashed}", "plan": "gold", "ssn": "on file"}}')


@case(QUIRKS, SSN, REVERSE, undo=NUMBERS)
def json_float(s: Secret) -> Made:
    """The SSN as a float (its digits, then .0)."""
    return post("/v1/records", f'{{"ssn": {s.digits}.0}}')


@case(QUIRKS, CARD, HTTPS, undo=NUMBERS)
def json_exponent_card(s: Secret) -> Made:
    """A card number in exponent form."""
    return post("/v1/records", f'{{"card_number": {exponent(s.digits)}}}')


@case(QUIRKS, CARD, HTTP, undo=NUMBERS)
def json_bigint_card(s: Secret) -> Made:
    """A card number as a plain integer."""
    return post("/v1/records", f'{{"card_number": {s.digits}}}')


@case(QUIRKS, SSN, REVERSE, undo=NUMBERS)
def json_number_in_array(s: Secret) -> Made:
    """The SSN as a number in an array of SSNs."""
    # The quirk is the representation, with the context the other quirk cases have: nine
    # digits with no context at all are an order id as often as an SSN (docs/bypass.md).
    return post("/v1/records", f'{{"ssns": [1042, {s.digits}, 7]}}')


@case(QUIRKS, SSN, HTTP, undo=NUMBERS, own=True)
def json_exponent_ssn(s: Secret) -> Made:
    """The SSN in exponent form."""
    return post("/v1/records", f'{{"ssn": {exponent(s.digits)}}}')


@case(QUIRKS, SSN, HTTPS, undo=(u.json_strings(),), own=True)
def json_unicode_escapes(s: Secret) -> Made:
    """Every character of the SSN a JSON unicode escape."""
    escaped = "".join(f"\\u{ord(ch):04x}" for ch in s.dashed)
    return post("/v1/records", '{"ssn": "' + escaped + '"}')


@case(QUIRKS, CARD, HTTP, undo=(u.json_strings(),), own=True)
def json_fullwidth_digits(s: Secret) -> Made:
    """A card number in fullwidth digits."""
    wide = "".join(chr(0xFF10 + int(d)) if d.isdigit() else d for d in s.spaced)
    return post_json("/v1/records", {"card": wide})


# --- split values -----------------------------------------------------------------------------

SPLIT = "split_values"


@case(SPLIT, SSN, HTTP, undo=(u.json_join("ssn_area", "ssn_group", "ssn_serial"),))
def ssn_split_fields(s: Secret) -> Made:
    """The SSN in ssn_area, ssn_group, ssn_serial."""
    area, group, serial = s.parts
    return post_json("/v1/records", {"ssn_area": area, "ssn_group": group, "ssn_serial": serial})


@case(SPLIT, CARD, REVERSE, undo=(u.json_join(*(f"card_part_{i}" for i in range(1, 5))),))
def card_four_fields(s: Secret) -> Made:
    """A card number in four fields."""
    return post_json("/v1/records", {f"card_part_{i + 1}": p for i, p in enumerate(s.parts)})


@case(SPLIT, CARD, HTTPS, undo=(u.json_join("card_first8", "card_last8"),))
def card_two_fields_gap(s: Secret) -> Made:
    """A card number in two fields with another field between them."""
    fields = {"card_first8": s.digits[:8], "expiry": "12/29", "card_last8": s.digits[8:]}
    return post_json("/v1/records", fields)


@case(SPLIT, SSN, HTTP, undo=(u.json_join(),))
def ssn_digit_per_element(s: Secret) -> Made:
    """One digit per array element."""
    return post_json("/v1/records", {"ssn_digits": [int(d) for d in s.digits]})


@case(SPLIT, SSN, REVERSE, undo=(u.csv_rows(),))
def csv_adjacent_cells(s: Secret) -> Made:
    """The SSN's parts in adjacent CSV cells."""
    return post("/v1/import", "customer,area,group,serial\nC-1042," + ",".join(s.parts) + "\n", CSV)


@case(SPLIT, SSN, HTTP)
def xml_split_attributes(s: Secret) -> Made:
    """The SSN's parts in XML attributes."""
    area, group, serial = s.parts
    return post("/v1/records", f'<ssn area="{area}" group="{group}" serial="{serial}"/>', XML)


@case(SPLIT, CARD, HTTP, undo=(u.json_join("part"),))
def ndjson_lines(s: Secret) -> Made:
    """One part of the card per NDJSON line."""
    lines = "".join(json.dumps({"part": p, "seq": i}) + "\n" for i, p in enumerate(s.parts))
    return post("/v1/stream", lines, (("Content-Type", "application/x-ndjson"),))


@case(SPLIT, SSN, HTTPS, undo=(u.form_join("ssn1", "ssn2", "ssn3"),), own=True)
def form_split_fields(s: Secret) -> Made:
    """The SSN split over form fields."""
    area, group, serial = s.parts
    return post("/v1/verify", f"ssn1={area}&ssn2={group}&ssn3={serial}", FORM)


@case(SPLIT, CARD, REVERSE, undo=(u.form_join("c1", "c2", "c3", "c4"),), own=True)
def query_split_fields(s: Secret) -> Made:
    """A card number split over query parameters."""
    return get("/v1/lookup?" + "&".join(f"c{i + 1}={p}" for i, p in enumerate(s.parts)))


@case(SPLIT, CARD, HTTPS, undo=(u.json_join(),), own=True)
def card_groups_array(s: Secret) -> Made:
    """A card's four groups as an array of strings."""
    return post_json("/v1/records", {"card_groups": list(s.parts), "brand": "visa"})


# --- weak context: nine bare digits under a telling field name ---------------------------------

WEAK = "weak_context"


def weak(field: str, s: Secret) -> Http1:
    """The SSN's bare digits in a JSON field named `field`."""
    return post_json("/v1/records", {field: s.digits, "status": "verified"})


@case(WEAK, SSN, HTTP)
def weak_taxpayer_id(s: Secret) -> Made:
    """Bare digits in a field named taxpayer_id."""
    return weak("taxpayer_id", s)


@case(WEAK, SSN, REVERSE)
def weak_tin(s: Secret) -> Made:
    """Bare digits in a field named tin."""
    return weak("tin", s)


@case(WEAK, SSN, HTTPS)
def weak_national_id(s: Secret) -> Made:
    """Bare digits in a field named national_id."""
    return weak("national_id", s)


@case(WEAK, SSN, HTTP)
def weak_sozialversicherungsnummer(s: Secret) -> Made:
    """Bare digits in a field named sozialversicherungsnummer."""
    return weak("sozialversicherungsnummer", s)


@case(WEAK, SSN, REVERSE)
def weak_ssn(s: Secret) -> Made:
    """Bare digits in a field named ssn."""
    return weak("ssn", s)


@case(WEAK, SSN, HTTP, own=True)
def weak_form_tin(s: Secret) -> Made:
    """Bare digits in a form field named tin."""
    return post("/v1/verify", f"tin={s.digits}&status=verified", FORM)


@case(WEAK, SSN, REVERSE, own=True)
def weak_query_ssn(s: Secret) -> Made:
    """Bare digits in a query parameter named ssn."""
    return get(f"/v1/lookup?ssn={s.digits}")


@case(WEAK, SSN, HTTPS, own=True)
def weak_xml_tin(s: Secret) -> Made:
    """Bare digits in an XML element named tin."""
    return post("/v1/records", f"<taxpayer><tin>{s.digits}</tin></taxpayer>", XML)


@case(WEAK, SSN, HTTP, own=True)
def weak_header_tax_id(s: Secret) -> Made:
    """Bare digits in a header named X-Tax-Id."""
    return get("/v1/status", (("X-Tax-Id", s.digits),))


@case(WEAK, SSN, REVERSE, own=True)
def weak_csv_ssn_column(s: Secret) -> Made:
    """Bare digits in a CSV column headed ssn."""
    return post("/v1/import", f"customer,ssn,plan\nC-1042,{s.digits},gold\n", CSV)


@case(WEAK, SSN, H2, own=True)
def weak_query_taxpayer_id(s: Secret) -> Made:
    """Bare digits in a query parameter named taxpayer_id (HTTP/2)."""
    return H2Request("GET", f"/v1/lookup?taxpayer_id={s.digits}")


# --- images -----------------------------------------------------------------------------------

IMAGES = "images"
PNG_TEXT = (u.png_text(),)


def image(data: bytes, kind: str) -> Http1:
    """A POST of an image."""
    return post("/v1/attachments", data, (("Content-Type", f"image/{kind}"),))


def itxt(text: str, compressed: bool) -> bytes:
    """A PNG iTXt chunk (keyword Description, language en)."""
    data = zlib_compress(text.encode()) if compressed else text.encode()
    flags = b"\x01\x00" if compressed else b"\x00\x00"
    return png_chunk(b"iTXt", b"Description\x00" + flags + b"en\x00\x00" + data)


@case(IMAGES, SSN, HTTP, undo=PNG_TEXT)
def png_text(s: Secret) -> Made:
    """A PNG tEXt chunk."""
    return image(png((png_chunk(b"tEXt", f"Comment\x00ssn {s.dashed}".encode()),)), "png")


@case(IMAGES, CARD, REVERSE, undo=PNG_TEXT)
def png_itxt(s: Secret) -> Made:
    """A PNG iTXt chunk."""
    return image(png((itxt(f"card {s.spaced}", compressed=False),)), "png")


@case(IMAGES, SSN, HTTPS, undo=PNG_TEXT)
def png_ztxt(s: Secret) -> Made:
    """A PNG zTXt chunk (compressed)."""
    chunk = png_chunk(b"zTXt", b"Comment\x00\x00" + zlib_compress(f"ssn {s.dashed}".encode()))
    return image(png((chunk,)), "png")


@case(IMAGES, CARD, HTTP, undo=PNG_TEXT, own=True)
def png_itxt_compressed(s: Secret) -> Made:
    """A compressed PNG iTXt chunk."""
    return image(png((itxt(f"card {s.spaced}", compressed=True),)), "png")


@case(IMAGES, SSN, HTTP)
def jpeg_comment(s: Secret) -> Made:
    """A JPEG COM segment."""
    return image(jpeg((jpeg_segment(0xFE, f"ssn {s.dashed}".encode()),)), "jpeg")


@case(IMAGES, CARD, REVERSE)
def exif_user_comment(s: Secret) -> Made:
    """EXIF UserComment."""
    return image(jpeg((exif_segment(user_comment=f"card {s.spaced}"),)), "jpeg")


@case(IMAGES, SSN, HTTPS)
def exif_image_description(s: Secret) -> Made:
    """EXIF ImageDescription."""
    return image(jpeg((exif_segment(description=f"ssn {s.dashed}"),)), "jpeg")


@case(IMAGES, CARD, HTTP)
def xmp_packet(s: Secret) -> Made:
    """An XMP packet's dc:description."""
    return image(jpeg((xmp_segment(f"card {s.spaced}"),)), "jpeg")


@case(IMAGES, SSN, REVERSE)
def png_after_iend(s: Secret) -> Made:
    """Bytes after PNG IEND."""
    return image(png(after_end=f"ssn {s.dashed}".encode()), "png")


@case(IMAGES, CARD, HTTP)
def jpeg_after_eoi(s: Secret) -> Made:
    """Bytes after JPEG EOI."""
    return image(jpeg(after_end=f"card {s.spaced}".encode()), "jpeg")


@case(IMAGES, SSN, HTTPS, undo=PNG_TEXT, own=True)
def png_in_multipart(s: Secret) -> Made:
    """A PNG tEXt chunk inside a multipart upload."""
    shot = png((png_chunk(b"tEXt", f"Comment\x00ssn {s.dashed}".encode()),))
    disposition = ("Content-Disposition", 'form-data; name="shot"; filename="screen.png"')
    part = ((disposition, ("Content-Type", "image/png")), shot)
    return post_multipart("/v1/forms", [form_part("note", "screenshot attached"), part])


@case(IMAGES, SSN, HTTP, own=True)
def gif_comment(s: Secret) -> Made:
    """A GIF comment extension."""
    return image(gif(f"ssn {s.dashed}".encode()), "gif")


@case(IMAGES, CARD, HTTPS, own=True)
def gif_after_trailer(s: Secret) -> Made:
    """Bytes after the GIF trailer."""
    return image(gif(after_end=f"card {s.spaced}".encode()), "gif")


@case(IMAGES, SSN, REVERSE, own=True)
def exif_artist(s: Secret) -> Made:
    """EXIF Artist beside an ordinary camera make and model."""
    exif = exif_segment(make="Canon", model="Canon EOS R6", artist=f"cust {s.dashed}")
    return image(jpeg((exif,)), "jpeg")


@case(IMAGES, CARD, HTTP, undo=(u.data_uris(),), own=True)
def png_data_uri_in_json(s: Secret) -> Made:
    """A PNG with a tEXt chunk as a data URI in a JSON field."""
    shot = png((png_chunk(b"tEXt", f"Comment\x00card {s.spaced}".encode()),))
    return post_json(
        "/v1/tickets", {"subject": "screenshot", "image": "data:image/png;base64," + b64(shot)}
    )


# --- encodings (own class) --------------------------------------------------------------------

ENCODINGS = "encodings"


@case(ENCODINGS, SSN, HTTP, undo=(u.b64_strings(),), own=True)
def base64_json_field(s: Secret) -> Made:
    """Base64-encoded JSON inside a JSON field."""
    return post_json("/v1/records", {"payload": b64(json.dumps({"ssn": s.dashed}))})


@case(ENCODINGS, CARD, REVERSE, own=True)
def gzip_body(s: Secret) -> Made:
    """Control: a gzip-encoded JSON body."""
    body = gzip.compress(json.dumps({"card": s.spaced}).encode(), mtime=0)
    return post("/v1/records", body, (*JSON, ("Content-Encoding", "gzip")))


@case(ENCODINGS, SSN, HTTPS, undo=(u.html_entities(),), own=True)
def xml_character_references(s: Secret) -> Made:
    """The SSN as XML character references."""
    text = "".join(f"&#{ord(ch)};" for ch in s.dashed)
    return post("/v1/records", f"<ssn>{text}</ssn>", XML)


@case(ENCODINGS, CARD, HTTP, undo=(u.decode_text("utf-16"),), own=True)
def utf16_body(s: Secret) -> Made:
    """A UTF-16 text body with a byte-order mark."""
    body = ("\ufeff" + f"card {s.spaced}").encode("utf-16-le")
    return post("/v1/notes", body, (("Content-Type", "text/plain; charset=utf-16"),))


@case(ENCODINGS, SSN, REVERSE, own=True)
def text_plain_body(s: Secret) -> Made:
    """Control: plain text."""
    text = f"customer called, ssn {s.dashed}, wants a callback"
    return post("/v1/notes", text, (("Content-Type", "text/plain"),))


@case(ENCODINGS, CARD, HTTP, own=True)
def deflate_body(s: Secret) -> Made:
    """A deflate-encoded JSON body."""
    body = zlib_compress(json.dumps({"card": s.spaced}).encode())
    return post("/v1/records", body, (*JSON, ("Content-Encoding", "deflate")))


@case(ENCODINGS, SSN, HTTPS, own=True)
def brotli_body(s: Secret) -> Made:
    """A brotli-encoded JSON body."""
    body = brotli.compress(json.dumps({"ssn": s.dashed}).encode())
    return post("/v1/records", body, (*JSON, ("Content-Encoding", "br")))


@case(ENCODINGS, CARD, REVERSE, own=True)
def zstd_body(s: Secret) -> Made:
    """A zstd-encoded JSON body."""
    body = zstd.compress(json.dumps({"card": s.digits}).encode())
    return post("/v1/records", body, (*JSON, ("Content-Encoding", "zstd")))


@case(ENCODINGS, SSN, HTTP, own=True)
def gzip_twice(s: Secret) -> Made:
    """A JSON body gzip-encoded twice (Content-Encoding: gzip, gzip)."""
    body = gzip.compress(gzip.compress(json.dumps({"ssn": s.dashed}).encode(), mtime=0), mtime=0)
    return post("/v1/records", body, (*JSON, ("Content-Encoding", "gzip, gzip")))


@case(ENCODINGS, SSN, HTTP, own=True)
def json_labelled_csv(s: Secret) -> Made:
    """JSON labelled text/csv: a vendor that ignores the label reads the tin field."""
    body = json.dumps({"customer": {"tin": s.digits, "plan": "gold"}})
    return post("/v1/import", body, (("Content-Type", "text/csv"),))


@case(ENCODINGS, CARD, HTTPS, own=True)
def ascii_labelled_utf16(s: Secret) -> Made:
    """ASCII labelled charset=utf-16le: the gateway would read CJK, the vendor reads ASCII."""
    text = f"card {s.spaced} ok!"
    text += " " * (len(text) % 2)  # an even length, so that it is valid UTF-16 too
    return post("/v1/notes", text, (("Content-Type", "text/plain; charset=utf-16le"),))


@case(ENCODINGS, SSN, HTTPS, own=True)
def gzip_second_member(s: Secret) -> Made:
    """A gzip body of two members, the SSN in the second (gzip -d reads both)."""
    first = gzip.compress(b"customer called about a refund\n", mtime=0)
    body = first + gzip.compress(f"ssn {s.dashed}\n".encode(), mtime=0)
    return post("/v1/notes", body, (("Content-Type", "text/plain"), ("Content-Encoding", "gzip")))


@case(ENCODINGS, CARD, REVERSE, own=True)
def zstd_second_frame(s: Secret) -> Made:
    """A zstd body of two frames, the card in the second (zstd -d reads both)."""
    body = zstd.compress(b"order update\n") + zstd.compress(f"card {s.spaced}\n".encode())
    return post("/v1/notes", body, (("Content-Type", "text/plain"), ("Content-Encoding", "zstd")))


@case(ENCODINGS, SSN, HTTP, own=True)
def gzip_trailing_bytes(s: Secret) -> Made:
    """Plain bytes after the end of a gzip stream, the SSN among them."""
    body = gzip.compress(b"see attached\n", mtime=0) + f"ssn {s.dashed}".encode()
    return post("/v1/notes", body, (("Content-Type", "text/plain"), ("Content-Encoding", "gzip")))


@case(ENCODINGS, CARD, HTTPS, undo=(u.hex_strings(),), own=True)
def hex_json_field(s: Secret) -> Made:
    """Hex-encoded text in a JSON field."""
    return post_json("/v1/records", {"blob": f"card {s.spaced}".encode().hex()})


@case(ENCODINGS, SSN, REVERSE, undo=(u.data_uris(),), own=True)
def data_uri_text(s: Secret) -> Made:
    """A base64 text/plain data URI in a JSON field."""
    uri = "data:text/plain;base64," + b64(f"ssn {s.dashed}")
    return post_json("/v1/notes", {"attachment": uri})


@case(ENCODINGS, CARD, HTTP, own=True)
def utf32_body(s: Secret) -> Made:
    """A UTF-32 text body with a byte-order mark."""
    body = f"card {s.spaced}".encode("utf-32")
    return post("/v1/notes", body, (("Content-Type", "text/plain; charset=utf-32"),))


@case(ENCODINGS, SSN, HTTPS, own=True)
def utf16be_no_bom(s: Secret) -> Made:
    """UTF-16BE JSON without a byte-order mark, the charset in Content-Type."""
    body = json.dumps({"ssn": s.dashed}).encode("utf-16-be")
    return post("/v1/records", body, (("Content-Type", "application/json; charset=utf-16be"),))


@case(ENCODINGS, CARD, REVERSE, undo=(u.b64_body(),), own=True)
def base64_body(s: Secret) -> Made:
    """A whole body in base64, said by Content-Transfer-Encoding."""
    headers = (("Content-Type", "application/json"), ("Content-Transfer-Encoding", "base64"))
    return post("/v1/records", b64(json.dumps({"card": s.spaced})), headers)


# The classes of our own register when their modules are imported, after the issue's.
from bench.bypass import (  # noqa: E402 - registered after these
    attacks_bodies,
    attacks_decoding,
    attacks_documents,
    attacks_grpc,
    attacks_values,
    attacks_wire,
)

__all__ += [
    "attacks_bodies",
    "attacks_decoding",
    "attacks_documents",
    "attacks_grpc",
    "attacks_values",
    "attacks_wire",
]
CATEGORIES: tuple[str, ...] = tuple(dict.fromkeys(spec.category for spec in CATALOG))
