"""Tokens through the real proxy: encrypted on the way out, restored on the way back.

`dlp-proxy run` (real Presidio) in reverse mode before the recording vendor, whose `/echo/`
paths answer with the body they received, as a vendor sending a record back would: its reply
carries the gateway's tokens, and the client must get the values. Also: deterministic tokens
survive a restart, an open keyring file stops the proxy, and nothing any of these proxies wrote
holds a value sent or a key's secret.
"""

from __future__ import annotations

import base64
import subprocess
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from dlp_proxy.crypto.keys import Keyring, create_keyring, load_keyring, save_keyring
from dlp_proxy.crypto.tokens import decrypt_token
from tests.e2e.harness import (
    CARD,
    EMAIL,
    ROOT,
    TOKEN_RE,
    Proxy,
    Vendor,
    dlp_proxy_argv,
    free_port,
    pii_spellings,
    poll,
)

TOKENS_POLICY = """
version: 1
name: tokens
vendors:
  - id: recorder
    hosts: ["127.0.0.1"]
rules:
  - id: cards
    vendors: [recorder]
    entities: [CREDIT_CARD]
    action: encrypt
    encrypt: {mode: deterministic}
    restore: true
  - id: emails
    vendors: [recorder]
    entities: [EMAIL_ADDRESS]
    action: encrypt
    restore: true
"""

KEYRING_FILE = "dlp-keyring.json"


@dataclass
class Workspace:
    """The policy and keyring every proxy here shares, and what each run left behind."""

    base: Path
    policy: Path
    confdir: Path
    proxies: list[Proxy] = field(default_factory=list)
    outputs: list[Path] = field(default_factory=list)

    @property
    def keyring_path(self) -> Path:
        """The keyring file every proxy here reads."""
        return self.confdir / KEYRING_FILE

    def keyring(self) -> Keyring:
        """The keyring as the proxies read it."""
        return load_keyring(self.keyring_path)

    def proxy(self, name: str, vendor: Vendor) -> Proxy:
        """A reverse proxy before `vendor` with this policy and keyring (not started yet)."""
        workdir = self.base / name
        data_dir, port = workdir / "data", free_port()
        argv = dlp_proxy_argv(
            self.policy,
            [f"reverse:{vendor.origin}"],
            port,
            self.confdir,
            data_dir,
            "--workers",
            "1",
        )
        proxy = Proxy(f"tokens proxy ({name})", argv, workdir, port, self.confdir, data_dir)
        self.proxies.append(proxy)
        return proxy


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """The policy file and an owner-only keyring made ahead of any proxy."""
    base = tmp_path_factory.mktemp("tokens")
    policy = base / "tokens.yaml"
    policy.write_text(textwrap.dedent(TOKENS_POLICY).lstrip(), encoding="utf-8")
    confdir = base / "conf"
    create_keyring(confdir / KEYRING_FILE)
    return Workspace(base, policy, confdir)


@pytest.fixture(scope="module")
def tokens_proxy(workspace: Workspace, http_vendor: Vendor) -> Iterator[Proxy]:
    """The proxy most tests here share."""
    proxy = workspace.proxy("shared", http_vendor)
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture
def client(tokens_proxy: Proxy) -> Iterator[httpx.Client]:
    """A client talking to the shared proxy as if it were the vendor."""
    with httpx.Client(base_url=tokens_proxy.url, trust_env=False, timeout=60) as c:
        yield c


def customer(**extra: Any) -> dict[str, Any]:
    """The customer record the tests send: a card and an email, alone and in a sentence."""
    return {
        "customer_id": "C-1001",
        "card": CARD,
        "email": EMAIL,
        "note": f"Card {CARD} on file, write to {EMAIL} please.",
        "plan": "gold",
        **extra,
    }


def plaintext_spellings() -> tuple[str, ...]:
    """The card and the email as a body could carry them (the card's digits alone too)."""
    return (CARD, CARD.replace(" ", ""), EMAIL)


