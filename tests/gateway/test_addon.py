"""Tests for dlp_proxy/gateway/addon.py: flows in, decisions applied, all logged, fail closed."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import logging
import os
import re
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from mitmproxy import exceptions, http
from mitmproxy.addons.proxyserver import Proxyserver
from mitmproxy.test import taddons, tflow

from dlp_proxy.core.inspect import Decision, Message
from dlp_proxy.crypto.keys import Keyring, create_keyring, save_keyring
from dlp_proxy.gateway.addon import DlpAddon
from dlp_proxy.policy.model import Mode, Policy
from tests.support import InlinePool

POLICY = """\
version: 1
name: test
mode: {mode}
unknown_destinations: {unknown}
rules:
  - id: block-ssn
    entities: [US_SSN]
    action: block
  - id: encrypt-cards
    entities: [CREDIT_CARD]
    action: encrypt
  - id: mask-email
    entities: [EMAIL_ADDRESS]
    direction: both
    action: redact
    redact: {{operator: mask, keep: 4}}
"""


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[DlpAddon, Any, Path]]:
    addon = DlpAddon()
    with taddons.context(addon, Proxyserver()) as tctx:
        _configure(tctx, addon, tmp_path)
        addon.pool = InlinePool()  # type: ignore[assignment]
        yield addon, tctx, tmp_path
        addon.done()


def _write_policy(tmp_path: Path, mode: str = "enforce", unknown: str = "inspect") -> Path:
    path = tmp_path / f"policy-{mode}-{unknown}.yaml"
    path.write_text(POLICY.format(mode=mode, unknown=unknown))
    return path


def _configure(tctx: Any, addon: DlpAddon, tmp_path: Path, **policy: str) -> None:
    tctx.configure(
        addon,
        dlp_policy=str(_write_policy(tmp_path, **policy)),
        dlp_data_dir=str(tmp_path / "var"),
        dlp_keyring=str(tmp_path / "keyring.json"),
        confdir=str(tmp_path / "conf"),
    )


def _flow(body: bytes, path: str = "/tickets", content_type: str = "application/json") -> Any:
    flow = tflow.tflow(
        req=tflow.treq(method=b"POST", path=path.encode(), content=body),
    )
    flow.request.headers["content-type"] = content_type
    return flow


def _decisions(tmp_path: Path) -> list[dict[str, Any]]:
    lines = (tmp_path / "var" / "decisions.jsonl").read_text().splitlines()
    return [d for d in map(json.loads, lines) if d["event"] == "decision"]


async def test_clean_request_passes_byte_identical(env: tuple[DlpAddon, Any, Path]) -> None:
    """A request without findings keeps its exact bytes and is logged as allowed."""
    addon, _, tmp_path = env
    body = b'{ "order":  48213,\n "status": "shipped" }'
    flow = _flow(body)
    await addon.request(flow)
    assert flow.response is None
    assert flow.request.raw_content == body
    assert _decisions(tmp_path)[-1]["outcome"] == "allowed"


async def test_blocked_request_gets_403_and_an_incident(env: tuple[DlpAddon, Any, Path]) -> None:
    """A block answers 403 with the incident id and rule, echoing nothing, and records it."""
    addon, _, tmp_path = env
    flow = _flow(b'{"ssn": "536-90-4399"}')
    await addon.request(flow)
    assert flow.response.status_code == 403
    body = json.loads(flow.response.content)
    assert body["error"] == "blocked_by_dlp_policy"
    assert body["rule"] == "block-ssn"
    assert "536-90-4399" not in flow.response.text
    incident = json.loads((tmp_path / "var" / "incidents.jsonl").read_text().splitlines()[-1])
    assert incident["incident_id"] == body["incident_id"] == _decisions(tmp_path)[-1]["incident_id"]


async def test_redaction_rewrites_body_and_content_length(env: tuple[DlpAddon, Any, Path]) -> None:
    """A masked email changes the body; Content-Length follows the new body."""
    addon, _, _ = env
    flow = _flow(b'{"email": "maria@example.com", "n": 1}')
    await addon.request(flow)
    assert json.loads(flow.request.content) == {"email": "*****@******e.com", "n": 1}
    assert flow.request.headers["content-length"] == str(len(flow.request.raw_content))


async def test_gzip_body_is_inspected_and_re_encoded(env: tuple[DlpAddon, Any, Path]) -> None:
    """A gzip body is decoded for inspection and re-compressed after the change."""
    addon, _, _ = env
    flow = _flow(b"")
    flow.request.headers["content-encoding"] = "gzip"
    flow.request.raw_content = gzip.compress(b'{"email": "maria@example.com"}')
    await addon.request(flow)
    assert json.loads(gzip.decompress(flow.request.raw_content)) == {"email": "*****@******e.com"}


async def test_query_values_are_redacted(env: tuple[DlpAddon, Any, Path]) -> None:
    """A query parameter holding an email is masked in the forwarded URL."""
    addon, _, tmp_path = env
    flow = _flow(b"", path="/search?email=maria@example.com&id=7")
    await addon.request(flow)
    assert flow.request.query["email"] == "*****@******e.com"
    assert flow.request.query["id"] == "7"
    assert _decisions(tmp_path)[-1]["path"] == "/search?email=&id="


async def test_undecodable_body_fails_closed(env: tuple[DlpAddon, Any, Path]) -> None:
    """A body claiming gzip that is not gzip is blocked under on_error: block."""
    addon, _, tmp_path = env
    flow = _flow(b"")
    flow.request.headers["content-encoding"] = "gzip"
    flow.request.raw_content = b"not gzip at all"
    await addon.request(flow)
    assert flow.response.status_code == 403
    decision = _decisions(tmp_path)[-1]
    assert decision["blocking_rule"] == "on_error"
    assert decision["error"].startswith("undecodable_body: cannot decode Content-Encoding 'gzip'")


async def test_streamed_body_fails_closed(env: tuple[DlpAddon, Any, Path]) -> None:
    """A body that was streamed past the proxy (no content to inspect) is blocked."""
    addon, _, tmp_path = env
    flow = _flow(b"x")
    flow.request.data.content = None
    await addon.request(flow)
    assert flow.response.status_code == 403
    assert "streamed" in _decisions(tmp_path)[-1]["error"]


async def test_a_broken_pool_fails_closed(env: tuple[DlpAddon, Any, Path]) -> None:
    """Any exception while inspecting blocks the message instead of letting it pass."""
    addon, _, tmp_path = env
    addon.pool = InlinePool(fail_with=RuntimeError("boom"))  # type: ignore[assignment]
    flow = _flow(b'{"email": "maria@example.com"}')
    await addon.request(flow)
    assert flow.response.status_code == 403
    assert _decisions(tmp_path)[-1]["error"] == "internal_error: RuntimeError"


async def test_monitor_mode_changes_nothing(env: tuple[DlpAddon, Any, Path]) -> None:
    """In monitor mode a would-be block and a would-be redaction leave the flow untouched."""
    addon, tctx, tmp_path = env
    _configure(tctx, addon, tmp_path, mode="monitor")
    flow = _flow(b'{"ssn": "536-90-4399", "email": "maria@example.com"}')
    await addon.request(flow)
    assert flow.response is None
    assert flow.request.content == b'{"ssn": "536-90-4399", "email": "maria@example.com"}'
    assert _decisions(tmp_path)[-1]["outcome"] == "would_block"


async def test_unknown_destinations_block_needs_no_inspection(
    env: tuple[DlpAddon, Any, Path],
) -> None:
    """With unknown_destinations: block, traffic to an unlisted host is refused unread."""
    addon, tctx, tmp_path = env
    _configure(tctx, addon, tmp_path, unknown="block")
    addon.pool = InlinePool(fail_with=AssertionError("the pool must not be used"))  # type: ignore[assignment]
    flow = _flow(b"{}")
    await addon.request(flow)
    assert flow.response.status_code == 403
    assert json.loads(flow.response.content)["rule"] == "unknown_destination"


async def test_responses_are_inspected_only_when_a_rule_covers_them(
    env: tuple[DlpAddon, Any, Path],
) -> None:
    """A response-direction rule masks the vendor's answer; others are not even logged."""
    addon, _, tmp_path = env
    flow = tflow.tflow(resp=tflow.tresp(content=b'{"email": "maria@example.com"}'))
    flow.response.headers["content-type"] = "application/json"
    await addon.response(flow)
    assert json.loads(flow.response.content) == {"email": "*****@******e.com"}
    assert _decisions(tmp_path)[-1]["direction"] == "response"


