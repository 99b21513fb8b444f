"""The responders evidence is sealed to: names and X25519 public keys, never a private key.

The gateway reads `CONFDIR/responders.json` when it starts; `dlp-proxy responders add NAME
PUBKEY` writes it. A responder makes their key pair on their own machine with `dlp-proxy
responders keygen`, keeps the private key file, and hands over the one-line public key:

    {"version": 1, "responders": [
      {"name": "alice", "public_key": "x25519:...", "key_id": "3f9a...", "added": "2026-..."}]}
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from dlp_proxy.crypto.keys import replace_file
from dlp_proxy.crypto.sealing import Recipient, key_id, parse_public_key
from dlp_proxy.errors import ResponderError, SealError

__all__ = ["RESPONDERS_FILE", "Responder", "add_responder", "load_responders", "recipients"]

RESPONDERS_FILE = "responders.json"


@dataclass(frozen=True)
class Responder:
    """Someone who may open incident evidence: a name and the public half of their key."""

    name: str
    public_key: str  # `x25519:` and base64, as `sealing.public_key_text` writes it
    key_id: str
    added: str

    @property
    def recipient(self) -> Recipient:
        """The recipient evidence is sealed to."""
        return Recipient(self.name, parse_public_key(self.public_key))


def load_responders(path: str | Path) -> tuple[Responder, ...]:
    """The responders in `path`; none when the file does not exist.

    `ResponderError` naming the file and the entry when it cannot be used.
    """
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ()
    except OSError as e:
        raise ResponderError(f"cannot read the responders file {path}: {e.strerror}") from e
    try:
        document = json.loads(raw)
        entries = document["responders"]
        if not isinstance(entries, list):
            raise TypeError("'responders' is not a list")
    except (ValueError, KeyError, TypeError) as e:
        raise ResponderError(
            f"{path} is not a responders file ({e}); `dlp-proxy responders add` writes one"
        ) from e
    responders = []
    for i, entry in enumerate(entries):
        try:
            public_key = parse_public_key(entry["public_key"])
            responders.append(
                Responder(
                    name=str(entry["name"]),
                    public_key=entry["public_key"],
                    key_id=key_id(public_key),
                    added=str(entry.get("added", "")),
                )
            )
        except (KeyError, TypeError, SealError) as e:
            raise ResponderError(f"{path}: responders[{i}] cannot be used: {e}") from e
    return tuple(responders)


def add_responder(path: str | Path, name: str, public_key: str) -> Responder:
    """Add a responder to `path` (created if missing) and return them.

    `ResponderError` if the name or the key is already there; `SealError` for a bad key.
    """
    path = Path(path)
    name = name.strip()
    if not name:
        raise ResponderError("a responder needs a name")
    parsed = parse_public_key(public_key)
    current = load_responders(path)
    new = Responder(
        name=name,
        public_key=public_key.strip(),
        key_id=key_id(parsed),
        added=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    for responder in current:
        if responder.name == name:
            raise ResponderError(f"{path} already has a responder named {name!r}")
        if responder.key_id == new.key_id:
            raise ResponderError(
                f"{path} already has this key (key id {new.key_id}), for {responder.name!r}"
            )
    _write(path, (*current, new))
    return new


def recipients(responders: Sequence[Responder]) -> list[Recipient]:
    """The recipients evidence is sealed to, one per responder."""
    return [responder.recipient for responder in responders]


def _write(path: Path, responders: Sequence[Responder]) -> None:
    document = {
        "version": 1,
        "responders": [
            {"name": r.name, "public_key": r.public_key, "key_id": r.key_id, "added": r.added}
            for r in responders
        ],
    }
    try:
        replace_file(path, json.dumps(document, indent=2) + "\n")
    except OSError as e:
        raise ResponderError(f"cannot write the responders file {path}: {e.strerror}") from e
