"""Starting the gateway: a broken policy stops `dlp-proxy run` before it listens."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.e2e.harness import ROOT, dlp_proxy_argv, free_port

BROKEN_POLICY = """\
version: 1
name: broken
rules:
  - id: contact-details
    entities: [EMAIL_ADDRESS]
    action: mask
"""


def test_broken_policy_makes_run_exit_with_file_line_and_reason(tmp_path: Path) -> None:
    """`dlp-proxy run` refuses `action: mask`, naming file, line, field and allowed values."""
    policy = tmp_path / "broken.yaml"
    policy.write_text(BROKEN_POLICY, encoding="utf-8")
    argv = dlp_proxy_argv(policy, ["regular"], free_port(), tmp_path / "conf", tmp_path / "data")
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=ROOT, check=False)
    assert result.returncode != 0
    assert (
        f"{policy}:6:5: rules[0].action must be one of allow|redact|encrypt|block (got 'mask')"
        in result.stderr
    )
    assert "proxy_ready" not in result.stdout
    assert not (tmp_path / "data" / "decisions.jsonl").exists()