async def test_blocked_request_response_is_not_reinspected(
    env: tuple[DlpAddon, Any, Path],
) -> None:
    """The 403 we made ourselves is not inspected again as a vendor response."""
    addon, _, tmp_path = env
    flow = _flow(b'{"ssn": "536-90-4399"}')
    await addon.request(flow)
    count = len(_decisions(tmp_path))
    await addon.response(flow)
    assert len(_decisions(tmp_path)) == count


def test_broken_policy_is_refused_and_the_old_one_kept(
    env: tuple[DlpAddon, Any, Path],
) -> None:
    """A policy that does not validate raises OptionsError; the running policy stays."""
    addon, tctx, tmp_path = env
    before = addon.policy
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "version: 1\nname: x\nrules:\n  - id: r\n    entities: [SSN]\n    action: block\n"
    )
    with pytest.raises(
        exceptions.OptionsError, match=r"broken.yaml:5:(\d+:)? rules\[0\].entities\[0\]"
    ):
        tctx.configure(addon, dlp_policy=str(broken))
    assert addon.policy is before


def test_a_policy_naming_a_key_the_keyring_lacks_is_refused(
    env: tuple[DlpAddon, Any, Path],
) -> None:
    """Encryption key ids are checked against the proxy's keyring when the policy loads."""
    addon, tctx, tmp_path = env
    before = addon.policy
    assert addon.keyring is not None
    known = addon.keyring.keys[0].id
    policy = tmp_path / "keys.yaml"
    rule = "  - {id: c, entities: [CREDIT_CARD], action: encrypt, encrypt: {key: %s}}\n"
    policy.write_text("version: 1\nname: k\nrules:\n" + rule % "no-such-key")
    with pytest.raises(exceptions.OptionsError, match="names key 'no-such-key', which is not in"):
        tctx.configure(addon, dlp_policy=str(policy))
    assert addon.policy is before
    policy.write_text("version: 1\nname: k\nrules:\n" + rule % known)
    tctx.configure(addon, dlp_policy=str(policy))
    assert addon.policy is not None
    assert addon.policy.rules[0].encrypt.key == known


