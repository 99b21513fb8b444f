"""The response direction: which vendor answers are read, and how, before the client gets them.

mitmproxy calls `responseheaders` before the body comes; the gateway then picks a plan from
the response's route (cheap: no body is needed):

- `PASS`: no rule covers the response (or an allow entry exempts it). Nothing will read it,
  so it is streamed to the client as it comes (`flow.response.stream = True`): a
  server-sent-event stream or a long download is not held back for nothing.
- `OBSERVE`: only rules on trial (`mode: monitor`, or a monitor policy) cover it. Such rules
  change nothing, so the client gets every byte as it comes, and a `ResponseCopy` (the stream
  callable) keeps a copy for inspection off the event loop: the whole body when the response
  ends, or, for `text/event-stream`, windows of complete events (cut at blank lines) every
  `WINDOW_SECONDS` or `WINDOW_BYTES`, so a stream that never ends is inspected as it goes.
  Findings and errors are logged as what they would have done (`would_block` ...).
- `HOLD`: a rule that acts covers it (or a rule restores tokens in it). The whole response
  is buffered (`stream = False`), inspected, and only then sent on, rewritten or refused.
  An event stream under such a rule reaches the client when it ends: mitmproxy's stream
  callable is synchronous and runs before the response hook, so events cannot be released
  after an inspection in a worker finished (docs/gateway.md has the reasoning).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass

from dlp_proxy.core.inspect import Message, decide_by_route, route
from dlp_proxy.policy.model import Action, Mode, Policy

__all__ = [
    "EVENT_STREAM",
    "WINDOW_BYTES",
    "WINDOW_SECONDS",
    "ResponseCopy",
    "ResponsePlan",
    "Window",
    "complete_events",
    "plan_response",
]

EVENT_STREAM = "text/event-stream"
WINDOW_BYTES = 64 * 1024  # an event stream's window is inspected once it holds this much
WINDOW_SECONDS = 1.0  # ... or this long after its first complete event came

# The end of an event: a line ending followed by an empty line (CRLF, LF or CR, as the
# server-sent-events format allows).
_EVENT_END = re.compile(rb"(?:\r\n|\r|\n)(?:\r\n|\r|\n)")


class ResponsePlan(enum.StrEnum):
    """What the gateway does with a response's body (module docstring)."""

    PASS = "pass"
    OBSERVE = "observe"
    HOLD = "hold"


def plan_response(head: Message, policy: Policy) -> ResponsePlan:
    """The plan for a response, from its head (direction, method, host, path, headers)."""
    early = decide_by_route(head, policy)
    if early is not None:
        return ResponsePlan.HOLD if early.action is Action.BLOCK else ResponsePlan.PASS
    where = route(head, policy)
    if where.restore:
        return ResponsePlan.HOLD
    on_trial = policy.mode is Mode.MONITOR or all(r.mode is Mode.MONITOR for r in where.rules)
    return ResponsePlan.OBSERVE if on_trial else ResponsePlan.HOLD


def complete_events(data: bytes | bytearray, start: int = 0) -> int:
    """How many leading bytes of `data` are complete events: the end of the last blank line.

    0 when no event has ended yet. `start` skips bytes already known to hold no event end.
    """
    end = 0
    for match in _EVENT_END.finditer(data, max(0, start)):
        end = match.end()
    return end


@dataclass(frozen=True)
class Window:
    """A part of a response to inspect: its bytes, or None when it grew over the limit.

    `size` is how many bytes it had (more than the limit when `body` is None).
    """

    body: bytes | None
    size: int


class ResponseCopy:
    """The stream callable of an observed response: chunks go on at once, a copy is inspected.

    Every chunk is handed back unchanged (the client gets it now) and copied; `submit` gets
    the copy in windows (`ResponsePlan.OBSERVE`). With `events` (an uncompressed event
    stream) a window is the complete events that came within `WINDOW_SECONDS` (a timer set
    through `call_later`) or `WINDOW_BYTES`; otherwise the whole body is one window, handed
    over by `finish`. A copy that grows over `limit` bytes (a body, or one event) is submitted
    at once as `Window(None, size)` and copying stops.
    """

    def __init__(
        self,
        limit: int,
        events: bool,
        submit: Callable[[Window], None],
        call_later: Callable[[float, Callable[[], None]], object],
    ) -> None:
        self._limit = limit
        self._events = events
        self._submit = submit
        self._call_later = call_later
        self._pending = bytearray()  # the copy not yet submitted
        self._complete = 0  # how many bytes of _pending are complete events
        self._scanned = 0  # how far _pending has been searched for an event end
        self._timer = False
        self._overflowed = False
        self._submitted = False
        self.finished = False

    def __call__(self, data: bytes) -> bytes:
        """Take a chunk from the vendor: keep a copy, hand it on unchanged."""
        if self._overflowed or self.finished:
            return data
        self._pending += data
        if self._events:
            self._complete = complete_events(self._pending, self._scanned - 3) or self._complete
            self._scanned = len(self._pending)
            if self._complete >= WINDOW_BYTES:
                self._flush()
            elif self._complete and not self._timer:
                self._timer = True
                self._call_later(WINDOW_SECONDS, self._on_timer)
        if len(self._pending) > self._limit:
            self._overflowed = True
            size = len(self._pending)
            self._pending = bytearray()
            self._complete = self._scanned = 0
            self._hand_over(Window(None, size))
        return data

    def finish(self) -> None:
        """The response has ended: submit what is left (an empty window if nothing was)."""
        if self.finished:
            return
        self.finished = True
        if self._overflowed:
            return
        if self._pending or not self._submitted:
            self._complete = len(self._pending)
            self._flush()

    def _on_timer(self) -> None:
        self._timer = False
        if not self.finished and not self._overflowed and self._complete:
            self._flush()

    def _flush(self) -> None:
        """Submit the complete events (or, at the end, everything) as one window."""
        body = bytes(self._pending[: self._complete])
        del self._pending[: self._complete]
        self._scanned = max(0, self._scanned - self._complete)
        self._complete = 0
        self._hand_over(Window(body, len(body)))

    def _hand_over(self, window: Window) -> None:
        self._submitted = True
        self._submit(window)
