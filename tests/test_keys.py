"""Tests for dlp_proxy.keys: creating, loading and protecting the data keyring."""

from __future__ import annotations

import base64
import json
import re
import stat
from pathlib import Path

import pytest

from dlp_proxy.errors import KeyringError
from dlp_proxy.keys import DataKey, Keyring, create_keyring, ensure_keyring, load_keyring

GOOD_SECRET = base64.urlsafe_b64encode(b"\x01" * 32).decode()


def mode_of(path: Path) -> int:
    """The permission bits of `path`."""
    return stat.S_IMODE(path.stat().st_mode)


def test_create_writes_an_owner_only_file_that_loads_back(tmp_path: Path) -> None:
    """create_keyring writes mode 0600 JSON with one active key, and load_keyring reads it back."""
    path = tmp_path / "sub" / "keyring.json"
    created = create_keyring(path)
    assert mode_of(path) == 0o600
    assert load_keyring(path) == created
    (key,) = created.keys
    assert key.state == "active"
    assert len(key.secret) == 32
    assert re.fullmatch(r"k\d{8}[0-9a-f]{6}", key.id)
    assert created.active is key


def test_create_makes_a_new_secret_each_time(tmp_path: Path) -> None:
    """Two new keyrings never share a key id or secret."""
    first = create_keyring(tmp_path / "a.json").active
    second = create_keyring(tmp_path / "b.json").active
    assert first.secret != second.secret
    assert first.id != second.id


def test_create_refuses_to_overwrite(tmp_path: Path) -> None:
    """create_keyring never replaces an existing file, which may hold the only copy of a key."""
    path = tmp_path / "keyring.json"
    original = create_keyring(path)
    with pytest.raises(KeyringError, match="already exists; refusing to overwrite a keyring"):
        create_keyring(path)
    assert load_keyring(path) == original


def test_ensure_creates_once_then_loads(tmp_path: Path) -> None:
    """ensure_keyring creates a missing keyring and afterwards returns the same keys."""
    path = tmp_path / "keyring.json"
    first = ensure_keyring(path)
    assert path.exists()
    assert ensure_keyring(path) == first


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644, 0o610, 0o601])
def test_load_refuses_a_keyring_others_can_access(tmp_path: Path, mode: int) -> None:
    """A keyring group or other users can access is refused with a `chmod 600` hint."""
    path = tmp_path / "keyring.json"
    create_keyring(path)
    path.chmod(mode)
    message = f"keyring {path} is accessible by other users (mode {mode:o}); run `chmod 600 {path}`"
    with pytest.raises(KeyringError, match=re.escape(message)):
        load_keyring(path)


def test_missing_keyring_says_how_to_create_one(tmp_path: Path) -> None:
    """Loading a keyring that does not exist names the path and `dlp-proxy keys init`."""
    path = tmp_path / "nope.json"
    with pytest.raises(KeyringError, match=re.escape(f"cannot read keyring {path}")) as info:
        load_keyring(path)
    assert "dlp-proxy keys init" in str(info.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "is malformed"),
        ('["a list"]', "is malformed"),
        ('{"version": 1}', r"is malformed \(KeyError: 'keys'\)"),
        ('{"version": 1, "keys": [{"id": "k1"}]}', "is malformed"),
        (
            '{"version": 1, "keys": [{"id": "k1", "created": "x", "state": "active", '
            '"secret": "A"}]}',
            r"is malformed \(Error: Invalid base64-encoded string",
        ),
        ('{"version": 1, "keys": []}', "has no keys or an unknown version"),
        (
            '{"version": 2, "keys": [{"id": "k1", "created": "x", "state": "active", '
            '"secret": "AAAA"}]}',
            "has no keys or an unknown version",
        ),
    ],
    ids=["not-json", "not-object", "no-keys", "key-fields", "bad-base64", "empty", "version"],
)
def test_malformed_keyring_is_refused(tmp_path: Path, content: str, message: str) -> None:
    """A keyring file that is not the expected JSON is refused, naming the file."""
    path = tmp_path / "keyring.json"
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(KeyringError, match=rf"keyring {re.escape(str(path))} {message}"):
        load_keyring(path)


