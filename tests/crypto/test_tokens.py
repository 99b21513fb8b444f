"""Tests for dlp_proxy/crypto/tokens.py: self-describing, authenticated, entity-bound tokens."""

from __future__ import annotations

import base64
import re
import stat
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from dlp_proxy.crypto.keys import (
    DataKey,
    Keyring,
    KeyState,
    create_keyring,
    load_keyring,
    save_keyring,
)
from dlp_proxy.crypto.tokens import (
    TOKEN_PATTERN,
    Restored,
    Token,
    decrypt_token,
    encrypt_value,
    restore_tokens,
)
from dlp_proxy.errors import PolicyError, TokenError
from dlp_proxy.policy.loader import parse_policy

KEYRING = Keyring(
    keys=(DataKey(id="k20250101abcdef", created="x", state="active", secret=b"\x01" * 32),)
)
OTHER_KEYRING = Keyring(
    keys=(DataKey(id="k20250101abcdef", created="x", state="active", secret=b"\x02" * 32),)
)
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

entities = st.from_regex(r"[A-Z_]{1,40}", fullmatch=True)
values = st.text(max_size=200)


def split(token: str) -> tuple[str, str]:
    """The `dlp:v1:<key-id>:` prefix and the base64url payload of a token."""
    prefix, _, payload = token.rpartition(":")
    return prefix + ":", payload


def b64decode(text: str) -> bytes:
    """Decode unpadded base64url."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64encode(data: bytes) -> str:
    """Encode as unpadded base64url, as tokens are written."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@given(value=values, entity=entities, deterministic=st.booleans())
def test_round_trip(value: str, entity: str, deterministic: bool) -> None:
    """Any text under any entity name decrypts back to (entity, value), in both modes."""
    token = encrypt_value(value, entity, KEYRING, deterministic=deterministic)
    assert isinstance(token, Token)
    assert decrypt_token(token, KEYRING) == (entity, value)


@given(value=values, entity=entities, deterministic=st.booleans())
def test_token_format(value: str, entity: str, deterministic: bool) -> None:
    """A token is `dlp:v1:<key-id>:<base64url>` and matches TOKEN_PATTERN exactly."""
    token = encrypt_value(value, entity, KEYRING, deterministic=deterministic)
    assert re.fullmatch(r"dlp:v1:k20250101abcdef:[A-Za-z0-9_-]+", token)
    assert TOKEN_PATTERN.fullmatch(token)


@given(value=values, entity=entities)
def test_randomized_tokens_differ_per_call(value: str, entity: str) -> None:
    """Randomized encryption of the same value gives a different token every time."""
    assert encrypt_value(value, entity, KEYRING) != encrypt_value(value, entity, KEYRING)


@given(value=values, entity=entities)
def test_deterministic_tokens_are_equal_per_value(value: str, entity: str) -> None:
    """Deterministic encryption gives the same token for the same value, entity and key."""
    first = encrypt_value(value, entity, KEYRING, deterministic=True)
    assert encrypt_value(value, entity, KEYRING, deterministic=True) == first
    assert encrypt_value(value + "x", entity, KEYRING, deterministic=True) != first
    assert encrypt_value(value, entity + "X", KEYRING, deterministic=True) != first
    assert encrypt_value(value, entity, OTHER_KEYRING, deterministic=True) != first


def test_token_does_not_contain_the_value() -> None:
    """The value cannot be read off a token, in either mode."""
    for deterministic in (False, True):
        token = encrypt_value("4111111111111111", "CREDIT_CARD", KEYRING, deterministic)
        payload = b64decode(split(token)[1])
        assert b"4111111111111111" not in payload
        assert "4111111111111111" not in token


@given(
    value=values,
    entity=entities,
    deterministic=st.booleans(),
    position=st.integers(min_value=0),
    replacement=st.sampled_from(B64URL),
)
def test_any_altered_payload_character_is_rejected(
    value: str, entity: str, deterministic: bool, position: int, replacement: str
) -> None:
    """Changing any one character of the payload makes decryption fail with TokenError."""
    prefix, payload = split(encrypt_value(value, entity, KEYRING, deterministic=deterministic))
    index = position % len(payload)
    if payload[index] == replacement:
        replacement = B64URL[(B64URL.index(replacement) + 1) % len(B64URL)]
    altered = payload[:index] + replacement + payload[index + 1 :]
    with pytest.raises(TokenError):
        decrypt_token(prefix + altered, KEYRING)


