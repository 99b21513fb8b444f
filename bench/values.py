"""Values for the corpus: PII that passes its checksum, and benign look-alikes that must not.

Every generator takes a `random.Random`, so a seed fixes the corpus. PII values come back in a
canonical form (digits only for numbers, compact IBANs); `bench.disguises` formats them.
"""

from __future__ import annotations

import datetime
import random
import string

__all__ = [
    "FAMOUS_INVALID_SSNS",
    "aba_ok",
    "aba_routing_number",
    "agent_id",
    "amount",
    "bank_account_number",
    "card_number",
    "iban",
    "iban_ok",
    "iso_timestamp",
    "luhn_ok",
    "order_number",
    "phone_number",
    "sku",
    "ssn",
    "ssn_ok",
    "ticket_id",
    "tracking_number",
]

# (IIN prefixes, length) of real card schemes: Visa, Mastercard (51-55 and 2221-2720), Amex,
# Discover, JCB, Diners Club.
_CARD_SCHEMES: tuple[tuple[tuple[str, ...], int], ...] = (
    (("4",), 16),
    (("51", "52", "53", "54", "55"), 16),
    (tuple(str(n) for n in range(2221, 2721, 37)), 16),
    (("34", "37"), 15),
    (("6011", "65", "644", "645", "646", "647", "648", "649"), 16),
    (tuple(str(n) for n in range(3528, 3590, 7)), 16),
    (("36",), 14),
)

# SSNs that are well-formed but known not to be anyone's (Woolworth's wallet card, ads, examples).
FAMOUS_INVALID_SSNS = frozenset(
    {"078051120", "219099999", "457555462", "123456789", "111111111", "333333333"}
)

# ABA routing numbers start with a Federal Reserve district (01-12), thrift (21-32),
# electronic (61-72) or traveller's cheque (80) prefix.
_ABA_PREFIXES = (*range(1, 13), *range(21, 33), *range(61, 73), 80)

# Country: (BBAN layout, national check). Layout letters: n digit, a upper-case letter.
_IBAN_LAYOUTS: dict[str, str] = {
    "DE": "nnnnnnnnnnnnnnnnnn",
    "GB": "aaaannnnnnnnnnnnnn",
    "FR": "nnnnnnnnnnnnnnnnnnnnnnn",
    "ES": "nnnnnnnnnnnnnnnnnnnn",
    "NL": "aaaannnnnnnnnn",
    "BE": "nnnnnnnnnnnn",
    "CH": "nnnnnnnnnnnnnnnnn",
}
_IBAN_BANKS = {
    "GB": ("NWBK", "BARC", "LOYD", "HBUK", "MIDL"),
    "NL": ("ABNA", "RABO", "INGB", "TRIO"),
}

# Area codes in service, so phone-number libraries accept the numbers as valid.
_US_AREA_CODES = (
    "201", "202", "203", "206", "212", "213", "214", "215", "216", "303", "305", "310", "312",
    "313", "404", "412", "415", "469", "503", "512", "602", "612", "617", "646", "702", "713",
    "718", "720", "773", "786", "801", "818", "904", "917", "949", "972",
)  # fmt: skip
_UK_LONDON = "20"


def luhn_ok(number: str) -> bool:
    """Whether a digit string passes the Luhn check (card numbers)."""
    total = 0
    for i, char in enumerate(reversed(number)):
        d = int(char)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return bool(number) and total % 10 == 0


def _luhn_digit(partial: str) -> str:
    """The check digit that makes `partial` + digit pass Luhn."""
    return next(d for d in string.digits if luhn_ok(partial + d))


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def card_number(rng: random.Random) -> str:
    """A Luhn-valid card number from a real scheme's IIN range, digits only."""
    prefixes, length = rng.choice(_CARD_SCHEMES)
    partial = rng.choice(prefixes)
    partial += _digits(rng, length - 1 - len(partial))
    return partial + _luhn_digit(partial)


