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


def _compose_only(text: str) -> yaml.Node | None:
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


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


# Bounds on what one config file may cost to read. A hand-written config is far inside them
# (10,000 checks are about 2 MB, 8 levels deep, with no aliases); a hostile file (an alias
# "billion laughs" bomb, thousands of nested brackets) is refused in milliseconds instead of
# growing the process by gigabytes or ending in a RecursionError.
MAX_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 64
MAX_ALIAS_NODES = 100_000  # nodes an alias may add to the document, all aliases together


class _RefusedError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class _BoundedLoader(yaml.SafeLoader):
    """The safe loader with a depth bound, an alias-expansion bound and no duplicate keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._alias_nodes = 0
        self._sizes: dict[int, int] = {}
        self._path: list[str | int] = []  # where the node being composed sits

    def _expanded_size(self, node: yaml.Node, line: int) -> int:
        """Nodes `node` stands for once every alias inside it is expanded (memoised)."""
        known = self._sizes.get(id(node))
        if known is not None:
            if known < 0:
                raise _RefusedError(line, "alias refers to a node that contains it (recursive)")
            return known
        self._sizes[id(node)] = -1
        size = 1
        if isinstance(node, yaml.SequenceNode):
            size += sum(self._expanded_size(item, line) for item in node.value)
        elif isinstance(node, yaml.MappingNode):
            size += sum(self._expanded_size(k, line) + self._expanded_size(v, line)
                        for k, v in node.value)
        self._sizes[id(node)] = size
        return size

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent):
            node = super().compose_node(parent, index)
            assert node is not None  # an alias always names a node
            if node.end_mark is None:  # still being composed: the alias is inside its anchor
                raise _RefusedError(line, "alias refers to a node that contains it (recursive)")
            self._alias_nodes += self._expanded_size(node, line)
            if self._alias_nodes > MAX_ALIAS_NODES:
                raise _RefusedError(line, f"aliases expand to more than {MAX_ALIAS_NODES:,} "
                                     "nodes (an alias bomb?)")
            return node
        if self._depth >= MAX_DEPTH:
            raise _RefusedError(line, f"nested deeper than {MAX_DEPTH} levels")
        step: list[str | int] = (
            [index] if isinstance(index, int) else
            [str(index.value)] if isinstance(index, yaml.ScalarNode) else [])
        self._depth += 1
        self._path += step
        try:
            node = super().compose_node(parent, index)
            if isinstance(node, yaml.MappingNode):
                _refuse_duplicate_keys(node, tuple(self._path))
        finally:
            self._depth -= 1
            if step:
                self._path.pop()
        return node


def _refuse_duplicate_keys(node: yaml.MappingNode, loc: Loc) -> None:
    """A key written twice would silently keep the last value: refuse, naming both lines."""
    first: dict[str, int] = {}
    for key_node, _value in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
            continue
        line = key_node.start_mark.line + 1
        if key_node.value in first:
            where = format_loc((*loc, key_node.value))
            raise _RefusedError(line, f"{where}: is defined more than once (first at line "
                                      f"{first[key_node.value]}, again at line {line})")
        first[key_node.value] = line


def _unbuildable_line(node: yaml.Node | None) -> int:
    """The line of the first scalar (in document order) the safe loader cannot build."""
    loader = yaml.SafeLoader("")
    stack = [node] if node is not None else []
    seen: set[int] = set()
    while stack:
        item = stack.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
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
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ConfigError([f"{name}:1: file is {size:,} bytes, more than the "
                               f"{MAX_BYTES:,} a config may have"])
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError([f"{name}: cannot read: {exc.strerror}"]) from None  # no line to name
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError([f"{name}:{line}: not UTF-8 text: {exc.reason}"]) from None
    return parse_yaml(text, name)


def _compose(text: str) -> tuple[yaml.Node | None, Any]:
    loader = _BoundedLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    return node, data


def parse_yaml(text: str, name: str) -> tuple[Any, SourceMap]:
    if len(text) > MAX_BYTES:
        raise ConfigError([f"{name}:1: more than the {MAX_BYTES:,} bytes a config may have"])
    try:
        node, data = _compose(text)
    except _RefusedError as exc:
        raise ConfigError([f"{name}:{exc.line}: {exc.message}"]) from None
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
        line = _unbuildable_line(_compose_only(text))
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
