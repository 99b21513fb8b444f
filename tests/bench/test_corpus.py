"""The corpus: seeded, covering, valid, and labelled with what the cases really hold."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from mitmproxy.net.http.multipart import decode_multipart

from bench.cases import ENCODINGS, ENTITIES, FORMATS, Case
from bench.corpus import DEFAULT_SIZE, INTERNATIONAL_LOCALES, disguises_for, generate, main
from bench.disguises import CHARACTER
from bench.score import compact, decoded_texts, decompress, leaked, read_sent
from bench.values import aba_ok, iban_ok, luhn_ok, ssn_ok

SMALL = 60


@pytest.fixture(scope="module")
def corpus() -> list[Case]:
    """The default corpus (generated once for the module)."""
    return generate()


def pii(corpus: list[Case]) -> Iterator[Case]:
    return (c for c in corpus if not c.clean)


def test_same_seed_same_corpus() -> None:
    """A seed and size give the same cases, byte for byte."""
    assert generate(7, SMALL) == generate(7, SMALL)


def test_another_seed_another_corpus() -> None:
    """A different seed gives different content."""
    assert [c.body for c in generate(7, SMALL)] != [c.body for c in generate(8, SMALL)]


def test_a_smaller_corpus_is_a_prefix_of_the_schedule() -> None:
    """Sizes share the same schedule of formats and disguises."""
    small, large = generate(3, 20), generate(3, 40)
    assert [(c.format, c.disguise) for c in small] == [(c.format, c.disguise) for c in large[:20]]


def test_default_size_covers_every_format_and_disguise(corpus: list[Case]) -> None:
    """Every (format, disguise) pair the corpus knows appears at the default size."""
    assert len(corpus) == DEFAULT_SIZE
    wanted = {(f, d) for f in FORMATS for d in disguises_for(f)}
    assert wanted <= {(c.format, c.disguise) for c in pii(corpus)}
    assert {c.format for c in corpus if c.clean} == set(FORMATS)
    assert {c.content_encoding for c in corpus} == set(ENCODINGS)
    assert {c.transport for c in corpus} == {"http/1.1", "http/2", "websocket"}
    assert {x.entity for c in corpus for x in c.labels} == set(ENTITIES)


def test_a_quarter_of_the_cases_are_clean(corpus: list[Case]) -> None:
    """Clean cases have no labels, and PII cases have at least one."""
    clean = [c for c in corpus if c.clean]
    assert len(clean) == DEFAULT_SIZE // 4
    assert all(c.labels for c in pii(corpus))


def test_every_label_is_readable_in_the_case_as_sent(corpus: list[Case]) -> None:
    """Sent unchanged, every labelled value counts as leaked: it is really in the case."""
    missing = [
        (c.id, x.entity, x.disguise)
        for c in pii(corpus)
        for x in c.labels
        if not leaked(x, read_sent(c))
    ]
    assert missing == []


def test_character_disguised_values_appear_as_written(corpus: list[Case]) -> None:
    """Values under a character disguise appear exactly as `written` once decoded."""
    missing = []
    for c in pii(corpus):
        texts = decoded_texts(c.transfer())
        for x in c.labels:
            if x.disguise in CHARACTER and not any(x.written in t for t in texts):
                missing.append((c.id, x.entity, x.disguise))
    assert missing == []


def test_every_benign_value_is_in_the_case(corpus: list[Case]) -> None:
    """Each benign value can be found (and so counted) in the case as sent."""
    missing = [(c.id, b) for c in corpus for b in c.benign if read_sent(c).count(b.value) == 0]
    assert missing == []


def test_pii_values_pass_their_checksums(corpus: list[Case]) -> None:
    """Cards pass Luhn, SSNs are possible, IBANs pass mod-97, routing numbers their checksum."""
    checks = {
        "CREDIT_CARD": luhn_ok,
        "US_SSN": ssn_ok,
        "IBAN_CODE": iban_ok,
        "ABA_ROUTING_NUMBER": aba_ok,
    }
    bad = [
        (c.id, x.entity)
        for c in corpus
        for x in c.labels
        if x.entity in checks and not checks[x.entity](x.value)
    ]
    assert bad == []


def test_numbers_are_written_as_their_value(corpus: list[Case]) -> None:
    """Disguised or not, a written number compacts to its canonical value."""
    numeric = {"CREDIT_CARD", "US_SSN", "US_BANK_NUMBER", "ABA_ROUTING_NUMBER", "IBAN_CODE"}
    bad = [
        (c.id, x.written)
        for c in corpus
        for x in c.labels
        if x.entity in numeric and compact(x.written) != x.value.lower()
    ]
    assert bad == []


def test_split_cards_are_split_in_two(corpus: list[Case]) -> None:
    """A split card's parts join to the card number."""
    splits = [x for c in corpus for x in c.labels if x.parts]
    assert splits
    assert all("".join(x.parts) == x.value and len(x.parts) == 2 for x in splits)


