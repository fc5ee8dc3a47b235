"""Dependency manifest parsers: requirements files, pyproject.toml (PEP 621 and Poetry),
setup.py and setup.cfg, Pipfile, package.json, the Python and npm (npm, pnpm, Yarn) lock files,
go.mod/go.sum, Cargo.lock, Gemfile.lock, composer.lock, pom.xml, gradle.lockfile, NuGet's
packages.lock.json and *.csproj.

Every parser takes text or raw bytes and never raises: each problem becomes a message such as
``"requirements.txt:7: cannot parse 'foo bar baz'"`` and the rest of the file is still read.
Nothing is ever executed: ``setup.py`` is read as a syntax tree, and only literal values count.

This package holds one module per manifest family (``requirements``, ``pyproject``,
``setup_files``, ``pipenv``, ``python_locks``, ``npm``, ``js_locks``, ``golang``,
``lockfiles``, ``jvm_dotnet``) over the shared ``results`` and
``reading``; this module chooses the parser for a file.
"""

from __future__ import annotations

import fnmatch
import posixpath

from scanpulse.advisories.versions import (
    CRATES_IO,
    GO,
    MAVEN,
    NPM,
    NUGET,
    PACKAGIST,
    PYPI,
    RUBYGEMS,
)

from .golang import parse_go_mod, parse_go_sum
from .js_locks import parse_pnpm_lock, parse_yarn_lock
from .jvm_dotnet import (
    parse_csproj,
    parse_gradle_lockfile,
    parse_packages_lock,
    parse_pom,
)
from .lockfiles import parse_cargo_lock, parse_composer_lock, parse_gemfile_lock
from .npm import NPM_LOCKFILES, parse_package_json, parse_package_lock
from .pipenv import parse_pipfile, parse_pipfile_lock
from .pyproject import parse_pyproject
from .python_locks import parse_poetry_lock, parse_uv_lock
from .requirements import parse_requirements
from .results import Dependency, IncludeReader, ManifestParser, ManifestResult
from .setup_files import parse_setup_cfg, parse_setup_py

__all__ = [
    "Dependency",
    "IncludeReader",
    "ManifestResult",
    "is_manifest",
    "manifest_ecosystem",
    "parse_manifest",
]


# --- selection ---------------------------------------------------------------------------------

_PARSERS: dict[str, ManifestParser] = {
    "pyproject.toml": parse_pyproject,
    "setup.py": parse_setup_py,
    "setup.cfg": parse_setup_cfg,
    "Pipfile": parse_pipfile,
    "poetry.lock": parse_poetry_lock,
    "uv.lock": parse_uv_lock,
    "Pipfile.lock": parse_pipfile_lock,
    "package.json": parse_package_json,
    "package-lock.json": parse_package_lock,
    "npm-shrinkwrap.json": parse_package_lock,  # the same format, published with a package
    "yarn.lock": parse_yarn_lock,
    "pnpm-lock.yaml": parse_pnpm_lock,
    "go.mod": parse_go_mod,
    "go.sum": parse_go_sum,
    "Cargo.lock": parse_cargo_lock,
    "Gemfile.lock": parse_gemfile_lock,
    "composer.lock": parse_composer_lock,
    "packages.lock.json": parse_packages_lock,
    "pom.xml": parse_pom,
    "gradle.lockfile": parse_gradle_lockfile,
}
_ECOSYSTEMS = {
    "go.mod": GO,
    "go.sum": GO,
    "Cargo.lock": CRATES_IO,
    "Gemfile.lock": RUBYGEMS,
    "composer.lock": PACKAGIST,
    "packages.lock.json": NUGET,
    "pom.xml": MAVEN,
    "gradle.lockfile": MAVEN,
}
# pip-tools compiles requirements.in into requirements.txt: both are requirements files.
_REQUIREMENTS_PATTERNS = ("requirements*.txt", "requirements*.in")
# MSBuild project files of C#, F# and Visual Basic: their PackageReference items.
_PROJECT_SUFFIXES = (".csproj", ".fsproj", ".vbproj")
_NPM_MANIFESTS = frozenset({"package.json", *NPM_LOCKFILES, "yarn.lock", "pnpm-lock.yaml"})


def _is_requirements(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in _REQUIREMENTS_PATTERNS)


def is_manifest(path: str) -> bool:
    """Whether the file (by its base name) is a manifest this analyzer reads. The package.json
    files of installed packages (under ``node_modules/``) are not: the lock file has them."""
    name = posixpath.basename(path)
    if name == "package.json" and "node_modules" in path.split("/")[:-1]:
        return False
    return name in _PARSERS or _is_requirements(name) or name.endswith(_PROJECT_SUFFIXES)


def manifest_ecosystem(path: str) -> str:
    """The ecosystem of a manifest's dependencies (by its base name)."""
    name = posixpath.basename(path)
    if name.endswith(_PROJECT_SUFFIXES):
        return NUGET
    if name in _ECOSYSTEMS:
        return _ECOSYSTEMS[name]
    return NPM if name in _NPM_MANIFESTS else PYPI


def parse_manifest(
    data: str | bytes, path: str, *, include: IncludeReader | None = None
) -> ManifestResult:
    """Parse any supported manifest, choosing the parser by base name; ``include`` reads the
    files requirements files refer to. A path ``is_manifest`` rejects gives a message."""
    name = posixpath.basename(path)
    parser = _PARSERS.get(name)
    if parser is not None:
        return parser(data, path)
    if _is_requirements(name):
        return parse_requirements(data, path, include=include)
    if name.endswith(_PROJECT_SUFFIXES):
        return parse_csproj(data, path)
    return ManifestResult(messages=[f"{path}: not a supported dependency manifest"])
