"""Manifest parsers: realistic files per format, and no exception on arbitrary input."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanpulse.analyzers.dependencies.manifests import (
    Dependency,
    ManifestResult,
    is_manifest,
    parse_manifest,
)
from scanpulse.analyzers.dependencies.manifests.npm import parse_package_json, parse_package_lock
from scanpulse.analyzers.dependencies.manifests.pipenv import parse_pipfile, parse_pipfile_lock
from scanpulse.analyzers.dependencies.manifests.pyproject import parse_pyproject
from scanpulse.analyzers.dependencies.manifests.python_locks import parse_poetry_lock, parse_uv_lock
from scanpulse.analyzers.dependencies.manifests.requirements import parse_requirements
from scanpulse.analyzers.dependencies.manifests.setup_files import parse_setup_cfg, parse_setup_py


def pins(result: ManifestResult) -> list[tuple[str, str | None, str, int | None]]:
    return [(dep.name, dep.version, dep.path, dep.line) for dep in result.dependencies]


def reader(files: dict[str, str]) -> Callable[[str], bytes | None]:
    def read(path: str) -> bytes | None:
        content = files.get(path)
        return None if content is None else content.encode()

    return read


# --- requirements files ------------------------------------------------------------------------

REQUIREMENTS = """\
# Production dependencies (pip-compile output, edited by hand)
-i https://pypi.org/simple
--extra-index-url https://packages.example.com/simple
-r requirements/base.txt
--constraint constraints.txt

Django[argon2,bcrypt]==3.2.0 \\
    --hash=sha256:0604e84c4fb698a5e53e5857b5aea945b2f19a18f25f10b8748dbdf935788927 \\
    --hash=sha256:21f0f9643722675976004eb683c55d33c05486f94506672df3d6a141546f389d
