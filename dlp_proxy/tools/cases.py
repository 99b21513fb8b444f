"""Policy test cases: YAML files of named messages and what a policy must do with them.

Compliance staff keep `policies/tests/<name>_test.yaml` beside the policies, as OPA users keep
`*_test.rego` beside theirs; `dlp-proxy policy test` runs them (docs/policy-tests.md). This
module is the pure part:

    load_test_file(path) -> TestFile          every problem with file:line, or CaseError
    collect(paths, run=REGEX) -> Suite        test files found under paths, cases filtered
    observe(case, policy, ...) -> Observed    what the gateway does with one case's message
    compare(expect, observed) -> mismatches   what differs from the expectation
    run_cases(suite, ...) -> Report           PASS / FAIL / ERROR per case
    find_test_files(policy_path)               the test files that name a policy

`observe` keeps the facts apart from the verdict so that a command comparing two policies can
run the same cases against both and diff the observations.
"""

from __future__ import annotations

import base64
import difflib
import enum
import json
import os
import re
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

import yaml

from dlp_proxy.core.compression import decode_body, encode_body
from dlp_proxy.core.inspect import Decision, Message, inspect
from dlp_proxy.crypto.keys import Keyring, create_keyring
from dlp_proxy.detection.detector import Detector
from dlp_proxy.errors import DlpError, PolicyError, PolicyProblem
from dlp_proxy.policy.loader import _METHODS, _dotted, _suggestion, load_policy
from dlp_proxy.policy.located import LocatedDocument, load_located
from dlp_proxy.policy.model import KNOWN_ENTITIES, Action, Direction, Policy, Severity

__all__ = [
    "Case",
    "CaseError",
    "CaseResult",
    "Expectation",
    "FileError",
    "HttpPart",
    "Mismatch",
    "Observed",
    "Report",
    "ShadowExpectation",
    "Status",
    "Suite",
    "TestFile",
    "collect",
    "compare",
    "discover",
    "find_test_files",
    "load_test_file",
    "message_for",
    "observe",
    "observe_cases",
    "render_text",
    "run_cases",
    "throwaway_keyring",
]

TEST_FILE_SUFFIXES = ("_test.yaml", "_test.yml")
OUTCOMES = (
    "allowed",
    "redacted",
    "encrypted",
    "blocked",
    "would_redact",
    "would_encrypt",
    "would_block",
)
SHADOW_OUTCOMES = ("would_redact", "would_encrypt", "would_block", "none")
SEVERITIES = (*(s.label for s in Severity), "none")
# Rule ids the core uses for blocks no policy rule made.
PSEUDO_RULES = ("on_error", "unknown_destination")

_TOP_KEYS = ("policy", "description", "cases")
_CASE_KEYS = ("name", "description", "request", "response", "expect")
_BODY_KEYS = ("body", "json", "body_file", "body_base64")
_REQUEST_KEYS = ("method", "url", "headers", *_BODY_KEYS)
_RESPONSE_KEYS = ("status", "headers", *_BODY_KEYS)
_EXPECT_KEYS = (
    "action",
    "outcome",
    "rules",
    "blocked_by",
    "entities",
    "severity",
    "error",
    "body",
    "json",
    "body_contains",
    "body_excludes",
    "url",
    "headers",
    "shadow",
    "allowed_by",
)
_BODY_EXPECTATIONS = ("body", "json", "body_contains", "body_excludes")
_SHADOW_KEYS = ("action", "rules", "outcome", "severity")
_ACTION_OF = {
    "allowed": Action.ALLOW,
    "redacted": Action.REDACT,
    "encrypted": Action.ENCRYPT,
    "blocked": Action.BLOCK,
    "would_redact": Action.REDACT,
    "would_encrypt": Action.ENCRYPT,
    "would_block": Action.BLOCK,
}
_EXCERPT = 400

Where = tuple[str | int, ...]


