"""YAML with a memory of where each value was written, for errors that name file and line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from probe.secrets import MissingEnvironmentError, expand_env

Loc = tuple[str | int, ...]


class ConfigError(Exception):
    """A config that cannot be used; each problem names file, line and field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def format_loc(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


class SourceMap:
    """Line numbers (1-based) of every mapping key and sequence item of one document."""

    def __init__(self, name: str, lines: dict[Loc, int]) -> None:
        self.name = name
        self._lines = lines

    def line_of(self, loc: Loc) -> int | None:
        for end in range(len(loc), -1, -1):
            line = self._lines.get(tuple(loc[:end]))
            if line is not None:
                return line
        return None

    def problem(self, loc: Loc, message: str) -> str:
        line = self.line_of(loc)
        where = f"{self.name}:{line if line is not None else 1}"  # the document: line 1
        field = format_loc(loc)
        return f"{where}: {field}: {message}" if field else f"{where}: {message}"


def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            lines[(*loc, key)] = key_node.start_mark.line + 1
            _walk(value_node, (*loc, key), lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*loc, index)] = item.start_mark.line + 1
            _walk(item, (*loc, index), lines)


def _expand(data: Any, loc: Loc, source: SourceMap, problems: list[str]) -> Any:
    if isinstance(data, dict):
        return {k: _expand(v, (*loc, k), source, problems) for k, v in data.items()}
    if isinstance(data, list):
        return [_expand(v, (*loc, i), source, problems) for i, v in enumerate(data)]
    if isinstance(data, str) and "${" in data:
        try:
            return expand_env(data)
        except MissingEnvironmentError as exc:
            problems.append(source.problem(loc, str(exc)))
    return data


def _unbuildable_line(node: yaml.Node | None) -> int:
    """The line of the first scalar (in document order) the safe loader cannot build."""
    loader = yaml.SafeLoader("")
    stack = [node] if node is not None else []
    while stack:
        item = stack.pop()
        if isinstance(item, yaml.ScalarNode):
            try:
                loader.construct_object(item, deep=True)
            except (ValueError, OverflowError, yaml.YAMLError):
                return item.start_mark.line + 1
        elif isinstance(item, yaml.SequenceNode):
            stack.extend(reversed(item.value))
        elif isinstance(item, yaml.MappingNode):
            stack.extend(reversed([part for pair in item.value for part in pair]))
    return 1


def load_yaml(path: Path) -> tuple[Any, SourceMap]:
    """Parse `path`; `${VAR}` references are expanded, problems raise `ConfigError`."""
    name = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError([f"{name}: cannot read: {exc.strerror}"]) from None  # no line to name
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError([f"{name}:{line}: not UTF-8 text: {exc.reason}"]) from None
    return parse_yaml(text, name)


def parse_yaml(text: str, name: str) -> tuple[Any, SourceMap]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise ConfigError([f"{name}:{line}: invalid YAML: {exc.problem}"]) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        line = text.count("\n", 0, max(0, exc.position)) + 1
        raise ConfigError([f"{name}:{line}: invalid YAML: {exc.reason} "
                           f"(character {exc.character!r})"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{name}:1: invalid YAML: {exc}"]) from None
    except (ValueError, OverflowError) as exc:  # a scalar that cannot be built: 2026-13-45
        line = _unbuildable_line(yaml.compose(text, Loader=yaml.SafeLoader))
        raise ConfigError([f"{name}:{line}: invalid value: {exc}"]) from None
    lines: dict[Loc, int] = {}
    if node is not None:
        lines[()] = node.start_mark.line + 1
        _walk(node, (), lines)
    source = SourceMap(name, lines)
    problems: list[str] = []
    data = _expand(data, (), source, problems)
    if problems:
        raise ConfigError(problems)
    return data, source
