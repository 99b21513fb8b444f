"""Self-describing encryption tokens: `dlp:v1:<key-id>:<base64url>`.

The payload is one algorithm byte, the entity type (length-prefixed, bound as associated
data so a card token cannot be passed off as an SSN token) and the ciphertext:

    randomized      0x01 | len | entity | nonce(12) | AES-256-GCM ciphertext+tag
    deterministic   0x02 | len | entity | AES-SIV ciphertext (synthetic IV first)

Deterministic tokens reveal equality (the same value gives the same token under one key): that
is what lets a vendor join records on them, and it is all they reveal.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Collection
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESSIV

from dlp_proxy.crypto.keys import DataKey, Keyring
from dlp_proxy.errors import KeyringError, TokenError

__all__ = ["TOKEN_PATTERN", "Restored", "Token", "decrypt_token", "encrypt_value", "restore_tokens"]

PREFIX = "dlp:v1:"
# How many characters after a token restore looks past to find where the token ends.
_MAX_TRAILING = 32
TOKEN_PATTERN = re.compile(r"dlp:v1:[A-Za-z0-9]+:[A-Za-z0-9_-]+")
_RANDOMIZED = 0x01
_DETERMINISTIC = 0x02


class Token(str):
    """A token string (kept a `str` so it drops into JSON, forms and text as is)."""


@dataclass(frozen=True)
class Restored:
    """Text with tokens turned back into values; how many were, and why others were not."""

    text: str
    count: int = 0
    failures: tuple[str, ...] = ()


def encrypt_value(
    value: str,
    entity: str,
    keyring: Keyring,
    deterministic: bool = False,
    key_id: str | None = None,
) -> Token:
    """Encrypt `value` under the active key (or `key_id`), binding `entity` as associated data."""
    key = keyring.for_encryption(key_id)
    entity_bytes = entity.encode("ascii")
    if len(entity_bytes) > 255:
        raise TokenError(f"entity type names are at most 255 characters (got {len(entity_bytes)})")
    aad = _aad(key.id, entity_bytes)
    header = bytes([_DETERMINISTIC if deterministic else _RANDOMIZED, len(entity_bytes)])
    # surrogatepass: a lone surrogate from a JSON escape still round-trips.
    plain = value.encode("utf-8", "surrogatepass")
    if deterministic:
        body = AESSIV(key.subkey("aes-siv", 64)).encrypt(plain, [aad])
    else:
        nonce = os.urandom(12)
        body = nonce + AESGCM(key.subkey("aes-gcm", 32)).encrypt(nonce, plain, aad)
    payload = header + entity_bytes + body
    return Token(f"{PREFIX}{key.id}:{_b64encode(payload)}")


def decrypt_token(token: str, keyring: Keyring) -> tuple[str, str]:
    """Return `(entity, value)` for a token; `TokenError` if malformed, tampered or unknown key."""
    if not TOKEN_PATTERN.fullmatch(token):
        raise TokenError("not a dlp-proxy token: expected dlp:v1:<key-id>:<base64url>")
    key_id, encoded = token[len(PREFIX) :].split(":", 1)
    try:
        key: DataKey = keyring.for_decryption(key_id)
    except KeyringError as e:
        held = any(k.id == key_id for k in keyring.keys)
        hint = "" if held else "; use the keyring that issued the token"
        raise TokenError(f"cannot decrypt: {e}{hint}") from None
    try:
        payload = _b64decode(encoded)
        algorithm, length = payload[0], payload[1]
        entity_bytes = payload[2 : 2 + length]
        body = payload[2 + length :]
        entity = entity_bytes.decode("ascii")
    except (IndexError, ValueError, binascii.Error):
        raise TokenError("token is truncated or malformed") from None
    aad = _aad(key.id, entity_bytes)
    try:
        if algorithm == _RANDOMIZED:
            nonce, ciphertext = body[:12], body[12:]
            plain = AESGCM(key.subkey("aes-gcm", 32)).decrypt(nonce, ciphertext, aad)
        elif algorithm == _DETERMINISTIC:
            plain = AESSIV(key.subkey("aes-siv", 64)).decrypt(body, [aad])
        else:
            raise TokenError(f"token uses unknown algorithm {algorithm}")
    except (InvalidTag, ValueError):
        raise TokenError(
            "token failed authentication: it was altered or made with another key"
        ) from None
    return entity, plain.decode("utf-8", "surrogatepass")


def _aad(key_id: str, entity: bytes) -> bytes:
    return PREFIX.encode() + key_id.encode() + b":" + entity


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64decode(text: str) -> bytes:
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64encode(data) != text:
        # Unused bits in the last character would let altered tokens decode as the original.
        raise ValueError("not canonical base64url")
    return data


def restore_tokens(
    text: str,
    keyring: Keyring,
    entities: Collection[str] | None = None,
    only: Collection[str] | None = None,
) -> Restored:
    """Decrypt every token in `text` made under this keyring (of `entities`, if given).

    A token of another entity type, or under a key id this keyring does not hold, is not ours
    to touch and stays. One that is ours but does not decrypt (altered, retired key) stays too,
    and its reason (never its content) is in `failures`. With `only`, tokens not in it stay.
    """
    held = {k.id for k in keyring.keys}
    count = 0
    failures: list[str] = []

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        found = match.group(0)
        key_id = found[len(PREFIX) :].split(":", 1)[0]
        if key_id not in held or (only is not None and found not in only):
            return found
        try:
            token, entity, value = _decrypt_prefix(found, keyring)
        except TokenError as e:
            failures.append(f"key {key_id}: {e}")
            return found
        if entities is not None and entity not in entities:
            return found
        count += 1
        return value + found[len(token) :]

    restored = TOKEN_PATTERN.sub(replace, text)
    return Restored(restored, count, tuple(failures))


def _decrypt_prefix(found: str, keyring: Keyring) -> tuple[str, str, str]:
    """`(token, entity, value)` for the token `found` starts with.

    Tokens have no end marker, so a token written right before a letter, digit, '-' or '_'
    matches with them. Authenticated encryption tells the true end: the whole match is tried,
    then shorter ones, and only the token itself decrypts.
    """
    try:
        return (found, *decrypt_token(found, keyring))
    except TokenError as first:
        head, encoded = found.rsplit(":", 1)
        for end in range(len(encoded) - 1, max(len(encoded) - _MAX_TRAILING, 0), -1):
            try:
                candidate = f"{head}:{encoded[:end]}"
                return (candidate, *decrypt_token(candidate, keyring))
            except TokenError:
                continue
        raise first from None