@pytest.mark.parametrize("deterministic", [False, True])
@pytest.mark.parametrize("value", ["", "a", "ab", "abc"])
def test_every_other_last_character_is_rejected(deterministic: bool, value: str) -> None:
    """No other final character decodes to the same payload (unused base64 bits are checked)."""
    prefix, payload = split(encrypt_value(value, "PERSON", KEYRING, deterministic=deterministic))
    for replacement in B64URL.replace(payload[-1], ""):
        with pytest.raises(TokenError):
            decrypt_token(prefix + payload[:-1] + replacement, KEYRING)


@given(value=values, deterministic=st.booleans())
def test_truncated_or_extended_payload_is_rejected(value: str, deterministic: bool) -> None:
    """Dropping or adding payload characters makes decryption fail with TokenError."""
    prefix, payload = split(encrypt_value(value, "PERSON", KEYRING, deterministic=deterministic))
    for altered in (payload[:-1], payload[:-4], payload[:2], payload + "A", payload + "AAAA"):
        with pytest.raises(TokenError):
            decrypt_token(prefix + altered, KEYRING)


def test_wrong_keyring_names_the_key_id() -> None:
    """A token from another keyring fails with TokenError naming the missing key id."""
    token = encrypt_value("x", "PERSON", KEYRING)
    stranger = Keyring(
        keys=(DataKey(id="kother", created="x", state="active", secret=b"\x03" * 32),)
    )
    with pytest.raises(
        TokenError,
        match=r"cannot decrypt: key 'k20250101abcdef' is not in this keyring; use the keyring "
        r"that issued the token",
    ):
        decrypt_token(token, stranger)


@pytest.mark.parametrize("deterministic", [False, True])
def test_same_key_id_with_another_secret_fails_authentication(deterministic: bool) -> None:
    """A keyring reusing the key id with a different secret cannot decrypt the token."""
    token = encrypt_value("x", "PERSON", KEYRING, deterministic=deterministic)
    with pytest.raises(
        TokenError, match="failed authentication: it was altered or made with another key"
    ):
        decrypt_token(token, OTHER_KEYRING)


def test_old_tokens_decrypt_after_rotation() -> None:
    """After rotation old tokens still decrypt and new tokens carry the new key id."""
    (old,) = KEYRING.keys
    rotated = Keyring(
        keys=(old, DataKey(id="knew", created="y", state="active", secret=b"\x04" * 32))
    )
    old_token = encrypt_value("x", "PERSON", KEYRING)
    assert decrypt_token(old_token, rotated) == ("PERSON", "x")
    new_token = encrypt_value("y", "PERSON", rotated)
    assert new_token.startswith("dlp:v1:knew:")
    assert decrypt_token(new_token, rotated) == ("PERSON", "y")


@pytest.mark.parametrize("deterministic", [False, True])
@pytest.mark.parametrize("new_entity", ["US_SSN", "CREDIT_CAR", "CREDIT_CARDS", "PERSON"])
def test_entity_type_is_bound(deterministic: bool, new_entity: str) -> None:
    """Re-labelling the entity inside a payload (same or other length) fails authentication."""
    prefix, payload = split(
        encrypt_value("4111111111111111", "CREDIT_CARD", KEYRING, deterministic)
    )
    raw = b64decode(payload)
    algorithm, length = raw[0], raw[1]
    assert raw[2 : 2 + length] == b"CREDIT_CARD"
    relabelled = bytes([algorithm, len(new_entity)]) + new_entity.encode() + raw[2 + length :]
    with pytest.raises(TokenError, match="failed authentication"):
        decrypt_token(prefix + b64encode(relabelled), KEYRING)


def test_the_key_id_is_bound() -> None:
    """A payload moved under another id of the same secret fails: the key id is authenticated."""
    twin = Keyring(
        keys=(
            KEYRING.keys[0],
            DataKey(id="ktwin", created="x", state="active", secret=KEYRING.keys[0].secret),
        )
    )
    _, payload = split(encrypt_value("x", "PERSON", KEYRING))
    with pytest.raises(TokenError, match="failed authentication"):
        decrypt_token(f"dlp:v1:ktwin:{payload}", twin)


