"""The plain-Presidio baseline: whole body, default operators, path and headers untouched."""

from __future__ import annotations

from dataclasses import replace

import pytest
from mitmproxy.net.encoding import decode, encode

from bench.baseline import PlainPresidio, baseline_transfer
from bench.cases import Case


def redact(text: str) -> str:
    return text.replace("SECRET", "<X>")


CASE = Case(
    id="c0001",
    format="json",
    disguise="none",
    transport="http/1.1",
    method="POST",
    path="/v2/tickets?q=SECRET",
    headers=(("Content-Type", "application/json"), ("X-Customer", "SECRET")),
    body=b'{"a": "SECRET"}',
    content_encoding="none",
    labels=(),
    benign=(),
)


def test_body_is_redacted_path_and_headers_are_not() -> None:
    """Only the body changes; the query and a custom header keep the value."""
    transfer = baseline_transfer(CASE, redact)
    assert transfer.body == b'{"a": "<X>"}'
    assert transfer.path == CASE.path
    assert transfer.headers == CASE.headers


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
def test_compressed_bodies_are_redacted_and_recompressed(encoding: str) -> None:
    """The body is decompressed, redacted and compressed again the same way."""
    case = replace(CASE, body=encode(CASE.body, encoding), content_encoding=encoding)
    assert decode(baseline_transfer(case, redact).body, encoding) == b'{"a": "<X>"}'


def test_a_body_with_nothing_found_is_left_byte_for_byte() -> None:
    """No finding, no re-encoding: a gzip body stays the same bytes."""
    case = replace(CASE, body=encode(b"nothing here", "gzip"), content_encoding="gzip")
    assert baseline_transfer(case, redact).body == case.body


def test_websocket_messages_are_redacted_one_by_one() -> None:
    """Each message is analysed on its own."""
    case = replace(CASE, body=b"", messages=(b"SECRET one", b"two"))
    assert baseline_transfer(case, redact).messages == (b"<X> one", b"two")


def test_bytes_that_are_not_utf8_pass() -> None:
    """A body that is not UTF-8 text is passed as it is."""
    case = replace(CASE, body=b"\xff\xfeSECRET")
    assert baseline_transfer(case, redact).body == case.body


def test_plain_presidio_replaces_with_entity_names_offline() -> None:
    """The real engine, offline, with the default model: findings become <ENTITY_TYPE>."""
    presidio = PlainPresidio()
    redacted = presidio.redact("Write to maria.gonzalez@example.com today.")
    # "today" is a DATE_TIME to Presidio's defaults: the baseline's benign damage in a nutshell.
    assert redacted == "Write to <EMAIL_ADDRESS> <DATE_TIME>."
    assert presidio.redact("") == ""
