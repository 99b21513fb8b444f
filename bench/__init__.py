"""Detection evaluation: a labelled corpus, the real proxy, a scorer and a plain-Presidio baseline.

`python -m bench.eval` (or `make eval`) runs it; `docs/detection.md` explains the rules.
"""
