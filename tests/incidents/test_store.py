"""Tests for dlp_proxy/incidents/store.py: the hash-chained incident store."""

from __future__ import annotations

import itertools
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dlp_proxy.errors import IncidentStoreError, UsageError
from dlp_proxy.incidents.store import (
    GENESIS,
    Incident,
    IncidentFilter,
    IncidentFinding,
    IncidentStore,
    chain_hash,
    ecs_document,
    parse_time,
)


def _incident(n: int, **changes: object) -> Incident:
    values: dict[str, object] = {
        "id": f"inc-20261129T10000{n}Z-0000000{n}",
        "time": f"2026-11-29T10:00:0{n}.000Z",
        "outcome": "blocked",
        "client": f"10.0.0.{n}:5{n}000",
        "vendor": "acme",
        "host": "api.acme.example",
        "method": "POST",
        "path": "/tickets?email=",
        "direction": "request",
        "rules": ("block-ssn",),
        "blocking_rule": "block-ssn",
        "severity": "high",
        "entities": (("US_SSN", 1),),
        "policy": "default",
        "policy_sha256": "ab" * 32,
        "body_bytes": 120 + n,
        "findings": (IncidentFinding("US_SSN", "$.ssn", 0.85, "UsSsnRecognizer", "fp:1234"),),
        "evidence_kind": "body",
        "evidence": '{"sealed": true}',
    }
    values.update(changes)
    return Incident(**values)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> IncidentStore:
    store = IncidentStore(tmp_path / "incidents.db")
    for n in range(1, 6):
        store.add(_incident(n))
    return store


def test_incidents_round_trip_in_order_with_a_chain(store: IncidentStore) -> None:
    """What goes in comes out, oldest first, each row chained to the one before."""
    stored = store.find()
    assert [s.incident for s in stored] == [_incident(n) for n in range(1, 6)]
    assert stored[0].prev_hash == GENESIS
    for before, after in itertools.pairwise(stored):
        assert after.prev_hash == before.hash
    assert store.get(stored[2].incident.id) == stored[2]
    assert store.verify() == []


def test_the_store_is_in_wal_mode(store: IncidentStore) -> None:
    """Readers (the CLI, the console) never wait for the gateway's writes."""
    mode = sqlite3.connect(store.path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_get_takes_a_unique_prefix_and_says_when_there_is_none(store: IncidentStore) -> None:
    """A prefix of one id finds it; a shared prefix and an unknown id are clear errors."""
    assert store.get("inc-20261129T100003Z").incident.id == _incident(3).id
    with pytest.raises(IncidentStoreError, match="start of several incident ids"):
        store.get("inc-2026")
    with pytest.raises(IncidentStoreError, match="no incident inc-nope"):
        store.get("inc-nope")


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [
        (IncidentFilter(since="2026-11-29T10:00:03.000Z"), [3, 4, 5]),
        (IncidentFilter(until="2026-11-29T10:00:03.000Z"), [1, 2]),
        (IncidentFilter(client="10.0.0.2"), [2]),
        (IncidentFilter(client="10.0.0.2:52000"), [2]),
        (IncidentFilter(client="10.0.0.22"), []),
        (IncidentFilter(vendor="acme", rule="block-ssn", entity="US_SSN"), [1, 2, 3, 4, 5]),
        (IncidentFilter(vendor="other"), []),
        (IncidentFilter(severity="low"), []),
        (IncidentFilter(entity="EMAIL_ADDRESS"), []),
        (IncidentFilter(outcome="would_block"), []),
    ],
)
def test_filters(store: IncidentStore, wanted: IncidentFilter, expected: list[int]) -> None:
    """Each filter keeps what it says."""
    assert [s.incident.body_bytes - 120 for s in store.find(wanted)] == expected


def _tamper(store: IncidentStore, sql: str, *params: object) -> None:
    db = sqlite3.connect(store.path)
    with db:
        db.execute(sql, params)
    db.close()


def test_verify_names_an_edited_row(store: IncidentStore) -> None:
    """A changed vendor in row 3 no longer matches its hash."""
    row = store.get(_incident(3).id)
    content = row.incident.to_json() | {"vendor": "someone-else"}
    _tamper(store, "UPDATE incidents SET content = ? WHERE seq = ?", json.dumps(content), row.seq)
    problems = store.verify()
    assert [(p.kind, p.seq) for p in problems] == [("edited", 3)]
    assert _incident(3).id in str(problems[0])


