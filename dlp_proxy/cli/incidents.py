"""`dlp-proxy responders ...` and `dlp-proxy incidents ...`: the command line of responders.

dlp-proxy responders keygen --out FILE     a key pair: the private key to FILE, the public printed
dlp-proxy responders add NAME PUBKEY       seal evidence of new incidents to NAME's key as well
dlp-proxy responders list
dlp-proxy incidents list [filters]         --format table|json|csv
dlp-proxy incidents show ID
dlp-proxy incidents reveal ID --key FILE   open the evidence (recorded, in the store and the log)
dlp-proxy incidents export [filters]       JSON lines in Elastic Common Schema, for a SIEM
dlp-proxy incidents verify                 check the hash chains (and the incident log)
dlp-proxy console                          the read-only web page, on 127.0.0.1, behind a token

A thin adapter over `incidents.store`, `incidents.responders` and `crypto.sealing`, like `main`.
"""

from __future__ import annotations

import argparse
import base64
import csv
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dlp_proxy.core.compression import decode_body
from dlp_proxy.crypto.sealing import (
    generate_private_key,
    key_id,
    load_private_key,
    open_sealed,
    private_key_pem,
    public_key_text,
)
from dlp_proxy.errors import DlpError, IncidentStoreError, UsageError
from dlp_proxy.incidents.audit import command_audit_log, current_user
from dlp_proxy.incidents.responders import RESPONDERS_FILE, add_responder, load_responders
from dlp_proxy.incidents.store import (
    INCIDENTS_DB,
    IncidentFilter,
    IncidentStore,
    StoredIncident,
    ecs_lines,
    parse_time,
)

__all__ = ["add_commands"]

# Limits for showing a revealed body decompressed (it was inspected under similar ones).
_REVEAL_MAX_BYTES = 64 * 1024 * 1024
_REVEAL_MAX_RATIO = 1000.0


def add_commands(commands: Any, confdir: str, data_dir: str) -> None:
    """Add the `responders`, `incidents` and `console` commands to `dlp-proxy`'s subparsers."""
    _add_responders(commands, confdir)
    _add_incidents(commands, data_dir)
    console = commands.add_parser(
        "console",
        help="a read-only web page of incidents for responders",
        description="Serve the incident console (list with filters, incident detail, counts "
        "per vendor, rule and day) until interrupted. It prints its URL with a token: every "
        "API call needs it. Evidence is opened in the browser with your private key file, "
        "which is never sent to the server; each reveal is recorded.",
    )
    console.add_argument("--data-dir", default=data_dir, help=f"with {INCIDENTS_DB}")
    console.add_argument("--host", default="127.0.0.1", help="address to listen on")
    console.add_argument("--port", type=int, default=8765, help="port (0: any free one)")
    console.set_defaults(handler=_console)


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _console(args: argparse.Namespace) -> int:
    import signal

    from dlp_proxy.cli.console.server import ConsoleServer

    data_dir = Path(args.data_dir)
    try:
        server = ConsoleServer(data_dir / INCIDENTS_DB, data_dir, args.host, args.port)
    except OSError as e:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {e.strerror}") from e
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"warning: the console listens on {args.host}: anyone who can reach it and has the "
            "token can list incidents (never open evidence: that needs a private key)",
            file=sys.stderr,
        )
    print(f"dlp-proxy console: {server.url}", flush=True)
    print("open that URL (it carries the token); Ctrl-C stops the console", flush=True)
    signal.signal(signal.SIGTERM, _interrupt)  # stop as on Ctrl-C
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


# --- responders ---------------------------------------------------------------------------------


def _add_responders(commands: Any, confdir: str) -> None:
    responders = commands.add_parser(
        "responders",
        help="who incident evidence is sealed to",
        description="Responders open incident evidence with their own private key; the gateway "
        f"holds only their public keys, in CONFDIR/{RESPONDERS_FILE} (docs/incidents.md).",
    )
    sub = responders.add_subparsers(metavar="SUBCOMMAND")
    keygen = sub.add_parser(
        "keygen",
        help="make a responder key pair",
        description="Write a new X25519 private key to FILE (PKCS#8 PEM, owner-only; never "
        "overwritten) and print the public key to give to whoever runs the gateway. Run it on "
        "the responder's own machine: the private key should never be on the gateway.",
    )
    keygen.add_argument("--out", required=True, metavar="FILE", help="the private key file")
    keygen.add_argument("--name", default="NAME", help="the responder's name, for the hint")
    keygen.set_defaults(handler=_responders_keygen)
    add = sub.add_parser(
        "add",
        help="seal new incidents' evidence to a responder's public key",
        description="Add a responder's public key (the x25519:... line `responders keygen` "
        "prints). A running gateway seals to it once sent SIGHUP or restarted.",
    )
    add.add_argument("name", metavar="NAME")
    add.add_argument("public_key", metavar="PUBKEY")
    add.add_argument("--confdir", default=confdir)
    add.add_argument("--data-dir", default="var", help="where the audit log records the change")
    add.set_defaults(handler=_responders_add)
    listing = sub.add_parser("list", help="the responders evidence is sealed to")
    listing.add_argument("--confdir", default=confdir)
    listing.add_argument("--format", choices=("table", "json"), default="table")
    listing.set_defaults(handler=_responders_list)


