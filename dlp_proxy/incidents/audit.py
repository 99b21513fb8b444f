"""The decision log and the incident record, as JSON lines written through structlog.

Every inspected message gives one `decision` event in `<data-dir>/decisions.jsonl`; every
blocked transfer (or `would_block` in monitor mode) also gives an `incident` event in
`<data-dir>/incidents.jsonl`. Events carry counts, rule ids and keyed fingerprints; never a
raw value from a message. For the same reason a logged path holds only what was inspected and
found clean: a path segment or query name with a finding is `<ENTITY>`, query values are left
out, a query piece with no `=` is `<v>`, the fragment is never written (see `path_for_logs`);
a logged host has `<ENTITY>` for a DNS label a finding is in.

Operational events go to `decisions.jsonl` too: the proxy's (`policy_loaded`, `proxy_ready`)
and those of the commands that touch keys (`keyring_created`, `key_rotated`, `key_retired`,
`tokens_decrypted`), which name the OS user who ran them and never a secret or a value.
"""

from __future__ import annotations

import getpass
import os
import re
import secrets
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import structlog

from dlp_proxy.core.codecs import parse_target
from dlp_proxy.core.inspect import Decision
from dlp_proxy.errors import UsageError
from dlp_proxy.incidents.store import Incident, IncidentFinding, utc_now
from dlp_proxy.policy.model import Action

__all__ = [
    "AuditLog",
    "FlowInfo",
    "command_audit_log",
    "current_user",
    "incident_record",
    "logged_path",
    "method_for_logs",
    "new_incident_id",
    "path_for_logs",
]


@dataclass(frozen=True)
class FlowInfo:
    """What the log says about the exchange a message belongs to."""

    flow_id: str
    client: str
    scheme: str
    host: str
    port: int
    method: str
    path: str
    direction: str


def new_incident_id() -> str:
    """A time-sortable incident id, e.g. `inc-20261129T021503Z-3f9a1c2b`."""
    return f"inc-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