class CaseError(DlpError):
    """A policy test file cannot be used; `problems` lists every reason found, with its line."""

    def __init__(self, problems: list[PolicyProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


# ---------------------------------------------------------------------------------------------
# The model


@dataclass(frozen=True)
class HttpPart:
    """A request or response as a case states it; `body` is the content before any encoding."""

    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    method: str = "GET"
    url: str = ""
    status: int = 200

    def header(self, name: str) -> str:
        """The value of header `name` (any case), or `""`."""
        return next((v for k, v in self.headers if k.lower() == name.lower()), "")


@dataclass(frozen=True)
class ShadowExpectation:
    """What rules in monitor mode would have done; `None` fields are not checked."""

    action: Action | None = None
    rules: frozenset[str] | None = None
    outcome: str | None = None
    severity: str | None = None


@dataclass(frozen=True)
class Expectation:
    """What a case expects; a field left `None` (or empty, for the lists) is not checked.

    `lines` maps each stated key to its line in the test file, for failure messages.
    """

    action: Action | None = None
    outcome: str | None = None
    rules: frozenset[str] | None = None
    blocked_by: str | None = None
    entities: tuple[tuple[str, int], ...] | None = None
    severity: str | None = None
    error: str | None = None
    body: str | None = None
    json: str | None = None  # the expected value, serialised, so the dataclass stays hashable
    body_contains: tuple[str, ...] = ()
    body_excludes: tuple[str, ...] = ()
    url: str | None = None
    headers: tuple[tuple[str, str], ...] | None = None
    shadow: ShadowExpectation | None = None
    allowed_by: frozenset[str] | None = None
    lines: tuple[tuple[str, int], ...] = ()

    def line_of(self, key: str) -> int | None:
        """The line `key` is stated on."""
        return dict(self.lines).get(key)


@dataclass(frozen=True)
class Case:
    """One named message and what the policy must do with it."""

    name: str
    file: str
    line: int
    direction: Direction
    request: HttpPart
    response: HttpPart | None
    expect: Expectation
    description: str = ""

    @property
    def place(self) -> str:
        """`file:line` of the case."""
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class TestFile:
    """A loaded test file: the policy it tests and its cases."""

    __test__ = False  # not a pytest test class

    path: str
    policy: str
    cases: tuple[Case, ...]
    description: str = ""


def message_for(case: Case) -> Message:
    """The message a case describes, as the addon would hand it to the core."""
    url = urlsplit(case.request.url)
    part = case.response if case.direction is Direction.RESPONSE else case.request
    assert part is not None, "a response case always has its response"
    encoding = part.header("content-encoding")
    is_request = case.direction is Direction.REQUEST
    try:
        wire = encode_body(part.body, encoding)
    except KeyError:  # a coding the gateway does not know: sent as given, to test on_error
        wire = part.body
    return Message(
        direction=case.direction,
        method=case.request.method,
        host=(url.hostname or "").lower(),
        path=url.path or "/",
        query=tuple(parse_qsl(url.query, keep_blank_values=True)) if is_request else (),
        content_type=part.header("content-type"),
        body=wire,
        content_encoding=encoding,
        headers=part.headers,
        # The target as the proxy hands it over: every byte of the query (bare pieces too).
        request_target=urlunsplit(("", "", url.path or "/", url.query, url.fragment))
        if is_request
        else "",
    )


# ---------------------------------------------------------------------------------------------
# Loading


def load_test_file(path: str | Path) -> TestFile:
    """Read and check a test file; raise `CaseError` listing every problem with its line."""
    source = str(path)
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except OSError as e:
        raise CaseError([PolicyProblem(source, None, "", f"cannot read it: {e.strerror}")]) from e
    except UnicodeDecodeError as e:
        problem = f"is not UTF-8 text (byte {e.start}); save it as UTF-8"
        raise CaseError([PolicyProblem(source, None, "", problem)]) from e
    try:
        doc = load_located(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(e, "problem", None) or str(e)
        raise CaseError([PolicyProblem(source, line, "", f"is not valid YAML: {problem}")]) from e
    loader = _Loader(source, doc)
    loaded = loader.test_file()
    if loader.problems or loaded is None:
        raise CaseError(loader.problems)
    return loaded


class _Loader:
    """Walks a test file's data, collecting every problem instead of stopping at the first."""

    def __init__(self, source: str, doc: LocatedDocument) -> None:
        self.source = source
        self.base = Path(source).parent
        self.doc = doc
        self.problems: list[PolicyProblem] = [
            PolicyProblem(source, line, _dotted(where), "is given twice; keep one of them")
            for where, line in doc.duplicates
        ]

    def fail(self, where: Where, message: str) -> None:
        self.problems.append(
            PolicyProblem(self.source, self.doc.line_of(where), _dotted(where), message)
        )

    def line(self, where: Where) -> int:
        return self.doc.line_of(where) or 0

    def test_file(self) -> TestFile | None:
        data = self.doc.data
        if not isinstance(data, dict):
            self.fail((), "must be a mapping with `policy` and `cases`")
            return None
        self.keys(data, (), _TOP_KEYS)
        policy = self.text(data, (), "policy", required=True)
        policy_path = os.path.normpath(self.base / policy) if policy else ""
        if policy and not Path(policy_path).is_file():
            self.fail(
                ("policy",),
                f"names {policy!r}, which is not a file ({policy_path}); "
                "the path is relative to this test file",
            )
        items = data.get("cases")
        if not isinstance(items, list) or not items:
            self.fail(("cases",) if "cases" in data else (), "needs `cases`, a non-empty list")
            items = []
        cases = [c for i, item in enumerate(items) if (c := self.case(item, ("cases", i)))]
        names: dict[str, int] = {}
        for i, item in enumerate(items):
            name = item.get("name") if isinstance(item, dict) else None
            if isinstance(name, str) and name in names:
                self.fail(
                    ("cases", i, "name"),
                    f"{name!r} is already the name of cases[{names[name]}]; names must be unique",
                )
            if isinstance(name, str):
                names.setdefault(name, i)
        if self.problems:
            return None
        return TestFile(
            path=self.source,
            policy=policy_path,
            cases=tuple(cases),
            description=self.text(data, (), "description"),
        )

    def case(self, item: Any, where: Where) -> Case | None:
        if not isinstance(item, dict):
            self.fail(where, "must be a mapping with `name`, `request` and `expect`")
            return None
        before = len(self.problems)
        self.keys(item, where, _CASE_KEYS)
        name = self.text(item, where, "name", required=True)
        request = self.part(item, where, "request")
        response = self.part(item, where, "response") if "response" in item else None
        if request is None and "request" not in item:
            need = "with the `url` the response answers" if "response" in item else ""
            self.fail(where, f"needs `request` {need}".rstrip())
        if "expect" not in item:
            self.fail(where, "needs `expect`: what the policy must do with the message")
        direction = Direction.RESPONSE if response is not None else Direction.REQUEST
        if (
            response is not None
            and isinstance(item.get("expect"), dict)
            and "url" in item["expect"]
        ):
            self.fail((*where, "expect", "url"), "only a request has a URL to check")
        expect = self.expectation(item.get("expect"), (*where, "expect"))
        if len(self.problems) > before or request is None or expect is None:
            return None
        return Case(
            name=name,
            file=self.source,
            line=self.line(where),
            direction=direction,
            request=request,
            response=response,
            expect=expect,
            description=self.text(item, where, "description"),
        )

    def part(self, item: dict[str, Any], where: Where, key: str) -> HttpPart | None:
        value = item.get(key)
        where = (*where, key)
        if value is None:
            if key in item:
                self.fail(where, "must be a mapping")
            return None
        if not isinstance(value, dict):
            self.fail(where, f"must be a mapping (got {type(value).__name__})")
            return None
        self.keys(value, where, _REQUEST_KEYS if key == "request" else _RESPONSE_KEYS)
        headers = self.headers(value, where)
        body, declared = self.body(value, where)
        if declared and not any(k.lower() == "content-type" for k, _ in headers):
            headers = (*headers, ("Content-Type", declared))
        if key == "response":
            status = value.get("status", 200)
            if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
                self.fail((*where, "status"), f"must be an HTTP status 100-599 (got {status!r})")
                status = 200
            return HttpPart(headers=headers, body=body, status=status)
        url = self.text(value, where, "url", required=True)
        if url:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                self.fail(
                    (*where, "url"),
                    f"must be an absolute URL like https://api.vendor.example/path (got {url!r})",
                )
        default = "POST" if body else "GET"
        method = (self.text(value, where, "method") or default).upper()
        if method not in _METHODS:
            self.fail((*where, "method"), f"{method!r} is not an HTTP method")
        return HttpPart(headers=headers, body=body, method=method, url=url)

    def headers(self, item: dict[str, Any], where: Where) -> tuple[tuple[str, str], ...]:
        value = item.get("headers")
        if value is None:
            return ()
        if not isinstance(value, dict):
            self.fail((*where, "headers"), "must be a mapping of header name to value")
            return ()
        pairs = []
        for name, v in value.items():
            if isinstance(v, bool) or not isinstance(v, str | int | float):
                self.fail((*where, "headers", str(name)), f"must be text (got {v!r})")
                continue
            pairs.append((str(name), str(v)))
        return tuple(pairs)

    def body(self, item: dict[str, Any], where: Where) -> tuple[bytes, str]:
        """The body bytes and the Content-Type they imply (`json:` only)."""
        given = [k for k in _BODY_KEYS if k in item]
        if len(given) > 1:
            self.fail((*where, given[1]), f"give one of {', '.join(given)}, not several")
            return b"", ""
        if not given:
            return b"", ""
        key = given[0]
        value = item[key]
        if key == "json":
            serialised = self.serialised(value, (*where, key))
            return (serialised or "").encode(), "application/json"
        text = self.text(item, where, key)
        if key == "body":
            return text.encode(), ""
        if key == "body_base64":
            try:
                return base64.b64decode(text, validate=True), ""
            except ValueError:
                self.fail((*where, key), "is not valid base64")
                return b"", ""
        try:
            return (self.base / text).read_bytes(), ""
        except OSError as e:
            self.fail(
                (*where, key),
                f"cannot read {text!r} ({e.strerror}); the path is relative to this test file",
            )
            return b"", ""

    def serialised(self, value: Any, where: Where) -> str | None:
        try:
            return json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError) as e:
            self.fail(where, f"must hold only JSON values; quote dates and the like ({e})")
            return None

    def expectation(self, value: Any, where: Where) -> Expectation | None:
        if value is None:
            return None
        if not isinstance(value, dict) or not value:
            self.fail(where, f"must be a mapping with at least one of {', '.join(_EXPECT_KEYS)}")
            return None
        self.keys(value, where, _EXPECT_KEYS)
        action = self.action(value, where)
        outcome = self.choice(value, where, "outcome", OUTCOMES)
        if action is not None and outcome is not None and action is not _ACTION_OF[outcome]:
            self.fail((*where, "outcome"), f"{outcome!r} cannot be the outcome of {action.label}")
        blocked = outcome == "blocked" or (action is Action.BLOCK and outcome is None)
        for key in (*_BODY_EXPECTATIONS, "url", "headers"):
            if blocked and key in value:
                self.fail(
                    (*where, key),
                    f"a blocked message reaches nobody, so there is no {key} to check; in monitor "
                    f"mode state `outcome: would_block` to check the {key} that passes",
                )
        expected_json = None
        if "json" in value:
            expected_json = self.serialised(value["json"], (*where, "json"))
        if "body" in value and "json" in value:
            self.fail((*where, "json"), "give `body` (exact) or `json` (as JSON), not both")
        return Expectation(
            action=action,
            outcome=outcome,
            rules=self.id_set(value, where, "rules"),
            blocked_by=self.text(value, where, "blocked_by") or None,
            entities=self.entities(value, where),
            severity=self.choice(value, where, "severity", SEVERITIES),
            error=self.text(value, where, "error") or None,
            body=self.text(value, where, "body") if "body" in value else None,
            json=expected_json,
            body_contains=tuple(self.texts(value, where, "body_contains")),
            body_excludes=tuple(self.texts(value, where, "body_excludes")),
            url=self.text(value, where, "url") or None,
            headers=self.headers(value, where) if "headers" in value else None,
            shadow=self.shadow(value, where),
            allowed_by=self.id_set(value, where, "allowed_by"),
            lines=tuple((str(k), self.line((*where, str(k)))) for k in value),
        )

    def shadow(self, item: dict[str, Any], where: Where) -> ShadowExpectation | None:
        value = item.get("shadow")
        if value is None:
            return None
        where = (*where, "shadow")
        if not isinstance(value, dict) or not value:
            self.fail(where, f"must be a mapping with some of {', '.join(_SHADOW_KEYS)}")
            return None
        self.keys(value, where, _SHADOW_KEYS)
        return ShadowExpectation(
            action=self.action(value, where),
            rules=self.id_set(value, where, "rules"),
            outcome=self.choice(value, where, "outcome", SHADOW_OUTCOMES),
            severity=self.choice(value, where, "severity", SEVERITIES),
        )

    def entities(self, item: dict[str, Any], where: Where) -> tuple[tuple[str, int], ...] | None:
        value = item.get("entities")
        if value is None:
            return None
        where = (*where, "entities")
        if not isinstance(value, dict) or not value:
            self.fail(
                where,
                "must map entity types to exact counts, e.g. {US_SSN: 1}; 0 means none found",
            )
            return None
        counts = []
        for entity, count in value.items():
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                self.fail((*where, str(entity)), f"must be a count >= 0 (got {count!r})")
                continue
            counts.append((str(entity), count))
        return tuple(sorted(counts))

    # --- field helpers -----------------------------------------------------------------------

    def keys(self, item: Mapping[str, Any], where: Where, allowed: tuple[str, ...]) -> None:
        for key in item:
            if key not in allowed:
                self.fail(
                    (*where, str(key)),
                    "is not a known key here"
                    + _suggestion(str(key), allowed)
                    + f"; allowed: {', '.join(allowed)}",
                )

    def text(self, item: Mapping[str, Any], where: Where, key: str, required: bool = False) -> str:
        value = item.get(key)
        if value is None:
            if required:
                self.fail(where, f"needs `{key}`")
            return ""
        if not isinstance(value, str):
            self.fail((*where, key), f"must be text (got {value!r}); quote it")
            return ""
        return value

    def texts(self, item: Mapping[str, Any], where: Where, key: str) -> list[str]:
        value = item.get(key)
        if value is None:
            return []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail((*where, key), f"must be a list of text values (got {value!r})")
            return []
        return value

    def id_set(self, item: Mapping[str, Any], where: Where, key: str) -> frozenset[str] | None:
        return frozenset(self.texts(item, where, key)) if key in item else None

    def choice(
        self, item: Mapping[str, Any], where: Where, key: str, options: Sequence[str]
    ) -> str | None:
        value = item.get(key)
        if value is None:
            return None
        if value not in options:
            self.fail(
                (*where, key),
                f"must be one of {'|'.join(options)} (got {value!r})"
                + _suggestion(str(value), options),
            )
            return None
        return str(value)

    def action(self, item: Mapping[str, Any], where: Where) -> Action | None:
        label = self.choice(item, where, "action", [a.label for a in Action])
        return Action[label.upper()] if label else None


# ---------------------------------------------------------------------------------------------
# Finding test files


@dataclass(frozen=True)
class FileError:
    """A test file (or the policy it names) that cannot be used: none of its cases ran."""

    file: str
    message: str


@dataclass(frozen=True)
class Suite:
    """The test files to run, their cases already filtered, and the files that failed to load."""

    files: tuple[TestFile, ...] = ()
    errors: tuple[FileError, ...] = ()

    @property
    def case_count(self) -> int:
        """How many cases will run."""
        return sum(len(f.cases) for f in self.files)


def discover(paths: Iterable[str | Path]) -> tuple[list[Path], list[FileError]]:
    """The test files named by `paths`: files as given, directories searched for `*_test.yaml`."""
    found: list[Path] = []
    errors: list[FileError] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.name.endswith(TEST_FILE_SUFFIXES)))
        elif path.is_file():
            found.append(path)
        else:
            errors.append(FileError(str(path), "no such file or directory"))
    unique = list(dict.fromkeys(found))
    return unique, errors


