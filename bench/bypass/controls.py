"""The benign controls: realistic vendor traffic without PII, which must pass unchanged.

A control is a false block when it does not get through (or the client does not get the
vendor's answer), a false change when the vendor gets other bytes than were sent. Some look
like what the attacks hide (a nine-digit order number, split date fields, extension numbers,
trace ids, a non-standard method): a gateway must tell them apart, not refuse them all.
"""

from __future__ import annotations

import gzip
import json

from bench.bypass.cases import (
    BENIGN,
    FORM,
    JSON,
    UA,
    WS,
    Catalog,
    Made,
    b64,
    form_part,
    get,
    got_frames,
    jwt,
    post,
    post_json,
    post_multipart,
    reply_json,
    sse,
    ws,
)
from bench.bypass.client import Channel, H2Request, Http1
from bench.bypass.images import exif_segment, jpeg, png, png_chunk
from bench.bypass.pii import Secret
from bench.bypass.vendor import Script
from bench.bypass.wire import BINARY, CLOSE, PING, TEXT, Chunk, HttpRequest, ws_frame

__all__ = ["CATALOG", "LOOKALIKES"]

# Every control that HTTP/2 can carry runs over it too, as `<name>@h2`: traffic a gateway
# must let through over HTTP/1.1 it must let through over HTTP/2 as well.
CATALOG = Catalog(matrix={BENIGN: (Channel.H2,)})
case = CATALOG.case
HTTP, HTTPS, H2 = Channel.HTTP, Channel.HTTPS, Channel.H2
TUNNEL, REVERSE = Channel.TUNNEL, Channel.REVERSE

TICKET = {
    "ticket": "TCK-4821",
    "subject": "Printer offline on floor 3",
    "priority": "high",
    "tags": ["hardware", "printing"],
}
TRANSCRIPT = [
    "the agent asked whether the printer on the third floor had been restarted since the update",
    "the caller said the queue showed four jobs stuck and the status light was blinking amber",
    "the agent walked through clearing the spooler and reinstalling the driver package",
    "after the restart the test page printed but the duplex setting was lost again",
    "the caller asked if the setting could be locked for the whole department",
    "the agent explained that a policy change needs approval from the workplace team",
    "they agreed to open a change request and to check the firmware version next week",
    "the caller also mentioned that the scanner emails arrive late in the afternoon",
    "the agent noted the delay and linked it to the known mail relay incident",
    "the call ended with the ticket set to pending and a follow up planned",
]


@case(BENIGN, None, HTTP)
def benign_json_ticket(s: Secret) -> Made:
    """A JSON ticket."""
    return post_json("/v1/tickets", TICKET)


@case(BENIGN, None, REVERSE)
def benign_form_post(s: Secret) -> Made:
    """A form post."""
    return post("/v1/feedback", "rating=4&comment=quick+fix%2C+thanks&page=help-center", FORM)


@case(BENIGN, None, HTTPS)
def benign_csv_export(s: Secret) -> Made:
    """A CSV export."""
    rows = (
        "ticket,status,priority\nTCK-4821,open,high\nTCK-4822,pending,low\nTCK-4823,closed,medium\n"
    )
    return post("/v1/import", rows, (("Content-Type", "text/csv"),))


@case(BENIGN, None, HTTP)
def benign_xml(s: Secret) -> Made:
    """An XML order."""
    doc = (
        '<?xml version="1.0"?><order id="PO-7731"><item sku="KB-204" qty="2"/>'
        '<item sku="MS-118" qty="1"/><status>shipped</status></order>'
    )
    return post("/v1/orders", doc, (("Content-Type", "application/xml"),))


@case(BENIGN, None, REVERSE)
def benign_multipart_png(s: Secret) -> Made:
    """A multipart upload with a PNG screenshot (no text chunks)."""
    disposition = ("Content-Disposition", 'form-data; name="shot"; filename="screen.png"')
    shot = ((disposition, ("Content-Type", "image/png")), png())
    return post_multipart("/v1/forms", [form_part("note", "the error dialog"), shot])


