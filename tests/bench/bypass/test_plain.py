"""What plain mitmproxy keeps from the vendor by itself, by rule (the `--plain` expectations)."""

from __future__ import annotations

from bench.bypass.attacks import CATALOG
from bench.bypass.cases import Case, build, reply_json
from bench.bypass.client import Channel, Exchange, H2Request, Http1, RawTcp
from bench.bypass.pii import Kind, Secret
from bench.bypass.plain import mitmproxy_stops
from bench.bypass.vendor import Script, http_response
from bench.bypass.wire import Chunk, HttpRequest

SSN = Secret(Kind.SSN, "219099999")


def case(ex: Exchange, channel: Channel = Channel.HTTP, script: Script | None = None) -> Case:
    """A case around `ex`."""
    return Case("c", "k", channel, ex, SSN, script or Script())


def test_each_rule() -> None:
    """Trailers, chunk extensions, userinfo, h2c, Host in reverse mode, HTTP-looking raw bytes."""
    trailers = Http1(HttpRequest("POST", "/", chunks=(Chunk(b"a"),), trailers=(("X", "1"),)))
    assert "trailers" in mitmproxy_stops(case(trailers))
    extension = Http1(HttpRequest("POST", "/", chunks=(Chunk(b"a", "x=1"),)))
    assert "chunk extensions" in mitmproxy_stops(case(extension))
    userinfo = Http1(HttpRequest("GET", "/", absolute="http://u:p@{authority}/"))
    assert "userinfo" in mitmproxy_stops(case(userinfo))
    h2c = Http1(HttpRequest("GET", "/", (("Upgrade", "h2c"),)))
    assert "h2c" in mitmproxy_stops(case(h2c))
    host = Http1(HttpRequest("GET", "/", (("Host", "c219099999.example"),)))
    assert "Host" in mitmproxy_stops(case(host, Channel.REVERSE))
    assert mitmproxy_stops(case(host, Channel.HTTP)) == ""
    assert "request line" in mitmproxy_stops(case(RawTcp((b"SYNC v1\nssn=1\n",)), Channel.TUNNEL))
    assert mitmproxy_stops(case(RawTcp((b"\x00\x01bin",)), Channel.TUNNEL)) == ""
    assert mitmproxy_stops(case(RawTcp((b"no-space-line\n",)), Channel.TUNNEL)) == ""


def test_response_trailers_stop_only_over_http1() -> None:
    """A vendor's HTTP/1.1 trailers crash mitmproxy's HTTP/1 layer; HTTP/2 trailers pass."""
    head = http_response(200, (), b"", chunked=(b"x",))
    script = Script(reply=head[:-2] + b"X-Ssn: 1\r\n\r\n")
    assert "response trailers" in mitmproxy_stops(
        case(Http1(HttpRequest("GET", "/")), script=script)
    )
    assert mitmproxy_stops(case(H2Request("GET", "/"), Channel.H2, script)) == ""
    plain = case(Http1(HttpRequest("GET", "/")), script=reply_json({"a": 1}))
    assert mitmproxy_stops(plain) == ""


def test_few_attacks_are_kept_from_the_vendor_by_mitmproxy() -> None:
    """The rules spare most of the suite: under one attack in twenty is mitmproxy's own stop."""
    cases = build(CATALOG.specs, 14)
    stopped = [c for c in cases if mitmproxy_stops(c)]
    assert 0 < len(stopped) < len(cases) // 20
