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
    """Plain YAML data plus the 1-based line and column of every path in it.

    A mapping key's position is the key's; a list item's is the item's. `values` holds where
    the value itself starts, for messages that point inside a value (a regex's bad character).
    """

    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    duplicates: tuple[tuple[Path, int], ...] = ()
    columns: dict[Path, int] = field(default_factory=dict)
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def line_of(self, path: Path) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one."""
        return self.position_of(path)[0]

    def position_of(self, path: Path) -> tuple[int | None, int | None]:
        """`(line, column)` of `path`, or of its nearest ancestor that has one (1-based)."""
        while path:
            if path in self.lines:
                return self.lines[path], self.columns.get(path)
            path = path[:-1]
        return self.lines.get((), None), self.columns.get(())


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
    doc = LocatedDocument(data=data)
    doc.lines[()] = node.start_mark.line + 1
    doc.columns[()] = node.start_mark.column + 1
    duplicates: list[tuple[Path, int]] = []
    _record(node, (), doc, duplicates)
    return LocatedDocument(
        data=data,
        lines=doc.lines,
        duplicates=tuple(duplicates),
        columns=doc.columns,
        values=doc.values,
    )


def _record(
    node: yaml.Node, path: Path, doc: LocatedDocument, duplicates: list[tuple[Path, int]]
) -> None:
    doc.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
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
            doc.lines[child] = key_node.start_mark.line + 1
            doc.columns[child] = key_node.start_mark.column + 1
            _record(value_node, child, doc, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            doc.lines[child] = item.start_mark.line + 1
            doc.columns[child] = item.start_mark.column + 1
            _record(item, child, doc, duplicates)
