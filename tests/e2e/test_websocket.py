"""End-to-end: WebSocket text messages through the real reverse proxy."""

from __future__ import annotations

from typing import Any

from bench.harness import send_websocket
from tests.e2e.harness import EMAIL, SSN, Proxy, Vendor, poll


def test_websocket_messages_are_redacted_or_dropped(
    reverse_proxy: Proxy, http_vendor: Vendor, unique_path: str
) -> None:
    """A masked email arrives rewritten, a message with an SSN never arrives, the rest intact."""
    messages = [
        '{"type": "chat", "text": "hello, how can I help?"}',
        f'{{"type": "chat", "email": "{EMAIL}"}}',
        f'{{"type": "chat", "ssn": "{SSN}"}}',
        '{"type": "chat", "text": "thanks, bye"}',
    ]
    outcome = send_websocket(("127.0.0.1", reverse_proxy.port), unique_path, [], messages)
    assert outcome.status == 101
    assert outcome.completed
    # The vendor records the connection when its side has closed: wait for it.
    (connection,) = poll("the vendor's WebSocket record", lambda: http_vendor.received(unique_path))
    received = [m.decode() for m in connection.messages]
    assert len(received) == 3  # the SSN message was dropped
    assert (received[0], received[2]) == (messages[0], messages[3])
    assert EMAIL not in received[1]
    assert received[1].endswith('e.com"}')

    def blocked() -> list[dict[str, Any]]:
        return [
            d
            for d in reverse_proxy.decisions()
            if d["path"] == unique_path and d["method"] == "WEBSOCKET" and d["outcome"] == "blocked"
        ]

    (decision,) = poll("the blocked WebSocket message's decision", blocked)
    assert decision["rules"] == ["block-ssn-and-bank-numbers"]
