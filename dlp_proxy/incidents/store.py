"""The incident store: every blocked transfer, hash-chained, its evidence sealed.

One SQLite file (`DATA_DIR/incidents.db`, WAL, synchronous writes) with two tables:

- `incidents`: one row per blocked transfer (or `would_block` in monitor mode): who, where,
  which rules, which entity types, the policy's sha256, the body's size, the findings'
  fingerprints, and the evidence, sealed to the responders' public keys (`sealing.py`);
- `reveals`: one row each time a responder opened an incident's evidence.

Each row carries the hash of the row before it (`prev_hash`) and its own (`hash`: SHA-256 of
the previous hash and the row's canonical JSON), so `verify` finds a row that was edited,
deleted or moved, and says which. Rows deleted from the end leave no gap in the chain; the
incident log (`incidents.jsonl`) names every incident too, and `verify` checks it against the
store when given it.

Nothing here knows of mitmproxy; the addon writes through `IncidentStore.add` on a thread of
its own, never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self

from dlp_proxy.crypto.sealing import Recipient, seal
from dlp_proxy.errors import IncidentStoreError, UsageError

__all__ = [
    "GENESIS",
    "INCIDENTS_DB",
    "ChainProblem",
    "Incident",
    "IncidentFilter",
    "IncidentFinding",
    "IncidentStore",
    "IncidentWriter",
    "Reveal",
    "StoredIncident",
    "chain_hash",
    "ecs_document",
    "ecs_lines",
    "parse_time",
    "utc_now",
]

INCIDENTS_DB = "incidents.db"
GENESIS = "0" * 64  # the previous hash of the first row
ECS_VERSION = "8.11.0"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS incidents (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    time TEXT NOT NULL,
    content TEXT NOT NULL,
    vendor TEXT,
    client TEXT NOT NULL,
    severity TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS incidents_time ON incidents (time);
CREATE TABLE IF NOT EXISTS reveals (
    seq INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    content TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
"""


def utc_now() -> str:
    """The time as the store writes it: UTC, milliseconds, `Z` (sorts as text)."""
    return _format(datetime.now(UTC))


def _format(moment: datetime) -> str:
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


_RELATIVE = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_time(text: str, now: datetime | None = None) -> str:
    """A `--since`/`--until` value as the store's time text.

    ISO 8601 (`2026-11-29`, `2026-11-29T10:00`, with or without a zone; UTC when none), or a
    duration back from now (`30m`, `24h`, `7d`, `2w`). `UsageError` otherwise.
    """
    text = text.strip()
    relative = _RELATIVE.match(text)
    if relative:
        amount, unit = int(relative.group(1)), _UNITS[relative.group(2)]
        return _format((now or datetime.now(UTC)) - timedelta(**{unit: amount}))
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as e:
        raise UsageError(
            f"{text!r} is not a time: use ISO 8601 (2026-11-29, 2026-11-29T10:00Z) or a "
            f"duration back from now (30m, 24h, 7d)"
        ) from e
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return _format(moment)


@dataclass(frozen=True)
class IncidentFinding:
    """A finding as an incident keeps it: never the value, only a keyed fingerprint."""

    entity: str
    location: str
    score: float
    recognizer: str
    fingerprint: str


@dataclass(frozen=True)
class Incident:
    """One blocked (or would-be-blocked) transfer."""

    id: str
    time: str
    outcome: str  # "blocked" or "would_block"
    client: str
    vendor: str | None
    host: str
    method: str
    path: str  # as the decision log writes it: query values removed
    direction: str
    rules: tuple[str, ...]
    blocking_rule: str | None
    severity: str | None
    entities: tuple[tuple[str, int], ...]
    policy: str
    policy_sha256: str
    body_bytes: int
    findings: tuple[IncidentFinding, ...] = ()
    error: str | None = None
    evidence_kind: str = "none"  # body, snippets, none, or why there is none
    evidence: str | None = field(default=None, repr=False)  # sealed: `sealing.seal`'s JSON

    def to_json(self) -> dict[str, Any]:
        """Every field, as the store hashes and the CLI prints it."""
        data = asdict(self)
        data["rules"] = list(self.rules)
        data["entities"] = dict(self.entities)
        data["findings"] = [asdict(f) for f in self.findings]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Incident:
        """The incident `to_json` wrote."""
        values = dict(data)
        values["rules"] = tuple(values["rules"])
        values["entities"] = tuple(sorted(values["entities"].items()))
        values["findings"] = tuple(IncidentFinding(**f) for f in values["findings"])
        return cls(**values)


