"""Config fuzzing: mutate valid configs (the examples and the seed contracts) line by line.

Whatever the mutation, loading must either succeed or raise `ConfigError` (never anything
else, never a traceback), and every problem must name the file and a line: `file:N: ...`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from probe.config import load_config, parse_config
from probe.yamlsource import ConfigError

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted([ROOT / "config" / "example.yaml", *(ROOT / "config" / "contracts").glob("*.yaml")])
TEXTS = [p.read_text(encoding="utf-8") for p in SOURCES]

TOKENS = [
    "", "-1", "0", "1e309", "nan", "abc", "[", "]", "{", "}", "null", "~", "''", '"', "10x",
    "-5s", "0ms", "1000000000d", "ratio>=2", "ratio>=0.5", "${UNSET_SLA_PROBE_FUZZ}",
    "${UNSET_SLA_PROBE_FUZZ:-}", "99.99999", "101", "2026-13-45", "2026-02-30T25:00:00Z",
    "true", "false", "!!binary xx", "&a", "*a", "? x", "- x", ": :", "|", ">", "#", "%",
    "@", "`", "\t", "\\x00", "12345678901234567890123", "[1, 2", "{a: 1", "[[[]]]",
    "http://", "https://[::1", "ftp://x", "Europe/Nowhere", "UTC", "all", "any",
    "percent", "days", "!!python/object:os.system", "<<: *a", "'unterminated", "😀",
]
KEYS = ["name", "type", "url", "interval", "timeout", "window", "down_rule", "target",
        "services", "checks", "contracts", "objectives", "probe", "listen", "state_dir",
        "maintenance", "credits", "tiers", "timezone", "expect", "status", "json", "tls",
        "secret_headers", "secret_headers_file", "body_file", "unknown_key", "controls"]

LINE = re.compile(r"^(?P<indent>\s*-?\s*)(?P<key>[^:#]+?)(?P<sep>:\s*)(?P<value>.*)$")


def _value(text: str, line: int, token: str) -> str:
    lines = text.split("\n")
    m = LINE.match(lines[line])
    if m is None:
        lines[line] = token
    else:
        lines[line] = f"{m['indent']}{m['key']}{m['sep']}{token}"
    return "\n".join(lines)


def _key(text: str, line: int, key: str) -> str:
    lines = text.split("\n")
    m = LINE.match(lines[line])
    if m is not None:
        lines[line] = f"{m['indent']}{key}{m['sep']}{m['value']}"
    return "\n".join(lines)


def _lines(text: str, op: str, i: int, j: int) -> str:
    lines = text.split("\n")
    i %= len(lines)
    j %= len(lines)
    if op == "delete":
        del lines[i]
    elif op == "duplicate":
        lines.insert(i, lines[i])
    elif op == "swap":
        lines[i], lines[j] = lines[j], lines[i]
    elif op == "indent":
        lines[i] = "  " + lines[i]
    elif op == "dedent":
        lines[i] = lines[i][2:] if lines[i].startswith("  ") else lines[i]
    elif op == "truncate":
        return "\n".join(lines[:i]) + "\n" + lines[i][: j % (len(lines[i]) + 1)]
    return "\n".join(lines)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(TEXTS))
    for _ in range(draw(st.integers(1, 4))):
        n = len(text.split("\n"))
        kind = draw(st.sampled_from(["value", "key", "lines", "insert"]))
        line = draw(st.integers(0, max(0, n - 1)))
        if kind == "value":
            token = draw(st.one_of(st.sampled_from(TOKENS), st.text(max_size=12)))
            text = _value(text, line, token)
        elif kind == "key":
            text = _key(text, line, draw(st.sampled_from(KEYS)))
        elif kind == "lines":
            op = draw(st.sampled_from(["delete", "duplicate", "swap", "indent", "dedent",
                                       "truncate"]))
            text = _lines(text, op, line, draw(st.integers(0, 10_000)))
        else:
            chunk = draw(st.text(max_size=20))
            lines = text.split("\n")
            lines.insert(line, chunk)
            text = "\n".join(lines)
    return text


def _assert_named(exc: ConfigError, name: str) -> None:
    assert exc.problems, "a ConfigError must list at least one problem"
    prefix = re.compile(rf"^{re.escape(name)}:\d+: ")
    for problem in exc.problems:
        assert prefix.match(problem), f"problem does not name {name}:LINE: {problem!r}"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_config_is_accepted_or_refused_with_file_and_line(text: str) -> None:
    try:
        parse_config(text, "fuzz.yaml")
    except ConfigError as exc:
        _assert_named(exc, "fuzz.yaml")


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_is_refused_with_file_and_line(text: str) -> None:
    try:
        parse_config(text, "fuzz.yaml")
    except ConfigError as exc:
        _assert_named(exc, "fuzz.yaml")


@pytest.mark.parametrize("text", [
    "", "   \n", "# only a comment\n", "[]\n", "42\n", "~\n",
    "\x08\nprobe: {}\n",  # a character YAML refuses (found by the fuzzer)
    "probe:\n  vantage: x\nservices:\n  - name: 2026-13-45\n",  # an impossible timestamp
])
def test_empty_and_non_mapping_documents_name_a_line(text: str, tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    _assert_named(info.value, str(path))


def test_undecodable_file_names_a_line(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(b"probe:\n  vantage: \xff\xfe\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    _assert_named(info.value, str(path))
