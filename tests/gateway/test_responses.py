"""Tests for dlp_proxy/gateway/responses.py: response plans, event windows, the copy's bounds."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlp_proxy.core.inspect import Message
from dlp_proxy.gateway.responses import (
    WINDOW_BYTES,
    WINDOW_SECONDS,
    ResponseCopy,
    ResponsePlan,
    Window,
    complete_events,
    plan_response,
)
from dlp_proxy.policy.loader import parse_policy
from dlp_proxy.policy.model import Direction, Policy

RULES = """\
version: 1
name: p
mode: {mode}
vendors:
  - {{id: acme, hosts: [api.acme.example]}}
allow:
  - {{id: status-page, hosts: [status.acme.example], reason: public status page}}
rules:
  - id: block-ssn
    entities: [US_SSN]
    action: block
  - id: watch-answers
    direction: response
    entities: [US_SSN]
    action: block
    mode: monitor
"""


def _policy(text: str = RULES, mode: str = "enforce") -> Policy:
    return parse_policy(text.format(mode=mode))


def _head(host: str = "api.acme.example", content_type: str = "application/json") -> Message:
    return Message(
        direction=Direction.RESPONSE,
        method="GET",
        host=host,
        path="/tickets/1",
        content_type=content_type,
    )


def test_a_response_only_rules_on_trial_cover_is_observed() -> None:
    """The monitor rule covers every vendor's answers: streamed on, a copy inspected."""
    assert plan_response(_head(), _policy()) is ResponsePlan.OBSERVE


def test_a_response_no_rule_covers_passes_unread() -> None:
    """Without a response rule (or for an exempt destination) nothing reads the body."""
    request_only = RULES.split("  - id: watch-answers")[0]
    assert plan_response(_head(), _policy(request_only)) is ResponsePlan.PASS
    exempt = _head(host="status.acme.example")
    assert plan_response(exempt, _policy()) is ResponsePlan.PASS


def test_a_rule_that_acts_holds_the_response() -> None:
    """A response rule that blocks for real: the body is held until inspected."""
    acting = RULES.replace("    mode: monitor\n", "")
    assert plan_response(_head(), _policy(acting)) is ResponsePlan.HOLD


def test_in_a_monitor_policy_every_rule_is_on_trial() -> None:
    """mode: monitor at the top makes even an acting rule one that changes nothing."""
    acting = RULES.replace("    mode: monitor\n", "")
    assert plan_response(_head(), _policy(acting, mode="monitor")) is ResponsePlan.OBSERVE


def test_a_restoring_rule_holds_the_response() -> None:
    """Tokens are restored in the body before the client sees it: that needs the whole body."""
    restoring = RULES.split("  - id: watch-answers")[0] + (
        "  - id: cards\n    entities: [CREDIT_CARD]\n    action: encrypt\n    restore: true\n"
    )
    assert plan_response(_head(), _policy(restoring)) is ResponsePlan.HOLD


def test_an_unknown_destination_blocked_outright_is_held() -> None:
    """The block by route is applied by the response hook, so the body is not streamed on."""
    blocking = RULES.replace("mode: {mode}\n", "mode: {mode}\nunknown_destinations: block\n")
    assert plan_response(_head(host="else.example"), _policy(blocking)) is ResponsePlan.HOLD


@pytest.mark.parametrize(
    ("data", "end"),
    [
        (b"", 0),
        (b"data: a", 0),
        (b"data: a\n", 0),
        (b"data: a\n\n", 9),
        (b"data: a\r\n\r\ndata: b", 11),
        (b"data: a\r\rdata: b\n\n", 18),
        (b"event: x\ndata: a\n\ndata: b\n\n: comment\n", 27),
    ],
)
def test_complete_events_end_at_the_last_blank_line(data: bytes, end: int) -> None:
    """CRLF, LF or CR line endings: an event ends at an empty line."""
    assert complete_events(data) == end


