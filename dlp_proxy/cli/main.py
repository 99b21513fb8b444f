"""The `dlp-proxy` command line: a thin adapter over the package.

dlp-proxy run        start the gateway (mitmproxy in-process, with the dlp addon)
dlp-proxy init       create the CA and the data keyring if they are missing
dlp-proxy policy validate FILE...   check policy files
dlp-proxy policy test [PATH...]     run policy test cases (docs/policy-tests.md)
dlp-proxy policy diff OLD NEW       what changes in effect between two policy versions
dlp-proxy scan FILE|-               what the gateway finds in a payload, and what it would do
dlp-proxy explain FILE|-            the same, with every rule's outcome and the body sent on
dlp-proxy keys init|list|rotate|retire   manage the data keyring (docs/keys.md)
dlp-proxy decrypt TOKEN...|--file F  turn tokens back into values (needs the keyring; audited)
dlp-proxy responders keygen|add|list     who incident evidence is sealed to (docs/incidents.md)
dlp-proxy incidents list|show|reveal|export|verify   review blocked transfers
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import mimetypes
import os
import re
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlp_proxy import __version__
from dlp_proxy.cli import incidents as incident_commands
from dlp_proxy.crypto.keys import (
    ENV_PREFIX,
    Keyring,
    KeyState,
    create_keyring,
    ensure_keyring,
    load_keyring,
    open_keyring,
    save_keyring,
)
from dlp_proxy.crypto.tokens import TOKEN_PATTERN, decrypt_token, restore_tokens
from dlp_proxy.detection.presidio import DEFAULT_MODEL, PresidioDetector
from dlp_proxy.errors import (
    DlpError,
    KeyringError,
    PolicyError,
    PolicyProblem,
    TokenError,
    UsageError,
)
from dlp_proxy.incidents.audit import AuditLog, command_audit_log, current_user
from dlp_proxy.policy.loader import load_policy
from dlp_proxy.policy.model import Direction, Policy
from dlp_proxy.tools.cases import Report, collect, render_text, run_cases, throwaway_keyring

__all__ = ["main"]

DEFAULT_CONFDIR = "certs"
DEFAULT_DATA_DIR = "var"
DEFAULT_TESTS = "policies/tests"
KEYRING_NAME = "dlp-keyring.json"
DEFAULT_KEYRING = f"{DEFAULT_CONFDIR}/{KEYRING_NAME}"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `dlp-proxy` console script; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args))
    except DlpError as e:
        print(f"dlp-proxy: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # Output piped into `head` and the like: stop quietly, as other command-line tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dlp-proxy", description="Data-loss-prevention gateway for vendor data exchange."
    )
    parser.add_argument("--version", action="version", version=f"dlp-proxy {__version__}")
    commands = parser.add_subparsers(metavar="COMMAND")

    run = commands.add_parser("run", help="start the gateway")
    run.add_argument("--policy", default="policies/default.yaml", help="policy file (YAML)")
    run.add_argument(
        "--mode",
        action="append",
        help="mitmproxy mode: regular (default), reverse:URL, upstream:URL, transparent, ... "
        "(repeat for several listeners)",
    )
    run.add_argument("--listen-host", default="127.0.0.1", help="address to listen on")
    run.add_argument("--listen-port", type=int, default=8080, help="port to listen on")
    run.add_argument("--confdir", default=DEFAULT_CONFDIR, help="CA and keyring directory")
    run.add_argument("--data-dir", default=DEFAULT_DATA_DIR, help="decision and incident logs")
    run.add_argument(
        "--keyring",
        help=f"data keyring file, or env:NAME to read it from an environment variable "
        f"(default: CONFDIR/{KEYRING_NAME}, created if missing)",
    )
    run.add_argument("--model", help="spaCy model package or directory for NER")
    run.add_argument("--workers", type=int, help="inspection processes (default: one per core)")
    run.add_argument("--timeout", type=float, help="seconds before an inspection counts as failed")
    run.add_argument(
        "--bulk-workers",
        type=int,
        help="low-priority processes for large bodies (default 1; 0: no separate lane)",
    )
    run.add_argument(
        "--bulk-bytes", type=int, help="a body over this size is large (default 65536)"
    )
    run.add_argument("--bulk-timeout", type=int, help="seconds a large body may take (default 120)")
    run.add_argument("--log-stdout", action="store_true", help="also log decisions to stdout")
    run.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set any mitmproxy option, e.g. ssl_verify_upstream_trusted_ca=vendor-ca.pem",
    )
    run.set_defaults(handler=_run)

    init = commands.add_parser("init", help="create the CA and data keyring if missing")
    init.add_argument("--confdir", default=DEFAULT_CONFDIR)
    init.set_defaults(handler=_init)

    policy = commands.add_parser("policy", help="work with policy files")
    policy_commands = policy.add_subparsers(metavar="SUBCOMMAND")
    validate = policy_commands.add_parser(
        "validate",
        help="check policy files",
        description="Report every problem in each policy file with file, line, column and a "
        "fix hint; warnings (rules an earlier rule makes redundant) count as problems. "
        "Exit status 0 when every file is clean, 1 otherwise.",
    )
    validate.add_argument("files", nargs="+", metavar="FILE")
    validate.add_argument(
        "--keyring",
        help="check encryption key ids against this keyring "
        f"(default: {DEFAULT_CONFDIR}/{KEYRING_NAME} if it exists)",
    )
    validate.add_argument("--format", choices=("text", "json"), default="text")
    validate.set_defaults(handler=_validate)
    test = policy_commands.add_parser(
        "test",
        help="run policy test cases",
        description="Run the cases of policy test files (*_test.yaml) against their policies "
        "with the real detector. Exit status 0 when every case passes; 1 when any fails or "
        "errors, or when no case ran.",
    )
    test.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help=f"test files, or directories searched for *_test.yaml (default: {DEFAULT_TESTS})",
    )
    test.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    test.add_argument("-v", "--verbose", action="store_true", help="show passing cases too")
    test.add_argument("--run", metavar="REGEX", help="only the cases whose name matches REGEX")
    test.add_argument(
        "--model", default=DEFAULT_MODEL, help="spaCy model package or directory for NER"
    )
    test.add_argument(
        "--keyring", help="data keyring for hashes and tokens (default: a throwaway one)"
    )
    test.set_defaults(handler=_policy_test)

    diff = policy_commands.add_parser(
        "diff",
        help="what changes in effect between two versions of a policy",
        description="Compare two versions of a policy: the rules, vendors, detectors and allow "
        "entries that changed, and every test case (from the test files of either version) "
        "whose result changes. Exit status 0 when no case changes, 1 when some do, 2 when no "
        "test case ran (the effect is unknown).",
    )
    diff.add_argument("old", metavar="OLD", help="the policy as it was")
    diff.add_argument("new", metavar="NEW", help="the policy as it is to be")
    diff.add_argument(
        "--tests",
        action="append",
        default=[],
        metavar="PATH",
        help="test files or directories to run as well (default: the ones beside each policy)",
    )
    diff.add_argument("--format", choices=("text", "json"), default="text")
    diff.add_argument("--model", default=DEFAULT_MODEL, help="spaCy model package or directory")
    diff.add_argument(
        "--keyring", help="data keyring for hashes and tokens (default: a throwaway one)"
    )
    diff.set_defaults(handler=_policy_diff)

    for name, summary in (
        ("scan", "show what the gateway finds in a payload and what it would do"),
        ("explain", "scan, plus every rule's outcome and the body the vendor would receive"),
    ):
        command = commands.add_parser(
            name,
            help=summary,
            description=f"{summary[0].upper()}{summary[1:]}. No proxy runs: the payload is "
            "inspected here under the policy, with the real detector.",
        )
        _add_payload_arguments(command)
        command.set_defaults(handler=_scan, explain=name == "explain")

    _add_keys_commands(commands)
    incident_commands.add_commands(commands, DEFAULT_CONFDIR, DEFAULT_DATA_DIR)

    decrypt = commands.add_parser(
        "decrypt",
        help="decrypt tokens (needs the keyring; each use is audited)",
        description="Turn tokens back into values: each TOKEN given is printed as ENTITY<tab>"
        "VALUE, or with --file the whole payload is printed with every token made under this "
        "keyring restored. Failures go to stderr with their reason and key id, never the "
        "token. Each use is recorded as a tokens_decrypted event in DATA_DIR/decisions.jsonl "
        "(user, keyring, counts per entity type, key ids; never values). Exit status 0 when "
        "every token decrypted, 1 when any failed, 2 when the command cannot run.",
    )
    decrypt.add_argument("tokens", nargs="*", metavar="TOKEN")
    decrypt.add_argument(
        "--file", metavar="PATH", help="a payload holding tokens (- for stdin), instead of TOKENs"
    )
    _add_keyring_argument(decrypt)
    _add_data_dir_argument(decrypt)
    decrypt.set_defaults(handler=_decrypt)
    return parser


def _add_keyring_argument(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--keyring",
        default=DEFAULT_KEYRING,
        help=f"keyring file, or env:NAME for one held in an environment variable "
        f"(default: {DEFAULT_KEYRING})",
    )


def _add_data_dir_argument(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--data-dir",
        default=DEFAULT_DATA_DIR,
        help=f"directory of the audit log decisions.jsonl (default: {DEFAULT_DATA_DIR})",
    )


def _add_keys_commands(commands: Any) -> None:
    keys = commands.add_parser(
        "keys",
        help="manage the data keyring",
        description="Create, list, rotate and retire the keys of the data keyring "
        "(docs/keys.md). Changes are saved atomically, owner-only, and recorded in the audit "
        "log. A keyring from env:NAME can be listed, not changed. Exit status 0 when done, 2 "
        "when refused.",
    )
    keys.set_defaults(handler=lambda _: _print_help(keys))
    subcommands = keys.add_subparsers(metavar="SUBCOMMAND")

    init = subcommands.add_parser(
        "init",
        help="create a keyring with one active key",
        description="Create a keyring file (mode 0600) with one active key. An existing "
        "keyring is never replaced: use `keys rotate` for a new active key.",
    )
    _add_keyring_argument(init)
    _add_data_dir_argument(init)
    init.set_defaults(handler=_keys_init)

    listing = subcommands.add_parser(
        "list",
        help="show the keys: id, algorithm, created, state (never the secrets)",
        description="Show each key's id, algorithm, creation time and state: active (makes "
        "new tokens), decrypt-only (rotated out; its tokens still decrypt) or retired (its "
        "tokens no longer decrypt). Secrets are never shown.",
    )
    _add_keyring_argument(listing)
    listing.add_argument("--format", choices=("table", "json"), default="table")
    listing.set_defaults(handler=_keys_list)

    rotate = subcommands.add_parser(
        "rotate",
        help="make a new active key; the old one becomes decrypt-only",
        description="Add a new active key; the active key becomes decrypt-only, so tokens "
        "made with it still decrypt. A running proxy uses the new key after SIGHUP or a restart.",
    )
    _add_keyring_argument(rotate)
    _add_data_dir_argument(rotate)
    rotate.set_defaults(handler=_keys_rotate)

    retire = subcommands.add_parser(
        "retire",
        help="retire a key: its tokens no longer decrypt",
        description="Retire a decrypt-only key: tokens made with it can no longer be "
        "decrypted or restored. The active key cannot be retired (rotate first).",
    )
    retire.add_argument("key_id", metavar="KEY_ID")
    _add_keyring_argument(retire)
    _add_data_dir_argument(retire)
    retire.set_defaults(handler=_keys_retire)


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _init(args: argparse.Namespace) -> int:
    from dlp_proxy.gateway.proxy import ensure_ca

    confdir = Path(args.confdir)
    confdir.mkdir(parents=True, exist_ok=True)
    certificate = ensure_ca(confdir)
    ensure_keyring(confdir / KEYRING_NAME)
    print(f"CA certificate for clients: {certificate}")
    print(f"data keyring: {confdir / KEYRING_NAME}")
    return 0


def _add_payload_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("file", metavar="FILE", help="the payload (body) to inspect; - for stdin")
    command.add_argument("--policy", default="policies/default.yaml", help="policy file (YAML)")
    command.add_argument(
        "--url",
        default="https://unknown-vendor.example/",
        help="where the payload goes (or, with --response, where it comes from)",
    )
    command.add_argument("--method", default="POST", help="HTTP method (default POST)")
    command.add_argument(
        "--content-type",
        help="Content-Type of the payload (default: from the file name, else sniffed)",
    )
    command.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="NAME:VALUE",
        help="a request (or response) header; repeat for several",
    )
    command.add_argument(
        "--response", action="store_true", help="the payload is a vendor's response"
    )
    command.add_argument("--format", choices=("table", "json"), default="table")
    command.add_argument("--show-values", action="store_true", help="print matched values unmasked")
    command.add_argument("--model", default=DEFAULT_MODEL, help="spaCy model package or directory")
    command.add_argument(
        "--keyring",
        help=f"keyring for fingerprints and tokens (default: {DEFAULT_CONFDIR}/{KEYRING_NAME} "
        "if it exists, else a throwaway one)",
    )


def _validate(args: argparse.Namespace) -> int:
    key_ids, note = _key_ids(args.keyring)
    results: list[tuple[str, Policy | None, list[PolicyProblem]]] = []
    for file in args.files:
        try:
            policy = load_policy(file, key_ids=key_ids)
        except PolicyError as e:
            results.append((file, None, e.problems))
        else:
            results.append((file, policy, list(policy.warnings)))
    if args.format == "json":
        print(json.dumps([_validation_json(*r) for r in results], indent=2))
    else:
        for file, loaded, problems in results:
            for problem in problems:
                print(problem, file=sys.stderr)
            if loaded is not None:
                summary = f"{loaded.name}, {len(loaded.rules)} rules, {loaded.mode.value}"
                verdict = f"{len(problems)} warnings" if problems else "ok"
                print(f"{file}: {verdict} ({summary}{note})")
    return 1 if any(problems for _, _, problems in results) else 0


def _key_ids(keyring: str | None) -> tuple[list[str] | None, str]:
    """The key ids to check policies against, and a note for the summary line."""
    path = Path(keyring or f"{DEFAULT_CONFDIR}/{KEYRING_NAME}")
    if keyring is None and not path.exists():
        return None, "; key ids not checked: no keyring"
    return [k.id for k in open_keyring(keyring or path).keys], ""


def _validation_json(
    file: str, policy: Policy | None, problems: Sequence[PolicyProblem]
) -> dict[str, object]:
    return {
        "file": file,
        "valid": policy is not None,
        "policy": policy.name if policy else None,
        "sha256": policy.sha256 if policy else None,
        "problems": [
            {
                "file": p.file,
                "line": p.line,
                "column": p.column,
                "field": p.where,
                "message": p.message,
                "level": p.level,
            }
            for p in problems
        ],
    }


def _scan(args: argparse.Namespace) -> int:
    from dlp_proxy.core.inspect import Message, evaluate
    from dlp_proxy.tools.explain import build_report, render_json, render_table

    policy = load_policy(args.policy)
    body = sys.stdin.buffer.read() if args.file == "-" else _read_payload(args.file)
    headers = [_header(h) for h in args.header]
    if not any(name.lower() == "content-type" for name, _ in headers):
        guessed = args.content_type or (
            mimetypes.guess_type(args.file)[0] if args.file != "-" else None
        )
        if guessed:
            headers.append(("Content-Type", guessed))
    message = Message.for_url(
        args.url,
        method=args.method,
        direction=Direction.RESPONSE if args.response else Direction.REQUEST,
        headers=headers,
        body=body,
    )
    keyring = _scan_keyring(args.keyring)
    evaluation = evaluate(message, policy, detector=PresidioDetector(args.model), keyring=keyring)
    report = build_report(message, policy, evaluation, show_values=args.show_values)
    if args.format == "json":
        print(render_json(report, with_body=args.explain))
    else:
        print(render_table(report, with_rules=args.explain, with_body=args.explain))
    return 0


def _read_payload(file: str) -> bytes:
    try:
        return Path(file).read_bytes()
    except OSError as e:
        raise UsageError(f"cannot read {file}: {e.strerror}") from e


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise UsageError(f"--header {text!r} must look like 'Name: value'")
    return name.strip(), value.strip()


def _scan_keyring(path: str | None) -> Keyring:
    default = Path(f"{DEFAULT_CONFDIR}/{KEYRING_NAME}")
    if path is not None:
        return open_keyring(path)
    return load_keyring(default) if default.exists() else throwaway_keyring()


def _policy_test(args: argparse.Namespace) -> int:
    try:
        suite = collect(args.paths or [DEFAULT_TESTS], run=args.run)
    except re.error as e:
        print(f"dlp-proxy: --run {args.run!r} is not a regular expression: {e}", file=sys.stderr)
        return 2
    if suite.case_count:
        keyring = open_keyring(args.keyring) if args.keyring else throwaway_keyring()
        detector = PresidioDetector(args.model)
        report = run_cases(suite, detector=detector, keyring=keyring)
    else:
        report = Report(errors=suite.errors)
    if args.format == "json":
        print(json.dumps(report.as_json(), indent=2, ensure_ascii=False))
    else:
        print(render_text(report, verbose=args.verbose), end="")
    return 0 if report.ok else 1


def _policy_diff(args: argparse.Namespace) -> int:
    from dlp_proxy.tools import diff

    old, new = load_policy(args.old), load_policy(args.new)
    cases = diff.cases_for(args.old, args.new, args.tests)
    keyring = open_keyring(args.keyring) if args.keyring else throwaway_keyring()
    detector = PresidioDetector(args.model)
    report = diff.build_report(old, new, cases, detector=detector, keyring=keyring)
    print(diff.render_json(report) if args.format == "json" else diff.render_text(report))
    if not report.case_count:
        return 2
    return 1 if report.changed else 0


# --- keys and decrypt ------------------------------------------------------------------------


def _keys_init(args: argparse.Namespace) -> int:
    path = _keyring_file(args.keyring, "create")
    if path.exists():
        raise KeyringError(
            f"{path} already exists; `keys init` never replaces a keyring (it may hold the only "
            "copy of the keys existing tokens need). For a new active key run "
            f"`dlp-proxy keys rotate --keyring {path}`"
        )
    with command_audit_log(args.data_dir) as audit:  # opened first: no change without its record
        try:
            keyring = create_keyring(path)
        except OSError as e:
            raise KeyringError(f"cannot create keyring {path}: {e.strerror}") from e
        key = keyring.active
        _record(
            audit,
            "keyring_created",
            keyring=str(path.resolve()),
            key_id=key.id,
            state=str(key.state),
            keys=_states(keyring),
        )
    print(f"created keyring {path} (owner-only) with active key {key.id}")
    print("back it up: tokens made with its keys cannot be decrypted without it")
    return 0


def _keys_list(args: argparse.Namespace) -> int:
    keyring = open_keyring(args.keyring)
    rows = [
        {"id": k.id, "algorithm": k.algorithm, "created": k.created, "state": str(k.state)}
        for k in keyring.keys
    ]
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    else:
        from tabulate import tabulate

        print(tabulate([list(r.values()) for r in rows], headers=list(rows[0])))
    return 0


def _keys_rotate(args: argparse.Namespace) -> int:
    path = _keyring_file(args.keyring, "rotate")
    keyring = load_keyring(path)
    previous = next((k for k in keyring.keys if k.state == KeyState.ACTIVE), None)
    rotated = keyring.rotated()
    new = rotated.active
    with command_audit_log(args.data_dir) as audit:
        _save(path, rotated)
        _record(
            audit,
            "key_rotated",
            keyring=str(path.resolve()),
            new_key_id=new.id,
            new_state=str(new.state),
            previous_key_id=previous.id if previous else None,
            previous_state=str(KeyState.DECRYPT_ONLY) if previous else None,
            keys=_states(rotated),
        )
    if previous is not None:
        print(f"{path}: {new.id} is the active key; {previous.id} is now decrypt-only")
    else:
        print(f"{path}: {new.id} is the active key")
    print("a running proxy keeps its keys until it is sent SIGHUP (kill -HUP) or restarted")
    return 0


def _keys_retire(args: argparse.Namespace) -> int:
    path = _keyring_file(args.keyring, "retire")
    keyring = load_keyring(path)
    held = [k.id for k in keyring.keys]
    if args.key_id not in held:
        raise KeyringError(
            f"key {args.key_id!r} is not in {path}; it holds {', '.join(held)} "
            "(see `dlp-proxy keys list`)"
        )
    key = keyring.get(args.key_id)
    if key.state == KeyState.RETIRED:
        print(f"{path}: {key.id} is already retired; nothing changed")
        return 0
    retired = keyring.retired(key.id)  # refuses the active key, saying to rotate first
    with command_audit_log(args.data_dir) as audit:
        _save(path, retired)
        _record(
            audit,
            "key_retired",
            keyring=str(path.resolve()),
            key_id=key.id,
            previous_state=str(key.state),
            state=str(KeyState.RETIRED),
            keys=_states(retired),
        )
    print(f"{path}: {key.id} is retired; tokens made with it can no longer be decrypted")
    print("a running proxy keeps its keys until it is sent SIGHUP (kill -HUP) or restarted")
    return 0


def _keyring_file(source: str, change: str) -> Path:
    """The keyring file a `keys` command may change; a keyring from the environment is not one."""
    if source.startswith(ENV_PREFIX):
        name = source[len(ENV_PREFIX) :]
        raise UsageError(
            f"cannot {change} keys here: this keyring comes from environment variable {name}; "
            "change it in your secrets manager (e.g. run this command with --keyring on a "
            "copy of the JSON in an owner-only file, and store the result there)"
        )
    return Path(source).expanduser()


def _save(path: Path, keyring: Keyring) -> None:
    # Through a symlink the target is replaced, not the link (os.replace would swap the link).
    target = path.resolve()
    try:
        save_keyring(target, keyring)
    except OSError as e:
        raise KeyringError(
            f"cannot write keyring {target}: {e.strerror}; nothing was changed (for a mounted "
            "secret, change it in your secrets manager)"
        ) from e


def _states(keyring: Keyring) -> list[dict[str, str]]:
    """The keys' ids and states for an audit event (never their secrets)."""
    return [{"id": k.id, "state": str(k.state)} for k in keyring.keys]


