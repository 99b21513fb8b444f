"""HTTP trailers: request trailers are refused, response trailers pass only where they can.

Trailers are header fields sent after the body (chunked HTTP/1.1, or a last HEADERS frame in
HTTP/2). What mitmproxy 12.3 does with them, and what the gateway does instead:

- An HTTP/1.1 chunked message with trailers makes mitmproxy raise `NotImplementedError` in
  `Http1Connection.read_body` (`proxy/layers/http/_http1.py`): "mitmproxy has crashed!" is
  logged and the client waits forever. `install_http1_trailers` makes the HTTP/1 layer hand
  them on as mitmproxy's HTTP/2 layer already does (`RequestTrailers`/`ResponseTrailers`
  events, so `flow.request.trailers` / `flow.response.trailers` are set before the hooks).
- Request trailers reach the vendor uninspected (the core inspects a message's headers, not
  a second header section), and to an HTTP/1 vendor mitmproxy cannot send them at all
  (`Http1Client.send` raises `AssertionError`, quoting the trailers in its message). Vendor
  APIs do not use request trailers, so a request that has them is refused with a 400 under
  the rule `trailers`, in every mode and whatever `on_error` says (`trailers_decision`).
- Response trailers (gRPC's `grpc-status`) go to HTTP/2 clients as they came. An HTTP/1
  client cannot get them: mitmproxy's `Http1Server.send` raises on them, so they are dropped
  there, as RFC 9110 section 6.5.1 allows. They are dropped too when a rule that acts (not
  one on trial) covers the response, since they cannot be inspected (`drop_response_trailers`).
"""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Any

import h11
from h11._readers import ChunkedReader
from h11._receivebuffer import ReceiveBuffer
from mitmproxy import http
from mitmproxy.proxy.layers.http import _http1
from mitmproxy.proxy.layers.http._base import ReceiveHttp
from mitmproxy.proxy.layers.http._events import (
    RequestEndOfMessage,
    RequestTrailers,
    ResponseEndOfMessage,
    ResponseTrailers,
)

from dlp_proxy.core.inspect import Decision
from dlp_proxy.errors import DlpError
from dlp_proxy.policy.model import Action, Mode, Policy

__all__ = [
    "TRAILERS_RULE",
    "WITHHELD",
    "drop_response_trailers",
    "install_http1_trailers",
    "trailers_decision",
    "trailers_response",
]

# The blocking rule a request with trailers is refused under, in its decision and its 400.
TRAILERS_RULE = "trailers"
# A path segment of a refused request in the decision log (it was not inspected).
WITHHELD = "<withheld>"

# Set on mitmproxy's read_body once it keeps trailers, so a second install is a no-op.
_MARK = "__dlp_proxy_keeps_trailers__"


class _TrailerKeepingReader:
    """h11's chunked body reader, keeping the trailer section instead of returning it.

    mitmproxy raises on an `EndOfMessage` that carries headers; this returns a bare one and
    keeps the headers in `trailers` for `_read_body` to send on as a trailers event.
    """

    def __init__(self, reader: ChunkedReader) -> None:
        self._reader = reader
        self.trailers: http.Headers | None = None

    def __call__(self, buf: ReceiveBuffer) -> h11.Data | h11.EndOfMessage | None:
        event = self._reader(buf)
        if isinstance(event, h11.EndOfMessage) and event.headers:
            # Names lower-cased (h11's normal form), as HTTP/2 requires and mitmproxy does
            # for header sections, but not for trailers it hands to its HTTP/2 layer.
            self.trailers = http.Headers(list(event.headers))
            return h11.EndOfMessage()
        return event

    def read_eof(self) -> Any:
        """As h11's: the peer closed before the end of the chunked body (raises)."""
        return self._reader.read_eof()


_Commands = Generator[Any, Any, None]


