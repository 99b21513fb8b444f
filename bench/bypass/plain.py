"""What plain mitmproxy (12.3) does not deliver by itself: the `--plain` run's expectations.

`python -m bench.bypass --plain` sends every case through plain mitmdump, a gateway that
changes nothing. Every attack must leak there, or it proves nothing about dlp-proxy, except
where mitmproxy itself keeps the secret from the vendor; `mitmproxy_stops` says where, by rule
(checked against mitmproxy's sources and a plain run):

- HTTP/1.1 trailers, in a request or a response: `NotImplementedError` in mitmproxy's
  HTTP/1 layer (it logs "mitmproxy has crashed!" and the exchange hangs). dlp-proxy handles
  them itself, so through dlp-proxy these cases can leak.
- Chunk extensions: mitmproxy re-frames the body, the extensions never go out.
- Userinfo in an absolute-form target: mitmproxy answers 400.
- A Transfer-Encoding other than `chunked` alone (`gzip, chunked`): mitmproxy answers 400
  (`expected_http_body_size` in its HTTP/1 reader refuses every other coding).
- `Upgrade: h2c`: mitmproxy strips it, the vendor never switches.
- A Host header through the reverse listener: rewritten to the upstream's.
- Raw bytes whose first line looks like a request line (three letters, a space): read as
  HTTP, so mitmproxy waits for a request head that never comes.
"""

from __future__ import annotations

import re

from bench.bypass.cases import Case
from bench.bypass.client import Channel, Http1, RawTcp
from bench.bypass.wire import parse_http1_response

__all__ = ["mitmproxy_stops"]

_NOT_DIGIT = re.compile(r"[^0-9]")


def _looks_like_http(data: bytes) -> bool:
    """Whether mitmproxy guesses client bytes are HTTP (its addons/next_layer.py)."""
    space, newline = data.find(b" "), data.find(b"\n")
    return (
        len(data) >= 3
        and data[:3].isalpha()
        and space >= 0
        and not (newline >= 0 and space > newline)
        and not data.startswith(b"SSH")
    )


def _response_trailers(case: Case) -> bool:
    if case.channel is Channel.H2:
        return False
    response, _ = parse_http1_response(case.script.reply, closed=True)
    return bool(response and response.trailers)


def mitmproxy_stops(case: Case) -> str:
    """Why plain mitmproxy keeps the case's secret from the vendor by itself ("" if it does not)."""
    ex = case.exchange
    if isinstance(ex, RawTcp):
        first = ex.messages[0] if ex.messages else b""
        if not ex.wait_banner and not ex.alpn and _looks_like_http(first):
            return "raw bytes that look like a request line: mitmproxy waits for a request head"
        return ""
    if _response_trailers(case):
        return "HTTP/1.1 response trailers: not implemented in mitmproxy"
    if not isinstance(ex, Http1):
        return ""
    request = ex.request
    if request.trailers:
        return "HTTP/1.1 request trailers: not implemented in mitmproxy"
    if request.chunks is not None and any(c.extension for c in request.chunks):
        return "chunk extensions: mitmproxy re-frames the body without them"
    codings = (request.header("transfer-encoding") or "").replace(" ", "").lower()
    if codings and codings != "chunked":
        return "a Transfer-Encoding other than chunked: mitmproxy answers 400"
    if request.absolute is not None and "@" in request.absolute:
        return "userinfo in an absolute-form target: mitmproxy answers 400"
    if (request.header("upgrade") or "").lower() == "h2c":
        return "Upgrade: h2c: mitmproxy strips it"
    if case.channel is Channel.REVERSE and case.secret is not None:
        hosts = [v for k, v in request.headers if k.lower() == "host"]
        if any(case.secret.digits in _NOT_DIGIT.sub("", h) for h in hosts):
            return "Host through the reverse listener: rewritten to the upstream's"
    return ""