def _responders_keygen(args: argparse.Namespace) -> int:
    path = Path(args.out)
    key = generate_private_key()
    try:
        # O_EXCL: a key file is never replaced (that would lose the evidence sealed to it).
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as e:
        raise UsageError(f"{path} exists; a key file is never overwritten: choose another") from e
    except OSError as e:
        raise UsageError(f"cannot create {path}: {e.strerror}") from e
    with os.fdopen(handle, "wb") as f:
        f.write(private_key_pem(key))
    public = public_key_text(key.public_key())
    print(f"private key: {path} (keep it to yourself: it opens the evidence sealed to you)")
    print(f"public key:  {public}")
    print(f"key id:      {key_id(key.public_key())}")
    print(f"on the gateway: dlp-proxy responders add {args.name} {public}")
    return 0


def _responders_add(args: argparse.Namespace) -> int:
    path = Path(args.confdir) / RESPONDERS_FILE
    with command_audit_log(args.data_dir) as audit:
        responder = add_responder(path, args.name, args.public_key)
        audit.event(
            "responder_added",
            user=current_user(),
            responder=responder.name,
            key_id=responder.key_id,
            file=str(path.resolve()),
        )
    print(f"{path}: added {responder.name} (key id {responder.key_id})")
    print("a running gateway seals evidence to it once sent SIGHUP (kill -HUP) or restarted")
    return 0


def _responders_list(args: argparse.Namespace) -> int:
    path = Path(args.confdir) / RESPONDERS_FILE
    responders = load_responders(path)
    rows = [
        {"name": r.name, "key_id": r.key_id, "added": r.added, "public_key": r.public_key}
        for r in responders
    ]
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    elif not rows:
        print(f"no responders in {path}: add one with `dlp-proxy responders add NAME PUBKEY`")
    else:
        from tabulate import tabulate

        print(tabulate([list(r.values()) for r in rows], headers=list(rows[0])))
    return 0


# --- incidents ----------------------------------------------------------------------------------


def _add_incidents(commands: Any, data_dir: str) -> None:
    incidents = commands.add_parser(
        "incidents",
        help="review blocked transfers",
        description=f"Read the incident store (DATA_DIR/{INCIDENTS_DB}) the gateway writes.",
    )
    sub = incidents.add_subparsers(metavar="SUBCOMMAND")
    listing = sub.add_parser("list", help="incidents, oldest first, filtered")
    _add_filters(listing)
    listing.add_argument(
        "--limit", type=int, default=0, metavar="N", help="only the newest N (default: all)"
    )
    listing.add_argument("--format", choices=("table", "json", "csv"), default="table")
    listing.set_defaults(handler=_incidents_list)
    show = sub.add_parser("show", help="one incident, every field but the sealed evidence")
    show.add_argument("id", metavar="ID", help="an incident id (or a unique start of one)")
    show.add_argument("--format", choices=("text", "json"), default="text")
    show.set_defaults(handler=_incidents_show)
    reveal = sub.add_parser(
        "reveal",
        help="open an incident's evidence with your private key (recorded)",
        description="Decrypt the evidence of incident ID with the private key in FILE. The "
        "reveal is recorded in the store's hash-chained reveals and as an incident_revealed "
        "event in DATA_DIR/decisions.jsonl (who, which incident, which key), before anything "
        "is shown.",
    )
    reveal.add_argument("id", metavar="ID")
    reveal.add_argument("--key", required=True, metavar="FILE", help="your private key file")
    reveal.add_argument("--format", choices=("text", "json"), default="text")
    reveal.set_defaults(handler=_incidents_reveal)
    export = sub.add_parser(
        "export",
        help="incidents as JSON lines in Elastic Common Schema, for a SIEM",
        description="One JSON document per incident, ECS field names where ECS has them "
        "(@timestamp, event.*, source.*, url.*, http.*, rule.*), the rest under dlp_proxy.*. "
        "No evidence.",
    )
    _add_filters(export)
    export.add_argument("--out", metavar="FILE", help="write here instead of stdout")
    export.set_defaults(handler=_incidents_export)
    verify = sub.add_parser(
        "verify",
        help="check that no incident or reveal was edited, deleted or moved",
        description="Check the hash chains of incidents and reveals, and that every incident "
        "in the incident log (DATA_DIR/incidents.jsonl) is in the store. Exit status 0 when "
        "all is intact, 1 when something is not (each problem is named).",
    )
    verify.add_argument("--log", metavar="FILE", help="the incident log (default: DATA_DIR's)")
    verify.set_defaults(handler=_incidents_verify)
    for command in (listing, show, reveal, export, verify):
        command.add_argument(
            "--data-dir",
            default=data_dir,
            help=f"the gateway's data directory, with {INCIDENTS_DB} (default: {data_dir})",
        )


