"""The draft: every value it hands out is labelled as written."""

from __future__ import annotations

import base64
import json
import random

from faker import Faker

from bench.draft import Draft
from bench.values import luhn_ok


def draft(disguise: str, entities: tuple[str, ...], seed: int = 3) -> Draft:
    fake = Faker("en_US")
    fake.seed_instance(seed)
    return Draft(random.Random(seed), fake, disguise, entities, ("TICKET_ID", "AMOUNT"))


def test_pii_is_labelled_as_written() -> None:
    """A value handed out is recorded with its canonical value and written form."""
    d = draft("dots", ("US_SSN",))
    profile = d.profile()
    text = d.pii("US_SSN", profile)
    assert d.labels[-1].written == text
    assert d.labels[-1].value == profile.ssn
    assert d.labels[-1].disguise == "dots"
    assert text.replace(".", "") == profile.ssn


def test_encoding_disguises_label_the_decoded_form() -> None:
    """Under base64_field the field holds base64 of what the label says is written."""
    d = draft("base64_field", ("EMAIL_ADDRESS",))
    text = d.pii("EMAIL_ADDRESS", d.profile())
    assert base64.b64decode(text).decode() == d.labels[-1].written


def test_records_share_one_layout() -> None:
    """Every record of a case has the same fields in the same order (export columns)."""
    d = draft("none", ("PERSON", "EMAIL_ADDRESS", "CREDIT_CARD", "US_BANK_NUMBER"))
    layouts = {tuple(k for k, _ in d.record(notes=True).flat()) for _ in range(5)}
    assert len(layouts) == 1


def test_bank_accounts_come_with_a_routing_number() -> None:
    """A bank account field is followed by a routing number field, both labelled."""
    d = draft("none", ("US_BANK_NUMBER",))
    d.record(notes=False)
    assert [x.entity for x in d.labels] == ["US_BANK_NUMBER", "ABA_ROUTING_NUMBER"]


def test_split_card() -> None:
    """A split card is two adjacent fields whose values join to a valid card."""
    d = draft("split_card", ("CREDIT_CARD",))
    record = d.record(notes=False)
    (first_name, first), (second_name, second) = record.pii
    assert (first_name, second_name) in (
        ("card_part1", "card_part2"),
        ("card_first8", "card_last8"),
    )
    assert luhn_ok(first + second)
    assert d.labels[-1].parts == (first, second)


def test_base64_blob_holds_the_record() -> None:
    """Under base64_blob the PII fields become one base64 JSON field; labels say so."""
    d = draft("base64_blob", ("PERSON", "US_SSN"))
    record = d.record(notes=False)
    [(name, blob)] = record.pii
    assert name == "attachment_b64"
    inside = json.loads(base64.b64decode(blob))
    assert {x.written for x in d.labels} <= set(inside.values())
    assert {x.disguise for x in d.labels} == {"base64_blob"}


def test_field_names_disguise_writes_bare_values_under_terse_names() -> None:
    """Bare digits in fields such as ssn, acct, dob: only the name says what they are."""
    d = draft("field_names", ("US_SSN", "DATE_OF_BIRTH"))
    record = d.record(notes=False)
    names = dict(record.pii)
    assert set(names) == {"ssn", "dob"}
    assert names["ssn"].isdigit()
    assert [x.disguise for x in d.labels] == ["field_names", "field_names"]


def test_a_clean_draft_hands_out_only_benign_values() -> None:
    """No entities: the record and transcript hold benign values and no labels."""
    d = draft("none", ())
    record = d.record()
    lines = d.transcript()
    assert d.clean
    assert d.labels == []
    assert record.pii == []
    assert lines
    assert {b.kind for b in d.benign} >= {"TICKET_ID", "AMOUNT"}
