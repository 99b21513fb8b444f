"""The scorer: what counts as a leak, an altered benign value, a changed clean request."""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import replace
from urllib.parse import quote

import pytest
from mitmproxy.net.encoding import encode

from bench.cases import Benign, Case, Label, Transfer
from bench.score import (
    Delivery,
    compact,
    decompress,
    delivered_messages,
    leaked,
    normalise,
    read,
    score_case,
)

CARD = Label("CREDIT_CARD", "4111111111111111", "4111 1111 1111 1111")
SSN = Label("US_SSN", "219451234", "219-45-1234")
EMAIL = Label("EMAIL_ADDRESS", "maria.gonzalez@example.com", "maria.gonzalez@example.com")
NAME = Label("PERSON", "Maria Gonzalez", "Maria Gonzalez")
PHONE = Label("PHONE_NUMBER", "2125550142", "+1 212-555-0142")
IP = Label("IP_ADDRESS", "10.1.2.3", "10.1.2.3")
SPLIT = Label(
    "CREDIT_CARD", "4111111111111111", "4111111111111111", "split_card", ("41111111", "11111111")
)


def body(text: str, *headers: tuple[str, str]) -> Transfer:
    return Transfer("/v2/tickets", tuple(headers), text.encode())


def leaks(label: Label, text: str, *headers: tuple[str, str]) -> bool:
    return leaked(label, read(body(text, *headers)))


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("label", "text"),
    [
        (CARD, '{"card": "dlp:v1:k20261129ab12cd:AgtDUkVESVRfQ0FSRH1D64-4NRIJRrn6F6ZQDotQ"}'),
        (CARD, '{"card": "************1111"}'),
        (CARD, '{"card": "**** **** **** 1111"}'),
        (CARD, "card 411111******1111 on file"),
        (SSN, '{"ssn": "<US_SSN>"}'),
        (SSN, "ssn ***-**-1234"),
        (EMAIL, '{"email": "*****.*******@******e.com"}'),
        (EMAIL, '{"email": "<EMAIL_ADDRESS:3f2a9c1e0b7d4a55>"}'),
        (NAME, "Customer <PERSON> called about a double charge."),
        (NAME, "Customer Maria called."),
        (PHONE, "call +* ***-***-0142"),
        (IP, "login from 10.1.2.30"),
        (IP, "login from 110.1.2.3"),
        (SPLIT, '{"card_part1": "41111111", "card_part2": "********"}'),
    ],
)
def test_protected_values_are_not_leaks(label: Label, text: str) -> None:
    """Tokens, masks, placeholders, keyed hashes, partial values and longer numbers are no leak."""
    assert not leaks(label, text)


@pytest.mark.parametrize(
    ("label", "text"),
    [
        (CARD, "card 4111 1111 1111 1111"),
        (CARD, "card 4111111111111111"),
        (CARD, "card 4111.1111.1111.1111"),
        (CARD, "card 4111\u00a01111\u202f1111\u00a01111"),
        (CARD, "card " + "".join(chr(0xFF10 + int(c)) if c != " " else c for c in CARD.written)),
        (CARD, "card " + "".join(chr(0x0660 + int(c)) for c in "4111111111111111")),
        (CARD, "card 41\u200b11 1111 11\u00ad11 1111"),
        (CARD, "card 4111\u20111111\u20131111-1111"),
        (CARD, '{"card_number": 4111111111111111}'),
        (SSN, "ssn " + b64("219-45-1234")),
        (SSN, '{"ssn_b64": "' + b64("219451234") + '"}'),
        (SSN, "ssn " + quote(quote("219-45-1234", safe=""), safe="")),
        (SSN, "ssn " + "".join(f"%{b:02X}" for b in b"219-45-1234")),
        (SSN, '{"payload": "{\\"ssn\\": \\"219-45-1234\\"}"}'),
        (SSN, '{"ssn": "\\u0032\\u0031\\u0039-45-1234"}'),
        (SSN, "<ssn>&#50;19-45-1234</ssn>"),
        (EMAIL, "reply to MARIA.GONZALEZ@EXAMPLE.COM"),
        (EMAIL, "email=maria.gonzalez%40example.com"),
        (NAME, "name=Maria+Gonzalez&x=1"),
        (NAME, "Spoke with maria   GONZALEZ today"),
        (NAME, "Spoke with Maria\u00a0Gon\u00adzalez today"),
        (NAME, "blob " + b64(json.dumps({"name": "Maria Gonzalez"}))),
        (PHONE, "call (212) 555-0142"),
        (IP, "login from 10.1.2.3."),
        (SPLIT, '{"card_part1": "41111111", "card_part2": "11111111"}'),
    ],
)
def test_disguised_values_are_leaks(label: Label, text: str) -> None:
    """A value anyone can read back by undoing cheap encodings and disguises has leaked."""
    assert leaks(label, text)


