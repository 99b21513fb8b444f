"""Tests for dlp_proxy/incidents/responders.py: the public keys evidence is sealed to."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dlp_proxy.crypto.sealing import (
    generate_private_key,
    key_id,
    open_sealed,
    public_key_text,
    seal,
)
from dlp_proxy.errors import ResponderError, SealError
from dlp_proxy.incidents.responders import add_responder, load_responders, recipients


def test_no_file_means_no_responders(tmp_path: Path) -> None:
    """A gateway without a responders file has nobody to seal evidence to."""
    assert load_responders(tmp_path / "responders.json") == ()


def test_added_responders_are_read_back_and_can_open_evidence(tmp_path: Path) -> None:
    """add -> load: names, key ids, and recipients whose private keys open sealed evidence."""
    path = tmp_path / "responders.json"
    alice, bob = generate_private_key(), generate_private_key()
    added = add_responder(path, "alice", public_key_text(alice.public_key()))
    add_responder(path, "bob", public_key_text(bob.public_key()) + "\n")
    loaded = load_responders(path)
    assert [r.name for r in loaded] == ["alice", "bob"]
    assert loaded[0] == added
    assert loaded[0].key_id == key_id(alice.public_key())
    sealed = seal(b"evidence", recipients(loaded), b"inc-1")
    assert open_sealed(sealed, bob, b"inc-1") == b"evidence"
    assert "PRIVATE" not in path.read_text()


def test_duplicate_names_and_keys_are_refused(tmp_path: Path) -> None:
    """One entry per name and per key; the file is left as it was."""
    path = tmp_path / "responders.json"
    key = public_key_text(generate_private_key().public_key())
    add_responder(path, "alice", key)
    before = path.read_text()
    with pytest.raises(ResponderError, match="already has a responder named 'alice'"):
        add_responder(path, "alice", public_key_text(generate_private_key().public_key()))
    with pytest.raises(ResponderError, match=r"already has this key .* for 'alice'"):
        add_responder(path, "carol", key)
    assert path.read_text() == before


def test_bad_keys_and_names_are_refused(tmp_path: Path) -> None:
    """A key that is not `x25519:` base64, and an empty name."""
    path = tmp_path / "responders.json"
    with pytest.raises(SealError, match="starts with 'x25519:'"):
        add_responder(path, "alice", "ssh-ed25519 AAAA")
    with pytest.raises(ResponderError, match="needs a name"):
        add_responder(path, "  ", public_key_text(generate_private_key().public_key()))
    assert not path.exists()


def test_a_damaged_file_is_reported_with_the_entry(tmp_path: Path) -> None:
    """Not JSON, and an entry with a bad key: the file and the entry are named."""
    path = tmp_path / "responders.json"
    path.write_text("{")
    with pytest.raises(ResponderError, match="is not a responders file"):
        load_responders(path)
    path.write_text(json.dumps({"responders": [{"name": "x", "public_key": "x25519:AA=="}]}))
    with pytest.raises(ResponderError, match=r"responders\[0\] cannot be used"):
        load_responders(path)