def test_policy_warnings_are_logged_with_the_load(env: tuple[DlpAddon, Any, Path]) -> None:
    """A rule an earlier one makes redundant is loaded, and the warning is in the log."""
    addon, tctx, tmp_path = env
    policy = tmp_path / "redundant.yaml"
    policy.write_text(
        "version: 1\nname: w\nrules:\n"
        "  - {id: a, entities: [US_SSN, PERSON], action: block}\n"
        "  - {id: b, entities: [US_SSN], action: redact}\n"
    )
    tctx.configure(addon, dlp_policy=str(policy))
    assert addon.audit is not None
    addon.audit.close()
    lines = (tmp_path / "var" / "decisions.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    loaded = [e for e in events if e["event"] == "policy_loaded" and e["policy"] == "w"][-1]
    (warning,) = loaded["warnings"]
    assert "rules[1] has no effect: rule 'a' before it" in warning


def test_streaming_large_bodies_is_refused(env: tuple[DlpAddon, Any, Path]) -> None:
    """stream_large_bodies would let bodies past inspection, so it is refused."""
    addon, tctx, _ = env
    with pytest.raises(exceptions.OptionsError, match="cannot inspect streamed bodies"):
        tctx.configure(addon, stream_large_bodies="1m")


async def test_oversized_body_is_refused_before_decompression(
    env: tuple[DlpAddon, Any, Path],
) -> None:
    """A compressed body larger than max_body_bytes is handled by on_error, unexpanded."""
    addon, tctx, tmp_path = env
    policy = tmp_path / "small.yaml"
    policy.write_text(POLICY.format(mode="enforce", unknown="inspect") + "max_body_bytes: 64\n")
    tctx.configure(addon, dlp_policy=str(policy))
    flow = _flow(b"")
    flow.request.headers["content-encoding"] = "gzip"
    flow.request.raw_content = gzip.compress(bytes(range(256)) * 4)
    await addon.request(flow)
    assert flow.response.status_code == 403
    assert _decisions(tmp_path)[-1]["error"].startswith("body_too_large: body of")


def _websocket_flow(text: str, from_client: bool = True) -> Any:
    from mitmproxy.websocket import WebSocketMessage
    from wsproto.frame_protocol import Opcode

    flow = tflow.twebsocketflow(messages=False)
    flow.websocket.messages.append(WebSocketMessage(Opcode.TEXT, from_client, text.encode()))
    return flow


async def test_websocket_text_from_client_is_redacted(env: tuple[DlpAddon, Any, Path]) -> None:
    """A client's WebSocket text message is inspected as a request and rewritten in place."""
    addon, _, tmp_path = env
    flow = _websocket_flow('{"email": "maria@example.com"}')
    await addon.websocket_message(flow)
    assert json.loads(flow.websocket.messages[-1].content) == {"email": "*****@******e.com"}
    decision = _decisions(tmp_path)[-1]
    assert (decision["method"], decision["direction"]) == ("WEBSOCKET", "request")


async def test_websocket_message_with_ssn_is_dropped(env: tuple[DlpAddon, Any, Path]) -> None:
    """A blocked WebSocket message is dropped, and recorded as an incident."""
    addon, _, tmp_path = env
    flow = _websocket_flow("my ssn is 536-90-4399")
    await addon.websocket_message(flow)
    assert flow.websocket.messages[-1].dropped
    assert _decisions(tmp_path)[-1]["outcome"] == "blocked"
    assert (tmp_path / "var" / "incidents.jsonl").read_text().count("incident_id") == 1


async def test_websocket_from_vendor_follows_response_rules(
    env: tuple[DlpAddon, Any, Path],
) -> None:
    """Vendor-to-client messages are responses: only response rules (mask-email) apply."""
    addon, _, _ = env
    flow = _websocket_flow("ssn 536-90-4399, mail maria@example.com", from_client=False)
    await addon.websocket_message(flow)
    frame = flow.websocket.messages[-1]
    assert not frame.dropped
    assert frame.text == "ssn 536-90-4399, mail *****@******e.com"


# --- reloading the policy ---------------------------------------------------------------------

# POLICY's mask-email rule, and the same rule turned into a block.
REDACT_EMAIL = "    action: redact\n    redact: {operator: mask, keep: 4}\n"
BLOCK_EMAIL = "    action: block\n"
DEADLINE = 30.0  # seconds a test waits for the watcher or a signal before failing


def _events(tmp_path: Path, name: str) -> list[dict[str, Any]]:
    lines = (tmp_path / "var" / "decisions.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["event"] == name]


def _edit(path: Path, old: str, new: str) -> None:
    """Replace `old` (present exactly once) by `new`, as an editor saving in place would."""
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))


def _policy_file(addon: DlpAddon) -> Path:
    assert addon.policy is not None
    return Path(addon.policy.source)