@case(BENIGN, None, HTTPS)
def benign_jpeg(s: Secret) -> Made:
    """A plain JPEG."""
    return post("/v1/attachments", jpeg(), (("Content-Type", "image/jpeg"),))


@case(BENIGN, None, TUNNEL, script=WS, delivered=got_frames(TEXT))
def benign_websocket_chat(s: Secret) -> Made:
    """A WebSocket chat message."""
    message = json.dumps({"type": "message", "text": "is the export finished yet?"})
    return ws((ws_frame(TEXT, message.encode()),))


@case(BENIGN, None, HTTP, direction="response")
def benign_sse_response(s: Secret) -> Made:
    """An SSE response."""
    events = ['{"status": "queued"}', '{"status": "running", "progress": 40}', '{"status": "done"}']
    return get("/v1/jobs/J-77/events"), Script(reply=sse(events))


@case(BENIGN, None, REVERSE, direction="response")
def benign_json_response(s: Secret) -> Made:
    """A JSON response."""
    return get("/v1/tickets/TCK-4821"), reply_json(TICKET)


@case(BENIGN, None, H2)
def benign_h2_json(s: Secret) -> Made:
    """JSON over HTTP/2."""
    headers = (("content-type", "application/json"),)
    return H2Request("POST", "/v1/tickets", headers, json.dumps(TICKET).encode())


@case(BENIGN, None, HTTP)
def benign_cookies(s: Secret) -> Made:
    """Ordinary cookies and a session id."""
    return get("/v1/dashboard", (("Cookie", "sessionid=9f8e7d6c5b4a3f2e1d0c; theme=dark"),))


@case(BENIGN, None, HTTPS)
def benign_bearer_jwt(s: Secret) -> Made:
    """A bearer JWT without PII."""
    claims = {
        "sub": "svc-reporting",
        "scope": "tickets:read",
        "iss": "https://auth.acme.example",
        "iat": 1767225600,
        "exp": 1767229200,
    }
    return get("/v1/reports", (("Authorization", f"Bearer {jwt(claims)}"),))


@case(BENIGN, None, REVERSE)
def benign_basic_auth(s: Secret) -> Made:
    """Basic auth with an ordinary user:password."""
    return get("/v1/reports", (("Authorization", "Basic " + b64("svc-reports:Blue-Harbor-7")),))


@case(BENIGN, None, HTTP)
def benign_search_query(s: Secret) -> Made:
    """A search query."""
    return get("/v1/search?q=printer+offline&sort=recent&page=2")


@case(BENIGN, None, HTTPS)
def benign_long_transcript(s: Secret) -> Made:
    """A long call transcript without PII."""
    text = ". ".join(TRANSCRIPT * 6) + "."
    return post_json("/v1/tickets", {"ticket": "TCK-4822", "channel": "phone", "transcript": text})


@case(BENIGN, None, HTTP)
def benign_chunked_upload(s: Secret) -> Made:
    """A chunked JSON upload without trailers."""
    chunks = (Chunk(b'{"upload": "batch-7", '), Chunk(b'"rows": 3}'))
    return Http1(HttpRequest("POST", "/v1/upload", (*UA, *JSON), chunks=chunks))


# --- realistic traffic that looks a little like what the attacks hide -------------------------

ORDER_TICKET = {
    "ticket": "TCK-4930",
    "subject": "Where is my order?",
    "order_id": "482913756",  # nine digits, shaped like an SSN: an order number all the same
    "channel": "email",
    "priority": "normal",
}
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
# Lookalikes a correct gateway lets through, by control: numbers shaped like a secret in a
# field or header that says what they really are (tests/bench/bypass/test_controls.py).
LOOKALIKES: dict[str, tuple[str, ...]] = {"benign_ticket_order_id": ("482913756",)}


@case(BENIGN, None, HTTP)
def benign_ticket_order_id(s: Secret) -> Made:
    """A ticket with a nine-digit order number in order_id."""
    return post_json("/v1/tickets", ORDER_TICKET)