@given(
    st.lists(st.text(alphabet="ab :\n", max_size=12), max_size=6),
    st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_complete_events_never_cut_an_event(lines: list[str], newline: str) -> None:
    """Whatever the events, the cut is after a whole event: what follows starts a new one."""
    events = [line.replace("\n", " ") for line in lines]
    stream = "".join(f"data: {e}{newline}{newline}" for e in events).encode()
    assert complete_events(stream) == len(stream)
    cut = complete_events(stream + b"data: partial")
    assert cut == len(stream)


class _Timers:
    """call_later for tests: timers run when the test says so."""

    def __init__(self) -> None:
        self.pending: list[tuple[float, Callable[[], None]]] = []

    def __call__(self, delay: float, callback: Callable[[], None]) -> None:
        self.pending.append((delay, callback))

    def fire(self) -> None:
        pending, self.pending = self.pending, []
        for _, callback in pending:
            callback()


def _copy(events: bool, limit: int = 1000) -> tuple[ResponseCopy, list[Window], _Timers]:
    windows: list[Window] = []
    timers = _Timers()
    return ResponseCopy(limit, events, windows.append, timers), windows, timers


def test_every_chunk_goes_on_unchanged_and_a_body_is_one_window() -> None:
    """A JSON answer streamed in chunks reaches the client as it came; one window at the end."""
    copy, windows, timers = _copy(events=False)
    assert copy(b'{"ssn": ') == b'{"ssn": '
    assert copy(b'"219-09-9999"}') == b'"219-09-9999"}'
    assert windows == []
    assert timers.pending == []
    copy.finish()
    assert windows == [Window(b'{"ssn": "219-09-9999"}', 22)]
    copy.finish()
    assert len(windows) == 1


def test_events_are_inspected_in_windows_of_complete_events() -> None:
    """A window holds whole events only; the partial one waits for its end."""
    copy, windows, timers = _copy(events=True)
    copy(b"data: one\n\ndata: tw")
    assert windows == []
    assert [delay for delay, _ in timers.pending] == [WINDOW_SECONDS]
    timers.fire()
    assert windows == [Window(b"data: one\n\n", 11)]
    copy(b"o\n\n")
    timers.fire()
    assert windows[-1] == Window(b"data: two\n\n", 11)
    copy.finish()
    assert len(windows) == 2  # nothing was left


def test_a_full_window_is_inspected_without_waiting() -> None:
    """WINDOW_BYTES of complete events go at once, timer or not."""
    copy, windows, _ = _copy(events=True, limit=10 * WINDOW_BYTES)
    event = b"data: " + b"x" * 1000 + b"\n\n"
    count = WINDOW_BYTES // len(event) + 1
    copy(event * count)
    assert windows == [Window(event * count, len(event) * count)]


def test_an_event_stream_that_never_ends_is_inspected_as_it_goes() -> None:
    """Windows keep coming while the stream is open; memory holds one window at most."""
    copy, windows, timers = _copy(events=True)
    for n in range(5):
        copy(b"data: %d\n\n" % n)
        timers.fire()
    assert [w.body for w in windows] == [b"data: %d\n\n" % n for n in range(5)]


def test_a_copy_over_the_limit_is_reported_at_once_and_dropped() -> None:
    """An event or body over the limit: submitted as Window(None, size); the stream goes on."""
    copy, windows, _ = _copy(events=True, limit=20)
    assert copy(b"data: " + b"y" * 30) == b"data: " + b"y" * 30
    assert windows == [Window(None, 36)]
    assert copy(b"\n\ndata: z\n\n") == b"\n\ndata: z\n\n"
    copy.finish()
    assert windows == [Window(None, 36)]


def test_an_empty_answer_is_still_one_window() -> None:
    """A covered response always gets a decision, even with nothing in it."""
    for events in (True, False):
        copy, windows, _ = _copy(events=events)
        copy.finish()
        assert windows == [Window(b"", 0)]


def test_the_tail_of_an_event_stream_is_inspected_at_the_end() -> None:
    """Events (and a last event without its blank line) left when the stream ends."""
    copy, windows, timers = _copy(events=True)
    copy(b"data: a\n\ndata: b")
    copy.finish()
    assert windows == [Window(b"data: a\n\ndata: b", 16)]
    timers.fire()  # a timer set before the end does nothing after it
    assert len(windows) == 1