jinja2==2.10 ; python_version < "3.8"  # legacy template engine
PyYAML===5.1
requests>=2.0,<3  # unpinned on purpose
flask
pkg-wild==1.*
-e git+https://github.com/pallets/click.git#egg=click
https://files.example.com/pkgs/foo-1.0-py3-none-any.whl
./vendor/localpkg
mylib @ file:///opt/wheels/mylib-1.0.tar.gz
foo bar baz
--frobnicate
-r ../../outside.txt
-r missing.txt
"""
BASE = """\
urllib3==1.26.4  # via requests
-r ../requirements.txt
"""
CONSTRAINTS = """\
certifi==2020.12.5
idna>=2
"""


def test_requirements_with_includes_hashes_markers_extras_and_garbage() -> None:
    # given
    files = {"requirements/base.txt": BASE, "constraints.txt": CONSTRAINTS}

    # when
    result = parse_requirements(REQUIREMENTS, "requirements.txt", include=reader(files))

    # then
    assert pins(result) == [
        ("urllib3", "1.26.4", "requirements/base.txt", 1),
        ("certifi", "2020.12.5", "constraints.txt", 1),
        ("Django", "3.2.0", "requirements.txt", 7),
        ("jinja2", "2.10", "requirements.txt", 10),
        ("PyYAML", "5.1", "requirements.txt", 11),
        ("requests", None, "requirements.txt", 12),
        ("flask", None, "requirements.txt", 13),
        ("pkg-wild", None, "requirements.txt", 14),
    ]
    by_name = {dep.name: dep for dep in result.dependencies}
    assert by_name["jinja2"].marker == 'python_version < "3.8"'
    assert by_name["Django"].spec == "Django[argon2,bcrypt]==3.2.0"
    assert by_name["Django"].requirement() == "django==3.2.0"
    assert by_name["requests"].requirement() == "requests<3,>=2.0"
    assert by_name["certifi"].direct is False
    assert by_name["Django"].direct is True
    assert result.messages == [
        "requirements/base.txt:2: include cycle requirements.txt -> requirements/base.txt -> "
        "requirements.txt; not followed",
        "requirements.txt:15: editable requirement "
        "'git+https://github.com/pallets/click.git#egg=click' cannot be checked against advisories",
        "requirements.txt:16: URL or local-path requirement "
        "'https://files.example.com/pkgs/foo-1.0-py3-none-any.whl' cannot be checked against "
        "advisories",
        "requirements.txt:17: URL or local-path requirement './vendor/localpkg' cannot be "
        "checked against advisories",
        "requirements.txt:18: URL requirement 'mylib @ file:///opt/wheels/mylib-1.0.tar.gz' "
        "cannot be checked against advisories",
        "requirements.txt:19: cannot parse 'foo bar baz' (Expected semicolon (after name with no "
        "version specifier) or end)",
        "requirements.txt:20: unknown option '--frobnicate' ignored",
        "requirements.txt:21: '../../outside.txt' is outside the checkout; not followed",
        "requirements.txt:22: included file 'missing.txt' not found",
    ]


def test_requirements_options_in_every_spelling() -> None:
    files = {"a.txt": "a==1\n", "b.txt": "b==2\n", "c.txt": "c==3\n"}
    text = "-ra.txt\n--requirement=b.txt\n--requirement   c.txt\n"

    result = parse_requirements(text, "requirements.txt", include=reader(files))

    assert [(dep.name, dep.version) for dep in result.dependencies] == [
        ("a", "1"),
        ("b", "2"),
        ("c", "3"),
    ]
    assert result.messages == []


def test_includes_without_a_reader_are_reported() -> None:
    result = parse_requirements("-r other.txt\n", "sub/requirements.txt")

    assert result.messages == ["sub/requirements.txt:1: included file 'sub/other.txt' not found"]


def test_a_comment_ending_in_backslash_does_not_continue() -> None:
    result = parse_requirements("# note \\\ndjango==3.2.0\n", "requirements.txt")

    assert pins(result) == [("django", "3.2.0", "requirements.txt", 2)]


def test_utf16_requirements_from_powershell_are_read() -> None:
    # `pip freeze > requirements.txt` in Windows PowerShell writes UTF-16 with a BOM
    data = "django==3.2.0\r\nrequests==2.31.0\r\n".encode("utf-16")

    result = parse_requirements(data, "requirements.txt")

    assert [(dep.name, dep.version) for dep in result.dependencies] == [
        ("django", "3.2.0"),
        ("requests", "2.31.0"),
    ]


def test_invalid_utf8_is_a_message() -> None:
    result = parse_requirements(b"django==3.2.0\n\xff\xfe\xfd garbage\x80\n", "requirements.txt")

    assert result.dependencies == []
    assert result.messages == ["requirements.txt: not valid UTF-8 text; skipped"]


def test_control_characters_are_escaped_in_messages() -> None:
    result = parse_requirements("bad\x1b[31m line\n", "requirements.txt")

    assert result.messages[0].startswith("requirements.txt:1: cannot parse 'bad\\x1b[31m line'")


# --- pyproject.toml ----------------------------------------------------------------------------

PYPROJECT = """\
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "webapp"
version = "1.0.0"
dependencies = [
    "Django==3.2.0",
    "requests>=2,<3",
    'PyYAML == 5.1 ; sys_platform != "win32"',
    "not a valid requirement !",
]

[project.optional-dependencies]
docs = ["sphinx==7.2.6"]
dev = ["pytest"]
"""


def test_pyproject_pins_and_ranges() -> None:
    result = parse_pyproject(PYPROJECT, "pyproject.toml")

    assert pins(result) == [
        ("Django", "3.2.0", "pyproject.toml", 9),
        ("requests", None, "pyproject.toml", 10),
        ("PyYAML", "5.1", "pyproject.toml", 11),
        ("sphinx", "7.2.6", "pyproject.toml", 16),
        ("pytest", None, "pyproject.toml", 17),
    ]
    assert result.dependencies[2].marker == 'sys_platform != "win32"'
    assert len(result.messages) == 1
    assert result.messages[0].startswith(
        "pyproject.toml:12: cannot parse 'not a valid requirement !'"
    )


def test_pyproject_without_project_table_is_fine() -> None:
    result = parse_pyproject("[tool.ruff]\nline-length = 100\n", "pyproject.toml")

    assert result == ManifestResult()


def test_pyproject_with_wrong_types_gives_messages() -> None:
    text = '[project]\ndependencies = "django"\noptional-dependencies = ["x"]\n'

    result = parse_pyproject(text, "pyproject.toml")

    assert result.messages == [
        "pyproject.toml: project.optional-dependencies is not a table; skipped",
        "pyproject.toml: project.dependencies is not a list; skipped",
    ]


# --- poetry.lock -------------------------------------------------------------------------------

POETRY_LOCK = """\
# This file is automatically @generated by Poetry 1.8.3 and should not be changed by hand.

