"""YAML read with the line of every value, so a data file's faults can be named as `file:line`.

Plain scalars stay text (so `code: 0123` and `+31...` keep their digits), except `true`/`false`
and empty values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml


@dataclass(frozen=True)
class Problem:
    line: int
    message: str


class DirectoryFileInvalid(Exception):
    """A data file (the directory) breaks one or more rules; `messages` are `file:line: message`, in line order."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = sorted(problems, key=lambda p: p.line)
        self.messages = [f"{source}:{p.line}: {p.message}" for p in self.problems]
        super().__init__("\n".join(self.messages))


class YMap(dict[str, Any]):
    """A YAML mapping that remembers the line of itself and of each key."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[str, int] = {}

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class YList(list[Any]):
    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.item_lines: list[int] = []

    def located(self) -> list[tuple[int, Any]]:
        return list(zip(self.item_lines, self, strict=True))


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _build(node: yaml.Node, problems: list[Problem]) -> Any:
    if isinstance(node, yaml.MappingNode):
        mapping = YMap(_line(node))
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                problems.append(Problem(_line(key_node), "a key must be a plain word"))
                continue
            key = str(key_node.value)
            if key in mapping:
                problems.append(Problem(_line(key_node), f'duplicate key "{key}"'))
                continue
            mapping[key] = _build(value_node, problems)
            mapping.key_lines[key] = _line(key_node)
        return mapping
    if isinstance(node, yaml.SequenceNode):
        items = YList(_line(node))
        for item in node.value:
            items.append(_build(item, problems))
            items.item_lines.append(_line(item))
        return items
    value = str(node.value)
    if isinstance(node, yaml.ScalarNode) and node.style is None:  # plain scalar: only booleans and empty are not text
        if value in ("true", "True", "TRUE", "false", "False", "FALSE"):
            return value.lower() == "true"
        if value in ("", "~", "null", "Null", "NULL"):
            return None
    return value


def read_located(text: str, *, source: str) -> tuple[Any, list[Problem]]:
    """The YAML document as YMap/YList/str/bool/None, and its duplicate-key problems.

    Raises DirectoryFileInvalid when the text is not YAML at all.
    """
    problems: list[Problem] = []
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise DirectoryFileInvalid(source, [Problem(line, f"not valid YAML: {problem}")]) from exc
    return (None if node is None else _build(node, problems)), problems
