"""Tests for dlp_proxy/gateway/trailers.py: mitmproxy's HTTP/1 layer hands trailers on."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mitmproxy import http, options
from mitmproxy.proxy import events
from mitmproxy.proxy.context import Context
from mitmproxy.proxy.layers.http import _http1
from mitmproxy.proxy.layers.http._base import ReceiveHttp
from mitmproxy.proxy.layers.http._events import (
    RequestData,
    RequestEndOfMessage,
    RequestHeaders,
    RequestTrailers,
)
from mitmproxy.test import tflow

from dlp_proxy.errors import DlpError
from dlp_proxy.gateway.trailers import (
    TRAILERS_RULE,
    drop_response_trailers,
    install_http1_trailers,
    trailers_decision,
    trailers_response,
)
from dlp_proxy.policy.loader import parse_policy
from dlp_proxy.policy.model import Action, Mode

CHUNKED = b"POST /t HTTP/1.1\r\nHost: vendor\r\nTransfer-Encoding: chunked\r\n\r\n"


def _server_events(*data: bytes) -> list[Any]:
    """The HTTP events mitmproxy's HTTP/1 server layer makes of `data` from a client."""
    context = Context(tflow.tclient_conn(), options.Options())
    layer = _http1.Http1Server(context)
    list(layer.handle_event(events.Start()))
    received = []
    for chunk in data:
        for command in layer.handle_event(events.DataReceived(context.client, chunk)):
            if isinstance(command, ReceiveHttp):
                received.append(command.event)
    return received


def test_http1_trailers_become_a_trailers_event_before_the_end() -> None:
    """A chunked request with trailers gives headers, data, trailers, end: as HTTP/2 does."""
    install_http1_trailers()
    got = _server_events(CHUNKED + b"5;ext=1\r\nhello\r\n0\r\nX-Checksum: abc\r\n", b"\r\n")
    assert [type(e) for e in got] == [
        RequestHeaders,
        RequestData,
        RequestTrailers,
        RequestEndOfMessage,
    ]
    assert got[1].data == b"hello"
    assert list(got[2].trailers.fields) == [(b"x-checksum", b"abc")]  # lower case, as in h2


def test_a_chunked_message_without_trailers_is_unchanged() -> None:
    """No trailers: the same events as mitmproxy's own layer gives."""
    install_http1_trailers()
    got = _server_events(CHUNKED + b"5\r\nhello\r\n0\r\n\r\n")
    assert [type(e) for e in got] == [RequestHeaders, RequestData, RequestEndOfMessage]


def test_install_is_idempotent() -> None:
    """A second install (a script reload, another addon instance) wraps nothing twice."""
    install_http1_trailers()
    installed = _http1.Http1Connection.read_body
    install_http1_trailers()
    assert _http1.Http1Connection.read_body is installed


def test_an_unknown_mitmproxy_layout_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    """If mitmproxy's HTTP/1 layer changed, the addon refuses to start instead of hanging."""
    monkeypatch.setattr(_http1, "ChunkedReader", object)
    with pytest.raises(DlpError, match=r"install mitmproxy>=12.3,<13"):
        install_http1_trailers()


def test_the_decision_is_a_block_in_every_mode() -> None:
    """Trailers are refused by the gateway: not on_error's call, not undone by monitor mode."""
    policy = parse_policy(
        "version: 1\nname: p\nmode: monitor\non_error: allow\n"
        "rules:\n  - {id: r, entities: [US_SSN], action: block}\n"
    )
    decision = trailers_decision(policy, "acme", "/customers/219-09-9999/notes")
    assert decision.action is Action.BLOCK
    assert decision.mode is Mode.ENFORCE
    assert decision.enforced
    assert decision.blocking_rule == TRAILERS_RULE
    assert decision.vendor == "acme"
    assert not decision.inspected
    assert decision.logged_path == "/<withheld>/<withheld>/<withheld>"  # not inspected: no value


def test_the_400_names_the_rule_and_nothing_of_the_request() -> None:
    """The answer is JSON with the rule and the incident; no field name or value."""
    response = trailers_response("inc-1")
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert json.loads(response.content) == {
        "error": "request_trailers_not_supported",
        "rule": "trailers",
        "message": "This gateway does not accept HTTP trailers (header fields after the body). "
        "Send the request again without them.",
        "incident_id": "inc-1",
    }
    assert "incident_id" not in json.loads(trailers_response(None).content)


def _flow_with_trailers(http_version: str) -> http.HTTPFlow:
    flow = tflow.tflow(resp=True)
    flow.request.http_version = http_version
    assert flow.response is not None
    flow.response.trailers = http.Headers(grpc_status="0")
    return flow


@pytest.mark.parametrize(
    ("http_version", "rule_acts", "reason"),
    [
        ("HTTP/1.1", False, "http1_client"),
        ("HTTP/1.1", True, "http1_client"),
        ("HTTP/2.0", True, "not_inspected"),
        ("HTTP/2.0", False, None),
        ("HTTP/3", False, None),
    ],
)
def test_response_trailers_go_only_where_they_can(
    http_version: str, rule_acts: bool, reason: str | None
) -> None:
    """HTTP/1 clients cannot get them; HTTP/2 and 3 clients do, unless an acting rule covers it."""
    flow = _flow_with_trailers(http_version)
    assert drop_response_trailers(flow, rule_acts) == reason
    assert flow.response is not None
    assert (flow.response.trailers is None) is (reason is not None)


def test_no_trailers_nothing_to_drop() -> None:
    """A response without trailers is left alone."""
    flow = tflow.tflow(resp=True)
    assert drop_response_trailers(flow, rule_acts=True) is None