def decisions_for(proxy: Proxy, path: str, direction: str) -> list[dict[str, Any]]:
    """The decisions logged for `path` in one direction."""
    return [
        d
        for d in proxy.decisions()
        if d["path"].split("?", 1)[0] == path and d["direction"] == direction
    ]


def response_decision(proxy: Proxy, path: str) -> dict[str, Any]:
    """The one response decision logged for `path` (waits for it to appear)."""
    found = poll(
        f"a response decision for {path} in {proxy.decisions_path}",
        lambda: decisions_for(proxy, path, "response"),
    )
    assert len(found) == 1, found
    return dict(found[0])


def card_token(received: dict[str, Any]) -> str:
    """The token the vendor got in place of the card."""
    token = received["card"]
    assert TOKEN_RE.fullmatch(token), token
    return str(token)


def test_a_record_leaves_as_tokens_and_the_echo_comes_back_restored(
    client: httpx.Client,
    tokens_proxy: Proxy,
    http_vendor: Vendor,
    workspace: Workspace,
    unique_path: str,
) -> None:
    """The vendor holds tokens only; the client gets its values back; the log says restored."""
    path = f"/echo{unique_path}"
    sent = customer()
    response = client.post(path, json=sent)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == sent

    received = http_vendor.only(path)
    body = received.body.decode()
    for spelling in plaintext_spellings():
        assert spelling not in body
    record = received.json()
    keyring = workspace.keyring()
    assert decrypt_token(card_token(record), keyring) == ("CREDIT_CARD", CARD)
    assert decrypt_token(record["email"], keyring) == ("EMAIL_ADDRESS", EMAIL)
    assert record["customer_id"] == sent["customer_id"]
    assert record["plan"] == sent["plan"]
    tokens = TOKEN_RE.findall(body)
    assert all(t.startswith(f"dlp:v1:{keyring.active.id}:") for t in tokens)

    request = tokens_proxy.decision_for(path)
    assert request["outcome"] == "encrypted"
    assert set(request["rules"]) == {"cards", "emails"}
    answer = response_decision(tokens_proxy, path)
    assert answer["vendor"] == "recorder"
    assert answer["restored"] == len(tokens)
    assert "restore_failures" not in answer


def test_a_token_that_does_not_decrypt_reaches_the_client_as_is_and_is_logged(
    client: httpx.Client, tokens_proxy: Proxy, workspace: Workspace, unique_path: str
) -> None:
    """An altered token of ours in the reply stays as it was; the log counts it, by key id."""
    path = f"/echo{unique_path}"
    key_id = workspace.keyring().active.id
    altered = f"dlp:v1:{key_id}:AgtDUkVESVRfQ0FSRAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    foreign = "dlp:v1:kelsewhere1:AgtDUkVESVRfQ0FSRAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    sent = {"ref": altered, "other": foreign, "subject": "printer"}
    response = client.post(path, json=sent)
    assert response.status_code == 200
    assert response.json() == sent
    answer = response_decision(tokens_proxy, path)
    assert answer["restored"] == 0
    assert answer["restore_failures"] == [
        f"key {key_id}: token failed authentication: it was altered or made with another key"
    ]


def test_deterministic_tokens_are_equal_across_a_restart(
    workspace: Workspace, http_vendor: Vendor, unique_path: str
) -> None:
    """Stopped and started again on the same keyring, the proxy gives a card the same token."""
    tokens: list[str] = []
    emails: list[str] = []
    for run in ("before-restart", "after-restart"):
        proxy = workspace.proxy(run, http_vendor)
        path = f"{unique_path}/{run}"
        proxy.start()
        try:
            with httpx.Client(base_url=proxy.url, trust_env=False, timeout=60) as c:
                assert c.post(path, json=customer()).status_code == 200
            assert proxy.decision_for(path)["outcome"] == "encrypted"
        finally:
            proxy.stop()
        record = http_vendor.only(path).json()
        tokens.append(card_token(record))
        emails.append(record["email"])
    assert tokens[0] == tokens[1]
    assert emails[0] != emails[1]  # randomized: a new token every time
    keyring = workspace.keyring()
    for email in emails:
        assert decrypt_token(email, keyring) == ("EMAIL_ADDRESS", EMAIL)


