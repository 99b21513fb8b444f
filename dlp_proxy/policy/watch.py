"""Watching the policy files for changes, with no event loop: the addon polls from a thread.

A change is noticed by `stat` (mtime, size, inode: a Kubernetes ConfigMap swap changes the
target's inode) and confirmed by the content's sha256, so a touch is no change. A missing file
is not a change yet (an editor's save renames files about), and a file whose stamp just moved
is looked at again next time, as it may still be being written.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path

from dlp_proxy.policy.model import Policy

__all__ = ["WatchedFiles", "parse_interval", "policy_files"]


def parse_interval(value: str) -> float:
    """`dlp_reload_interval` as seconds: a number, at least 0 (0 turns polling off)."""
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError("must be a number of seconds, or 0 to turn polling off") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError("must be a number of seconds, or 0 to turn polling off")
    return seconds


def policy_files(policy: Policy | None) -> tuple[str, ...]:
    """The files a policy was read from: its `files`, or at least its main file."""
    if policy is None:
        return ()
    return policy.files or (policy.source,)


@dataclass(frozen=True)
class _Stamp:
    """What `stat` says about a file: any change to it is worth a look at the content."""

    mtime_ns: int
    size: int
    inode: int


def _stamp(path: str) -> _Stamp | None:
    """The file's stamp, or `None` while it is missing (an editor's rename, a ConfigMap swap)."""
    try:
        st = os.stat(path)  # follows symlinks: a ConfigMap swap changes the target's inode
    except OSError:
        return None
    return _Stamp(st.st_mtime_ns, st.st_size, st.st_ino)


def _digest(path: str) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


class WatchedFiles:
    """The policy files as last read: stamps to notice a change, digests to confirm it.

    Plain file-system work with no event loop: the addon calls `changed` in a worker thread.
    """

    def __init__(self, paths: tuple[str, ...] = ()) -> None:
        self.paths = paths
        self._stamps: dict[str, _Stamp] = {}
        self._digests: dict[str, str] = {}
        self._pending: dict[str, _Stamp] | None = None

    @classmethod
    def snapshot(cls, paths: tuple[str, ...]) -> WatchedFiles:
        """The files as they are now (taken before a load, so a later edit is still noticed)."""
        return cls().with_paths(paths)

    def with_paths(self, paths: tuple[str, ...]) -> WatchedFiles:
        """The same record for `paths`: files already known keep their entry, others are read."""
        files = WatchedFiles(paths)
        for path in paths:
            if path in self._stamps:
                files._stamps[path], files._digests[path] = self._stamps[path], self._digests[path]
                continue
            stamp = _stamp(path)  # before the digest: a write in between is seen next time
            digest = _digest(path)
            if stamp is not None and digest is not None:
                files._stamps[path], files._digests[path] = stamp, digest
        return files

    def changed(self) -> bool:
        """Whether a file's content differs from the record, once its stamp held for a check.

        A missing file is not a change yet (an editor's save renames files about). A file
        whose stamp moved since the previous check may still be being written: it is looked
        at again next time. Same content under a new stamp (a touch) updates the record.
        """
        stamps: dict[str, _Stamp] = {}
        for path in self.paths:
            stamp = _stamp(path)
            if stamp is None:
                self._pending = None
                return False
            stamps[path] = stamp
        if stamps == self._stamps:
            self._pending = None
            return False
        if stamps != self._pending:
            self._pending = stamps
            return False
        digests = {path: _digest(path) for path in self.paths}
        if any(d is None for d in digests.values()):
            self._pending = None
            return False
        if digests == self._digests:
            self._stamps, self._pending = stamps, None
            return False
        return True
