"""The repository's scan configuration: ``.scanpulse.toml`` or ``[tool.scanpulse]`` in
``pyproject.toml``, or the project's defaults kept on the server (see docs/configuration.md).

The text comes from the repository under scan, so it is untrusted input: it is read with
bounded size, it cannot include anything else, and nothing in it is executed. Every mistake in
it is an error naming the file, the line and the key; nothing is ignored silently.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from scanpulse.analyzers.base import SEVERITIES, Severity
from scanpulse.analyzers.semgrep.pack import CUSTOM_FAMILY
from scanpulse.analyzers.semgrep.pack import families as rule_pack_families

from .globs import Glob, GlobError, compile_glob

CONFIG_FILE = ".scanpulse.toml"
PYPROJECT = "pyproject.toml"
PROJECT_DEFAULTS = "project defaults"
MAX_CONFIG_BYTES = 256 * 1024
MAX_ENTRIES = 1000  # globs, rule ids, overrides: each list or table at most this long
MAX_RULE_ID = 200
MAX_GLOBS = 200  # exclude and per-path-disable together: every file is matched against them

KEYS = ("exclude", "disable", "per-path-disable", "severity", "analyzers", "rule-pack")
RULE_PACK_KEYS = ("disable-families", "rules")
MAX_RULE_PATHS = 50


class RepoConfigError(Exception):
    """A configuration that cannot be used: ``file:line: key: what is wrong``."""

    def __init__(self, file: str, line: int | None, key: str, problem: str) -> None:
        self.file = file
        self.line = line
        self.key = key
        self.problem = problem
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {key}: {problem}" if key else f"{where}: {problem}")


@dataclass(frozen=True, slots=True)
class PathDisable:
    glob: Glob
    rules: frozenset[str]


@dataclass(frozen=True, slots=True)
class ScanRules:
    """What the configuration asks for; the empty value changes nothing."""

    exclude: tuple[Glob, ...] = ()
    disable: frozenset[str] = frozenset()
    per_path: tuple[PathDisable, ...] = ()
    severity: Mapping[str, Severity] = field(default_factory=dict)
    analyzers: Mapping[str, bool] = field(default_factory=dict)
    # The rule pack (``semgrep`` analyzer): families switched off, and the repository's own
    # rule files or folders (repository-relative paths).
    families_off: frozenset[str] = frozenset()
    rule_paths: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        return not (
            self.exclude
            or self.disable
            or self.per_path
            or self.severity
            or self.analyzers
            or self.families_off
            or self.rule_paths
        )


# -- where a key is written ------------------------------------------------------------------

_HEADER = re.compile(r"^\s*\[\[?(?P<key>[^\]]+)\]\]?\s*(?:#.*)?$")
_ASSIGNMENT = re.compile(
    r"""^\s*(?P<key>(?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*'))*)\s*="""
)
_PART = re.compile(
    r"""\s*(?:(?P<bare>[A-Za-z0-9_\-]+)|"(?P<basic>[^"]*)"|'(?P<literal>[^']*)')\s*(?:\.|$)"""
)


def _basic(text: str) -> str:
    """A TOML basic string's content with its escapes read (JSON's are the same but few)."""
    try:
        value = json.loads(f'"{text}"')
    except ValueError:
        return text
    return value if isinstance(value, str) else text


def _dotted(text: str) -> tuple[str, ...]:
    return tuple(
        m["bare"] or (_basic(m["basic"]) if m["basic"] is not None else m["literal"]) or ""
        for m in _PART.finditer(text)
    )


def key_line(text: str, path: tuple[str, ...], value: str | None = None) -> int | None:
    """The line (from 1) where the key ``path`` is written in the TOML ``text``; with
    ``value``, the line of that string in the key's value if it can be found."""
    table: tuple[str, ...] = ()
    found: int | None = None
    lines = text.splitlines()
    for number, line in enumerate(lines, 1):
        header = _HEADER.match(line)
        if header:
            table = _dotted(header["key"])
            if found is None and table == path:
                found = number
            continue
        assignment = _ASSIGNMENT.match(line)
        if assignment:
            full = table + _dotted(assignment["key"])
            if full == path or (found is None and path[: len(full)] == full and full):
                found = number
                if full == path:
                    break
    if found is not None and value is not None:
        for number in range(found, min(len(lines), found + MAX_ENTRIES) + 1):
            if f'"{value}"' in lines[number - 1] or f"'{value}'" in lines[number - 1]:
                return number
    return found


# -- parsing ---------------------------------------------------------------------------------


def load_toml(text: str, file: str) -> dict[str, Any]:
    """The TOML document ``text`` of ``file``; a syntax error says where."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_CONFIG_BYTES:
        raise RepoConfigError(file, None, "", f"larger than {MAX_CONFIG_BYTES // 1024} KiB")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        line = int(match[1]) if match else None
        problem = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", str(exc))
        if match:
            problem += f" (column {match[2]})"
        elif "end of document" in str(exc):
            line = max(1, len(text.splitlines()))
            problem += " (at the end of the file)"
        raise RepoConfigError(file, line, "", f"not valid TOML: {problem}") from None


class _Parser:
    def __init__(self, text: str, file: str, prefix: tuple[str, ...]) -> None:
        self.text = text
        self.file = file
        self.prefix = prefix

    def fail(self, key: tuple[str, ...], problem: str, value: str | None = None) -> RepoConfigError:
        path = self.prefix + key
        line = key_line(self.text, path, value) or key_line(self.text, path[:-1]) or None
        return RepoConfigError(self.file, line, ".".join(_quoted(part) for part in path), problem)

    def strings(self, key: tuple[str, ...], value: Any) -> list[str]:
        if not isinstance(value, list):
            raise self.fail(key, f"expected a list of strings, got {_type(value)}")
        if len(value) > MAX_ENTRIES:
            raise self.fail(key, f"at most {MAX_ENTRIES} entries")
        for item in value:
            if not isinstance(item, str):
                raise self.fail(key, f"expected a list of strings, found {_type(item)} in it")
        return value

    def glob(self, key: tuple[str, ...], pattern: str) -> Glob:
        try:
            return compile_glob(pattern)
        except GlobError as exc:
            raise self.fail(key, f"bad glob {pattern!r}: {exc}", pattern) from None

    def rule_ids(self, key: tuple[str, ...], value: Any) -> frozenset[str]:
        rules = self.strings(key, value)
        for rule in rules:
            if not rule.strip() or len(rule) > MAX_RULE_ID or rule != rule.strip():
                raise self.fail(key, f"{rule!r} is not a rule id", rule)
        return frozenset(rules)

    def table(self, key: tuple[str, ...], value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a table, got {_type(value)}")
        if len(value) > MAX_ENTRIES:
            raise self.fail(key, f"at most {MAX_ENTRIES} entries")
        return value

    def rules(self, data: dict[str, Any], analyzers: Collection[str]) -> ScanRules:
        for key in data:
            if key not in KEYS:
                raise self.fail((key,), f"unknown key (known keys: {', '.join(KEYS)})")
        exclude = tuple(
            self.glob(("exclude",), pattern)
            for pattern in self.strings(("exclude",), data.get("exclude", []))
        )
        disable = self.rule_ids(("disable",), data.get("disable", []))
        per_path = []
        for pattern, rules in self.table(
            ("per-path-disable",), data.get("per-path-disable", {})
        ).items():
            entry_key = ("per-path-disable", pattern)
            per_path.append(
                PathDisable(self.glob(entry_key, pattern), self.rule_ids(entry_key, rules))
            )
        if len(exclude) + len(per_path) > MAX_GLOBS:
            raise self.fail(
                ("per-path-disable" if per_path else "exclude",),
                f"at most {MAX_GLOBS} globs in exclude and per-path-disable together",
            )
        severity: dict[str, Severity] = {}
        for rule, level in self.table(("severity",), data.get("severity", {})).items():
            if not rule.strip() or len(rule) > MAX_RULE_ID:
                raise self.fail(("severity", rule), f"{rule!r} is not a rule id")
            matched = next((s for s in SEVERITIES if s == level), None)
            if matched is None:
                raise self.fail(
                    ("severity", rule),
                    f"{level!r} is not a severity (one of: {', '.join(SEVERITIES)})",
                )
            severity[rule] = matched
        switches: dict[str, bool] = {}
        for name, on in self.table(("analyzers",), data.get("analyzers", {})).items():
            if name not in analyzers:
                raise self.fail(
                    ("analyzers", name),
                    f"unknown analyzer (known: {', '.join(sorted(analyzers))})",
                )
            if not isinstance(on, bool):
                raise self.fail(("analyzers", name), f"expected true or false, got {_type(on)}")
            switches[name] = on
        if switches and not any(switches.get(name, True) for name in analyzers):
            raise self.fail(
                ("analyzers",), "every analyzer is turned off: nothing would be scanned"
            )
        families_off, rule_paths = self.rule_pack(data.get("rule-pack", {}))
        return ScanRules(
            exclude, disable, tuple(per_path), severity, switches, families_off, rule_paths
        )

    def rule_pack(self, value: Any) -> tuple[frozenset[str], tuple[str, ...]]:
        table = self.table(("rule-pack",), value)
        for key in table:
            if key not in RULE_PACK_KEYS:
                raise self.fail(
                    ("rule-pack", key), f"unknown key (known keys: {', '.join(RULE_PACK_KEYS)})"
                )
        known = [*rule_pack_families(), CUSTOM_FAMILY]
        families = self.strings(
            ("rule-pack", "disable-families"), table.get("disable-families", [])
        )
        for family in families:
            if family not in known:
                raise self.fail(
                    ("rule-pack", "disable-families"),
                    f"unknown family {family!r} (known: {', '.join(known)})",
                    family,
                )
        paths = self.strings(("rule-pack", "rules"), table.get("rules", []))
        if len(paths) > MAX_RULE_PATHS:
            raise self.fail(("rule-pack", "rules"), f"at most {MAX_RULE_PATHS} entries")
        for path in paths:
            parts = path.split("/")
            if not path or path.startswith("/") or "\\" in path or ".." in parts:
                raise self.fail(
                    ("rule-pack", "rules"),
                    f"{path!r} is not a path inside the repository (relative, no '..')",
                    path,
                )
        return frozenset(families), tuple(paths)


def _type(value: Any) -> str:
    names = {str: "a string", bool: "a boolean", int: "an integer", float: "a number"}
    names |= {list: "a list", dict: "a table"}
    return names.get(type(value), type(value).__name__)


def _quoted(part: str) -> str:
    """A key as TOML writes it, control characters escaped (it is shown in logs and terminals)."""
    return part if re.fullmatch(r"[A-Za-z0-9_\-]+", part) else json.dumps(part)


def parse_rules(text: str, *, file: str, analyzers: Collection[str]) -> ScanRules:
    """The rules of a ``.scanpulse.toml`` (or of project defaults, same format)."""
    return _Parser(text, file, ()).rules(load_toml(text, file), analyzers)


def pyproject_rules(
    text: str, data: dict[str, Any], *, analyzers: Collection[str]
) -> ScanRules | None:
    """The rules of ``[tool.scanpulse]`` in a parsed ``pyproject.toml``; None without one."""
    tool = data.get("tool")
    if not isinstance(tool, dict) or "scanpulse" not in tool:
        return None
    parser = _Parser(text, PYPROJECT, ("tool", "scanpulse"))
    return parser.rules(parser.table((), tool["scanpulse"]), analyzers)
