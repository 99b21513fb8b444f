"""The scorer on hand-made records: leaked only if recoverable, blocked only if nothing came."""

from __future__ import annotations

import gzip

from bench.bypass import undo as u
from bench.bypass.cases import Case, got_bytes, got_frames, reply_json
from bench.bypass.client import Answer, Channel, Http1, RawTcp
from bench.bypass.pii import Kind, Secret
from bench.bypass.score import Outcome, client_views, found_in, recover, score
from bench.bypass.seen import Seen, SeenRequest
from bench.bypass.wire import PING, HttpRequest, WsFrame

SSN = Secret(Kind.SSN, "219099999")
GET = Http1(HttpRequest("GET", "/v1/status", (("X-A", "v"),)))


def case(secret: Secret | None = SSN, **kw: object) -> Case:
    """A case around GET with `secret` (defaults may be overridden)."""
    return Case("c", "headers", Channel.HTTP, kw.pop("exchange", GET), secret, **kw)  # type: ignore[arg-type]


def seen(*requests: SeenRequest, raw: bytes = b"", frames: tuple[WsFrame, ...] = ()) -> Seen:
    """A record with `requests`, `raw` connection bytes and `frames`."""
    return Seen(raw=(raw,) if raw else (), requests=requests, frames=frames)


def req(
    target: str = "/v1/status",
    headers: tuple[tuple[str, str], ...] = (("X-A", "v"),),
    body: bytes = b"",
) -> SeenRequest:
    """A request as the vendor read it."""
    return SeenRequest("http/1.1", "GET", target, headers, b"")


def test_the_four_readings() -> None:
    """Raw, percent-decoded, digits only, percent-decoded digits only; none otherwise."""
    assert found_in("219099999", b"x219099999y") == "raw"
    assert found_in("219099999", b"%32%31%39099999") == "percent-decoded"
    assert found_in("219099999", b"219-09-9999") == "digits only"
    assert (
        found_in("219099999", b"2\x001\x009\x00-\x000\x009\x009\x009\x009\x009\x00")
        == "digits only"
    )
    assert found_in("219099999", b"219-%30%39-9999") == "percent-decoded, digits only"
    assert found_in("219099999", b"219-09-999") is None
    assert found_in("219099999", b"219-09-9999", digits_only=False) is None


def test_whole_connection_bytes_are_not_read_digits_only() -> None:
    """A Content-Length next to a body does not make a secret out of two numbers."""
    whole = [("connection bytes", b'Content-Length: 219\r\n\r\n{"a": "09", "b": "9999"}')]
    assert recover(SSN, [], whole) is None
    assert recover(SSN, [("body", b"219 09 9999")], whole) == "body (digits only)"


def test_leaked_when_the_vendor_can_read_it_anywhere() -> None:
    """In a header, in the target, after an undo: leaked, and `how` says where (no value)."""
    verdict = score(case(), seen(req(headers=(("Cookie", "a=219-09-9999"),))), Answer(200))
    assert verdict.outcome is Outcome.LEAKED
    assert verdict.how == "vendor read it in header Cookie (digits only)"
    assert "219" not in verdict.how
    basic = req(headers=(("Authorization", "Basic dXNlcjoyMTkwOTk5OTk="),))
    assert score(case(), seen(basic), Answer(200)).outcome is Outcome.CHANGED
    undone = score(case(undo=(u.basic_auth(),)), seen(basic), Answer(200))
    assert undone.outcome is Outcome.LEAKED
    assert "undo base64" in undone.how


def test_blocked_only_when_what_carries_it_never_arrived() -> None:
    """A 403 with the request at the vendor is not a block; no request is; a frame dropped is."""
    assert score(case(), seen(), Answer(403)).outcome is Outcome.BLOCKED
    assert score(case(), seen(req()), Answer(403)).outcome is Outcome.CHANGED
    ping = case(delivered=got_frames(PING))
    assert score(ping, seen(req()), Answer(101)).outcome is Outcome.BLOCKED
    redacted = seen(req(), frames=(WsFrame(PING, b"<US_SSN>"),))
    assert score(ping, redacted, Answer(101)).outcome is Outcome.CHANGED


def test_a_hang_is_a_hang_unless_it_leaked_too() -> None:
    """Timed out with nothing at the vendor: hang. Timed out after the secret arrived: leaked."""
    timeout = Answer(error="timeout", hang=True)
    assert score(case(), seen(), timeout).outcome is Outcome.HANG
    leaked = score(case(), seen(req(target="/219099999")), timeout)
    assert leaked.outcome is Outcome.LEAKED
    assert leaked.hang


def test_the_response_direction_is_scored_on_what_the_client_got() -> None:
    """Secret at the client: leaked unless logged; not at the client: changed or blocked."""
    response = case(direction="response", script=reply_json({"ssn": "219-09-9999"}))
    got = Answer(200, body=b'{"ssn": "219-09-9999"}')
    assert score(response, seen(req()), got).outcome is Outcome.LEAKED
    assert score(response, seen(req()), got, logged=True).outcome is Outcome.LOGGED
    masked = Answer(200, body=b'{"ssn": "<US_SSN>"}')
    assert score(response, seen(req()), masked).outcome is Outcome.CHANGED
    assert score(response, seen(req()), Answer(502)).outcome is Outcome.BLOCKED


def test_benign_controls_intact_changed_or_blocked() -> None:
    """Same bytes and the vendor's answer: intact; other bytes: false change; none: false block."""
    benign = case(secret=None)
    assert score(benign, seen(req()), Answer(200)).outcome is Outcome.INTACT
    assert (
        score(benign, seen(req(headers=(("X-A", "w"),))), Answer(200)).outcome
        is Outcome.FALSE_CHANGE
    )
    moved = score(benign, seen(req(target="/v1/other")), Answer(200))
    assert moved.outcome is Outcome.FALSE_CHANGE
    assert score(benign, seen(req()), Answer(403)).outcome is Outcome.FALSE_BLOCK
    assert score(benign, seen(), Answer(403)).outcome is Outcome.FALSE_BLOCK
    assert score(benign, seen(), Answer(error="timeout", hang=True)).outcome is Outcome.HANG
    tcp = case(secret=None, exchange=RawTcp((b"abc",)), delivered=got_bytes)
    assert score(tcp, Seen(raw=(b"abc",)), Answer(200)).outcome is Outcome.INTACT
    assert score(tcp, Seen(raw=(b"abd",)), Answer(200)).outcome is Outcome.FALSE_CHANGE


def test_a_compressed_response_is_read_as_the_client_library_reads_it() -> None:
    """The client's view holds the gzip body inflated, so a gzip response can leak."""
    body = gzip.compress(b'{"ssn": "219-09-9999"}', mtime=0)
    answer = Answer(200, body=body, headers=(("Content-Encoding", "gzip"),))
    views = dict(client_views(answer))
    assert views["response body (Content-Encoding undone)"] == b'{"ssn": "219-09-9999"}'
    response = case(direction="response", script=reply_json({"ok": True}))
    assert score(response, seen(req()), answer).outcome is Outcome.LEAKED


def test_a_consumed_expect_is_no_change_to_a_control() -> None:
    """A proxy that answers 100-continue and drops Expect leaves the control intact."""
    sent = Http1(HttpRequest("GET", "/v1/status", (("X-A", "v"), ("Expect", "100-continue"))))
    benign = case(secret=None, exchange=sent)
    assert score(benign, seen(req()), Answer(200)).outcome is Outcome.INTACT
