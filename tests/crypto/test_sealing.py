"""Tests for dlp_proxy/crypto/sealing.py: evidence sealed to responders' X25519 keys."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlp_proxy.crypto.sealing import (
    ALGORITHM,
    Recipient,
    SealError,
    generate_private_key,
    key_id,
    load_private_key,
    open_sealed,
    parse_public_key,
    private_key_pem,
    public_key_text,
    seal,
)

ALICE = generate_private_key()
BOB = generate_private_key()
MALLORY = generate_private_key()
RECIPIENTS = [Recipient("alice", ALICE.public_key()), Recipient("bob", BOB.public_key())]


@settings(max_examples=50, deadline=None)
@given(plaintext=st.binary(max_size=4096), incident=st.text(min_size=1, max_size=40))
def test_every_recipient_opens_what_was_sealed(plaintext: bytes, incident: str) -> None:
    """A round trip for each recipient, whatever the evidence and the incident id."""
    aad = incident.encode()
    sealed = seal(plaintext, RECIPIENTS, aad)
    assert open_sealed(sealed, ALICE, aad) == plaintext
    assert open_sealed(sealed, BOB, aad) == plaintext


def test_the_sealed_form_holds_no_plaintext_and_names_its_recipients() -> None:
    """Only ciphertext, key ids and names; a fresh content key and nonce every time."""
    plaintext = b'{"email": "maria.gonzalez@example.com"}'
    sealed = seal(plaintext, RECIPIENTS, b"inc-1")
    assert b"maria" not in sealed.encode()
    envelope = json.loads(sealed)
    assert envelope["alg"] == ALGORITHM
    assert [r["kid"] for r in envelope["recipients"]] == [r.key_id for r in RECIPIENTS]
    assert [r["name"] for r in envelope["recipients"]] == ["alice", "bob"]
    assert seal(plaintext, RECIPIENTS, b"inc-1") != sealed


def test_a_key_that_is_not_a_recipient_is_refused_by_name() -> None:
    """The error names the key ids the evidence is sealed to."""
    sealed = seal(b"evidence", RECIPIENTS, b"inc-1")
    with pytest.raises(SealError, match="not sealed to key") as error:
        open_sealed(sealed, MALLORY, b"inc-1")
    assert key_id(ALICE.public_key()) in str(error.value)


def test_evidence_moved_to_another_incident_does_not_open() -> None:
    """The incident id is associated data: the right key with the wrong id fails."""
    sealed = seal(b"evidence", RECIPIENTS, b"inc-1")
    with pytest.raises(SealError, match="altered, or it belongs to another incident"):
        open_sealed(sealed, ALICE, b"inc-2")


def test_altered_ciphertext_does_not_open() -> None:
    """One flipped bit in the ciphertext is caught by AES-GCM's tag."""
    envelope = json.loads(seal(b"evidence", RECIPIENTS, b"inc-1"))
    raw = bytearray(base64.b64decode(envelope["ciphertext"]))
    raw[0] ^= 1
    envelope["ciphertext"] = base64.b64encode(bytes(raw)).decode()
    with pytest.raises(SealError, match="altered"):
        open_sealed(json.dumps(envelope), ALICE, b"inc-1")


def test_a_recipient_entry_given_to_another_key_does_not_open() -> None:
    """Relabelling alice's wrapped key with mallory's key id does not let mallory in."""
    envelope = json.loads(seal(b"evidence", RECIPIENTS, b"inc-1"))
    envelope["recipients"][0]["kid"] = key_id(MALLORY.public_key())
    with pytest.raises(SealError, match="altered"):
        open_sealed(json.dumps(envelope), MALLORY, b"inc-1")


def test_damaged_or_foreign_envelopes_are_clear_errors() -> None:
    """Not JSON, another algorithm, no recipients: each a SealError saying so."""
    with pytest.raises(SealError, match="not JSON"):
        open_sealed("{", ALICE, b"")
    with pytest.raises(SealError, match="is not X25519-HKDF-SHA256-A256GCM"):
        open_sealed(json.dumps({"alg": "RSA"}), ALICE, b"")
    with pytest.raises(SealError, match="no recipients"):
        open_sealed(json.dumps({"alg": ALGORITHM}), ALICE, b"")


def test_sealing_needs_a_recipient() -> None:
    """With no responder the error says how to add one."""
    with pytest.raises(SealError, match="responders add"):
        seal(b"evidence", [], b"inc-1")


def test_public_keys_round_trip_as_text() -> None:
    """`x25519:` and base64: parsed back to the same key (and the same key id)."""
    text = public_key_text(ALICE.public_key())
    assert text.startswith("x25519:")
    assert key_id(parse_public_key(text)) == key_id(ALICE.public_key())
    assert len(key_id(ALICE.public_key())) == 16


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ssh-ed25519 AAAA", "starts with 'x25519:'"),
        ("x25519:not base64!", "not valid base64"),
        ("x25519:" + base64.b64encode(b"short").decode(), "32 bytes; this one is 5"),
    ],
)
def test_bad_public_keys_say_what_is_wrong(text: str, message: str) -> None:
    """The three ways a pasted key is wrong, each named."""
    with pytest.raises(SealError, match=message):
        parse_public_key(text)


def test_private_keys_round_trip_through_pem_files(tmp_path: Path) -> None:
    """The PKCS#8 PEM file loads back to a key that opens what was sealed to it."""
    path = tmp_path / "alice.pem"
    path.write_bytes(private_key_pem(ALICE))
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    loaded = load_private_key(path)
    assert open_sealed(seal(b"x", RECIPIENTS, b"i"), loaded, b"i") == b"x"


def test_files_that_are_not_x25519_private_keys_are_refused(tmp_path: Path) -> None:
    """A missing file, a non-key and another kind of key: each a SealError naming the file."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    with pytest.raises(SealError, match="cannot read"):
        load_private_key(tmp_path / "missing.pem")
    junk = tmp_path / "junk.pem"
    junk.write_bytes(os.urandom(64))
    with pytest.raises(SealError, match=r"junk\.pem is not an unencrypted PEM private key"):
        load_private_key(junk)
    other = tmp_path / "ed25519.pem"
    other.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
        )
    )
    with pytest.raises(SealError, match="not an X25519 private key"):
        load_private_key(other)