def collect(paths: Iterable[str | Path], run: str | None = None) -> Suite:
    """Load the test files under `paths`, keeping the cases whose name matches `run` (a regex)."""
    pattern = re.compile(run) if run else None
    files, errors = discover(paths)
    loaded: list[TestFile] = []
    for path in files:
        try:
            test_file = load_test_file(path)
        except CaseError as e:
            errors.append(FileError(str(path), str(e)))
            continue
        cases = tuple(c for c in test_file.cases if pattern is None or pattern.search(c.name))
        if cases:
            loaded.append(TestFile(test_file.path, test_file.policy, cases, test_file.description))
    return Suite(files=tuple(loaded), errors=tuple(errors))


def find_test_files(policy_path: str | Path, search: Iterable[str | Path] = ()) -> list[Path]:
    """The test files that test `policy_path`: by default those in its directory and `tests/`."""
    policy = Path(policy_path).resolve()
    dirs = list(search) or [policy.parent, policy.parent / "tests"]
    candidates, _ = discover(d for d in dirs if Path(d).is_dir())
    matching = []
    for candidate in candidates:
        try:
            data = load_located(candidate.read_text("utf-8")).data
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        named = data.get("policy") if isinstance(data, dict) else None
        if isinstance(named, str) and (candidate.parent / named).resolve() == policy:
            matching.append(candidate)
    return matching


