"""The evaluator's own logic: block detection, git state, the error path."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.eval import _is_block, _parser, _transfer, git_state, main
from bench.harness import Received


@pytest.mark.parametrize(
    ("status", "body", "blocked"),
    [
        (403, b'{"error": "blocked_by_dlp_policy", "incident_id": "inc-1"}', True),
        (403, b'{"error": "forbidden"}', False),
        (403, b"<html>Forbidden</html>", False),
        (403, b"[1]", False),
        (200, b'{"error": "blocked_by_dlp_policy"}', False),
    ],
)
def test_only_the_gateways_policy_answer_is_a_block(
    status: int, body: bytes, blocked: bool
) -> None:
    """A block is the gateway's 403 JSON with error blocked_by_dlp_policy, nothing else."""
    assert _is_block(status, body) is blocked


def test_the_case_header_is_not_part_of_what_was_received() -> None:
    """The bench's X-Bench-Case header is dropped before scoring."""
    received = Received("POST", "/p", (("X-Bench-Case", "c1"), ("A", "b")), b"x")
    assert _transfer(received).headers == (("A", "b"),)


def test_git_state_reads_a_branch_ref(tmp_path: Path) -> None:
    """HEAD pointing at a branch gives that branch's commit."""
    (tmp_path / ".git/refs/heads").mkdir(parents=True)
    (tmp_path / ".git/HEAD").write_text("ref: refs/heads/main\n")
    (tmp_path / ".git/refs/heads/main").write_text("0123456789abcdef0123456789abcdef01234567\n")
    assert git_state(tmp_path) == "commit 0123456789ab (main)"


def test_git_state_reads_packed_refs_and_detached_heads(tmp_path: Path) -> None:
    """Packed refs and a detached HEAD are read too; no .git at all is 'unknown'."""
    assert git_state(tmp_path) == "unknown"
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git/HEAD").write_text("ref: refs/heads/dev\n")
    (tmp_path / ".git/packed-refs").write_text("# pack\nfedcba9876543210 refs/heads/dev\n")
    assert git_state(tmp_path) == "commit fedcba987654 (dev)"
    (tmp_path / ".git/HEAD").write_text("abcdef0123456789\n")
    assert git_state(tmp_path) == "commit abcdef012345 (detached)"


def test_defaults() -> None:
    """By default: the default corpus, the default policy, the baseline, no JSON file."""
    args = _parser().parse_args([])
    assert args.policy.name == "default.yaml"
    assert args.json is None
    assert not args.no_baseline


def test_a_proxy_that_cannot_start_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A policy file that does not exist stops the run with status 2 and says why."""
    status = main(["--size", "4", "--policy", str(tmp_path / "missing.yaml"), "--no-baseline"])
    assert status == 2
    assert "the proxy run failed" in capsys.readouterr().err
