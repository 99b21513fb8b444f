"""Tests for dlp_proxy/core/actions.py: masking, keyed hashes, fingerprints, in-place rewriting."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlp_proxy.core.actions import (
    Change,
    fingerprint,
    keyed_hash,
    mask,
    mask_pci,
    replacement_for,
    rewrite,
)
from dlp_proxy.crypto.keys import DataKey, Keyring
from dlp_proxy.crypto.tokens import TOKEN_PATTERN, decrypt_token
from dlp_proxy.detection.detector import Finding
from dlp_proxy.policy.model import (
    Action,
    EncryptMode,
    EncryptOptions,
    RedactOperator,
    RedactOptions,
    Rule,
)


def keyring_of(secret: bytes, key_id: str = "k1") -> Keyring:
    """A one-key keyring with a fixed secret."""
    return Keyring(keys=(DataKey(id=key_id, created="x", state="active", secret=secret),))


KEYRING = keyring_of(b"\x01" * 32)
OTHER = keyring_of(b"\x02" * 32)


def redact_rule(operator: RedactOperator = RedactOperator.REPLACE, **options: object) -> Rule:
    """A redact rule with the given redact options."""
    return Rule(
        id=f"redact-{operator}",
        entities=frozenset({"PERSON"}),
        action=Action.REDACT,
        redact=RedactOptions(operator=operator, **options),  # type: ignore[arg-type]
    )


def encrypt_rule(mode: EncryptMode = EncryptMode.RANDOMIZED) -> Rule:
    """An encrypt rule in the given mode."""
    return Rule(
        id=f"encrypt-{mode}",
        entities=frozenset({"CREDIT_CARD"}),
        action=Action.ENCRYPT,
        encrypt=EncryptOptions(mode=mode),
    )


def change(entity: str, start: int, end: int, rule: Rule, score: float = 0.9) -> Change:
    """A change for a finding at [start, end) in location `t`."""
    return Change(Finding(entity, "t", start, end, score), rule)


# --- mask ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "keep", "char", "masked"),
    [
        ("4111 1111 1111 1234", 4, "*", "**** **** **** 1234"),
        ("+1 (212) 555-0199", 4, "*", "+* (***) ***-0199"),
        ("john.smith@example.com", 4, "*", "****.*****@******e.com"),
        ("219-09-9999", 0, "#", "###-##-####"),
        ("abc", 4, "*", "abc"),
        ("abcd", 4, "*", "abcd"),
        ("Zoë Ångström", 3, "*", "*** *****röm"),
        ("", 4, "*", ""),
        ("--", 0, "*", "--"),
    ],
)
def test_mask(value: str, keep: int, char: str, masked: str) -> None:
    """mask hides letters and digits except the last `keep`, and leaves punctuation alone."""
    assert mask(value, keep, char) == masked


# --- keyed hash and fingerprint --------------------------------------------------------------


def test_keyed_hash_is_stable_per_key_and_hides_the_value() -> None:
    """The same value, entity and key always hash alike, as `<ENTITY:16 hex>` without the value."""
    value = "john.smith@example.com"
    hashed = keyed_hash(value, "EMAIL_ADDRESS", KEYRING)
    assert re.fullmatch(r"<EMAIL_ADDRESS:[0-9a-f]{16}>", hashed)
    assert keyed_hash(value, "EMAIL_ADDRESS", keyring_of(b"\x01" * 32, "kother")) == hashed
    assert "john" not in hashed
    assert "example" not in hashed


def test_keyed_hash_depends_on_key_value_and_entity() -> None:
    """Another keyring, value or entity gives another hash."""
    hashed = keyed_hash("078-05-1120", "US_SSN", KEYRING)
    assert keyed_hash("078-05-1120", "US_SSN", OTHER) != hashed
    assert keyed_hash("078-05-1121", "US_SSN", KEYRING) != hashed
    assert keyed_hash("078-05-1120", "US_ITIN", KEYRING) != hashed.replace("US_SSN", "US_ITIN")


def test_keyed_hash_follows_the_active_key() -> None:
    """After rotation, hashes are made with the new active key."""
    (old,) = KEYRING.keys
    rotated = Keyring(
        keys=(old, DataKey(id="k2", created="y", state="active", secret=b"\x03" * 32))
    )
    assert keyed_hash("x", "PERSON", rotated) == keyed_hash("x", "PERSON", keyring_of(b"\x03" * 32))


def test_fingerprint_is_keyed_stable_and_hides_the_value() -> None:
    """A fingerprint is `fp:` and 16 hex, stable per keyring, different per value and keyring."""
    value = "4111111111111111"
    fp = fingerprint(value, KEYRING)
    assert re.fullmatch(r"fp:[0-9a-f]{16}", fp)
    assert fingerprint(value, keyring_of(b"\x01" * 32)) == fp
    assert fingerprint(value + "2", KEYRING) != fp
    assert fingerprint(value, OTHER) != fp
    assert value not in fp
    assert fp[3:] not in keyed_hash(value, "CREDIT_CARD", KEYRING)


def test_fingerprint_survives_key_rotation() -> None:
    """Adding a newer active key does not change fingerprints, so incidents can be correlated."""
    (old,) = KEYRING.keys
    rotated = Keyring(
        keys=(old, DataKey(id="k2", created="y", state="active", secret=b"\x03" * 32))
    )
    assert fingerprint("x", rotated) == fingerprint("x", KEYRING)


# --- replacement_for -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "replacement"),
    [
        (redact_rule(), "<PERSON>"),
        (redact_rule(replacement="[{entity} removed]"), "[PERSON removed]"),
        (redact_rule(replacement="{entity}/{entity}"), "PERSON/PERSON"),
        (redact_rule(replacement="REDACTED"), "REDACTED"),
        (redact_rule(RedactOperator.MASK, keep=2, char="x"), "xxxx xxxth"),
        (redact_rule(RedactOperator.MASK), "**** *mith"),
    ],
)
def test_replacement_for_redact(rule: Rule, replacement: str) -> None:
    """Redact replaces with the template (entity filled in) or masks as the options say."""
    assert replacement_for("John Smith", "PERSON", rule, KEYRING) == replacement


def test_replacement_for_hash_is_the_keyed_hash() -> None:
    """The hash operator gives the keyed hash of the value."""
    rule = redact_rule(RedactOperator.HASH)
    assert replacement_for("John Smith", "PERSON", rule, KEYRING) == keyed_hash(
        "John Smith", "PERSON", KEYRING
    )


def test_replacement_for_encrypt_gives_a_decryptable_token() -> None:
    """Encrypt gives a token that decrypts to the entity and value; randomized ones differ."""
    rule = encrypt_rule()
    token = replacement_for("4111111111111111", "CREDIT_CARD", rule, KEYRING)
    assert TOKEN_PATTERN.fullmatch(token)
    assert decrypt_token(token, KEYRING) == ("CREDIT_CARD", "4111111111111111")
    assert replacement_for("4111111111111111", "CREDIT_CARD", rule, KEYRING) != token


def test_replacement_for_deterministic_encrypt_is_stable() -> None:
    """Deterministic encrypt gives the same token for the same value, so vendors can join."""
    rule = encrypt_rule(EncryptMode.DETERMINISTIC)
    token = replacement_for("4111111111111111", "CREDIT_CARD", rule, KEYRING)
    assert replacement_for("4111111111111111", "CREDIT_CARD", rule, KEYRING) == token
    assert decrypt_token(token, KEYRING) == ("CREDIT_CARD", "4111111111111111")


# --- rewrite ---------------------------------------------------------------------------------

TEXT = "Call John Smith at 212-555-0199 or mail js@example.com today"


def test_rewrite_applies_every_non_overlapping_change() -> None:
    """All non-overlapping spans are rewritten in place; the text between them is untouched."""
    changes = [
        change("PERSON", 5, 15, redact_rule()),
        change("PHONE_NUMBER", 19, 31, redact_rule(RedactOperator.MASK)),
        change("EMAIL_ADDRESS", 40, 54, redact_rule(replacement="<mail>")),
    ]
    expected = "Call <PERSON> at ***-***-0199 or mail <mail> today"
    for order in itertools.permutations(changes):
        assert rewrite(TEXT, order, KEYRING) == expected


def test_rewrite_adjacent_spans_are_both_applied() -> None:
    """Spans that touch but do not overlap are both rewritten."""
    changes = [change("A", 0, 2, redact_rule()), change("B", 2, 4, redact_rule())]
    assert rewrite("abcdef", changes, KEYRING) == "<A><B>ef"


def test_rewrite_without_changes_returns_the_text() -> None:
    """No changes leave the text as it was."""
    assert rewrite(TEXT, [], KEYRING) == TEXT


def test_rewrite_overlap_stricter_rule_wins() -> None:
    """On overlap the stricter action wins even over a higher score and a longer span."""
    text = "card 4111 1111 1111 1111 ok"
    redact = change("PHONE_NUMBER", 5, 26, redact_rule(), score=1.0)
    encrypt = change("CREDIT_CARD", 5, 24, encrypt_rule(), score=0.5)
    for order in ([redact, encrypt], [encrypt, redact]):
        out = rewrite(text, order, KEYRING)
        assert out.startswith("card ")
        assert out.endswith(" ok")
        token = out[len("card ") : -len(" ok")]
        assert decrypt_token(token, KEYRING) == ("CREDIT_CARD", "4111 1111 1111 1111")


def test_rewrite_overlap_same_action_higher_score_then_longer_span() -> None:
    """Between equally strict rules the higher score wins, then the longer span."""
    text = "John Smith"
    first = change("FIRST", 0, 4, redact_rule(), score=0.9)
    whole = change("WHOLE", 0, 10, redact_rule(), score=0.6)
    assert rewrite(text, [whole, first], KEYRING) == "<FIRST> Smith"
    longer = change("WHOLE", 0, 10, redact_rule(), score=0.9)
    assert rewrite(text, [first, longer], KEYRING) == "<WHOLE>"


def test_rewrite_keeps_a_span_that_only_overlaps_a_loser() -> None:
    """A span is dropped only when it overlaps a chosen span, not one that itself lost."""
    text = "aaaa bbbb cccc"
    winner = change("W", 0, 6, encrypt_rule(EncryptMode.DETERMINISTIC))
    loser = change("L", 5, 11, redact_rule())
    third = change("T", 10, 14, redact_rule())
    out = rewrite(text, [loser, third, winner], KEYRING)
    token = encrypt_rule_token("aaaa b", "W")
    assert out == f"{token}bbb <T>"


def encrypt_rule_token(value: str, entity: str) -> str:
    """The deterministic token for `value` under KEYRING."""
    return replacement_for(value, entity, encrypt_rule(EncryptMode.DETERMINISTIC), KEYRING)


# --- mask_pci --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("card", "masked"),
    [
        ("4111 1111 1111 1111", "4111 11** **** 1111"),
        ("4111-1111-1111-1111", "4111-11**-****-1111"),
        ("4111.1111.1111.1111", "4111.11**.****.1111"),
        ("4111111111111111", "411111******1111"),
        ("card: 4111 1111 1111 1111 ", "card: 4111 11** **** 1111 "),
        ("3782 822463 10005", "3782 82**** *0005"),  # Amex, 15 digits
        ("378282246310005", "378282*****0005"),
        ("6304 0000 0000 0000 018", "6304 00** **** ***0 018"),  # 19 digits
        ("6304000000000000018", "630400*********0018"),
        ("4222222222222", "422222***2222"),  # 13 digits: the shortest card keeps six and four
        ("123456789012", "********9012"),  # 12 digits: too short for a card, last four only
        ("12345", "*2345"),
        ("1234", "1234"),
        ("12", "12"),
        ("", ""),
    ],
)
def test_mask_pci(card: str, masked: str) -> None:
    """mask-pci keeps the first six and last four digits of a card, only the last four if short."""
    assert mask_pci(card) == masked


def test_mask_pci_uses_the_given_character() -> None:
    """The masking character can be chosen."""
    assert mask_pci("4111111111111111", "#") == "411111######1111"


def test_mask_pci_is_the_replacement_of_a_mask_pci_rule() -> None:
    """An encrypt rule in mask-pci mode masks instead of making a token."""
    rule = encrypt_rule(EncryptMode.MASK_PCI)
    masked = replacement_for("4111 1111 1111 1111", "CREDIT_CARD", rule, KEYRING)
    assert masked == "4111 11** **** 1111"
    assert not TOKEN_PATTERN.search(masked)


card_like = st.text(st.sampled_from("0123456789 -./"), max_size=40)


@given(value=st.one_of(card_like, st.text(max_size=40)))
def test_mask_pci_keeps_at_most_the_first_six_and_last_four_digits(value: str) -> None:
    """Only digits change, to '*'; no more than the first six and last four of them survive."""
    masked = mask_pci(value)
    assert len(masked) == len(value)
    digits = [i for i, c in enumerate(value) if c.isdigit()]
    allowed = set(digits[:6] + digits[-4:]) if len(digits) >= 13 else set(digits[-4:])
    for i, (before, after) in enumerate(zip(value, masked, strict=True)):
        if not before.isdigit():
            assert after == before  # separators and other characters stay where they were
        elif i in allowed:
            assert after == before
        else:
            assert after == "*"
    assert sum(c.isdigit() for c in masked) <= 10
