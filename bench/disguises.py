"""Disguises: the ways a value is written so that a naive detector misses it.

Three kinds. Character disguises change how a value reads (full-width digits, invisible
characters, separators) and are part of the value as written. Encoding disguises wrap the whole
field (base64, percent-encoding once or twice). Structural disguises change where a value sits
(a card split over two fields, bare digits that only a field name explains, a base64 blob
holding a whole record); the corpus builds those.
"""

from __future__ import annotations

import base64
import random
from urllib.parse import quote

__all__ = [
    "CHARACTER",
    "DISGUISES",
    "ENCODING",
    "NUMERIC_ENTITIES",
    "SEPARATORS",
    "STRUCTURAL",
    "encode_field",
    "natural",
    "write",
]

# Character disguises (applied to the value itself).
SEPARATORS = ("spaces", "nbsp", "dots", "dashes", "no_separators")
CHARACTER = ("none", "fullwidth", "unicode_digits", "zero_width", "soft_hyphen", *SEPARATORS)
# Encoding disguises (applied to the whole field holding the value).
ENCODING = ("base64_field", "url_encoded", "double_url_encoded")
# Structural disguises (built by the corpus around the value).
STRUCTURAL = ("split_card", "field_names", "base64_blob")
DISGUISES = (*CHARACTER, *ENCODING, *STRUCTURAL)

# Entities written as groups of digits (and IBAN letters), which separators apply to.
NUMERIC_ENTITIES = frozenset(
    {
        "CREDIT_CARD",
        "US_SSN",
        "US_BANK_NUMBER",
        "ABA_ROUTING_NUMBER",
        "IBAN_CODE",
        "PHONE_NUMBER",
        "DATE_OF_BIRTH",
    }
)

_INVISIBLE = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff")
_SOFT_HYPHEN = "\u00ad"
# Zero of other decimal digit scripts: Arabic-Indic, Devanagari, Bengali, mathematical bold.
_DIGIT_ZEROS = (0x0660, 0x0966, 0x09E6, 0x1D7CE)
_SEPARATOR_CHARS = {
    "spaces": (" ",),
    "nbsp": ("\u00a0", "\u202f"),
    "dots": (".",),
    "dashes": ("-", "\u2011", "\u2013"),
    "no_separators": ("",),
}


def _groups(entity: str, value: str) -> list[str]:
    """How a canonical value splits into the groups people write it in."""
    if entity == "CREDIT_CARD":
        sizes = {15: (4, 6, 5), 14: (4, 6, 4)}.get(len(value), (4,) * (len(value) // 4 + 1))
    elif entity == "US_SSN":
        sizes = (3, 2, 4)
    elif entity == "PHONE_NUMBER":
        sizes = (2, 4, 4) if value.startswith("20") else (3, 3, 4)
    elif entity == "DATE_OF_BIRTH":  # canonical YYYYMMDD
        sizes = (4, 2, 2)
    elif entity == "ABA_ROUTING_NUMBER":
        sizes = (3, 3, 3)
    else:  # bank account numbers and IBANs: blocks of four
        sizes = (4,) * (len(value) // 4 + 1)
    groups, start = [], 0
    for size in sizes:
        if start < len(value):
            groups.append(value[start : start + size])
            start += size
    if len(groups) > 1 and len(groups[-1]) == 1:  # no lone digit at the end: 1234 5678 9
        groups[-2:] = [groups[-2] + groups[-1]]
    return groups


def natural(entity: str, value: str, rng: random.Random) -> str:
    """The way a numeric value is usually written (text entities come back unchanged)."""
    if entity == "CREDIT_CARD":
        return rng.choice((" ", "-", "", " ")).join(_groups(entity, value))
    if entity == "US_SSN":
        return rng.choice(("-", "-", " ")).join(_groups(entity, value))
    if entity == "IBAN_CODE":
        return rng.choice((" ", "")).join(_groups(entity, value))
    if entity == "DATE_OF_BIRTH":
        y, m, d = value[:4], value[4:6], value[6:]
        return rng.choice((f"{y}-{m}-{d}", f"{m}/{d}/{y}", f"{d}.{m}.{y}"))
    return value


def _separated(entity: str, value: str, disguise: str, rng: random.Random) -> str:
    """The value's groups joined with the disguise's separator."""
    groups = _groups(entity, value)
    out = groups[0]
    for group in groups[1:]:
        out += rng.choice(_SEPARATOR_CHARS[disguise]) + group
    return out


def _insert(text: str, marks: tuple[str, ...], rng: random.Random) -> str:
    """`text` with one to three invisible marks put between its characters."""
    if len(text) < 2:
        return text
    positions = sorted(rng.sample(range(1, len(text)), k=min(3, len(text) - 1, rng.randint(1, 3))))
    out, last = "", 0
    for position in positions:
        out += text[last:position] + rng.choice(marks)
        last = position
    return out + text[last:]


def write(entity: str, value: str, written: str, disguise: str, rng: random.Random) -> str:
    """The value as the case writes it under a character disguise.

    `value` is canonical (digits for numbers); `written` is its natural written form, which
    disguises that do not restructure the value start from. Disguises that do not apply to an
    entity (separators on a name) leave it as written.
    """
    if disguise in SEPARATORS and entity in NUMERIC_ENTITIES:
        return _separated(entity, value, disguise, rng)
    if disguise == "fullwidth":
        return "".join(chr(0xFF10 + int(c)) if c.isdigit() else c for c in written)
    if disguise == "unicode_digits":
        zero = rng.choice(_DIGIT_ZEROS)
        return "".join(chr(zero + int(c)) if c.isdigit() else c for c in written)
    if disguise == "zero_width":
        return _insert(written, _INVISIBLE, rng)
    if disguise == "soft_hyphen":
        return _insert(written, (_SOFT_HYPHEN,), rng)
    return written


def encode_field(text: str, disguise: str, rng: random.Random) -> str:
    """A field's text under an encoding disguise (unchanged for other disguises)."""
    if disguise == "base64_field":
        return base64.b64encode(text.encode()).decode()
    if disguise == "url_encoded":
        if rng.random() < 0.5:  # every byte, letters and digits too
            return "".join(f"%{b:02X}" for b in text.encode())
        return quote(text, safe="")
    if disguise == "double_url_encoded":
        return quote(quote(text, safe=""), safe="")
    return text
