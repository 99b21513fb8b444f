"""The end-to-end harness: the shared vendor and proxy from `bench.harness`, plus test data.

Nothing here is mocked: the proxy is `dlp-proxy run` (or `mitmdump -s addons/dlp.py`) with real
Presidio workers, and the vendor is an HTTP(S) server in the test process that records exactly
what reached it. The vendor, the proxy launcher and their helpers live in `bench/harness.py`,
which `make eval` uses too; this module re-exports them. Every PII value a test sends must come
from `PII`, so that the log scan in test_log.py covers it.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from bench.harness import (
    BIN,
    DEFAULT_POLICY,
    LOG_TIMEOUT,
    READY_TIMEOUT,
    ROOT,
    STOP_TIMEOUT,
    HarnessError,
    Proxy,
    Received,
    Vendor,
    client_tls_context,
    dlp_proxy_argv,
    free_port,
    make_vendor_certificate,
    poll,
    read_jsonl,
)

__all__ = [
    "BIN",
    "CARD",
    "DEFAULT_POLICY",
    "EMAIL",
    "LOG_TIMEOUT",
    "NAME",
    "PHONE",
    "PII",
    "PLAIN_TICKET_KEYS",
    "READY_TIMEOUT",
    "ROOT",
    "SSN",
    "STOP_TIMEOUT",
    "TOKEN_RE",
    "HarnessError",
    "Proxy",
    "Received",
    "Vendor",
    "assert_masked",
    "assert_ticket_protected",
    "client_tls_context",
    "decrypt",
    "dlp_proxy_argv",
    "free_port",
    "make_vendor_certificate",
    "pii_spellings",
    "poll",
    "read_jsonl",
    "ticket",
]

TOKEN_RE = re.compile(r"dlp:v1:[A-Za-z0-9]+:[A-Za-z0-9_-]+")

# Every raw PII value the e2e tests send. test_log.py checks none of them is ever logged.
CARD = "4111 1111 1111 1111"
EMAIL = "maria.gonzalez@example.com"
PHONE = "+1 212-555-0142"
NAME = "Maria Gonzalez"
SSN = "219099999"
PII = (CARD, EMAIL, PHONE, NAME, SSN)


def pii_spellings() -> tuple[str, ...]:
    """Each PII value in the spellings a log could leak it in: raw, bare digits, URL-encoded."""
    spellings = {
        *PII,
        CARD.replace(" ", ""),
        "2125550142",
        "212-555-0142",
        "219-09-9999",
        "maria.gonzalez",
        "Gonzalez",
    }
    for value in PII:
        spellings.update({quote(value, safe=""), quote_plus(value)})
    return tuple(sorted(spellings))


def ticket(**extra: Any) -> dict[str, Any]:
    """The support ticket the tests send: a card, an email, a phone, a name, plain fields."""
    return {
        "ticket_id": "T-48213",
        "subject": "Refund request",
        "name": NAME,
        "email": EMAIL,
        "phone": PHONE,
        "card": CARD,
        "notes": f"Customer {NAME} called about a double charge on her card.",
        "priority": "high",
        "created_at": "2026-11-28T14:03:00Z",
        "amount": 42.5,
        "tags": ["billing", "refund"],
        **extra,
    }


PLAIN_TICKET_KEYS = ("ticket_id", "subject", "priority", "created_at", "amount", "tags")


# --- assertions -------------------------------------------------------------------------------


def assert_masked(masked: str, original: str, keep: int = 4) -> None:
    """`masked` is `original` with every letter and digit but the last `keep` replaced by `*`."""
    assert masked != original
    assert len(masked) == len(original), (masked, original)
    alnum = [i for i, c in enumerate(original) if c.isalnum()]
    kept = set(alnum[-keep:])
    expected = "".join(c if (i in kept or not c.isalnum()) else "*" for i, c in enumerate(original))
    assert masked == expected


def decrypt(token: str, keyring: Path) -> tuple[str, str]:
    """`dlp-proxy decrypt TOKEN`: the (entity, value) it prints."""
    result = subprocess.run(
        # The audit line of the decrypt goes beside the keyring, not into the checkout's var/.
        [
            str(BIN / "dlp-proxy"),
            "decrypt",
            token,
            "--keyring",
            str(keyring),
            "--data-dir",
            str(keyring.parent / "decrypt-audit"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    entity, value = result.stdout.rstrip("\n").split("\t")
    return entity, value


def assert_ticket_protected(received: dict[str, Any], sent: dict[str, Any], keyring: Path) -> None:
    """What the default policy does to `ticket()`: token, masks, placeholders, the rest kept."""
    assert list(received) == list(sent)
    assert TOKEN_RE.fullmatch(received["card"]), received["card"]
    assert decrypt(received["card"], keyring) == ("CREDIT_CARD", CARD)
    assert_masked(received["email"], EMAIL)
    assert_masked(received["phone"], PHONE)
    assert received["name"] == "<PERSON>"
    assert received["notes"] == sent["notes"].replace(NAME, "<PERSON>")
    for key in PLAIN_TICKET_KEYS:
        assert received[key] == sent[key], key
