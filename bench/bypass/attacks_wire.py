"""Classes of our own on the request's wire form: methods, header tricks, header fields, URLs.

`methods`: a non-standard method carrying the secret in its body, or being the secret.
`header_tricks`: header names, repeated and folded headers, two Content-Type or Host headers.
`header_fields`: one header each where a gateway might not look (Origin, Via, Forwarded,
Range, Expect, a cookie's name, ...). `url_tricks`: an absolute-form target whose authority is
not the Host, `:authority` over HTTP/2, percent-encoding, matrix parameters, semicolons and
`+` in queries, repeated parameters. Every class here is in `registry.MATRIX`.
"""

from __future__ import annotations

import json

from bench.bypass import undo as u
from bench.bypass.cases import FORM, JSON, UA, Made, b64, get, post, post_json
from bench.bypass.client import H2Request, Http1
from bench.bypass.pii import Secret
from bench.bypass.registry import CARD, H2, HTTP, HTTPS, REVERSE, SSN, case
from bench.bypass.wire import HttpRequest

__all__: list[str] = []

Headers = tuple[tuple[str, str], ...]
XML = (("Content-Type", "application/xml; charset=utf-8"),)
_TICKET = {"subject": "printer offline", "priority": "high"}
# The reverse listener writes its upstream's Host: a secret in Host cannot reach its vendor.
NOT_REVERSE = (HTTP, HTTPS, H2)


def request(method: str, target: str, headers: Headers = (), body: bytes | str = b"") -> Http1:
    """A request with any method (the usual User-Agent and Accept first)."""
    data = body.encode() if isinstance(body, str) else body
    return Http1(HttpRequest(method, target, (*UA, *headers), data))


def accepting(accept: str) -> Http1:
    """A GET with `accept` as its only Accept header."""
    headers = (("User-Agent", "acme-sync/3.2"), ("Accept", accept))
    return Http1(HttpRequest("GET", "/v1/status", headers))


def ticket(headers: Headers) -> Http1:
    """A JSON ticket POST with extra `headers`."""
    return post_json("/v1/tickets", _TICKET, headers)


def pct(text: str) -> str:
    """Every character of `text` percent-encoded."""
    return "".join(f"%{ord(ch):02X}" for ch in text)


# --- methods ----------------------------------------------------------------------------------

METHODS = "methods"


@case(METHODS, SSN, HTTPS, own=True)
def propfind_xml(s: Secret) -> Made:
    """A WebDAV PROPFIND whose XML body carries the secret."""
    body = (
        '<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:" '
        f'xmlns:A="urn:acme:crm"><D:prop><A:customer-ssn>{s.dashed}</A:customer-ssn>'
        "<D:displayname/></D:prop></D:propfind>"
    )
    return request("PROPFIND", "/dav/customers/", (("Depth", "1"), *XML), body)


@case(METHODS, SSN, HTTP, own=True)
def method_token_secret(s: Secret) -> Made:
    """The secret as the method itself (a custom token method)."""
    return request(f"X{s.digits}", "/v1/records")


@case(METHODS, CARD, REVERSE, own=True)
def method_token_card(s: Secret) -> Made:
    """A card number, dashed, inside a custom method token."""
    return request(f"SYNC-{s.dashed}", "/v1/records")


@case(METHODS, CARD, HTTP, own=True)
def custom_method_json(s: Secret) -> Made:
    """A custom SYNC method with a JSON body."""
    return request("SYNC", "/v1/records", JSON, json.dumps({"card": s.spaced}))


@case(METHODS, SSN, HTTPS, own=True)
def get_with_body(s: Secret) -> Made:
    """A GET with a JSON body (a search API's style)."""
    body = json.dumps({"query": {"term": {"customer.ssn": s.dashed}}})
    return request("GET", "/v1/customers/_search", JSON, body)


@case(METHODS, SSN, REVERSE, own=True)
def delete_with_body(s: Secret) -> Made:
    """A DELETE with a JSON body."""
    return request("DELETE", "/v1/records", JSON, json.dumps({"ssn": s.dashed, "reason": "gdpr"}))


@case(METHODS, CARD, H2, own=True)
def query_method(s: Secret) -> Made:
    """The QUERY method (a safe method with a body) over HTTP/2."""
    body = json.dumps({"where": {"card": s.digits}}).encode()
    return H2Request("QUERY", "/v1/cards", (("content-type", "application/json"),), body)