# ---------------------------------------------------------------------------------------------
# Observing


@dataclass(frozen=True)
class Observed:
    """What the gateway did with a case's message: the facts, before any comparison.

    `body` is what the vendor (for a request) or the client (for a response) receives, with
    any Content-Encoding undone; `None` when the message is blocked. `url` is the path and
    query the vendor receives (requests only).
    """

    action: Action
    outcome: str
    rules: tuple[str, ...]
    blocked_by: str | None
    entities: tuple[tuple[str, int], ...]
    severity: Severity | None
    shadow_action: Action
    shadow_rules: tuple[str, ...]
    shadow_outcome: str | None
    shadow_severity: Severity | None
    allowed_by: tuple[str, ...]
    error: str | None
    body: bytes | None
    url: str | None
    headers: tuple[tuple[str, str], ...] | None

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready view; the body as text (or `body_base64` when it is not UTF-8)."""
        out: dict[str, Any] = {
            "action": self.action.label,
            "outcome": self.outcome,
            "rules": list(self.rules),
            "blocked_by": self.blocked_by,
            "entities": dict(self.entities),
            "severity": _label(self.severity),
            "shadow": {
                "action": self.shadow_action.label,
                "rules": list(self.shadow_rules),
                "outcome": self.shadow_outcome,
                "severity": _label(self.shadow_severity),
            },
            "allowed_by": list(self.allowed_by),
            "error": self.error,
            "url": self.url,
            "headers": [list(h) for h in self.headers] if self.headers is not None else None,
        }
        if self.body is None:
            out["body"] = None
        else:
            try:
                out["body"] = self.body.decode("utf-8")
            except UnicodeDecodeError:
                out["body_base64"] = base64.b64encode(self.body).decode()
        return out


def observe(case: Case, policy: Policy, *, detector: Detector, keyring: Keyring) -> Observed:
    """Run `inspect` on the case's message and record what comes out."""
    message = message_for(case)
    decision = inspect(message, policy, detector=detector, keyring=keyring)
    return _observed(case, message, decision)


