"""Reading a vendor's record back from its bytes: requests, frames, HTTP/2, raw TCP."""

from __future__ import annotations

import gzip
import zlib

import brotli
from backports import zstd

from bench.bypass.client import H2Request
from bench.bypass.seen import Record, SeenRequest, decoded_body, seen_from, views
from bench.bypass.wire import CLOSE, PING, TEXT, Chunk, HttpRequest, ws_frame
from tests.bench.bypass.support import SWITCHED, h2_bytes

UPGRADE = HttpRequest("GET", "/ws", (("Upgrade", "websocket"),)).wire("/ws", "h")


def test_http1_requests_and_what_comes_after_a_101() -> None:
    """Before a 101 the bytes are requests; after it, WebSocket frames (a custom upgrade: raw)."""
    frames = ws_frame(TEXT, b"hi") + ws_frame(PING, b"p") + ws_frame(CLOSE, b"\x03\xe8")
    seen = seen_from([Record(UPGRADE + frames, SWITCHED)])
    assert [r.target for r in seen.requests] == ["/ws"]
    assert [(f.opcode, f.payload) for f in seen.frames] == [
        (TEXT, b"hi"),
        (PING, b"p"),
        (CLOSE, b"\x03\xe8"),
    ]
    assert seen.frames_of(PING)[0].payload == b"p"
    custom = HttpRequest("GET", "/", (("Upgrade", "foo"),)).wire("/", "h")
    raw = seen_from([Record(custom + b"anything", SWITCHED)])
    assert raw.upgraded == b"anything"
    assert not raw.frames


def test_without_a_101_nothing_is_upgraded() -> None:
    """A vendor that answered 200 did not switch: what follows is not post-upgrade bytes."""
    seen = seen_from([Record(UPGRADE, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")])
    assert seen.upgraded == b""
    assert len(seen.requests) == 1


def test_h2_and_raw_tcp_records() -> None:
    """ALPN h2 (or the preface) is replayed as HTTP/2; bytes that are not HTTP stay raw."""
    seen = seen_from([Record(h2_bytes(H2Request("GET", "/p", (("x", "1"),))), alpn="h2")])
    assert seen.request == SeenRequest(
        "h2", "GET", "/p", seen.requests[0].headers, b"", complete=True
    )
    tcp = seen_from([Record(b"\x00\x01binary record")])
    assert tcp.other == b"\x00\x01binary record"
    assert not tcp.requests


def test_views_label_every_piece_and_not_the_whole_connection() -> None:
    """Target, each header, body, trailers, extensions and frames are labelled views."""
    request = HttpRequest(
        "POST", "/t?q", (("X-A", "v"),), chunks=(Chunk(b"body", "ext=1"),), trailers=(("X-T", "t"),)
    )
    labelled = dict(views(seen_from([Record(request.wire("/t?q", "h"))])))
    assert labelled["request target"] == b"/t?q"
    assert labelled["header X-A"] == b"v"
    assert (("header name", b"X-A")) in views(seen_from([Record(request.wire("/t?q", "h"))]))
    assert labelled["body"] == b"body"
    assert labelled["trailer X-T"] == b"t"
    assert labelled["chunk extension"] == b"ext=1"
    assert "connection bytes" not in labelled


def test_a_gzip_body_is_decoded_for_the_views() -> None:
    """Content-Encoding gzip is undone; a body that is not gzip gives None."""
    body = gzip.compress(b"plain text")
    request = SeenRequest("http/1.1", "POST", "/", (("Content-Encoding", "gzip"),), body)
    assert decoded_body(request) == b"plain text"
    broken = SeenRequest("http/1.1", "POST", "/", (("Content-Encoding", "gzip"),), b"nope")
    assert decoded_body(broken) is None


def test_the_method_is_a_view_and_every_content_coding_is_undone() -> None:
    """The method is read like the target; br, zstd, raw deflate and stacked codings decode."""
    method = HttpRequest("X219", "/t").wire("/t", "h")
    assert (("request method", b"X219")) in views(seen_from([Record(method)]))

    def coded(codings: str, body: bytes) -> bytes | None:
        return decoded_body(SeenRequest("h2", "POST", "/", (("content-encoding", codings),), body))

    assert coded("br", brotli.compress(b"b")) == b"b"
    assert coded("zstd", zstd.compress(b"z")) == b"z"
    raw = zlib.compressobj(wbits=-15)
    assert coded("deflate", raw.compress(b"d") + raw.flush()) == b"d"
    assert coded("gzip, br", brotli.compress(gzip.compress(b"two"))) == b"two"
    assert coded("gzip, gzip", gzip.compress(gzip.compress(b"twice"))) == b"twice"
    assert coded("compress", b"x") is None
    assert decoded_body(SeenRequest("h2", "POST", "/", (), b"x")) is None