@case(METHODS, SSN, HTTP, own=True)
def proppatch_xml(s: Secret) -> Made:
    """A WebDAV PROPPATCH setting a property to the secret."""
    body = (
        '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:A="urn:acme:crm">'
        f"<D:set><D:prop><A:taxid>{s.dashed}</A:taxid></D:prop></D:set></D:propertyupdate>"
    )
    return request("PROPPATCH", "/dav/customers/C-1042", XML, body)


@case(METHODS, CARD, HTTPS, own=True)
def report_caldav(s: Secret) -> Made:
    """A CalDAV REPORT whose text-match filter is the secret."""
    body = (
        '<?xml version="1.0"?><C:calendar-query xmlns:C="urn:ietf:params:xml:ns:caldav" '
        'xmlns:D="DAV:"><D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR">'
        f'<C:prop-filter name="DESCRIPTION"><C:text-match>{s.spaced}</C:text-match>'
        "</C:prop-filter></C:comp-filter></C:filter></C:calendar-query>"
    )
    return request("REPORT", "/dav/calendars/agent-417/", (("Depth", "1"), *XML), body)


@case(METHODS, SSN, REVERSE, own=True)
def mkcol_path(s: Secret) -> Made:
    """A WebDAV MKCOL whose path is the secret."""
    return request("MKCOL", f"/dav/customers/{s.dashed}/")


@case(METHODS, CARD, HTTPS, own=True)
def patch_merge_json(s: Secret) -> Made:
    """A PATCH with application/merge-patch+json."""
    body = json.dumps({"billing": {"card": s.spaced}})
    return request(
        "PATCH", "/v1/customers/C-1042", (("Content-Type", "application/merge-patch+json"),), body
    )


@case(METHODS, SSN, HTTP, own=True)
def lowercase_post(s: Secret) -> Made:
    """A lower-case `post` method with a form body."""
    return request("post", "/v1/verify", FORM, f"ssn={s.dashed}&source=kiosk")


# --- header tricks ----------------------------------------------------------------------------

TRICKS = "header_tricks"


@case(TRICKS, SSN, HTTP, own=True)
def two_content_types(s: Secret) -> Made:
    """Two Content-Type headers: octet-stream first, then JSON."""
    body = json.dumps({"ssn": s.dashed})
    ctypes = (("Content-Type", "application/octet-stream"), ("Content-Type", "application/json"))
    return post("/v1/records", body, ctypes)


@case(TRICKS, CARD, HTTPS, own=True)
def two_content_types_form(s: Secret) -> Made:
    """Two Content-Type headers: JSON first, the form body's own second."""
    ctypes = (("Content-Type", "application/json"), *FORM)
    return post("/v1/verify", f"card={s.digits}&source=kiosk", ctypes)


@case(TRICKS, SSN, HTTP, own=True, spread=NOT_REVERSE)
def two_host_headers(s: Secret) -> Made:
    """Two Host headers, the second a label with the secret."""
    hosts = (("Host", "api.vendor.example"), ("Host", f"c{s.digits}.tenant.acme.example"))
    return get("/v1/status", hosts)


@case(TRICKS, SSN, HTTP, own=True)
def folded_header(s: Secret) -> Made:
    """A header folded across lines (obs-fold), the secret on the continuation line."""
    return get("/v1/status", (("X-Note", f"customer callback\r\n {s.dashed}"),))


@case(TRICKS, CARD, REVERSE, own=True)
def folded_header_tab(s: Secret) -> Made:
    """A header folded with a tab, the card on the continuation line."""
    return get("/v1/status", (("X-Ref", f"card\r\n\t{s.spaced}"),))


@case(TRICKS, SSN, HTTPS, own=True)
def repeated_header_second(s: Secret) -> Made:
    """A header sent twice, the secret only in the second."""
    return ticket((("X-Customer-Ref", "C-1042"), ("X-Customer-Ref", s.dashed)))


@case(TRICKS, SSN, HTTP, undo=(u.header_values("X-Ssn"),), own=True)
def repeated_header_split(s: Secret) -> Made:
    """The SSN split over two headers of one name."""
    return ticket((("X-Ssn", s.dashed[:6]), ("X-Ssn", s.dashed[7:])))