async def _until(what: str, condition: Callable[[], bool]) -> None:
    """Wait (yielding to the event loop) until `condition` holds; fail after DEADLINE."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


@pytest.fixture
async def running(env: tuple[DlpAddon, Any, Path]) -> AsyncIterator[tuple[DlpAddon, Any, Path]]:
    """The addon after `running()` (poll task, SIGHUP handler), stopped again in the loop."""
    addon, _, _ = env
    addon.running()
    yield env
    addon.done()


async def test_valid_change_is_applied_logged_and_used(
    env: tuple[DlpAddon, Any, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """A valid edit is swapped in, logged with both sha256s, and decides the next request."""
    addon, _, tmp_path = env
    before = addon.policy
    assert before is not None
    _edit(_policy_file(addon), REDACT_EMAIL, BLOCK_EMAIL)
    assert await addon.reload_policy("file_changed") is True
    after = addon.policy
    assert after is not None
    assert after.sha256 != before.sha256
    loaded = _events(tmp_path, "policy_loaded")[-1]
    assert loaded == {
        **loaded,
        "reason": "file_changed",
        "policy": "test",
        "policy_sha256": after.sha256,
        "previous_sha256": before.sha256,
        "file": str(_policy_file(addon)),
        "rules": 3,
        "mode": "enforce",
    }
    assert f"dlp-proxy: policy reloaded: test sha256 {after.sha256[:12]}" in capsys.readouterr().err
    flow = _flow(b'{"email": "maria@example.com"}')
    await addon.request(flow)
    assert flow.response.status_code == 403
    assert _decisions(tmp_path)[-1]["policy_sha256"] == after.sha256


def test_startup_load_is_logged_with_its_reason(env: tuple[DlpAddon, Any, Path]) -> None:
    """The policy loaded at start is a `policy_loaded` event with reason startup."""
    addon, _, tmp_path = env
    assert addon.policy is not None
    loaded = _events(tmp_path, "policy_loaded")[0]
    assert loaded["reason"] == "startup"
    assert loaded["previous_sha256"] is None
    assert loaded["policy_sha256"] == addon.policy.sha256


async def test_invalid_change_is_refused_with_file_and_line(
    env: tuple[DlpAddon, Any, Path], caplog: pytest.LogCaptureFixture
) -> None:
    """A broken edit is refused and logged with file:line; the last good policy stays."""
    addon, _, tmp_path = env
    before = addon.policy
    assert before is not None
    path = _policy_file(addon)
    _edit(path, "    action: block\n", "    action: mask\n")  # line 8, rule block-ssn
    with caplog.at_level(logging.ERROR, logger="dlp_proxy.gateway.addon"):
        assert await addon.reload_policy("file_changed") is False
    assert addon.policy is before
    refused = _events(tmp_path, "policy_refused")[-1]
    assert refused["reason"] == "file_changed"
    assert refused["file"] == str(path)
    assert refused["kept_sha256"] == before.sha256
    [problem] = refused["problems"]
    assert re.match(rf"{re.escape(str(path))}:8:(\d+:)? rules\[0\]\.action must be one of", problem)
    assert problem in caplog.text
    assert len(_events(tmp_path, "policy_loaded")) == 1  # startup only
    flow = _flow(b'{"ssn": "536-90-4399"}')
    await addon.request(flow)
    assert flow.response.status_code == 403  # block-ssn still enforced
    assert _decisions(tmp_path)[-1]["policy_sha256"] == before.sha256


async def test_unchanged_content_does_nothing(env: tuple[DlpAddon, Any, Path]) -> None:
    """A touch (new mtime, same bytes) or a SIGHUP without an edit applies and logs nothing."""
    addon, _, tmp_path = env
    before = addon.policy
    path = _policy_file(addon)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    assert await addon.reload_policy("file_changed") is False
    assert await addon.reload_policy("sighup") is False
    assert addon.policy is before
    assert len(_events(tmp_path, "policy_loaded")) == 1
    assert _events(tmp_path, "policy_refused") == []


async def test_polling_applies_an_edit(running: tuple[DlpAddon, Any, Path]) -> None:
    """With polling on, an edit saved to the file is applied without any signal."""
    addon, tctx, tmp_path = running
    tctx.configure(addon, dlp_reload_interval="0.01")
    before = addon.policy
    assert before is not None
    _edit(_policy_file(addon), REDACT_EMAIL, BLOCK_EMAIL)
    await _until("the edit to be applied", lambda: addon.policy is not before)
    assert _events(tmp_path, "policy_loaded")[-1]["reason"] == "file_changed"


async def test_an_edit_to_an_included_file_is_applied(
    running: tuple[DlpAddon, Any, Path],
) -> None:
    """Included files are watched too: changing a shared allow list reloads the policy."""
    addon, tctx, tmp_path = running
    shared = tmp_path / "shared-allow.yaml"
    shared.write_text("allow:\n  - {id: a, reason: first, values: [x@example.com]}\n")
    main = tmp_path / "with-include.yaml"
    main.write_text(
        "version: 1\nname: inc\ninclude: [shared-allow.yaml]\n"
        "rules:\n  - {id: r, entities: [EMAIL_ADDRESS], action: redact}\n"
    )
    tctx.configure(addon, dlp_policy=str(main), dlp_reload_interval="0.01")
    before = addon.policy
    assert before is not None
    assert before.files == (str(main), str(shared))
    shared.write_text("allow:\n  - {id: a, reason: second, values: [x@example.com]}\n")
    await _until("the include edit to be applied", lambda: addon.policy is not before)
    assert addon.policy is not None
    assert addon.policy.allow[0].reason == "second"
    assert addon.policy.sha256 != before.sha256


async def test_polling_waits_out_an_editors_rename_dance(
    running: tuple[DlpAddon, Any, Path],
) -> None:
    """A file missing for a moment (save by rename) is no change; the new file is applied."""
    addon, tctx, tmp_path = running
    tctx.configure(addon, dlp_reload_interval="0.01")
    before = addon.policy
    path = _policy_file(addon)
    new_text = path.read_text().replace(REDACT_EMAIL, BLOCK_EMAIL)
    path.rename(path.with_suffix(".yaml~"))
    await asyncio.sleep(0.1)  # several ticks with the file missing
    assert addon.policy is before
    assert _events(tmp_path, "policy_refused") == []
    staged = path.with_suffix(".new")
    staged.write_text(new_text)
    staged.replace(path)
    await _until("the renamed-in file to be applied", lambda: addon.policy is not before)
    assert _events(tmp_path, "policy_refused") == []


async def test_sighup_reloads_the_policy(running: tuple[DlpAddon, Any, Path]) -> None:
    """The SIGHUP handler installed by running() applies an edit when polling is off."""
    addon, tctx, tmp_path = running
    tctx.configure(addon, dlp_reload_interval="0")
    assert signal.getsignal(signal.SIGHUP) not in (signal.SIG_DFL, signal.SIG_IGN, None)
    before = addon.policy
    _edit(_policy_file(addon), REDACT_EMAIL, BLOCK_EMAIL)
    os.kill(os.getpid(), signal.SIGHUP)
    await _until("the SIGHUP reload", lambda: addon.policy is not before)
    assert _events(tmp_path, "policy_loaded")[-1]["reason"] == "sighup"
    addon.done()
    assert signal.getsignal(signal.SIGHUP) == signal.SIG_DFL


async def test_sighup_reloads_a_rotated_keyring(running: tuple[DlpAddon, Any, Path]) -> None:
    """After `keys rotate`, SIGHUP makes the running proxy encrypt with the new active key."""
    addon, tctx, tmp_path = running
    tctx.configure(addon, dlp_reload_interval="0")
    before = addon.keyring
    assert before is not None
    path = Path(tctx.options.dlp_keyring or Path(tctx.options.confdir) / "dlp-keyring.json")
    save_keyring(path, before.rotated())
    os.kill(os.getpid(), signal.SIGHUP)
    await _until("the keyring reload", lambda: addon.keyring is not before)
    assert addon.keyring is not None
    assert addon.keyring.active.id != before.active.id
    (event,) = _events(tmp_path, "keyring_loaded")
    assert event["active"] == addon.keyring.active.id
    assert event["previous"] == {before.active.id: "active"}
    assert "secret" not in json.dumps(event)
    addon.done()


async def test_an_unreadable_keyring_on_sighup_keeps_the_running_keys(
    running: tuple[DlpAddon, Any, Path],
) -> None:
    """A keyring made readable by others is refused on reload; the loaded keys stay."""
    addon, tctx, tmp_path = running
    before = addon.keyring
    path = Path(tctx.options.dlp_keyring or Path(tctx.options.confdir) / "dlp-keyring.json")
    path.chmod(0o644)
    assert await addon.reload_keyring() is False
    assert addon.keyring is before
    (event,) = _events(tmp_path, "keyring_refused")
    assert "accessible by other users" in event["error"]
    path.chmod(0o600)


@pytest.mark.parametrize("value", ["-1", "", "soon", "nan", "inf", "1s"])
def test_bad_reload_interval_is_refused(env: tuple[DlpAddon, Any, Path], value: str) -> None:
    """A reload interval that is not a finite number of seconds >= 0 is refused, saying so."""
    addon, tctx, _ = env
    with pytest.raises(
        exceptions.OptionsError, match=f"Cannot parse dlp_reload_interval '{value}'"
    ):
        tctx.configure(addon, dlp_reload_interval=value)


async def test_reload_follows_the_dlp_policy_option(env: tuple[DlpAddon, Any, Path]) -> None:
    """After dlp_policy names another file, reloads read that file and leave the old one be."""
    addon, tctx, tmp_path = env
    old_path = _policy_file(addon)
    _configure(tctx, addon, tmp_path, mode="monitor")
    current = addon.policy
    assert current is not None
    assert current.mode is Mode.MONITOR
    assert _events(tmp_path, "policy_loaded")[-1]["reason"] == "startup"
    _edit(old_path, REDACT_EMAIL, BLOCK_EMAIL)
    assert await addon.reload_policy("sighup") is False
    assert addon.policy is current
    _edit(_policy_file(addon), REDACT_EMAIL, BLOCK_EMAIL)
    assert await addon.reload_policy("sighup") is True
    assert addon.policy is not None
    assert addon.policy.mode is Mode.MONITOR


@dataclass
class GatedPool(InlinePool):
    """An `InlinePool` whose inspections wait until the test opens the gate."""

    started: asyncio.Event = field(default_factory=asyncio.Event)
    gate: asyncio.Event = field(default_factory=asyncio.Event)

    async def inspect(self, message: Message, policy: Policy, keyring: Keyring) -> Decision:
        self.started.set()
        await self.gate.wait()
        return await super().inspect(message, policy, keyring)


async def test_inspection_in_flight_keeps_its_policy(env: tuple[DlpAddon, Any, Path]) -> None:
    """A message inspected across a reload is decided by the policy it started with."""
    addon, _, tmp_path = env
    pool = GatedPool()
    addon.pool = pool  # type: ignore[assignment]
    before = addon.policy
    assert before is not None
    in_flight = _flow(b'{"email": "maria@example.com"}')
    task: Awaitable[None] = asyncio.ensure_future(addon.request(in_flight))
    await pool.started.wait()
    _edit(_policy_file(addon), REDACT_EMAIL, BLOCK_EMAIL)
    assert await addon.reload_policy("file_changed") is True
    pool.gate.set()
    await task
    assert in_flight.response is None  # redacted under the old policy, not blocked
    assert _decisions(tmp_path)[-1]["policy_sha256"] == before.sha256
    later = _flow(b'{"email": "maria@example.com"}')
    await addon.request(later)
    assert later.response.status_code == 403
    assert addon.policy is not None
    assert _decisions(tmp_path)[-1]["policy_sha256"] == addon.policy.sha256


# --- the keyring -------------------------------------------------------------------------------


@pytest.fixture
def bare(tmp_path: Path) -> Iterator[tuple[DlpAddon, Any, Path]]:
    """An addon in a mitmproxy context with its own confdir, nothing configured yet."""
    addon = DlpAddon()
    with taddons.context(addon, Proxyserver()) as tctx:
        tctx.options.confdir = str(tmp_path / "conf")
        yield addon, tctx, tmp_path
        addon.done()


def _start(tctx: Any, addon: DlpAddon, tmp_path: Path, keyring: str) -> None:
    tctx.configure(
        addon,
        dlp_policy=str(_write_policy(tmp_path)),
        dlp_data_dir=str(tmp_path / "var"),
        dlp_keyring=keyring,
    )


def test_keyring_from_an_environment_variable(
    bare: tuple[DlpAddon, Any, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`dlp_keyring=env:NAME` reads the keyring JSON from the variable and creates no file."""
    addon, tctx, tmp_path = bare
    expected = create_keyring(tmp_path / "source.json").rotated()
    monkeypatch.setenv("DLP_TEST_KEYRING", _keyring_json(expected, tmp_path))
    _start(tctx, addon, tmp_path, "env:DLP_TEST_KEYRING")
    assert addon.keyring == expected
    assert addon.policy is not None
    assert not (tmp_path / "conf").exists()


