"""The harness without a proxy: the recording vendor, the WebSocket client, the launcher."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.harness import HarnessError, Proxy, Vendor, free_ports, poll, send_websocket


@pytest.fixture
def vendor() -> Iterator[Vendor]:
    """A plain-HTTP recording vendor."""
    v = Vendor()
    yield v
    v.close()


def test_vendor_records_requests_exactly(vendor: Vendor) -> None:
    """Method, path with query as sent, headers and body bytes are recorded."""
    with httpx.Client(base_url=vendor.origin, trust_env=False) as client:
        response = client.post("/a/b%2540c?x=1%20y", content=b"\x00body", headers={"X-Case": "c1"})
    assert response.json() == {"ok": True, "received_bytes": 5}
    [received] = vendor.snapshot()
    assert (received.method, received.path, received.body) == (
        "POST",
        "/a/b%2540c?x=1%20y",
        b"\x00body",
    )
    assert received.header("x-case") == "c1"


def test_websocket_messages_are_recorded_in_order(vendor: Vendor) -> None:
    """A WebSocket session is one record whose messages are the text messages sent."""
    address = ("127.0.0.1", vendor.port)
    outcome = send_websocket(address, "/ws?s=1", [("X-Case", "c2")], ["one", "twö", "x" * 70000])
    assert outcome.status == 101
    assert outcome.completed
    [received] = poll("the WebSocket session's record", vendor.snapshot, timeout=5)
    assert received.path == "/ws?s=1"
    assert received.messages == (b"one", "twö".encode(), b"x" * 70000)
    assert received.header("X-Case") == "c2"


def test_free_ports_are_distinct() -> None:
    """Ports asked for together are different."""
    ports = free_ports(5)
    assert len(set(ports)) == 5


def test_a_proxy_that_exits_early_is_an_error(tmp_path: Path) -> None:
    """The launcher reports a process that dies before it is ready, with its output."""
    argv = [sys.executable, "-c", "import sys; print('boom', file=sys.stderr); sys.exit(3)"]
    proxy = Proxy("broken", argv, tmp_path, 0, tmp_path / "conf", tmp_path / "data")
    with pytest.raises(HarnessError, match=r"exited with status 3 before it was ready(.|\n)*boom"):
        proxy.start()


def test_vendor_echoes_requests_under_the_echo_prefix(vendor: Vendor) -> None:
    """Under /echo/ the answer is the request's body, Content-Type and Content-Encoding."""
    body = b"name,card\nAnn,tok\n"
    with httpx.Client(base_url=vendor.origin, trust_env=False) as client:
        echoed = client.post(
            "/echo/a?x=1", content=body, headers={"Content-Type": "text/csv; charset=utf-8"}
        )
        plain = client.post("/echoes/a", content=body, headers={"Content-Type": "text/csv"})
    assert echoed.status_code == 200
    assert echoed.content == body
    assert echoed.headers["content-type"] == "text/csv; charset=utf-8"
    assert "content-encoding" not in echoed.headers
    assert plain.json() == {"ok": True, "received_bytes": len(body)}
    assert [r.path for r in vendor.snapshot()] == ["/echo/a?x=1", "/echoes/a"]
