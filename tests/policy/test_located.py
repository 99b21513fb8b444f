"""Tests for dlp_proxy/policy/located.py: YAML with the line of every key and item."""

from __future__ import annotations

import pytest
import yaml

from dlp_proxy.policy.located import load_located

TEXT = """\
version: 1
rules:
  - id: a
    action: block
  - id: b
    entities:
      - EMAIL_ADDRESS
"""


def test_lines_of_keys_and_items() -> None:
    """Each mapping key and list item maps to its 1-based line."""
    doc = load_located(TEXT)
    assert doc.data["rules"][1]["id"] == "b"
    assert doc.lines[("version",)] == 1
    assert doc.lines[("rules", 0, "action")] == 4
    assert doc.lines[("rules", 1)] == 5
    assert doc.lines[("rules", 1, "entities", 0)] == 7


def test_line_of_falls_back_to_the_nearest_ancestor() -> None:
    """A path that is not in the file (a missing key) takes its parent's line."""
    doc = load_located(TEXT)
    assert doc.line_of(("rules", 1, "min_score")) == 5


def test_duplicate_keys_are_reported() -> None:
    """A key given twice in one mapping is listed with the line of the repeat."""
    doc = load_located("a: 1\nb: 2\na: 3\n")
    assert doc.duplicates == ((("a",), 3),)


def test_empty_document() -> None:
    """An empty file has no data."""
    assert load_located("").data is None


def test_only_safe_yaml() -> None:
    """Python object tags are refused: policies are data, never code."""
    with pytest.raises(yaml.YAMLError):
        load_located("x: !!python/object/apply:os.system ['true']\n")