def test_benign_order_numbers_fail_luhn(corpus: list[Case]) -> None:
    """Order numbers look like cards but fail the Luhn check."""
    orders = [
        re.sub(r"\D", "", b.value) for c in corpus for b in c.benign if b.kind == "ORDER_NUMBER"
    ]
    assert orders
    assert not any(luhn_ok(o) for o in orders)


def _card_like_runs(text: str) -> list[str]:
    """Whole digit runs (single spaces or dashes allowed) of card length that pass Luhn."""
    runs = (re.sub(r"\D", "", m) for m in re.findall(r"\d(?:[ -]?\d)*", text))
    return [r for r in runs if 13 <= len(r) <= 19 and luhn_ok(r)]


def test_clean_cases_hold_no_pii(corpus: list[Case]) -> None:
    """Clean cases contain no value labelled anywhere in the corpus and nothing PII-shaped."""
    values = {x.written.casefold() for c in corpus for x in c.labels if len(x.written) > 6}
    for case in (c for c in corpus if c.clean):
        texts = decoded_texts(case.transfer())
        joined = "\n".join(texts).casefold()
        assert "@" not in joined, case.id
        assert not re.search(r"\b\d{3}-\d{2}-\d{4}\b", joined), case.id
        assert not re.search(r"\b[a-z]{2}\d{2}[a-z0-9]{11,30}\b", joined), case.id
        assert not [t for t in texts if _card_like_runs(t)], case.id
        assert not [v for v in values if v in joined], case.id


def _parse(case: Case) -> None:
    """Parse a case's body (or messages) as its format says; raise if it is not valid."""
    body = decompress(case.body, case.content_encoding)
    content_type = dict((k.lower(), v) for k, v in case.headers).get("content-type", "")
    if case.format in ("json", "json_string", "json_numbers", "json_array"):
        json.loads(body)
    elif case.format == "ndjson":
        for line in body.decode().splitlines():
            json.loads(line)
    elif case.format == "form":
        parse_qsl(body.decode(), strict_parsing=True)
    elif case.format.startswith("multipart"):
        assert decode_multipart(content_type, body)
    elif case.format in ("csv", "tsv"):
        rows = list(
            csv.reader(io.StringIO(body.decode()), delimiter="," if case.format == "csv" else "\t")
        )
        assert len({len(r) for r in rows}) == 1
    elif case.format == "xml":
        ET.fromstring(body)
    elif case.format == "websocket":
        for message in case.messages:
            json.loads(message)
    elif case.format in ("url", "headers"):
        assert case.path.isascii()
        assert all(v.isascii() for _, v in case.headers)


def test_every_case_is_valid_in_its_format(corpus: list[Case]) -> None:
    """JSON parses, forms and multipart decode, exports are rectangular, XML is well formed."""
    for case in corpus:
        _parse(case)


def test_content_encoding_header_matches(corpus: list[Case]) -> None:
    """A compressed body says so in Content-Encoding; an uncompressed one has none."""
    for case in corpus:
        header = dict(case.headers).get("Content-Encoding", "none")
        assert header == case.content_encoding, case.id


def test_cli_writes_json_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`python -m bench.corpus --out` writes one JSON object per case and prints a summary."""
    out = tmp_path / "corpus.jsonl"
    assert main(["--seed", "5", "--size", "12", "--out", str(out)]) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 12
    assert json.loads(lines[0])["id"] == "c0000"
    assert "12 cases, 3 clean" in capsys.readouterr().out


def test_an_international_corpus_has_customers_of_many_countries() -> None:
    """`--locales intl`: names, streets and phones as sixteen countries write them, seeded."""
    cases = generate(7, 120, INTERNATIONAL_LOCALES)
    assert [c.body for c in cases] == [c.body for c in generate(7, 120, INTERNATIONAL_LOCALES)]
    values = [
        x.written for c in cases for x in c.labels if x.entity in ("PERSON", "STREET_ADDRESS")
    ]
    assert sum(not v.isascii() for v in values) >= 10  # Höhenweg, Κυλλήνη, Łódź ...
    phones = [x.written for c in cases for x in c.labels if x.entity == "PHONE_NUMBER"]
    assert any(not p.startswith(("+1", "(", "+44", "0")) for p in phones)


def test_the_default_locale_keeps_the_corpus_the_targets_were_set_on() -> None:
    """Naming en_US alone gives the same cases as not naming a locale at all."""
    assert [c.body for c in generate(3, 60, ("en_US",))] == [c.body for c in generate(3, 60)]