def test_unknown_algorithm_byte_is_rejected() -> None:
    """A payload whose algorithm byte is neither randomized nor deterministic is refused."""
    prefix, payload = split(encrypt_value("x", "PERSON", KEYRING))
    raw = b64decode(payload)
    with pytest.raises(TokenError, match="unknown algorithm 7"):
        decrypt_token(prefix + b64encode(bytes([7]) + raw[1:]), KEYRING)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not a dlp-proxy token: expected dlp:v1:<key-id>:<base64url>"),
        ("4111111111111111", "not a dlp-proxy token"),
        ("dlp:v2:k1:AAAA", "not a dlp-proxy token"),
        ("dlp:v1:k1", "not a dlp-proxy token"),
        ("dlp:v1::AAAA", "not a dlp-proxy token"),
        ("dlp:v1:k1:AA==", "not a dlp-proxy token"),
        ("dlp:v1:k1:AA AA", "not a dlp-proxy token"),
        (" dlp:v1:k20250101abcdef:AAAA", "not a dlp-proxy token"),
        ("dlp:v1:k20250101abcdef:A", "truncated or malformed"),
        ("dlp:v1:k20250101abcdef:AA", "truncated or malformed"),
        ("dlp:v1:k20250101abcdef:AQA", "failed authentication"),
        ("dlp:v1:k20250101abcdef:AgVQRVJTT04", "failed authentication"),
        ("dlp:v1:k20250101abcdef:AQVQRVJTT04" + "A" * 40, "failed authentication"),
        ("dlp:v1:k20250101abcdef:AQX_____", "truncated or malformed"),
        ("dlp:v1:nokey:AAAA", "key 'nokey' is not in this keyring"),
    ],
)
def test_garbage_is_rejected(text: str, message: str) -> None:
    """Strings that are not well-formed tokens raise TokenError, never another exception."""
    with pytest.raises(TokenError, match=re.escape(message)):
        decrypt_token(text, KEYRING)


@given(text=st.text(max_size=80))
def test_arbitrary_text_raises_only_token_error(text: str) -> None:
    """decrypt_token on arbitrary text raises TokenError and nothing else."""
    with pytest.raises(TokenError):
        decrypt_token(text, KEYRING)


@given(payload=st.text(alphabet=B64URL, max_size=120))
def test_arbitrary_payload_raises_only_token_error(payload: str) -> None:
    """Any base64url payload under a known key id raises TokenError and nothing else."""
    with pytest.raises(TokenError):
        decrypt_token(f"dlp:v1:k20250101abcdef:{payload}", KEYRING)


# --- round trips over every value and every entity name ----------------------------------------

# The entity names a policy accepts (`[A-Z][A-Z0-9_]*`), up to the 255 bytes a token can bind.
policy_entities = st.from_regex(r"[A-Z][A-Z0-9_]{0,254}", fullmatch=True)
# Any Unicode text (lone surrogates excluded: they cannot be encoded, see test_inspection.py).
unicode_values = st.text(st.characters(codec="utf-8"), max_size=300)
RING_PATH = "dlp-keyring.json"


@given(value=unicode_values, entity=policy_entities, deterministic=st.booleans())
def test_round_trip_of_any_unicode_value_and_policy_entity_name(
    value: str, entity: str, deterministic: bool
) -> None:
    """Any Unicode value under any entity name a policy allows decrypts back, in both modes."""
    token = encrypt_value(value, entity, KEYRING, deterministic=deterministic)
    assert TOKEN_PATTERN.fullmatch(token)
    assert decrypt_token(token, KEYRING) == (entity, value)


@given(value=unicode_values, entity=st.text(max_size=300), deterministic=st.booleans())
def test_any_entity_name_either_round_trips_or_makes_no_token(
    value: str, entity: str, deterministic: bool
) -> None:
    """An entity name a token cannot bind (not ASCII, too long) is refused, never mis-encoded."""
    try:
        token = encrypt_value(value, entity, KEYRING, deterministic=deterministic)
    except ValueError:
        assert not entity.isascii() or len(entity) > 255
        return
    assert decrypt_token(token, KEYRING) == (entity, value)