def _add_filters(command: argparse.ArgumentParser) -> None:
    command.add_argument("--since", help="from this time: ISO 8601, or back from now (24h, 7d)")
    command.add_argument("--until", help="before this time (same forms)")
    command.add_argument("--vendor", help="vendor id")
    command.add_argument("--rule", help="rule id")
    command.add_argument("--severity", choices=("low", "medium", "high", "critical"))
    command.add_argument("--entity", help="entity type, e.g. US_SSN")
    command.add_argument("--client", help="client address, with or without the port")
    command.add_argument("--outcome", choices=("blocked", "would_block"))


def _filter(args: argparse.Namespace) -> IncidentFilter:
    return IncidentFilter(
        since=parse_time(args.since) if args.since else None,
        until=parse_time(args.until) if args.until else None,
        vendor=args.vendor,
        rule=args.rule,
        severity=args.severity,
        entity=args.entity,
        client=args.client,
        outcome=args.outcome,
    )


@contextmanager
def _store(data_dir: str) -> Iterator[IncidentStore]:
    path = Path(data_dir) / INCIDENTS_DB
    if not path.exists():
        raise IncidentStoreError(
            f"no incident store at {path}: pass the gateway's --data-dir (it is created when "
            "the gateway starts)"
        )
    with IncidentStore(path) as store:
        yield store


_COLUMNS = ("id", "time", "outcome", "vendor", "client", "method", "host", "path", "rules",
            "severity", "entities")  # fmt: skip


def _row(stored: StoredIncident) -> dict[str, str]:
    incident = stored.incident
    return {
        "id": incident.id,
        "time": incident.time,
        "outcome": incident.outcome,
        "vendor": incident.vendor or "",
        "client": incident.client,
        "method": incident.method,
        "host": incident.host,
        "path": incident.path,
        "rules": ",".join(incident.rules),
        "severity": incident.severity or "",
        "entities": ",".join(f"{e}:{n}" for e, n in incident.entities),
    }


def _incidents_list(args: argparse.Namespace) -> int:
    with _store(args.data_dir) as store:
        found = store.find(_filter(args), limit=args.limit or None)
    if args.format == "json":
        documents = [_public(s) for s in found]
        print(json.dumps(documents, indent=2, ensure_ascii=False))
    elif args.format == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=_COLUMNS)
        writer.writeheader()
        writer.writerows(_row(s) for s in found)
    elif not found:
        print("no incidents match")
    else:
        from tabulate import tabulate

        print(tabulate([list(_row(s).values()) for s in found], headers=list(_COLUMNS)))
    return 0


def _public(stored: StoredIncident) -> dict[str, Any]:
    """Every field of the incident but the sealed evidence itself, with its chain hashes."""
    document = stored.incident.to_json()
    document["evidence_sealed"] = document.pop("evidence") is not None
    document["chain"] = {"seq": stored.seq, "prev_hash": stored.prev_hash, "hash": stored.hash}
    return document


