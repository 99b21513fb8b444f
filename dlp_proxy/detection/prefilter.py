"""Cheap tests that rule out work before the analyzer runs.

Presidio runs every selected recognizer over every text, and spaCy's NER over all of it. Most
values in call-centre traffic cannot hold most entity types: `billing` has no digit, so no card,
phone or account number; a sentence with no capitalised word that could be a name gives the
NER model nothing to find a person in. Two tests, both linear in the text and far cheaper than
what they save:

- `possible_entities`: the entity types whose recognizers need something the text does not
  have (a number of digits, an `@`, a `:`). The limits are the least any recognizer's pattern
  or our own plausibility check accepts (checked against presidio-analyzer 2.2.366 and
  `recognizers.py`), so ruling a type out never loses a finding that would have been reported.
  A type not listed here (custom detectors, names, driver's licences...) is always possible.
- `name_windows`: the parts of a text where a proper noun could be. In a text whose sentences
  start with a capital, names have one too: only sentences with a word that starts with a
  capital go through NER for names, places and organisations, not counting a sentence's first
  word when it is a function word ("The", "Please", "Since"). A text with a sentence whose
  first word is in lower case goes through NER whole (docs/detection.md has the measurements).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "PROPER_NOUN_ENTITIES",
    "TextProfile",
    "name_windows",
    "possible_entities",
    "profile",
]

# NER entity types that are proper nouns: written with a capital in English.
PROPER_NOUN_ENTITIES = frozenset({"PERSON", "LOCATION", "NRP", "ORGANIZATION"})

_DIGIT = re.compile(r"\d")  # any Unicode digit, as Presidio's `\d` patterns match


@dataclass(frozen=True)
class TextProfile:
    """What a text has that recognizers need: its number of digits and a few characters."""

    digits: int
    at_sign: bool
    colon: bool
    dot: bool


def profile(text: str) -> TextProfile:
    """Count and look up, once per text, what `possible_entities` asks about."""
    return TextProfile(
        digits=len(_DIGIT.findall(text)),
        at_sign="@" in text,
        colon=":" in text,
        dot="." in text,
    )


def _digits(least: int) -> Callable[[TextProfile], bool]:
    return lambda p: p.digits >= least


# The least each entity type's recognizers need. Digits: the shortest match any pattern takes
# (a card number 13 digits, kept at 12 for margin; an SSN, ITIN or routing number 9; a US bank
# account 8; a phone number 7, below which `recognizers.plausible` drops it; an IPv4 address 4;
# a birth date's year 4; an IBAN's check digits 2; a street address its house number).
_NEEDS: dict[str, Callable[[TextProfile], bool]] = {
    "CREDIT_CARD": _digits(12),
    "US_SSN": _digits(9),
    "US_ITIN": _digits(9),
    "ABA_ROUTING_NUMBER": _digits(9),
    "UK_NHS": _digits(10),
    "US_BANK_NUMBER": _digits(8),
    "US_PASSPORT": _digits(8),
    "PHONE_NUMBER": _digits(7),
    "DATE_OF_BIRTH": _digits(4),
    "IBAN_CODE": _digits(2),
    "STREET_ADDRESS": _digits(1),
    "EMAIL_ADDRESS": lambda p: p.at_sign,
    "IP_ADDRESS": lambda p: p.digits >= 4 or p.colon,
    "URL": lambda p: p.dot,
}


@functools.lru_cache(maxsize=4096)  # few distinct profiles: digit counts and three flags
def possible_entities(text_profile: TextProfile, entities: frozenset[str]) -> frozenset[str]:
    """The types in `entities` a text with `text_profile` could hold; unknown types are kept."""
    return frozenset(e for e in entities if (need := _NEEDS.get(e)) is None or need(text_profile))


# A sentence ends at . ! or ? followed by white space, or at a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\s*\n\s*")
# Punctuation around a word: "(Maria)", "Agent:", "Chen,".
_AROUND = "\"'()[]{}<>.,;:!?*#\u2018\u2019\u201c\u201d"

# Function words and greetings, which open sentences with a capital and are never names.
# "May" and "Will" are left out: they are names too.
_FUNCTION_WORDS = frozenset(
    {
        "a", "about", "after", "again", "all", "also", "an", "and", "any", "are", "as", "at",
        "be", "because", "before", "both", "but", "by", "can", "could", "did", "do", "does",
        "each", "either", "even", "every", "for", "from", "had", "has", "have", "he", "her",
        "here", "hers", "him", "his", "how", "however", "i", "if", "in", "into", "is", "it",
        "its", "just", "let", "many", "me", "might", "more", "most", "much", "must", "my",
        "neither", "no", "nor", "not", "now", "of", "on", "once", "only", "or", "our", "ours",
        "please", "she", "should", "since", "so", "some", "such", "than", "that", "the",
        "their", "them", "then", "there", "these", "they", "this", "those", "though", "thus",
        "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when",
        "where", "whether", "which", "while", "who", "whom", "whose", "why", "with", "would",
        "yet", "you", "your", "yours",
        "alright", "bye", "dear", "good", "great", "hello", "hey", "hi", "none", "nothing",
        "oh", "perfect", "sorry", "sure", "thank", "thanks", "well", "yeah",
        "yep", "yes",
    }
)  # fmt: skip
# Words always written with a capital that are not names: "I", and the days and months that
# are not also first names (April, May, June and August are).
_ALWAYS_CAPITALISED = frozenset(
    {
        "i", "i'm", "i'll", "i've", "i'd", "ok", "okay",
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
        "january", "february", "march", "july", "september", "october", "november", "december",
    }
)  # fmt: skip


def _words(sentence: str) -> list[str]:
    """The sentence's words that could be part of a name.

    White-space separated, punctuation around them removed; a letter first, and no digit, `@`,
    `_` or `/`, so that identifiers, addresses and numbers are not taken for words.
    """
    words = []
    for token in sentence.split():
        word = token.strip(_AROUND)
        if word[:1].isalpha() and not _NOT_IN_NAMES.search(word):
            words.append(word)
    return words


_NOT_IN_NAMES = re.compile(r"[\d@_/]")


def _has_candidate(words: list[str]) -> bool:
    for i, word in enumerate(words):
        lower = word.lower()
        capitalised = word[0] != lower[0] and lower not in _ALWAYS_CAPITALISED
        if capitalised and not (i == 0 and lower in _FUNCTION_WORDS):
            return True
    return False


def name_windows(text: str) -> list[tuple[int, int]]:
    """The spans of `text` (start, end) worth running NER over for proper nouns.

    A text whose writer does not capitalise (a sentence of two words or more starts with a
    lower-case letter: chat typed in a hurry, speech-to-text) is one span, whole: its names
    are not capitalised either. Otherwise each span is one or more whole sentences with a word
    that could be a proper noun, adjacent ones merged; none when no sentence has one. A
    transcript's role labels ("Agent:", "Customer:") are not words of their sentence.
    """
    if text == text.lower() and len(text.split(None, 1)) < 2:
        return []  # one word, no capital: neither a capitalised word nor a writer's sentence
    sentences = [
        (start, end, _words(_unlabelled(text[start:end]))) for start, end in _sentences(text)
    ]
    if any(_uncapitalised(words) for _, _, words in sentences):
        return [_stripped(text, 0, len(text))]
    windows: list[tuple[int, int]] = []
    for start, end, words in sentences:
        if not _has_candidate(words):
            continue
        if windows and not text[windows[-1][1] : start].strip():
            windows[-1] = (windows[-1][0], end)  # the next sentence: one window
        else:
            windows.append((start, end))
    return windows


# A speaker's role opening a line of a transcript: "Agent: Thank you." reads from "Thank".
_ROLE_LABEL = re.compile(
    r"(?:agent|customer|caller|client|rep|representative|operator|advisor|adviser|supervisor"
    r"|support|system|bot|assistant|user)\s*:\s*",
    re.IGNORECASE,
)


def _unlabelled(sentence: str) -> str:
    """The sentence without a role label in front (a name as the label stays)."""
    label = _ROLE_LABEL.match(sentence)
    return sentence[label.end() :] if label else sentence


def _sentences(text: str) -> list[tuple[int, int]]:
    """Each sentence's span, without the white space around it; empty ones left out."""
    spans = []
    start = 0
    for end_match in [*_SENTENCE_END.finditer(text), None]:
        end = end_match.start() if end_match else len(text)
        span = _stripped(text, start, end)
        if span[1] > span[0]:
            spans.append(span)
        if end_match is not None:
            start = end_match.end()
    return spans


def _uncapitalised(words: list[str]) -> bool:
    """A sentence of two words or more whose first word starts in lower case (or no case)."""
    return len(words) >= 2 and words[0][0] == words[0][0].lower()


def _stripped(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
