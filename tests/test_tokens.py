"""Tests for dlp_proxy.tokens: self-describing, authenticated, entity-bound tokens."""

from __future__ import annotations

import base64
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlp_proxy.errors import TokenError
from dlp_proxy.keys import DataKey, Keyring
from dlp_proxy.tokens import TOKEN_PATTERN, Token, decrypt_token, encrypt_value

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
