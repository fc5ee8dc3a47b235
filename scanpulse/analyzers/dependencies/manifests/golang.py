"""Go modules: ``go.mod`` (``require``, ``replace``, ``exclude``, and Go itself from the ``go``
and ``toolchain`` directives) and ``go.sum``.

OSV's Go database names the standard library ``stdlib`` and the ``go`` command ``toolchain``;
their versions are Go's (``go1.21.3`` → ``1.21.3``, ``1.21rc2`` → ``1.21.0-rc.2``).
"""

from __future__ import annotations

import re

from scanpulse.advisories.versions import GO, parse_semver

from .reading import decode
from .results import Dependency, ManifestResult, show

_COMMENT = re.compile(r"\s*//.*$")
_GO_RELEASE = re.compile(r"(?:go)?(\d+)\.(\d+)(?:\.(\d+))?(?:(rc|beta)(\d+))?")
# A module version: vMAJOR.MINOR.PATCH with optional pre-release (pseudo-versions are ones)
# and build metadata (+incompatible).
_MODULE_VERSION = re.compile(r"v\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?")
_BLOCK_VERBS = ("require", "replace", "exclude", "retract", "tool", "godebug", "ignore")


def go_release(text: str) -> str | None:
    """A Go release as OSV writes it: ``1.21`` → ``1.21.0``, ``go1.20.3`` → ``1.20.3``,
    ``1.21rc2`` → ``1.21.0-rc.2``; ``None`` if it is not one."""
    match = _GO_RELEASE.fullmatch(text.strip())
    if match is None:
        return None
    major, minor, patch, kind, number = match.groups()
    version = f"{major}.{minor}.{patch or 0}"
    return f"{version}-{kind}.{number}" if kind else version


def _unquote(token: str) -> str:
    return token[1:-1] if len(token) >= 2 and token[0] == token[-1] and token[0] in '"`' else token


def _statements(text: str) -> list[tuple[int, str, list[str], bool]]:
    """``(line, verb, arguments, indirect)`` per directive, blocks ``require ( … )`` unrolled."""
    found = []
    block: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        indirect = bool(re.search(r"//\s*indirect\b", raw))
        line = _COMMENT.sub("", raw).strip()
        if not line:
            continue
        if block is not None:
            if line == ")":
                block = None
            else:
                found.append((number, block, [_unquote(t) for t in line.split()], indirect))
            continue
        verb, _, rest = line.partition(" ")
        rest = rest.strip()
        if verb in _BLOCK_VERBS and rest == "(":
            block = verb
            continue
        found.append((number, verb, [_unquote(t) for t in rest.split()], indirect))
    return found


def parse_go_mod(data: str | bytes, path: str) -> ManifestResult:
    """``go.mod``: every ``require`` (``// indirect`` ones are not direct) after ``replace``
    directives are applied (a local-path replacement cannot be checked), versions in ``exclude``
    reported, and ``stdlib``/``toolchain`` at the ``toolchain`` (else ``go``) directive's
    release. The file is never handed to the go command."""
    result = ManifestResult()
    text = decode(data, path, result)
    if text is None:
        return result
    statements = _statements(text)
    replaces: dict[tuple[str, str | None], tuple[list[str], int]] = {}
    excluded: set[tuple[str, str]] = set()
    go_line: tuple[int, str] | None = None
    toolchain_line: tuple[int, str] | None = None
    for number, verb, args, _ in statements:
        where = f"{path}:{number}"
        if verb == "replace":
            if "=>" not in args:
                result.messages.append(f"{where}: cannot parse replace {show(' '.join(args))}")
                continue
            arrow = args.index("=>")
            old, new = args[:arrow], args[arrow + 1 :]
            if len(old) not in (1, 2) or len(new) not in (1, 2):
                result.messages.append(f"{where}: cannot parse replace {show(' '.join(args))}")
                continue
            replaces[(old[0], old[1] if len(old) == 2 else None)] = (new, number)
        elif verb == "exclude" and len(args) == 2:
            excluded.add((args[0], args[1]))
        elif verb == "go" and args:
            go_line = (number, args[0])
        elif verb == "toolchain" and args:
            toolchain_line = (number, args[0])
    for number, verb, args, indirect in statements:
        if verb != "require":
            continue
        where = f"{path}:{number}"
        if len(args) != 2:
            result.messages.append(f"{where}: cannot parse require {show(' '.join(args))}")
            continue
        module, version = args
        if (module, version) in excluded:
            result.messages.append(
                f"{where}: {show(module)} {version} is excluded, so the version built is not "
                "known; cannot be checked"
            )
            continue
        replacement = replaces.get((module, version)) or replaces.get((module, None))
        if replacement is not None:
            new, _ = replacement
            if len(new) == 1:
                result.messages.append(
                    f"{where}: {show(module)} is replaced by the directory {show(new[0])}; "
                    "cannot be checked against advisories"
                )
                continue
            module, version = new
        if not _MODULE_VERSION.fullmatch(version):
            result.messages.append(f"{where}: {show(module)} has no module version; skipped")
            continue
        spec = f"{module}@{version}"
        result.dependencies.append(
            Dependency(GO, module, version, spec, path, number, direct=not indirect)
        )
    _go_itself(result, path, go_line, toolchain_line)
    return result


def _go_itself(
    result: ManifestResult,
    path: str,
    go_line: tuple[int, str] | None,
    toolchain_line: tuple[int, str] | None,
) -> None:
    chosen = toolchain_line or go_line
    if chosen is None:
        return
    number, written = chosen
    release = go_release(written)
    if release is None:
        result.messages.append(f"{path}:{number}: {show(written)} is not a Go release; skipped")
        return
    for name in ("stdlib", "toolchain"):
        result.dependencies.append(
            Dependency(GO, name, release, f"{name}@{release}", path, number, direct=True)
        )


def parse_go_sum(data: str | bytes, path: str) -> ManifestResult:
    """``go.sum``: the modules whose code was downloaded (``h1:`` lines without ``/go.mod``);
    where it lists several versions of one module, the highest is the one built (minimal
    version selection), the others are older requirements it still records."""
    result = ManifestResult()
    text = decode(data, path, result)
    if text is None:
        return result
    best: dict[str, tuple[int, str]] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        parts = raw.split()
        if not parts:
            continue
        if len(parts) != 3 or not parts[2].startswith("h1:"):
            result.messages.append(f"{path}:{number}: cannot parse {show(raw.strip())}")
            continue
        module, version, _ = parts
        if version.endswith("/go.mod"):
            continue
        key = parse_semver(version)
        if key is None or not _MODULE_VERSION.fullmatch(version):
            result.messages.append(f"{path}:{number}: {show(version)} is not a module version")
            continue
        seen = best.get(module)
        seen_key = parse_semver(seen[1]) if seen is not None else None
        if seen_key is None or key > seen_key:
            best[module] = (number, version)
    for module, (number, version) in best.items():
        result.dependencies.append(
            Dependency(GO, module, version, f"{module}@{version}", path, number, direct=False)
        )
    return result