@dataclass(frozen=True)
class StoredIncident:
    """An incident where the store keeps it: its place in the chain and the hashes."""

    seq: int
    incident: Incident
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Reveal:
    """A responder opened an incident's evidence: who (OS user and key id), when."""

    seq: int
    time: str
    incident_id: str
    user: str
    key_id: str
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class IncidentFilter:
    """What `IncidentStore.find` keeps; an empty field keeps everything."""

    since: str | None = None  # store time text (`parse_time`)
    until: str | None = None
    vendor: str | None = None
    rule: str | None = None
    severity: str | None = None
    entity: str | None = None
    client: str | None = None  # an address, with or without its port
    outcome: str | None = None

    def keeps(self, incident: Incident) -> bool:
        """Whether `incident` passes every condition set."""
        checks = (
            self.since is None or incident.time >= self.since,
            self.until is None or incident.time < self.until,
            self.vendor is None or incident.vendor == self.vendor,
            self.rule is None or self.rule in incident.rules,
            self.severity is None or incident.severity == self.severity,
            self.entity is None or self.entity in dict(incident.entities),
            self.client is None or _same_client(incident.client, self.client),
            self.outcome is None or incident.outcome == self.outcome,
        )
        return all(checks)


def _same_client(client: str, wanted: str) -> bool:
    if client == wanted:
        return True
    host, _, port = client.rpartition(":")
    return bool(port.isdigit()) and host == wanted


@dataclass(frozen=True)
class ChainProblem:
    """One thing `verify` found wrong, with the row it is about."""

    table: str
    seq: int | None
    record_id: str
    kind: str  # edited, deleted, out_of_order, missing
    message: str

    def __str__(self) -> str:
        return self.message


def _canonical(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(prev_hash: str, content: Mapping[str, Any]) -> str:
    """SHA-256 of the previous row's hash and this row's canonical JSON."""
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + _canonical(content)).hexdigest()


