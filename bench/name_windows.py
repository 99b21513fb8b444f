"""What NER would find outside the name windows: the cost, in detection, of `name_windows`.

Every text segment of the evaluation corpus (`bench.corpus`, as dlp-proxy's codecs split it
and normalised as the detector sees it: invisible characters dropped, digits and spaces folded)
goes through the spaCy model's NER whole; each PERSON it finds that does not lie inside one of
`dlp_proxy.detection.prefilter.name_windows` is one dlp-proxy's detector can no longer find.
They are printed, so a reader can judge whether they are names:

    .venv/bin/python -m bench.name_windows [--seed N] [--model NAME] [--lower]

`--lower` measures the same over the texts written in lower case, as in a chat typed in a
hurry: what a policy without `names_in_lower_case` gives up there.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from bench.cases import Case
from bench.corpus import DEFAULT_SEED, generate
from dlp_proxy.core.codecs import parse_body
from dlp_proxy.core.compression import decode_body
from dlp_proxy.core.normalize import normalize
from dlp_proxy.detection.prefilter import name_windows
from dlp_proxy.detection.presidio import DEFAULT_MODEL
from dlp_proxy.errors import DlpError

__all__ = ["WindowLoss", "case_texts", "measure"]


@dataclass(frozen=True)
class WindowLoss:
    """PERSON entities whole-text NER finds, and those outside every name window."""

    texts: int
    found: int
    outside: tuple[str, ...]


def case_texts(cases: Iterable[Case]) -> Iterator[str]:
    """The text of every segment of every case body, as the codecs split it."""
    for case in cases:
        content_type = next((v for k, v in case.headers if k.lower() == "content-type"), "")
        try:
            body = decode_body(case.body, case.content_encoding, 1 << 30, 1000.0)
            document = parse_body(content_type, body)
        except DlpError:
            continue
        yield from (normalize(s.text).text for s in document.segments)


def measure(texts: Iterable[str], nlp: object) -> WindowLoss:
    """Run `nlp` over each text and count PERSON entities outside its name windows."""
    count = found = 0
    outside: list[str] = []
    for text in texts:
        count += 1
        windows = name_windows(text)
        for ent in nlp(text).ents:  # type: ignore[operator]
            if ent.label_ != "PERSON":
                continue
            found += 1
            if not any(s <= ent.start_char and ent.end_char <= e for s, e in windows):
                outside.append(ent.text)
    return WindowLoss(count, found, tuple(outside))


def main(argv: Sequence[str] | None = None) -> int:
    """Print the measurement for the corpus of `--seed`."""
    parser = argparse.ArgumentParser(prog="python -m bench.name_windows", description=__doc__)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--lower", action="store_true", help="lower-case every text first")
    args = parser.parse_args(argv)
    import spacy

    nlp = spacy.load(args.model, enable=["ner"])
    texts = case_texts(generate(args.seed))
    loss = measure((t.lower() for t in texts) if args.lower else texts, nlp)
    print(
        f"{loss.texts} texts; PERSON found by NER over whole texts: {loss.found}; "
        f"outside the name windows: {len(loss.outside)}"
    )
    for text in loss.outside:
        print(f"  {text!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
