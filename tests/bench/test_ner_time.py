"""Tests for bench/ner_time.py: timing the NER component with numpy's BLAS and with BLIS."""

from __future__ import annotations

import pytest

from bench.ner_time import CASES, main, time_ner
from dlp_proxy.detection.presidio import DEFAULT_MODEL


def test_times_the_ner_component_of_the_model() -> None:
    """A positive time per batch, for a model with NER; the cases grow from a word to 64."""
    import spacy

    nlp = spacy.load(DEFAULT_MODEL, enable=["ner"])
    assert time_ner(nlp, ["Maria Gonzalez called about her refund."], runs=2) > 0
    sizes = [sum(len(t) for t in texts) for texts in CASES.values()]
    assert sizes == sorted(sizes)


def test_main_rejects_an_unknown_option(capsys: pytest.CaptureFixture[str]) -> None:
    """Options are checked before a model loads."""
    with pytest.raises(SystemExit) as exit_info:
        main(["--no-such-option"])
    assert exit_info.value.code == 2
    assert "--no-such-option" in capsys.readouterr().err
