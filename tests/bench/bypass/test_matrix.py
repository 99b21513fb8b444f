"""The channel matrix: a case ported to HTTP/2 and back says the same, or is not ported."""

from __future__ import annotations

from bench.bypass.cases import Catalog, Made, post, reply_json
from bench.bypass.client import Channel, H2Request, Http1, RawTcp
from bench.bypass.matrix import port, port_exchange, port_script, to_h2, to_http1
from bench.bypass.pii import Kind, Secret
from bench.bypass.vendor import H2Reply, Script, http_response
from bench.bypass.wire import Chunk, HttpRequest, parse_http1_response


def test_http1_to_h2_lowercases_drops_connection_headers_and_keeps_host_as_authority() -> None:
    """Names lower-cased, Connection/TE dropped (te: trailers kept), Host as :authority."""
    headers = (
        ("Host", "c1.example"),
        ("X-Ref", "A"),
        ("Connection", "keep-alive"),
        ("TE", "trailers"),
        ("Transfer-Encoding", "chunked"),
    )
    chunks = (Chunk(b"ab"), Chunk(b"cd"))
    ex = Http1(HttpRequest("POST", "/p?q=1", headers, chunks=chunks, trailers=(("X-T", "t"),)))
    h2 = to_h2(ex)
    assert h2 == H2Request(
        "POST",
        "/p?q=1",
        (("x-ref", "A"), ("te", "trailers")),
        b"abcd",
        (("x-t", "t"),),
        "c1.example",
    )


def test_what_http2_cannot_say_is_not_ported() -> None:
    """Chunk extensions, folded or repeated Host, absolute form, upgrades: no HTTP/2 request."""
    extension = Http1(HttpRequest("POST", "/", chunks=(Chunk(b"a", "x=1"),)))
    folded = Http1(HttpRequest("GET", "/", (("X-Note", "a\r\n b"),)))
    two_hosts = Http1(HttpRequest("GET", "/", (("Host", "a"), ("Host", "b"))))
    absolute = Http1(HttpRequest("GET", "/", absolute="http://{authority}/"))
    upgraded = Http1(HttpRequest("GET", "/"), after_upgrade=b"x")
    for ex in (extension, folded, two_hosts, absolute, upgraded):
        assert to_h2(ex) is None
        assert port_exchange(ex, Channel.H2) is None
    assert port_exchange(absolute, Channel.HTTP) is absolute
    assert port_exchange(absolute, Channel.REVERSE) is None
    assert port_exchange(RawTcp((b"x",)), Channel.H2) is None


def test_h2_to_http1_and_back() -> None:
    """An HTTP/2 request spelled as HTTP/1.1 (trailers make it chunked) ports back the same."""
    h2 = H2Request("POST", "/u", (("x-a", "1"),), b"body", (("x-t", "t"),), authority="c.example")
    h1 = to_http1(h2)
    assert h1.request.header("host") == "c.example"
    assert h1.request.chunks == (Chunk(b"body"),)
    assert h1.request.trailers == (("x-t", "t"),)
    assert to_h2(h1) == h2
    plain = to_http1(H2Request("GET", "/g", (("x-a", "1"),)))
    assert plain.request == HttpRequest("GET", "/g", (("x-a", "1"),))


def test_a_vendor_reply_is_ported_with_its_trailers() -> None:
    """An HTTP/1.1 reply becomes the H2 reply (body de-chunked, trailers kept) and back."""
    head = http_response(200, (("Content-Type", "text/plain"),), b"", chunked=(b"he", b"llo"))
    script = Script(reply=head[:-2] + b"X-Sum: 7\r\n\r\n")
    h2 = port_script(script, Channel.H2)
    assert h2 is not None
    assert h2.h2 == H2Reply(200, (("content-type", "text/plain"),), b"hello", (("x-sum", "7"),))
    back = port_script(Script(h2=h2.h2), Channel.HTTPS)
    assert back is not None
    response, _ = parse_http1_response(back.reply, closed=True)
    assert response is not None
    assert (response.body, response.trailers) == (b"hello", (("x-sum", "7"),))
    assert port_script(Script(upgrade="websocket"), Channel.H2) is None
    assert port_script(Script(kind="tcp"), Channel.HTTPS) is None


def test_port_carries_the_script_only_where_it_must() -> None:
    """HTTP/1.1 to HTTP/1.1 keeps the script as is; to HTTP/2 the reply is ported."""
    ex, script = Http1(HttpRequest("GET", "/")), reply_json({"a": 1})
    assert port((ex, script), Script(), Channel.REVERSE) == (ex, script)
    ported = port((ex, script), Script(), Channel.H2)
    assert ported is not None
    assert ported[1].h2.body == b'{"a": 1}'


def test_a_catalog_with_a_matrix_registers_ports_named_by_channel() -> None:
    """Each case of a matrix class runs on the row's other channels; spread narrows or stops it."""
    catalog = Catalog(matrix={"k": (Channel.HTTP, Channel.H2, Channel.REVERSE)})

    @catalog.case("k", Kind.SSN, Channel.HTTP)
    def body(s: Secret) -> Made:
        """A body."""
        return post("/", s.dashed)

    @catalog.case("k", Kind.SSN, Channel.HTTP, spread=(Channel.H2,))
    def narrowed(s: Secret) -> Made:
        """Only to HTTP/2."""
        return post("/", s.dashed)

    @catalog.case("k", Kind.SSN, Channel.HTTP, spread=False)
    def alone(s: Secret) -> Made:
        """Not spread."""
        return post("/", s.dashed)

    @catalog.case("k", Kind.SSN, Channel.HTTP)
    def folded(s: Secret) -> Made:
        """Not sayable over HTTP/2."""
        return Http1(HttpRequest("GET", "/", (("X-A", f"a\r\n {s.dashed}"),)))

    names = [s.name for s in catalog]
    assert names == [
        "body",
        "body@h2",
        "body@reverse",
        "narrowed",
        "narrowed@h2",
        "alone",
        "folded",
        "folded@reverse",
    ]
    ported = next(s for s in catalog if s.name == "body@h2")
    assert ported.ported_from is Channel.HTTP
    made = ported.case(Secret(Kind.SSN, "219099999"))
    assert isinstance(made.exchange, H2Request)
    assert made.exchange.body == b"219-09-9999"
    assert made.ported_from is Channel.HTTP
