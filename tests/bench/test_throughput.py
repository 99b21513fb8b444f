"""The throughput benchmark without proxies: payloads, wrk's output, targets, the checks.

Covers `bench.throughput` and the machinery it runs on, `bench.loadgen`. Nothing here times
anything: `make bench` measures, these tests pin down how the figures are read and judged.
"""

from __future__ import annotations

import csv
import http.client
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.harness import HarnessError
from bench.loadgen import (
    WRK_SCRIPT,
    BenchError,
    Gateway,
    SinkVendor,
    TreeRss,
    Wrk,
    WrkResult,
    cpu_seconds,
    parse_wrk,
    process_tree,
    rss_bytes,
    wrk_argv,
)
from bench.throughput import (
    CSV_BYTES,
    DLP_TARGETS,
    Payload,
    Target,
    ThroughputRow,
    check_protection,
    clean_ticket,
    csv_export,
    customer_record,
    other_checks,
    payloads,
    report,
    transcript_ticket,
    verdict,
)

# What wrk 4.1.0 prints with --latency and our script, trimmed from a real run.
WRK_OUTPUT = """\
Running 10s test @ http://127.0.0.1:39467/dlp/clean
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   310.62ms  292.57ms   1.95s    95.91%
    Req/Sec    24.12     6.55     40.00     63.64%
  Latency Distribution
     50%  271.00ms
     75%  334.00ms
     90%  432.00ms
     99%    1.78s
  487 requests in 10.02s, 62.57KB read
  Non-2xx or 3xx responses: 3
Requests/sec:     48.60
Transfer/sec:      6.24KB
WRK_RESULT {"requests": 487, "duration_us": 10020000, "bytes": 64072, "connect_errors": 0, \
"read_errors": 1, "write_errors": 0, "non_2xx": 3, "timeouts": 2, "p50_us": 271000, \
"p90_us": 432000, "p99_us": 1780000, "max_us": 1950000, "mean_us": 310620.5}
"""


def result(rps: float, p99_ms: float, p50_ms: float = 1.0) -> WrkResult:
    """A wrk result with `rps` requests/s over 10 s."""
    return WrkResult(
        requests=round(rps * 10),
        duration_s=10.0,
        p50_ms=p50_ms,
        p90_ms=p99_ms,
        p99_ms=p99_ms,
        max_ms=p99_ms,
        mean_ms=p50_ms,
    )


# --- wrk ----------------------------------------------------------------------------------------


def test_wrk_output_is_read_from_the_result_line() -> None:
    """Counts, duration and latencies (ms) come from the script's exact line, not the text."""
    parsed = parse_wrk(WRK_OUTPUT)
    assert parsed.requests == 487
    assert parsed.duration_s == pytest.approx(10.02)
    assert parsed.rps == pytest.approx(487 / 10.02)
    assert (parsed.p50_ms, parsed.p90_ms, parsed.p99_ms, parsed.max_ms) == (271, 432, 1780, 1950)
    assert parsed.mean_ms == pytest.approx(310.6205)
    assert (parsed.non_2xx, parsed.read_errors, parsed.timeouts) == (3, 1, 2)
    assert parsed.errors == 3  # socket errors and timeouts; non-2xx answers are counted apart
    assert parsed.to_json()["rps"] == 48.6


def test_wrk_output_without_a_result_line_is_a_broken_benchmark() -> None:
    """wrk's usage text or a crash is reported with the output, not read as zero."""
    with pytest.raises(BenchError, match=r"no WRK_RESULT line(.|\n)*Usage: wrk"):
        parse_wrk("Usage: wrk <options> <url>\n")


def test_a_malformed_result_line_is_a_broken_benchmark() -> None:
    """A result line missing a field is an error naming the line."""
    with pytest.raises(BenchError, match="cannot read wrk's result line"):
        parse_wrk('WRK_RESULT {"requests": 1}\n')


def test_zero_duration_means_zero_requests_per_second() -> None:
    """A run that never started reports 0 req/s rather than dividing by zero."""
    assert WrkResult(0, 0.0, 0, 0, 0, 0, 0).rps == 0.0


