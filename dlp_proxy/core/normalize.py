"""Undo the disguises that make PII invisible to pattern recognizers, keeping offsets.

Every Unicode digit form becomes an ASCII digit (Arabic-Indic and full-width, superscripts and
subscripts, circled and dingbat digits, mathematical digits), no-break and other odd spaces
become plain spaces, every dash a hyphen, and compatibility forms are folded (NFKC).
Characters that render as nothing disappear: format characters (zero-width, bidi controls, tag
characters, soft hyphen, BOM), control characters but tab and line ends (NUL ...), variation
selectors, Hangul fillers, and combining marks that follow no letter (`2\u0332`, a keycap's
U+20E3). A combining mark after a letter stays: in decomposed text it is part of a name.

Recognizers run on the normalised text; `Normalized.span` maps a match back to the original
text, so the rewrite covers the disguised characters too. Encoded words inside text (base64,
hex, character references, number words ...) are `dlp_proxy.core.encodings`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = ["Normalized", "normalize"]

# Characters that render as nothing and are used to break up a value, beyond the format (Cf)
# and control (Cc) categories, which are dropped whole.
_INVISIBLE = frozenset(
    "\u034f"  # combining grapheme joiner
    "\u115f\u1160\u3164\uffa0"  # Hangul fillers (letters that render as nothing)
    "\u17b4\u17b5"  # Khmer inherent vowels
    "\u2800"  # braille blank
)
# Not dashes to Unicode (Sm, Po, Lm) but written as one: minus sign, hyphen bullet, modifier minus.
_DASH_LIKE = frozenset("\u2212\u2043\u02d7")
_KEPT_CONTROLS = frozenset("\t\n\x0b\x0c\r")
# ASCII text without these is its own normal form (the common case: no table is built).
_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def _is_variation_selector(char: str) -> bool:
    return "\ufe00" <= char <= "\ufe0f" or "\U000e0100" <= char <= "\U000e01ef"


@dataclass(frozen=True)
class Normalized:
    """Normalised text and, for each of its characters, the index it came from."""

    text: str
    # Where each character came from; None when each came from its own index (plain ASCII),
    # which most texts are: no tuple of indexes is built for them.
    folded_origins: tuple[int, ...] | None
    original_length: int
    changed: bool = False

    @property
    def origins(self) -> tuple[int, ...]:
        """For each character of `text`, the index in the original it came from."""
        if self.folded_origins is None:
            return tuple(range(len(self.text)))
        return self.folded_origins

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that `text[start:end]` came from.

        It reaches over the characters dropped right after its last one (a mark after the last
        digit), so that a rewrite leaves none of the disguise behind.
        """
        if self.folded_origins is None:
            if start >= end:
                start = min(start, self.original_length)
                return start, start
            return start, end
        origins = self.folded_origins
        if start >= end:
            origin = origins[start] if start < len(origins) else self.original_length
            return origin, origin
        after = origins[end] if end < len(origins) else self.original_length
        return origins[start], max(origins[end - 1] + 1, after)


def normalize(text: str) -> Normalized:
    """Fold `text` for detection; cheap when there is nothing to fold (plain ASCII)."""
    if text.isascii() and not _ASCII_CONTROL.search(text):
        return Normalized(text, None, len(text))
    chars: list[str] = []
    origins: list[int] = []
    after_letter = False  # the last character kept is a letter (or a mark on one)
    for index, char in enumerate(text):
        if char.isascii():
            folded = "" if (char < " " and char not in _KEPT_CONTROLS) or char == "\x7f" else char
        elif unicodedata.category(char) in ("Mn", "Me"):
            # A mark on a letter is part of a name; on a digit or a dash it is a disguise.
            keep = after_letter and not _is_variation_selector(char)
            folded = char if keep else ""
        else:
            folded = _fold(char)
        if folded:
            last = folded[-1]
            after_letter = last.isalpha() or unicodedata.category(last) in ("Mn", "Me")
            for part in folded:
                chars.append(part)
                origins.append(index)
    result = "".join(chars)
    return Normalized(result, tuple(origins), len(text), changed=result != text)


def _fold(char: str) -> str:
    """One non-ASCII character that is not a combining mark, folded."""
    if char in _INVISIBLE:
        return ""
    category = unicodedata.category(char)
    if category in ("Cf", "Cc", "Co"):  # format and control characters, private use
        return ""
    digit = unicodedata.digit(char, None)  # Nd, and No digits: ², ₂, ②, ❷
    if digit is not None:
        return str(digit)
    if char.isspace() or category == "Zs":
        return " "
    if category == "Pd" or char in _DASH_LIKE:  # every dash: en, em, figure, non-breaking
        return "-"
    # NFKC can expand one character into several (ﬁ -> fi); each keeps the same origin.
    return unicodedata.normalize("NFKC", char)
