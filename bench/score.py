"""The scorer: which labelled values reached the vendor, which benign values were altered.

A value has leaked when someone holding what the vendor received could read it back by
undoing what is cheap to undo: compression (per Content-Encoding), percent-encoding (repeated,
`+` as space or not), JSON string escapes, HTML/XML entities, base64 (any run of base64
characters that decodes to printable UTF-8, recursively), Unicode compatibility forms (NFKC),
other scripts' digits, zero-width characters and soft hyphens. Numbers (cards, SSNs, account
and routing numbers, IBANs, phone numbers, birth dates) are compared on their letters and digits
only, so separators do not hide them; a card split over two fields has leaked when both parts
arrived. Names, emails, street and IP addresses are compared as text, case-insensitively on
normalised whitespace. A token (`dlp:v1:...`), a mask (`****1111`) or a placeholder is no leak.

A benign value is altered when it occurs fewer times in what the vendor received than in what
was sent (same readings on both sides); values only in WebSocket messages the gateway dropped
count as not delivered, not as altered. A clean request is changed when its body, path and query,
one of its headers or one of its WebSocket messages differs by a byte. A request that did not
reach the vendor leaks nothing; for a clean request that is a failure.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import difflib
import html
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote, unquote_plus

from mitmproxy.net.encoding import decode

from bench.cases import Case, Label, Transfer
from bench.disguises import NUMERIC_ENTITIES

__all__ = [
    "BenignOutcome",
    "Delivery",
    "LabelOutcome",
    "Outcome",
    "Reading",
    "compact",
    "decoded_texts",
    "decompress",
    "delivered_messages",
    "leaked",
    "normalise",
    "read",
    "read_sent",
    "score_case",
]

# Characters that render as nothing: zero-width space, joiners, word joiner, invisible
# operators, BOM, soft hyphen, Mongolian vowel separator.
INVISIBLE = "\u00ad\u180e\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff"
# Entities compared on letters and digits only: the ones written as digit groups.
COMPACT_ENTITIES = NUMERIC_ENTITIES
COMPRESSIONS = ("gzip", "deflate", "br", "zstd")
MAX_READINGS = 5000  # readings of one transfer, a bound against pathological inputs
MIN_SIMILARITY = 0.5  # a received WebSocket message at least this alike is the sent one
MIN_BASE64 = 8  # characters: base64 of a six-letter value ("Amy Wu")

_DROP_INVISIBLE = {ord(c): None for c in INVISIBLE}
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_SPACES = re.compile(r"\s+")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_BASE64_RUN = re.compile(rf"[A-Za-z0-9+/_-]{{{MIN_BASE64},}}={{0,2}}")
_WRAPPED_LINE = re.compile(r"(?<=[A-Za-z0-9+/=])\r?\n(?=[A-Za-z0-9+/])")
_JSON_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|[\"\\/bfnrt])")
_JSON_SIMPLE = {
    '"': '"',
    "\\": "\\",
    "/": "/",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
}


# --- normalisation ----------------------------------------------------------------------------


def _fold(match: re.Match[str]) -> str:
    """One non-ASCII character after NFKC: digits to ASCII, spaces to ' ', dashes to '-'."""
    char = match.group()
    category = unicodedata.category(char)
    if category == "Nd":
        return str(unicodedata.digit(char))
    if category == "Zs" or char.isspace():
        return " "
    if category == "Pd":
        return "-"
    return char


def normalise(text: str) -> str:
    """`text` as compared: invisible characters dropped, NFKC, ASCII digits, one space, casefold."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text.translate(_DROP_INVISIBLE))
        text = _NON_ASCII.sub(_fold, text)
    return _SPACES.sub(" ", text).casefold()


def compact(text: str) -> str:
    """Letters and digits only, of normalised text (`4111 1111` -> `41111111`)."""
    return _NON_ALNUM.sub("", normalise(text))


# --- decoding ---------------------------------------------------------------------------------


