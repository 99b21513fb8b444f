"""YAML loading that remembers the line of every key and list item.

Policies are written by people; an error must point at the line to fix. PyYAML's composed
node tree carries marks, so we build the plain data and a side table of lines from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class LocatedDocument:
    """Plain YAML data plus the 1-based line of every path in it."""

    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    duplicates: tuple[tuple[Path, int], ...] = ()

    def line_of(self, path: Path) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)


def load_located(text: str) -> LocatedDocument:
    """Parse YAML text safely; raise `yaml.YAMLError` (with a mark) when it does not parse."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return LocatedDocument(data=None)
        data = loader.construct_document(node)
    finally:
        loader.dispose()
    lines: dict[Path, int] = {(): node.start_mark.line + 1}
    duplicates: list[tuple[Path, int]] = []
    _record_lines(node, (), lines, duplicates)
    return LocatedDocument(data=data, lines=lines, duplicates=tuple(duplicates))


def _record_lines(
    node: yaml.Node, path: Path, lines: dict[Path, int], duplicates: list[tuple[Path, int]]
) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key = str(key_node.value)
            child = (*path, key)
            if key in seen:
                duplicates.append((child, key_node.start_mark.line + 1))
            seen.add(key)
            lines[child] = key_node.start_mark.line + 1
            _record_lines(value_node, child, lines, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            lines[child] = item.start_mark.line + 1
            _record_lines(item, child, lines, duplicates)