class IncidentStore:
    """The SQLite file of incidents and reveals. Safe to use from one thread at a time."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA busy_timeout = 10000")
            self._db.execute("PRAGMA journal_mode = WAL")
            # Each committed incident is on disk before the blocked answer goes out.
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as e:
            raise IncidentStoreError(f"cannot open the incident store {self.path}: {e}") from e

    def close(self) -> None:
        """Close the database file."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing ---

    def add(self, incident: Incident) -> StoredIncident:
        """Append `incident` to the chain; `IncidentStoreError` if it cannot be stored."""
        content = incident.to_json()
        with self._writing("store incident " + incident.id) as db:
            prev = _last_hash(db, "incidents")
            digest = chain_hash(prev, content)
            cursor = db.execute(
                "INSERT INTO incidents (id, time, content, vendor, client, severity, prev_hash,"
                " hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    incident.id,
                    incident.time,
                    _canonical(content).decode(),
                    incident.vendor,
                    incident.client,
                    incident.severity,
                    prev,
                    digest,
                ),
            )
            seq = int(cursor.lastrowid or 0)
        return StoredIncident(seq, incident, prev, digest)

    def record_reveal(self, incident_id: str, user: str, key_id: str) -> Reveal:
        """Record that `user`, holding the key `key_id`, opened an incident's evidence."""
        time = utc_now()
        content = {"time": time, "incident_id": incident_id, "user": user, "key_id": key_id}
        with self._writing("record the reveal of " + incident_id) as db:
            prev = _last_hash(db, "reveals")
            digest = chain_hash(prev, content)
            cursor = db.execute(
                "INSERT INTO reveals (time, incident_id, content, prev_hash, hash)"
                " VALUES (?, ?, ?, ?, ?)",
                (time, incident_id, _canonical(content).decode(), prev, digest),
            )
            seq = int(cursor.lastrowid or 0)
        return Reveal(seq, time, incident_id, user, key_id, prev, digest)

    def _writing(self, what: str) -> _Writing:
        return _Writing(self, what)

    # --- reading ---

    def get(self, incident_id: str) -> StoredIncident:
        """The incident with this id (or the only one whose id starts with it)."""
        rows = self._rows(
            "SELECT seq, content, prev_hash, hash FROM incidents WHERE id = ? OR id LIKE ?"
            " ORDER BY seq",
            (incident_id, _like_prefix(incident_id)),
        )
        exact = [row for row in rows if json.loads(row[1])["id"] == incident_id]
        found = exact or rows
        if not found:
            raise IncidentStoreError(f"no incident {incident_id} in {self.path}")
        if len(found) > 1:
            ids = ", ".join(json.loads(row[1])["id"] for row in found[:5])
            raise IncidentStoreError(f"{incident_id!r} is the start of several incident ids: {ids}")
        return _stored(found[0])

    def find(
        self, wanted: IncidentFilter = IncidentFilter(), limit: int | None = None
    ) -> list[StoredIncident]:
        """The incidents `wanted` keeps, oldest first; with `limit`, only the newest that many."""
        query = "SELECT seq, content, prev_hash, hash FROM incidents"
        conditions = (
            ("time >= ?", wanted.since),
            ("time < ?", wanted.until),
            ("vendor = ?", wanted.vendor),
            ("severity = ?", wanted.severity),
        )
        clauses = [clause for clause, value in conditions if value is not None]
        params = tuple(value for _, value in conditions if value is not None)
        if clauses:
            query += " WHERE " + " AND ".join(clauses)
        query += " ORDER BY seq DESC" if limit else " ORDER BY seq"
        found: list[StoredIncident] = []
        for row in self._rows(query, params):
            stored = _stored(row)
            if wanted.keeps(stored.incident):
                found.append(stored)
                if limit and len(found) >= limit:
                    break
        return found[::-1] if limit else found

    def reveals(self, incident_id: str | None = None) -> list[Reveal]:
        """The recorded reveals (of one incident), oldest first."""
        query = "SELECT seq, content, prev_hash, hash FROM reveals"
        params: tuple[str, ...] = ()
        if incident_id is not None:
            query += " WHERE incident_id = ?"
            params = (incident_id,)
        return [_reveal(row) for row in self._rows(query + " ORDER BY seq", params)]

    def verify(self, log: Path | None = None) -> list[ChainProblem]:
        """Every break in the chains of both tables, and incidents the log has and the store not.

        A row whose contents do not match its hash was edited; a row chained to a hash no row
        has follows a deleted (or rewritten) row; a row chained to a later row's hash was
        moved. Rows deleted from the end are found only by the log (`incidents.jsonl`).
        """
        problems = self._verify_table("incidents", lambda content: str(content["id"]))
        problems += self._verify_table(
            "reveals", lambda content: f"reveal of {content['incident_id']}"
        )
        if log is not None:
            problems += self._missing_from_store(log)
        return problems

    def _verify_table(
        self, table: str, name: Callable[[dict[str, Any]], str]
    ) -> list[ChainProblem]:
        columns = _COPIED_COLUMNS[table]
        rows = self._rows(
            f"SELECT seq, content, prev_hash, hash, {', '.join(columns)} FROM {table} ORDER BY seq",
            (),
        )
        position = {row[3]: i for i, row in enumerate(rows)}
        problems: list[ChainProblem] = []
        expected = GENESIS
        for i, (seq, raw, prev_hash, digest, *copied) in enumerate(rows):
            content = json.loads(raw)
            record = name(content)
            label = f"{table} #{seq} ({record})"
            # The columns searched by SQL copy hashed fields: an edit there hides a row.
            changed = [c for c, v in zip(columns, copied, strict=True) if v != content.get(c)]
            if chain_hash(prev_hash, content) != digest:
                edit = "its contents do not match its hash"
            elif changed:
                edit = f"its {', '.join(changed)} column differs from its hashed contents"
            else:
                edit = ""
            if edit:
                problems.append(
                    ChainProblem(table, seq, record, "edited", f"{label} was edited: {edit}")
                )
            if prev_hash != expected:
                if position.get(prev_hash, -1) > i:
                    kind, text = (
                        "out_of_order",
                        f"{label} is out of order: it follows a row stored after it",
                    )
                elif prev_hash in position:
                    kind, text = (
                        "out_of_order",
                        f"{label} is out of order: it does not follow the row before it",
                    )
                else:
                    kind = "deleted"
                    before = f"#{rows[i - 1][0]}" if i else "the start"
                    text = (
                        f"{label} follows a row that is not in the store: a row between "
                        f"{before} and #{seq} was deleted or rewritten"
                    )
                problems.append(ChainProblem(table, seq, record, kind, text))
            expected = digest
        return problems

    def _missing_from_store(self, log: Path) -> list[ChainProblem]:
        try:
            lines = log.read_text(encoding="utf-8").splitlines()
        except OSError as e:
            raise IncidentStoreError(f"cannot read the incident log {log}: {e.strerror}") from e
        logged: list[str] = []
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a line cut short by a crash: not an incident id
            if isinstance(event, dict) and event.get("event") == "incident":
                logged.append(str(event.get("incident_id")))
        stored = {row[0] for row in self._rows("SELECT id FROM incidents", ())}
        return [
            ChainProblem(
                "incidents",
                None,
                incident_id,
                "missing",
                f"incident {incident_id} is in {log} but not in the store: deleted",
            )
            for incident_id in logged
            if incident_id not in stored
        ]

    def _rows(self, query: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return list(self._db.execute(query, params))
            except sqlite3.Error as e:
                raise IncidentStoreError(f"cannot read the incident store {self.path}: {e}") from e


class _Writing:
    """One write transaction, begun before the chain's last hash is read.

    So two writers (the gateway and `incidents reveal`) never chain to the same row.
    """

    def __init__(self, store: IncidentStore, what: str) -> None:
        self.store = store
        self.what = what

    def __enter__(self) -> sqlite3.Connection:
        self.store._lock.acquire()
        try:
            self.store._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as e:
            self.store._lock.release()
            raise IncidentStoreError(f"cannot {self.what} in {self.store.path}: {e}") from e
        return self.store._db

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _: object
    ) -> None:
        db = self.store._db
        try:
            if error is None:
                db.execute("COMMIT")
            else:
                db.execute("ROLLBACK")
        except sqlite3.Error as e:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise IncidentStoreError(f"cannot {self.what} in {self.store.path}: {e}") from e
        finally:
            self.store._lock.release()
        if isinstance(error, sqlite3.Error):
            raise IncidentStoreError(f"cannot {self.what} in {self.store.path}: {error}") from error