[[package]]
name = "asgiref"
version = "3.8.1"
description = "ASGI specs, helper code, and adapters"
optional = false
python-versions = ">=3.8"
files = [
    {file = "asgiref-3.8.1-py3-none-any.whl", hash = "sha256:3e1e3ecc849832fe52ccf2cb6686b7a55f82bb1d6aee72a58826471390335e47"},
    {file = "asgiref-3.8.1.tar.gz", hash = "sha256:c343bd80a0bec947a9860adb4c432ffa7db769836c64238fc34bdc3fec84d590"},
]

[package.extras]
tests = ["mypy (>=0.800)", "pytest", "pytest-asyncio"]

[[package]]
name = "django"
version = "3.2.0"
description = "A high-level Python Web framework that encourages rapid development and clean, pragmatic design."
optional = false
python-versions = ">=3.6"
files = [
    {file = "Django-3.2-py3-none-any.whl", hash = "sha256:0604e84c4fb698a5e53e5857b5aea945b2f19a18f25f10b8748dbdf935788927"},
]

[package.dependencies]
asgiref = ">=3.3.2,<4"
pytz = "*"
sqlparse = ">=0.2.2"

[[package]]
name = "mylib"
version = "0.1.0"
description = ""
optional = false
python-versions = "^3.11"
files = []
develop = true

[package.source]
type = "directory"
url = "../mylib"

[[package]]
name = "pyyaml"
version = "5.1"
description = "YAML parser and emitter for Python"
optional = false
python-versions = "*"
files = []

[metadata]
lock-version = "2.0"
python-versions = "^3.11"
content-hash = "4f2b4b3c8c8a5e9b1c7a0c2a1d0e9f8b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1"
"""


def test_poetry_lock() -> None:
    result = parse_poetry_lock(POETRY_LOCK, "poetry.lock")

    assert pins(result) == [
        ("asgiref", "3.8.1", "poetry.lock", 4),
        ("django", "3.2.0", "poetry.lock", 18),
        ("pyyaml", "5.1", "poetry.lock", 46),
    ]
    assert result.messages == [
        "poetry.lock:33: 'mylib' comes from a directory source; cannot be checked against "
        "advisories"
    ]
    assert all(dep.direct is False for dep in result.dependencies)


# --- uv.lock -----------------------------------------------------------------------------------

UV_LOCK = """\
version = 1
requires-python = ">=3.11"

[[package]]
name = "asgiref"
version = "3.8.1"
source = { registry = "https://pypi.org/simple" }
sdist = { url = "https://files.pythonhosted.org/packages/29/38/asgiref-3.8.1.tar.gz", hash = "sha256:c343bd80a0bec947a9860adb4c432ffa7db769836c64238fc34bdc3fec84d590", size = 35186 }
wheels = [
    { url = "https://files.pythonhosted.org/packages/39/e3/asgiref-3.8.1-py3-none-any.whl", hash = "sha256:3e1e3ecc849832fe52ccf2cb6686b7a55f82bb1d6aee72a58826471390335e47", size = 23828 },
]

[[package]]
name = "django"
version = "3.2.0"
source = { registry = "https://pypi.org/simple" }
dependencies = [
    { name = "asgiref" },
    { name = "pytz" },
    { name = "sqlparse" },
]

[[package]]
name = "patched"
version = "1.0.0"
source = { git = "https://github.com/example/patched?rev=main#0123456789abcdef0123456789abcdef01234567" }

[[package]]
name = "webapp"
version = "0.1.0"
source = { editable = "." }
dependencies = [
    { name = "django" },
]

[package.optional-dependencies]
yaml = [
    { name = "pyyaml" },
]