def observe_cases(
    cases: Iterable[Case], policy: Policy, *, detector: Detector, keyring: Keyring
) -> tuple[Observed, ...]:
    """`observe` for each case, in order (for comparing what two policies do with them)."""
    return tuple(observe(c, policy, detector=detector, keyring=keyring) for c in cases)


def _observed(case: Case, message: Message, decision: Decision) -> Observed:
    blocked = decision.enforced and decision.action is Action.BLOCK
    changed = decision.enforced and not blocked
    body: bytes | None = None
    if not blocked:
        part = case.response if case.direction is Direction.RESPONSE else case.request
        assert part is not None
        body = part.body
        if changed and decision.body is not None:
            # The core re-encodes per Content-Encoding; undo it to compare content.
            body = decode_body(decision.body, message.content_encoding, 1 << 62, 1e15)
    url = None
    if not blocked and case.direction is Direction.REQUEST:
        path = decision.path if changed and decision.path is not None else message.path
        query = decision.query if changed and decision.query is not None else message.query
        url = path + (f"?{_query_text(query)}" if query else "")
    headers = None
    if not blocked:
        headers = decision.headers if changed and decision.headers is not None else message.headers
    return Observed(
        action=decision.action,
        outcome=decision.outcome,
        rules=decision.rule_ids,
        blocked_by=decision.blocking_rule,
        entities=tuple(sorted(decision.entity_counts.items())),
        severity=decision.severity,
        shadow_action=decision.shadow_action,
        shadow_rules=decision.shadow_rule_ids,
        shadow_outcome=decision.shadow_outcome,
        shadow_severity=decision.shadow_severity,
        allowed_by=decision.allowed_by,
        error=decision.error,
        body=body,
        url=url,
        headers=headers,
    )


def _query_text(pairs: Sequence[tuple[str, str]]) -> str:
    return urlencode(pairs, quote_via=quote, safe="<>@*:/,")


def _label(severity: Severity | None) -> str | None:
    return severity.label if severity is not None else None


