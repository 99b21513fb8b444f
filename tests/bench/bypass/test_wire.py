"""Building and parsing HTTP/1.1, WebSocket frames and HTTP/2 as bytes."""

from __future__ import annotations

import zlib

from hypothesis import given
from hypothesis import strategies as st

from bench.bypass.client import H2Request
from bench.bypass.wire import (
    BINARY,
    CLOSE,
    PING,
    TEXT,
    Chunk,
    H2Stream,
    HttpRequest,
    parse_h2,
    parse_http1,
    parse_http1_response,
    parse_ws_frames,
    ws_frame,
)
from tests.bench.bypass.support import h2_bytes

TOKEN = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-=", min_size=1, max_size=12)


@given(st.lists(st.binary(min_size=1, max_size=40), max_size=5), st.lists(TOKEN, max_size=5))
def test_a_chunked_request_parses_back_with_extensions_and_trailers(
    chunks: list[bytes], names: list[str]
) -> None:
    """Chunks are joined, each extension and trailer kept in order."""
    built = tuple(Chunk(c, f"e={i}") for i, c in enumerate(chunks))
    trailers = tuple((f"X-T{i}", n) for i, n in enumerate(names))
    request = HttpRequest("POST", "/u", (("A", "1"),), chunks=built, trailers=trailers)
    [parsed], rest = parse_http1(request.wire("/u", "h:1"))
    assert parsed.body == b"".join(chunks)
    assert parsed.extensions == tuple(f"e={i}" for i in range(len(chunks)))
    assert parsed.trailers == trailers
    assert parsed.complete
    assert rest == b""


def test_requests_on_one_connection_and_an_incomplete_last_one() -> None:
    """Two requests are split; a body cut short is returned incomplete."""
    one = HttpRequest("POST", "/a?x#f", body=b"12345").wire("/a?x#f", "h")
    two = HttpRequest("POST", "/b", body=b"abcdef").wire("/b", "h")
    requests, _ = parse_http1(one + two[:-2])
    assert [r.target for r in requests] == ["/a?x#f", "/b"]
    assert requests[0].body == b"12345"
    assert requests[0].header("host") == "h"
    assert not requests[1].complete
    assert requests[1].body == b"abcd"


def test_an_upgraded_connection_leaves_the_bytes_after_the_request() -> None:
    """With `upgraded`, what follows the request that asked for an upgrade is the remainder."""
    request = HttpRequest("GET", "/", (("Upgrade", "foo"),)).wire("/", "h")
    requests, rest = parse_http1(request + b"GET / raw bytes", upgraded=True)
    assert len(requests) == 1
    assert rest == b"GET / raw bytes"


def test_an_absolute_target_is_written_as_given() -> None:
    """The request line carries the target passed in; Host is added when missing."""
    wire = HttpRequest("GET", "/p").wire("http://u:p@h:1/p", "h:1")
    assert wire.startswith(b"GET http://u:p@h:1/p HTTP/1.1\r\nHost: h:1\r\n")


@given(st.binary(max_size=70000), st.booleans(), st.sampled_from([TEXT, BINARY, PING, CLOSE]))
def test_frames_parse_back_unmasked(payload: bytes, mask: bool, opcode: int) -> None:
    """Masked or not, short or long, a frame's payload comes back as it was."""
    payload = payload[:125] if opcode in (PING, CLOSE) else payload
    frames, rest = parse_ws_frames(ws_frame(opcode, payload, mask=mask) + b"\x81")
    assert [(f.opcode, f.payload) for f in frames] == [(opcode, payload)]
    assert rest == b"\x81"


def test_a_deflated_frame_is_inflated() -> None:
    """RSV1 (permessage-deflate) payloads are inflated."""
    deflate = zlib.compressobj(wbits=-15)
    data = deflate.compress(b"hello there") + deflate.flush(zlib.Z_SYNC_FLUSH)
    [frame], _ = parse_ws_frames(ws_frame(TEXT, data[:-4], rsv1=True))
    assert frame.payload == b"hello there"
    assert frame.rsv1


def test_responses_by_length_chunks_and_close() -> None:
    """Content-Length, chunked with trailers, to-the-close; incomplete ones wait."""
    fixed = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokMORE"
    response, rest = parse_http1_response(fixed, closed=False)
    assert response is not None
    assert response.body == b"ok"
    assert rest == b"MORE"
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-T: v\r\n\r\n"
    response, _ = parse_http1_response(chunked, closed=False)
    assert response is not None
    assert response.body == b"ok"
    assert response.trailers == (("X-T", "v"),)
    assert parse_http1_response(chunked[:-4], closed=False)[0] is None
    until_close = b"HTTP/1.1 200 OK\r\n\r\nall of it"
    assert parse_http1_response(until_close, closed=False)[0] is None
    response, _ = parse_http1_response(until_close, closed=True)
    assert response is not None
    assert response.body == b"all of it"
    switched, rest = parse_http1_response(b"HTTP/1.1 101 Switching\r\nUpgrade: x\r\n\r\nraw", False)
    assert switched is not None
    assert switched.status == 101
    assert rest == b"raw"


def test_an_h2_connection_replays_into_streams() -> None:
    """Headers (pseudo ones too), data and trailers of a client's stream are read back."""
    request = H2Request("POST", "/p", (("x-a", "1"),), b"body", (("x-t", "2"),))
    [stream] = parse_h2(h2_bytes(request))
    assert isinstance(stream, H2Stream)
    assert stream.header(":path") == "/p"
    assert stream.header("x-a") == "1"
    assert stream.data == b"body"
    assert stream.trailers == (("x-t", "2"),)
    assert stream.ended
    assert parse_h2(b"not http/2 at all") == []
