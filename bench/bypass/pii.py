"""The secrets a bypass case carries: valid US SSNs and Luhn-valid card numbers, seeded.

Every case gets its own secret, drawn from a random generator seeded with the run's seed and
the case's name, so a run is reproducible and a held-out run (`--seed N`) draws new values.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "DEFAULT_SEED",
    "HELD_OUT_SEED",
    "Kind",
    "Secret",
    "card_number",
    "is_valid_ssn",
    "luhn_valid",
    "secret_for",
    "ssn",
]

DEFAULT_SEED = 14
HELD_OUT_SEED = 1414  # a second seed for a held-out run: `python -m bench.bypass --seed 1414`

# Issuer prefixes of 16-digit cards (Visa, Mastercard, Discover). A 16-digit number under 2**53
# is exact as a float, which the exponent-form case relies on.
_CARD_PREFIXES = ("4", "51", "52", "53", "54", "55", "6011")


class Kind(StrEnum):
    """What a secret is."""

    SSN = "ssn"
    CARD = "card"


@dataclass(frozen=True)
class Secret:
    """One secret, kept as its digits; `dashed`, `spaced` and the rest are its spellings."""

    kind: Kind
    digits: str

    @property
    def parts(self) -> tuple[str, ...]:
        """SSN: area, group, serial. Card: its four groups of four."""
        d = self.digits
        if self.kind is Kind.SSN:
            return (d[:3], d[3:5], d[5:])
        return tuple(d[i : i + 4] for i in range(0, len(d), 4))

    @property
    def dashed(self) -> str:
        """`219-09-9999`, `4539-1488-0343-6467`."""
        return "-".join(self.parts)

    @property
    def spaced(self) -> str:
        """`219 09 9999`, `4539 1488 0343 6467` (a card's usual grouping)."""
        return " ".join(self.parts)

    @property
    def dotted(self) -> str:
        """`219.09.9999`, `4539.1488.0343.6467`."""
        return ".".join(self.parts)

    @property
    def text(self) -> str:
        """The spelling a case uses unless it says otherwise: SSN dashed, card spaced."""
        return self.dashed if self.kind is Kind.SSN else self.spaced

    def spellings(self) -> tuple[str, ...]:
        """Every spelling a log scan looks for: digits, dashed, spaced, dotted."""
        return (self.digits, self.dashed, self.spaced, self.dotted)

    def __repr__(self) -> str:
        return f"Secret({self.kind.value}, ***)"  # never the value itself, not even in a repr


def is_valid_ssn(digits: str) -> bool:
    """Nine digits, area not 000, 666 or 9xx, group and serial not zero."""
    if not re.fullmatch(r"\d{9}", digits):
        return False
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def luhn_valid(digits: str) -> bool:
    """Whether `digits` passes the Luhn check."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 1:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def ssn(rng: random.Random) -> str:
    """A valid SSN's nine digits; never a run of one digit, never an all-different sequence."""
    while True:
        area = rng.choice([a for a in range(1, 900) if a != 666])
        digits = f"{area:03d}{rng.randint(1, 99):02d}{rng.randint(1, 9999):04d}"
        if is_valid_ssn(digits) and len(set(digits)) > 2 and digits != "123456789":
            return digits


def card_number(rng: random.Random) -> str:
    """A Luhn-valid 16-digit card number with a real issuer prefix and no trailing zero.

    No trailing zero, so the float spelling of the number still shows all sixteen digits.
    """
    while True:
        prefix = rng.choice(_CARD_PREFIXES)
        body = prefix + "".join(rng.choice("0123456789") for _ in range(15 - len(prefix)))
        check = next(str(d) for d in range(10) if luhn_valid(body + str(d)))
        if check != "0":
            return body + check


def secret_for(seed: int, name: str, kind: Kind) -> Secret:
    """The secret of case `name` in the run seeded `seed`: the same for the same pair."""
    rng = random.Random(f"bypass:{seed}:{name}")
    return Secret(kind, ssn(rng) if kind is Kind.SSN else card_number(rng))
