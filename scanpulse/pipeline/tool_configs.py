"""The analyzed tools' own configuration in the repository: Bandit's ``[tool.bandit]`` and
``.bandit``, and detect-secrets' ``.secrets.baseline``.

Only the settings that decide which findings are reported are read (Bandit's ``skips``,
``tests`` and excluded paths; the baseline's audited false positives), and the pipeline
applies them to the findings. Bandit is never pointed at the files themselves: its
configuration loader would also take profiles, plugin settings and other files named in them
from the untrusted checkout, and the per-file result cache could no longer know what changed
a file's result.
"""

from __future__ import annotations

import configparser
import fnmatch
import json
import re
from dataclasses import dataclass
from typing import Any

from .repo_config import PYPROJECT, RepoConfigError, key_line

BANDIT_INI = ".bandit"
SECRETS_BASELINE = ".secrets.baseline"
MAX_BANDIT_INI_BYTES = 64 * 1024
MAX_BASELINE_BYTES = 16 * 1024 * 1024
_HASH = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True, slots=True)
class BanditSettings:
    """Bandit's settings that decide what it reports, merged from both of its files."""

    sources: tuple[str, ...]
    skips: frozenset[str] = frozenset()
    tests: frozenset[str] = frozenset()  # empty: every test
    exclude: tuple[str, ...] = ()

    def excluded(self, path: str) -> str | None:
        """The exclude entry that leaves ``path`` out, as Bandit matches them: an fnmatch
        glob or a substring of the path as Bandit sees it from the root (``./src/a.py``)."""
        seen = "./" + path
        for entry in self.exclude:
            if fnmatch.fnmatch(path, entry) or fnmatch.fnmatch(seen, entry) or entry in seen:
                return entry
        return None

    def drops(self, rule_id: str) -> str | None:
        """Why ``rule_id`` is not reported: ``skips`` or ``tests``; None when it is."""
        if rule_id in self.skips:
            return "skips"
        if self.tests and rule_id not in self.tests:
            return "tests"
        return None


def _comma_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _printable(file: str, line: int | None, key: str, items: list[str]) -> list[str]:
    """``items`` if none is empty or holds a control character (they reach logs and terminals)."""
    for item in items:
        if not item.strip() or any(ord(char) < 32 or ord(char) == 127 for char in item):
            raise RepoConfigError(file, line, key, f"{item!r} is not a test id or path")
    return items


def bandit_from_pyproject(text: str, data: dict[str, Any]) -> BanditSettings | None:
    tool = data.get("tool")
    section = tool.get("bandit") if isinstance(tool, dict) else None
    if section is None:
        return None
    where = f"{PYPROJECT} [tool.bandit]"
    if not isinstance(section, dict):
        raise RepoConfigError(
            PYPROJECT, key_line(text, ("tool", "bandit")), "tool.bandit", "expected a table"
        )
    values: dict[str, list[str]] = {}
    for key in ("skips", "tests", "exclude_dirs"):
        value = section.get(key, [])
        if not (isinstance(value, list) and all(isinstance(item, str) for item in value)):
            line = key_line(text, ("tool", "bandit", key))
            raise RepoConfigError(
                PYPROJECT, line, f"tool.bandit.{key}", "expected a list of strings"
            )
        line = key_line(text, ("tool", "bandit", key))
        values[key] = _printable(PYPROJECT, line, f"tool.bandit.{key}", value)
    return BanditSettings(
        (where,),
        frozenset(values["skips"]),
        frozenset(values["tests"]),
        tuple(entry.rstrip("/") or entry for entry in values["exclude_dirs"]),
    )


def bandit_from_ini(text: str) -> BanditSettings | None:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text, source=BANDIT_INI)
    except configparser.Error as exc:
        line = getattr(exc, "lineno", None)
        problem = str(exc).splitlines()[0]
        raise RepoConfigError(BANDIT_INI, line, "", f"not a valid INI file: {problem}") from None
    if not parser.has_section("bandit"):
        return None
    section = parser["bandit"]
    values = {
        key: _printable(BANDIT_INI, None, f"bandit.{key}", _comma_list(section.get(key, "")))
        for key in ("skips", "tests", "exclude")
    }
    return BanditSettings(
        (BANDIT_INI,),
        frozenset(values["skips"]),
        frozenset(values["tests"]),
        tuple(entry.rstrip("/") or entry for entry in values["exclude"]),
    )


def merge_bandit(*settings: BanditSettings | None) -> BanditSettings | None:
    """Both files' settings together: skips and excludes add up, and the tests to run are
    those either file lists."""
    present = [s for s in settings if s is not None]
    if not present:
        return None
    return BanditSettings(
        tuple(source for s in present for source in s.sources),
        frozenset().union(*(s.skips for s in present)),
        frozenset().union(*(s.tests for s in present)),
        tuple(entry for s in present for entry in s.exclude),
    )


@dataclass(frozen=True, slots=True)
class BaselineEntry:
    path: str
    secret_type: str
    hashed_secret: str  # detect-secrets' SHA-1 of the secret, never the secret


def baseline_false_positives(text: str) -> frozenset[BaselineEntry]:
    """The secrets a ``.secrets.baseline`` marks as audited false positives
    (``"is_secret": false``); entries not audited, or audited as secrets, are not."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RepoConfigError(
            SECRETS_BASELINE, exc.lineno, "", f"not valid JSON: {exc.msg}"
        ) from None
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, dict):
        raise RepoConfigError(SECRETS_BASELINE, None, "results", "expected an object of files")
    entries = set()
    for path, secrets in results.items():
        if not isinstance(secrets, list):
            raise RepoConfigError(
                SECRETS_BASELINE, None, f"results.{json.dumps(path)}", "expected a list"
            )
        for secret in secrets:
            if not isinstance(secret, dict) or secret.get("is_secret") is not False:
                continue
            kind, hashed = secret.get("type"), secret.get("hashed_secret")
            if (
                not isinstance(kind, str)
                or not isinstance(hashed, str)
                or not _HASH.fullmatch(hashed)
            ):
                raise RepoConfigError(
                    SECRETS_BASELINE,
                    None,
                    f"results.{json.dumps(path)}",
                    "an entry without a 'type' and a 'hashed_secret'",
                )
            entries.add(BaselineEntry(path, kind, hashed))
    return frozenset(entries)