@case(BENIGN, None, HTTPS)
def benign_product_csv(s: Secret) -> Made:
    """A CSV export of products: SKUs, names, prices, stock."""
    rows = [
        "sku,name,price_usd,stock,weight_g",
        "KB-204,Wireless keyboard,49.99,132,612",
        "MS-118,Optical mouse,19.90,540,95",
        "HD-7731,USB-C hub 7-in-1,34.50,88,140",
        "CB-0042,Cable HDMI 2m,7.25,1204,180",
        "MN-2701,Monitor 27in 1440p,289.00,17,6200",
    ]
    return post("/v1/catalog/import", "\n".join(rows) + "\n", (("Content-Type", "text/csv"),))


@case(BENIGN, None, REVERSE)
def benign_split_dates(s: Secret) -> Made:
    """Timestamps and a date in split fields (year, month, day, hour, minute)."""
    doc = {
        "event": "shift_start",
        "year": 2026,
        "month": 1,
        "day": 15,
        "hour": 9,
        "minute": 30,
        "timezone": "America/Chicago",
        "created_at": "2026-01-15T15:30:00Z",
        "epoch": 1768491000,
    }
    return post_json("/v1/schedule", doc)


@case(BENIGN, None, HTTP)
def benign_phone_extensions(s: Secret) -> Made:
    """A PBX configuration with extension numbers."""
    config = {
        "site": "chicago-3",
        "dial_prefix": "9",
        "extensions": {"helpdesk": "4417", "billing": "4420", "night": "4499"},
        "hunt_groups": [{"name": "support", "members": ["4417", "4418", "4419"], "ring_s": 20}],
        "voicemail_pin_length": 6,
    }
    return post_json("/v1/pbx/config", config)


@case(BENIGN, None, HTTPS)
def benign_uuids_and_hashes(s: Secret) -> Made:
    """UUIDs, a SHA-256, an MD5 and a git commit id."""
    doc = {
        "request_id": "f1d4a101-4645-4da7-858f-5276f9291500",
        "tenant": "8ca7bac4-31eb-4063-bd4d-1e1463d1ef07",
        "sha256": "1b1db50786897bad4ab21c501a72b433df85cb9cb0ad0b59d1266303788690b0",
        "md5": "4a301072dec6b6a49050e5b294cd7983",
        "commit": "4015b57a143aec5156fd1444a017a32137a3fd0f",
    }
    return post_json("/v1/artifacts", doc)


@case(BENIGN, None, REVERSE)
def benign_jwt_agent(s: Secret) -> Made:
    """A bearer JWT with ordinary claims (sub agent-417)."""
    claims = {
        "sub": "agent-417",
        "name": "Helpdesk Agent",
        "roles": ["tickets:write", "kb:read"],
        "iss": "https://sso.acme.example",
        "aud": "vendor-api",
        "iat": 1767225600,
        "exp": 1767229200,
    }
    return get("/v1/tickets?assigned=me", (("Authorization", f"Bearer {jwt(claims)}"),))


@case(BENIGN, None, HTTP)
def benign_session_cookies(s: Secret) -> Made:
    """A session id and a CSRF token (random base64) in cookies and a header."""
    cookie = (
        "sessionid=aq1Y7o749ZjfVSLNShmfz9RLGbl083cU; "
        "csrftoken=uKc_CqIpj74xA05jLos0SS8ho6msnUHnv4i6C21CgFk; theme=dark"
    )
    headers = (("Cookie", cookie), ("X-CSRF-Token", "uKc_CqIpj74xA05jLos0SS8ho6msnUHnv4i6C21CgFk"))
    return post_json("/v1/tickets/TCK-4821/comments", {"text": "restarted the spooler"}, headers)


@case(BENIGN, None, HTTPS)
def benign_etag(s: Secret) -> Made:
    """If-None-Match with real-looking entity tags."""
    tags = '"33a64df551425fcc55e4d42a148795d9f25f89d4", W/"5e15153d-120f"'
    return get("/v1/kb/articles/printing", (("If-None-Match", tags),))


