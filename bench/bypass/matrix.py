"""The channel matrix: one case's trick sent again over other channels.

A trick hidden in a body, a header or a URL should be stopped whatever carries it: plain
HTTP to the explicit proxy, HTTPS after CONNECT, HTTP/2, or the reverse listener. A catalog
built with a matrix (`Catalog(matrix=...)`) registers each case of those classes once more per
channel of its row, as `<name>@<channel>`, and `port` rewrites what the case sends (and, for
a response case, what its vendor answers) for that channel:

- HTTP/1.1 to HTTP/2: header names lower-cased, connection-specific headers dropped (HTTP/2
  has none), `Host` as `:authority`, a chunked body sent as data and its trailers as trailers.
- HTTP/2 to HTTP/1.1: the same the other way; trailers make the body chunked.

What cannot be said on the other channel is not ported, and the variant is not registered:
over HTTP/2 an absolute-form target (only the explicit proxy reads one), chunk extensions, a
folded or repeated `Host`, a request that upgrades, a vendor that upgrades or speaks raw TCP;
raw TCP goes through the tunnel only (with or without TLS).
"""

from __future__ import annotations

from dataclasses import replace

from bench.bypass.client import Channel, Exchange, H2Request, Http1
from bench.bypass.vendor import H2Reply, Script, http_response
from bench.bypass.wire import Chunk, HttpRequest, parse_http1_response

__all__ = ["H1_CHANNELS", "H2_ONLY", "port", "port_exchange", "port_script", "to_h2", "to_http1"]

Headers = tuple[tuple[str, str], ...]
H1_CHANNELS = (Channel.HTTP, Channel.HTTPS, Channel.REVERSE)
H2_ONLY = (Channel.H2,)
# Connection-specific headers: HTTP/2 forbids them (RFC 9113 8.2.2).
_CONNECTION_SPECIFIC = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
}
# What HTTP/1.1 framing adds and HTTP/2 frames say themselves.
_FRAMING = {*_CONNECTION_SPECIFIC, "content-length", "trailer"}


def _h2_headers(headers: Headers) -> Headers | None:
    """`headers` for HTTP/2 (lower-case names, no connection-specific ones); None if unsayable."""
    out = []
    for name, value in headers:
        low = name.lower()
        if "\r" in value or "\n" in value or "\r" in name or ":" in name:
            return None  # a folded line or a smuggled one has no HTTP/2 spelling
        if low in _CONNECTION_SPECIFIC or (low == "te" and value.lower() != "trailers"):
            continue
        out.append((low, value))
    return tuple(out)


def to_h2(ex: Http1) -> H2Request | None:
    """The HTTP/2 request that says what `ex` says; None when HTTP/2 cannot say it."""
    request = ex.request
    if ex.frames or ex.after_upgrade or request.absolute is not None:
        return None
    if request.chunks is not None and any(c.extension for c in request.chunks):
        return None
    hosts = [v for k, v in request.headers if k.lower() == "host"]
    if len(hosts) > 1:
        return None
    headers = _h2_headers(tuple((k, v) for k, v in request.headers if k.lower() != "host"))
    trailers = _h2_headers(request.trailers)
    if headers is None or trailers is None:
        return None
    body = b"".join(c.data for c in request.chunks) if request.chunks is not None else request.body
    return H2Request(
        request.method,
        request.target,
        headers,
        body,
        trailers,
        authority=hosts[0] if hosts else "",
    )


def to_http1(ex: H2Request) -> Http1:
    """The HTTP/1.1 request that says what the HTTP/2 request `ex` says."""
    headers = ex.headers if not ex.authority else (("Host", ex.authority), *ex.headers)
    if ex.trailers:
        chunks = (Chunk(ex.body),) if ex.body else ()
        request = HttpRequest(ex.method, ex.path, headers, chunks=chunks, trailers=ex.trailers)
    else:
        request = HttpRequest(ex.method, ex.path, headers, ex.body)
    return Http1(request)


def port_exchange(ex: Exchange, channel: Channel) -> Exchange | None:
    """`ex` as it is sent over `channel`; None when it cannot be.

    HTTP/1.1 goes over every channel but HTTP/2 as it is (an upgrade too: a WebSocket over
    the plain tunnel, wss, or the reverse listener), an absolute-form target only to the
    explicit proxy; raw TCP goes through the tunnel, with TLS or without.
    """
    if isinstance(ex, Http1):
        if channel is Channel.H2:
            return to_h2(ex)
        return ex if ex.request.absolute is None or channel is Channel.HTTP else None
    if isinstance(ex, H2Request):
        if channel is Channel.H2:
            return ex
        return to_http1(ex) if channel in H1_CHANNELS else None
    return ex if channel in (Channel.TUNNEL, Channel.HTTPS) else None


def port_script(script: Script, channel: Channel) -> Script | None:
    """How the vendor answers over `channel` what `script` answers; None if it cannot.

    An HTTP/1.1 reply becomes the HTTP/2 reply (status, headers, body de-chunked, trailers);
    an HTTP/2 reply is spelled as HTTP/1.1 for the other channels. Upgrades and raw TCP stay.
    """
    if script.kind != "http" or script.upgrade or script.ws_send or script.banner:
        return None
    if channel is Channel.H2:
        response, _ = parse_http1_response(script.reply, closed=True)
        if response is None:
            return None
        headers = tuple((k.lower(), v) for k, v in response.headers if k.lower() not in _FRAMING)
        trailers = tuple((k.lower(), v) for k, v in response.trailers)
        return replace(script, h2=H2Reply(response.status, headers, response.body, trailers))
    reply = script.h2
    if reply == H2Reply():
        return script
    if reply.trailers:
        head = (*reply.headers, ("trailer", ", ".join(k for k, _ in reply.trailers)))
        raw = http_response(reply.status, head, b"", chunked=(reply.body,) if reply.body else ())
        lines = "".join(f"{k}: {v}\r\n" for k, v in reply.trailers)
        return replace(script, reply=raw[:-2] + lines.encode("latin-1") + b"\r\n")
    return replace(script, reply=http_response(reply.status, reply.headers, reply.body))


def port(
    made: Exchange | tuple[Exchange, Script], script: Script, channel: Channel
) -> tuple[Exchange, Script] | None:
    """A case's exchange and vendor script as sent over `channel`; None if it cannot go there."""
    exchange, script = made if isinstance(made, tuple) else (made, script)
    ported = port_exchange(exchange, channel)
    if ported is None:
        return None
    if ported is exchange and channel is not Channel.H2 and not isinstance(exchange, H2Request):
        return ported, script  # HTTP/1.1 stays HTTP/1.1: the vendor answers as it did
    answer = port_script(script, channel)
    return None if answer is None else (ported, answer)
