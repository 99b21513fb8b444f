"""Log hygiene: nothing the gateway's process logs may quote the traffic it carries.

mitmproxy formats flow content into some of its log lines (a WebSocket ping's payload, the
bytes of a request it could not parse, an event's repr in an `AssertionError`) and prints
tracebacks whose last line is the exception's message (`Addon error: ...`, "mitmproxy has
crashed!"). `install` puts a log record factory in front of every handler, so that whatever
writes the records (dlp-proxy's stderr handler, mitmdump's termlog, mitmproxy's error check,
Python's last-resort handler) gets them scrubbed (`scrub`):

- A record from any logger but dlp-proxy's own keeps its message only when it is one of the
  shapes mitmproxy writes with nothing but addresses, hosts and modes in it (`SAFE_MESSAGES`:
  "client connect", "server connect 10.0.0.1:443", "Streaming response from host." ...);
  any other keeps its leading words up to the first quote, colon, bracket, digit, dot or
  slash, and says the rest was withheld. Its arguments are dropped.
- An exception attached to any record (dlp-proxy's too) becomes its traceback without
  messages: each frame's file, line and function, and the exception's type (`exception_report`).
- dlp-proxy's own messages are kept: they are written to name no value.

`install` also routes uncaught exceptions (the main thread's and other threads') through
`exception_report`.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from dlp_proxy.errors import DlpError

__all__ = [
    "SAFE_MESSAGES",
    "error_text",
    "exception_report",
    "exception_summary",
    "install",
    "installed",
    "safe_message",
    "scrub",
    "uninstall",
]

_OWN = "dlp_proxy"
_SERVER = "mitmproxy.proxy.server"
_MODES = "mitmproxy.proxy.mode_servers"

# (logger, message) shapes whose text mitmproxy builds from addresses, hosts, modes and
# connection or TLS errors only: they are kept whole.
SAFE_MESSAGES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.DOTALL))
    for name, pattern in (
        (_SERVER, r"client (connect|disconnect|kill connection)"),
        (_SERVER, r"closing transports\.\.\.|transports closed!|mitmproxy has crashed!"),
        (_SERVER, r"server (connect|disconnect) \S+"),
        (_SERVER, r"Streaming (request to|response from) [^\s/?#]+\."),
        (_SERVER, r"(Client|Server) (TLS|QUIC) handshake failed\. .*"),
        (_SERVER, r"error establishing server connection: .*"),
        (_SERVER, r"server connection to \S+ killed before connect: .*"),
        (_SERVER, r"Unable to establish \w+ connection with server \(.*"),
        (_SERVER, r"Closing connection due to inactivity: .*"),
        (_SERVER, r"Cannot open connection, no hostname given\."),
        (_MODES, r".* (listening at .*|started|stopped)\."),
    )
)

# A withheld message keeps its words up to the first character that may start quoted or
# formatted content: anything but a letter, a space, a comma, a hyphen or "!" (so a quote, a
# colon, a bracket, a digit, and the dots and slashes of hosts, paths and URLs).
_LEADING_WORDS = re.compile(r"[A-Za-z][A-Za-z ,!-]*")
_MAX_WORDS = 80
_MAX_CHAIN = 8  # causes and contexts shown for one exception

_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
_Factory = Callable[..., logging.LogRecord]


def safe_message(logger_name: str, message: str) -> str:
    """`message` as a record from `logger_name` may show it (module docstring)."""
    for name, pattern in SAFE_MESSAGES:
        if logger_name == name and pattern.fullmatch(message):
            return message
    match = _LEADING_WORDS.match(message)
    words = match.group(0)[:_MAX_WORDS].rstrip(" ,!-") if match else ""
    if not words:
        return f"[{logger_name}: message withheld]"
    return f"{words} [details withheld]"


def exception_summary(error: BaseException) -> str:
    """One line: the exception's type and where it was raised, never its message."""
    frames = traceback.extract_tb(error.__traceback__)
    where = ""
    if frames:
        last = frames[-1]
        where = f" at {_short_path(last.filename)}:{last.lineno} in {last.name}"
    return f"{_type_name(error)}{where}"


