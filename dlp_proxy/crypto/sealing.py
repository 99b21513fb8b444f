"""Evidence sealed to responders' public keys: the gateway can write it and never read it.

An incident's evidence (the blocked body, or the matched snippets) is encrypted once with a
random content key (AES-256-GCM, the incident id as associated data, so evidence moved to
another incident does not open). The content key is then wrapped for each responder: an
ephemeral X25519 key pair per recipient, the shared secret through HKDF-SHA256 (salt: the
ephemeral and the recipient's public keys) to a key-encryption key, and AES-256-GCM again.
Every primitive is one browsers' WebCrypto has, so the console opens evidence in the page,
with a private key file that never leaves the responder's machine.

Keys on disk and on the command line:

- a private key is a PKCS#8 PEM file (`-----BEGIN PRIVATE KEY-----`), readable by its owner
  only; WebCrypto imports the same bytes (`importKey("pkcs8", ...)`);
- a public key is one line, `x25519:` and the 32 raw bytes in base64, to paste into
  `dlp-proxy responders add`; its key id is the first 16 hex digits of its SHA-256.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from dlp_proxy.errors import SealError

__all__ = [
    "ALGORITHM",
    "PUBLIC_KEY_PREFIX",
    "Recipient",
    "SealError",
    "generate_private_key",
    "key_id",
    "load_private_key",
    "open_sealed",
    "parse_public_key",
    "private_key_pem",
    "public_key_text",
    "seal",
]

ALGORITHM = "X25519-HKDF-SHA256-A256GCM"
PUBLIC_KEY_PREFIX = "x25519:"
# HKDF's info: what the derived key is for, so a shared secret is never reused elsewhere.
HKDF_INFO = b"dlp-proxy evidence key v1"
_NONCE_BYTES = 12


@dataclass(frozen=True)
class Recipient:
    """A responder evidence is sealed to: a name for people and the X25519 public key."""

    name: str
    public_key: X25519PublicKey

    @property
    def key_id(self) -> str:
        """The key id sealed evidence names this recipient by."""
        return key_id(self.public_key)


def generate_private_key() -> X25519PrivateKey:
    """A new responder key pair (the public half is `.public_key()`)."""
    return X25519PrivateKey.generate()


def key_id(public_key: X25519PublicKey) -> str:
    """The first 16 hex digits of the SHA-256 of the raw public key."""
    return hashlib.sha256(_raw(public_key)).hexdigest()[:16]


def public_key_text(public_key: X25519PublicKey) -> str:
    """`x25519:` and the raw public key in base64: the line `responders add` takes."""
    return PUBLIC_KEY_PREFIX + base64.b64encode(_raw(public_key)).decode("ascii")


def parse_public_key(text: str) -> X25519PublicKey:
    """The key in a `public_key_text` line; `SealError` saying what is wrong otherwise."""
    text = text.strip()
    if not text.startswith(PUBLIC_KEY_PREFIX):
        raise SealError(
            f"a responder's public key starts with {PUBLIC_KEY_PREFIX!r} (as `dlp-proxy "
            f"responders keygen` prints it); got {text[:12]!r}..."
        )
    try:
        raw = base64.b64decode(text[len(PUBLIC_KEY_PREFIX) :], validate=True)
    except binascii.Error as e:
        raise SealError(f"the public key is not valid base64: {e}") from e
    if len(raw) != 32:
        raise SealError(f"an X25519 public key is 32 bytes; this one is {len(raw)}")
    return X25519PublicKey.from_public_bytes(raw)


def private_key_pem(private_key: X25519PrivateKey) -> bytes:
    """The private key as an unencrypted PKCS#8 PEM (keep the file to its owner: mode 0600)."""
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_private_key(path: str | Path) -> X25519PrivateKey:
    """A responder's private key from its PEM file; `SealError` if it is not one."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise SealError(f"cannot read the private key file {path}: {e.strerror}") from e
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as e:
        raise SealError(
            f"{path} is not an unencrypted PEM private key (`dlp-proxy responders keygen` "
            f"writes one): {e}"
        ) from e
    if not isinstance(key, X25519PrivateKey):
        raise SealError(f"{path} holds a {type(key).__name__}, not an X25519 private key")
    return key


def seal(plaintext: bytes, recipients: Sequence[Recipient], associated_data: bytes) -> str:
    """`plaintext` encrypted so that each recipient's private key, and only those, opens it.

    The result is a JSON object (text), `associated_data` not included: whoever opens it must
    supply the same bytes (the incident id). `SealError` if there is no recipient.
    """
    if not recipients:
        raise SealError("no responder to seal evidence to: add one with `dlp-proxy responders add`")
    content_key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(_NONCE_BYTES)
    ciphertext = AESGCM(content_key).encrypt(nonce, plaintext, associated_data)
    wrapped = [_wrap(content_key, recipient) for recipient in recipients]
    envelope = {
        "v": 1,
        "alg": ALGORITHM,
        "nonce": _b64(nonce),
        "ciphertext": _b64(ciphertext),
        "recipients": wrapped,
    }
    return json.dumps(envelope, separators=(",", ":"))


def open_sealed(sealed: str, private_key: X25519PrivateKey, associated_data: bytes) -> bytes:
    """The plaintext of `sealed`, for the holder of one recipient's private key.

    `SealError` if the key is not a recipient's, or the evidence or its associated data was
    altered.
    """
    envelope = _envelope(sealed)
    own_id = key_id(private_key.public_key())
    entry = next((r for r in envelope["recipients"] if r.get("kid") == own_id), None)
    if entry is None:
        names = ", ".join(r.get("kid", "?") for r in envelope["recipients"])
        raise SealError(
            f"this evidence is not sealed to key {own_id}; it is sealed to key ids {names}"
        )
    try:
        kek = _kek(private_key, _unb64(entry["epk"]), _raw(private_key.public_key()))
        content_key = AESGCM(kek).decrypt(_unb64(entry["nonce"]), _unb64(entry["wrapped"]), None)
        return AESGCM(content_key).decrypt(
            _unb64(envelope["nonce"]), _unb64(envelope["ciphertext"]), associated_data
        )
    except InvalidTag as e:
        raise SealError(
            "the evidence does not open with this key: it was altered, or it belongs to "
            "another incident"
        ) from e
    except (KeyError, ValueError, binascii.Error) as e:
        raise SealError(f"the sealed evidence is damaged: {e}") from e


def _wrap(content_key: bytes, recipient: Recipient) -> dict[str, str]:
    ephemeral = X25519PrivateKey.generate()
    epk = _raw(ephemeral.public_key())
    shared = ephemeral.exchange(recipient.public_key)
    kek = _derive(shared, epk, _raw(recipient.public_key))
    nonce = os.urandom(_NONCE_BYTES)
    return {
        "kid": recipient.key_id,
        "name": recipient.name,
        "epk": _b64(epk),
        "nonce": _b64(nonce),
        "wrapped": _b64(AESGCM(kek).encrypt(nonce, content_key, None)),
    }


def _kek(private_key: X25519PrivateKey, epk: bytes, own_public: bytes) -> bytes:
    if len(epk) != 32:
        raise ValueError(f"ephemeral key of {len(epk)} bytes")
    shared = private_key.exchange(X25519PublicKey.from_public_bytes(epk))
    return _derive(shared, epk, own_public)


def _derive(shared: bytes, epk: bytes, recipient_public: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=epk + recipient_public, info=HKDF_INFO)
    return hkdf.derive(shared)


def _envelope(sealed: str) -> dict[str, Any]:
    try:
        envelope = json.loads(sealed)
    except ValueError as e:
        raise SealError(f"the sealed evidence is not JSON: {e}") from e
    if not isinstance(envelope, dict) or envelope.get("alg") != ALGORITHM:
        raise SealError(f"the sealed evidence is not {ALGORITHM} (version 1)")
    if not isinstance(envelope.get("recipients"), list):
        raise SealError("the sealed evidence has no recipients")
    return envelope


def _raw(public_key: X25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object) -> bytes:
    if not isinstance(text, str):
        raise ValueError("a field is not base64 text")
    return base64.b64decode(text, validate=True)