def test_base64_wrapped_over_lines_is_a_leak() -> None:
    """A base64 file part in 76-column CRLF lines is read across the line breaks."""
    blob = b64("Customer: SSN given for verification: 219-45-1234. " * 3)
    wrapped = "\r\n".join(blob[i : i + 76] for i in range(0, len(blob), 76))
    text = f"--b\r\nContent-Transfer-Encoding: base64\r\n\r\n{wrapped}\r\n--b--\r\n"
    assert leaks(SSN, text)


def test_base64_in_a_url_path_is_a_leak() -> None:
    """A base64url path segment is decoded on its own, not with the path around it."""
    segment = base64.urlsafe_b64encode(b"maria.gonzalez@example.com").decode()
    assert leaked(EMAIL, read(Transfer(f"/v2/customers/{segment}/tickets", (), b"")))


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
def test_compressed_bodies_are_read(encoding: str) -> None:
    """A body is decompressed per its Content-Encoding before it is read."""
    data = encode(b"card 4111 1111 1111 1111", encoding)
    assert leaked(CARD, read(Transfer("/", (("Content-Encoding", encoding),), data)))


def test_a_wrong_content_encoding_reads_the_body_as_it_is() -> None:
    """A body that is not what its Content-Encoding says is read raw, not skipped."""
    assert leaks(CARD, "card 4111 1111 1111 1111", ("Content-Encoding", "gzip"))
    assert decompress(b"plain", "gzip") == b"plain"


def test_path_query_headers_and_messages_are_read() -> None:
    """PII in the query, a custom header or a WebSocket message leaks like PII in a body."""
    assert leaked(EMAIL, read(Transfer("/t?email=maria.gonzalez%40example.com", (), b"")))
    assert leaked(EMAIL, read(Transfer("/t", (("X-Customer-Email", EMAIL.written),), b"")))
    message = json.dumps({"text": "call +1 212-555-0142"}).encode()
    assert leaked(PHONE, read(Transfer("/ws", (), b"", (message,))))


def test_normalise_and_compact() -> None:
    """Normalising folds what a reader would not see; compacting keeps letters and digits."""
    assert normalise("Ma\u200bria\u00a0 GONZ\u00adALEZ \uff11") == "maria gonzalez 1"
    assert compact("DE89 3704\u00a00044.0532-0130 00") == "de89370400440532013000"


def case(text: str, labels: tuple[Label, ...] = (), benign: tuple[Benign, ...] = ()) -> Case:
    return Case(
        id="c0001",
        format="json",
        disguise="none",
        transport="http/1.1",
        method="POST",
        path="/v2/tickets?ticket=T-1",
        headers=(("Content-Type", "application/json"),),
        body=text.encode(),
        content_encoding="none",
        labels=labels,
        benign=benign,
    )


def test_a_blocked_request_leaks_nothing() -> None:
    """Nothing reached the vendor: no label leaked, no benign value judged."""
    c = case('{"ssn": "219-45-1234", "order": "ORD-1"}', (SSN,), (Benign("ORDER_NUMBER", "ORD-1"),))
    outcome = score_case(c, Delivery(None, 403, blocked=True))
    assert [x.leaked for x in outcome.labels] == [False]
    assert [b.altered for b in outcome.benign] == [None]
    assert outcome.blocked
    assert not outcome.delivered
    assert not outcome.clean_failed


def test_a_blocked_clean_request_is_a_failure() -> None:
    """A clean request that did not arrive is counted against the gateway."""
    outcome = score_case(case('{"order": "ORD-1"}'), Delivery(None, 403, blocked=True))
    assert outcome.clean_failed


def test_a_clean_request_forwarded_byte_for_byte_is_unchanged() -> None:
    """Same body, path and headers (other headers may be added): not changed."""
    c = case('{"order": "ORD-1"}')
    received = Transfer(c.path, (*c.headers, ("Via", "proxy")), c.body)
    outcome = score_case(c, Delivery(received, 200))
    assert outcome.changed is False
    assert not outcome.clean_failed


@pytest.mark.parametrize(
    "received",
    [
        Transfer(
            "/v2/tickets?ticket=T-1", (("Content-Type", "application/json"),), b'{"order":"ORD-1"}'
        ),
        Transfer(
            "/v2/tickets?ticket=T-2", (("Content-Type", "application/json"),), b'{"order": "ORD-1"}'
        ),
        Transfer(
            "/v2/tickets?ticket=T-1", (("Content-Type", "text/plain"),), b'{"order": "ORD-1"}'
        ),
    ],
)
def test_a_clean_request_changed_by_one_byte_is_a_failure(received: Transfer) -> None:
    """Re-serialised JSON, a changed query or a changed header all count as changed."""
    outcome = score_case(case('{"order": "ORD-1"}'), Delivery(received, 200))
    assert outcome.changed is True
    assert outcome.clean_failed


