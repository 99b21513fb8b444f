"""Every body format and disguise end to end: what the vendor gets holds no PII and still parses.

Each case goes through the reverse proxy (default.yaml) to the recording vendor. A forwarded
case passes when no PII value can be read back from what the vendor received, by the scorer of
`make eval` (`bench.score`: decompression, percent- and base64-decoding, NFKC, zero-width
characters dropped, numbers compared on their digits), and the document is still valid in its
format. A case with an SSN passes when the client got a 403 and the vendor got nothing.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import parse_qsl, quote, urlsplit

import httpx
import pytest
from mitmproxy.net.encoding import encode

from bench.cases import Label, Transfer
from bench.score import decompress, leaked, read
from tests.e2e.harness import CARD, EMAIL, SSN, Received, Vendor

CARD_DIGITS = CARD.replace(" ", "")
SSN_WRITTEN = f"{SSN[:3]}-{SSN[3:5]}-{SSN[5:]}"
BOUNDARY = "----e2eFormatsBoundary7MA4YWxk"


@dataclass(frozen=True)
class Sent:
    """One request as the test sends it: path suffix (after unique_path), headers, body."""

    method: str = "POST"
    suffix: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


# --- the PII, as labels the scorer reads back -------------------------------------------------


def card(written: str = CARD) -> Label:
    """The test card, written as `written`."""
    return Label("CREDIT_CARD", CARD_DIGITS, written)


def email(written: str = EMAIL) -> Label:
    """The test email, written as `written`."""
    return Label("EMAIL_ADDRESS", EMAIL, written)


SPLIT_CARD = Label("CREDIT_CARD", CARD_DIGITS, CARD, "split_card", (CARD[:9], CARD[10:]))


# --- requests ---------------------------------------------------------------------------------


def body(content_type: str, text: str | bytes, **headers: str) -> Sent:
    """A POST with `text` as body."""
    raw = text.encode() if isinstance(text, str) else text
    return Sent(headers={"Content-Type": content_type, **headers}, body=raw)


def json_body(value: object) -> Sent:
    """A POST of `value` as JSON."""
    return body("application/json", json.dumps(value, ensure_ascii=False))


def compressed(coding: str, value: object) -> Sent:
    """A POST of `value` as JSON compressed with `coding`."""
    raw = encode(json.dumps(value).encode(), coding)
    assert isinstance(raw, bytes)
    return body("application/json", raw, **{"Content-Encoding": coding})


def table(delimiter: str, rows: list[list[str]]) -> str:
    """CSV or TSV text."""
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def multipart(*parts: tuple[str, str, str, str]) -> Sent:
    """multipart/form-data of (name, filename, content type, content) parts."""
    chunks = []
    for name, filename, content_type, content in parts:
        head = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"'
        head += f'; filename="{filename}"\r\n' if filename else "\r\n"
        head += f"Content-Type: {content_type}\r\n" if content_type else ""
        chunks.append(f"{head}\r\n{content}\r\n")
    return body(
        f"multipart/form-data; boundary={BOUNDARY}", "".join(chunks) + f"--{BOUNDARY}--\r\n"
    )


def ticket_with(**fields: str) -> dict[str, str]:
    """A small flat ticket holding `fields`."""
    return {"ticket_id": "T-51001", **fields, "subject": "Refund request"}


def nested() -> dict[str, object]:
    """A nested ticket with the card and email two levels down."""
    return {
        "ticket": {"id": "T-51002", "customer": {"email": EMAIL, "payment": {"card": CARD}}},
        "tags": ["billing", {"note": f"Reach her at {EMAIL}"}],
    }


CSV_ROWS = [
    ["ticket_id", "email", "card_number", "subject"],
    ["T-51003", EMAIL, CARD, "Refund"],
    ["T-51004", "", "", "Login problem"],
    ["T-51005", EMAIL, CARD, "Card declined"],
]
XML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<tickets>\n  <ticket id="T-51006">\n'
    f"    <customer><email>{EMAIL}</email><card_number>{CARD}</card_number></customer>\n"
    f"    <notes>Card {CARD} was charged twice; confirm to {EMAIL}.</notes>\n"
    "  </ticket>\n</tickets>\n"
)
TEXT = f"Subject: Refund\nTicket: T-51007\n\nThe customer {EMAIL} paid with card {CARD} twice.\n"


def text(sentence: str) -> Sent:
    """A text/plain POST of one sentence."""
    return body("text/plain; charset=utf-8", f"Ticket T-51008.\n{sentence}\n")


def b64(value: str) -> str:
    """`value` in base64."""
    return base64.b64encode(value.encode()).decode()


def digits(value: str, zero: int) -> str:
    """`value` with its ASCII digits moved to the digit script whose zero is `zero`."""
    return "".join(chr(zero + int(c)) if c.isdigit() else c for c in value)


# --- validity of what the vendor received -----------------------------------------------------

Check = Callable[[Sent, Received, bytes], None]


def valid_json(sent: Sent, received: Received, plain: bytes) -> None:
    """The body is JSON with the same keys as sent."""
    before = json.loads(decompress(sent.body, sent.headers.get("Content-Encoding", "")))
    after = json.loads(plain)
    assert type(after) is type(before)
    if isinstance(before, dict):
        assert list(after) == list(before)


def valid_json_string(sent: Sent, received: Received, plain: bytes) -> None:
    """The body is JSON whose `payload` string is JSON with the same keys as sent."""
    valid_json(sent, received, plain)
    before = json.loads(json.loads(sent.body)["payload"])
    assert list(json.loads(json.loads(plain)["payload"])) == list(before)


def valid_ndjson(sent: Sent, received: Received, plain: bytes) -> None:
    """Every line is JSON, as many lines as sent."""
    lines = plain.decode().splitlines()
    assert len(lines) == len(sent.body.decode().splitlines())
    for line in lines:
        json.loads(line)


def valid_form(sent: Sent, received: Received, plain: bytes) -> None:
    """A urlencoded form with the same keys as sent."""
    keys = [k for k, _ in parse_qsl(plain.decode("ascii"), strict_parsing=True)]
    assert keys == [k for k, _ in parse_qsl(sent.body.decode(), strict_parsing=True)]


def _parts(content_type: str, raw: bytes) -> list[tuple[str | None, bytes]]:
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw
    )
    assert message.is_multipart()
    return [
        (part.get_content_type(), part.get_payload(decode=True))  # type: ignore[union-attr]
        for part in message.iter_parts()  # type: ignore[attr-defined]
    ]


def valid_multipart(sent: Sent, received: Received, plain: bytes) -> None:
    """As many parts as sent; the CSV part has as many rows, the JSON part parses."""
    before = _parts(sent.headers["Content-Type"], sent.body)
    after = _parts(received.header("content-type") or "", plain)
    assert len(after) == len(before)
    for (kind, content), (_, original) in zip(after, before, strict=True):
        if kind == "text/csv":
            assert len(list(csv.reader(io.StringIO(content.decode())))) == len(
                list(csv.reader(io.StringIO(original.decode())))
            )
        elif kind == "application/json":
            assert list(json.loads(content)) == list(json.loads(original))


def valid_table(delimiter: str) -> Check:
    """The body is a table with as many rows and columns as sent."""

    def check(sent: Sent, received: Received, plain: bytes) -> None:
        def rows(raw: bytes) -> list[int]:
            return [len(r) for r in csv.reader(io.StringIO(raw.decode()), delimiter=delimiter)]

        assert rows(plain) == rows(sent.body)

    return check


def valid_xml(sent: Sent, received: Received, plain: bytes) -> None:
    """The body is XML with the same elements as sent."""
    after, before = ET.fromstring(plain), ET.fromstring(sent.body)
    assert [e.tag for e in after.iter()] == [e.tag for e in before.iter()]


def valid_text(sent: Sent, received: Received, plain: bytes) -> None:
    """The body is UTF-8 text with as many lines as sent."""
    assert len(plain.decode().splitlines()) == len(sent.body.decode().splitlines())


def valid_url(sent: Sent, received: Received, plain: bytes) -> None:
    """The path ends in as many segments as sent, around the value; the query has the same keys."""
    before, after = urlsplit(sent.suffix), urlsplit(received.path)
    sent_segments = before.path.split("/")[1:]
    got_segments = after.path.split("/")[-len(sent_segments) :]
    assert got_segments[0] == sent_segments[0]
    assert got_segments[-1] == sent_segments[-1]
    keys = [k for k, _ in parse_qsl(before.query, keep_blank_values=True)]
    query = parse_qsl(after.query, keep_blank_values=True, strict_parsing=True)
    assert [k for k, _ in query] == keys


def valid_header(sent: Sent, received: Received, plain: bytes) -> None:
    """The custom header is still there, the JSON body unchanged."""
    assert received.header("x-customer-email")
    assert plain == sent.body


def stays_encoded(check: Check) -> Check:
    """`check`, after the body kept its Content-Encoding."""

    def wrapped(sent: Sent, received: Received, plain: bytes) -> None:
        assert received.header("content-encoding") == sent.headers["Content-Encoding"]
        check(sent, received, plain)

    return wrapped


# --- the table --------------------------------------------------------------------------------

FORWARDED = [
    pytest.param(json_body(nested()), (card(), email()), valid_json, id="json-nested"),
    pytest.param(
        json_body({"kind": "ticket", "payload": json.dumps(ticket_with(email=EMAIL, card=CARD))}),
        (card(), email()),
        valid_json_string,
        id="json-string-holding-json",
    ),
    pytest.param(
        body(
            "application/x-ndjson",
            "".join(json.dumps(ticket_with(email=EMAIL, card=CARD)) + "\n" for _ in range(3)),
        ),
        (card(), email()),
        valid_ndjson,
        id="ndjson",
    ),
    pytest.param(
        body(
            "application/x-www-form-urlencoded",
            f"ticket_id=T-51009&email={quote(EMAIL)}&card_number={quote(CARD)}&subject=Refund",
        ),
        (card(), email()),
        valid_form,
        id="form",
    ),
    pytest.param(
        multipart(
            ("note", "", "", f"Customer {EMAIL} disputes card {CARD}."),
            ("export", "customers.csv", "text/csv", table(",", CSV_ROWS)),
            ("ticket", "ticket.json", "application/json", json.dumps(nested())),
        ),
        (card(), email()),
        valid_multipart,
        id="multipart-text-csv-json",
    ),
    pytest.param(
        body("text/csv; charset=utf-8", table(",", CSV_ROWS)),
        (card(), email()),
        valid_table(","),
        id="csv",
    ),
    pytest.param(
        body("text/tab-separated-values; charset=utf-8", table("\t", CSV_ROWS)),
        (card(), email()),
        valid_table("\t"),
        id="tsv",
    ),
    pytest.param(body("application/xml", XML), (card(), email()), valid_xml, id="xml"),
    pytest.param(body("text/plain; charset=utf-8", TEXT), (card(), email()), valid_text, id="text"),
    pytest.param(
        Sent("GET", f"/customers/{quote(EMAIL, safe='@')}/tickets?status=open"),
        (email(),),
        valid_url,
        id="url-path-segment",
    ),
    pytest.param(
        Sent("GET", f"/search?email={quote(EMAIL)}&card={quote(CARD)}&page=2"),
        (card(), email()),
        valid_url,
        id="query",
    ),
    pytest.param(
        Sent(
            headers={"Content-Type": "application/json", "X-Customer-Email": EMAIL},
            body=b'{"ticket_id": "T-51010"}',
        ),
        (email(),),
        valid_header,
        id="header-x-customer-email",
    ),
    *(
        pytest.param(
            compressed(coding, ticket_with(email=EMAIL, card=CARD)),
            (card(), email()),
            stays_encoded(valid_json),
            id=f"content-encoding-{coding}",
        )
        for coding in ("br", "deflate", "zstd")
    ),
    # Disguises: the card (or email) written so that a naive detector misses it.
    *(
        pytest.param(
            json_body(ticket_with(card_number=written)),
            (card(written),),
            valid_json,
            id=f"card-{name}",
        )
        for name, written in (
            ("fullwidth-digits", digits(CARD, 0xFF10)),
            ("arabic-indic-digits", digits(CARD, 0x0660)),
            ("zero-width", "41\u200b11 1111 11\u200d11 1\u20601\ufeff11"),
            ("soft-hyphen", CARD.replace(" ", "\u00ad")),
            ("no-break-spaces", "4111\u00a01111\u202f1111\u00a01111"),
            ("dots", CARD.replace(" ", ".")),
            ("no-separators", CARD_DIGITS),
        )
    ),
    pytest.param(
        json_body(ticket_with(email="maria.gon\u200bzalez@exam\u200dple.com")),
        (email("maria.gon\u200bzalez@exam\u200dple.com"),),
        valid_json,
        id="email-zero-width",
    ),
    pytest.param(
        json_body(ticket_with(card_b64=b64(CARD), email_b64=b64(EMAIL))),
        (card(), email()),
        valid_json,
        id="base64-field",
    ),
    pytest.param(
        text(f"Her contact, encoded: {b64(EMAIL)} and card {b64(CARD)} as agreed."),
        (card(), email()),
        valid_text,
        id="base64-word-in-sentence",
    ),
    pytest.param(
        text(f"Reply to {quote(EMAIL, safe='')} about card {quote(CARD, safe='')} today."),
        (card(), email()),
        valid_text,
        id="url-encoded-in-text",
    ),
    pytest.param(
        text(
            f"Reply to {quote(quote(EMAIL, safe=''), safe='')} about card "
            f"{quote(quote(CARD, safe=''), safe='')} today."
        ),
        (card(), email()),
        valid_text,
        id="double-url-encoded-in-text",
    ),
    pytest.param(
        json_body(ticket_with(card_part1=CARD[:9], card_part2=CARD[10:])),
        (SPLIT_CARD,),
        valid_json,
        id="card-split-part1-part2",
    ),
]

BLOCKED = [
    pytest.param(json_body(ticket_with(ssn=SSN_WRITTEN)), id="ssn-json"),
    pytest.param(
        json_body({"kind": "ticket", "payload": json.dumps(ticket_with(ssn=SSN_WRITTEN))}),
        id="ssn-json-string-holding-json",
    ),
    pytest.param(
        body("text/csv", table(",", [["ticket_id", "ssn"], ["T-51011", SSN_WRITTEN]])),
        id="ssn-csv",
    ),
    pytest.param(
        body("application/xml", f"<ticket><ssn>{SSN_WRITTEN}</ssn></ticket>"), id="ssn-xml"
    ),
    pytest.param(
        multipart(
            ("note", "", "", "Export attached."),
            ("export", "people.csv", "text/csv", table(",", [["name", "ssn"], ["x", SSN_WRITTEN]])),
        ),
        id="ssn-multipart-csv",
    ),
    pytest.param(Sent("GET", f"/search?ssn={SSN_WRITTEN}&page=1"), id="ssn-query"),
    pytest.param(
        Sent(
            headers={"Content-Type": "application/json", "X-Customer-Ssn": SSN_WRITTEN}, body=b"{}"
        ),
        id="ssn-header",
    ),
    pytest.param(compressed("zstd", ticket_with(ssn=SSN_WRITTEN)), id="ssn-zstd"),
    pytest.param(json_body(ticket_with(ssn=digits(SSN_WRITTEN, 0xFF10))), id="ssn-fullwidth"),
    pytest.param(json_body(ticket_with(ssn="219\u200b-09-99\u200d99")), id="ssn-zero-width"),
    pytest.param(json_body(ticket_with(ssn_b64=b64(SSN_WRITTEN))), id="ssn-base64-field"),
    pytest.param(text(f"SSN {quote(quote(SSN_WRITTEN))} on file."), id="ssn-double-url-encoded"),
]


# --- the tests --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """A client, the base its requests go to, and the vendor behind the proxy."""

    client: httpx.Client
    base: str
    vendor: Vendor

    def send(self, path: str, sent: Sent) -> httpx.Response:
        """`sent` to `path` (plus the case's suffix) through the proxy."""
        url = self.base + path + sent.suffix
        return self.client.request(sent.method, url, headers=sent.headers, content=sent.body)


@pytest.fixture(params=["reverse", "explicit-https"])
def route(request: pytest.FixtureRequest) -> Route:
    """The reverse proxy in front of the HTTP vendor, or the explicit proxy to the HTTPS one."""
    if request.param == "reverse":
        return Route(
            request.getfixturevalue("reverse_client"), "", request.getfixturevalue("http_vendor")
        )
    vendor = request.getfixturevalue("https_vendor")
    return Route(request.getfixturevalue("explicit_client"), vendor.origin, vendor)


def _received(vendor: Vendor, path: str) -> list[Received]:
    """What the vendor got under `path`'s test prefix (`/api/<test id>/`).

    Matched without `path`'s random last segment: when that is all digits ("03924971") the
    gateway masks it like a phone number ("****4971") and the exact path never arrives.
    """
    prefix = path.rsplit("/", 1)[0] + "/"
    return [r for r in vendor.snapshot() if r.path.startswith(prefix)]


@pytest.mark.parametrize(("sent", "labels", "check"), FORWARDED)
def test_vendor_gets_no_pii_and_a_valid_document(
    route: Route,
    unique_path: str,
    sent: Sent,
    labels: tuple[Label, ...],
    check: Check,
) -> None:
    """The vendor gets the request with no PII readable back, still valid in its format."""
    as_sent = read(Transfer(unique_path + sent.suffix, tuple(sent.headers.items()), sent.body))
    assert all(leaked(label, as_sent) for label in labels)  # the leak check is not vacuous
    response = route.send(unique_path, sent)
    assert response.status_code == 200, response.text
    found = _received(route.vendor, unique_path)
    assert len(found) == 1, (unique_path, found)
    received = found[0]
    reading = read(Transfer(received.path, received.headers, received.body))
    leaks = [label.entity for label in labels if leaked(label, reading)]
    assert leaks == [], (received.path, received.headers, received.body)
    if received.body:
        assert int(received.header("content-length") or -1) == len(received.body)
    check(sent, received, decompress(received.body, received.header("content-encoding") or ""))


@pytest.mark.parametrize("sent", BLOCKED)
def test_ssn_is_blocked_in_every_format(route: Route, unique_path: str, sent: Sent) -> None:
    """A request carrying an SSN, however written, gets a 403 and never reaches the vendor."""
    response = route.send(unique_path, sent)
    assert response.status_code == 403, response.text
    assert response.json()["rule"] == "block-ssn-and-bank-numbers"
    assert _received(route.vendor, unique_path) == []
