"""Tests for dlp_proxy/policy/watch.py: noticing policy file changes, and the reload interval."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dlp_proxy.policy.loader import parse_policy
from dlp_proxy.policy.watch import WatchedFiles, parse_interval, policy_files


def test_policy_files_tell_a_touch_from_an_edit(tmp_path: Path) -> None:
    """The watcher's record: touch is no change, an edit is one once it holds for a check."""
    path = tmp_path / "p.yaml"
    path.write_text("a: 1\n")
    files = WatchedFiles.snapshot((str(path),))
    assert files.changed() is False
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    assert [files.changed(), files.changed(), files.changed()] == [False, False, False]
    path.write_text("a: 22\n")
    assert files.changed() is False  # first sight of a new stamp: may still be being written
    assert files.changed() is True
    path.unlink()
    assert files.changed() is False  # missing: wait for the next tick


@pytest.mark.parametrize(
    ("value", "seconds"), [("1.0", 1.0), ("0.2", 0.2), ("0", 0.0), ("3", 3.0), (" 2 ", 2.0)]
)
def test_reload_interval_is_parsed_as_seconds(value: str, seconds: float) -> None:
    """dlp_reload_interval is text (so --set works) holding seconds; 0 turns polling off."""
    assert parse_interval(value) == seconds


@pytest.mark.parametrize("value", ["-1", "", "soon", "nan", "inf", "1s"])
def test_bad_reload_interval_is_refused(value: str) -> None:
    """A reload interval that is not a finite number of seconds >= 0 is refused, saying so."""
    with pytest.raises(ValueError, match="must be a number of seconds, or 0 to turn polling off"):
        parse_interval(value)


def test_files_of_a_policy_are_its_files_or_its_source() -> None:
    """A policy read from a file is watched through its files; one from memory by its source."""
    policy = parse_policy(
        "version: 1\nname: m\nrules: [{id: r, entities: [PERSON], action: block}]\n"
    )
    assert policy_files(policy) == ("<memory>",)
    assert policy_files(None) == ()
