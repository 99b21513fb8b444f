"""The benign controls: realistic vendor traffic without PII, which must pass unchanged.

A control is a false block when it does not get through (or the client does not get the
vendor's answer), a false change when the vendor gets other bytes than were sent.
"""

from __future__ import annotations

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
from bench.bypass.images import jpeg, png
from bench.bypass.pii import Secret
from bench.bypass.vendor import Script
from bench.bypass.wire import TEXT, Chunk, HttpRequest, ws_frame

__all__ = ["CATALOG"]

CATALOG = Catalog()
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
