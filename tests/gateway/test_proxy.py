"""Tests for dlp_proxy/gateway/proxy.py: the CA, the addon's options, a refused start."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

from dlp_proxy.gateway.proxy import CA_CERT, ProxySettings, ensure_ca
from tests.support import POLICIES, ROOT

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


def test_serve_scrubs_the_logs_of_its_process(tmp_path: Path) -> None:
    """From the start of serve on, a mitmproxy record quoting traffic is written scrubbed."""
    script = textwrap.dedent(
        f"""
        import asyncio, logging, sys
        from dlp_proxy.gateway import logs
        from dlp_proxy.gateway.proxy import ProxySettings, serve
        settings = ProxySettings(
            policy={str(POLICIES / "default.yaml")!r}, listen_host="127.0.0.1", listen_port=0,
            confdir="conf", data_dir="var", settings=("no_such_option=1",),
        )
        code = asyncio.run(serve(settings))
        make = logging.getLogRecordFactory()
        record = make("mitmproxy.proxy.server", 30, "", 0, "payload: %s", ("219-09-9999",), None)
        print(record.getMessage(), logs.installed(), file=sys.stderr)
        sys.exit(code)
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
    assert result.stderr.splitlines()[-1] == "payload [details withheld] True"


def test_the_mitmdump_script_scrubs_the_logs_of_its_process() -> None:
    """Loading addons/dlp.py (as mitmdump -s does) installs the scrubbing, once."""
    script = textwrap.dedent(
        f"""
        import runpy
        from dlp_proxy.gateway import logs
        runpy.run_path({str(ROOT / "addons" / "dlp.py")!r})
        runpy.run_path({str(ROOT / "addons" / "dlp.py")!r})  # a script reload
        print(logs.installed())
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert (result.returncode, result.stdout) == (0, "True\n"), result.stderr