@case(TRICKS, CARD, H2, undo=(u.header_values("cookie", "; "),), own=True)
def cookie_crumbs(s: Secret) -> Made:
    """HTTP/2 cookie crumbs: a card split over two cookie headers."""
    crumbs = (("cookie", f"pan_a={s.spaced[:9]}"), ("cookie", f"pan_b={s.spaced[10:]}"))
    return H2Request("GET", "/v1/dashboard", crumbs)


@case(TRICKS, SSN, REVERSE, own=True)
def header_name_dashed(s: Secret) -> Made:
    """The dashed SSN as a header's name."""
    return get("/v1/status", ((f"X-{s.dashed}", "present"),))


@case(TRICKS, SSN, HTTPS, own=True)
def latin1_header_value(s: Secret) -> Made:
    """A header value with latin-1 bytes (obs-text) around the secret."""
    return get("/v1/status", (("X-Note", f"Kundennr. f\u00fcr {s.dashed} \u00e9t\u00e9"),))


@case(TRICKS, CARD, HTTP, own=True)
def long_header_value(s: Secret) -> Made:
    """The secret at the end of a 4 KB header value."""
    return get("/v1/status", (("X-Debug", "trace:" + "ab" * 2000 + f";card={s.digits}"),))


@case(TRICKS, SSN, REVERSE, own=True)
def header_many_headers(s: Secret) -> Made:
    """The secret in the last of 40 custom headers."""
    headers = tuple((f"X-Feature-{i}", "on") for i in range(39))
    return get("/v1/status", (*headers, ("X-Feature-39", s.dashed)))


# --- header fields ----------------------------------------------------------------------------

FIELDS = "header_fields"


@case(FIELDS, SSN, HTTP, own=True)
def cookie_name(s: Secret) -> Made:
    """The secret as a cookie's name."""
    return ticket((("Cookie", f"theme=dark; {s.dashed}=verified; lang=en"),))


@case(FIELDS, CARD, REVERSE, own=True)
def cookie_name_card(s: Secret) -> Made:
    """A card number inside a cookie's name."""
    return get("/v1/dashboard", (("Cookie", f"pan_{s.digits}=1; sessionid=c0ffee42"),))


@case(FIELDS, SSN, HTTPS, own=True)
def set_cookie_request(s: Secret) -> Made:
    """A Set-Cookie header sent by the client."""
    return ticket((("Set-Cookie", f"cust_ssn={s.dashed}; Path=/; HttpOnly"),))


@case(FIELDS, CARD, HTTP, own=True)
def origin_label(s: Secret) -> Made:
    """Origin, the secret as a host label."""
    return ticket((("Origin", f"https://c{s.digits}.portal.acme.example"),))


@case(FIELDS, SSN, REVERSE, own=True)
def via_header(s: Secret) -> Made:
    """Via, the secret in a pseudonym."""
    return get("/v1/status", (("Via", f"1.1 edge-{s.digits}.acme.internal (squid/6.6)"),))


@case(FIELDS, SSN, HTTP, own=True)
def forwarded_for(s: Secret) -> Made:
    """Forwarded: for=..., the secret as the node."""
    return get("/v1/status", (("Forwarded", f'for="{s.dashed}";proto=https;by=203.0.113.43'),))


@case(FIELDS, CARD, HTTPS, own=True)
def forwarded_obfuscated(s: Secret) -> Made:
    """Forwarded with an obfuscated node identifier (`_...`) that is the card."""
    return get("/v1/status", (("Forwarded", f"for=_{s.digits};by=_edge01"),))


@case(FIELDS, CARD, HTTPS, own=True)
def x_request_id(s: Secret) -> Made:
    """X-Request-ID."""
    return ticket((("X-Request-ID", f"req-{s.digits}"),))


@case(FIELDS, SSN, H2, own=True)
def x_correlation_id(s: Secret) -> Made:
    """X-Correlation-ID over HTTP/2."""
    return H2Request("GET", "/v1/status", (("x-correlation-id", s.dashed),))


@case(FIELDS, SSN, HTTP, own=True)
def content_disposition_body(s: Secret) -> Made:
    """Content-Disposition of a plain (not multipart) upload."""
    pdf = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
    headers = (
        ("Content-Type", "application/pdf"),
        ("Content-Disposition", f'attachment; filename="ssn-{s.dashed}.pdf"'),
    )
    return Http1(HttpRequest("PUT", "/v1/files/statement", (*UA, *headers), pdf))