@pytest.mark.parametrize(
    ("key_id", "secret"),
    [
        ("k1", ""),
        ("k1", "!!!"),
        ("k1", "AAAA"),
        ("k-1", GOOD_SECRET),
        ("k:1", GOOD_SECRET),
    ],
    ids=["empty-secret", "garbage-secret", "short-secret", "dash-in-id", "colon-in-id"],
)
def test_keyring_with_a_weak_secret_or_bad_id_is_refused(
    tmp_path: Path, key_id: str, secret: str
) -> None:
    """A secret under 32 bytes (a known key) or an id tokens cannot carry is refused."""
    path = tmp_path / "keyring.json"
    key = {"id": key_id, "created": "x", "state": "active", "secret": secret}
    path.write_text(json.dumps({"version": 1, "keys": [key]}))
    path.chmod(0o600)
    with pytest.raises(
        KeyringError,
        match=re.escape(f"keyring {path} is malformed: key {key_id!r} needs an id of letters"),
    ):
        load_keyring(path)


def test_repr_never_shows_the_secret(tmp_path: Path) -> None:
    """Neither a key's nor a keyring's repr contains the secret in any encoding."""
    keyring = create_keyring(tmp_path / "keyring.json")
    stored = json.loads((tmp_path / "keyring.json").read_text())["keys"][0]["secret"]
    key = keyring.active
    for text in (repr(key), str(key), repr(keyring), str(keyring)):
        assert key.id in text
        assert stored not in text
        assert repr(key.secret) not in text
        assert key.secret.hex() not in text


def test_subkeys_differ_per_purpose_and_are_stable() -> None:
    """Each purpose gets its own derived key; the same purpose always gives the same key."""
    key = DataKey(id="k1", created="now", state="active", secret=b"\x01" * 32)
    purposes = ["aes-gcm", "aes-siv", "hash", "fingerprint"]
    subkeys = [key.subkey(p, 32) for p in purposes]
    assert len(set(subkeys)) == len(purposes)
    assert key.secret not in subkeys
    assert key.subkey("hash", 32) == subkeys[2]
    assert len(key.subkey("aes-siv", 64)) == 64


def test_subkeys_differ_per_secret() -> None:
    """Two keys with different secrets derive different subkeys for the same purpose."""
    one = DataKey(id="k1", created="now", state="active", secret=b"\x01" * 32)
    two = DataKey(id="k1", created="now", state="active", secret=b"\x02" * 32)
    assert one.subkey("hash", 32) != two.subkey("hash", 32)


def test_active_is_the_newest_active_key_and_get_finds_any() -> None:
    """`active` is the last active key; `get` finds retired keys too and names a missing id."""
    old = DataKey(id="k1", created="a", state="active", secret=b"\x01" * 32)
    new = DataKey(id="k2", created="b", state="active", secret=b"\x02" * 32)
    retired = DataKey(id="k3", created="c", state="retired", secret=b"\x03" * 32)
    keyring = Keyring(keys=(old, new, retired))
    assert keyring.active is new
    assert keyring.get("k3") is retired
    with pytest.raises(KeyringError, match="key 'k9' is not in this keyring"):
        keyring.get("k9")


def test_keyring_without_an_active_key_says_what_to_do() -> None:
    """A keyring whose keys are all retired cannot make tokens and says how to fix that."""
    keyring = Keyring(keys=(DataKey(id="k1", created="a", state="retired", secret=b"\x01" * 32),))
    with pytest.raises(KeyringError, match="no active key; make one with `dlp-proxy keys rotate`"):
        _ = keyring.active


def test_fingerprint_key_stays_with_the_first_key() -> None:
    """The log fingerprint key comes from the oldest key, so rotation keeps fingerprints stable."""
    old = DataKey(id="k1", created="a", state="retired", secret=b"\x01" * 32)
    new = DataKey(id="k2", created="b", state="active", secret=b"\x02" * 32)
    assert Keyring(keys=(old, new)).fingerprint_key == Keyring(keys=(old,)).fingerprint_key
    assert Keyring(keys=(old, new)).fingerprint_key == old.subkey("fingerprint", 32)