def ssn_ok(number: str) -> bool:
    """Whether 9 digits are a possible SSN: area not 000/666/9xx, group and serial not zero."""
    if len(number) != 9 or not number.isdigit() or number in FAMOUS_INVALID_SSNS:
        return False
    area, group, serial = number[:3], number[3:5], number[5:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def ssn(rng: random.Random) -> str:
    """A valid-looking US social security number, 9 digits."""
    while True:
        number = f"{rng.randint(1, 899):03d}{rng.randint(1, 99):02d}{rng.randint(1, 9999):04d}"
        if ssn_ok(number) and len(set(number)) > 2:
            return number


def aba_ok(number: str) -> bool:
    """Whether 9 digits pass the ABA routing-number checksum (3-7-1 weights, mod 10)."""
    if len(number) != 9 or not number.isdigit():
        return False
    d = [int(c) for c in number]
    total = 3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5] + d[8])
    return total % 10 == 0


def aba_routing_number(rng: random.Random, leading_zero: bool = True) -> str:
    """A routing number with a real prefix and a correct checksum, 9 digits.

    With `leading_zero` off the prefix is 10 or more, so the number survives as a JSON integer.
    """
    prefixes = _ABA_PREFIXES if leading_zero else tuple(p for p in _ABA_PREFIXES if p >= 10)
    partial = f"{rng.choice(prefixes):02d}" + _digits(rng, 6)
    return next(partial + d for d in string.digits if aba_ok(partial + d))


def bank_account_number(rng: random.Random) -> str:
    """A US bank account number: 8 to 17 digits, the first not zero (no checksum exists)."""
    return str(rng.randint(1, 9)) + _digits(rng, rng.randint(7, 16))


def _iban_number(text: str) -> int:
    """An IBAN (or part) with letters as numbers (A=10 ... Z=35), for mod-97."""
    return int("".join(str(int(c, 36)) for c in text))


def iban_ok(value: str) -> bool:
    """Whether a compact IBAN has correct check digits (ISO 13616 mod-97 == 1)."""
    value = value.replace(" ", "").upper()
    if len(value) < 15 or not value[:2].isalpha() or not value[2:4].isdigit():
        return False
    return _iban_number(value[4:] + value[:4]) % 97 == 1


def _national_check(country: str, bban: str) -> str:
    """The BBAN with its national check digits set, where the country has them."""
    if country == "BE":  # last two digits: first ten mod 97 (97 for 0)
        check = int(bban[:10]) % 97 or 97
        return f"{bban[:10]}{check:02d}"
    if country == "FR":  # RIB key over bank (5), branch (5), account (11)
        bank, branch, account = int(bban[:5]), int(bban[5:10]), int(bban[10:21])
        key = 97 - (89 * bank + 15 * branch + 3 * account) % 97
        return f"{bban[:21]}{key:02d}"
    if country == "ES":  # two mod-11 digits: bank+branch, then account
        return bban[:8] + _es_digit("00" + bban[:8]) + _es_digit(bban[10:]) + bban[10:]
    return bban


def _es_digit(digits: str) -> str:
    weights = (1, 2, 4, 8, 5, 10, 9, 7, 3, 6)
    value = 11 - sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11
    return str({10: 1, 11: 0}.get(value, value))


def iban(rng: random.Random, country: str | None = None) -> str:
    """A compact IBAN with correct national and mod-97 check digits."""
    country = country or rng.choice(sorted(_IBAN_LAYOUTS))
    layout = _IBAN_LAYOUTS[country]
    bban = "".join(rng.choice(string.digits) for _ in layout if _ == "n")
    if country in _IBAN_BANKS:
        bban = rng.choice(_IBAN_BANKS[country]) + bban
    bban = _national_check(country, bban)
    check = 98 - _iban_number(bban + country + "00") % 97
    return f"{country}{check:02d}{bban}"


