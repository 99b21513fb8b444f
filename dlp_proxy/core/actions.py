"""Actions on detected spans: redact (replace, mask, keyed hash) and encrypt.

A span is rewritten in place; the text around it is untouched. When detections overlap, the
one under the strictest rule wins, then the higher score, then the longer span.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from dlp_proxy.crypto.keys import Keyring
from dlp_proxy.crypto.tokens import encrypt_value
from dlp_proxy.detection.detector import Finding
from dlp_proxy.policy.model import Action, EncryptMode, RedactOperator, Rule

__all__ = [
    "Change",
    "fingerprint",
    "keyed_hash",
    "mask",
    "mask_pci",
    "replacement_for",
    "rewrite",
]


@dataclass(frozen=True)
class Change:
    """A finding and the rule whose action rewrites it."""

    finding: Finding
    rule: Rule


def mask(value: str, keep: int, char: str = "*") -> str:
    """Mask letters and digits, keeping the last `keep` of them; punctuation stays."""
    alnum = sum(1 for c in value if c.isalnum())
    to_mask = max(alnum - keep, 0)
    out = []
    for c in value:
        if c.isalnum() and to_mask > 0:
            out.append(char)
            to_mask -= 1
        else:
            out.append(c)
    return "".join(out)


def mask_pci(value: str, char: str = "*") -> str:
    """A card number with at most its first six and last four digits left (PCI DSS 3.4.1).

    Separators stay where they are. A number too short to be a card keeps its last four only.
    """
    digits = sum(1 for c in value if c.isdigit())
    first = 6 if digits >= 13 else 0
    last = min(4, digits)
    out = []
    seen = 0
    for c in value:
        if c.isdigit():
            seen += 1
            out.append(c if seen <= first or seen > digits - last else char)
        else:
            out.append(c)
    return "".join(out)


def keyed_hash(value: str, entity: str, keyring: Keyring) -> str:
    """HMAC-SHA256 of the value under the active key's hash subkey, as 16 hex characters.

    Keyed, so a vendor cannot brute-force short values (SSNs, phone numbers) from it; stable,
    so the same value gives the same hash and records can still be joined.
    """
    key = keyring.active.subkey("hash", 32)
    message = f"{entity}\x00{value}".encode("utf-8", "surrogatepass")
    digest = hmac.new(key, message, hashlib.sha256).hexdigest()
    return f"<{entity}:{digest[:16]}>"


def fingerprint(value: str, keyring: Keyring) -> str:
    """A keyed fingerprint of a value, the only way logs and incidents may refer to it."""
    data = value.encode("utf-8", "surrogatepass")
    digest = hmac.new(keyring.fingerprint_key, data, hashlib.sha256).hexdigest()
    return f"fp:{digest[:16]}"


def replacement_for(value: str, entity: str, rule: Rule, keyring: Keyring) -> str:
    """The text that replaces `value` under `rule`'s action."""
    if rule.action is Action.ENCRYPT:
        if rule.encrypt.mode is EncryptMode.MASK_PCI:
            return mask_pci(value)
        deterministic = rule.encrypt.mode is EncryptMode.DETERMINISTIC
        return encrypt_value(
            value, entity, keyring, deterministic=deterministic, key_id=rule.encrypt.key
        )
    options = rule.redact
    if options.operator is RedactOperator.MASK:
        return mask(value, options.keep, options.char)
    if options.operator is RedactOperator.HASH:
        return keyed_hash(value, entity, keyring)
    return options.replacement.replace("{entity}", entity)


def rewrite(text: str, changes: Iterable[Change], keyring: Keyring) -> str:
    """`text` with every non-overlapping change applied."""
    chosen: list[Change] = []
    ranked = sorted(
        changes,
        key=lambda c: (c.rule.action, c.finding.score, c.finding.end - c.finding.start),
        reverse=True,
    )
    for change in ranked:
        f = change.finding
        if all(f.end <= c.finding.start or f.start >= c.finding.end for c in chosen):
            chosen.append(change)
    for change in sorted(chosen, key=lambda c: c.finding.start, reverse=True):
        f = change.finding
        new = replacement_for(text[f.start : f.end], f.entity, change.rule, keyring)
        text = text[: f.start] + new + text[f.end :]
    return text
