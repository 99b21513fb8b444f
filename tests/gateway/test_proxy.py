"""Tests for dlp_proxy/gateway/proxy.py: the CA, the addon's options, a refused start."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

from dlp_proxy.gateway.proxy import CA_CERT, ProxySettings, ensure_ca
from tests.support import POLICIES

SETTINGS = ProxySettings(
    policy="policies/default.yaml",
    listen_host="127.0.0.1",
    listen_port=0,
    confdir="certs",
    data_dir="var",
)


def test_ensure_ca_creates_the_ca_once(tmp_path: Path) -> None:
    """The first call makes mitmproxy's CA; a second keeps it, so clients need not trust anew."""
    certificate = ensure_ca(tmp_path)
    assert certificate == tmp_path / CA_CERT
    first = certificate.read_bytes()
    assert first.startswith(b"-----BEGIN CERTIFICATE")
    assert ensure_ca(tmp_path).read_bytes() == first


def test_addon_options_are_the_given_ones_only() -> None:
    """Policy, data directory and stdout logging always; the rest only when given."""
    assert SETTINGS.addon_options() == {
        "dlp_policy": "policies/default.yaml",
        "dlp_data_dir": "var",
        "dlp_log_stdout": False,
    }
    tuned = replace(SETTINGS, workers=3, timeout=2.5, model="m")
    assert tuned.addon_options() == {
        "dlp_policy": "policies/default.yaml",
        "dlp_data_dir": "var",
        "dlp_log_stdout": False,
        "dlp_model": "m",
        "dlp_workers": 3,
        "dlp_timeout": 2.5,
    }


def test_serve_refuses_an_unknown_setting_in_one_line(tmp_path: Path) -> None:
    """A mistyped `--set` exits 2 with mitmproxy's reason, no traceback, nothing listening."""
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        from dlp_proxy.gateway.proxy import ProxySettings, serve
        settings = ProxySettings(
            policy={str(POLICIES / "default.yaml")!r}, listen_host="127.0.0.1", listen_port=0,
            confdir="conf", data_dir="var", settings=("no_such_option=1",),
        )
        sys.exit(asyncio.run(serve(settings)))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["dlp-proxy: Unknown option(s): no_such_option"]
