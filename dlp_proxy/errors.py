"""The one exception tree of dlp-proxy.

    DlpError
    ├── PolicyError          a policy file is missing, unparsable or invalid
    ├── KeyringError         the keyring is missing, unreadable or lacks a key
    ├── TokenError           a token cannot be decrypted (malformed, tampered, unknown key)
    ├── DetectorError        the detection engine cannot be built (model not installed ...)
    ├── UsageError           a command-line argument is wrong (unreadable file, bad header ...)
    ├── CaseError            a policy test file is invalid (defined in dlp_proxy.tools.cases)
    ├── SealError            evidence cannot be sealed or opened (bad key, wrong key, altered)
    ├── ResponderError       the responders file is unreadable, or a responder is a duplicate
    ├── IncidentStoreError   the incident store cannot be opened, written or read
    └── InspectionError      one message cannot be inspected; the policy's on_error decides
        ├── BodyTooLarge
        ├── UndecodableBody
        └── AnalyzerFailure

Every message says what was wrong, where, and what to do about it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AnalyzerFailure",
    "BodyTooLarge",
    "DetectorError",
    "DlpError",
    "IncidentStoreError",
    "InspectionError",
    "KeyringError",
    "PolicyError",
    "PolicyProblem",
    "ResponderError",
    "SealError",
    "TokenError",
    "UndecodableBody",
    "UsageError",
]


class DlpError(Exception):
    """Base class of every error dlp-proxy raises on purpose."""


@dataclass(frozen=True)
class PolicyProblem:
    """One thing wrong in a policy file, with where it is."""

    file: str
    line: int | None
    where: str
    message: str
    column: int | None = None
    level: str = "error"

    def __str__(self) -> str:
        place = f"{self.file}:{self.line}" if self.line else self.file
        if self.line and self.column:
            place += f":{self.column}"
        where = f" {self.where}" if self.where else ""
        warning = " warning:" if self.level == "warning" else ""
        return f"{place}:{warning}{where} {self.message}"


class PolicyError(DlpError):
    """A policy cannot be used; `problems` lists every reason found."""

    def __init__(self, problems: list[PolicyProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class KeyringError(DlpError):
    """The keyring cannot be read, written or does not hold the key asked for."""


class TokenError(DlpError):
    """A token is malformed, was tampered with, or its key is not in the keyring."""


class SealError(DlpError):
    """Evidence cannot be sealed or opened: a bad key, the wrong key, or damaged evidence."""


class ResponderError(DlpError):
    """The responders file cannot be read or written, or a responder is already in it."""


class IncidentStoreError(DlpError):
    """The incident store cannot be opened, written or read."""


class DetectorError(DlpError):
    """The detection engine cannot be built, e.g. the spaCy model is not installed."""


class UsageError(DlpError):
    """A command-line argument cannot be used; the message says which and why."""


class InspectionError(DlpError):
    """A message cannot be inspected. The policy's `on_error` decides what happens to it."""

    reason = "uninspectable"


class BodyTooLarge(InspectionError):
    """The body is larger than the policy's `max_body_bytes`."""

    reason = "body_too_large"


class UndecodableBody(InspectionError):
    """The body cannot be decoded: bad charset, bad compression, invalid JSON or form."""

    reason = "undecodable_body"


class AnalyzerFailure(InspectionError):
    """The analyzer raised, timed out, or its worker process died."""

    reason = "analyzer_failure"