def test_a_keyring_others_can_read_stops_the_proxy_before_it_listens(
    workspace: Workspace,
) -> None:
    """A keyring file of mode 0644 is refused: non-zero exit, the fix (chmod) in the message."""
    workdir = workspace.base / "open-keyring"
    keyring = workdir / "conf" / KEYRING_FILE
    save_keyring(keyring, workspace.keyring())
    keyring.chmod(0o644)
    argv = dlp_proxy_argv(
        workspace.policy,
        ["regular"],
        free_port(),
        workdir / "conf",
        workdir / "data",
        "--keyring",
        str(keyring),
    )
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=ROOT)
    for name, text in (("stdout.log", result.stdout), ("stderr.log", result.stderr)):
        (workdir / name).write_text(text, encoding="utf-8")
        workspace.outputs.append(workdir / name)
    workspace.outputs.append(workdir / "data")
    assert result.returncode != 0
    assert f"chmod 600 {keyring}" in result.stderr
    assert "proxy_ready" not in result.stdout
    assert keyring.stat().st_mode & 0o777 == 0o644  # refused, not silently "fixed"


def secret_spellings(keyring: Keyring) -> tuple[str, ...]:
    """Each key's secret and derived subkeys as base64url, base64 and hex."""
    spellings: set[str] = set()
    for key in keyring.keys:
        for raw in (
            key.secret,
            key.subkey("aes-gcm", 32),
            key.subkey("aes-siv", 64),
            key.subkey("hash", 32),
            key.subkey("fingerprint", 32),
        ):
            for encoded in (base64.urlsafe_b64encode(raw), base64.b64encode(raw)):
                spellings.update({encoded.decode(), encoded.decode().rstrip("=")})
            spellings.update({raw.hex(), raw.hex().upper()})
    return tuple(sorted(spellings))


def test_no_value_sent_and_no_secret_is_in_any_log_or_output(
    client: httpx.Client, tokens_proxy: Proxy, workspace: Workspace, unique_path: str
) -> None:
    """Every file in every data dir and every output of the proxies here holds no value or key."""
    # This test sends traffic itself, so the scan is not vacuous when it runs alone; whatever
    # the tests above sent (the same values) is covered by the same scan.
    path = f"/echo{unique_path}"
    assert client.post(path, json=customer()).json() == customer()
    form = client.post(path + "/form", data={"email": EMAIL, "card": CARD})
    assert form.content == form.request.content  # restored exactly as the client sent it
    tokens_proxy.decision_for(path)
    response_decision(tokens_proxy, path)
    response_decision(tokens_proxy, path + "/form")

    files: list[Path] = []
    for proxy in workspace.proxies:
        files += [proxy.stdout_path, proxy.stderr_path]
        files += [p for p in proxy.data_dir.rglob("*") if p.is_file()]
    for output in workspace.outputs:
        files += [p for p in output.rglob("*") if p.is_file()] if output.is_dir() else [output]
    assert tokens_proxy.decisions_path in files
    forbidden = (*pii_spellings(), *secret_spellings(workspace.keyring()))
    leaks = [
        f"{spelling!r} in {file}"
        for file in files
        for text in [file.read_text(encoding="utf-8", errors="replace")]
        for spelling in forbidden
        if spelling in text
    ]
    assert leaks == []
    # The secrets are spelled as the keyring file writes them, so the scan would see them.
    keyring_text = workspace.keyring_path.read_text(encoding="utf-8")
    assert all(key.id in keyring_text for key in workspace.keyring().keys)
    assert any(spelling in keyring_text for spelling in secret_spellings(workspace.keyring()))
