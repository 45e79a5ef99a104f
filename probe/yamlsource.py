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
    loader = _Loader(text)
    try:
        node: yaml.Node | None = loader.get_single_node()
        return node
    finally:
        loader.dispose()


def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, int]) -> None:
    """Record the line of every key and item, refusing a key written twice on the way."""
    if isinstance(node, yaml.MappingNode):
        _refuse_duplicate_keys(node, loc)
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


try:  # libyaml, which the PyYAML wheels carry: about ten times faster than pure Python
    from yaml import cyaml

    _EventParser: Any = cyaml.CParser  # type: ignore[attr-defined]
    _Loader: Any = cyaml.CSafeLoader
except (ImportError, AttributeError):  # pragma: no cover - a PyYAML built without libyaml
    _EventParser = _Loader = yaml.SafeLoader


def _check_events(text: str) -> None:
    """Refuse a hostile document from its parse events, before a single node is built.

    Why events: the bounds must hold before composition (a "billion laughs" composes to a
    few shared nodes, but everything downstream would expand it), and libyaml composes
    faster than a Python composer could check node by node (a 10,000-check config: 0.7 s
    instead of 2.3 s, BENCHMARKS.md, issue 19). One pass keeps the nesting depth, the size
    of every anchored node, and the nodes every alias adds once expanded, so each refusal
    names the line of the node or alias that crossed the bound."""
    events = _EventParser(text)
    sizes: dict[str, int] = {}  # anchor -> nodes it stands for
    open_anchors: set[str] = set()
    frames: list[list[Any]] = []  # [anchor, nodes so far] per open collection
    alias_nodes = 0
    try:
        while events.check_event():
            event: Any = events.get_event()
            line = event.start_mark.line + 1 if event.start_mark is not None else 1
            if isinstance(event, yaml.AliasEvent):
                if event.anchor in open_anchors:
                    raise _RefusedError(
                        line, "alias refers to a node that contains it (recursive)")
                size = sizes.get(event.anchor or "", 1)  # an unknown anchor: the composer says so
                alias_nodes += size
                if alias_nodes > MAX_ALIAS_NODES:
                    raise _RefusedError(line, f"aliases expand to more than "
                                              f"{MAX_ALIAS_NODES:,} nodes (an alias bomb?)")
                if frames:
                    frames[-1][1] += size
            elif isinstance(event, yaml.ScalarEvent | yaml.CollectionStartEvent):
                if len(frames) >= MAX_DEPTH:
                    raise _RefusedError(line, f"nested deeper than {MAX_DEPTH} levels")
                if isinstance(event, yaml.ScalarEvent):
                    if event.anchor is not None:
                        sizes[event.anchor] = 1
                    if frames:
                        frames[-1][1] += 1
                else:
                    frames.append([event.anchor, 1])
                    if event.anchor is not None:
                        open_anchors.add(event.anchor)
            elif isinstance(event, yaml.CollectionEndEvent) and frames:
                anchor, size = frames.pop()
                if anchor is not None:
                    open_anchors.discard(anchor)
                    sizes[anchor] = size
                if frames:
                    frames[-1][1] += size
    except yaml.MarkedYAMLError as exc:
        # libyaml's own bound (1,000 levels) can trip first, while it scans ahead
        if "maximum nesting depth" not in str(exc.problem):
            raise
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise _RefusedError(line, f"nested deeper than {MAX_DEPTH} levels") from None
    finally:
        events.dispose()


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


def _compose(text: str, lines: dict[Loc, int]) -> tuple[yaml.Node | None, Any]:
    """Check the events, compose, check and map the nodes, and only then build values."""
    _check_events(text)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        lines[()] = node.start_mark.line + 1
        _walk(node, (), lines)
        return node, loader.construct_document(node)
    finally:
        loader.dispose()


def parse_yaml(text: str, name: str) -> tuple[Any, SourceMap]:
    if len(text) > MAX_BYTES:
        raise ConfigError([f"{name}:1: more than the {MAX_BYTES:,} bytes a config may have"])
    lines: dict[Loc, int] = {}
    try:
        _node, data = _compose(text, lines)
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
    source = SourceMap(name, lines)
    problems: list[str] = []
    data = _expand(data, (), source, problems)
    if problems:
        raise ConfigError(problems)
    return data, source