def _incidents_show(args: argparse.Namespace) -> int:
    with _store(args.data_dir) as store:
        stored = store.get(args.id)
        reveals = store.reveals(stored.incident.id)
    document = _public(stored)
    document["reveals"] = [{"time": r.time, "user": r.user, "key_id": r.key_id} for r in reveals]
    if args.format == "json":
        print(json.dumps(document, indent=2, ensure_ascii=False))
        return 0
    incident = stored.incident
    lines = [
        f"incident   {incident.id}",
        f"time       {incident.time}",
        f"outcome    {incident.outcome}"
        + (f" (rule {incident.blocking_rule})" if incident.blocking_rule else ""),
        f"client     {incident.client}",
        f"vendor     {incident.vendor or '-'}",
        f"request    {incident.method} {incident.host}{incident.path} ({incident.direction})",
        f"rules      {', '.join(incident.rules) or '-'}",
        f"severity   {incident.severity or '-'}",
        f"entities   {', '.join(f'{e} x{n}' for e, n in incident.entities) or '-'}",
        f"policy     {incident.policy} (sha256 {incident.policy_sha256[:16]}...)",
        f"body       {incident.body_bytes} bytes",
        f"evidence   {incident.evidence_kind}" + (", sealed" if incident.evidence else ""),
    ]
    if incident.error:
        lines.append(f"error      {incident.error}")
    lines.append(f"chain      #{stored.seq} {stored.hash}")
    if incident.findings:
        lines.append("findings")
        lines += [
            f"  {f.entity:<18} {f.location:<28} score {f.score:<5g} {f.recognizer} {f.fingerprint}"
            for f in incident.findings
        ]
    for reveal in document["reveals"]:
        lines.append(f"revealed   {reveal['time']} by {reveal['user']} (key {reveal['key_id']})")
    print("\n".join(lines))
    return 0


def _incidents_reveal(args: argparse.Namespace) -> int:
    key = load_private_key(args.key)
    with _store(args.data_dir) as store:
        stored = store.get(args.id)
        incident = stored.incident
        if incident.evidence is None:
            raise UsageError(f"incident {incident.id} has no evidence ({incident.evidence_kind})")
        plaintext = open_sealed(incident.evidence, key, incident.id.encode("utf-8"))
        own = key_id(key.public_key())
        # Recorded before anything is shown: a reveal cut short is still a reveal.
        with command_audit_log(args.data_dir) as audit:
            store.record_reveal(incident.id, current_user(), own)
            audit.event(
                "incident_revealed", user=current_user(), incident_id=incident.id, key_id=own
            )
    if args.format == "json":
        sys.stdout.write(plaintext.decode("utf-8") + "\n")
    else:
        print(_readable(json.loads(plaintext)))
    return 0


def _readable(evidence: dict[str, Any]) -> str:
    """The evidence as a responder reads it: the request, then the body or the snippets."""
    lines = [f"{evidence['method']} {evidence['url']} ({evidence['direction']})"]
    if evidence["kind"] == "body":
        lines += [f"{name}: {value}" for name, value in evidence["headers"]]
        raw = base64.b64decode(evidence["body_base64"])
        lines.append("")
        lines.append(_body_text(raw, evidence.get("content_encoding", "")))
        return "\n".join(lines)
    for snippet in evidence["snippets"]:
        where = (
            f"{snippet['entity']} at {snippet['location']} [{snippet['start']}:{snippet['end']}]"
        )
        lines.append(f"{where}: {snippet.get('text', '(text not available)')!r}")
    return "\n".join(lines)


def _body_text(raw: bytes, content_encoding: str) -> str:
    try:
        body = decode_body(raw, content_encoding, _REVEAL_MAX_BYTES, _REVEAL_MAX_RATIO)
    except DlpError as e:
        return f"(body kept as received; cannot undo Content-Encoding: {e}; base64 follows)\n" + (
            base64.b64encode(raw).decode("ascii")
        )
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return "(binary body, base64)\n" + base64.b64encode(body).decode("ascii")


def _incidents_export(args: argparse.Namespace) -> int:
    with _store(args.data_dir) as store:
        found = store.find(_filter(args))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as out:
            for line in ecs_lines(found):
                out.write(line + "\n")
        print(f"{args.out}: {len(found)} incidents", file=sys.stderr)
        return 0
    for line in ecs_lines(found):
        sys.stdout.write(line + "\n")
    return 0


def _incidents_verify(args: argparse.Namespace) -> int:
    log = Path(args.log) if args.log else Path(args.data_dir) / "incidents.jsonl"
    if args.log and not log.exists():
        raise UsageError(f"no incident log at {log}")
    with _store(args.data_dir) as store:
        problems = store.verify(log if log.exists() else None)
        count = len(store.find())
        reveals = len(store.reveals())
    checked = f"{count} incidents and {reveals} reveals" + (
        f", against {log}" if log.exists() else ""
    )
    if not problems:
        print(f"intact: {checked}")
        return 0
    for problem in problems:
        print(problem)
    print(f"{len(problems)} problems in {checked}")
    return 1
