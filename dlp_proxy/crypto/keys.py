"""The data keyring: the secret behind tokens, keyed hashes and log fingerprints.

One file (JSON, mode 0600) holds one or more keys. Each key has an id that travels in every
token, so keys can rotate while older tokens still decrypt. Per-purpose subkeys are derived
with HKDF so a key used for hashing is never the key used for encryption.

A key is `active` (it makes new tokens; one at a time), `decrypt-only` (rotated out: its tokens
still decrypt) or `retired` (its tokens no longer decrypt). The keyring can also come from an
environment variable (`env:NAME`, the same JSON), for secrets managers; a mounted secret file
is read like any keyring file. Secrets never appear in a repr, a log line or an error.
"""

from __future__ import annotations

import base64
import enum
import json
import os
import re
import secrets
import stat
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from dlp_proxy.errors import KeyringError

__all__ = [
    "ALGORITHM",
    "DataKey",
    "KeyState",
    "Keyring",
    "create_keyring",
    "ensure_keyring",
    "load_keyring",
    "open_keyring",
    "replace_file",
    "save_keyring",
]

KEYRING_VERSION = 1
# 256-bit secrets; tokens use HKDF-SHA256 subkeys for AES-256-GCM and AES-SIV (512-bit key).
ALGORITHM = "aes-256-gcm+aes-siv/hkdf-sha256"
ENV_PREFIX = "env:"
_SECRET_BYTES = 32
_KEY_ID_RE = re.compile(r"[A-Za-z0-9]+")


class KeyState(enum.StrEnum):
    """Where a key is in its life: it makes tokens, only decrypts them, or neither."""

    ACTIVE = "active"
    DECRYPT_ONLY = "decrypt-only"
    RETIRED = "retired"


@dataclass(frozen=True)
class DataKey:
    """One key of the keyring. `secret` never leaves the process in a log or error."""

    id: str
    created: str
    state: str
    secret: bytes
    algorithm: str = ALGORITHM

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

    def __repr__(self) -> str:
        return f"Keyring({', '.join(f'{k.id}:{k.state}' for k in self.keys)})"

    @property
    def active(self) -> DataKey:
        """The key new tokens are made with."""
        for key in reversed(self.keys):
            if key.state == KeyState.ACTIVE:
                return key
        raise KeyringError("the keyring has no active key; make one with `dlp-proxy keys rotate`")

    def get(self, key_id: str) -> DataKey:
        """The key with id `key_id`, whatever its state; `KeyringError` when it is not held."""
        for key in self.keys:
            if key.id == key_id:
                return key
        raise KeyringError(f"key {key_id!r} is not in this keyring")

    def for_encryption(self, key_id: str | None = None) -> DataKey:
        """The key to make a new token with: the active one, or the key a rule pins.

        A rule pins a key (`encrypt.key`) so a vendor joining on deterministic tokens keeps
        getting the same ones after a rotation; a pinned key still encrypts when it is
        decrypt-only, never once it is retired.
        """
        if key_id is None:
            return self.active
        key = self.get(key_id)
        if key.state == KeyState.RETIRED:
            raise KeyringError(
                f"key {key_id!r} is retired and makes no tokens; point encrypt.key at another "
                f"key (the active one is {self.active.id}) or leave encrypt.key out"
            )
        return key

    def for_decryption(self, key_id: str) -> DataKey:
        """The key to open a token made under `key_id`; `KeyringError` if it is retired."""
        key = self.get(key_id)
        if key.state == KeyState.RETIRED:
            raise KeyringError(
                f"key {key_id!r} is retired: tokens made with it can no longer be decrypted"
            )
        return key

    def rotated(self) -> Keyring:
        """A copy with a new active key; the previous active key becomes decrypt-only."""
        keys = tuple(
            replace(k, state=KeyState.DECRYPT_ONLY) if k.state == KeyState.ACTIVE else k
            for k in self.keys
        )
        return Keyring(keys=(*keys, _new_key()))

    def retired(self, key_id: str) -> Keyring:
        """A copy with `key_id` retired; the active key cannot be (rotate first)."""
        key = self.get(key_id)
        if key.state == KeyState.ACTIVE:
            raise KeyringError(
                f"key {key_id!r} is the active key; run `dlp-proxy keys rotate` first, then "
                "retire it once no token made with it needs decrypting"
            )
        return Keyring(
            keys=tuple(replace(k, state=KeyState.RETIRED) if k is key else k for k in self.keys)
        )

    @cached_property
    def fingerprint_key(self) -> bytes:
        """The subkey for fingerprints of values in logs (stable across rotations of tokens)."""
        return self.keys[0].subkey("fingerprint", 32)


