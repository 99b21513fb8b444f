"""The labelled corpus: seeded, every format crossed with the disguises that make sense for it.

    python -m bench.corpus --seed 1 --size 330            # a summary of what it holds
    python -m bench.corpus --seed 1 --out corpus.jsonl    # every case, bodies in base64

Every fourth case is clean (benign values only); the others draw two to four rewritten
entities, often a blocked one (SSN, bank account with its routing number, IBAN), and three to
five kinds of benign look-alike. About a third of the bodies are compressed and about one
request in seven goes over HTTP/2. The same seed gives the same corpus, byte for byte.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from faker import Faker
from mitmproxy.net.encoding import encode

from bench.cases import BENIGN_KINDS, FORMATS, Case
from bench.disguises import CHARACTER, ENCODING, SEPARATORS, STRUCTURAL
from bench.draft import BLOCKING_ENTITIES, FIELD_CONTEXT_ENTITIES, REWRITTEN_ENTITIES, Draft
from bench.formats import RENDERERS

__all__ = [
    "DEFAULT_SEED",
    "DEFAULT_SIZE",
    "INTERNATIONAL_LOCALES",
    "disguises_for",
    "generate",
    "locales_of",
    "main",
]

DEFAULT_SEED = 20261129
# The countries a call centre serves and sits in (issue 16): `--locales intl`.
INTERNATIONAL_LOCALES = (
    "en_US",
    "en_GB",
    "en_IN",
    "en_PH",
    "de_DE",
    "fr_FR",
    "es_ES",
    "es_MX",
    "it_IT",
    "pt_BR",
    "pt_PT",
    "nl_NL",
    "pl_PL",
    "sv_SE",
    "fi_FI",
    "el_GR",
)


def locales_of(name: str) -> tuple[str, ...]:
    """`intl` for INTERNATIONAL_LOCALES, else a comma-separated list of Faker locales."""
    return INTERNATIONAL_LOCALES if name == "intl" else tuple(n.strip() for n in name.split(","))


DEFAULT_SIZE = 330  # every (format, disguise) pair once (244), plus a quarter clean cases
CLEAN_EVERY = 4
COMPRESSED_SHARE = 0.35
HTTP2_SHARE = 0.15

# The order entities appear in within a record.
_ENTITY_ORDER = (
    "PERSON",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "DATE_OF_BIRTH",
    "STREET_ADDRESS",
    "IP_ADDRESS",
    "CREDIT_CARD",
    "US_SSN",
    "US_BANK_NUMBER",
    "IBAN_CODE",
)
_TEXT_FORMATS = frozenset({"text", "multipart_text"})
_NUMBER_ENTITIES = ("CREDIT_CARD", "US_SSN", "US_BANK_NUMBER", "PHONE_NUMBER")


def disguises_for(fmt: str) -> tuple[str, ...]:
    """The disguises that make sense for a format."""
    if fmt == "json_numbers":
        return ("none", "field_names")
    if fmt in _TEXT_FORMATS:
        return (*CHARACTER, *ENCODING, "base64_blob")
    if fmt == "url":  # no invisible or non-ASCII separators survive in a URL unencoded
        chars = ("none", "fullwidth", "zero_width", "spaces", "dots", "dashes", "no_separators")
        return (*chars, *ENCODING, "split_card", "field_names")
    if fmt == "headers":  # header values are ASCII
        return (
            "none",
            *[s for s in SEPARATORS if s != "nbsp"],
            *ENCODING,
            "split_card",
            "field_names",
        )
    return (*CHARACTER, *ENCODING, *STRUCTURAL)


def _entities(rng: random.Random, fmt: str, disguise: str) -> tuple[str, ...]:
    """The entities a PII case holds: a few rewritten ones, often one the policy blocks."""
    if fmt == "json_numbers":
        chosen = set(rng.sample(_NUMBER_ENTITIES, k=rng.randint(1, 3)))
    else:
        chosen = set(rng.sample(REWRITTEN_ENTITIES, k=rng.randint(2, 4)))
        if rng.random() < 0.45:
            chosen.add(rng.choice(BLOCKING_ENTITIES))
    if disguise == "split_card":
        chosen.add("CREDIT_CARD")
    if disguise == "field_names":
        chosen |= set(rng.sample(FIELD_CONTEXT_ENTITIES, k=2))
    return tuple(e for e in _ENTITY_ORDER if e in chosen)


def _schedule(rng: random.Random, size: int) -> list[tuple[str, str, bool]]:
    """(format, disguise, clean) for each case, covering every pair before repeating one."""
    pairs = [(f, d) for f in FORMATS for d in disguises_for(f)]
    rng.shuffle(pairs)
    clean_formats = list(FORMATS)
    rng.shuffle(clean_formats)
    plan: list[tuple[str, str, bool]] = []
    for i in range(size):
        if i % CLEAN_EVERY == CLEAN_EVERY - 1:
            plan.append((clean_formats[(i // CLEAN_EVERY) % len(clean_formats)], "none", True))
        else:
            fmt, disguise = pairs[(i - i // CLEAN_EVERY) % len(pairs)]
            plan.append((fmt, disguise, False))
    return plan


def _case(
    case_id: str, fmt: str, disguise: str, clean: bool, rng: random.Random, fake: Faker
) -> Case:
    """One case: draft its content, render it, compress it, pick its transport."""
    entities = () if clean else _entities(rng, fmt, disguise)
    sampled = set(rng.sample(BENIGN_KINDS, rng.randint(3, 5)))
    kinds = tuple(k for k in BENIGN_KINDS if k in sampled)
    draft = Draft(rng, fake, disguise, entities, kinds)
    rendered = RENDERERS[fmt](draft)
    headers, body, encoding = rendered.headers, rendered.body, "none"
    if body and rng.random() < COMPRESSED_SHARE:
        encoding = rng.choice(("gzip", "deflate", "br", "zstd"))
        body = encode(body, encoding)
        headers = (*headers, ("Content-Encoding", encoding))
    if fmt == "websocket":
        transport = "websocket"
    else:
        transport = "http/2" if rng.random() < HTTP2_SHARE else "http/1.1"
    return Case(
        id=case_id,
        format=fmt,
        disguise=disguise,
        transport=transport,
        method=rendered.method,
        path=rendered.path,
        headers=headers,
        body=body,
        content_encoding=encoding,
        labels=tuple(draft.labels),
        benign=tuple(draft.benign),
        messages=rendered.messages,
    )


def generate(
    seed: int = DEFAULT_SEED, size: int = DEFAULT_SIZE, locales: Sequence[str] = ("en_US",)
) -> list[Case]:
    """`size` labelled cases; the same seed, size and locales give the same cases.

    With several `locales`, each case's customers come from one of them, drawn per case: names,
    street addresses, cities and postcodes as that country writes them, and most phone numbers
    in its own format. The default (`en_US` alone) is the corpus the targets were set on.
    """
    rng = random.Random(seed)
    fakes = {locale: Faker(locale) for locale in locales}
    for fake in fakes.values():
        fake.seed_instance(seed)
    plan = _schedule(rng, size)
    local = random.Random(seed + 1)  # the locale draws leave the cases' own draws as they were
    return [
        _case(f"c{i:04d}", f, d, c, rng, fakes[local.choice(list(locales))])
        for i, (f, d, c) in enumerate(plan)
    ]


def summary(cases: Sequence[Case]) -> str:
    """Counts of cases per format and transport, and of labels per entity and disguise."""
    lines = [f"{len(cases)} cases, {sum(c.clean for c in cases)} clean"]
    for title, counter in (
        ("formats", Counter(c.format for c in cases)),
        ("transports", Counter(c.transport for c in cases)),
        ("encodings", Counter(c.content_encoding for c in cases)),
        ("entities", Counter(x.entity for c in cases for x in c.labels)),
        ("label disguises", Counter(x.disguise for c in cases for x in c.labels)),
        ("benign", Counter(b.kind for c in cases for b in c.benign)),
    ):
        lines.append(f"{title}: " + ", ".join(f"{k} {n}" for k, n in sorted(counter.items())))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m bench.corpus`: print a summary, or write the cases as JSON lines."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.corpus",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE, help="number of cases")
    parser.add_argument("--out", type=Path, help="write every case to this JSON-lines file")
    parser.add_argument(
        "--locales", default="en_US", help="Faker locales, comma-separated, or 'intl' (16)"
    )
    args = parser.parse_args(argv)
    cases = generate(args.seed, args.size, locales_of(args.locales))
    if args.out:
        with args.out.open("w", encoding="utf-8") as f:
            for case in cases:
                f.write(json.dumps(case.to_json(), ensure_ascii=False) + "\n")
    print(summary(cases))
    return 0


if __name__ == "__main__":
    sys.exit(main())