@pytest.mark.parametrize(
    "value",
    ["", "\x00", "Zoë Ångström", "山田太郎", "🙂 emoji", "a\r\nb\tc", "x" * 10_000, "dlp:v1:k:A"],
)
@pytest.mark.parametrize("deterministic", [False, True])
def test_round_trip_of_edge_values(value: str, deterministic: bool) -> None:
    """Empty, control, non-Latin, astral, very long and token-like values all round-trip."""
    token = encrypt_value(value, "PERSON", KEYRING, deterministic=deterministic)
    assert decrypt_token(token, KEYRING) == ("PERSON", value)


def test_every_entity_name_a_policy_accepts_can_be_bound_into_a_token() -> None:
    """An entity name a policy accepts is either refused by the policy or round-trips."""
    entity = "A" * 256
    policy = f"""
version: 1
name: long-entity
detectors:
  - {{id: long, entity: {entity}, patterns: [{{name: p, regex: 'C-[0-9]+', score: 0.9}}]}}
rules:
  - {{id: r, entities: [{entity}], action: encrypt}}
"""
    try:
        parse_policy(policy)
    except PolicyError:
        return  # refused where it is written: fixed in the policy
    token = encrypt_value("C-1234", entity, KEYRING)
    assert decrypt_token(token, KEYRING) == (entity, "C-1234")


# --- tampering ---------------------------------------------------------------------------------


@given(
    value=values,
    entity=entities,
    deterministic=st.booleans(),
    position=st.integers(min_value=0),
    replacement=st.characters(),
)
def test_any_altered_character_of_the_whole_token_is_rejected(
    value: str, entity: str, deterministic: bool, position: int, replacement: str
) -> None:
    """Replacing any one character of a token (prefix, key id, payload) by any other fails."""
    token = encrypt_value(value, entity, KEYRING, deterministic=deterministic)
    index = position % len(token)
    if token[index] == replacement:
        replacement = chr(ord(replacement) + 1)
    with pytest.raises(TokenError):
        decrypt_token(token[:index] + replacement + token[index + 1 :], KEYRING)


@given(
    value=values,
    deterministic=st.booleans(),
    position=st.integers(min_value=0),
    bit=st.integers(min_value=0, max_value=7),
)
def test_any_flipped_bit_of_the_payload_bytes_is_rejected(
    value: str, deterministic: bool, position: int, bit: int
) -> None:
    """Flipping any bit of any payload byte (header, entity, nonce, ciphertext, tag) fails."""
    prefix, payload = split(encrypt_value(value, "EMAIL_ADDRESS", KEYRING, deterministic))
    raw = bytearray(b64decode(payload))
    raw[position % len(raw)] ^= 1 << bit
    with pytest.raises(TokenError):
        decrypt_token(prefix + b64encode(bytes(raw)), KEYRING)


@given(value=values, deterministic=st.booleans(), position=st.integers(min_value=0))
def test_any_deleted_character_is_rejected(value: str, deterministic: bool, position: int) -> None:
    """Deleting any one character of a token makes it fail."""
    token = encrypt_value(value, "PERSON", KEYRING, deterministic=deterministic)
    index = position % len(token)
    with pytest.raises(TokenError):
        decrypt_token(token[:index] + token[index + 1 :], KEYRING)


# --- the wrong key, a retired key --------------------------------------------------------------


@pytest.mark.parametrize("deterministic", [False, True])
def test_a_keyring_without_the_key_id_says_which_key_and_what_to_do(deterministic: bool) -> None:
    """Another keyring's token fails naming the key id it lacks and the fix, not the value."""
    token = encrypt_value("4111111111111111", "CREDIT_CARD", KEYRING, deterministic)
    stranger = Keyring(
        keys=(DataKey(id="kstranger", created="x", state="active", secret=b"\x05" * 32),)
    )
    with pytest.raises(TokenError) as caught:
        decrypt_token(token, stranger)
    assert str(caught.value) == (
        "cannot decrypt: key 'k20250101abcdef' is not in this keyring; "
        "use the keyring that issued the token"
    )