# ---------------------------------------------------------------------------------------------
# Comparing


@dataclass(frozen=True)
class Mismatch:
    """One expectation the observation does not meet."""

    field: str
    expected: str
    got: str
    line: int | None = None
    diff: str = ""
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.field}: expected {self.expected}, got {self.got}{self.hint}"
        return f"{text}\n{self.diff}" if self.diff else text


def compare(
    expect: Expectation, observed: Observed, policy: Policy | None = None
) -> tuple[Mismatch, ...]:
    """Every way `observed` differs from `expect`; `policy` adds did-you-mean hints to ids."""
    names = _Names(policy)
    out: list[Mismatch] = []

    def check(key: str, expected: str, got: str, hint: str = "", diff: str = "") -> None:
        if expected != got:
            out.append(Mismatch(key, expected, got, expect.line_of(key), diff, hint))

    if expect.action is not None:
        check("action", expect.action.label, observed.action.label)
    if expect.outcome is not None:
        check("outcome", expect.outcome, observed.outcome)
    if expect.rules is not None:
        check("rules", _ids(expect.rules), _ids(observed.rules), names.rules(expect.rules))
    if expect.blocked_by is not None:
        got = observed.blocked_by or "nothing (the message was not blocked)"
        check("blocked_by", expect.blocked_by, got, names.rules({expect.blocked_by}))
    if expect.entities is not None:
        found = dict(observed.entities)
        for entity, count in expect.entities:
            got_count = found.get(entity, 0)
            if got_count != count:
                out.append(
                    Mismatch(
                        f"entities.{entity}",
                        str(count),
                        str(got_count),
                        expect.line_of("entities"),
                        hint=names.entity(entity),
                    )
                )
    if expect.severity is not None:
        check("severity", expect.severity, _label(observed.severity) or "none")
    if expect.error is not None:
        got = observed.error or "no error (the message was inspected)"
        if expect.error not in got:
            wanted = f"an error containing {expect.error!r}"
            out.append(Mismatch("error", wanted, got, expect.line_of("error")))
    if expect.allowed_by is not None:
        check(
            "allowed_by",
            _ids(expect.allowed_by),
            _ids(observed.allowed_by),
            names.allow(expect.allowed_by),
        )
    if expect.shadow is not None:
        out.extend(_compare_shadow(expect, observed, names))
    out.extend(_compare_body(expect, observed))
    if expect.url is not None:
        out.extend(_compare_url(expect, observed))
    if expect.headers is not None:
        received = {k.lower(): v for k, v in observed.headers or ()}
        for name, value in expect.headers:
            if observed.headers is None:
                got = "nothing (the message was blocked)"
            else:
                got = repr(received[name.lower()]) if name.lower() in received else "(absent)"
            check("headers", f"{name}: {value!r}", f"{name}: {got}")
    return tuple(out)


def _compare_shadow(expect: Expectation, observed: Observed, names: _Names) -> list[Mismatch]:
    shadow = expect.shadow
    assert shadow is not None
    line = expect.line_of("shadow")
    out = []
    pairs = [
        ("action", shadow.action.label if shadow.action else None, observed.shadow_action.label),
        ("outcome", shadow.outcome, observed.shadow_outcome or "none"),
        ("severity", shadow.severity, _label(observed.shadow_severity) or "none"),
        (
            "rules",
            _ids(shadow.rules) if shadow.rules is not None else None,
            _ids(observed.shadow_rules),
        ),
    ]
    for key, expected, got in pairs:
        if expected is not None and expected != got:
            hint = names.rules(shadow.rules) if key == "rules" and shadow.rules else ""
            out.append(Mismatch(f"shadow.{key}", expected, got, line, hint=hint))
    return out


def _compare_body(expect: Expectation, observed: Observed) -> list[Mismatch]:
    wanted = [k for k in _BODY_EXPECTATIONS if getattr(expect, k)]
    if expect.body is not None and "body" not in wanted:
        wanted.insert(0, "body")  # an empty expected body is still an expectation
    if not wanted:
        return []
    if observed.body is None:
        blocked = f"nothing: the message was blocked ({observed.blocked_by})"
        return [Mismatch(k, "a body", blocked, expect.line_of(k)) for k in wanted]
    got = observed.body.decode("utf-8", errors="replace")
    out = []
    if expect.body is not None and expect.body.encode() != observed.body:
        out.append(
            Mismatch(
                "body",
                _excerpt(expect.body),
                _excerpt(got),
                expect.line_of("body"),
                body_diff(expect.body, got),
            )
        )
    if expect.json is not None:
        wanted_value = json.loads(expect.json)
        try:
            got_value = json.loads(observed.body)
        except ValueError:
            out.append(
                Mismatch(
                    "json", "a JSON body", f"{_excerpt(got)} (not JSON)", expect.line_of("json")
                )
            )
        else:
            if got_value != wanted_value:
                out.append(
                    Mismatch(
                        "json",
                        _excerpt(expect.json),
                        _excerpt(got),
                        expect.line_of("json"),
                        body_diff(expect.json, got),
                    )
                )
    for needle in expect.body_contains:
        if needle not in got:
            out.append(
                Mismatch(
                    "body_contains",
                    f"the body to contain {needle!r}",
                    _excerpt(got),
                    expect.line_of("body_contains"),
                )
            )
    for needle in expect.body_excludes:
        at = got.find(needle)
        if at >= 0:
            out.append(
                Mismatch(
                    "body_excludes",
                    f"the body not to contain {needle!r}",
                    f"it at character {at}: {_excerpt(got)}",
                    expect.line_of("body_excludes"),
                )
            )
    return out