def _new_key() -> DataKey:
    now = datetime.now(UTC)
    return DataKey(
        id=f"k{now:%Y%m%d}{secrets.token_hex(3)}",
        created=now.isoformat(timespec="seconds"),
        state=KeyState.ACTIVE,
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


def open_keyring(source: str | Path) -> Keyring:
    """The keyring from a file path, or from an environment variable given as `env:NAME`."""
    text = str(source)
    if not text.startswith(ENV_PREFIX):
        return load_keyring(text)
    name = text[len(ENV_PREFIX) :]
    raw = os.environ.get(name)
    if not raw:
        raise KeyringError(
            f"environment variable {name} is not set or empty; it must hold the keyring JSON "
            "(as written by `dlp-proxy keys init`)"
        )
    return _parse(raw, f"environment variable {name}")


def load_keyring(path: str | Path) -> Keyring:
    """Read a keyring file; refuse one that other users can read."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
        raw = path.read_text("utf-8")
    except OSError as e:
        raise KeyringError(
            f"cannot read keyring {path}: {e.strerror}; create one with `dlp-proxy keys init`"
        ) from e
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyringError(
            f"keyring {path} is accessible by other users (mode {stat.S_IMODE(mode):o}); "
            f"run `chmod 600 {path}` (for a Kubernetes secret, mount it with defaultMode 0400)"
        )
    return _parse(raw, f"keyring {path}")


def _parse(raw: str, where: str) -> Keyring:
    """A keyring from its JSON text; errors name `where`, never a secret."""
    try:
        data = json.loads(raw)
        keys = tuple(
            DataKey(
                id=str(k["id"]),
                created=str(k["created"]),
                state=KeyState(k["state"]),
                secret=base64.urlsafe_b64decode(k["secret"]),
                algorithm=str(k.get("algorithm", ALGORITHM)),
            )
            for k in data["keys"]
        )
    except (ValueError, KeyError, TypeError) as e:
        # These messages give positions and lengths, never the text that failed to parse.
        raise KeyringError(f"{where} is malformed ({type(e).__name__}: {e})") from None
    if data.get("version") != KEYRING_VERSION or not keys:
        raise KeyringError(f"{where} has no keys or an unknown version")
    for key in keys:
        # A short or empty secret (base64 decoding drops stray characters) would be a known
        # key; an id other than letters and digits would make tokens that cannot be decrypted.
        if len(key.secret) < _SECRET_BYTES or not _KEY_ID_RE.fullmatch(key.id):
            raise KeyringError(
                f"{where} is malformed: key {key.id!r} needs an id of letters and digits "
                f"and a secret of at least {_SECRET_BYTES} bytes; restore it from a backup"
            )
        if key.algorithm != ALGORITHM:
            raise KeyringError(
                f"{where}: key {key.id!r} is for algorithm {key.algorithm!r}; this dlp-proxy "
                f"uses {ALGORITHM}"
            )
    if sum(k.state == KeyState.ACTIVE for k in keys) > 1:
        raise KeyringError(f"{where} has more than one active key; keep one active")
    return Keyring(keys=keys)


def save_keyring(path: str | Path, keyring: Keyring) -> None:
    """Replace the keyring file at `path` atomically, owner-only, so a crash never loses it."""
    replace_file(path, _serialise(keyring))


def replace_file(path: str | Path, text: str) -> None:
    """Write `text` to `path` whole, owner-only (0600), synced, then renamed over the old file.

    A reader (a running gateway) sees the old file or the new one, never half of one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _serialise(keyring: Keyring) -> str:
    data = {
        "version": KEYRING_VERSION,
        "keys": [
            {
                "id": k.id,
                "algorithm": k.algorithm,
                "created": k.created,
                "state": str(k.state),
                "secret": base64.urlsafe_b64encode(k.secret).decode(),
            }
            for k in keyring.keys
        ],
    }
    return json.dumps(data, indent=2) + "\n"


def _write(path: Path, keyring: Keyring) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(_serialise(keyring))