@pytest.mark.parametrize("deterministic", [False, True])
def test_the_same_key_id_with_another_secret_reveals_nothing(deterministic: bool) -> None:
    """A same-id key with another secret fails authentication; the error quotes no secret."""
    token = encrypt_value("4111111111111111", "CREDIT_CARD", KEYRING, deterministic)
    with pytest.raises(TokenError) as caught:
        decrypt_token(token, OTHER_KEYRING)
    message = str(caught.value)
    assert message == "token failed authentication: it was altered or made with another key"
    for secret in (KEYRING.keys[0].secret, OTHER_KEYRING.keys[0].secret):
        assert secret.hex() not in message
        assert base64.urlsafe_b64encode(secret).decode().rstrip("=") not in message


@pytest.mark.parametrize("deterministic", [False, True])
def test_a_retired_key_no_longer_decrypts_and_the_error_says_so(deterministic: bool) -> None:
    """Once its key is retired a token fails with TokenError naming the retirement."""
    old_id = KEYRING.active.id
    token = encrypt_value("maria@example.com", "EMAIL_ADDRESS", KEYRING, deterministic)
    rotated = KEYRING.rotated()
    assert decrypt_token(token, rotated) == ("EMAIL_ADDRESS", "maria@example.com")
    retired = rotated.retired(old_id)
    with pytest.raises(TokenError) as caught:
        decrypt_token(token, retired)
    assert str(caught.value) == (
        f"cannot decrypt: key '{old_id}' is retired: tokens made with it can no longer be decrypted"
    )
    fresh = encrypt_value("maria@example.com", "EMAIL_ADDRESS", retired, deterministic)
    assert decrypt_token(fresh, retired) == ("EMAIL_ADDRESS", "maria@example.com")


# --- rotation ----------------------------------------------------------------------------------


@pytest.mark.parametrize("deterministic", [False, True])
def test_rotation_keeps_old_tokens_and_moves_new_ones_to_the_new_key(deterministic: bool) -> None:
    """After `rotated()` old tokens decrypt (key decrypt-only) and new ones carry the new id."""
    old_id = KEYRING.active.id
    before = encrypt_value("4111 1111 1111 1111", "CREDIT_CARD", KEYRING, deterministic)
    once = KEYRING.rotated()
    twice = once.rotated()
    new_id = twice.active.id
    assert len({old_id, once.active.id, new_id}) == 3
    assert twice.get(old_id).state == KeyState.DECRYPT_ONLY
    assert twice.get(once.active.id).state == KeyState.DECRYPT_ONLY
    middle = encrypt_value("4111 1111 1111 1111", "CREDIT_CARD", once, deterministic)
    after = encrypt_value("4111 1111 1111 1111", "CREDIT_CARD", twice, deterministic)
    assert before.startswith(f"dlp:v1:{old_id}:")
    assert middle.startswith(f"dlp:v1:{once.active.id}:")
    assert after.startswith(f"dlp:v1:{new_id}:")
    for token in (before, middle, after):
        assert decrypt_token(token, twice) == ("CREDIT_CARD", "4111 1111 1111 1111")
    with pytest.raises(TokenError, match="is not in this keyring"):
        decrypt_token(after, KEYRING)


def test_rotation_changes_deterministic_tokens_unless_the_old_key_is_pinned() -> None:
    """A new key gives new deterministic tokens; pinning the old key keeps the old ones."""
    old_id = KEYRING.active.id
    before = encrypt_value("4111111111111111", "CREDIT_CARD", KEYRING, deterministic=True)
    rotated = KEYRING.rotated()
    assert encrypt_value("4111111111111111", "CREDIT_CARD", rotated, deterministic=True) != before
    pinned = encrypt_value(
        "4111111111111111", "CREDIT_CARD", rotated, deterministic=True, key_id=old_id
    )
    assert pinned == before


# --- deterministic tokens across restarts ------------------------------------------------------