@case(BENIGN, None, HTTP)
def benign_trace_context(s: Secret) -> Made:
    """W3C traceparent and tracestate with real-looking ids."""
    headers = (
        ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        ("tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
    )
    return get("/v1/status", headers)


@case(BENIGN, None, REVERSE)
def benign_accept_language(s: Secret) -> Made:
    """Accept-Language: en-US,en;q=0.9."""
    return get("/v1/kb/articles", (("Accept-Language", "en-US,en;q=0.9"),))


@case(BENIGN, None, HTTPS)
def benign_chrome_headers(s: Secret) -> Made:
    """A Chrome User-Agent with its client hints and usual headers."""
    headers = (
        ("User-Agent", CHROME),
        ("sec-ch-ua", '"Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24"'),
        ("sec-ch-ua-mobile", "?0"),
        ("sec-ch-ua-platform", '"Windows"'),
        ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        ("Accept-Encoding", "gzip, deflate, br, zstd"),
        ("Upgrade-Insecure-Requests", "1"),
    )
    return Http1(HttpRequest("GET", "/portal/dashboard", headers))


@case(BENIGN, None, HTTP)
def benign_referer_ticket(s: Secret) -> Made:
    """A Referer to an internal ticket URL."""
    referer = "https://helpdesk.acme.example/tickets/TCK-4821?tab=history#comment-12"
    return get("/v1/tickets/TCK-4821/attachments", (("Referer", referer),))


@case(BENIGN, None, H2)
def benign_h2_get_query(s: Secret) -> Made:
    """An HTTP/2 GET with ?page=2&sort=desc."""
    return H2Request("GET", "/v1/tickets?page=2&sort=desc", (("accept", "application/json"),))


@case(BENIGN, None, TUNNEL, script=WS, delivered=got_frames(TEXT))
def benign_websocket_ping_close(s: Secret) -> Made:
    """A WebSocket chat, an empty ping, a close 1000 with reason bye."""
    message = json.dumps({"type": "message", "text": "thanks, that fixed it"}).encode()
    frames = (ws_frame(TEXT, message), ws_frame(PING, b""), ws_frame(CLOSE, b"\x03\xe8bye"))
    return ws(frames)


@case(BENIGN, None, HTTPS, direction="response")
def benign_sse_orders(s: Secret) -> Made:
    """An SSE response with order updates."""
    events = [
        '{"order": "PO-7731", "status": "packed", "at": "2026-01-15T09:02:11Z"}',
        '{"order": "PO-7731", "status": "shipped", "carrier": "UPS", "eta_days": 2}',
        '{"order": "PO-7732", "status": "cancelled", "refund_usd": 34.50}',
    ]
    return get("/v1/orders/events"), Script(reply=sse(events))


@case(BENIGN, None, HTTP)
def benign_jpeg_exif(s: Secret) -> Made:
    """A JPEG photo with ordinary EXIF (make, model, software, date taken)."""
    exif = exif_segment(
        make="Canon",
        model="Canon EOS R6",
        software="Adobe Lightroom 7.1",
        date_taken="2025:11:03 14:22:07",
    )
    return post("/v1/attachments", jpeg((exif,)), (("Content-Type", "image/jpeg"),))


@case(BENIGN, None, REVERSE)
def benign_png_software(s: Secret) -> Made:
    """A PNG with a Software tEXt chunk."""
    shot = png((png_chunk(b"tEXt", b"Software\x00GIMP 2.10.38"),))
    return post("/v1/attachments", shot, (("Content-Type", "image/png"),))


@case(BENIGN, None, HTTPS)
def benign_multipart_csv(s: Secret) -> Made:
    """A multipart upload of a clean CSV."""
    csv = b"ticket,status,priority\nTCK-4821,open,high\nTCK-4822,pending,low\n"
    disposition = ("Content-Disposition", 'form-data; name="file"; filename="tickets.csv"')
    part = ((disposition, ("Content-Type", "text/csv")), csv)
    return post_multipart("/v1/imports", [form_part("kind", "tickets"), part])


@case(BENIGN, None, HTTPS)
def benign_propfind(s: Secret) -> Made:
    """A WebDAV PROPFIND asking for ordinary properties."""
    body = (
        '<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop>'
        "<D:displayname/><D:getlastmodified/><D:getcontentlength/></D:prop></D:propfind>"
    )
    headers = (*UA, ("Depth", "1"), ("Content-Type", "application/xml; charset=utf-8"))
    return Http1(HttpRequest("PROPFIND", "/dav/kb/", headers, body.encode()))


@case(BENIGN, None, HTTP)
def benign_gzip_json(s: Secret) -> Made:
    """A gzip-encoded JSON ticket."""
    body = gzip.compress(json.dumps(TICKET).encode(), mtime=0)
    return post("/v1/tickets", body, (*JSON, ("Content-Encoding", "gzip")))


@case(BENIGN, None, REVERSE)
def benign_ndjson_logs(s: Secret) -> Made:
    """300 NDJSON log events with latencies and hex request ids."""
    lines = [
        json.dumps({"level": "info", "msg": "GET /kb", "ms": i % 250, "rid": f"{i * 7919:08x}"})
        for i in range(300)
    ]
    return post("/v1/logs", "\n".join(lines) + "\n", (("Content-Type", "application/x-ndjson"),))


@case(BENIGN, None, HTTP)
def benign_soap_order(s: Secret) -> Made:
    """A SOAP request for an order's status."""
    doc = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        '<GetOrderStatus xmlns="urn:acme:orders"><OrderId>PO-7731</OrderId></GetOrderStatus>'
        "</soap:Body></soap:Envelope>"
    )
    headers = (("Content-Type", "text/xml; charset=utf-8"), ("SOAPAction", '"urn:acme:status"'))
    return post("/v1/soap", doc, headers)