# Per table, the columns that copy fields of the hashed contents (for searching).
_COPIED_COLUMNS = {
    "incidents": ("id", "time", "vendor", "client", "severity"),
    "reveals": ("time", "incident_id"),
}


def _last_hash(db: sqlite3.Connection, table: str) -> str:
    row = db.execute(f"SELECT hash FROM {table} ORDER BY seq DESC LIMIT 1").fetchone()
    return str(row[0]) if row else GENESIS


def _like_prefix(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def _stored(row: tuple[Any, ...]) -> StoredIncident:
    seq, content, prev_hash, digest = row
    return StoredIncident(int(seq), Incident.from_json(json.loads(content)), prev_hash, digest)


def _reveal(row: tuple[Any, ...]) -> Reveal:
    seq, content, prev_hash, digest = row
    data = json.loads(content)
    return Reveal(
        int(seq), data["time"], data["incident_id"], data["user"], data["key_id"], prev_hash, digest
    )


# --- writing from the gateway -----------------------------------------------------------------


class IncidentWriter:
    """Seals evidence and stores incidents on a thread of its own, never the event loop.

    One thread, so incidents are chained in the order they are written. `add` returns once the
    incident is committed to disk; `IncidentStoreError` (or `SealError`) if it cannot be.
    """

    def __init__(self, path: str | Path, recipients: Sequence[Recipient]) -> None:
        self.path = Path(path)
        self.recipients = tuple(recipients)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dlp-incidents")
        self._store: IncidentStore | None = None

    def open(self) -> None:
        """Open (or create) the store now, so a store that cannot be used stops the start."""
        self._executor.submit(self._opened).result()

    async def add(
        self, incident: Incident, evidence: Callable[[], bytes | None] | None = None
    ) -> StoredIncident:
        """Seal what `evidence()` gives (made on the writer's thread) and store the incident."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.write, incident, evidence)

    def write(
        self, incident: Incident, evidence: Callable[[], bytes | None] | None = None
    ) -> StoredIncident:
        """`add`, on the calling thread."""
        try:
            plaintext = evidence() if evidence is not None else None
        except Exception as e:  # noqa: BLE001 - the incident is kept, without its evidence
            failed = f"none: the evidence could not be made ({type(e).__name__})"
            return self._opened().add(replace(incident, evidence_kind=failed, evidence=None))
        if plaintext is None:
            incident = replace(incident, evidence_kind="none", evidence=None)
        elif not self.recipients:
            # Nobody could open it, and the gateway must not keep it readable: metadata only.
            incident = replace(incident, evidence_kind="none: no responders", evidence=None)
        else:
            sealed = seal(plaintext, self.recipients, incident.id.encode("utf-8"))
            incident = replace(incident, evidence=sealed)
        return self._opened().add(incident)

    def close(self) -> None:
        """Finish the writes under way, then close the store."""
        self._executor.submit(self._close).result()
        self._executor.shutdown(wait=True)

    def _opened(self) -> IncidentStore:
        if self._store is None:
            self._store = IncidentStore(self.path)
        return self._store

    def _close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


# --- Elastic Common Schema -------------------------------------------------------------------

_SEVERITY_NUMBER = {"low": 21, "medium": 47, "high": 73, "critical": 99}


def ecs_document(stored: StoredIncident) -> dict[str, Any]:
    """The incident as an Elastic Common Schema document for a SIEM; no evidence.

    ECS fields where ECS has one (`@timestamp`, `event.*`, `source.*`, `destination.*`,
    `url.*`, `http.*`, `rule.*`, `network.direction`), the rest under `dlp_proxy.*`.
    """
    incident = stored.incident
    address, _, port = incident.client.rpartition(":")
    source: dict[str, Any] = {"address": address or incident.client}
    if port.isdigit():
        source["port"] = int(port)
        source["ip"] = address.strip("[]")
    path, _, query = incident.path.partition("?")
    document: dict[str, Any] = {
        "@timestamp": incident.time,
        "ecs": {"version": ECS_VERSION},
        "event": {
            "kind": "alert",
            "category": ["network"],
            "type": ["denied"] if incident.outcome == "blocked" else ["info"],
            "action": f"dlp-{incident.outcome.replace('_', '-')}",
            "id": incident.id,
            "dataset": "dlp_proxy.incidents",
            "module": "dlp_proxy",
            "hash": stored.hash,
        },
        "source": source,
        "destination": {"domain": incident.host},
        "url": {"domain": incident.host, "path": path, **({"query": query} if query else {})},
        "http": _http_fields(incident),
        "network": {"direction": "egress" if incident.direction == "request" else "ingress"},
        "rule": {
            "id": incident.blocking_rule or (incident.rules[0] if incident.rules else None),
            "ruleset": incident.policy,
            "version": incident.policy_sha256,
        },
        "dlp_proxy": {
            "outcome": incident.outcome,
            "vendor": incident.vendor,
            "rules": list(incident.rules),
            "entities": dict(incident.entities),
            "evidence": incident.evidence_kind,
            "chain": {"seq": stored.seq, "hash": stored.hash, "prev_hash": stored.prev_hash},
        },
    }
    if incident.severity is not None:
        document["event"]["severity"] = _SEVERITY_NUMBER.get(incident.severity, 0)
        document["dlp_proxy"]["severity"] = incident.severity
    if incident.error is not None:
        document["error"] = {"message": incident.error}
    return document


def _http_fields(incident: Incident) -> dict[str, Any]:
    http: dict[str, Any] = {"request": {"method": incident.method}}
    part = "request" if incident.direction == "request" else "response"
    http.setdefault(part, {})["body"] = {"bytes": incident.body_bytes}
    return http


def ecs_lines(incidents: Iterable[StoredIncident]) -> Iterator[str]:
    """One JSON line per incident (`ecs_document`)."""
    for stored in incidents:
        yield json.dumps(ecs_document(stored), ensure_ascii=False)