def error_text(error: BaseException) -> str:
    """An exception for a log line, its message only if it is dlp-proxy's own.

    A `DlpError`'s message names no value; any other exception is shown as
    `exception_summary` says, since its message may quote what it was reading.
    """
    if isinstance(error, DlpError):
        return f"{type(error).__name__}: {error}"
    return exception_summary(error)


def exception_report(error: BaseException, tb: TracebackType | None = None) -> str:
    """A traceback with every frame and the type of each exception in the chain, no message.

    `tb` is where the traceback starts (mitmproxy cuts its own frames off), by default the
    exception's own.
    """
    blocks: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    current_tb = tb if tb is not None else error.__traceback__
    while current is not None and id(current) not in seen and len(blocks) < _MAX_CHAIN:
        seen.add(id(current))
        frames = "".join(traceback.format_list(traceback.extract_tb(current_tb)))
        blocks.append(
            f"Traceback (most recent call last; messages withheld):\n{frames}{_type_name(current)}"
        )
        cause = current.__cause__
        if cause is None and not current.__suppress_context__:
            cause = current.__context__
        current = cause
        current_tb = cause.__traceback__ if cause is not None else None
    return "\n\nwhich was caused by:\n\n".join(blocks)


def scrub(record: logging.LogRecord) -> logging.LogRecord:
    """Make `record` safe to write (module docstring); it is changed in place and returned."""
    own = record.name == _OWN or record.name.startswith(f"{_OWN}.")
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a record whose arguments do not fit its format
        message = str(record.msg)
    if not own:
        message = safe_message(record.name, message)
    exc_info = record.exc_info
    if exc_info and exc_info[1] is not None:
        message = f"{message}\n{exception_report(exc_info[1], exc_info[2])}"
    record.msg, record.args = message, None
    record.exc_info, record.exc_text = None, None
    return record


class _Scrubbing:
    """A log record factory: the one it replaced makes the record, `scrub` cleans it."""

    def __init__(self, previous: _Factory) -> None:
        self.previous = previous

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        return scrub(self.previous(*args, **kwargs))


_saved: tuple[Any, Any] | None = None  # sys.excepthook and threading.excepthook before install


def install() -> None:
    """Scrub every log record of this process from now on, and uncaught exceptions; idempotent."""
    global _saved
    if installed():
        return
    logging.setLogRecordFactory(_Scrubbing(logging.getLogRecordFactory()))
    _saved = (sys.excepthook, threading.excepthook)
    sys.excepthook = _excepthook
    threading.excepthook = _thread_excepthook


def uninstall() -> None:
    """Undo `install` (for tests): the factory and the exception hooks it replaced return."""
    global _saved
    factory = logging.getLogRecordFactory()
    if isinstance(factory, _Scrubbing):
        logging.setLogRecordFactory(factory.previous)
    if _saved is not None:
        sys.excepthook, threading.excepthook = _saved
        _saved = None


def installed() -> bool:
    """Whether `install` is in force."""
    return isinstance(logging.getLogRecordFactory(), _Scrubbing)


def _excepthook(kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
    print(exception_report(error, tb), file=sys.stderr, flush=True)


def _thread_excepthook(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None or args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "a thread"
    report = exception_report(args.exc_value, args.exc_traceback)
    print(f"Exception in {name}:\n{report}", file=sys.stderr, flush=True)


def _type_name(error: BaseException) -> str:
    """`module.Type` (builtins bare), with an OSError's errno and the system's text for it."""
    kind = type(error)
    name = (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )
    if isinstance(error, OSError) and error.errno is not None:
        name += f" [Errno {error.errno}] {error.strerror}"
    return name


def _short_path(filename: str) -> str:
    """A frame's file from its package on (`mitmproxy/proxy/server.py`), or its name."""
    path = Path(filename)
    parts = path.parts
    for anchor in ("site-packages", "dist-packages"):
        if anchor in parts:
            return "/".join(parts[parts.index(anchor) + 1 :])
    if _OWN in parts:
        return "/".join(parts[parts.index(_OWN) :])
    return path.name
