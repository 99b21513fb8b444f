"""Renderers: each format's request shape, PII and clean."""

from __future__ import annotations

import random

import pytest
from faker import Faker

from bench.cases import FORMATS
from bench.draft import Draft
from bench.formats import RENDERERS

CONTENT_TYPES = {
    "json": "application/json",
    "json_string": "application/json",
    "json_numbers": "application/json",
    "json_array": "application/json",
    "ndjson": "application/x-ndjson",
    "form": "application/x-www-form-urlencoded",
    "multipart_fields": "multipart/form-data",
    "multipart_csv": "multipart/form-data",
    "multipart_json": "multipart/form-data",
    "multipart_text": "multipart/form-data",
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "xml": "application/xml",
    "text": "text/plain",
    "headers": "application/json",
}


def draft(entities: tuple[str, ...]) -> Draft:
    fake = Faker("en_US")
    fake.seed_instance(5)
    return Draft(random.Random(5), fake, "none", entities, ("TICKET_ID", "SKU"))


def test_every_format_has_a_renderer() -> None:
    """The corpus formats and the renderers are the same set."""
    assert set(RENDERERS) == set(FORMATS)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("entities", [(), ("PERSON", "CREDIT_CARD")])
def test_request_shape(fmt: str, entities: tuple[str, ...]) -> None:
    """POST bodies carry their Content-Type; URL cases are GETs; WebSocket cases are messages."""
    if fmt == "json_numbers" and entities:
        entities = ("CREDIT_CARD",)
    rendered = RENDERERS[fmt](draft(entities))
    content_type = dict(rendered.headers).get("Content-Type", "")
    if fmt in CONTENT_TYPES:
        assert rendered.method == "POST"
        assert content_type.startswith(CONTENT_TYPES[fmt])
        assert rendered.body
    elif fmt == "url":
        assert rendered.method == "GET"
        assert "?" in rendered.path
    else:
        assert rendered.messages
        assert not rendered.body


def test_header_case_carries_pii_in_custom_headers() -> None:
    """The headers format puts values in X-Customer-* style headers, not in the body."""
    d = draft(("EMAIL_ADDRESS", "IP_ADDRESS"))
    rendered = RENDERERS["headers"](d)
    names = [k for k, _ in rendered.headers]
    assert "X-Customer-Email" in names
    assert "X-Forwarded-For" in names
    assert d.labels[0].written.encode() not in rendered.body