def test_verify_names_a_rehashed_edit_by_the_row_after_it(store: IncidentStore) -> None:
    """Row 3 edited and its hash recomputed: row 4 no longer follows anything in the store."""
    row = store.get(_incident(3).id)
    content = row.incident.to_json() | {"vendor": "someone-else"}
    _tamper(
        store,
        "UPDATE incidents SET content = ?, hash = ? WHERE seq = ?",
        json.dumps(content),
        chain_hash(row.prev_hash, content),
        row.seq,
    )
    problems = store.verify()
    # Its vendor column still says acme: row 3 is named too, not only the row after it.
    assert [(p.kind, p.seq) for p in problems] == [("edited", 3), ("deleted", 4)]
    assert "vendor column differs" in str(problems[0])
    assert "between #3 and #4" in str(problems[1])


def test_verify_names_a_deleted_row(store: IncidentStore) -> None:
    """Row 2 deleted: row 3 is chained to a hash no row has."""
    _tamper(store, "DELETE FROM incidents WHERE seq = 2")
    problems = store.verify()
    assert [(p.kind, p.seq) for p in problems] == [("deleted", 3)]
    assert "between #1 and #3 was deleted" in str(problems[0])


def test_verify_names_swapped_rows(store: IncidentStore) -> None:
    """Rows 2 and 4 swap places (every column but seq): both are out of order."""
    columns = "id, time, content, prev_hash, hash, vendor, client, severity"
    db = sqlite3.connect(store.path)
    with db:
        rows = {
            seq: db.execute(f"SELECT {columns} FROM incidents WHERE seq = ?", (seq,)).fetchone()
            for seq in (2, 4)
        }
        db.execute("UPDATE incidents SET id = 'moving' || seq WHERE seq IN (2, 4)")  # unique ids
        for seq, other in ((2, 4), (4, 2)):
            db.execute(
                "UPDATE incidents SET id = ?, time = ?, content = ?, prev_hash = ?, hash = ?,"
                " vendor = ?, client = ?, severity = ? WHERE seq = ?",
                (*rows[other], seq),
            )
    db.close()
    problems = store.verify()
    kinds = {(p.kind, p.seq) for p in problems}
    assert ("out_of_order", 2) in kinds
    assert ("out_of_order", 4) in kinds
    assert all(p.kind == "out_of_order" for p in problems)


def test_verify_finds_rows_deleted_from_the_end_through_the_log(
    store: IncidentStore, tmp_path: Path
) -> None:
    """The chain cannot show a missing last row; the incident log names it."""
    log = tmp_path / "incidents.jsonl"
    log.write_text(
        "".join(
            json.dumps({"event": "incident", "incident_id": _incident(n).id}) + "\n"
            for n in range(1, 6)
        )
        + '{"event": "incid'  # a line cut short by a crash is skipped
    )
    assert store.verify(log) == []
    _tamper(store, "DELETE FROM incidents WHERE seq = 5")
    assert store.verify() == []
    problems = store.verify(log)
    assert [(p.kind, p.record_id) for p in problems] == [("missing", _incident(5).id)]


def test_reveals_are_chained_and_verified(store: IncidentStore) -> None:
    """Each reveal is a row of its own chain; editing one is found."""
    first = store.record_reveal(_incident(1).id, "alice", "00ff00ff00ff00ff")
    second = store.record_reveal(_incident(1).id, "bob", "11ee11ee11ee11ee")
    assert second.prev_hash == first.hash
    assert [r.user for r in store.reveals(_incident(1).id)] == ["alice", "bob"]
    assert store.reveals(_incident(2).id) == []
    content = {
        "time": first.time,
        "incident_id": first.incident_id,
        "user": "mallory",
        "key_id": first.key_id,
    }
    _tamper(store, "UPDATE reveals SET content = ? WHERE seq = 1", json.dumps(content))
    assert [(p.table, p.kind, p.seq) for p in store.verify()] == [("reveals", "edited", 1)]


