"""The running proxy follows its policy file: edits are applied, broken ones refused, SIGHUP works.

Each test starts its own `dlp-proxy run` (reverse mode, one worker, real Presidio) on a copy of
default.yaml, keeps a background thread sending requests through it the whole time, changes
the policy, and checks every response against the decision logged for it: no request may
fail or get a 5xx while the policy is swapped.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.harness import (
    BIN,
    DEFAULT_POLICY,
    EMAIL,
    ROOT,
    Proxy,
    Vendor,
    assert_masked,
    dlp_proxy_argv,
    free_port,
    poll,
)

RELOAD_TIMEOUT = 60.0  # seconds for an edit to show in the logs (polling or SIGHUP)
TRAFFIC_TIMEOUT = 120.0  # seconds for the background thread to get a few more answers

# default.yaml's rule for emails and phones, as shipped and with the action turned to block.
REDACT_CONTACTS = "    action: redact\n    redact:\n      operator: mask\n      keep: 4\n"
BLOCK_CONTACTS = "    action: block\n"
BROKEN_CONTACTS = "    action: mask\n    redact:\n      operator: mask\n      keep: 4\n"


# --- the proxy and its policy -----------------------------------------------------------------


StartProxy = Callable[..., tuple[Proxy, Path]]


@pytest.fixture
def start_proxy(tmp_path: Path, http_vendor: Vendor) -> Iterator[StartProxy]:
    """Start a reverse proxy on a copy of default.yaml with a given dlp_reload_interval.

    `dlp-proxy run` by default; with `mitmdump=True`, mitmdump with `-s addons/dlp.py`.
    """
    started: list[Proxy] = []

    def start(interval: float, mitmdump: bool = False) -> tuple[Proxy, Path]:
        workdir = tmp_path / f"proxy-{len(started)}"
        workdir.mkdir()
        policy = workdir / "policy.yaml"
        policy.write_bytes(DEFAULT_POLICY.read_bytes())
        confdir, data_dir, port = workdir / "conf", workdir / "data", free_port()
        mode, reload = f"reverse:{http_vendor.origin}", f"dlp_reload_interval={interval:g}"
        if mitmdump:
            argv = [str(BIN / "mitmdump"), "-s", str(ROOT / "addons" / "dlp.py"), "--mode", mode]
            argv += ["--listen-host", "127.0.0.1", "--listen-port", str(port)]
            for setting in (
                f"confdir={confdir}",
                f"dlp_policy={policy}",
                f"dlp_data_dir={data_dir}",
                "dlp_log_stdout=true",
                "dlp_workers=1",
                "flow_detail=0",
                reload,
            ):
                argv += ["--set", setting]
        else:
            argv = dlp_proxy_argv(
                policy, [mode], port, confdir, data_dir, "--workers", "1", "--set", reload
            )
        name = f"{'mitmdump' if mitmdump else 'dlp-proxy'} reloading every {interval:g}s"
        proxy = Proxy(name, argv, workdir, port, confdir, data_dir)
        started.append(proxy)
        proxy.start()
        return proxy, policy

    yield start
    for proxy in started:
        proxy.stop()
        assert "Traceback" not in proxy.stderr(), proxy.report()


def _edit(policy: Path, old: str, new: str, atomic: bool = True) -> int:
    """Replace `old` (there once) by `new`; return the line the change starts on.

    `atomic` saves like an editor or a ConfigMap update (a new file renamed over the old one);
    otherwise the file is rewritten in place.
    """
    text = policy.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    line = text[: text.index(old)].count("\n") + 1
    new_text = text.replace(old, new)
    if atomic:
        staged = policy.with_name(policy.name + ".new")
        staged.write_text(new_text, encoding="utf-8")
        staged.replace(policy)
    else:
        policy.write_text(new_text, encoding="utf-8")
    return line


def _log(proxy: Proxy) -> list[dict[str, Any]]:
    """The complete lines of decisions.jsonl so far (a line being written is left for later)."""
    if not proxy.decisions_path.exists():
        return []
    text = proxy.decisions_path.read_text(encoding="utf-8")
    complete = text[: text.rfind("\n") + 1]
    return [json.loads(line) for line in complete.splitlines() if line]


def _events(proxy: Proxy, name: str) -> list[dict[str, Any]]:
    return [e for e in _log(proxy) if e.get("event") == name]


def _wait_for_event(proxy: Proxy, name: str, **fields: Any) -> dict[str, Any]:
    """The first `name` event with these field values (waits for it to be logged)."""

    def find() -> list[dict[str, Any]]:
        return [e for e in _events(proxy, name) if all(e.get(k) == v for k, v in fields.items())]

    found: list[dict[str, Any]] = poll(f"{name} {fields} in the log", find, RELOAD_TIMEOUT)
    return found[0]


def _startup_sha(proxy: Proxy) -> str:
    [loaded] = _events(proxy, "policy_loaded")
    assert loaded["reason"] == "startup"
    return str(loaded["policy_sha256"])


# --- traffic during the swap ------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """One request the background thread sent, and what came back (a status or an error)."""

    path: str
    status: int | None
    error: str | None = None


class Traffic:
    """Requests with an email through the proxy, one after another, from a background thread."""

    def __init__(self, proxy: Proxy, prefix: str) -> None:
        self.proxy, self.prefix = proxy, prefix
        self._sent: list[Sent] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reload-traffic", daemon=True)

    def __enter__(self) -> Traffic:
        self._thread.start()
        self.wait_for_more(3)  # the proxy answers before anything is changed
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(TRAFFIC_TIMEOUT)
        assert not self._thread.is_alive(), "the traffic thread did not stop"

    def _run(self) -> None:
        with httpx.Client(base_url=self.proxy.url, trust_env=False, timeout=60) as client:
            n = 0
            while not self._stop.is_set():
                n += 1
                path = f"{self.prefix}/{n}"
                try:
                    response = client.post(path, json={"ticket_id": f"T-{n}", "email": EMAIL})
                    sent = Sent(path, response.status_code)
                except httpx.HTTPError as e:
                    sent = Sent(path, None, f"{type(e).__name__}: {e}")
                with self._lock:
                    self._sent.append(sent)

    def sent(self) -> list[Sent]:
        """Every request answered (or failed) so far."""
        with self._lock:
            return list(self._sent)

    def wait_for_more(self, count: int) -> None:
        """Wait until `count` more requests have been answered."""
        target = len(self.sent()) + count
        poll(
            f"{count} more requests through {self.proxy.name}",
            lambda: len(self.sent()) >= target,
            TRAFFIC_TIMEOUT,
        )


def _check_every_answer(
    traffic: Traffic, proxy: Proxy, vendor: Vendor, redacting: str, blocking: str | None = None
) -> dict[str, int]:
    """No request failed or got a 5xx; each answer matches the policy its decision names.

    Under `redacting` (sha256) the vendor got the email masked and the client a 200; under
    `blocking` the client got a 403 and the vendor nothing. Returns the count per sha256.
    """
    sent = traffic.sent()
    failed = [s for s in sent if s.error is not None or (s.status or 0) >= 500]
    assert failed == [], failed
    decisions = {
        d["path"]: d
        for d in _events(proxy, "decision")
        if d["direction"] == "request" and d["path"].startswith(traffic.prefix + "/")
    }
    counts: dict[str, int] = {}
    for s in sent:
        decision = decisions[s.path]  # logged before the request went on, so before the answer
        sha = decision["policy_sha256"]
        counts[sha] = counts.get(sha, 0) + 1
        if sha == redacting:
            assert (s.status, decision["outcome"]) == (200, "redacted"), (s, decision)
            assert_masked(vendor.only(s.path).json()["email"], EMAIL)
        else:
            assert sha == blocking, (s, decision)
            assert (s.status, decision["outcome"]) == (403, "blocked"), (s, decision)
            assert decision["blocking_rule"] == "redact-contact-details"
            assert vendor.received(s.path) == []
    return counts


# --- the tests --------------------------------------------------------------------------------


def test_an_edit_is_picked_up_by_polling_and_enforced(
    start_proxy: StartProxy, http_vendor: Vendor, unique_path: str
) -> None:
    """Saving a stricter rule makes the polling proxy block emails under the new sha256."""
    proxy, policy = start_proxy(0.2)
    old_sha = _startup_sha(proxy)
    with Traffic(proxy, unique_path) as traffic:
        _edit(policy, REDACT_CONTACTS, BLOCK_CONTACTS)
        loaded = _wait_for_event(proxy, "policy_loaded", reason="file_changed")
        new_sha = loaded["policy_sha256"]
        assert new_sha != old_sha
        assert loaded["previous_sha256"] == old_sha
        assert loaded["file"] == str(policy)
        assert loaded["policy"] == "default"
        poll(
            "a request blocked under the new policy",
            lambda: any(
                d.get("policy_sha256") == new_sha and d.get("outcome") == "blocked"
                for d in _events(proxy, "decision")
            ),
            RELOAD_TIMEOUT,
        )
        traffic.wait_for_more(3)
    counts = _check_every_answer(traffic, proxy, http_vendor, old_sha, new_sha)
    assert counts[old_sha] >= 3
    assert counts[new_sha] >= 3
    assert f"dlp-proxy: policy reloaded: default sha256 {new_sha[:12]}" in proxy.stderr()
    assert _events(proxy, "policy_refused") == []


def test_a_broken_edit_is_refused_and_the_last_good_policy_stays(
    start_proxy: StartProxy, http_vendor: Vendor, unique_path: str
) -> None:
    """An invalid save is refused with file and line; traffic goes on under the old sha256."""
    proxy, policy = start_proxy(0.2)
    good_sha = _startup_sha(proxy)
    with Traffic(proxy, unique_path) as traffic:
        line = _edit(policy, REDACT_CONTACTS, BROKEN_CONTACTS)
        refused = _wait_for_event(proxy, "policy_refused", reason="file_changed")
        assert refused["file"] == str(policy)
        assert refused["kept_sha256"] == good_sha
        where = [p for p in refused["problems"] if p.startswith(f"{policy}:{line}:")]
        assert where, refused["problems"]
        assert "action" in where[0]
        traffic.wait_for_more(5)  # handled after the refusal, under the last good policy
        assert _check_every_answer(traffic, proxy, http_vendor, good_sha) == {
            good_sha: len(traffic.sent())
        }
        # Fixing the file is an edit like any other: it is applied.
        _edit(policy, BROKEN_CONTACTS, BLOCK_CONTACTS)
        loaded = _wait_for_event(proxy, "policy_loaded", reason="file_changed")
        assert loaded["previous_sha256"] == good_sha
        traffic.wait_for_more(3)
    counts = _check_every_answer(traffic, proxy, http_vendor, good_sha, loaded["policy_sha256"])
    assert counts[loaded["policy_sha256"]] >= 1
    assert where[0] in proxy.stderr()
    assert len(_events(proxy, "policy_refused")) == 1


@pytest.mark.parametrize("mitmdump", [False, True], ids=["dlp-proxy-run", "mitmdump-script"])
def test_sighup_applies_an_edit_when_polling_is_off(
    start_proxy: StartProxy, http_vendor: Vendor, unique_path: str, mitmdump: bool
) -> None:
    """With dlp_reload_interval=0 an edit waits for SIGHUP, which then applies it."""
    proxy, policy = start_proxy(0, mitmdump=mitmdump)
    old_sha = _startup_sha(proxy)
    assert proxy.process is not None
    with Traffic(proxy, unique_path) as traffic:
        _edit(policy, REDACT_CONTACTS, BLOCK_CONTACTS, atomic=False)
        traffic.wait_for_more(5)
        assert _events(proxy, "policy_loaded")[-1]["reason"] == "startup"
        os.kill(proxy.process.pid, signal.SIGHUP)
        loaded = _wait_for_event(proxy, "policy_loaded", reason="sighup")
        assert loaded["previous_sha256"] == old_sha
        traffic.wait_for_more(3)
    counts = _check_every_answer(traffic, proxy, http_vendor, old_sha, loaded["policy_sha256"])
    assert counts[old_sha] >= 5
    assert counts[loaded["policy_sha256"]] >= 1
    assert proxy.process.poll() is None  # SIGHUP did not end the proxy
