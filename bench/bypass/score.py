"""Scoring a case by what the vendor could recover, never by the status code alone.

`recover` searches labelled bytes for a secret's digits, contiguous, in four readings of each:
the raw bytes, percent-decoded, the digits-only stream, and percent-decoded then digits-only
(UTF-16 text, dashes, spaces and split fields in order all fall to the digits-only stream).
The case's own undos (base64, JWT, JSON keys, float to int, ...) add their candidates.

A request case is `leaked` when the vendor's record yields the secret, else `hang` when the
client got neither an answer nor a refusal in time, else `blocked` when the unit that carried
the secret never reached the vendor (no request, no frame, no bytes after the upgrade), else
`changed` (delivered with the secret removed). A response case is scored on what the client
got: the secret without a decision line that records a finding for the flow is `leaked`,
with one `logged`. A benign control is `intact`, a `false_block` (it did not get through, or
the client did not get the vendor's answer) or a `false_change` (the vendor got other bytes).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import unquote_to_bytes

from bench.bypass.cases import Case
from bench.bypass.client import Answer, H2Request, Http1, RawTcp
from bench.bypass.pii import Secret
from bench.bypass.seen import Seen, SeenRequest, decoded_body, views
from bench.bypass.wire import BINARY, CONTINUATION, TEXT, parse_http1_response, parse_ws_frames

__all__ = [
    "Outcome",
    "Verdict",
    "client_views",
    "difference",
    "found_in",
    "recover",
    "score",
]

_NOT_DIGIT = re.compile(rb"[^0-9]")
# Headers a proxy may rightly add, drop or rewrite on the way: not a change to the content.
_HOP_BY_HOP = {
    "connection",
    "content-length",
    "expect",  # a proxy may answer 100-continue itself and drop it (RFC 9110 10.1.1)
    "host",
    "keep-alive",
    "proxy-connection",
    "te",
    "transfer-encoding",
    "upgrade",
}


class Outcome(StrEnum):
    """How a case ended."""

    LEAKED = "leaked"
    BLOCKED = "blocked"
    CHANGED = "changed"
    LOGGED = "logged"
    HANG = "hang"
    INTACT = "intact"
    FALSE_BLOCK = "false_block"
    FALSE_CHANGE = "false_change"


@dataclass(frozen=True)
class Verdict:
    """A case's outcome, `how` it came about (never the secret), and whether the client hung."""

    outcome: Outcome
    how: str = ""
    hang: bool = False


def found_in(digits: str, data: bytes, digits_only: bool = True) -> str | None:
    """Which reading of `data` shows `digits` contiguous, or None.

    Without `digits_only`, only the raw and the percent-decoded readings.
    """
    needle = digits.encode()
    if needle in data:
        return "raw"
    decoded = unquote_to_bytes(data.replace(b"+", b" "))
    if needle in decoded:
        return "percent-decoded"
    if not digits_only:
        return None
    if needle in _NOT_DIGIT.sub(b"", data):
        return "digits only"
    if needle in _NOT_DIGIT.sub(b"", decoded):
        return "percent-decoded, digits only"
    return None


def recover(
    secret: Secret, labelled: Iterable[tuple[str, bytes]], whole: Iterable[tuple[str, bytes]] = ()
) -> str | None:
    """How the secret is recovered from the first piece that yields it (`label (reading)`).

    `labelled` pieces are read in all four ways; `whole` ones (a connection's every byte) only
    raw and percent-decoded.
    """
    for label, data in labelled:
        if reading := found_in(secret.digits, data):
            return f"{label} ({reading})"
    for label, data in whole:
        if reading := found_in(secret.digits, data, digits_only=False):
            return f"{label} ({reading})"
    return None


def client_views(answer: Answer) -> list[tuple[str, bytes]]:
    """What the client got, labelled: body, headers, trailers, WebSocket frames.

    A body with a Content-Encoding is read decoded as well, as the client's library reads it.
    """
    out = [("response body", answer.body)]
    as_request = SeenRequest("response", "", "", answer.headers, answer.body)
    if (decoded := decoded_body(as_request)) is not None:
        out.append(("response body (Content-Encoding undone)", decoded))
    out += [(f"response header {k}", v.encode("latin-1", "replace")) for k, v in answer.headers]
    out += [(f"response trailer {k}", v.encode("latin-1", "replace")) for k, v in answer.trailers]
    out += [("websocket frame to the client", f.payload) for f in answer.frames]
    return out


def _vendor_recovers(case: Case, seen: Seen) -> str | None:
    assert case.secret is not None
    candidates = views(seen)
    for undo in case.undo:
        candidates += undo(seen)
    return recover(case.secret, candidates, [("connection bytes", raw) for raw in seen.raw])