def test_deterministic_tokens_are_equal_across_restarts(tmp_path: Path) -> None:
    """A keyring saved and loaded again (a restart) gives the same token per value and entity."""
    first_path, second_path = tmp_path / "a" / RING_PATH, tmp_path / "b" / RING_PATH
    created = create_keyring(first_path)
    token = encrypt_value("4111111111111111", "CREDIT_CARD", created, deterministic=True)
    loaded = load_keyring(first_path)
    assert encrypt_value("4111111111111111", "CREDIT_CARD", loaded, deterministic=True) == token
    save_keyring(second_path, loaded)
    assert stat.S_IMODE(second_path.stat().st_mode) == 0o600
    again = load_keyring(second_path)
    assert encrypt_value("4111111111111111", "CREDIT_CARD", again, deterministic=True) == token
    assert decrypt_token(token, again) == ("CREDIT_CARD", "4111111111111111")
    other_entity = encrypt_value("4111111111111111", "US_BANK_NUMBER", again, deterministic=True)
    assert other_entity != token
    other_value = encrypt_value("4111111111111112", "CREDIT_CARD", again, deterministic=True)
    assert other_value != token


def test_a_rotated_keyring_saved_and_loaded_still_opens_old_tokens(tmp_path: Path) -> None:
    """Rotation survives save and load: old tokens decrypt, new ones use the new key."""
    path = tmp_path / RING_PATH
    created = create_keyring(path)
    old = encrypt_value("maria@example.com", "EMAIL_ADDRESS", created)
    save_keyring(path, load_keyring(path).rotated())
    reloaded = load_keyring(path)
    assert reloaded.active.id != created.active.id
    assert decrypt_token(old, reloaded) == ("EMAIL_ADDRESS", "maria@example.com")
    new = encrypt_value("maria@example.com", "EMAIL_ADDRESS", reloaded)
    assert new.startswith(f"dlp:v1:{reloaded.active.id}:")


# --- entity binding ----------------------------------------------------------------------------


@given(value=values, entity=policy_entities, other=policy_entities, deterministic=st.booleans())
def test_no_token_can_be_relabelled_to_another_entity(
    value: str, entity: str, other: str, deterministic: bool
) -> None:
    """Rewriting the entity inside a token's payload to any other name fails authentication."""
    assume(other != entity)
    prefix, payload = split(encrypt_value(value, entity, KEYRING, deterministic))
    raw = b64decode(payload)
    body = raw[2 + raw[1] :]
    relabelled = bytes([raw[0], len(other)]) + other.encode() + body
    with pytest.raises(TokenError, match="failed authentication"):
        decrypt_token(prefix + b64encode(relabelled), KEYRING)


# --- restore_tokens ----------------------------------------------------------------------------

CARD = "4111 1111 1111 1111"
EMAIL = "maria@example.com"
STRANGER = Keyring(keys=(DataKey(id="kforeign", created="x", state="active", secret=b"\x09" * 32),))


def test_restore_turns_this_keyrings_tokens_back_and_counts_them() -> None:
    """Every token of this keyring in a text is replaced by its value; the rest is untouched."""
    card = encrypt_value(CARD, "CREDIT_CARD", KEYRING, deterministic=True)
    email = encrypt_value(EMAIL, "EMAIL_ADDRESS", KEYRING)
    restored = restore_tokens(f"card {card}, mail {email}; card again {card}.", KEYRING)
    assert restored == Restored(f"card {CARD}, mail {EMAIL}; card again {CARD}.", 3, ())


def test_restore_leaves_foreign_tokens_alone_without_calling_them_failures() -> None:
    """A token under a key id this keyring does not hold is not ours: kept, not a failure."""
    foreign = encrypt_value(CARD, "CREDIT_CARD", STRANGER)
    ours = encrypt_value(EMAIL, "EMAIL_ADDRESS", KEYRING)
    unknown = "dlp:v1:knothere:AAAA"
    restored = restore_tokens(f"{foreign} {ours} {unknown}", KEYRING)
    assert restored == Restored(f"{foreign} {EMAIL} {unknown}", 1, ())


def test_restore_leaves_tokens_of_other_entity_types_alone() -> None:
    """With `entities` given, a valid token of another entity type stays and is no failure."""
    card = encrypt_value(CARD, "CREDIT_CARD", KEYRING)
    email = encrypt_value(EMAIL, "EMAIL_ADDRESS", KEYRING)
    restored = restore_tokens(f"{card} {email}", KEYRING, entities={"CREDIT_CARD"})
    assert restored == Restored(f"{CARD} {email}", 1, ())
    assert restore_tokens(f"{card} {email}", KEYRING, entities=set()) == Restored(
        f"{card} {email}", 0, ()
    )


