"""Tests for bench/name_windows.py: counting what NER finds outside the name windows."""

from __future__ import annotations

from types import SimpleNamespace

from bench.name_windows import measure


def _fake_nlp(spans: dict[str, list[tuple[str, int, int]]]):  # type: ignore[no-untyped-def]
    def nlp(text: str) -> SimpleNamespace:
        return SimpleNamespace(
            ents=[
                SimpleNamespace(label_=label, start_char=s, end_char=e, text=text[s:e])
                for label, s, e in spans.get(text, [])
            ]
        )

    return nlp


def test_counts_person_entities_outside_the_windows() -> None:
    """A lower-case name in a capitalised text counts as lost; one in a window does not; other
    labels are ignored."""
    lost = "They paid 12 to maria. Ok"
    kept = "Maria Gonzalez called."
    nlp = _fake_nlp({lost: [("PERSON", 16, 21), ("DATE", 10, 12)], kept: [("PERSON", 0, 14)]})
    loss = measure([lost, kept], nlp)
    assert (loss.texts, loss.found, loss.outside) == (2, 2, ("maria",))
