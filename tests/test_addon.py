"""Tests for dlp_proxy/addon.py: flows in, decisions applied, everything logged, fail closed."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mitmproxy import exceptions
from mitmproxy.addons.proxyserver import Proxyserver
from mitmproxy.test import taddons, tflow
from support import InlinePool

from dlp_proxy.addon import DlpAddon

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
    with pytest.raises(exceptions.OptionsError, match=r"broken.yaml:5: rules\[0\].entities\[0\]"):
        tctx.configure(addon, dlp_policy=str(broken))
    assert addon.policy is before


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