def _compare_url(expect: Expectation, observed: Observed) -> list[Mismatch]:
    assert expect.url is not None
    line = expect.line_of("url")
    if observed.url is None:
        got = "nothing: the message was blocked" if observed.body is None else "a response"
        return [Mismatch("url", expect.url, got, line)]
    wanted = urlsplit(expect.url)
    received = urlsplit(observed.url)
    same = unquote(wanted.path) == unquote(received.path) and parse_qsl(
        wanted.query, keep_blank_values=True
    ) == parse_qsl(received.query, keep_blank_values=True)
    return [] if same else [Mismatch("url", expect.url, observed.url, line)]


def body_diff(expected: str, got: str, labels: tuple[str, str] = ("expected", "received")) -> str:
    """A unified diff of two bodies; of their pretty-printed forms when both are JSON."""
    a, b = expected, got
    try:
        pretty_a = json.dumps(json.loads(a), indent=2, sort_keys=True, ensure_ascii=False)
        pretty_b = json.dumps(json.loads(b), indent=2, sort_keys=True, ensure_ascii=False)
    except ValueError:
        pass
    else:
        if pretty_a != pretty_b:  # same JSON, different bytes: show the bytes
            a, b = pretty_a, pretty_b
    # Bodies decoded with surrogateescape must still print.
    a = a.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    b = b.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if not a.endswith("\n") and not b.endswith("\n"):
        a, b = a + "\n", b + "\n"  # mark a missing final newline only when one body has it
    lines = difflib.unified_diff(
        a.splitlines(keepends=True),
        b.splitlines(keepends=True),
        fromfile=labels[0],
        tofile=labels[1],
        n=2,
    )
    return "".join(line if line.endswith("\n") else line + "\n\\ no newline\n" for line in lines)


def _ids(ids: Iterable[str]) -> str:
    return "[" + ", ".join(sorted(ids)) + "]"


def _excerpt(text: str) -> str:
    shown = text if len(text) <= _EXCERPT else text[:_EXCERPT] + f"... ({len(text)} characters)"
    return repr(shown)


class _Names:
    """Did-you-mean hints for ids an expectation names that the policy does not define."""

    def __init__(self, policy: Policy | None) -> None:
        self.known = policy is not None
        self.rule_ids = (
            {r.id for r in policy.rules}
            | {c.id for v in policy.vendors for c in v.contracts}
            | set(PSEUDO_RULES)
            if policy
            else set()
        )
        self.allow_ids = {a.id for a in policy.allow} if policy else set()
        self.entities = set(KNOWN_ENTITIES) | (
            {d.entity for d in policy.detectors} if policy else set()
        )

    def rules(self, ids: Iterable[str]) -> str:
        return self._hint(ids, self.rule_ids, "rule")

    def allow(self, ids: Iterable[str]) -> str:
        return self._hint(ids, self.allow_ids, "allow entry")

    def entity(self, entity: str) -> str:
        if entity in self.entities:
            return ""
        return f" ({entity!r} is not an entity type{_suggestion(entity, self.entities)})"

    def _hint(self, ids: Iterable[str], known: set[str], what: str) -> str:
        if not self.known:
            return ""
        unknown = sorted(set(ids) - known)
        return "".join(f" (the policy has no {what} {i!r}{_suggestion(i, known)})" for i in unknown)


# ---------------------------------------------------------------------------------------------
# Running


class Status(enum.StrEnum):
    """A case passed, failed an expectation, or could not be run."""

    PASS = "PASS"
    FAIL = "FAIL"
    ERROR = "ERROR"


@dataclass(frozen=True)
class CaseResult:
    """The verdict on one case, with what was observed."""

    case: Case
    status: Status
    seconds: float
    mismatches: tuple[Mismatch, ...] = ()
    observed: Observed | None = None
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready view of the result."""
        return {
            "file": self.case.file,
            "line": self.case.line,
            "name": self.case.name,
            "direction": self.case.direction.value,
            "status": self.status.value,
            "duration_ms": round(self.seconds * 1000, 1),
            "mismatches": [
                {
                    "field": m.field,
                    "line": m.line,
                    "expected": m.expected,
                    "got": m.got + m.hint,
                    **({"diff": m.diff} if m.diff else {}),
                }
                for m in self.mismatches
            ],
            "error": self.error,
            "observed": self.observed.as_json() if self.observed else None,
        }


@dataclass(frozen=True)
class Report:
    """Every case result of a run, and the files that could not be used."""

    results: tuple[CaseResult, ...] = ()
    errors: tuple[FileError, ...] = ()
    seconds: float = 0.0

    def count(self, status: Status) -> int:
        """How many cases ended with `status`."""
        return sum(1 for r in self.results if r.status is status)

    @property
    def ok(self) -> bool:
        """True when at least one case ran, every case passed and every file could be used."""
        return (
            bool(self.results)
            and not self.errors
            and all(r.status is Status.PASS for r in self.results)
        )

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready view of the report."""
        return {
            "summary": {
                "total": len(self.results),
                "pass": self.count(Status.PASS),
                "fail": self.count(Status.FAIL),
                "error": self.count(Status.ERROR),
                "file_errors": len(self.errors),
                "duration_ms": round(self.seconds * 1000, 1),
            },
            "results": [r.as_json() for r in self.results],
            "errors": [{"file": e.file, "message": e.message} for e in self.errors],
        }


