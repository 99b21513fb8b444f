"""The attack catalog: every case carries a secret, and a gateway that changes nothing leaks it."""

from __future__ import annotations

import dataclasses

import pytest

from bench.bypass.attacks import CATALOG, CATEGORIES
from bench.bypass.cases import BENIGN, Case, build
from bench.bypass.client import Answer, Channel
from bench.bypass.pii import Kind, is_valid_ssn, luhn_valid
from bench.bypass.registry import MATRIX
from bench.bypass.score import Outcome, score
from bench.bypass.seen import Seen
from tests.bench.bypass.support import transparent

CASES = build(CATALOG.specs, seed=14)
ISSUE_CLASSES = {
    "raw_tcp",
    "upgrades",
    "websocket",
    "trailers",
    "response",
    "names",
    "headers",
    "url",
    "json_quirks",
    "split_values",
    "weak_context",
    "images",
}


OWN_CLASSES = {
    "encodings",
    "methods",
    "header_tricks",
    "header_fields",
    "url_tricks",
    "json_tricks",
    "xml_tricks",
    "multipart_tricks",
    "forms",
    "bulk",
    "spellings",
}
# Issue 15's classes: how a body is read (charsets, labels, compression), encodings inside
# values, digit forms, number words, documents and gRPC.
DECODING_CLASSES = {
    "charsets",
    "content_types",
    "compression",
    "value_encodings",
    "unicode_digits",
    "number_words",
    "documents",
    "grpc",
}


def test_every_class_has_eight_variants_of_its_own() -> None:
    """Each class has 8+ cases written for it (ports not counted), SSNs and cards both."""
    assert set(CATEGORIES) == ISSUE_CLASSES | OWN_CLASSES | DECODING_CLASSES
    assert BENIGN not in CATEGORIES
    for category in CATEGORIES:
        written = [c for c in CASES if c.category == category and c.ported_from is None]
        assert len(written) >= 8, category
        kinds = {c.secret.kind for c in written if c.secret}
        # weak_context is nine bare digits by definition: SSNs only.
        assert kinds == ({Kind.SSN} if category == "weak_context" else set(Kind)), category


def test_the_matrix_classes_run_over_every_channel_of_their_row() -> None:
    """Body, header and URL classes reach the vendor over HTTP, HTTPS, HTTP/2 and reverse."""
    for category, row in MATRIX.items():
        channels = {c.channel for c in CASES if c.category == category}
        assert channels >= set(row), category
    every = {Channel.HTTP, Channel.HTTPS, Channel.H2, Channel.REVERSE}
    assert {c for c, row in MATRIX.items() if set(row) == every} >= ISSUE_CLASSES - {
        "raw_tcp",
        "upgrades",
        "websocket",
    }
    ported = [c for c in CASES if c.ported_from is not None]
    assert all(c.name.endswith("@" + c.channel.value) for c in ported)
    assert all(c.category in MATRIX for c in ported)


def test_every_secret_is_a_valid_ssn_or_card() -> None:
    """SSNs: area not 000, 666 or 9xx; cards: Luhn-valid, 16 digits, a real issuer prefix."""
    for c in CASES:
        assert c.secret is not None
        if c.secret.kind is Kind.SSN:
            assert is_valid_ssn(c.secret.digits), c.name
        else:
            assert len(c.secret.digits) == 16, c.name
            assert luhn_valid(c.secret.digits), c.name
            assert c.secret.digits[0] in "456", c.name


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_a_gateway_that_changes_nothing_leaks_every_case(case: Case) -> None:
    """Sent through untouched, every case's secret is recovered (the case can leak at all)."""
    assert case.secret is not None
    seen, answer = transparent(case)
    verdict = score(case, seen, answer, logged=False)
    assert verdict.outcome is Outcome.LEAKED, verdict


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.direction == "request"], ids=lambda c: c.name
)
def test_a_gateway_that_forwards_nothing_blocks_every_request_case(case: Case) -> None:
    """When nothing reaches the vendor and the client is refused, the case is blocked."""
    verdict = score(case, Seen(), Answer(403, body=b'{"error": "blocked_by_dlp_policy"}'))
    assert verdict.outcome is Outcome.BLOCKED


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.direction == "response"], ids=lambda c: c.name
)
def test_a_response_the_gateway_logged_is_logged_not_leaked(case: Case) -> None:
    """A response case whose secret reached the client with a finding logged is `logged`."""
    seen, answer = transparent(case)
    assert score(case, seen, answer, logged=True).outcome is Outcome.LOGGED


def test_the_undo_is_what_finds_the_encoded_cases() -> None:
    """Without its undo, a base64 or JWT case's secret is not in the raw record."""
    encoded = (
        "basic_auth_password",
        "bearer_jwt_claim",
        "png_ztxt",
        "json_unicode_escapes",
        "json_escaped_dashes",
        "xml_dtd_entities_reordered",
        "multipart_part_base64",
        "multipart_part_quoted_printable",
        "multipart_gzip_file",
        "repeated_header_split",
        "cookie_crumbs",
        "tcp_gzip_record",
        "tcp_base64_line",
        "hex_json_field",
        "data_uri_text",
        "base64_body",
        "query_base64_token",
        "png_data_uri_in_json",
    )
    for name in encoded:
        case = next(c for c in CASES if c.name == name)
        seen, answer = transparent(case)
        stripped = dataclasses.replace(case, undo=())
        assert score(stripped, seen, answer).outcome is Outcome.CHANGED, name
        assert score(case, seen, answer).outcome is Outcome.LEAKED, name


def test_the_held_out_seed_leaks_every_case_too() -> None:
    """With the held-out run's secrets (seed 1414), every case still leaks when untouched."""
    for case in build(CATALOG.specs, seed=1414):
        seen, answer = transparent(case)
        assert score(case, seen, answer).outcome is Outcome.LEAKED, case.name