def current_user() -> str:
    """The OS account running this process, as audit events name it (`uid:N` if it has no name)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no LOGNAME/USER and no passwd entry, as in some containers
        return f"uid:{os.getuid()}"


def path_for_logs(path: str) -> str:
    """A request target as a log may show it when the core did not read it (no finding known).

    `/a;s=1?email=x&id=3&219099999#f` -> `/a;s=?email=&id=&<v>`: names say what was sent;
    values, bare query pieces and the fragment may be PII and are left out.
    """
    path_doc, query_doc = parse_target(path)
    return path_doc.logged_path({}) + query_doc.logged_query({})


class _JsonLinesWriter:
    """A structlog logger that writes each rendered line to several open files."""

    def __init__(self, files: list[IO[str]]) -> None:
        self._files = files

    def msg(self, message: str) -> None:
        for f in self._files:
            f.write(message + "\n")
            f.flush()

    info = warning = error = critical = msg


class AuditLog:
    """Writes decisions and incidents as JSON lines (and decisions to stdout if asked)."""

    def __init__(self, data_dir: str | Path, to_stdout: bool = False) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._decisions_file = open(self.data_dir / "decisions.jsonl", "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self._incidents_file = open(self.data_dir / "incidents.jsonl", "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        streams: list[IO[str]] = [self._decisions_file]
        if to_stdout:
            streams.append(sys.stdout)
        processors: list[Any] = [
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
            structlog.processors.JSONRenderer(sort_keys=False),
        ]
        self._decisions = structlog.wrap_logger(_JsonLinesWriter(streams), processors=processors)
        self._incidents = structlog.wrap_logger(
            _JsonLinesWriter([self._incidents_file]), processors=processors
        )
        self._events = structlog.wrap_logger(_JsonLinesWriter(streams), processors=processors)

    def decision(
        self, flow: FlowInfo, decision: Decision, elapsed_ms: float, incident_id: str | None
    ) -> None:
        """Record one inspected message."""
        self._decisions.info(
            "decision", **_decision_fields(flow, decision, elapsed_ms, incident_id)
        )

    def incident(self, flow: FlowInfo, decision: Decision, incident_id: str) -> None:
        """Record a blocked (or, in monitor mode, would-be-blocked) transfer."""
        fields = _decision_fields(flow, decision, None, incident_id)
        fields["findings"] = [
            {
                "entity": f.entity,
                "location": f.location,
                "score": f.score,
                "recognizer": f.recognizer,
                "fingerprint": f.fingerprint,
                "why": f.why,
            }
            for f in decision.findings
        ]
        self._incidents.info("incident", **fields)

    def event(self, name: str, **fields: Any) -> None:
        """Record an operational event (policy loaded, workers ready, ...)."""
        self._events.info(name, **fields)

    def close(self) -> None:
        """Flush and close the log files."""
        self._decisions_file.close()
        self._incidents_file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


@contextmanager
def command_audit_log(data_dir: str | Path) -> Iterator[AuditLog]:
    """The audit log for a command that changes or reveals something, opened before it does.

    So that nothing happens unrecorded: a log that cannot be opened is a `UsageError`.
    """
    try:
        audit = AuditLog(data_dir)
    except OSError as e:
        raise UsageError(
            f"cannot open the audit log in {data_dir}: {e.strerror}; nothing was done. "
            "Pass a writable --data-dir"
        ) from e
    with audit:
        yield audit


def incident_record(
    flow: FlowInfo, decision: Decision, incident_id: str, body_bytes: int, evidence_kind: str
) -> Incident:
    """The incident store's record of a blocked (or would-be-blocked) message, no evidence yet.

    `evidence_kind` is what the evidence will be (the policy's `evidence`), sealed on writing.

    A block by a rule in monitor mode (`shadow`) is a `would_block` with the shadow's rules.
    """
    if decision.action is Action.BLOCK:
        outcome, rules, severity = decision.outcome, decision.rule_ids, decision.severity
    else:
        outcome, rules, severity = "would_block", decision.shadow_rule_ids, decision.shadow_severity
    return Incident(
        id=incident_id,
        time=utc_now(),
        outcome=outcome,
        client=flow.client,
        vendor=decision.vendor,
        host=_host_for_logs(flow.host, decision),
        method=method_for_logs(flow.method),
        path=logged_path(flow, decision),
        direction=flow.direction,
        rules=rules,
        blocking_rule=decision.blocking_rule,
        severity=severity.label if severity is not None else None,
        entities=tuple(_sorted(decision.entity_counts)),
        policy=decision.policy_name,
        policy_sha256=decision.policy_sha256,
        body_bytes=body_bytes,
        findings=tuple(
            IncidentFinding(f.entity, f.location, f.score, f.recognizer, f.fingerprint)
            for f in decision.findings
        ),
        error=decision.error,
        evidence_kind=evidence_kind,
    )


# Methods logged as they are: HTTP's, WebDAV's, and the gateway's own names for other channels.
LOGGED_METHODS = frozenset(
    {
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
        "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "REPORT", "SEARCH",
        "WEBSOCKET", "TCP", "UDP",
    }
)  # fmt: skip
CUSTOM_METHOD = "<custom>"


def method_for_logs(method: str) -> str:
    """The method as a log may show it: a custom token may be data, so it is `<custom>`."""
    return method if method in LOGGED_METHODS else CUSTOM_METHOD


def _decision_fields(
    flow: FlowInfo, decision: Decision, elapsed_ms: float | None, incident_id: str | None
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "flow_id": flow.flow_id,
        "client": flow.client,
        "scheme": flow.scheme,
        "host": _host_for_logs(flow.host, decision),
        "port": flow.port,
        "method": method_for_logs(flow.method),
        "path": logged_path(flow, decision),
        "direction": flow.direction,
        "vendor": decision.vendor,
        "policy": decision.policy_name,
        "policy_sha256": decision.policy_sha256,
        "mode": decision.mode.value,
        "rules": list(decision.rule_ids),
        "entities": dict(_sorted(decision.entity_counts)),
        "action": decision.action.label,
        "outcome": decision.outcome,
        "inspected": decision.inspected,
    }
    if decision.severity is not None:
        fields["severity"] = decision.severity.label
    if decision.shadow_outcome is not None:
        fields["shadow"] = {
            "outcome": decision.shadow_outcome,
            "rules": list(decision.shadow_rule_ids),
            "severity": decision.shadow_severity.label if decision.shadow_severity else None,
        }
    if decision.allowed_by:
        fields["allowed_by"] = [
            {"id": entry, "reason": decision.allow_reasons.get(entry, "")}
            for entry in decision.allowed_by
        ]
    if decision.restored or decision.restore_failures:
        fields["restored"] = decision.restored
    if decision.restore_failures:
        fields["restore_failures"] = list(decision.restore_failures)
    if decision.action is Action.BLOCK:
        fields["blocking_rule"] = decision.blocking_rule
    if incident_id:
        fields["incident_id"] = incident_id
    if decision.error:
        fields["error"] = decision.error
    if elapsed_ms is not None:
        fields["inspection_ms"] = round(elapsed_ms, 2)
    return fields


def logged_path(flow: FlowInfo, decision: Decision) -> str:
    """The request target as the decision's records show it.

    The core's, with its findings marked, when it read the request line; `path_for_logs`
    otherwise. A response's decision has no reading of its request line: the gateway passes the
    path its request was logged with as `flow.path`, which `path_for_logs` leaves as it is.
    """
    if decision.logged_path is not None:
        return decision.logged_path
    return path_for_logs(flow.path)


# A finding in the request's host, or in a Host or :authority header: the label's index.
_HOST_FINDING = re.compile(r"(?:header:(?:host|:authority)(?:\[\d+\])?>)?host:(\d+)(?:>.*)?")


def _host_for_logs(host: str, decision: Decision) -> str:
    """`host` with each DNS label (IPv6 group) that holds a finding written `<ENTITY>`.

    A finding in a Host header label past the host's own labels hides the whole host.
    """
    separator = ":" if host.count(":") > 1 else "."
    labels = host.split(separator)
    for finding in decision.findings:
        match = _HOST_FINDING.fullmatch(finding.location)
        if match is None:
            continue
        index = int(match[1])
        if index >= len(labels):
            return f"<{finding.entity}>"
        labels[index] = f"<{finding.entity}>"
    return separator.join(labels)


def _sorted(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    return sorted(counts.items())