def _keeping_trailers(original: Any) -> Any:
    """`original` (mitmproxy's `read_body`), keeping trailers and sending them on at the end.

    h11's chunked reader is wrapped in `_TrailerKeepingReader` on the first call.
    """

    def read_body(self: _http1.Http1Connection, event: Any) -> _Commands:
        if isinstance(self.body_reader, ChunkedReader):
            self.body_reader = _TrailerKeepingReader(self.body_reader)  # type: ignore[assignment]
        for command in original(self, event):
            if isinstance(command, ReceiveHttp) and isinstance(
                command.event, (RequestEndOfMessage, ResponseEndOfMessage)
            ):
                reader = self.body_reader
                trailers = getattr(reader, "trailers", None)
                if trailers is not None:
                    reader.trailers = None  # type: ignore[union-attr]
                    kind = (
                        RequestTrailers
                        if isinstance(command.event, RequestEndOfMessage)
                        else ResponseTrailers
                    )
                    yield ReceiveHttp(kind(command.event.stream_id, trailers))
            yield command

    setattr(read_body, _MARK, True)
    return read_body


def install_http1_trailers() -> None:
    """Make mitmproxy's HTTP/1 layer pass trailers on instead of crashing; idempotent.

    A mitmproxy whose HTTP/1 layer is not the one this was written against (12.3) refuses:
    without it a chunked message with trailers would hang its client.
    """
    connection = getattr(_http1, "Http1Connection", None)
    read_body = getattr(connection, "read_body", None)
    reader = getattr(_http1, "ChunkedReader", None)
    if connection is None or read_body is None or reader is not ChunkedReader:
        raise DlpError(
            "mitmproxy's HTTP/1 layer (mitmproxy.proxy.layers.http._http1) is not the one "
            "dlp-proxy was written for: install mitmproxy>=12.3,<13"
        )
    if getattr(read_body, _MARK, False):
        return
    connection.read_body = _keeping_trailers(read_body)


def trailers_decision(policy: Policy, vendor: str | None, path: str) -> Decision:
    """The decision for a request that carries trailers: refused, in every mode.

    Not `on_error`'s to decide, and not a monitor mode's to let through: mitmproxy cannot send
    trailers to an HTTP/1 vendor at all, and to an HTTP/2 one they would go uninspected.
    Nothing of the request was inspected, so the logged path (`path`, without its query) keeps
    its shape only: every segment is `<withheld>`, since one could be a value.
    """
    logged = "/".join(WITHHELD if segment else "" for segment in path.split("/"))
    return Decision(
        action=Action.BLOCK,
        mode=Mode.ENFORCE,
        policy_name=policy.name,
        policy_sha256=policy.sha256,
        vendor=vendor,
        blocking_rule=TRAILERS_RULE,
        error="request_trailers: the request has trailer fields, which the gateway does not "
        "inspect or forward",
        inspected=False,
        logged_path=logged,
    )


def trailers_response(incident_id: str | None) -> http.Response:
    """The 400 for a request with trailers. It names no field and echoes none of the content."""
    body: dict[str, Any] = {
        "error": "request_trailers_not_supported",
        "rule": TRAILERS_RULE,
        "message": "This gateway does not accept HTTP trailers (header fields after the body). "
        "Send the request again without them.",
    }
    if incident_id is not None:
        body["incident_id"] = incident_id
    return http.Response.make(400, json.dumps(body).encode(), {"Content-Type": "application/json"})


def drop_response_trailers(flow: http.HTTPFlow, rule_acts: bool) -> str | None:
    """Drop a response's trailers where they cannot or must not go; why, or None if kept.

    Kept for an HTTP/2 or HTTP/3 client unless `rule_acts` (a rule not on trial covers the
    response: trailers would reach the client uninspected).
    """
    response = flow.response
    if response is None or not response.trailers:
        return None
    if not (flow.request.is_http2 or flow.request.is_http3):
        reason = "http1_client"
    elif rule_acts:
        reason = "not_inspected"
    else:
        return None
    response.trailers = None
    return reason