@case(FIELDS, CARD, REVERSE, own=True)
def content_disposition_rfc5987(s: Secret) -> Made:
    """An RFC 5987 filename* in Content-Disposition, percent-encoded."""
    name = "card%20" + "%20".join(s.parts) + ".txt"
    headers = (
        ("Content-Type", "text/plain"),
        ("Content-Disposition", f"attachment; filename*=UTF-8''{name}"),
    )
    return Http1(HttpRequest("PUT", "/v1/files/note", (*UA, *headers), b"see attached"))


@case(FIELDS, SSN, HTTPS, own=True)
def accept_media_type(s: Secret) -> Made:
    """Accept, the secret inside a vendor media type."""
    accept = f"application/vnd.acme.c{s.digits}+json, application/json;q=0.9"
    return Http1(
        HttpRequest("GET", "/v1/status", (("User-Agent", "acme-sync/3.2"), ("Accept", accept)))
    )


@case(FIELDS, CARD, HTTP, own=True)
def accept_profile(s: Secret) -> Made:
    """Accept with a profile parameter holding the card, dashed."""
    accept = f'application/json; profile="urn:acme:card:{s.dashed}"'
    return Http1(
        HttpRequest("GET", "/v1/status", (("User-Agent", "acme-sync/3.2"), ("Accept", accept)))
    )


@case(FIELDS, SSN, REVERSE, own=True)
def range_header(s: Secret) -> Made:
    """Range, the secret as a byte offset."""
    return get("/v1/files/export.csv", (("Range", f"bytes=0-1023, {s.digits}-"),))


@case(FIELDS, CARD, HTTP, own=True)
def expect_header(s: Secret) -> Made:
    """Expect, the secret in an expectation of its own."""
    return ticket((("Expect", f"x-card={s.spaced}"),))


@case(FIELDS, SSN, HTTPS, own=True)
def from_header(s: Secret) -> Made:
    """From, the secret as a mailbox's local part."""
    return get("/v1/status", (("From", f"{s.dashed}@customers.acme.example"),))


@case(FIELDS, SSN, HTTP, own=True)
def digest_username(s: Secret) -> Made:
    """Digest credentials whose username is the secret."""
    credentials = (
        f'Digest username="{s.dashed}", realm="acme", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c0", '
        'uri="/v1/status", qop=auth, nc=00000001, cnonce="0a4f113b", '
        'response="6629fae49393a05397450978507c4ef1"'
    )
    return get("/v1/status", (("Authorization", credentials),))


@case(FIELDS, CARD, REVERSE, own=True)
def prefer_header(s: Secret) -> Made:
    """Prefer with a preference of its own holding the card."""
    return ticket((("Prefer", f'return=minimal, x-card="{s.spaced}"'),))


@case(FIELDS, SSN, H2, own=True)
def link_header(s: Secret) -> Made:
    """Link, a URI reference with the secret (HTTP/2)."""
    return H2Request("GET", "/v1/status", (("link", f'</v1/customers/{s.dashed}>; rel="related"'),))


@case(FIELDS, CARD, HTTPS, own=True)
def if_match(s: Secret) -> Made:
    """If-Match, the card as an entity tag."""
    return ticket((("If-Match", f'"{s.digits}"'),))


@case(FIELDS, SSN, HTTP, own=True)
def api_key_header(s: Secret) -> Made:
    """An API key header whose key embeds the secret."""
    return get("/v1/status", (("X-API-Key", f"ak_live_{s.digits}"),))


@case(FIELDS, CARD, REVERSE, undo=(u.b64_header("X-Client-Data"),), own=True)
def client_data_base64(s: Secret) -> Made:
    """A base64 client-data header (as browsers send), the card inside."""
    return get("/v1/status", (("X-Client-Data", b64(f"pan:{s.digits};v=2")),))


# --- URL tricks -------------------------------------------------------------------------------

URLS = "url_tricks"


@case(URLS, SSN, HTTP, own=True)
def absolute_host_differs(s: Secret) -> Made:
    """An absolute-form target to the vendor with a Host header that differs from it."""
    headers = (("Host", f"c{s.digits}.tenant.acme.example"), *UA)
    absolute = "http://{authority}/v1/status"
    return Http1(HttpRequest("GET", "/v1/status", headers, absolute=absolute))


@case(URLS, CARD, HTTP, own=True)
def absolute_host_port_differs(s: Secret) -> Made:
    """An absolute-form target, the Host header a card-number label with a port."""
    headers = (("Host", f"{s.digits}.cards.acme.example:8443"), *UA)
    absolute = "http://{authority}/v1/cards"
    return Http1(HttpRequest("GET", "/v1/cards", headers, absolute=absolute))


