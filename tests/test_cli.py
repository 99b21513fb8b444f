"""Tests for dlp_proxy/cli.py: the commands that need no running proxy."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from dlp_proxy.cli import main
from dlp_proxy.keys import create_keyring
from dlp_proxy.tokens import encrypt_value

BROKEN_POLICY = """\
version: 1
name: broken
rules:
  - id: r1
    entities: [EMAIL_ADDRESS]
    action: mask
"""


def test_validate_accepts_the_shipped_policies(capsys: pytest.CaptureFixture[str]) -> None:
    """`policy validate` exits 0 and says ok for each shipped policy."""
    assert (
        main(["policy", "validate", "policies/default.yaml", "policies/acme-contact-centre.yaml"])
        == 0
    )
    out = capsys.readouterr().out
    assert "policies/default.yaml: ok (default, 6 rules, enforce)" in out
    assert "policies/acme-contact-centre.yaml: ok" in out


def test_validate_reports_file_line_and_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`policy validate` exits 1 and prints file:line: field and what is wrong."""
    policy = tmp_path / "broken.yaml"
    policy.write_text(BROKEN_POLICY)
    assert main(["policy", "validate", str(policy)]) == 1
    assert (
        f"{policy}:6: rules[0].action must be one of allow|redact|encrypt|block (got 'mask')"
        in capsys.readouterr().err
    )


def test_run_refuses_a_broken_policy_before_starting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`run` with a broken policy exits 2 with the problem, and never opens the port."""
    policy = tmp_path / "broken.yaml"
    policy.write_text(BROKEN_POLICY)
    assert main(["run", "--policy", str(policy), "--confdir", str(tmp_path / "c")]) == 2
    assert f"{policy}:6: rules[0].action" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def test_run_refuses_a_missing_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`run` with a policy file that does not exist says so."""
    assert main(["run", "--policy", str(tmp_path / "nope.yaml")]) == 2
    assert "cannot read the policy file" in capsys.readouterr().err


def test_init_creates_the_ca_and_an_owner_only_keyring(tmp_path: Path) -> None:
    """`init` makes mitmproxy's CA files and a 0600 keyring, and is idempotent."""
    confdir = tmp_path / "certs"
    assert main(["init", "--confdir", str(confdir)]) == 0
    keyring = (confdir / "dlp-keyring.json").read_bytes()
    assert (confdir / "mitmproxy-ca-cert.pem").read_text().startswith("-----BEGIN CERTIFICATE")
    assert stat.S_IMODE(os.stat(confdir / "dlp-keyring.json").st_mode) == 0o600
    assert main(["init", "--confdir", str(confdir)]) == 0
    assert (confdir / "dlp-keyring.json").read_bytes() == keyring


def test_decrypt_turns_tokens_back(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`decrypt` prints entity and value for a good token and fails on a tampered one."""
    keyring_path = tmp_path / "k.json"
    keyring = create_keyring(keyring_path)
    token = encrypt_value("4111 1111 1111 1111", "CREDIT_CARD", keyring)
    assert main(["decrypt", token, "--keyring", str(keyring_path)]) == 0
    assert capsys.readouterr().out == "CREDIT_CARD\t4111 1111 1111 1111\n"
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert main(["decrypt", tampered, "--keyring", str(keyring_path)]) == 1
    assert "failed authentication" in capsys.readouterr().err


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    """Running with no command shows the commands and exits 2."""
    assert main([]) == 2
    assert "run" in capsys.readouterr().out
