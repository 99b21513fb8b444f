"""The data keyring: the secret behind tokens, keyed hashes and log fingerprints.

One file (JSON, mode 0600) holds one or more keys. Each key has an id that travels in every
token, so keys can rotate while older tokens still decrypt. Per-purpose subkeys are derived
with HKDF so a key used for hashing is never the key used for encryption.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from dlp_proxy.errors import KeyringError

__all__ = ["DataKey", "Keyring", "create_keyring", "ensure_keyring", "load_keyring"]

KEYRING_VERSION = 1
_SECRET_BYTES = 32
_KEY_ID_RE = re.compile(r"[A-Za-z0-9]+")


@dataclass(frozen=True)
class DataKey:
    """One key of the keyring. `secret` never leaves the process in a log or error."""

    id: str
    created: str
    state: str
    secret: bytes

    def __repr__(self) -> str:
        return f"DataKey(id={self.id!r}, created={self.created!r}, state={self.state!r})"

    def subkey(self, purpose: str, length: int) -> bytes:
        """A key for one purpose (`aes-gcm`, `aes-siv`, `hash`, `fingerprint`), derived by HKDF."""
        return HKDF(
            algorithm=hashes.SHA256(),
            length=length,
            salt=None,
            info=f"dlp-proxy/v1/{purpose}".encode(),
        ).derive(self.secret)


@dataclass(frozen=True)
class Keyring:
    """The keys a gateway holds; the active one makes new tokens."""

    keys: tuple[DataKey, ...]

    @property
    def active(self) -> DataKey:
        """The key new tokens are made with."""
        for key in reversed(self.keys):
            if key.state == "active":
                return key
        raise KeyringError("the keyring has no active key; create a keyring with `dlp-proxy init`")

    def get(self, key_id: str) -> DataKey:
        """The key with id `key_id`; `KeyringError` when this keyring does not hold it."""
        for key in self.keys:
            if key.id == key_id:
                return key
        raise KeyringError(f"key {key_id!r} is not in this keyring")

    @cached_property
    def fingerprint_key(self) -> bytes:
        """The subkey for fingerprints of values in logs (stable across rotations of tokens)."""
        return self.keys[0].subkey("fingerprint", 32)


def _new_key() -> DataKey:
    now = datetime.now(UTC)
    return DataKey(
        id=f"k{now:%Y%m%d}{secrets.token_hex(3)}",
        created=now.isoformat(timespec="seconds"),
        state="active",
        secret=secrets.token_bytes(_SECRET_BYTES),
    )


def create_keyring(path: str | Path) -> Keyring:
    """Write a new keyring with one active key to `path` (owner-only) and return it."""
    path = Path(path)
    if path.exists():
        raise KeyringError(f"{path} already exists; refusing to overwrite a keyring")
    keyring = Keyring(keys=(_new_key(),))
    _write(path, keyring)
    return keyring


def ensure_keyring(path: str | Path) -> Keyring:
    """Load the keyring at `path`, creating one with a fresh key if the file is missing."""
    path = Path(path)
    return load_keyring(path) if path.exists() else create_keyring(path)


def load_keyring(path: str | Path) -> Keyring:
    """Read a keyring file; refuse one that other users can read."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
        raw = path.read_text("utf-8")
    except OSError as e:
        raise KeyringError(
            f"cannot read keyring {path}: {e.strerror}; create one with `dlp-proxy init`"
        ) from e
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyringError(
            f"keyring {path} is accessible by other users (mode {stat.S_IMODE(mode):o}); "
            f"run `chmod 600 {path}`"
        )
    try:
        data = json.loads(raw)
        keys = tuple(
            DataKey(
                id=str(k["id"]),
                created=str(k["created"]),
                state=str(k["state"]),
                secret=base64.urlsafe_b64decode(k["secret"]),
            )
            for k in data["keys"]
        )
    except (ValueError, KeyError, TypeError) as e:
        raise KeyringError(f"keyring {path} is malformed ({type(e).__name__}: {e})") from None
    if data.get("version") != KEYRING_VERSION or not keys:
        raise KeyringError(f"keyring {path} has no keys or an unknown version")
    for key in keys:
        # A short or empty secret (base64 decoding drops stray characters) would be a known
        # key; an id other than letters and digits would make tokens that cannot be decrypted.
        if len(key.secret) < _SECRET_BYTES or not _KEY_ID_RE.fullmatch(key.id):
            raise KeyringError(
                f"keyring {path} is malformed: key {key.id!r} needs an id of letters and digits "
                f"and a secret of at least {_SECRET_BYTES} bytes; restore the file from a backup"
            )
    return Keyring(keys=keys)


def _write(path: Path, keyring: Keyring) -> None:
    data = {
        "version": KEYRING_VERSION,
        "keys": [
            {
                "id": k.id,
                "created": k.created,
                "state": k.state,
                "secret": base64.urlsafe_b64encode(k.secret).decode(),
            }
            for k in keyring.keys
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