def _json_unescape(text: str) -> str:
    r"""JSON string escapes undone (`\u00e9`, `\"`), surrogate pairs joined."""

    def one(match: re.Match[str]) -> str:
        escape = match.group(1)
        return chr(int(escape[1:], 16)) if escape[0] == "u" else _JSON_SIMPLE[escape]

    out = _JSON_ESCAPE.sub(one, text)
    return out.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _base64_text(candidate: str) -> str | None:
    """What a base64 (or base64url) run decodes to, if that is printable UTF-8 text."""
    data = candidate.rstrip("=").replace("-", "+").replace("_", "/")
    if len(data) % 4 == 1:
        data = data[:-1]
    try:
        text = base64.b64decode(data + "=" * (-len(data) % 4), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    if not text or not all(c.isprintable() or c in "\r\n\t" for c in text):
        return None
    return text


def _base64_candidates(text: str, wrapped_once: bool = False) -> Iterable[str]:
    """Runs of base64 characters, also across wrapped lines and split at '/' (URL paths).

    `wrapped_once`: runs across wrapped lines only, where lines are wrapped (for counting:
    a MIME part's base64 read line by line as well as whole counts its values twice, as many
    times as its line breaks happen to fall between them).
    """
    joined = _WRAPPED_LINE.sub("", text)
    sources = {joined} if wrapped_once else {text, joined}
    for source in sources:
        for run in _BASE64_RUN.findall(source):
            yield run
            if "/" in run:
                yield from (p for p in run.split("/") if len(p) >= MIN_BASE64)


def _variants(text: str) -> Iterable[str]:
    """Each cheap decoding of `text` that changes it."""
    if "%" in text:
        yield unquote(text)
    if "%" in text or "+" in text:
        yield unquote_plus(text)
    if "\\" in text:
        yield _json_unescape(text)
    if "&" in text:
        yield html.unescape(text)
    for candidate in _base64_candidates(text):
        decoded = _base64_text(candidate)
        if decoded is not None:
            yield decoded


def _expand(texts: Iterable[str]) -> list[str]:
    """The texts and every text reachable from them by cheap decodings (bounded)."""
    seen: dict[str, None] = {}
    frontier = [t for t in texts if t]
    while frontier and len(seen) < MAX_READINGS:
        text = frontier.pop()
        if text in seen:
            continue
        seen[text] = None
        frontier.extend(v for v in _variants(text) if v not in seen)
    return list(seen)


def decompress(body: bytes, encoding: str) -> bytes:
    """`body` decompressed per a Content-Encoding (unchanged if none, unknown or not so)."""
    if encoding.strip().lower() in COMPRESSIONS:
        with contextlib.suppress(ValueError):  # not what the header says: read it as it is
            decoded = decode(body, encoding.strip().lower())
            if isinstance(decoded, bytes):
                return decoded
    return body


def body_text(transfer: Transfer) -> str:
    """The body decompressed per its Content-Encoding, as text."""
    body = decompress(transfer.body, transfer.header("content-encoding") or "")
    return body.decode("utf-8", "replace")


def _surface(transfer: Transfer) -> list[str]:
    """The texts a transfer carries on its face: body, path and query, headers, messages."""
    return [
        body_text(transfer),
        transfer.path,
        *(value for _, value in transfer.headers),
        *(m.decode("utf-8", "replace") for m in transfer.messages),
    ]


def decoded_texts(transfer: Transfer) -> list[str]:
    """Every decoding of what a transfer carries, before normalisation (for inspection)."""
    return _expand(_surface(transfer))


@dataclass(frozen=True)
class Reading:
    """Every way of reading a transfer, normalised; compacted for numbers; canonical for counts.

    `canonical` and `canonical_plus` are one fixed decoding of the whole transfer (and of the
    base64 blobs in it), with `+` kept or read as a space (form bodies).
    """

    texts: tuple[str, ...]
    compacts: tuple[str, ...]
    canonical: tuple[str, ...]
    canonical_plus: tuple[str, ...]

    def contains_text(self, key: str, boundary: bool = False) -> bool:
        """Whether normalised `key` occurs in a reading (not inside a longer number/word)."""
        if not boundary:
            return any(key in t for t in self.texts)
        pattern = re.compile(r"(?<![0-9a-z.:])" + re.escape(key) + r"(?![0-9a-z:]|\.[0-9])")
        return any(pattern.search(t) for t in self.texts)

    def contains_compact(self, key: str) -> bool:
        """Whether compacted `key` occurs in a compacted reading."""
        return bool(key) and any(key in t for t in self.compacts)

    def count(self, value: str) -> int:
        """How often `value` (normalised) occurs in the canonical readings (`+` read both ways)."""
        key = normalise(value)
        return max(
            sum(t.count(key) for t in self.canonical),
            sum(t.count(key) for t in self.canonical_plus),
        )


def _decode_once(text: str, plus: bool) -> str:
    """The fixed decoding used for counting: percent (`+` as space or not), JSON, entities."""
    return html.unescape(_json_unescape(unquote_plus(text) if plus else unquote(text)))


def _canonical(surface: list[str], plus: bool) -> tuple[str, ...]:
    """The surface decoded once, and each base64 blob in it decoded, normalised."""
    decoded = _decode_once("\n".join(surface), plus)
    blobs = [
        normalise(_decode_once(t, plus))
        for c in dict.fromkeys(_base64_candidates(decoded, wrapped_once=True))
        if (t := _base64_text(c))
    ]
    return (normalise(decoded), *blobs)


def read(transfer: Transfer) -> Reading:
    """All readings of a transfer, for leak checks and benign counts."""
    surface = _surface(transfer)
    texts = [normalise(t) for t in _expand(surface)]
    return Reading(
        texts=tuple(texts),
        compacts=tuple(_NON_ALNUM.sub("", t) for t in texts),
        canonical=_canonical(surface, plus=False),
        canonical_plus=_canonical(surface, plus=True),
    )


@lru_cache(maxsize=1024)
def read_sent(case: Case) -> Reading:
    """The readings of a case as sent (cached: the baseline and the proxy share them)."""
    return read(case.transfer())


@lru_cache(maxsize=65536)
def _key(entity: str, value: str, written: str) -> str:
    if entity == "PHONE_NUMBER":
        return value  # the national number: "+1 " dropped still leaks it
    if entity in COMPACT_ENTITIES:
        return compact(written)
    return normalise(written).strip()


def leaked(label: Label, reading: Reading) -> bool:
    """Whether `label`'s value can be read back from `reading`."""
    if label.parts:
        whole = reading.contains_compact(compact(label.value))
        return whole or all(reading.contains_compact(compact(p)) for p in label.parts)
    key = _key(label.entity, label.value, label.written)
    if label.entity in COMPACT_ENTITIES:
        return reading.contains_compact(key)
    return reading.contains_text(key, boundary=label.entity == "IP_ADDRESS")


# --- outcomes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """How a case went through: what the vendor received (None: nothing), what the client saw.

    `status` is the client's HTTP status (101 for an accepted WebSocket, 0 when the connection
    failed); `blocked` says the gateway refused the request by policy.
    """

    received: Transfer | None
    status: int
    blocked: bool = False


@dataclass(frozen=True)
class LabelOutcome:
    """One PII label: its entity, the disguise applied to it, whether it leaked."""

    entity: str
    disguise: str
    leaked: bool


@dataclass(frozen=True)
class BenignOutcome:
    """One benign value: its kind, whether it was altered (None: the request never arrived)."""

    kind: str
    altered: bool | None


@dataclass(frozen=True)
class Outcome:
    """Everything scored for one case."""

    case_id: str
    format: str
    disguise: str
    transport: str
    encoding: str
    clean: bool
    delivered: bool
    blocked: bool
    status: int
    changed: bool | None
    labels: tuple[LabelOutcome, ...]
    benign: tuple[BenignOutcome, ...]
    dropped_messages: int = 0

    @property
    def clean_failed(self) -> bool:
        """A clean case that was blocked, lost or changed."""
        return self.clean and (not self.delivered or bool(self.changed))


def changed(sent: Transfer, received: Transfer) -> bool:
    """Whether any byte of the body, path, a sent header or a WebSocket message differs."""
    if sent.body != received.body or sent.path != received.path:
        return True
    if sent.messages != received.messages:
        return True
    return any(received.header(name) != value for name, value in sent.headers)


def _similarity(a: bytes, b: bytes) -> float:
    """How alike two messages are, ignoring whitespace (re-serialised JSON stays alike)."""
    return difflib.SequenceMatcher(None, b"".join(a.split()), b"".join(b.split())).ratio()


def delivered_messages(sent: Sequence[bytes], received: Sequence[bytes]) -> tuple[bytes, ...]:
    """The sent messages that arrived (changed or not), in order; those dropped left out.

    Sent and received messages are aligned in order, maximising the total similarity of the
    pairs; a pair less than half alike is no match.
    """
    n, m = len(sent), len(received)
    best = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            similarity = _similarity(sent[i], received[j])
            pair = best[i + 1][j + 1] + similarity if similarity >= MIN_SIMILARITY else -1.0
            best[i][j] = max(best[i + 1][j], best[i][j + 1], pair)
    kept, i, j = [], 0, 0
    while i < n and j < m:
        if best[i][j] == best[i + 1][j]:
            i += 1
        elif best[i][j] == best[i][j + 1]:
            j += 1
        else:
            kept.append(sent[i])
            i, j = i + 1, j + 1
    return tuple(kept)


def _benign(case: Case, received: Transfer, after: Reading) -> tuple[BenignOutcome, ...]:
    """Each benign value altered or not; None for values only in messages that were dropped."""
    before = read_sent(case)
    if case.messages and len(received.messages) < len(case.messages):
        kept = delivered_messages(case.messages, received.messages)
        before = read(Transfer(case.path, case.headers, case.body, kept))
    outcomes = []
    for b in case.benign:
        sent = before.count(b.value)
        outcomes.append(BenignOutcome(b.kind, after.count(b.value) < sent if sent else None))
    return tuple(outcomes)


def score_case(case: Case, delivery: Delivery) -> Outcome:
    """Score one case against what the vendor received."""
    received = delivery.received
    if received is None:
        labels = tuple(LabelOutcome(x.entity, x.disguise, False) for x in case.labels)
        benign = tuple(BenignOutcome(b.kind, None) for b in case.benign)
        is_changed = None
    else:
        after = read(received)
        labels = tuple(LabelOutcome(x.entity, x.disguise, leaked(x, after)) for x in case.labels)
        benign = _benign(case, received, after)
        is_changed = changed(case.transfer(), received)
    return Outcome(
        case_id=case.id,
        format=case.format,
        disguise=case.disguise,
        transport=case.transport,
        encoding=case.content_encoding,
        clean=case.clean,
        delivered=received is not None,
        blocked=delivery.blocked,
        status=delivery.status,
        changed=is_changed,
        labels=labels,
        benign=benign,
        dropped_messages=len(case.messages) - len(received.messages) if received else 0,
    )
