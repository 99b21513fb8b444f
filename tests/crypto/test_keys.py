"""Tests for dlp_proxy/crypto/keys.py: creating, loading and protecting the data keyring."""

from __future__ import annotations

import base64
import json
import os
import re
import stat
from pathlib import Path

import pytest

from dlp_proxy.crypto.keys import (
    DataKey,
    Keyring,
    KeyState,
    create_keyring,
    ensure_keyring,
    load_keyring,
    open_keyring,
    save_keyring,
)
from dlp_proxy.crypto.tokens import decrypt_token, encrypt_value
from dlp_proxy.errors import KeyringError, TokenError

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


# --- states: rotate and retire -------------------------------------------------------------------


def _key(key_id: str, state: str, fill: int) -> DataKey:
    return DataKey(
        id=key_id, created="2026-01-01T00:00:00+00:00", state=state, secret=bytes([fill]) * 32
    )


def test_rotate_makes_a_new_active_key_and_keeps_the_old_for_decryption() -> None:
    """After rotate the old key is decrypt-only, its tokens decrypt, new tokens use the new key."""
    keyring = Keyring(keys=(_key("k1", KeyState.ACTIVE, 1),))
    old_token = encrypt_value("4111 1111 1111 1111", "CREDIT_CARD", keyring)
    rotated = keyring.rotated()
    assert [k.state for k in rotated.keys] == [KeyState.DECRYPT_ONLY, KeyState.ACTIVE]
    new = rotated.active
    assert new.id != "k1"
    assert new.secret != keyring.keys[0].secret
    assert decrypt_token(old_token, rotated) == ("CREDIT_CARD", "4111 1111 1111 1111")
    new_token = encrypt_value("4111 1111 1111 1111", "CREDIT_CARD", rotated)
    assert new_token.startswith(f"dlp:v1:{new.id}:")
    assert decrypt_token(new_token, rotated) == ("CREDIT_CARD", "4111 1111 1111 1111")
    assert keyring.keys[0].state == KeyState.ACTIVE, "rotated() returns a copy"


def test_rotating_twice_keeps_exactly_one_active_key() -> None:
    """Each rotation demotes the current active key, so there is never more than one."""
    keyring = Keyring(keys=(_key("k1", KeyState.ACTIVE, 1),)).rotated().rotated()
    assert [k.state for k in keyring.keys] == [
        KeyState.DECRYPT_ONLY,
        KeyState.DECRYPT_ONLY,
        KeyState.ACTIVE,
    ]


def test_tokens_of_a_retired_key_fail_with_a_clear_token_error() -> None:
    """Once its key is retired a token no longer decrypts, and the error says the key is retired."""
    keyring = Keyring(keys=(_key("k1", KeyState.ACTIVE, 1),))
    token = encrypt_value("maria@example.com", "EMAIL_ADDRESS", keyring)
    rotated = keyring.rotated()
    retired = rotated.retired("k1")
    assert retired.get("k1").state == KeyState.RETIRED
    assert retired.active == rotated.active
    with pytest.raises(
        TokenError, match="key 'k1' is retired: tokens made with it can no longer be decrypted"
    ):
        decrypt_token(token, retired)


def test_retiring_the_active_key_is_refused_with_what_to_do() -> None:
    """The active key cannot be retired; the error says to rotate first."""
    keyring = Keyring(keys=(_key("k1", KeyState.ACTIVE, 1),))
    with pytest.raises(
        KeyringError, match=r"key 'k1' is the active key; run `dlp-proxy keys rotate` first"
    ):
        keyring.retired("k1")


def test_retiring_an_unknown_key_names_it() -> None:
    """Retiring a key id the keyring does not hold is a KeyringError naming the id."""
    with pytest.raises(KeyringError, match="key 'k9' is not in this keyring"):
        Keyring(keys=(_key("k1", KeyState.ACTIVE, 1),)).retired("k9")


# --- saving --------------------------------------------------------------------------------------


def test_save_round_trips_owner_only(tmp_path: Path) -> None:
    """save_keyring writes a 0600 file that loads back equal, states and all."""
    path = tmp_path / "keyring.json"
    keys = (_key("k1", KeyState.RETIRED, 1), _key("k2", KeyState.DECRYPT_ONLY, 2))
    keyring = Keyring(keys=keys).rotated()
    save_keyring(path, keyring)
    assert mode_of(path) == 0o600
    assert load_keyring(path) == keyring


def test_save_replaces_the_file_whole_and_keeps_it_owner_only(tmp_path: Path) -> None:
    """Saving over a keyring swaps in a new file (a rename), mode 0600 whatever the umask."""
    path = tmp_path / "keyring.json"
    first = create_keyring(path)
    inode = path.stat().st_ino
    old_umask = os.umask(0)
    try:
        save_keyring(path, first.rotated())
    finally:
        os.umask(old_umask)
    assert path.stat().st_ino != inode
    assert mode_of(path) == 0o600
    assert len(load_keyring(path).keys) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["keyring.json"]