def _record(audit: AuditLog, event: str, **fields: Any) -> None:
    """Write one audit event naming the OS user; an unwritable log is an error, not a warning."""
    try:
        audit.event(event, user=current_user(), **fields)
    except OSError as e:
        raise UsageError(f"cannot write the {event} event to {audit.data_dir}: {e.strerror}") from e


@dataclass
class _Decryption:
    """What one `decrypt` did: output for stdout and stderr, and the counts for the audit log."""

    output: str = ""
    errors: list[str] = field(default_factory=list)
    entities: Counter[str] = field(default_factory=Counter)
    key_ids: set[str] = field(default_factory=set)
    failures: int = 0


def _decrypt(args: argparse.Namespace) -> int:
    if bool(args.tokens) == (args.file is not None):
        raise UsageError("give either TOKENs or --file PATH (- for stdin), not both or neither")
    keyring = open_keyring(args.keyring)
    source = args.keyring  # as the audit log names it: env:NAME, or the file's absolute path
    source = source if source.startswith(ENV_PREFIX) else str(Path(source).resolve())
    file: str | None = None
    with command_audit_log(args.data_dir) as audit:
        if args.file is None:
            result = _decrypt_tokens(args.tokens, keyring)
        else:
            file = "<stdin>" if args.file == "-" else str(Path(args.file).resolve())
            payload = sys.stdin.buffer.read() if args.file == "-" else _read_payload(args.file)
            text = payload.decode("utf-8", "surrogateescape")  # bytes that are no UTF-8 stay
            result = _decrypt_text(text, keyring)
        # Recorded before anything is shown: a decryption the log cannot record shows nothing.
        _record(
            audit,
            "tokens_decrypted",
            keyring=source,
            file=file,
            decrypted=sum(result.entities.values()),
            entities=dict(sorted(result.entities.items())),
            key_ids=sorted(result.key_ids),
            failures=result.failures,
        )
    if args.file is None:
        sys.stdout.write(result.output)
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(result.output.encode("utf-8", "surrogateescape"))
        sys.stdout.flush()
    for error in result.errors:
        print(f"dlp-proxy: {error}", file=sys.stderr)
    return 1 if result.failures else 0


