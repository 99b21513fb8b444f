"""Tests for dlp_proxy/gateway/logs.py: no log record, traceback or uncaught error quotes data."""

from __future__ import annotations

import io
import logging
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dlp_proxy.errors import UndecodableBody
from dlp_proxy.gateway import logs
from dlp_proxy.gateway.logs import (
    error_text,
    exception_report,
    exception_summary,
    safe_message,
    scrub,
)

SECRET = "219-09-9999"  # what a record must never show


@pytest.fixture
def scrubbed() -> Iterator[io.StringIO]:
    """`logs.install()` in force, and a stream handler on the root logger writing to a buffer."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    logs.install()
    try:
        yield stream
    finally:
        logs.uninstall()
        root.removeHandler(handler)


def _raise_with_secret() -> None:
    raise AssertionError(f"Unexpected event: RequestTrailers(trailers=[(b'x-ssn', b'{SECRET}')])")


def _error() -> AssertionError:
    try:
        _raise_with_secret()
    except AssertionError as e:
        return e
    raise RuntimeError("not reached")


@pytest.mark.parametrize(
    ("logger", "message"),
    [
        ("mitmproxy.proxy.server", "client connect"),
        ("mitmproxy.proxy.server", "client disconnect"),
        ("mitmproxy.proxy.server", "server connect 127.0.0.1:8443"),
        ("mitmproxy.proxy.server", "server disconnect api.vendor.example:443"),
        ("mitmproxy.proxy.server", "Streaming response from api.vendor.example."),
        ("mitmproxy.proxy.server", "mitmproxy has crashed!"),
        (
            "mitmproxy.proxy.server",
            "Client TLS handshake failed. The client does not trust the proxy's certificate "
            "for api.vendor.example (tlsv1 alert unknown ca)",
        ),
        ("mitmproxy.proxy.mode_servers", "HTTP(S) proxy listening at 127.0.0.1:8080."),
    ],
)
def test_messages_made_of_addresses_and_hosts_are_kept(logger: str, message: str) -> None:
    """What mitmproxy says with nothing but addresses, hosts and modes in it stays readable."""
    assert safe_message(logger, message) == message


@pytest.mark.parametrize(
    ("logger", "message", "shown"),
    [
        (
            "mitmproxy.proxy.server",
            f"Received WebSocket ping from client (payload: b'{SECRET}')",
            "Received WebSocket ping from client [details withheld]",
        ),
        (
            "mitmproxy.proxy.server",
            f"Client closed connection before completing request headers: b'GET /c/{SECRET}'",
            "Client closed connection before completing request headers [details withheld]",
        ),
        (
            "mitmproxy.addonmanager",
            f"Addon error: invalid value {SECRET}",
            "Addon error [details withheld]",
        ),
        (
            "mitmproxy.proxy.server",
            f"connection handler has crashed: {SECRET}",
            "connection handler has crashed [details withheld]",
        ),
        # a shape kept for one logger is not kept for another
        ("hpack.hpack", f"server connect {SECRET}", "server connect [details withheld]"),
        ("mitmproxy.proxy.server", f"{SECRET}: bad", "[mitmproxy.proxy.server: message withheld]"),
        ("mitmproxy.proxy.server", f"Streaming request to /{SECRET}.", "Streaming request to"),
        # no host or path in the leading words: a path segment may be a name
        (
            "mitmproxy.proxy.server",
            f"Streaming request to api.vendor.example/customers/Maria Gonzalez/{SECRET}.",
            "Streaming request to api [details withheld]",
        ),
    ],
)
def test_other_messages_keep_their_leading_words_only(
    logger: str, message: str, shown: str
) -> None:
    """Any other message keeps the words before the first quote, colon, bracket or digit."""
    safe = safe_message(logger, message)
    assert safe.startswith(shown)
    assert SECRET not in safe
    assert "219" not in safe
    assert "Maria" not in safe


def test_an_exception_summary_names_type_and_place_not_message() -> None:
    """One line: the type and the file, line and function that raised, never the message."""
    summary = exception_summary(_error())
    assert summary.startswith("AssertionError at test_logs.py:")
    assert summary.endswith(" in _raise_with_secret")
    assert SECRET not in summary
    assert "Unexpected event" not in summary


def test_an_exception_report_keeps_every_frame_and_each_cause_type() -> None:
    """The whole chain is shown, frame by frame, with types only."""
    try:
        try:
            _raise_with_secret()
        except AssertionError as inner:
            raise KeyError(SECRET) from inner
    except KeyError as outer:
        report = exception_report(outer)
    assert SECRET not in report
    assert report.count("Traceback (most recent call last; messages withheld)") == 2
    assert "in _raise_with_secret" in report
    assert report.splitlines()[-1] == "AssertionError"
    assert "\nKeyError\n" in report


def test_an_os_error_keeps_its_errno_and_the_systems_text() -> None:
    """A connection or file error says which (the OS's words, not the caller's)."""
    error = ConnectionRefusedError(111, "Connection refused")
    assert exception_summary(error) == "ConnectionRefusedError [Errno 111] Connection refused"


def test_error_text_keeps_only_dlp_proxys_own_messages() -> None:
    """A DlpError's message is ours and names no value; any other exception's is withheld."""
    assert error_text(UndecodableBody("the body is not gzip")) == (
        "UndecodableBody: the body is not gzip"
    )
    assert SECRET not in error_text(_error())
    assert error_text(_error()).startswith("AssertionError at ")


def test_scrub_drops_arguments_and_folds_the_traceback_into_the_message() -> None:
    """A mitmproxy record with a secret in its arguments and its exception shows neither."""
    error = _error()
    record = logging.LogRecord(
        "mitmproxy.proxy.server",
        logging.ERROR,
        __file__,
        1,
        "Addon error: %s",
        (SECRET,),
        (type(error), error, error.__traceback__),
    )
    scrub(record)
    assert record.args is None
    assert record.exc_info is None
    text = logging.Formatter().format(record)
    assert SECRET not in text
    assert text.startswith("Addon error [details withheld]\nTraceback")
    assert "in _raise_with_secret" in text


def test_dlp_proxys_own_messages_are_kept_but_not_their_exceptions_messages() -> None:
    """Our log lines name no value and stay whole; an exception attached loses its message."""
    error = _error()
    record = logging.LogRecord(
        "dlp_proxy.gateway.addon",
        logging.ERROR,
        __file__,
        1,
        "dlp-proxy: policy %s refused",
        ("policies/x.yaml",),
        (type(error), error, error.__traceback__),
    )
    text = logging.Formatter().format(scrub(record))
    assert text.startswith("dlp-proxy: policy policies/x.yaml refused\nTraceback")
    assert SECRET not in text


def test_installed_every_handler_gets_scrubbed_records(scrubbed: io.StringIO) -> None:
    """Once installed, records of any logger reach handlers without the secret."""
    logging.getLogger("mitmproxy.proxy.server").error(
        "Received WebSocket ping from client (payload: %r)", SECRET.encode()
    )
    try:
        _raise_with_secret()
    except AssertionError:
        logging.getLogger("mitmproxy.proxy.server").exception("mitmproxy has crashed!")
        logging.getLogger("dlp_proxy.gateway.addon").exception("dlp-proxy failed to inspect")
    logging.getLogger("mitmproxy.proxy.server").error("client connect")
    output = scrubbed.getvalue()
    assert SECRET not in output
    assert "mitmproxy.proxy.server ERROR mitmproxy has crashed!\nTraceback" in output
    assert "dlp_proxy.gateway.addon ERROR dlp-proxy failed to inspect\nTraceback" in output
    assert "mitmproxy.proxy.server ERROR client connect" in output
    assert output.splitlines().count("AssertionError") == 2  # the type, alone on its line


def test_without_install_records_are_untouched() -> None:
    """Scrubbing is opt-in (the proxy and the mitmdump script install it); uninstall undoes it."""
    logs.install()
    logs.install()  # twice: still one scrubbing factory
    assert logs.installed()
    logs.uninstall()
    assert not logs.installed()
    record = logging.getLogRecordFactory()(
        "mitmproxy.proxy.server", logging.INFO, __file__, 1, "payload %s", (SECRET,), None
    )
    assert record.getMessage() == f"payload {SECRET}"


def test_uncaught_exceptions_are_reported_without_messages(
    scrubbed: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    """sys.excepthook and threading.excepthook print types and frames only."""
    error = _error()
    sys.excepthook(type(error), error, error.__traceback__)
    thread = threading.Thread(target=_raise_with_secret, name="worker-thread")
    thread.start()
    thread.join()
    err = capsys.readouterr().err
    assert SECRET not in err
    assert err.splitlines().count("AssertionError") == 2
    assert "Exception in worker-thread:" in err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_mitmdump_output_quotes_no_traffic_once_installed(tmp_path: Path) -> None:
    """Real mitmdump, scrubbing installed as addons/dlp.py does: its termlog shows no secret.

    mitmproxy logs the bytes of a request whose headers never ended, and prints the traceback
    of its own crash on HTTP/1 trailers; both reach mitmdump's output scrubbed.
    """
    script = tmp_path / "scrub.py"
    script.write_text("from dlp_proxy.gateway import logs\n\nlogs.install()\naddons = []\n")
    port = _free_port()
    argv = [
        str(Path(sys.executable).parent / "mitmdump"),
        "-s",
        str(script),
        "--mode",
        f"reverse:http://127.0.0.1:{_free_port()}",
        "--listen-host",
        "127.0.0.1",
        "--listen-port",
        str(port),
        "--set",
        f"confdir={tmp_path / 'conf'}",
        "--set",
        "connection_strategy=lazy",
    ]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as proxy:
        try:
            _wait_listening(port)
            time.sleep(0.5)  # past mitmdump's start-up, whose errors would end it
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(f"POST /customers/{SECRET} HTTP/1.1\r\nX-Ssn: {SECRET}\r\n".encode())
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(
                    b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + f"0\r\nX-Ssn: {SECRET}\r\n\r\n".encode()
                )
                time.sleep(1)
        finally:
            proxy.terminate()
        output = proxy.communicate(timeout=30)[0].decode()
    assert "Client closed connection before completing request headers [details withheld]" in (
        output
    )
    assert "mitmproxy has crashed!\nTraceback (most recent call last; messages withheld)" in output
    assert "\nNotImplementedError\n" in output
    assert SECRET not in output
    assert "9999" not in output


def _wait_listening(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"mitmdump did not listen on {port}")