def _expected_status(case: Case) -> int:
    if isinstance(case.exchange, Http1) and (case.exchange.frames or case.script.upgrade):
        return 101
    if isinstance(case.exchange, H2Request):
        return case.script.h2.status
    response, _ = parse_http1_response(case.script.reply, closed=True)
    return response.status if response else 200


def _expected_body(case: Case) -> bytes:
    if isinstance(case.exchange, H2Request):
        return case.script.h2.body
    response, _ = parse_http1_response(case.script.reply, closed=True)
    return response.body if response else b""


def _request_difference(sent: Http1 | H2Request, got: SeenRequest) -> str:
    """What differs between a sent request and the one the vendor read ("" if nothing)."""
    if isinstance(sent, Http1):
        request = sent.request
        target, headers = request.target, request.headers
        body = b"".join(c.data for c in request.chunks) if request.chunks else request.body
    else:
        target, headers, body = sent.path, sent.headers, sent.body
    if got.target != target:
        return "request target"
    if got.body != body:
        return "body"
    for name, value in headers:
        if name.lower() not in _HOP_BY_HOP and value not in (
            v for k, v in got.headers if k.lower() == name.lower()
        ):
            return f"header {name}"
    return ""


def _data_frames(frames: Iterable[bytes] | Seen) -> bytes:
    if isinstance(frames, Seen):
        found = frames.frames
    else:
        found = tuple(parse_ws_frames(b"".join(frames))[0])
    return b"".join(f.payload for f in found if f.opcode in (TEXT, BINARY, CONTINUATION))


def difference(case: Case, seen: Seen, answer: Answer) -> str:
    """How a benign control was changed on the way ("" when the vendor got what was sent)."""
    ex = case.exchange
    if isinstance(ex, RawTcp):
        sent = b"".join(ex.messages)
        return "" if b"".join(seen.raw) == sent else "raw bytes"
    request = seen.request
    if request is None:
        return "no request"
    if found := _request_difference(ex, request):
        return found
    if isinstance(ex, Http1) and ex.frames and _data_frames(ex.frames) != _data_frames(seen):
        return "websocket messages"
    if case.direction == "response" and answer.body != _expected_body(case):
        return "response body"
    return ""


def _score_benign(case: Case, seen: Seen, answer: Answer) -> Verdict:
    if answer.hang:
        return Verdict(Outcome.HANG, "the client timed out", hang=True)
    if not case.delivered(seen):
        return Verdict(Outcome.FALSE_BLOCK, f"nothing reached the vendor ({_said(answer)})")
    if answer.status != _expected_status(case):
        return Verdict(
            Outcome.FALSE_BLOCK, f"the client did not get the vendor's answer ({_said(answer)})"
        )
    if changed := difference(case, seen, answer):
        return Verdict(Outcome.FALSE_CHANGE, f"the vendor got a different {changed}")
    return Verdict(Outcome.INTACT)


def _said(answer: Answer) -> str:
    if answer.error:
        return f"status {answer.status}, {answer.error}" if answer.status else answer.error
    return f"status {answer.status}"


def score(case: Case, seen: Seen, answer: Answer, logged: bool = False) -> Verdict:
    """The case's verdict from the vendor's record and what the client saw.

    `logged` (responses only): a decision line recorded a finding for the case's flow.
    """
    if case.secret is None:
        return _score_benign(case, seen, answer)
    if case.direction == "response":
        how = recover(case.secret, client_views(answer), [("client bytes", answer.received)])
        if how:
            if logged:
                return Verdict(Outcome.LOGGED, f"client got it in {how}; logged", answer.hang)
            return Verdict(
                Outcome.LEAKED, f"client got it in {how}, no finding logged", answer.hang
            )
        if answer.hang:
            return Verdict(Outcome.HANG, "the client timed out", hang=True)
        if answer.status == _expected_status(case) and not answer.error:
            return Verdict(Outcome.CHANGED, "the response came without the secret")
        return Verdict(Outcome.BLOCKED, _said(answer))
    how = _vendor_recovers(case, seen)
    if how:
        return Verdict(Outcome.LEAKED, f"vendor read it in {how}", answer.hang)
    if answer.hang:
        return Verdict(Outcome.HANG, "the client timed out", hang=True)
    if not case.delivered(seen):
        return Verdict(
            Outcome.BLOCKED, f"what carries it never reached the vendor ({_said(answer)})"
        )
    return Verdict(Outcome.CHANGED, f"delivered without the secret ({_said(answer)})")