def test_recompressed_identical_content_counts_as_changed() -> None:
    """Byte comparison is on the wire bytes: gzip again with another timestamp is a change."""
    c = replace(case("x"), body=gzip.compress(b"x", mtime=1), headers=())
    received = Transfer(c.path, (), gzip.compress(b"x", mtime=2))
    assert score_case(c, Delivery(received, 200)).changed is True


def test_benign_values_masked_are_altered_and_kept_ones_are_not() -> None:
    """A masked order number is altered; a ticket id left alone is not."""
    benign = (Benign("ORDER_NUMBER", "4111111111111112"), Benign("TICKET_ID", "T-48213"))
    c = case('{"order": "4111111111111112", "ticket": "T-48213"}', benign=benign)
    received = Transfer(c.path, c.headers, b'{"order":"************1112","ticket":"T-48213"}')
    outcome = score_case(c, Delivery(received, 200))
    assert [b.altered for b in outcome.benign] == [True, False]


def test_one_of_two_equal_benign_values_altered_counts() -> None:
    """Occurrences are counted: changing one of two equal values is an alteration."""
    c = case('{"a": "T-48213", "b": "T-48213"}', benign=(Benign("TICKET_ID", "T-48213"),))
    received = Transfer(c.path, c.headers, b'{"a": "T-48213", "b": "<PERSON>"}')
    assert score_case(c, Delivery(received, 200)).benign[0].altered is True


def test_form_encoded_benign_values_are_found() -> None:
    """Benign values with spaces or colons are found in urlencoded bodies (`+`, `%3A`)."""
    benign = (
        Benign("ORDER_NUMBER", "4111 1111 1111 1112"),
        Benign("ISO_TIMESTAMP", "2026-11-28T14:03:00Z"),
    )
    c = case("order=4111+1111+1111+1112&at=2026-11-28T14%3A03%3A00Z", benign=benign)
    outcome = score_case(c, Delivery(c.transfer(), 200))
    assert [b.altered for b in outcome.benign] == [False, False]


def test_websocket_messages_dropped_are_not_counted_as_altered() -> None:
    """Benign values only in a message the gateway dropped are undelivered, not altered."""
    sent = (
        b'{"text": "order ORD-1"}',
        b'{"text": "SSN 219-45-1234, ticket T-9"}',
        b'{"text": "sku SKU-1"}',
    )
    benign = (Benign("ORDER_NUMBER", "ORD-1"), Benign("TICKET_ID", "T-9"), Benign("SKU", "SKU-1"))
    c = replace(case(""), body=b"", path="/ws", headers=(), messages=sent, labels=(SSN,))
    c = replace(c, benign=benign)
    received = Transfer("/ws", (), b"", (b'{"text":"order ORD-1"}', b'{"text":"sku SKU-1"}'))
    outcome = score_case(c, Delivery(received, 101))
    assert [b.altered for b in outcome.benign] == [False, None, False]
    assert [x.leaked for x in outcome.labels] == [False]
    assert outcome.dropped_messages == 1


def test_delivered_messages_aligns_changed_and_dropped_messages() -> None:
    """Masked messages still pair with their originals; dropped ones are left out."""
    sent = [
        b'{"text": "hello"}',
        b'{"text": "card 4111 1111 1111 1111"}',
        b'{"text": "iban DE89"}',
        b'{"text": "bye"}',
    ]
    received = [b'{"text":"hello"}', b'{"text":"card **** **** **** 1111"}', b'{"text":"bye"}']
    assert delivered_messages(sent, received) == (sent[0], sent[1], sent[3])


def test_benign_values_in_wrapped_base64_are_counted_once() -> None:
    """A value in a base64 part wrapped in 76-column lines counts once, wherever a break falls."""
    rows = "".join(f"2025-11-0{i}T09:58:35.000Z,SKU-5408{i}-WHT,$23{i}.20\r\n" for i in range(1, 9))
    for shift in ("", "x", "xyz"):
        blob = base64.b64encode((shift + rows).encode()).decode()
        wrapped = "\r\n".join(blob[i : i + 76] for i in range(0, len(blob), 76))
        body = f"--B\r\nContent-Transfer-Encoding: base64\r\n\r\n{wrapped}\r\n--B--\r\n".encode()
        reading = read(Transfer("/", (("Content-Type", "multipart/form-data; boundary=B"),), body))
        assert reading.count("SKU-54083-WHT") == 1, shift