def test_a_failed_save_leaves_the_old_keyring_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the final rename fails, the old keyring is intact and the temporary file is gone."""
    path = tmp_path / "keyring.json"
    original = create_keyring(path)
    before = path.read_bytes()

    def fail(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="No space left"):
        save_keyring(path, original.rotated())
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keyring.json"]


def test_more_than_one_active_key_is_refused(tmp_path: Path) -> None:
    """A keyring file with two active keys is refused: which one makes tokens would be a guess."""
    path = tmp_path / "keyring.json"
    keys = (_key("k1", KeyState.ACTIVE, 1), _key("k2", KeyState.ACTIVE, 2))
    save_keyring(path, Keyring(keys=keys))
    with pytest.raises(KeyringError, match="has more than one active key; keep one active"):
        load_keyring(path)


# --- keyrings from the environment ----------------------------------------------------------------


def test_env_source_reads_the_keyring_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`env:NAME` reads the same JSON as a keyring file, and a path still reads the file."""
    path = tmp_path / "keyring.json"
    keyring = create_keyring(path).rotated()
    save_keyring(path, keyring)
    monkeypatch.setenv("DLP_KEYRING", path.read_text())
    assert open_keyring("env:DLP_KEYRING") == keyring
    assert open_keyring(path) == keyring
    assert open_keyring(str(path)) == keyring


def test_open_keyring_on_a_path_still_refuses_a_readable_file(tmp_path: Path) -> None:
    """A path given to open_keyring gets load_keyring's permission check."""
    path = tmp_path / "keyring.json"
    create_keyring(path)
    path.chmod(0o640)
    with pytest.raises(KeyringError, match="is accessible by other users"):
        open_keyring(path)


@pytest.mark.parametrize("value", [None, ""], ids=["unset", "empty"])
def test_missing_or_empty_env_variable_says_what_it_must_hold(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    """An unset or empty variable is named, with what it must hold."""
    monkeypatch.delenv("DLP_KEYRING", raising=False)
    if value is not None:
        monkeypatch.setenv("DLP_KEYRING", value)
    with pytest.raises(
        KeyringError,
        match=re.escape(
            "environment variable DLP_KEYRING is not set or empty; it must hold the keyring JSON"
        ),
    ):
        open_keyring("env:DLP_KEYRING")


ENV_SECRET = base64.urlsafe_b64encode(b"0123456789abcdefSECRETSECRETxyz!").decode()


def _env_json(**changes: object) -> str:
    key: dict[str, object] = {"id": "k1", "created": "x", "state": "active", "secret": ENV_SECRET}
    key.update(changes)
    return json.dumps({"version": 1, "keys": [{k: v for k, v in key.items() if v is not None}]})


@pytest.mark.parametrize(
    "raw",
    [
        _env_json()[:-3],
        _env_json(created=None),
        _env_json(state="on"),
        _env_json(secret=ENV_SECRET[:-3]),
        _env_json(id="k-1"),
        json.dumps({"version": 1, "keys": {"secret": ENV_SECRET}}),
        f"secret={ENV_SECRET}",
    ],
    ids=[
        "truncated",
        "missing-field",
        "bad-state",
        "short-secret",
        "bad-id",
        "keys-object",
        "text",
    ],
)
def test_malformed_env_keyring_is_refused_without_quoting_the_secret(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    """A malformed keyring in a variable is named; the error (and traceback) holds no secret."""
    monkeypatch.setenv("DLP_KEYRING", raw)
    with pytest.raises(KeyringError, match="environment variable DLP_KEYRING") as info:
        open_keyring("env:DLP_KEYRING")
    message = str(info.value)
    assert "SECRET" not in message
    assert ENV_SECRET[:8] not in message
    # No chained exception (a JSON error keeps the whole document) shows in a traceback.
    assert info.value.__cause__ is None
    assert info.value.__context__ is None or info.value.__suppress_context__


def test_repr_of_a_keyring_in_every_state_never_shows_secrets(tmp_path: Path) -> None:
    """The repr of each key and of a rotated, retired keyring names ids and states only."""
    keyring = create_keyring(tmp_path / "keyring.json").rotated().rotated()
    keyring = keyring.retired(keyring.keys[0].id)
    texts = [repr(keyring), str(keyring), *(repr(k) for k in keyring.keys), repr(keyring.keys)]
    for key in keyring.keys:
        secret_forms = [
            repr(key.secret),
            key.secret.hex(),
            base64.urlsafe_b64encode(key.secret).decode(),
            base64.b64encode(key.secret).decode(),
        ]
        for text in texts:
            assert not any(form in text for form in secret_forms)
        assert key.id in repr(keyring)
    assert repr(keyring).count("retired") == 1
    assert "decrypt-only" in repr(keyring)
    assert "active" in repr(keyring)