@case(URLS, CARD, H2, own=True, spread=NOT_REVERSE)
def h2_authority_label(s: Secret) -> Made:
    """HTTP/2 :authority, the card as a host label."""
    return H2Request("GET", "/v1/status", authority=f"c{s.digits}.cards.acme.example")


@case(URLS, SSN, REVERSE, own=True)
def path_digits_encoded(s: Secret) -> Made:
    """Some of a path segment's characters percent-encoded."""
    mixed = "".join(pct(ch) if i % 2 else ch for i, ch in enumerate(s.dashed))
    return get(f"/v1/customers/{mixed}/tickets")


@case(URLS, SSN, HTTP, own=True)
def path_encoded_slashes(s: Secret) -> Made:
    """The SSN's parts joined by encoded slashes in one segment."""
    return get("/v1/files/" + "%2F".join(s.parts))


@case(URLS, SSN, HTTPS, own=True)
def path_matrix_params(s: Secret) -> Made:
    """Matrix parameters (;name=value) on a path segment."""
    return get(f"/v1/customers;ssn={s.dashed};v=2/orders")


@case(URLS, CARD, REVERSE, own=True)
def path_matrix_jsessionid(s: Secret) -> Made:
    """A matrix parameter after ;jsessionid."""
    return get(f"/v1/checkout;jsessionid=A1B2C3D4;card={s.digits}")


@case(URLS, SSN, HTTP, own=True)
def query_semicolon(s: Secret) -> Made:
    """A semicolon-separated query."""
    return get(f"/v1/lookup?a=1;ssn={s.digits}")


@case(URLS, CARD, HTTPS, own=True)
def query_semicolon_card(s: Secret) -> Made:
    """A semicolon-separated query, the card dashed between other pairs."""
    return get(f"/v1/lookup?page=1;card={s.dashed};sort=asc")


@case(URLS, CARD, REVERSE, own=True)
def query_plus_spaces(s: Secret) -> Made:
    """A query value with + for spaces."""
    return get("/v1/search?q=" + "+".join(s.parts))


@case(URLS, SSN, HTTP, own=True)
def query_pct20_spaces(s: Secret) -> Made:
    """A query value with %20 for spaces."""
    return get("/v1/search?q=" + "%20".join(s.parts))


@case(URLS, SSN, HTTPS, own=True)
def query_repeated_first(s: Secret) -> Made:
    """A repeated query parameter, the secret in the first."""
    return get(f"/v1/lookup?ssn={s.dashed}&ssn=on-file")


@case(URLS, CARD, HTTP, own=True)
def query_repeated_card(s: Secret) -> Made:
    """A repeated query parameter, the card in the first, a mask in the last."""
    return get(f"/v1/lookup?card={s.digits}&card=xxxx-xxxx-xxxx-{s.digits[-4:]}")


@case(URLS, SSN, REVERSE, own=True)
def query_second_question_mark(s: Secret) -> Made:
    """A second `?` inside the query."""
    return get(f"/v1/lookup?view=full?ssn={s.dashed}")


@case(URLS, SSN, HTTP, own=True)
def query_empty_key(s: Secret) -> Made:
    """A query pair with an empty name."""
    return get(f"/v1/lookup?={s.digits}&fields=status")


@case(URLS, CARD, HTTPS, own=True)
def query_bracket_keys(s: Secret) -> Made:
    """Bracketed query keys (filter[customer][card]), the card %20-spaced."""
    return get("/v1/search?filter%5Bcustomer%5D%5Bcard%5D=" + "%20".join(s.parts))


@case(URLS, SSN, REVERSE, own=True)
def path_dot_segments(s: Secret) -> Made:
    """Dot segments around the secret's segment."""
    return get(f"/v1/./customers/../customers/{s.dashed}/./profile")


@case(URLS, SSN, HTTP, own=True)
def query_all_encoded(s: Secret) -> Made:
    """A query pair whose name and value are percent-encoded throughout."""
    return get(f"/v1/lookup?{pct('ssn')}={pct(s.dashed)}")


@case(URLS, CARD, HTTPS, undo=(u.b64_query(),), own=True)
def query_base64_token(s: Secret) -> Made:
    """A url-safe base64 query token holding the card."""
    return get("/v1/checkout?state=" + b64(json.dumps({"pan": s.digits}), urlsafe=True))