def test_a_missing_environment_variable_is_refused_and_nothing_created(
    bare: tuple[DlpAddon, Any, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unset `env:NAME` is an OptionsError naming it; no keyring appears in the confdir."""
    addon, tctx, tmp_path = bare
    monkeypatch.delenv("DLP_TEST_KEYRING", raising=False)
    with pytest.raises(
        exceptions.OptionsError,
        match=re.escape("environment variable DLP_TEST_KEYRING is not set or empty"),
    ):
        _start(tctx, addon, tmp_path, "env:DLP_TEST_KEYRING")
    assert addon.keyring is None
    assert addon.policy is None
    assert not (tmp_path / "conf" / "dlp-keyring.json").exists()


@pytest.mark.parametrize("mode", [0o640, 0o644, 0o604])
def test_a_keyring_others_can_read_is_refused(bare: tuple[DlpAddon, Any, Path], mode: int) -> None:
    """A keyring file group or others can read stops the addon with the `chmod 600` hint."""
    addon, tctx, tmp_path = bare
    path = tmp_path / "keyring.json"
    create_keyring(path)
    path.chmod(mode)
    with pytest.raises(exceptions.OptionsError, match=re.escape(f"run `chmod 600 {path}`")):
        _start(tctx, addon, tmp_path, str(path))
    assert addon.keyring is None
    assert addon.policy is None
    assert not (tmp_path / "conf" / "dlp-keyring.json").exists(), "the rollback creates none"


def test_a_keyring_file_is_created_on_first_start(bare: tuple[DlpAddon, Any, Path]) -> None:
    """With no dlp_keyring the confdir's keyring is created, owner-only, and reused after."""
    addon, tctx, tmp_path = bare
    _start(tctx, addon, tmp_path, "")
    path = tmp_path / "conf" / "dlp-keyring.json"
    assert path.stat().st_mode & 0o777 == 0o600
    assert addon.keyring is not None
    first = addon.keyring
    tctx.configure(addon, dlp_keyring=str(path))
    assert addon.keyring == first


def test_no_keyring_is_loaded_without_a_policy(bare: tuple[DlpAddon, Any, Path]) -> None:
    """An addon with no policy is idle: it neither reads nor creates a keyring."""
    addon, tctx, tmp_path = bare
    tctx.configure(addon, dlp_data_dir=str(tmp_path / "var"))
    assert addon.keyring is None
    assert not (tmp_path / "conf").exists()


def test_a_keyring_that_cannot_be_created_is_an_options_error(
    bare: tuple[DlpAddon, Any, Path],
) -> None:
    """A keyring path under a file (no directory to create it in) is refused, not a traceback."""
    addon, tctx, tmp_path = bare
    (tmp_path / "not-a-dir").write_text("")
    path = tmp_path / "not-a-dir" / "keyring.json"
    with pytest.raises(exceptions.OptionsError, match=re.escape(f"Cannot create keyring {path}")):
        _start(tctx, addon, tmp_path, str(path))


def test_a_refused_keyring_change_keeps_the_running_keyring(
    env: tuple[DlpAddon, Any, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Switching a running addon to a missing `env:NAME` is refused; the keyring in use stays."""
    addon, tctx, _ = env
    before = addon.keyring
    monkeypatch.delenv("DLP_TEST_KEYRING", raising=False)
    with pytest.raises(exceptions.OptionsError, match="DLP_TEST_KEYRING"):
        tctx.configure(addon, dlp_keyring="env:DLP_TEST_KEYRING")
    assert addon.keyring == before


def _keyring_json(keyring: Keyring, tmp_path: Path) -> str:
    """The keyring's JSON, as `keys init` writes it (through a file: keys.py has no dumps)."""
    path = tmp_path / "serialised.json"
    save_keyring(path, keyring)
    return path.read_text()


# --- the incident store --------------------------------------------------------------------------


def _with_responder(tctx: Any, addon: DlpAddon, tmp_path: Path, evidence: str = "body") -> Any:
    """A confdir with one responder, a policy keeping `evidence`; the responder's private key."""
    from dlp_proxy.crypto.sealing import generate_private_key, public_key_text
    from dlp_proxy.incidents.responders import add_responder

    key = generate_private_key()
    confdir = tmp_path / "conf"
    add_responder(confdir / "responders.json", "alice", public_key_text(key.public_key()))
    policy = tmp_path / f"policy-evidence-{evidence}.yaml"
    policy.write_text(
        _write_policy(tmp_path).read_text().replace("rules:", f"evidence: {evidence}\nrules:")
    )
    tctx.configure(addon, confdir=str(confdir), dlp_policy=str(policy))
    return key


def _stored(tmp_path: Path) -> list[Any]:
    from dlp_proxy.incidents.store import IncidentStore

    with IncidentStore(tmp_path / "var" / "incidents.db") as store:
        assert store.verify() == []
        return store.find()


async def test_a_block_is_stored_with_evidence_only_the_responder_can_open(
    env: tuple[DlpAddon, Any, Path],
) -> None:
    """The incident is in incidents.db before the 403; its evidence, the whole request, is
    sealed: the store file never holds the SSN, the responder's key opens it."""
    from dlp_proxy.crypto.sealing import open_sealed

    addon, tctx, tmp_path = env
    key = _with_responder(tctx, addon, tmp_path)
    flow = _flow(b'{"ssn": "536-90-4399"}', path="/tickets?ref=7")
    await addon.request(flow)
    incident_id = json.loads(flow.response.content)["incident_id"]
    [stored] = _stored(tmp_path)
    incident = stored.incident
    assert (incident.id, incident.outcome, incident.rules) == (
        incident_id,
        "blocked",
        ("block-ssn",),
    )
    assert (incident.method, incident.path, incident.direction) == (
        "POST",
        "/tickets?ref=",
        "request",
    )
    assert dict(incident.entities) == {"US_SSN": 1}
    assert incident.body_bytes == len(b'{"ssn": "536-90-4399"}')
    assert incident.evidence_kind == "body"
    assert incident.evidence is not None
    assert b"536-90-4399" not in (tmp_path / "var" / "incidents.db").read_bytes()
    evidence = json.loads(open_sealed(incident.evidence, key, incident_id.encode()))
    assert evidence["url"].endswith("/tickets?ref=7")
    assert base64.b64decode(evidence["body_base64"]) == b'{"ssn": "536-90-4399"}'


async def test_snippet_evidence_keeps_the_finding_and_its_context(
    env: tuple[DlpAddon, Any, Path],
) -> None:
    """`evidence: snippets`: the value with the text around it, where it was, nothing else."""
    from dlp_proxy.crypto.sealing import open_sealed

    addon, tctx, tmp_path = env
    key = _with_responder(tctx, addon, tmp_path, evidence="snippets")
    filler = "x" * 100
    await addon.request(_flow(json.dumps({"notes": f"{filler} ssn 536-90-4399 {filler}"}).encode()))
    [stored] = _stored(tmp_path)
    evidence = json.loads(open_sealed(stored.incident.evidence, key, stored.incident.id.encode()))
    [snippet] = evidence["snippets"]
    assert snippet["entity"] == "US_SSN"
    assert snippet["location"] == "$.notes"
    assert snippet["text"] == f"{'x' * 35} ssn 536-90-4399 {'x' * 39}"
    assert snippet["text"][snippet["match_start"] :].startswith("536-90-4399")
    assert "body_base64" not in evidence


async def test_without_responders_the_incident_keeps_no_evidence(
    env: tuple[DlpAddon, Any, Path],
) -> None:
    """Nobody could open sealed evidence: the store keeps the metadata and says why."""
    addon, tctx, tmp_path = env
    tctx.configure(addon, confdir=str(tmp_path / "empty-conf"))
    await addon.request(_flow(b'{"ssn": "536-90-4399"}'))
    [stored] = _stored(tmp_path)
    assert stored.incident.evidence is None
    assert stored.incident.evidence_kind == "none: no responders"


async def test_a_monitor_mode_would_block_is_stored_and_forwarded(
    env: tuple[DlpAddon, Any, Path],
) -> None:
    """Monitor mode: nothing blocked, the would_block is an incident all the same."""
    addon, tctx, tmp_path = env
    _configure(tctx, addon, tmp_path, mode="monitor")
    flow = _flow(b'{"ssn": "536-90-4399"}')
    await addon.request(flow)
    assert flow.response is None
    [stored] = _stored(tmp_path)
    assert stored.incident.outcome == "would_block"


async def test_a_store_that_fails_keeps_the_transfer_blocked_and_says_so(
    env: tuple[DlpAddon, Any, Path], caplog: pytest.LogCaptureFixture
) -> None:
    """A full disk: the transfer is blocked all the same, and the failure is logged loudly."""
    addon, tctx, tmp_path = env
    _with_responder(tctx, addon, tmp_path)  # sealed evidence of the body needs disk space
    assert addon.incidents is not None
    store = addon.incidents._opened()
    store._db.execute("PRAGMA max_page_count = 1")
    flow = _flow(json.dumps({"ssn": "536-90-4399", "pad": "y" * 8_000}).encode())
    with caplog.at_level(logging.ERROR):
        await addon.request(flow)
    assert flow.response.status_code == 403
    incident_id = json.loads(flow.response.content)["incident_id"]
    assert f"could NOT store incident {incident_id}" in caplog.text
    assert "the transfer was blocked" in caplog.text
    lines = (tmp_path / "var" / "decisions.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    [failure] = [e for e in events if e["event"] == "incident_store_failed"]
    assert failure["incident_id"] == incident_id
    assert failure["transfer"] == "blocked"
    assert "536-90-4399" not in json.dumps(failure)


def test_a_store_that_cannot_be_opened_refuses_the_start(tmp_path: Path) -> None:
    """incidents.db cannot be created (a directory is in the way): configure refuses."""
    addon = DlpAddon()
    (tmp_path / "var" / "incidents.db").mkdir(parents=True)
    try:
        with (
            taddons.context(addon) as tctx,
            pytest.raises(exceptions.OptionsError, match="cannot open the incident store"),
        ):
            _configure(tctx, addon, tmp_path)
    finally:
        addon.done()  # mitmproxy's roll-back configured the defaults: close what they opened


async def test_sighup_reloads_the_responders(env: tuple[DlpAddon, Any, Path]) -> None:
    """A responder added while running is sealed to after a reload; a broken file is refused."""
    from dlp_proxy.crypto.sealing import generate_private_key, open_sealed, public_key_text
    from dlp_proxy.incidents.responders import add_responder

    addon, _, tmp_path = env
    assert await addon.reload_responders() is False  # nothing changed
    key = generate_private_key()
    responders = tmp_path / "conf" / "responders.json"
    add_responder(responders, "bob", public_key_text(key.public_key()))
    assert await addon.reload_responders() is True
    await addon.request(_flow(b'{"ssn": "536-90-4399"}'))
    [stored] = _stored(tmp_path)
    opened = json.loads(open_sealed(stored.incident.evidence, key, stored.incident.id.encode()))
    assert b"536-90-4399" in base64.b64decode(opened["body_base64"])
    responders.write_text("{")
    assert await addon.reload_responders() is False
    assert [r.name for r in addon.incidents.recipients] == ["bob"]  # type: ignore[union-attr]
    lines = (tmp_path / "var" / "decisions.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    assert [e["event"] for e in events if e["event"].startswith("responders_")] == [
        "responders_loaded",
        "responders_refused",
    ]


# --- trailers and the response direction (gateway/trailers.py, gateway/responses.py) ---------

WATCHING = """\
version: 1
name: watching
rules:
  - id: block-ssn
    entities: [US_SSN]
    action: block
  - id: watch-answers
    direction: response
    entities: [US_SSN]
    action: block
    mode: monitor
"""


def _watching(tctx: Any, addon: DlpAddon, tmp_path: Path, text: str = WATCHING) -> None:
    """The addon under a policy whose only response rule is on trial."""
    policy = tmp_path / "watching.yaml"
    policy.write_text(text)
    tctx.configure(addon, dlp_policy=str(policy))


def _answer(body: bytes, content_type: str = "application/json") -> Any:
    flow = tflow.tflow(resp=tflow.tresp(content=body))
    flow.response.headers["content-type"] = content_type
    return flow


async def _settled(addon: DlpAddon) -> None:
    """Wait for the inspections the addon started in the background (observed windows)."""
    while addon._tasks:
        await asyncio.gather(*list(addon._tasks))


async def test_a_request_with_trailers_is_refused_with_a_400(
    env: tuple[DlpAddon, Any, Path],
) -> None:
    """Trailers are not inspected or forwarded: a 400 naming the rule, a decision, an incident."""
    addon, _, tmp_path = env
    flow = _flow(b'{"note": "hello"}')
    flow.request.trailers = http.Headers(x_ssn="536-90-4399")
    await addon.request(flow)
    assert flow.response.status_code == 400
    answer = json.loads(flow.response.content)
    assert answer["rule"] == "trailers"
    assert "536-90-4399" not in flow.response.text
    decision = _decisions(tmp_path)[-1]
    assert (decision["outcome"], decision["blocking_rule"]) == ("blocked", "trailers")
    assert decision["incident_id"] == answer["incident_id"]
    assert decision["path"] == "/<withheld>"  # not inspected: the path keeps its shape only
    assert "536-90-4399" not in (tmp_path / "var" / "decisions.jsonl").read_text()


async def test_trailers_are_refused_in_monitor_mode_too(env: tuple[DlpAddon, Any, Path]) -> None:
    """Monitor mode changes nothing, but trailers cannot be sent on uninspected: refused."""
    addon, tctx, tmp_path = env
    _configure(tctx, addon, tmp_path, mode="monitor")
    flow = _flow(b"{}")
    flow.request.trailers = http.Headers(x_a="b")
    await addon.request(flow)
    assert flow.response.status_code == 400
    assert _decisions(tmp_path)[-1]["mode"] == "enforce"


async def test_an_idle_addon_refuses_trailers_too(tmp_path: Path) -> None:
    """Without a policy nothing is logged, but trailers still never reach mitmproxy's send."""
    addon = DlpAddon()
    with taddons.context(addon, Proxyserver()) as tctx:
        tctx.configure(addon, dlp_data_dir=str(tmp_path / "var"))
        try:
            flow = _flow(b"{}")
            flow.request.trailers = http.Headers(x_a="b")
            await addon.request(flow)
            assert flow.response.status_code == 400
            assert "incident_id" not in json.loads(flow.response.content)
        finally:
            addon.done()


async def test_an_answer_no_rule_covers_is_streamed_unread(env: tuple[DlpAddon, Any, Path]) -> None:
    """Without a response rule for it, the body goes on as it comes and nothing is logged."""
    addon, tctx, tmp_path = env
    _watching(tctx, addon, tmp_path, WATCHING.split("  - id: watch-answers")[0])
    flow = _answer(b'{"ssn": "536-90-4399"}')
    addon.responseheaders(flow)
    assert flow.response.stream is True
    flow.response.data.content = None  # streamed: mitmproxy keeps no body
    count = len(_decisions(tmp_path))
    await addon.response(flow)
    assert len(_decisions(tmp_path)) == count


async def test_an_answer_an_acting_rule_covers_is_held(env: tuple[DlpAddon, Any, Path]) -> None:
    """The test policy masks emails in responses for real: the body is buffered, then masked."""
    addon, _, _ = env
    flow = _answer(b'{"email": "maria@example.com"}')
    addon.responseheaders(flow)
    assert flow.response.stream is False
    await addon.response(flow)
    assert json.loads(flow.response.content) == {"email": "*****@******e.com"}


async def _observed(addon: DlpAddon, flow: Any, chunks: list[bytes]) -> list[bytes]:
    """Stream `chunks` through the addon as mitmproxy does; what the client got."""
    addon.responseheaders(flow)
    copy = flow.response.stream
    assert callable(copy)
    sent = [copy(chunk) for chunk in chunks]
    flow.response.data.content = None
    await addon.response(flow)
    await _settled(addon)
    return sent


async def test_an_answer_only_a_rule_on_trial_covers_goes_on_and_is_logged(
    env: tuple[DlpAddon, Any, Path],
) -> None:
    """The client gets each chunk as it came; the copy is inspected, a would_block logged."""
    addon, tctx, tmp_path = env
    _watching(tctx, addon, tmp_path)
    chunks = [b'{"ssn": ', b'"536-90-4399"}']
    flow = _answer(b"")
    assert await _observed(addon, flow, chunks) == chunks
    decision = _decisions(tmp_path)[-1]
    assert decision["direction"] == "response"
    assert decision["shadow"]["outcome"] == "would_block"
    assert decision["incident_id"]


async def test_an_observed_event_stream_is_inspected_event_by_event(
    env: tuple[DlpAddon, Any, Path],
) -> None:
    """An SSE answer: windows of whole events are inspected while the stream is open."""
    addon, tctx, tmp_path = env
    _watching(tctx, addon, tmp_path)
    flow = _answer(b"", content_type="text/event-stream")
    addon.responseheaders(flow)
    copy = flow.response.stream
    assert copy(b"data: hello\n\ndata: ssn 536-90-") == b"data: hello\n\ndata: ssn 536-90-"
    copy(b"4399\n\n")
    await asyncio.sleep(1.2)  # WINDOW_SECONDS: the window of both events is inspected now
    await _settled(addon)
    decision = _decisions(tmp_path)[-1]
    assert decision["shadow"]["outcome"] == "would_block"
    flow.response.data.content = None
    await addon.response(flow)
    await _settled(addon)
    assert len([d for d in _decisions(tmp_path) if d["direction"] == "response"]) == 1


async def test_an_uninspectable_observed_answer_is_logged_not_blocked(
    env: tuple[DlpAddon, Any, Path],
) -> None:
    """A rule on trial never changes an answer: a body it cannot read is logged, no incident."""
    addon, tctx, tmp_path = env
    _watching(tctx, addon, tmp_path)
    image = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    flow = _answer(b"", content_type="image/png")
    assert await _observed(addon, flow, [image]) == [image]
    assert flow.response.status_code == 200
    decision = _decisions(tmp_path)[-1]
    assert decision["outcome"] == "allowed"
    assert decision["error"].startswith("undecodable_body")
    assert decision.get("incident_id") is None


async def test_response_trailers_are_dropped_for_an_http1_client(
    env: tuple[DlpAddon, Any, Path],
) -> None:
    """mitmproxy cannot send trailers to an HTTP/1 client: they are dropped, and that logged."""
    addon, _, tmp_path = env
    flow = _answer(b"{}")
    flow.response.trailers = http.Headers(grpc_status="0")
    await addon.response(flow)
    assert flow.response.trailers is None
    lines = (tmp_path / "var" / "decisions.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    [dropped] = [e for e in events if e["event"] == "response_trailers_dropped"]
    assert (dropped["flow_id"], dropped["reason"]) == (flow.id, "http1_client")


async def test_response_trailers_reach_an_http2_client_when_no_acting_rule_covers_it(
    env: tuple[DlpAddon, Any, Path],
) -> None:
    """gRPC's status trailer goes on to an HTTP/2 client of an answer nothing inspects."""
    addon, tctx, tmp_path = env
    _watching(tctx, addon, tmp_path, WATCHING.split("  - id: watch-answers")[0])
    flow = _answer(b"{}")
    flow.request.http_version = "HTTP/2.0"
    flow.response.trailers = http.Headers(grpc_status="0")
    await addon.response(flow)
    assert flow.response.trailers == http.Headers(grpc_status="0")


async def test_trailers_an_http2_client_gets_are_inspected_when_a_trial_rule_watches(
    env: tuple[DlpAddon, Any, Path],
) -> None:
    """Trailers go on to the client, and an SSN in one is logged as what the rule would do."""
    addon, tctx, tmp_path = env
    _watching(tctx, addon, tmp_path)
    flow = _answer(b"{}")
    flow.request.http_version = "HTTP/2.0"
    flow.response.trailers = http.Headers(grpc_status="0", x_ssn="536-90-4399")
    await addon.response(flow)
    assert flow.response.trailers is not None
    assert flow.response.trailers["x-ssn"] == "536-90-4399"
    logged = [d for d in _decisions(tmp_path) if d["entities"]]
    assert [d["entities"] for d in logged] == [{"US_SSN": 1}]
    assert logged[0]["shadow"]["outcome"] == "would_block"
    assert logged[0]["incident_id"]


async def test_an_observed_streams_headers_are_read_with_its_first_window_only(
    env: tuple[DlpAddon, Any, Path],
) -> None:
    """A finding in a header is one finding, not one per window of the stream."""
    addon, tctx, tmp_path = env
    _watching(tctx, addon, tmp_path)
    flow = _answer(b"", content_type="text/event-stream")
    flow.response.headers["x-customer-ssn"] = "536-90-4399"
    addon.responseheaders(flow)
    copy = flow.response.stream
    copy(b"data: one\n\n")
    await asyncio.sleep(1.2)  # the first window
    await _settled(addon)
    copy(b"data: two\n\n")
    flow.response.data.content = None
    await addon.response(flow)
    await _settled(addon)
    first, second = [d for d in _decisions(tmp_path) if d["direction"] == "response"]
    assert first["shadow"]["outcome"] == "would_block"
    assert "shadow" not in second