def phone_number(rng: random.Random) -> tuple[str, str]:
    """A valid US (or London) phone number: (national digits, written form with country code)."""
    if rng.random() < 0.15:
        national = _UK_LONDON + rng.choice("378") + _digits(rng, 7)
        return national, rng.choice(
            (
                f"+44 {national[:2]} {national[2:6]} {national[6:]}",
                f"0{national[:2]} {national[2:6]} {national[6:]}",
            )
        )
    while True:
        exchange = str(rng.randint(2, 9)) + _digits(rng, 2)
        if exchange[1:] != "11" and exchange != "555":
            break
    area, line = rng.choice(_US_AREA_CODES), _digits(rng, 4)
    national = area + exchange + line
    written = rng.choice(
        (
            f"({area}) {exchange}-{line}",
            f"{area}-{exchange}-{line}",
            f"+1 {area}-{exchange}-{line}",
            f"+1 ({area}) {exchange} {line}",
            f"{area}.{exchange}.{line}",
        )
    )
    return national, written


# --- benign look-alikes -----------------------------------------------------------------------


def ticket_id(rng: random.Random) -> str:
    """A support ticket id: T-48213, TCK-004821, INC0012345."""
    return rng.choice(
        (
            f"T-{rng.randint(10000, 99999)}",
            f"TCK-{rng.randint(0, 999999):06d}",
            f"INC{rng.randint(0, 9999999):07d}",
        )
    )


def order_number(rng: random.Random) -> str:
    """A 13 to 19 digit order number shaped like a card number but failing the Luhn check."""
    prefixes, length = rng.choice(_CARD_SCHEMES)
    length = max(length, 13)
    while True:
        number = rng.choice(prefixes)
        number += _digits(rng, length - len(number))
        if not luhn_ok(number):
            break
    if rng.random() < 0.3 and length == 16:
        return " ".join(number[i : i + 4] for i in range(0, 16, 4))
    return rng.choice(("", "", "ORD-")) + number


def iso_timestamp(rng: random.Random) -> str:
    """An ISO 8601 timestamp in 2025-2026, UTC or with an offset, sometimes with milliseconds."""
    start = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    moment = start + datetime.timedelta(seconds=rng.randint(0, 2 * 365 * 86400))
    if rng.random() < 0.3:
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if rng.random() < 0.3:
        offset = datetime.timezone(datetime.timedelta(hours=rng.choice((-5, 1, 2, 5))))
        return moment.astimezone(offset).isoformat(timespec="seconds")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def amount(rng: random.Random) -> str:
    """A money amount as text: 42.50, 1,299.00, $18.99, EUR 240.00."""
    value = rng.randint(100, 250000) / 100
    return rng.choice((f"{value:.2f}", f"{value:,.2f}", f"${value:.2f}", f"EUR {value:.2f}"))


def sku(rng: random.Random) -> str:
    """A stock-keeping unit: SKU-84721-BLK, HX-2291-XL."""
    letters = "".join(rng.choice(string.ascii_uppercase) for _ in range(2))
    return rng.choice(
        (
            f"SKU-{rng.randint(10000, 99999)}-{rng.choice(('BLK', 'WHT', 'RED', 'BLU'))}",
            f"{letters}-{rng.randint(1000, 9999)}-{rng.choice(('S', 'M', 'L', 'XL'))}",
        )
    )


def _fail_luhn(number: str) -> str:
    """`number` with its last digit changed if it happens to pass Luhn."""
    if luhn_ok(number):
        return number[:-1] + str((int(number[-1]) + 1) % 10)
    return number


def tracking_number(rng: random.Random) -> str:
    """A parcel tracking number: UPS 1Z..., FedEx 12 or 15 digits, USPS 22 digits."""
    kind = rng.choice(("ups", "fedex12", "fedex15", "usps"))
    if kind == "ups":
        alnum = "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(6))
        return f"1Z{alnum}{_digits(rng, 10)}"
    if kind == "fedex12":
        return str(rng.randint(1, 9)) + _digits(rng, 11)
    if kind == "fedex15":
        return _fail_luhn("96" + _digits(rng, 13))
    return "9400" + _digits(rng, 18)


def agent_id(rng: random.Random) -> str:
    """A contact-centre agent id: agent-0427, AG-10234, emp_88213."""
    return rng.choice(
        (
            f"agent-{rng.randint(0, 9999):04d}",
            f"AG-{rng.randint(10000, 99999)}",
            f"emp_{rng.randint(10000, 99999)}",
        )
    )