def test_wrk_command_keeps_connections_busy_with_a_fixed_body() -> None:
    """16 connections, 2 threads, whole seconds, latency stats, the body file and its type."""
    argv = wrk_argv(
        "wrk",
        "http://127.0.0.1:1/p",
        Path("post.lua"),
        Path("clean.body"),
        "application/json",
        connections=16,
        threads=2,
        duration=10.4,
    )
    assert argv[:5] == ["wrk", "-t2", "-c16", "-d10s", "--latency"]
    assert argv[-5:] == ["post.lua", "http://127.0.0.1:1/p", "--", "clean.body", "application/json"]


def test_wrk_threads_never_exceed_connections() -> None:
    """One connection gets one thread (wrk refuses more threads than connections)."""
    argv = wrk_argv(
        "wrk", "u", Path("s"), Path("b"), "text/csv", connections=1, threads=2, duration=0.2
    )
    assert "-t1" in argv
    assert "-d1s" in argv


def test_wrk_script_posts_the_body_and_prints_exact_figures() -> None:
    """The Lua script sets method, body and type in init() and prints the mark in done()."""
    assert 'wrk.method = "POST"' in WRK_SCRIPT
    assert "function init(args)" in WRK_SCRIPT
    assert 'wrk.headers["Content-Type"] = args[2]' in WRK_SCRIPT
    assert "WRK_RESULT {" in WRK_SCRIPT
    assert "latency:percentile(99)" in WRK_SCRIPT


def test_wrk_with_the_script_reaches_the_vendor(tmp_path: Path) -> None:
    """A one-second run against the sink vendor: the body arrives intact and is counted.

    wrk is Debian's package, which `make test` installs; without it this fails, saying so.
    """
    binary = shutil.which("wrk")
    assert binary is not None, "wrk is not installed: `make test` installs it (apt-get install wrk)"
    payload = clean_ticket()
    wrk = Wrk(binary, tmp_path, threads=1)
    with SinkVendor() as vendor:
        run = wrk.run(f"{vendor.origin}/w", payload, connections=2, duration=1)
        assert run.requests > 0
        assert run.non_2xx == 0
        assert vendor.count("/w") >= run.requests
        assert vendor.bodies("/w")[-1] == payload.body


# --- the vendor ---------------------------------------------------------------------------------


def test_sink_vendor_counts_every_request_and_keeps_the_last_bodies() -> None:
    """Counts per path (query cut off), only the last `keep` bodies, a tiny 200 answer."""
    with SinkVendor(keep=2) as vendor:
        connection = http.client.HTTPConnection("127.0.0.1", vendor.port, timeout=5)
        for n in range(3):
            connection.request("POST", f"/a?n={n}", f"body {n}".encode())
            response = connection.getresponse()
            assert (response.status, response.read()) == (200, b'{"ok":true}')
        connection.request("POST", "/b", b"")
        connection.getresponse().read()
        connection.close()
        assert (vendor.count("/a"), vendor.count("/b"), vendor.count("/c")) == (3, 1, 0)
        assert vendor.bodies("/a") == [b"body 1", b"body 2"]
        assert vendor.bodies("/c") == []
        assert vendor.errors == []


def test_sink_vendor_reads_chunked_bodies() -> None:
    """A chunked request body is reassembled."""
    with SinkVendor() as vendor:
        connection = http.client.HTTPConnection("127.0.0.1", vendor.port, timeout=5)
        connection.request("POST", "/c", iter([b"one ", b"two"]), encode_chunked=True)
        assert connection.getresponse().status == 200
        connection.close()
        assert vendor.bodies("/c") == [b"one two"]


# --- /proc --------------------------------------------------------------------------------------


