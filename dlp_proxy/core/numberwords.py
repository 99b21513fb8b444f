"""Numbers written as words, as speech-to-text writes them in call transcripts, read as digits.

"my social is two one nine zero nine nine nine nine nine" holds an SSN no pattern sees. A run
of number words (and digits) becomes its digits: `zero`/`oh`/`nought`, `one` ... `nine`,
`ten` ... `nineteen`, `twenty` ... `ninety` (`twenty one` is 21, `twenty` alone 20), `double`
and `triple` before a digit word (`double nine` is 99). Words in a run may be separated by
spaces, hyphens, commas or full stops (`two-one-nine, zero nine`), or by `dash` and the
fillers `uh`/`um`; a comma, a full stop or `dash` between words becomes a space between their
digits, so that the groups a caller made stay groups (`219 09 9999`).

English, and the digits 0-9 in Spanish, French and German (`cero`, `zéro`, `null` ...): cheap
and safe, since only long runs count. A run counts when it has at least `MIN_WORDS` number
words and gives at least `MIN_DIGITS` digits: no identifier we look for is shorter, and prose
("one or two", "I called three times", "twenty minutes", "a one-off") never has that many
number words in a row. Each run is an encoded word (`dlp_proxy.core.encodings`): a finding in
its digits covers the words, so a redaction replaces them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

__all__ = ["MIN_DIGITS", "MIN_WORDS", "number_words"]

# A run of number words is read as a number when it gives this many digits ...
MIN_DIGITS = 7
# ... from at least this many number words (digits written as digits count for MIN_DIGITS).
MIN_WORDS = 2

_ENGLISH = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_OTHER = (
    ("cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve"),
    ("zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf"),
    ("null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun"),
)
_DIGITS: dict[str, str] = {
    word: str(value) for words in (_ENGLISH, *_OTHER) for value, word in enumerate(words)
}
_DIGITS |= {"oh": "0", "nought": "0", "zero": "0", "una": "1"}
_TEENS = {
    word: str(10 + value)
    for value, word in enumerate(
        (
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
        )
    )
}
_TENS = {
    word: str(value + 2)
    for value, word in enumerate(
        ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
    )
}
_REPEATS = {"double": 2, "triple": 3}
_BREAKS = frozenset({"dash"})  # a spoken separator between groups
_FILLERS = frozenset({"uh", "um", "er", "erm"})
_WORDS = (*_DIGITS, *_TEENS, *_TENS, *_REPEATS, *_BREAKS, *_FILLERS)
_TOKEN = re.compile(
    r"(?<![^\W\d_])(?:" + "|".join(sorted(_WORDS, key=len, reverse=True)) + r")(?![^\W\d_])|\d+",
    re.IGNORECASE,
)
# What may stand between two tokens of one number.
_GAP = re.compile(r"[ \t\r\n]*(?:[,.\-][ \t\r\n]*)?")


# The cheap test: two number tokens in a row, on the text lower-cased, in UTF-8, its
# punctuation made spaces and its digits zeros (a group of digits is one of these "words" of
# zeros). Bytes, because `bytes.translate` is many times faster than `str.translate`.
_TOKENS = frozenset(w.lower().encode() for w in _WORDS) | {b"0" * n for n in range(1, 20)}
_FOLD = bytes.maketrans(b",.;:!?()\"'-" + b"123456789", b" " * 11 + b"0" * 9)


def _two_in_a_row(text: str) -> bool:
    if text.isalnum():  # one word or one number (most table cells): no two tokens in a row
        return False
    words = text.lower().encode("utf-8", "replace").translate(_FOLD).split()
    return b"\x01\x01" in bytes(map(_TOKENS.__contains__, words))


def number_words(text: str) -> Iterator[tuple[int, int, str]]:
    """`(start, end, digits)` for each run of number words in `text` long enough to count."""
    if not _two_in_a_row(text):
        return
    run: list[re.Match[str]] = []
    for match in _TOKEN.finditer(text):
        if run and not _GAP.fullmatch(text, run[-1].end(), match.start()):
            yield from _counted(text, run)
            run = []
        run.append(match)
    yield from _counted(text, run)


def _counted(text: str, run: list[re.Match[str]]) -> Iterator[tuple[int, int, str]]:
    """The run's digits, when it is long enough (fillers and breaks at its ends trimmed)."""
    while run and run[-1].group().lower() in _BREAKS | _FILLERS:
        run = run[:-1]
    while run and run[0].group().lower() in _BREAKS | _FILLERS:
        run = run[1:]
    words = sum(1 for m in run if not m.group().isdigit())
    if words < MIN_WORDS:
        return
    digits = _digits(text, run)
    if sum(c.isdigit() for c in digits) >= MIN_DIGITS:
        yield run[0].start(), run[-1].end(), digits


def _digits(text: str, run: list[re.Match[str]]) -> str:
    out: list[str] = []
    tokens = [m.group().lower() for m in run]
    i = 0
    while i < len(tokens):
        token, following = tokens[i], tokens[i + 1] if i + 1 < len(tokens) else ""
        if i and _breaks_group(text, run[i - 1], run[i]):
            out.append(" ")
        step = 1
        if token in _REPEATS and following in _DIGITS:
            out.append(_DIGITS[following] * _REPEATS[token])
            step = 2
        elif token in _TENS:
            if following in _DIGITS and _DIGITS[following] != "0":
                out.append(_TENS[token] + _DIGITS[following])
                step = 2
            else:
                out.append(_TENS[token] + "0")
        elif token in _TEENS:
            out.append(_TEENS[token])
        elif token in _DIGITS:
            out.append(_DIGITS[token])
        elif token.isdigit():
            out.append(token)
        elif token in _BREAKS:
            out.append(" ")
        i += step
    return re.sub(" +", " ", "".join(out)).strip()


def _breaks_group(text: str, before: re.Match[str], after: re.Match[str]) -> bool:
    """A comma or a full stop between two tokens ends a group of digits."""
    gap = text[before.end() : after.start()]
    return "," in gap or "." in gap