@pytest.mark.parametrize("deterministic", [False, True])
def test_restore_leaves_failed_tokens_and_says_why_by_key_id(deterministic: bool) -> None:
    """A tampered token and a retired key's token stay as they are, each with a reason."""
    old_id = KEYRING.active.id
    old = encrypt_value(CARD, "CREDIT_CARD", KEYRING, deterministic)
    rotated = KEYRING.rotated()
    current = encrypt_value(EMAIL, "EMAIL_ADDRESS", rotated, deterministic)
    prefix, payload = split(encrypt_value(CARD, "CREDIT_CARD", rotated, deterministic))
    tampered = prefix + payload[:-3] + ("A" if payload[-3] != "A" else "B") + payload[-2:]
    keyring = rotated.retired(old_id)
    restored = restore_tokens(f"{old} | {tampered} | {current}", keyring)
    assert restored.text == f"{old} | {tampered} | {EMAIL}"
    assert restored.count == 1
    assert restored.failures == (
        f"key {old_id}: cannot decrypt: key '{old_id}' is retired: tokens made with it can no "
        "longer be decrypted",
        f"key {rotated.active.id}: token failed authentication: it was altered or made with "
        "another key",
    )


def test_restore_counts_a_failed_token_whatever_entity_type_it_claims() -> None:
    """A token of ours that fails is a failure even if it claims a type not restored."""
    prefix, payload = split(encrypt_value(EMAIL, "EMAIL_ADDRESS", KEYRING))
    tampered = prefix + payload[:-3] + ("A" if payload[-3] != "A" else "B") + payload[-2:]
    restored = restore_tokens(tampered, KEYRING, entities={"CREDIT_CARD"})
    assert restored.text == tampered
    assert restored.count == 0
    assert len(restored.failures) == 1


@given(
    value=st.text(st.characters(codec="utf-8"), min_size=8, max_size=60),
    deterministic=st.booleans(),
    position=st.integers(min_value=0),
)
def test_restore_failure_reasons_never_hold_the_plaintext(
    value: str, deterministic: bool, position: int
) -> None:
    """Whatever the value and wherever a token was altered, the failure reason omits the value."""
    prefix, payload = split(encrypt_value(value, "PERSON", KEYRING, deterministic))
    index = position % len(payload)
    replacement = "A" if payload[index] != "A" else "B"
    tampered = prefix + payload[:index] + replacement + payload[index + 1 :]
    restored = restore_tokens(f"x {tampered} y", KEYRING)
    assert restored.count == 0
    assert restored.text == f"x {tampered} y"
    assert len(restored.failures) == 1
    assert value not in restored.failures[0]


@given(
    parts=st.lists(
        st.tuples(
            st.text(st.characters(codec="utf-8"), max_size=20),
            st.sampled_from(["CREDIT_CARD", "EMAIL_ADDRESS", "PERSON"]),
            st.booleans(),
        ),
        max_size=6,
    ),
    gap=st.sampled_from([" ", ", ", "\n", "; ", "\t", '"', "."]),
)
def test_restore_round_trips_text_with_tokens_between_separators(
    parts: list[tuple[str, str, bool]], gap: str
) -> None:
    """Values replaced by tokens between separators come back exactly, each counted."""
    original = gap.join(value for value, _, _ in parts)
    tokenised = gap.join(
        encrypt_value(value, entity, KEYRING, deterministic)
        for value, entity, deterministic in parts
    )
    assert restore_tokens(tokenised, KEYRING) == Restored(original, len(parts), ())


@pytest.mark.parametrize("after", ["-2", "_old", "abc", "9"])
def test_a_token_followed_by_a_base64url_character_is_restored(after: str) -> None:
    """A value followed directly by '-', '_', a letter or a digit comes back after restore."""
    token = encrypt_value("4111111111111111", "CREDIT_CARD", KEYRING, deterministic=True)
    restored = restore_tokens(f"order {token}{after} shipped", KEYRING)
    assert restored == Restored(f"order 4111111111111111{after} shipped", 1, ())