[package.metadata]
requires-dist = [
    { name = "django", specifier = "==3.2.0" },
    { name = "pyyaml", marker = "extra == 'yaml'", specifier = "==5.1" },
]

[[package]]
name = "pyyaml"
version = "5.1"
source = { registry = "https://pypi.org/simple" }
"""


def test_uv_lock() -> None:
    result = parse_uv_lock(UV_LOCK, "uv.lock")

    assert pins(result) == [
        ("asgiref", "3.8.1", "uv.lock", 5),
        ("django", "3.2.0", "uv.lock", 14),
        ("pyyaml", "5.1", "uv.lock", 48),
    ]
    assert [dep.direct for dep in result.dependencies] == [False, True, True]
    assert result.messages == [
        "uv.lock:24: 'patched' comes from a git source; cannot be checked against advisories"
    ]


# --- Pipfile.lock ------------------------------------------------------------------------------

PIPFILE_LOCK = json.dumps(
    {
        "_meta": {
            "hash": {"sha256": "7e7ef69da7248742e869378f8421880cf8f0017f96d94d086813baa518a65489"},
            "pipfile-spec": 6,
            "requires": {"python_version": "3.11"},
            "sources": [{"name": "pypi", "url": "https://pypi.org/simple", "verify_ssl": True}],
        },
        "default": {
            "django": {
                "hashes": [
                    "sha256:0604e84c4fb698a5e53e5857b5aea945b2f19a18f25f10b8748dbdf935788927"
                ],
                "index": "pypi",
                "markers": "python_version >= '3.6'",
                "version": "==3.2.0",
            },
            "mylib": {"editable": True, "path": "./mylib"},
            "requests": {"index": "pypi", "version": "==2.31.0"},
        },
        "develop": {
            "pytest": {"version": "==8.0.0"},
            "django": {"version": "==4.2.11"},
            "tooling": {"git": "https://github.com/example/tooling.git", "ref": "abc123"},
        },
    },
    indent=4,
    sort_keys=True,
)


def test_pipfile_lock() -> None:
    result = parse_pipfile_lock(PIPFILE_LOCK, "Pipfile.lock")

    lines = PIPFILE_LOCK.splitlines()
    assert [(name, version) for name, version, _, _ in pins(result)] == [
        ("django", "3.2.0"),
        ("requests", "2.31.0"),
        ("django", "4.2.11"),
        ("pytest", "8.0.0"),
    ]
    # line numbers point at each entry, in its own section
    assert [lines[dep.line - 1].strip() for dep in result.dependencies if dep.line] == [
        '"django": {',
        '"requests": {',
        '"django": {',
        '"pytest": {',
    ]
    assert result.dependencies[0].line != result.dependencies[2].line
    assert result.dependencies[0].marker == "python_version >= '3.6'"
    assert [message.split(": ", 1)[1] for message in result.messages] == [
        "'mylib' comes from a path source; cannot be checked against advisories",
        "'tooling' comes from a git source; cannot be checked against advisories",
    ]


# --- package-lock.json -------------------------------------------------------------------------

PACKAGE_LOCK = """\
{
  "name": "webapp",
  "version": "1.0.0",
  "lockfileVersion": 3,
  "requires": true,
  "packages": {
    "": {
      "name": "webapp",
      "version": "1.0.0",
      "workspaces": ["packages/*"],
      "dependencies": {
        "@babel/core": "^7.24.0",
        "lodash": "^4.17.20",
        "my-alias": "npm:left-pad@1.3.0"
      },
      "devDependencies": {
        "jest": "^29.7.0"
      }
    },
    "node_modules/@babel/core": {
      "version": "7.24.0",
      "resolved": "https://registry.npmjs.org/@babel/core/-/core-7.24.0.tgz",
      "integrity": "sha512-fQfkg0Gjkza3nf0c7/w6Xf34BW4YvzNfACRLmmb7XRLa6XHdR+K9AlJlxneFfWYf6uhOzuzZVTjF/8KfndZANw==",
      "dependencies": {
        "semver": "^6.3.1"
      }
    },
    "node_modules/@babel/core/node_modules/semver": {
      "version": "6.3.1",
      "resolved": "https://registry.npmjs.org/semver/-/semver-6.3.1.tgz",
      "integrity": "sha512-BR7VvDCVHO+q2xBEWskxS6DJE1qRnb7DxzUrogb71CWoSficBxYsiAGd+Kl0mmq/MprG9yArRkyrQxTO6XjMzA==",
      "bin": {
        "semver": "bin/semver.js"
      }
    },
    "node_modules/jest": {
      "version": "29.7.0",
      "dev": true
    },
    "node_modules/lodash": {
      "version": "4.17.20",
      "resolved": "https://registry.npmjs.org/lodash/-/lodash-4.17.20.tgz",
      "integrity": "sha512-PlhdFcillOINfeV7Ni6oF1TAEayyZBoZ8bcshTHqOYJYlrqzRK5hagpagky5o4HfCzzd1TRkXPMFq6cKk9rGmA=="
    },
    "node_modules/my-alias": {
      "name": "left-pad",
      "version": "1.3.0"
    },
    "node_modules/semver": {
      "version": "7.6.0"
    },
    "node_modules/shared-lib": {
      "resolved": "packages/shared-lib",
      "link": true
    },
    "packages/shared-lib": {
      "name": "shared-lib",
      "version": "0.0.1"
    },
    "node_modules/broken": {
      "resolved": "https://registry.npmjs.org/broken/-/broken.tgz"
    }
  }
}
"""


def test_package_lock_v3_with_nested_scoped_and_aliased_packages() -> None:
    result = parse_package_lock(PACKAGE_LOCK, "web/package-lock.json")

    assert [(d.name, d.version, d.line, d.direct) for d in result.dependencies] == [
        ("@babel/core", "7.24.0", 20, True),
        ("semver", "6.3.1", 28, False),
        ("jest", "29.7.0", 36, True),
        ("lodash", "4.17.20", 40, True),
        ("left-pad", "1.3.0", 45, True),
        ("semver", "7.6.0", 49, False),
    ]
    assert all(dep.ecosystem == "npm" for dep in result.dependencies)
    assert result.dependencies[0].requirement() == "@babel/core@7.24.0"
    assert result.messages == [
        "web/package-lock.json:60: 'broken' has no version; cannot be checked"
    ]


def test_package_lock_v1_is_reported_as_unsupported() -> None:
    text = json.dumps({"lockfileVersion": 1, "dependencies": {"lodash": {"version": "4.17.20"}}})

    result = parse_package_lock(text, "package-lock.json")

    assert result.dependencies == []
    assert result.messages == [
        "package-lock.json: lockfileVersion 1 is not supported; regenerate it with npm 7 or later"
    ]


# --- package.json, Pipfile, setup.py, setup.cfg, Poetry ----------------------------------------


def test_package_json_exact_versions_are_pins_and_other_sources_are_messages() -> None:
    document = {
        "name": "web",
        "dependencies": {
            "lodash": "4.17.20",
            "ws": "=8.0.0",
            "express": "^4.17.0",
            "left": "npm:left-pad@1.3.0",
            "mine": "github:me/mine",
            "local": "file:../local",
        },
        "devDependencies": {"jest": "~29.0.0", "@babel/core": "v7.22.0"},
        "peerDependencies": {"react": "18.2.0"},
    }

    result = parse_package_json(json.dumps(document, indent=2), "web/package.json")

    assert [(d.name, d.version, d.spec, d.line) for d in result.dependencies] == [
        ("lodash", "4.17.20", "lodash@4.17.20", 4),
        ("ws", "8.0.0", "ws@=8.0.0", 5),
        ("express", None, "express@^4.17.0", 6),
        ("left-pad", "1.3.0", "left-pad@1.3.0", 7),
        ("jest", None, "jest@~29.0.0", 12),
        ("@babel/core", "7.22.0", "@babel/core@v7.22.0", 13),
    ]
    assert result.messages == [
        "web/package.json:8: 'mine' comes from 'github:me/mine', not the npm registry; "
        "cannot be checked against advisories",
        "web/package.json:9: 'local' comes from 'file:../local', not the npm registry; "
        "cannot be checked against advisories",
    ]
    assert result.lockfiles == (
        "package-lock.json",
        "npm-shrinkwrap.json",
        "yarn.lock",
        "pnpm-lock.yaml",
    )


def test_pipfile_pins_ranges_and_sources() -> None:
    text = (
        '[packages]\ndjango = "==3.2.0"\nrequests = "*"\n'
        'flask = {version = ">=2", extras = ["async"]}\nmine = {path = "."}\n\n'
        '[dev-packages]\npytest = {version = "==7.0.0"}\n'
    )

    result = parse_pipfile(text, "Pipfile")

    assert pins(result) == [
        ("django", "3.2.0", "Pipfile", 2),
        ("requests", None, "Pipfile", 3),
        ("flask", None, "Pipfile", 4),
        ("pytest", "7.0.0", "Pipfile", 8),
    ]
    assert result.messages == [
        "Pipfile:5: 'mine' comes from a path source; cannot be checked against advisories"
    ]
    assert result.lockfiles == ("Pipfile.lock",)


def test_setup_py_is_read_as_a_syntax_tree_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    text = f"""\
import os
from setuptools import setup