def test_process_tree_memory_and_cpu_of_this_process() -> None:
    """The tree holds the process and its children; RSS and CPU are read from /proc."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        tree = process_tree(os.getpid())
        assert {os.getpid(), child.pid} <= tree
        assert rss_bytes(os.getpid()) > 1_000_000
        assert cpu_seconds({os.getpid()})[os.getpid()] > 0
        with TreeRss(os.getpid(), interval=0.01) as memory:
            pass
        assert memory.samples >= 1
        assert memory.peak >= memory.first > 0
    finally:
        child.kill()
        child.wait()


def test_a_gone_process_has_no_memory_and_no_cpu() -> None:
    """A pid that does not exist reads as 0 bytes and is left out of CPU times."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert rss_bytes(child.pid) == 0
    assert cpu_seconds({child.pid}) == {}


def test_a_gateway_that_exits_early_is_an_error(tmp_path: Path) -> None:
    """The launcher reports a process that dies before its port accepts connections."""
    argv = [sys.executable, "-c", "import sys; print('boom', file=sys.stderr); sys.exit(3)"]
    gateway = Gateway("broken", argv, tmp_path, 1, tmp_path / "conf", tmp_path / "data")
    with pytest.raises(HarnessError, match=r"exited with status 3 before it was ready(.|\n)*boom"):
        gateway.start()


# --- payloads -----------------------------------------------------------------------------------


def test_payloads_run_in_a_fixed_order_with_their_types() -> None:
    """Transcript, record, clean ticket, CSV export; JSON but for the export."""
    assert [(p.name, p.content_type) for p in payloads()] == [
        ("transcript", "application/json"),
        ("record", "application/json"),
        ("clean", "application/json"),
        ("csv", "text/csv"),
    ]


def test_payloads_are_deterministic() -> None:
    """The same seed gives the same bytes; another seed other values."""
    assert payloads(7) == payloads(7)
    assert csv_export(seed=7).body != csv_export(seed=8).body


def test_tickets_are_about_one_kilobyte() -> None:
    """The transcript and the clean ticket are ~1 KB, as the issue asks."""
    for payload in (transcript_ticket(), clean_ticket()):
        assert 800 <= len(payload.body) <= 1200, payload.name
        json.loads(payload.body)


def test_transcript_has_names_email_and_phone_in_free_text() -> None:
    """Every secret sits in the transcript's text, where only NER and patterns find it."""
    payload = transcript_ticket()
    transcript = json.loads(payload.body)["transcript"]
    assert payload.secrets
    assert all(secret in transcript for secret in payload.secrets)
    assert any("@" in s for s in payload.secrets)
    assert "Maria Gonzalez" in payload.secrets


def test_customer_record_has_the_structured_fields() -> None:
    """Name, email, phone, address, card and birth date; the card must come back as a token."""
    payload = customer_record()
    record = json.loads(payload.body)
    assert {"name", "email", "phone", "address", "date_of_birth", "payment"} <= set(record)
    card = record["payment"]["card_number"]
    assert card in payload.secrets
    assert card.replace(" ", "") in payload.secrets
    assert payload.markers == ("dlp:v1:",)


def test_clean_ticket_has_no_personal_data() -> None:
    """No @, no run of digits a phone or card could hide in; it must arrive unchanged."""
    payload = clean_ticket()
    assert payload.unchanged
    assert payload.secrets == ()
    assert b"@" not in payload.body
    assert not any(chunk.isdigit() and len(chunk) > 2 for chunk in payload.body.split())


def test_csv_export_is_one_megabyte_of_customer_rows() -> None:
    """At least 1 MiB (not much more), a header, a name, email and phone in every row."""
    payload = csv_export()
    assert CSV_BYTES <= len(payload.body) < CSV_BYTES + 200
    rows = list(csv.DictReader(io.StringIO(payload.body.decode())))
    assert len(rows) > 10_000
    assert all(row["name"] and "@" in row["email"] and row["phone"] for row in rows)
    emails = {row["email"] for row in rows}
    assert len(emails) == len(rows)  # numbered: a leak of one row is told from another


