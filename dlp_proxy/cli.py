"""The `dlp-proxy` command line: a thin adapter over the package.

dlp-proxy run        start the gateway (mitmproxy in-process, with the dlp addon)
dlp-proxy init       create the CA and the data keyring if they are missing
dlp-proxy policy validate FILE...   check policy files
dlp-proxy policy test [PATH...]     run policy test cases (docs/policy-tests.md)
dlp-proxy decrypt TOKEN...          turn tokens back into values (needs the keyring)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from dlp_proxy import __version__
from dlp_proxy.cases import Report, collect, render_text, run_cases, throwaway_keyring
from dlp_proxy.detection import DEFAULT_MODEL, PresidioDetector
from dlp_proxy.errors import DlpError, PolicyError
from dlp_proxy.keys import ensure_keyring, load_keyring
from dlp_proxy.policy import load_policy
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
    validate = policy_commands.add_parser("validate", help="check policy files")
    validate.add_argument("files", nargs="+", metavar="FILE")
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


def _validate(args: argparse.Namespace) -> int:
    status = 0
    for file in args.files:
        try:
            policy = load_policy(file)
        except PolicyError as e:
            print(e, file=sys.stderr)
            status = 1
        else:
            print(f"{file}: ok ({policy.name}, {len(policy.rules)} rules, {policy.mode.value})")
    return status


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