def run_cases(
    suite: Suite,
    *,
    detector: Detector,
    keyring: Keyring,
    policies: Mapping[str, Policy] | None = None,
) -> Report:
    """Run every case of `suite`, loading each policy once; `policies` pre-loads some by path."""
    started = time.perf_counter()
    loaded: dict[str, Policy | PolicyError] = dict(policies or {})
    results: list[CaseResult] = []
    errors = list(suite.errors)
    for test_file in suite.files:
        if test_file.policy not in loaded:
            try:
                loaded[test_file.policy] = load_policy(test_file.policy)
            except PolicyError as e:
                loaded[test_file.policy] = e
        policy = loaded[test_file.policy]
        if isinstance(policy, PolicyError):
            errors.append(
                FileError(test_file.path, f"its policy {test_file.policy} is invalid:\n{policy}")
            )
            continue
        results.extend(_run_case(c, policy, detector, keyring) for c in test_file.cases)
    return Report(tuple(results), tuple(errors), time.perf_counter() - started)


def _run_case(case: Case, policy: Policy, detector: Detector, keyring: Keyring) -> CaseResult:
    started = time.perf_counter()
    try:
        observed = observe(case, policy, detector=detector, keyring=keyring)
    except Exception as e:  # noqa: BLE001 - one case that crashes is that case's ERROR, not the run's
        return CaseResult(
            case, Status.ERROR, time.perf_counter() - started, error=f"{type(e).__name__}: {e}"
        )
    mismatches = compare(case.expect, observed, policy)
    status = Status.FAIL if mismatches else Status.PASS
    return CaseResult(case, status, time.perf_counter() - started, mismatches, observed)


def throwaway_keyring() -> Keyring:
    """A fresh keyring, made in a temporary directory that is gone when this returns."""
    with tempfile.TemporaryDirectory(prefix="dlp-policy-test-") as directory:
        return create_keyring(Path(directory) / "keyring.json")


# ---------------------------------------------------------------------------------------------
# Text output


def render_text(report: Report, *, verbose: bool = False) -> str:
    """The report for people: failing cases with each mismatch (all cases with `verbose`)."""
    lines: list[str] = []
    current = None
    for result in report.results:
        if result.status is Status.PASS and not verbose:
            continue
        if result.case.file != current:
            current = result.case.file
            lines.append(f"{current}:")
        ms = result.seconds * 1000
        lines.append(f"  {result.status.value:<5} {result.case.name} ({ms:.0f}ms)")
        if result.status is not Status.PASS:
            lines.append(f"        at {result.case.place}")
        if result.error:
            lines.append(f"        {result.error}")
        for mismatch in result.mismatches:
            where = f"line {mismatch.line}: " if mismatch.line else ""
            if mismatch.diff:
                head = f"{mismatch.field}: the received body differs from the expected one"
            else:
                head = f"{mismatch.field}: expected {mismatch.expected}, got {mismatch.got}"
            head += mismatch.hint
            lines.append(f"        {where}{head}")
            lines.extend(f"          {d}" for d in mismatch.diff.splitlines())
        if verbose and result.observed is not None:
            lines.extend(f"        {line}" for line in _observed_lines(result.observed))
    for error in report.errors:
        lines.append(f"ERROR {error.file}:")
        lines.extend(f"        {line}" for line in error.message.splitlines())
    total = len(report.results)
    lines.append("-" * 80)
    if not total:
        lines.append("no test cases ran")
    for status in Status:
        if n := report.count(status):
            lines.append(f"{status.value}: {n}/{total}")
    if report.errors:
        lines.append(f"ERROR: {len(report.errors)} test file(s) could not be used")
    return "\n".join(lines) + "\n"


def _observed_lines(observed: Observed) -> list[str]:
    facts = observed.as_json()
    head = f"got: action={facts['action']} outcome={facts['outcome']} rules={facts['rules']}"
    shown = [f"{head} entities={facts['entities']}"]
    extras = {
        "blocked_by": facts["blocked_by"],
        "severity": facts["severity"],
        "shadow": facts["shadow"] if observed.shadow_outcome else None,
        "allowed_by": facts["allowed_by"],
        "error": facts["error"],
    }
    if shown_extras := " ".join(f"{k}={v}" for k, v in extras.items() if v):
        shown.append(f"     {shown_extras}")
    if observed.body is not None:
        shown.append(f"     body received: {_excerpt(observed.body.decode('utf-8', 'replace'))}")
    return shown