def _decrypt_tokens(tokens: Sequence[str], keyring: Keyring) -> _Decryption:
    """Each token as `ENTITY<tab>VALUE`; a failure names the token's position and key id only."""
    result = _Decryption()
    lines = []
    for number, token in enumerate(tokens, 1):
        key_id = _key_id(token)
        try:
            entity, value = decrypt_token(token, keyring)
        except TokenError as e:
            where = f"token {number}" + (f" (key {key_id})" if key_id else "")
            result.errors.append(f"{where}: {e}")
            result.failures += 1
        else:
            lines.append(f"{entity}\t{value}\n")
            result.entities[entity] += 1
            result.key_ids.add(key_id)
    result.output = "".join(lines)
    return result


def _decrypt_text(text: str, keyring: Keyring) -> _Decryption:
    """The text with every token made under `keyring` restored, and what was decrypted."""
    restored = restore_tokens(text, keyring)
    result = _Decryption(output=restored.text, failures=len(restored.failures))
    result.errors.extend(restored.failures)
    held = {k.id for k in keyring.keys}
    others: set[str] = set()
    # restore_tokens counts, the audit log wants entity types and keys: the same tokens again.
    for match in TOKEN_PATTERN.finditer(text):
        key_id = _key_id(match.group(0))
        if key_id not in held:
            others.add(key_id)
            continue
        try:
            entity, _ = decrypt_token(match.group(0), keyring)
        except TokenError:
            continue  # in restored.failures already
        result.entities[entity] += 1
        result.key_ids.add(key_id)
    if others:
        result.errors.append(
            f"tokens under keys this keyring does not hold were left as they are "
            f"(keys {', '.join(sorted(others))}); is it the keyring that issued them?"
        )
    result.errors.append(
        f"{sum(result.entities.values())} tokens decrypted, {result.failures} failed"
    )
    return result


def _key_id(token: str) -> str:
    """The key id a token names (`dlp:v1:<key-id>:...`), or "" for text that is no token."""
    parts = token.split(":", 3)
    return parts[2] if len(parts) == 4 and TOKEN_PATTERN.fullmatch(token) else ""


def _run(args: argparse.Namespace) -> int:
    load_policy(args.policy)  # refuse a broken policy before anything starts
    return asyncio.run(_serve(args))


async def _serve(args: argparse.Namespace) -> int:
    from dlp_proxy.gateway.proxy import ProxySettings, serve

    # mitmproxy logs each connection at INFO; warnings and errors are what an operator needs.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(message)s")
    return await serve(
        ProxySettings(
            policy=args.policy,
            listen_host=args.listen_host,
            listen_port=args.listen_port,
            confdir=args.confdir,
            data_dir=args.data_dir,
            modes=tuple(args.mode or ("regular",)),
            log_stdout=args.log_stdout,
            keyring=args.keyring,
            model=args.model,
            workers=args.workers,
            timeout=args.timeout,
            bulk_workers=args.bulk_workers,
            bulk_bytes=args.bulk_bytes,
            bulk_timeout=args.bulk_timeout,
            settings=tuple(args.settings),
        )
    )