def test_a_full_disk_is_an_error_and_leaves_the_chain_whole(store: IncidentStore) -> None:
    """SQLite's `database or disk is full` becomes an IncidentStoreError; nothing half-written."""
    store._db.execute("PRAGMA max_page_count = 1")
    big = _incident(6, evidence="x" * 100_000)
    with pytest.raises(IncidentStoreError, match=r"cannot store incident .*full"):
        store.add(big)
    assert len(store.find()) == 5
    assert store.verify() == []


def test_a_store_that_cannot_be_opened_says_where(tmp_path: Path) -> None:
    """A directory in the way of the file: the error names the path."""
    (tmp_path / "incidents.db").mkdir()
    with pytest.raises(IncidentStoreError, match="cannot open the incident store"):
        IncidentStore(tmp_path / "incidents.db")


def test_parse_time_takes_iso_and_durations() -> None:
    """Dates, times with or without zones, and durations back from now."""
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    assert parse_time("2026-11-29") == "2026-11-29T00:00:00.000Z"
    assert parse_time("2026-11-29T10:30Z") == "2026-11-29T10:30:00.000Z"
    assert parse_time("2026-11-29T11:30+01:00") == "2026-11-29T10:30:00.000Z"
    assert parse_time("24h", now) == "2026-11-28T12:00:00.000Z"
    assert parse_time("90m", now) == "2026-11-29T10:30:00.000Z"
    with pytest.raises(UsageError, match="not a time"):
        parse_time("yesterday")


def test_ecs_document_uses_ecs_names_and_no_evidence(store: IncidentStore) -> None:
    """ECS fields where ECS has them, the rest under dlp_proxy; never the sealed evidence."""
    stored = store.get(_incident(2).id)
    document = ecs_document(stored)
    assert document["@timestamp"] == "2026-11-29T10:00:02.000Z"
    assert document["event"]["id"] == _incident(2).id
    assert document["event"]["type"] == ["denied"]
    assert document["source"] == {"address": "10.0.0.2", "ip": "10.0.0.2", "port": 52000}
    assert document["url"] == {"domain": "api.acme.example", "path": "/tickets", "query": "email="}
    assert document["http"]["request"] == {"method": "POST", "body": {"bytes": 122}}
    assert document["rule"]["id"] == "block-ssn"
    assert document["network"]["direction"] == "egress"
    assert document["dlp_proxy"]["entities"] == {"US_SSN": 1}
    assert document["dlp_proxy"]["chain"]["hash"] == stored.hash
    assert "sealed" not in json.dumps(document)


def test_find_with_a_limit_keeps_the_newest_oldest_first(store: IncidentStore) -> None:
    """`limit` keeps the newest matching incidents, still in chain order."""
    assert [s.seq for s in store.find(limit=2)] == [4, 5]
    assert [s.seq for s in store.find(IncidentFilter(client="10.0.0.2"), limit=2)] == [2]
    assert [s.seq for s in store.find(limit=None)] == [1, 2, 3, 4, 5]


def test_an_incident_whose_evidence_fails_is_kept_without_it(tmp_path: Path) -> None:
    """Evidence that cannot be made (a parser bug, say) costs the evidence, not the incident."""
    from dlp_proxy.incidents.store import IncidentWriter

    def broken() -> bytes:
        raise ValueError("536-90-4399 in an error message")

    writer = IncidentWriter(tmp_path / "incidents.db", [])
    stored = writer.write(_incident(1), broken)
    writer.close()
    assert stored.incident.evidence is None
    assert stored.incident.evidence_kind == "none: the evidence could not be made (ValueError)"
    assert b"536-90-4399" not in (tmp_path / "incidents.db").read_bytes()


def test_verify_names_a_searched_column_edited_behind_the_contents(store: IncidentStore) -> None:
    """Changing only the vendor column (which filters search) would hide a row: it is found."""
    _tamper(store, "UPDATE incidents SET vendor = 'other' WHERE seq = 4")
    assert store.find(IncidentFilter(vendor="acme"))[-1].seq == 5  # hidden from the filter
    problems = store.verify()
    assert [(p.kind, p.seq) for p in problems] == [("edited", 4)]
    assert "its vendor column differs from its hashed contents" in str(problems[0])