os.mkdir({str(marker)!r})
BASE = ["django==3.2.0", "requests>=2"]
EXTRA = "pyyaml==5.3\\n# comment\\njinja2>=2"

setup(
    name="x",
    install_requires=BASE,
    extras_require={{"yaml": EXTRA, "fast": ["ujson==1.0"], "dyn": make()}},
    **more,
)
"""

    result = parse_setup_py(text, "setup.py")

    assert not marker.exists()
    assert pins(result) == [
        ("django", "3.2.0", "setup.py", 5),
        ("requests", None, "setup.py", 5),
        ("pyyaml", "5.3", "setup.py", 6),
        ("jinja2", None, "setup.py", 8),
        ("ujson", "1.0", "setup.py", 11),
    ]
    assert result.messages == [
        "setup.py:11: extras_require is computed, not a literal; its dependencies cannot be "
        "checked",
        "setup.py:8: setup() gets arguments from **'more', which is not read; dependencies "
        "passed that way cannot be checked",
    ]


def test_setup_py_that_is_not_python_is_not_read() -> None:
    result = parse_setup_py("setup(\n", "pkg/setup.py")

    assert result.dependencies == []
    assert result.unread is not None and result.unread.startswith("not valid Python")
    assert result.messages == [f"pkg/setup.py: {result.unread}; skipped"]


def test_setup_cfg_install_requires_and_extras() -> None:
    text = (
        "[metadata]\nname = x\n\n[options]\ninstall_requires =\n    django==3.2.0\n"
        "    requests>=2  # any\n\n[options.extras_require]\ntest = pytest==7.0.0\n"
    )

    result = parse_setup_cfg(text, "setup.cfg")

    assert pins(result) == [
        ("django", "3.2.0", "setup.cfg", 6),
        ("requests", None, "setup.cfg", 7),
        ("pytest", "7.0.0", "setup.cfg", 10),
    ]
    assert result.messages == []


def test_poetry_dependencies_in_pyproject() -> None:
    text = """\