def test_csv_secrets_sample_the_whole_export() -> None:
    """Email and phone of the first 20 rows and every 100th after: from the start to the end."""
    payload = csv_export()
    rows = list(csv.DictReader(io.StringIO(payload.body.decode())))
    sampled = [*range(1, 21), *range(100, len(rows) + 1, 100)]
    assert payload.secrets == tuple(
        value for n in sampled for value in (rows[n - 1]["email"], rows[n - 1]["phone"])
    )
    assert len(rows) - sampled[-1] < 100


def test_csv_export_size_is_a_parameter() -> None:
    """A smaller export for quick runs has the same shape."""
    small = csv_export(size=2000)
    assert 2000 <= len(small.body) < 2200
    assert small.body.startswith(b"customer_id,name,email,phone,")


# --- targets ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "value", "met"),
    [
        (Target("ratio", ">=", 0.7), 0.7, True),
        (Target("ratio", ">=", 0.7), 0.69, False),
        (Target("added p99", "<=", 150, " ms"), 150.0, True),
        (Target("added p99", "<=", 150, " ms"), 151.0, False),
        (Target("ratio", ">=", 0.7), None, None),
    ],
)
def test_a_target_is_met_at_its_limit(target: Target, value: float | None, met: bool) -> None:
    """Limits are inclusive; no value cannot be judged."""
    assert target.met(value) is met


def test_a_target_reads_as_written_in_the_issue() -> None:
    """Targets print as metric, operator, limit and unit."""
    assert str(Target("added p99", "<=", 150, " ms")) == "added p99 <= 150 ms"
    assert str(Target("ratio", ">=", 0.25)) == "ratio >= 0.25"


@pytest.mark.parametrize(
    ("checks", "expected"),
    [
        ([True, True], "PASS"),
        ([True, False], "FAIL"),
        ([None, False], "FAIL"),
        ([True, None], "n/a"),
        ([], "-"),
    ],
)
def test_verdict(checks: list[bool | None], expected: str) -> None:
    """One missed target fails; one that cannot be judged leaves n/a; none gives -."""
    assert verdict(checks) == expected


def test_issue_targets() -> None:
    """The throughput targets of issue 6, per payload."""
    assert [str(t) for t in DLP_TARGETS["clean"]] == ["ratio >= 0.7"]
    assert [str(t) for t in DLP_TARGETS["record"]] == ["ratio >= 0.5"]
    assert [str(t) for t in DLP_TARGETS["transcript"]] == [
        "ratio >= 0.25",
        "added p99 <= 150 ms",
    ]
    assert DLP_TARGETS["csv"] == ()


def test_row_ratio_and_added_p99() -> None:
    """Ratio is dlp over plain requests/s, added p99 their difference; both targets judged."""
    row = ThroughputRow(transcript_ticket(), result(800, 50), result(240, 180))
    assert row.ratio == pytest.approx(0.3)
    assert row.added_p99_ms == pytest.approx(130)
    assert row.verdict == "PASS"
    slow = ThroughputRow(transcript_ticket(), result(800, 50), result(240, 250))
    assert slow.verdict == "FAIL"  # the ratio is met, the added latency is not


def test_row_without_a_dlp_run_cannot_be_judged() -> None:
    """No dlp-proxy figures: no ratio, and a payload with targets is n/a, not PASS."""
    row = ThroughputRow(clean_ticket(), result(800, 50), None, note="skipped")
    assert (row.ratio, row.added_p99_ms, row.verdict) == (None, None, "n/a")
    assert row.to_json()["note"] == "skipped"
    assert ThroughputRow(csv_export(size=100), result(300, 80), None).verdict == "-"


def test_other_checks_judge_the_csv_memory_and_slow_body_targets() -> None:
    """A 403 after 30 s fails the 2 s target; memory and the p99 ratio are judged too."""
    results = {
        "dlp_csv_single": {"requests": [{"status": 403, "seconds": 30.0}], "median_s": 30.0},
        "dlp_peak_rss_mb": 812.0,
        "slow_body": {
            "alone": {"p99_ms": 400.0},
            "beside": {"p99_ms": 1000.0, "non_2xx": 3, "requests": 900},
            "p99_ratio": 2.5,
        },
    }
    checks = {c["check"].split()[0]: c for c in other_checks(results)}
    assert checks["1"]["verdict"] == "FAIL"
    assert "status 403" in checks["1"]["shown"]
    assert checks["gateway"]["verdict"] == "PASS"
    assert checks["clean"]["verdict"] == "FAIL"
    assert "3 of 900 not 2xx" in checks["clean"]["shown"]