@case(BENIGN, None, REVERSE)
def benign_form_utf8(s: Secret) -> Made:
    """A utf-8 form with percent-encoded accents."""
    body = "comment=caf%C3%A9+printer+is+back&rating=5&lang=fr-CA"
    ctype = (("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),)
    return post("/v1/feedback", body, ctype)


@case(BENIGN, None, HTTPS)
def benign_range_request(s: Secret) -> Made:
    """A ranged GET of an export (Range: bytes=0-1023)."""
    return get("/v1/files/export.csv", (("Range", "bytes=0-1023"),))


@case(BENIGN, None, HTTP)
def benign_expect_continue(s: Secret) -> Made:
    """A JSON POST with Expect: 100-continue."""
    return post_json("/v1/tickets", TICKET, (("Expect", "100-continue"),))


@case(BENIGN, None, H2)
def benign_graphql(s: Secret) -> Made:
    """A GraphQL query over HTTP/2."""
    query = {
        "query": "query Tickets($first: Int!, $after: String) { tickets(first: $first, "
        "after: $after) { id subject status } }",
        "variables": {"first": 20, "after": "Y3Vyc29yOjQw"},
    }
    headers = (("content-type", "application/json"),)
    return H2Request("POST", "/graphql", headers, json.dumps(query).encode())


@case(BENIGN, None, TUNNEL, script=WS, delivered=got_frames(BINARY))
def benign_websocket_binary(s: Secret) -> Made:
    """A small binary (MessagePack) WebSocket message."""
    packed = b"\x83\xa4type\xa6typing\xa4user\xa9agent-417\xa2on\xc3"
    return ws((ws_frame(BINARY, packed),))


@case(BENIGN, None, REVERSE, direction="response")
def benign_order_response(s: Secret) -> Made:
    """A JSON response with order numbers and amounts."""
    orders = {
        "orders": [
            {"id": "PO-7731", "total_usd": 289.0, "items": 3, "placed": "2026-01-12"},
            {"id": "PO-7732", "total_usd": 34.5, "items": 1, "placed": "2026-01-14"},
        ],
        "next": None,
    }
    return get("/v1/orders?status=open"), reply_json(orders)