[tool.poetry]
name = "x"

[tool.poetry.dependencies]
python = "^3.11"
django = "3.2.0"
requests = "^2.28"
pyyaml = {version = "==5.3", optional = true}
mine = {git = "https://example.com/mine.git"}

[tool.poetry.group.dev.dependencies]
pytest = "*"
"""

    result = parse_pyproject(text, "pyproject.toml")

    assert [(d.name, d.version, d.spec, d.line) for d in result.dependencies] == [
        ("django", "3.2.0", 'django = "3.2.0"', 6),
        ("requests", None, 'requests = "^2.28"', 7),
        ("pyyaml", "5.3", 'pyyaml = "==5.3"', 8),
        ("pytest", None, 'pytest = "*"', 12),
    ]
    assert result.messages == [
        "pyproject.toml:9: 'mine' comes from a git source; cannot be checked against advisories"
    ]
    assert result.lockfiles == ("poetry.lock",)


def test_requirements_in_shrinkwrap_and_yarn_are_manifests_of_their_kind() -> None:
    assert pins(parse_manifest("django==3.2.0\n", "requirements.in")) == [
        ("django", "3.2.0", "requirements.in", 1)
    ]
    shrinkwrap = {"lockfileVersion": 3, "packages": {"node_modules/ws": {"version": "8.0.0"}}}
    assert pins(parse_manifest(json.dumps(shrinkwrap), "npm-shrinkwrap.json")) == [
        ("ws", "8.0.0", "npm-shrinkwrap.json", None)
    ]
    yarn = parse_manifest("lodash@^4:\n  version 4.17.20\n", "yarn.lock")
    assert pins(yarn) == [("lodash", "4.17.20", "yarn.lock", 1)]


def test_credentials_in_urls_are_never_quoted() -> None:
    token = "ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
    requirements = parse_requirements(
        f"git+https://bot:{token}@github.com/acme/lib.git#egg=lib\n", "requirements.txt"
    )
    package = parse_package_json(
        json.dumps({"dependencies": {"lib": f"git+https://{token}@github.com/acme/lib.git"}}),
        "package.json",
    )

    messages = requirements.messages + package.messages
    assert len(messages) == 2 and all("***@github.com/acme/lib.git" in m for m in messages)
    assert not any(token in message for message in messages)


# --- selection ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("requirements.txt", True),
        ("svc/requirements-dev.txt", True),
        ("requirements_test.txt", True),
        ("poetry.lock", True),
        ("a/b/uv.lock", True),
        ("Pipfile.lock", True),
        ("pyproject.toml", True),
        ("web/package-lock.json", True),
        ("requirements.in", True),
        ("Pipfile", True),
        ("package.json", True),
        ("setup.py", True),
        ("setup.cfg", True),
        ("npm-shrinkwrap.json", True),
        ("yarn.lock", True),
        ("node_modules/left-pad/package.json", False),
        ("Pipfile.txt", False),
        ("REQUIREMENTS.TXT", False),
        ("docs/requirements.md", False),
        ("node_modules/.package-lock.json", False),
    ],
)
def test_is_manifest(path: str, expected: bool) -> None:
    assert is_manifest(path) is expected


def test_parse_manifest_dispatches_on_the_base_name() -> None:
    assert pins(parse_manifest("django==3.2.0\n", "x/requirements-prod.txt")) == [
        ("django", "3.2.0", "x/requirements-prod.txt", 1)
    ]
    assert parse_manifest("", "x/Gemfile").messages == [
        "x/Gemfile: not a supported dependency manifest"
    ]


# --- no parser ever raises ---------------------------------------------------------------------

PARSERS: dict[str, Callable[[str | bytes, str], ManifestResult]] = {
    "requirements.txt": parse_requirements,
    "pyproject.toml": parse_pyproject,
    "poetry.lock": parse_poetry_lock,
    "uv.lock": parse_uv_lock,
    "Pipfile.lock": parse_pipfile_lock,
    "package-lock.json": parse_package_lock,
    "package.json": parse_package_json,
    "Pipfile": parse_pipfile,
    "setup.py": parse_setup_py,
    "setup.cfg": parse_setup_cfg,
}
STRUCTURED = {
    "pyproject.toml",
    "poetry.lock",
    "uv.lock",
    "Pipfile.lock",
    "package-lock.json",
    "package.json",
    "Pipfile",
}


def _is_valid_document(name: str, data: str | bytes) -> bool:
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        if name.endswith((".json", "Pipfile.lock")):
            json.loads(text)
        else:
            tomllib.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


def check_result(name: str, data: str | bytes, result: ManifestResult) -> None:
    assert isinstance(result, ManifestResult)
    assert all(isinstance(dep, Dependency) for dep in result.dependencies)
    assert all(isinstance(message, str) and "\n" not in message for message in result.messages)
    assert all(message.startswith(name) for message in result.messages)
    if name in STRUCTURED and not _is_valid_document(name, data):
        # a file that is not valid JSON/TOML is never silently empty
        assert result.messages


REQUIREMENT_FRAGMENTS = st.sampled_from(
    [
        "django", "Django[a,b]", "==", "===", ">=", "3.2.0", "1.*", " ", "  ", "\n", "\\\n", "#",
        ";", ' python_version < "3.8"', "-r ", "-c ", "--requirement=", "-e ", "--hash=sha256:00",
        "requirements.txt", "../x.txt", "/etc/passwd", "https://x/y.whl", "./local", "@", "\t",
        "-i https://pypi.org/simple", "\x00", "é", "\r\n",
    ]
)  # fmt: skip


@settings(max_examples=150, derandomize=True, database=None, deadline=None)
@given(name=st.sampled_from(sorted(PARSERS)), text=st.text())
def test_parsers_never_raise_on_arbitrary_text(name: str, text: str) -> None:
    check_result(name, text, PARSERS[name](text, name))


@settings(max_examples=150, derandomize=True, database=None, deadline=None)
@given(name=st.sampled_from(sorted(PARSERS)), data=st.binary())
def test_parsers_never_raise_on_arbitrary_bytes(name: str, data: bytes) -> None:
    check_result(name, data, PARSERS[name](data, name))


@settings(max_examples=150, derandomize=True, database=None, deadline=None)
@given(
    text=st.lists(REQUIREMENT_FRAGMENTS, max_size=30).map("".join),
    included=st.lists(REQUIREMENT_FRAGMENTS, max_size=30).map("".join),
)
def test_requirements_parser_never_raises_on_requirement_like_text(
    text: str, included: str
) -> None:
    # every include resolves to more requirement-like text, cycles included
    result = parse_requirements(text, "requirements.txt", include=lambda path: included.encode())

    assert isinstance(result, ManifestResult)
    assert all("\n" not in message for message in result.messages)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(["version", "name", "link", "git", "markers", "x"]),
            children,
            max_size=3,
        )
    ),
    max_leaves=10,
)


@settings(max_examples=150, derandomize=True, database=None, deadline=None)
@given(
    default=st.dictionaries(st.text(max_size=5), JSON_VALUES, max_size=3),
    packages=st.dictionaries(
        st.sampled_from(
            ["", "node_modules/a", "node_modules/@s/b", "node_modules/", "pkgs/c", "x"]
        ),
        JSON_VALUES,
        max_size=4,
    ),
    top=JSON_VALUES,
)
def test_json_parsers_never_raise_on_odd_structures(
    default: dict[str, object], packages: dict[str, object], top: object
) -> None:
    for document in ({"default": default, "develop": top}, {"packages": packages}, top):
        text = json.dumps(document)
        check_result("Pipfile.lock", text, parse_pipfile_lock(text, "Pipfile.lock"))
        check_result("package-lock.json", text, parse_package_lock(text, "package-lock.json"))


TOML_VALUES = st.sampled_from(
    ['"3.2.0"', '""', "1", "true", "[]", '["a", 1]', "{ registry = \"x\" }", "{ git = \"x\" }",
     "{ editable = \".\" }", "{ type = \"directory\" }", "{}", '[{ name = "django" }, 3]']
)  # fmt: skip


@settings(max_examples=150, derandomize=True, database=None, deadline=None)
@given(
    tables=st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                "name": TOML_VALUES,
                "version": TOML_VALUES,
                "source": TOML_VALUES,
                "dependencies": TOML_VALUES,
                "optional-dependencies": TOML_VALUES,
            },
        ),
        max_size=4,
    ),
    project=st.fixed_dictionaries(
        {}, optional={"dependencies": TOML_VALUES, "optional-dependencies": TOML_VALUES}
    ),
)
def test_toml_parsers_never_raise_on_odd_structures(
    tables: list[dict[str, str]], project: dict[str, str]
) -> None:
    text = "".join(
        "[[package]]\n" + "".join(f"{key} = {value}\n" for key, value in table.items())
        for table in tables
    )
    text += "[project]\n" + "".join(f"{key} = {value}\n" for key, value in project.items())
    for name in ("poetry.lock", "uv.lock", "pyproject.toml"):
        check_result(name, text, PARSERS[name](text, name))