def test_other_checks_without_figures_are_not_judged() -> None:
    """A run that stopped early leaves its checks n/a."""
    assert {c["verdict"] for c in other_checks({})} == {"n/a"}


def test_report_shows_both_tables_and_the_notes() -> None:
    """The printed report has the per-payload table, the other checks and the notes."""
    rows = [ThroughputRow(clean_ticket(), result(800, 50), result(40, 600))]
    results = {
        "direct": result(9000, 5).to_json(),
        "plain_clean_rps": 800.0,
        "startup_s": {"mitmdump": 0.8, "dlp-proxy": 3.1},
        "cpu_ms_per_request": {
            "/plain/clean": {"proxy": 1.2, "workers": 0.0},
            "/dlp/clean": {"proxy": 3.4, "workers": 45.0},
        },
        "notes": ["something to know"],
    }
    text = report(rows, results)
    assert "clean ticket (no PII)" in text
    assert "ratio >= 0.7" in text
    assert "FAIL" in text
    assert "gateway peak RSS" in text
    assert "45.00" in text
    assert "note: something to know" in text


# --- the protection check -----------------------------------------------------------------------


def protected(payload: Payload) -> bytes:
    """The payload as the gateway should forward it: secrets masked, markers added."""
    body = payload.body
    for secret in payload.secrets:
        body = body.replace(secret.encode(), b"<REDACTED>")
    return body + b"".join(m.encode() for m in payload.markers)


def test_protected_bodies_pass() -> None:
    """Masked secrets, the token marker, as many decisions as forwarded requests: no problem."""
    for payload in (transcript_ticket(), customer_record()):
        assert check_protection(payload, [protected(payload)] * 3, 10, 10) == []
    clean = clean_ticket()
    assert check_protection(clean, [clean.body], 5, 5) == []


def test_raw_pii_at_the_vendor_fails_loudly() -> None:
    """One body with a raw secret is a failure that names the value (synthetic data)."""
    payload = transcript_ticket()
    problems = check_protection(payload, [protected(payload), payload.body], 10, 10)
    assert len(problems) == 1
    assert "RAW PII REACHED THE VENDOR in 1 of the 2 bodies" in problems[0]
    assert "Maria Gonzalez" in problems[0]


def test_a_card_without_its_token_is_a_failure() -> None:
    """The record's card must come back as a dlp:v1: token, not just disappear."""
    payload = customer_record()
    body = protected(payload).replace(b"dlp:v1:", b"")
    assert check_protection(payload, [body], 1, 1) == [
        "record: 1 of 1 bodies lack 'dlp:v1:': not protected as the policy says"
    ]


def test_a_changed_clean_ticket_is_a_failure() -> None:
    """A clean payload that the gateway rewrote is a false positive: the payload must change."""
    clean = clean_ticket()
    problems = check_protection(clean, [clean.body + b" "], 1, 1)
    assert problems
    assert "meant to be clean" in problems[0]


def test_forwarded_without_a_decision_is_a_failure() -> None:
    """More requests at the vendor than decisions logged: some went through uninspected."""
    clean = clean_ticket()
    problems = check_protection(clean, [clean.body], 10, 9)
    assert problems == [
        "clean: 10 requests reached the vendor but dlp-proxy logged only 9 decisions: bodies "
        "went through uninspected"
    ]


def test_nothing_forwarded_is_a_failure_only_when_something_must_be() -> None:
    """A small payload all refused measured refusals; a blocked export is a result."""
    problems = check_protection(transcript_ticket(), [], 0, 20)
    assert problems
    assert "measured refusals (20 decisions logged)" in problems[0]
    assert check_protection(csv_export(size=100), [], 0, 1, must_forward=False) == []
