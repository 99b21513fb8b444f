"""How long the spaCy model's NER takes on short and long texts, with numpy's BLAS or BLIS.

`detection.presidio.use_numpy_blas` makes the detector's model multiply with numpy's BLAS instead of
thinc's default BLIS kernels. This times the NER component alone (the way the detector runs
it: `nlp.make_doc`, then the component's `pipe`) on one word, a sentence, four and sixteen
sentences as separate texts, and one text of 64 sentences, under both, in one process, with
one BLAS thread as in a worker. The best of three rounds of `--runs` each, in milliseconds:

    .venv/bin/python -m bench.ner_time [--model NAME] [--runs N]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence

__all__ = ["CASES", "time_ner"]

SENTENCE = "Clearing the cache did not help, and neither did signing out and back in."
CASES: dict[str, list[str]] = {
    "one word": ["Portland"],
    "one sentence (16 tokens)": [SENTENCE],
    "4 sentences": [SENTENCE] * 4,
    "16 sentences": [SENTENCE] * 16,
    "one text of 64 sentences": [" ".join([SENTENCE] * 64)],
}


def time_ner(nlp: object, texts: list[str], runs: int) -> float:
    """The best of three rounds: milliseconds per NER of `texts` (one batch)."""
    ner = nlp.get_pipe("ner")  # type: ignore[attr-defined]
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(runs):
            list(ner.pipe([nlp.make_doc(t) for t in texts], batch_size=256))  # type: ignore[attr-defined]
        best = min(best, (time.perf_counter() - started) / runs * 1000)
    return best


def main(argv: Sequence[str] | None = None) -> int:
    """Print one line per case: milliseconds with BLIS, with numpy's BLAS, and the ratio."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads, as in a worker
    import spacy
    from thinc.api import use_ops

    from dlp_proxy.detection.presidio import DEFAULT_MODEL

    parser = argparse.ArgumentParser(prog="python -m bench.ner_time", description=__doc__)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args(argv)
    models = {}
    for name, blis in (("BLIS", True), ("numpy", False)):
        with use_ops("numpy", use_blis=blis):
            models[name] = spacy.load(args.model, enable=["ner"])
    print(f"{'case':<26} {'BLIS ms':>9} {'numpy ms':>9} {'ratio':>6}")
    for case, texts in CASES.items():
        runs = max(args.runs // max(len(texts) // 4, 1), 5)
        blis_ms = time_ner(models["BLIS"], texts, runs)
        numpy_ms = time_ner(models["numpy"], texts, runs)
        print(f"{case:<26} {blis_ms:9.2f} {numpy_ms:9.2f} {numpy_ms / blis_ms:6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
