"""The `dlp-proxy` command line: a thin adapter over the package.

dlp-proxy run        start the gateway (mitmproxy in-process, with the dlp addon)
dlp-proxy init       create the CA and the data keyring if they are missing
dlp-proxy policy validate FILE...   check policy files
dlp-proxy policy test [PATH...]     run policy test cases (docs/policy-tests.md)
dlp-proxy policy diff OLD NEW       what changes in effect between two policy versions
dlp-proxy scan FILE|-               what the gateway finds in a payload, and what it would do
dlp-proxy explain FILE|-            the same, with every rule's outcome and the body sent on
dlp-proxy decrypt TOKEN...          turn tokens back into values (needs the keyring)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import mimetypes
import os
import re
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from dlp_proxy import __version__
from dlp_proxy.cases import Report, collect, render_text, run_cases, throwaway_keyring
from dlp_proxy.detection import DEFAULT_MODEL, PresidioDetector
from dlp_proxy.errors import DlpError, PolicyError, PolicyProblem, UsageError
from dlp_proxy.keys import Keyring, ensure_keyring, load_keyring
from dlp_proxy.policy import Direction, Policy, load_policy
from dlp_proxy.tokens import decrypt_token

__all__ = ["main"]

DEFAULT_CONFDIR = "certs"
DEFAULT_DATA_DIR = "var"
DEFAULT_TESTS = "policies/tests"
KEYRING_NAME = "dlp-keyring.json"


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
    run.add_argument("--keyring", help=f"data keyring (default: CONFDIR/{KEYRING_NAME})")
    run.add_argument("--model", help="spaCy model package or directory for NER")
    run.add_argument("--workers", type=int, help="inspection processes (default: one per core)")
    run.add_argument("--timeout", type=float, help="seconds before an inspection counts as failed")
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

    decrypt = commands.add_parser("decrypt", help="decrypt tokens (needs the keyring)")
    decrypt.add_argument("tokens", nargs="+", metavar="TOKEN")
    decrypt.add_argument("--keyring", default=f"{DEFAULT_CONFDIR}/{KEYRING_NAME}")
    decrypt.set_defaults(handler=_decrypt)
    return parser


def _init(args: argparse.Namespace) -> int:
    from mitmproxy.certs import CertStore

    confdir = Path(args.confdir)
    confdir.mkdir(parents=True, exist_ok=True)
    CertStore.from_store(confdir, "mitmproxy", 2048)
    ensure_keyring(confdir / KEYRING_NAME)
    print(f"CA certificate for clients: {confdir / 'mitmproxy-ca-cert.pem'}")
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
    return [k.id for k in load_keyring(path).keys], ""


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
    from dlp_proxy.explain import build_report, render_json, render_table
    from dlp_proxy.inspection import Message, evaluate

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
        return load_keyring(path)
    return load_keyring(default) if default.exists() else throwaway_keyring()


def _policy_test(args: argparse.Namespace) -> int:
    try:
        suite = collect(args.paths or [DEFAULT_TESTS], run=args.run)
    except re.error as e:
        print(f"dlp-proxy: --run {args.run!r} is not a regular expression: {e}", file=sys.stderr)
        return 2
    if suite.case_count:
        keyring = load_keyring(args.keyring) if args.keyring else throwaway_keyring()
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
    from dlp_proxy import diff

    old, new = load_policy(args.old), load_policy(args.new)
    cases = diff.cases_for(args.old, args.new, args.tests)
    keyring = load_keyring(args.keyring) if args.keyring else throwaway_keyring()
    detector = PresidioDetector(args.model)
    report = diff.build_report(old, new, cases, detector=detector, keyring=keyring)
    print(diff.render_json(report) if args.format == "json" else diff.render_text(report))
    if not report.case_count:
        return 2
    return 1 if report.changed else 0


def _decrypt(args: argparse.Namespace) -> int:
    keyring = load_keyring(args.keyring)
    status = 0
    for token in args.tokens:
        try:
            entity, value = decrypt_token(token, keyring)
        except DlpError as e:
            print(f"{token}: {e}", file=sys.stderr)
            status = 1
        else:
            print(f"{entity}\t{value}")
    return status


def _run(args: argparse.Namespace) -> int:
    load_policy(args.policy)  # refuse a broken policy before anything starts
    return asyncio.run(_serve(args))


async def _serve(args: argparse.Namespace) -> int:
    from mitmproxy import exceptions, options
    from mitmproxy.tools.dump import DumpMaster

    from dlp_proxy.addon import DlpAddon

    # mitmproxy logs each connection at INFO; warnings and errors are what an operator needs.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(message)s")
    Path(args.confdir).mkdir(parents=True, exist_ok=True)
    opts = options.Options(
        listen_host=args.listen_host,
        listen_port=args.listen_port,
        mode=args.mode or ["regular"],
        confdir=args.confdir,
    )
    master = DumpMaster(opts, with_termlog=False, with_dumper=False)
    master.addons.add(DlpAddon())
    updates: dict[str, object] = {
        "dlp_policy": args.policy,
        "dlp_data_dir": args.data_dir,
        "dlp_log_stdout": args.log_stdout,
    }
    for name, value in (
        ("dlp_keyring", args.keyring),
        ("dlp_model", args.model),
        ("dlp_workers", args.workers),
        ("dlp_timeout", args.timeout),
    ):
        if value is not None:
            updates[name] = value
    try:
        master.options.update(**updates)
        for setting in args.settings:
            master.options.set(setting)
    except exceptions.OptionsError as e:
        print(f"dlp-proxy: {e}", file=sys.stderr)
        return 2
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, master.shutdown)
    await master.run()
    return 0
