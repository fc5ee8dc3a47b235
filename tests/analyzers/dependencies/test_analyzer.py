"""The dependencies analyzer end to end on temporary checkouts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scanpulse.advisories.index import MemoryAdvisoryIndex
from scanpulse.advisories.osv import Advisory
from scanpulse.advisories.osv_files import iter_records
from scanpulse.analyzers.base import AnalyzerContext, AnalyzerFinding, AnalyzerResult, Gap
from scanpulse.analyzers.dependencies import DependenciesAnalyzer
from scanpulse.analyzers.dependencies.analyzer import (
    NO_DATABASE_NOTE,
    UNPINNED_RULE_ID,
    VULNERABLE_RULE_ID,
    advisory_title,
    cvss_severity,
)
from scanpulse.pipeline.fingerprints import assign_fingerprints
from tests.support.data import fixture_data

# django==3.2.0 in the PyPA database, derived by hand from the YAML (see tests/advisories).
DJANGO_3_2_0 = [
    "PYSEC-2021-7",
    "PYSEC-2021-8",
    "PYSEC-2021-98",
    "PYSEC-2021-99",
    "PYSEC-2021-109",
    "PYSEC-2021-439",
    "PYSEC-2022-1",
    "PYSEC-2022-2",
    "PYSEC-2022-3",
    "PYSEC-2022-19",
    "PYSEC-2022-20",
    "PYSEC-2022-190",
    "PYSEC-2022-191",
    "PYSEC-2022-213",
    "PYSEC-2022-245",
    "PYSEC-2022-304",
    "PYSEC-2023-12",
    "PYSEC-2023-13",
    "PYSEC-2023-61",
    "PYSEC-2023-100",
    "PYSEC-2023-222",
    "PYSEC-2023-225",
    "PYSEC-2023-226",
    "PYSEC-2024-28",
    "PYSEC-2024-47",
]


def checkout(root: Path, files: dict[str, str | bytes]) -> AnalyzerContext:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return AnalyzerContext(root=root, files=sorted(files))


def advisory_ids(finding: AnalyzerFinding) -> list[str]:
    """The primary ids of the advisories a finding lists (none for an unpinned requirement)."""
    return [advisory["id"] for advisory in finding.properties.get("advisories", ())]


def run(index: MemoryAdvisoryIndex, context: AnalyzerContext) -> AnalyzerResult:
    result = DependenciesAnalyzer(index).run(context)
    # what the pipeline does with it must work too
    assert AnalyzerResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result
    return result


def test_real_database_finds_every_django_advisory_and_the_unpinned_requirement(
    tmp_path: Path, pypa_index: MemoryAdvisoryIndex
) -> None:
    # given
    context = checkout(tmp_path, {"requirements.txt": "django==3.2.0\nrequests>=2\n"})

    # when
    result = run(pypa_index, context)

    # then: one finding for django 3.2.0, listing every advisory
    (django,) = [f for f in result.findings if f.rule_id != UNPINNED_RULE_ID]
    assert django.rule_id == VULNERABLE_RULE_ID
    assert sorted(advisory_ids(django)) == sorted(DJANGO_3_2_0)
    assert (django.path, django.start_line, django.confidence) == ("requirements.txt", 1, "high")
    assert django.message == (
        f"upgrade django 3.2.0 → 3.2.25 fixes 25 advisories: {', '.join(DJANGO_3_2_0)}"
    )
    (unpinned,) = [f for f in result.findings if f.rule_id == UNPINNED_RULE_ID]
    assert unpinned.severity == "info"
    assert unpinned.start_line == 2
    assert unpinned.message == "requests>=2 is not pinned; cannot be checked against advisories"
    assert result.errors == []
    assert result.files_analyzed == 1
    (note,) = result.notes
    assert note.startswith("advisory database: PyPA advisory-database, 62 records, loaded ")


def test_vulnerable_dependency_properties_list_every_advisory_and_the_rule(
    tmp_path: Path, pypa_index: MemoryAdvisoryIndex
) -> None:
    # given
    context = checkout(tmp_path, {"requirements.txt": "Django==3.2.0\n"})

    # when
    result = run(pypa_index, context)

    # then
    (finding,) = result.findings
    assert finding.severity == "high"  # the highest of its advisories (none has a CVSS vector)
    assert finding.snippet == "PyPI:django@3.2.0"
    properties = dict(finding.properties)
    advisories = properties.pop("advisories")
    ids = properties.pop("advisory_ids")
    assert properties == {
        "package": "django",
        "version": "3.2.0",
        "ecosystem": "PyPI",
        "manifest": "requirements.txt",
        "direct": True,
        "advisory_count": 25,
        "upgrade_to": "3.2.25",
        "upgrade_fixes_all": True,
        "upgrade_is_prerelease": False,
        "not_fixed_by_upgrade": [],
        "upgrade_affected_by": [],
    }
    assert [advisory["id"] for advisory in advisories] == DJANGO_3_2_0
    assert ids[6:9] == ["PYSEC-2021-98", "CVE-2021-33203", "GHSA-68w8-qjq3-2gfm"]
    assert advisories[2] == {
        "id": "PYSEC-2021-98",
        "aliases": ["CVE-2021-33203", "GHSA-68w8-qjq3-2gfm"],
        "summary": (
            "Django before 2.2.24, 3.x before 3.1.12, and 3.2.x before 3.2.4 has a potential "
            "directory traversal via django.contrib.admindocs"
        ),
        "severity": "high",
        "fixed_versions": ["2.2.24", "3.1.12", "3.2.4"],
        "published": "2021-06-08T18:15:00Z",
        "url": "https://github.com/advisories/GHSA-68w8-qjq3-2gfm",
    }
    # one rule for every vulnerable dependency: the advisories are in the result, not rules
    assert [rule.id for rule in result.rules] == [VULNERABLE_RULE_ID, UNPINNED_RULE_ID]
    assert result.rules[0].default_severity == "high"


def test_cvss_vector_sets_the_severity(tmp_path: Path, pypa_index: MemoryAdvisoryIndex) -> None:
    # given: werkzeug PYSEC-2023-221 has CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H (7.5)
    context = checkout(tmp_path, {"requirements.txt": "werkzeug==2.3.6\n"})

    # when
    result = run(pypa_index, context)

    # then: the advisory and the finding it is the only one of
    (finding,) = result.findings
    (advisory,) = finding.properties["advisories"]
    assert advisory["id"] == "PYSEC-2023-221"
    assert advisory["severity"] == finding.severity == "high"


def test_empty_index_notes_that_nothing_was_checked(tmp_path: Path) -> None:
    # given
    context = checkout(tmp_path, {"requirements.txt": "django==3.2.0\nrequests>=2\nfoo bar\n"})

    # when
    result = run(MemoryAdvisoryIndex([]), context)

    # then: still the unpinned finding and the parse message
    assert result.notes == [NO_DATABASE_NOTE]
    assert [f.rule_id for f in result.findings] == [UNPINNED_RULE_ID]
    assert len(result.errors) == 1
    assert result.errors[0].startswith("requirements.txt:3: cannot parse 'foo bar'")
    assert [rule.id for rule in result.rules] == [UNPINNED_RULE_ID]


def test_every_manifest_format_in_one_checkout(
    tmp_path: Path, pypa_index: MemoryAdvisoryIndex
) -> None:
    # given: a requirements include chain, lock files in two directories, and noise
    context = checkout(
        tmp_path,
        {
            "requirements.txt": "-r requirements-dev.txt\njinja2==2.10\n",
            "requirements-dev.txt": "pyyaml==5.1\n",
            "svc/poetry.lock": '[[package]]\nname = "Jinja2"\nversion = "2.10"\n',
            "svc/pyproject.toml": '[project]\ndependencies = ["jinja2>=2", "flask>=2"]\n',
            "web/package-lock.json": json.dumps(
                {"lockfileVersion": 3, "packages": {"node_modules/lodash": {"version": "4.17.20"}}}
            ),
            "README.md": "django==1.0\n",
        },
    )
    progress: list[tuple[int, int]] = []
    context.progress = lambda done, total: progress.append((done, total))

    # when
    result = run(pypa_index, context)

    # then: one finding per vulnerable package version and manifest, listing its advisories
    found = sorted((f.path, f.start_line, f.rule_id, advisory_ids(f)) for f in result.findings)
    assert found == [
        ("requirements-dev.txt", 1, VULNERABLE_RULE_ID, ["PYSEC-2020-96", "PYSEC-2020-176", "PYSEC-2021-142"]),
        ("requirements.txt", 2, VULNERABLE_RULE_ID, ["PYSEC-2019-217", "PYSEC-2021-66"]),
        ("svc/poetry.lock", 2, VULNERABLE_RULE_ID, ["PYSEC-2019-217", "PYSEC-2021-66"]),
        # jinja2>=2 is pinned by the lock next to it; flask is not
        ("svc/pyproject.toml", 2, UNPINNED_RULE_ID, []),
    ]  # fmt: skip
    # the included file is also a manifest on its own, but reported once
    assert len(result.findings) == len(found)
    assert result.files_analyzed == 5
    assert progress == [(0, 5), (1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]
    assert result.errors == []


def test_npm_lock_checked_against_an_npm_advisory(tmp_path: Path) -> None:
    # given: a GHSA-style npm record with a SEMVER range and a CVSS vector
    advisory = Advisory.from_dict(
        {
            "id": "GHSA-35jh-r3h4-6jhm",
            "modified": "2024-01-01T00:00:00Z",
            "aliases": ["CVE-2021-23337"],
            "summary": "Command Injection in lodash",
            "severity": [
                {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H"}
            ],
            "references": [
                {"type": "ADVISORY", "url": "https://nvd.nist.gov/vuln/detail/CVE-2021-23337"}
            ],
            "affected": [
                {
                    "package": {"ecosystem": "npm", "name": "lodash"},
                    "ranges": [
                        {"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "4.17.21"}]}
                    ],
                }
            ],
        }
    )
    lock = {
        "lockfileVersion": 3,
        "packages": {
            "": {"dependencies": {"lodash": "^4.17.0"}},
            "node_modules/lodash": {"version": "4.17.20"},
            "node_modules/a/node_modules/lodash": {"version": "4.17.21"},
        },
    }
    context = checkout(tmp_path, {"package-lock.json": json.dumps(lock, indent=2)})

    # when
    result = run(MemoryAdvisoryIndex([advisory]), context)

    # then
    (finding,) = result.findings
    assert finding.rule_id == VULNERABLE_RULE_ID
    assert advisory_ids(finding) == ["GHSA-35jh-r3h4-6jhm"]
    assert finding.severity == "high"  # 7.2
    assert finding.snippet == "npm:lodash@4.17.20"
    assert finding.start_line == 9
    assert finding.message == (
        "upgrade lodash 4.17.20 → 4.17.21 fixes 1 advisory: GHSA-35jh-r3h4-6jhm "
        "(CVE-2021-23337), Command Injection in lodash"
    )


def test_unreadable_and_undecodable_manifests_are_errors(tmp_path: Path) -> None:
    # given: a listed file that vanished and one that is not text
    context = checkout(tmp_path, {"requirements.txt": b"django==3.2.0\n\x80\xff\n", "uv.lock": "x"})
    (tmp_path / "uv.lock").unlink()

    # when
    result = run(MemoryAdvisoryIndex([]), context)

    # then
    assert result.errors == [
        "requirements.txt: not valid UTF-8 text; skipped",
        "uv.lock: cannot read (No such file or directory); skipped",
    ]
    assert result.files_analyzed == 1


def test_includes_only_reach_files_the_pipeline_listed(tmp_path: Path) -> None:
    # given: secret.txt exists on disk but was filtered out of the context (e.g. a symlink)
    context = checkout(tmp_path, {"requirements.txt": "-r secret.txt\n"})
    (tmp_path / "secret.txt").write_text("django==3.2.0\n")

    # when
    result = run(MemoryAdvisoryIndex([]), context)

    # then
    assert result.errors == ["requirements.txt:1: included file 'secret.txt' not found"]


def test_an_unparseable_pinned_version_is_reported(
    tmp_path: Path, pypa_index: MemoryAdvisoryIndex
) -> None:
    context = checkout(tmp_path, {"requirements.txt": "django===3.2-custom\n"})

    result = run(pypa_index, context)

    assert result.errors == [
        "requirements.txt:1: django version '3.2-custom' is not a valid PEP 440 version; "
        "only advisories listing it exactly were checked"
    ]


def test_cancellation_stops_between_files(tmp_path: Path) -> None:
    # given
    context = checkout(tmp_path, {"a/requirements.txt": "x\n", "b/requirements.txt": "y\n"})
    context.is_cancelled = lambda: True

    # when
    result = run(MemoryAdvisoryIndex([]), context)

    # then
    assert result.files_analyzed == 0
    assert result.findings == []


def test_analyzer_identity() -> None:
    analyzer = DependenciesAnalyzer(MemoryAdvisoryIndex([]))

    assert (analyzer.name, analyzer.step, analyzer.per_file) == (
        "dependencies",
        "Checking dependencies",
        False,
    )
    assert analyzer.tool_version() == "2.0"


@pytest.mark.parametrize(
    ("score", "severity"),
    [(10.0, "critical"), (9.0, "critical"), (8.9, "high"), (7.0, "high"), (6.9, "medium"),
     (4.0, "medium"), (3.9, "low"), (0.1, "low"), (0.0, "info")],
)  # fmt: skip
def test_cvss_severity_mapping(score: float, severity: str) -> None:
    assert cvss_severity(score) == severity


def test_title_falls_back_to_the_first_sentence_of_the_details() -> None:
    long = Advisory(id="X-1", modified="", details="word " * 100)
    short = Advisory(id="X-2", modified="", details="First sentence. Second one.")

    assert advisory_title(short) == "First sentence"
    assert advisory_title(long).endswith("word…")
    assert len(advisory_title(long)) <= 201
    assert advisory_title(Advisory(id="X-3", modified="")) == "X-3"


# --- every manifest found is checked, or listed as not checked with the reason ----------------

NO_LOCK = "version ranges and the dependencies of its dependencies are not checked"


@pytest.fixture(scope="session")
def pypi_and_npm_index() -> MemoryAdvisoryIndex:
    errors: list[str] = []
    records = [
        *iter_records(fixture_data("osv-pypa"), errors),
        *iter_records(fixture_data("osv-ghsa-sample", "npm"), errors),
    ]
    # GitHub's "introduced": "1.0" is not SemVer, but names one release, 1.0.0, which it is
    # read as (docs/dependencies.md): nothing to report
    assert errors == []
    return MemoryAdvisoryIndex(records, source="PyPA and GHSA npm subsets")


def test_an_npm_lockfile_without_npm_advisory_data_is_listed_as_not_checked(
    tmp_path: Path, pypa_index: MemoryAdvisoryIndex
) -> None:
    # given: advisory data for PyPI only, and an npm project next to a Python one
    lock = {"lockfileVersion": 3, "packages": {"node_modules/lodash": {"version": "4.17.20"}}}
    context = checkout(
        tmp_path,
        {
            "requirements.txt": "django==3.2.0\n",
            "web/package.json": json.dumps({"dependencies": {"lodash": "^4.17.0"}}),
            "web/package-lock.json": json.dumps(lock),
        },
    )

    # when
    result = run(pypa_index, context)

    # then: the note names the ecosystem found, and both npm files are gaps with the reason
    assert result.notes[0].endswith("(advisories for PyPI)")
    assert result.notes[1:] == [
        "no advisory data loaded for npm — 2 manifests not checked against advisories: "
        "web/package-lock.json, web/package.json"
    ]
    assert result.gaps == [
        Gap("web/package-lock.json", "not_checked", "no advisory data loaded for npm"),
        Gap("web/package.json", "not_checked", "no advisory data loaded for npm"),
    ]
    assert {f.path for f in result.findings} == {"requirements.txt"}


def test_package_json_pins_are_checked_and_without_a_lockfile_it_is_listed(
    tmp_path: Path, pypi_and_npm_index: MemoryAdvisoryIndex
) -> None:
    # given: an exact version and a range, no package-lock.json
    package = {"dependencies": {"lodash": "4.17.20"}, "devDependencies": {"express": "^4.17.0"}}
    context = checkout(tmp_path, {"package.json": json.dumps(package, indent=2)})

    # when
    result = run(pypi_and_npm_index, context)

    # then
    assert sorted((f.start_line, f.rule_id) for f in result.findings) == [
        (3, VULNERABLE_RULE_ID),
        (6, UNPINNED_RULE_ID),
    ]
    assert advisory_ids(result.findings[0]) == ["GHSA-29mw-wpgm-hmr9", "GHSA-35jh-r3h4-6jhm"]
    assert result.gaps == [
        Gap(
            "package.json",
            "partial",
            "no lockfile (package-lock.json or npm-shrinkwrap.json or yarn.lock or pnpm-lock.yaml) "
            f"next to it: {NO_LOCK}",
        )
    ]

    # when: the lock file is committed next to it
    lock = {
        "lockfileVersion": 3,
        "packages": {
            "": package,
            "node_modules/lodash": {"version": "4.17.21"},
            "node_modules/express": {"version": "4.19.2"},
        },
    }
    (tmp_path / "package-lock.json").write_text(json.dumps(lock, indent=2))
    context.files = ["package-lock.json", "package.json"]
    result = run(pypi_and_npm_index, context)

    # then: the range is pinned by the lock; nothing is left unchecked
    assert [(f.path, f.rule_id, advisory_ids(f)) for f in result.findings] == [
        ("package.json", VULNERABLE_RULE_ID, ["GHSA-29mw-wpgm-hmr9", "GHSA-35jh-r3h4-6jhm"]),
    ]
    assert result.gaps == []


def test_every_python_manifest_kind_is_checked_or_listed(
    tmp_path: Path, pypa_index: MemoryAdvisoryIndex
) -> None:
    # given: each kind pinning jinja2 2.10 (two PyPA advisories), most with something unpinned
    context = checkout(
        tmp_path,
        {
            "setuppy/setup.py": (
                "from setuptools import setup\n\nREQUIRES = ['jinja2==2.10', 'click>=7']\n\n"
                "setup(name='x', install_requires=REQUIRES, extras_require=extras())\n"
            ),
            "setupcfg/setup.cfg": (
                "[options]\ninstall_requires =\n    jinja2==2.10\n    click>=7\n"
            ),
            "pipenv/Pipfile": '[packages]\njinja2 = "==2.10"\nclick = "*"\n',
            "pipenv-locked/Pipfile": '[packages]\njinja2 = "==2.10"\n',
            "pipenv-locked/Pipfile.lock": json.dumps(
                {"default": {"jinja2": {"version": "==2.10"}}}
            ),
            "piptools/requirements.in": "jinja2==2.10\nclick\n",
            "piptools/requirements.txt": "jinja2==2.10\nclick==8.1.7\n",
            "poetry/pyproject.toml": (
                '[tool.poetry]\nname = "x"\n\n[tool.poetry.dependencies]\n'
                'python = "^3.11"\njinja2 = "2.10"\nclick = "^8.0"\n'
            ),
        },
    )

    # when
    result = run(pypa_index, context)

    # then: the pins are checked wherever they are written
    advisories = {
        (f.path, f.start_line)
        for f in result.findings
        if f.rule_id == VULNERABLE_RULE_ID and "PYSEC-2019-217" in advisory_ids(f)
    }
    assert advisories == {
        ("setuppy/setup.py", 3),
        ("setupcfg/setup.cfg", 3),
        ("pipenv/Pipfile", 2),
        ("pipenv-locked/Pipfile", 2),
        ("pipenv-locked/Pipfile.lock", None),
        ("piptools/requirements.in", 1),
        ("piptools/requirements.txt", 1),
        ("poetry/pyproject.toml", 6),
    }
    # ... ranges are unpinned findings unless a pin next to them covers them
    unpinned = {f.snippet for f in result.findings if f.rule_id == UNPINNED_RULE_ID}
    assert unpinned == {"click>=7", "click", 'click = "^8.0"'}
    # ... and what could not be checked is listed, with the reason
    assert result.gaps == [
        Gap("pipenv/Pipfile", "partial", f"no lockfile (Pipfile.lock) next to it: {NO_LOCK}"),
        Gap("poetry/pyproject.toml", "partial", f"no lockfile (poetry.lock) next to it: {NO_LOCK}"),
        Gap(
            "setuppy/setup.py",
            "partial",
            "line 5: extras_require is computed, not a literal; its dependencies cannot be checked",
        ),
    ]


def test_without_a_database_every_manifest_with_dependencies_is_not_checked(
    tmp_path: Path,
) -> None:
    context = checkout(
        tmp_path,
        {
            "requirements.txt": "django==3.2.0\n",
            "pyproject.toml": "[tool.ruff]\nline-length = 100\n",  # nothing to check
        },
    )

    result = run(MemoryAdvisoryIndex([]), context)

    assert result.notes == [NO_DATABASE_NOTE]
    assert result.gaps == [Gap("requirements.txt", "not_checked", "no advisory database loaded")]


def test_unsupported_and_unreadable_manifests_are_not_checked(
    tmp_path: Path, pypa_index: MemoryAdvisoryIndex
) -> None:
    context = checkout(
        tmp_path,
        {
            "web/pom.xml": '<?xml version="1.0"?>\n<!DOCTYPE project [<!ENTITY v "1.0">]>\n'
            "<project><version>&v;</version></project>\n",
            "api/package-lock.json": "{not json",
            "svc/requirements.txt": "django==3.2.0\nthis is not a requirement!!\n",
        },
    )

    result = run(pypa_index, context)

    assert [(gap.path, gap.kind, gap.reason.split(" (")[0]) for gap in result.gaps] == [
        ("api/package-lock.json", "not_checked", "not valid JSON"),
        ("svc/requirements.txt", "partial", "line 2: cannot parse 'this is not a requirement!!'"),
        ("web/pom.xml", "not_checked", "declares a DTD or entities, which are never read"),
    ]


def test_credentials_in_dependency_urls_never_reach_a_finding(tmp_path: Path) -> None:
    # given: git dependencies with a token, and a password holding "@", in several manifests
    token = "ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
    password = "pa@ss" + token[4:12]
    context = checkout(
        tmp_path,
        {
            "pyproject.toml": (
                '[tool.poetry]\nname = "x"\n\n[tool.poetry.dependencies]\n'
                f'lib = "git+https://bot:{token}@github.com/acme/lib.git"\n'
            ),
            "requirements.txt": f"other @ git+https://bot:{password}@git.example/o.git\n",
            "package.json": json.dumps(
                {"dependencies": {"web": f"git+https://u:{password}@git.example/w.git"}}
            ),
        },
    )

    # when
    result = run(MemoryAdvisoryIndex([]), context)

    # then: nothing the scan shows or stores holds either secret
    shown = json.dumps(result.to_dict())
    assert result.findings or result.gaps or result.errors
    for secret in (token, password, password[3:]):
        assert secret not in shown


# --- one finding per vulnerable package version ------------------------------------------------


def pkg_advisory(identifier: str, *events: tuple[str, str], cvss: str = "") -> Advisory:
    """A PyPI record about "pkg" with one ECOSYSTEM range."""
    return Advisory.from_dict(
        {
            "id": identifier,
            "modified": "2024-01-01T00:00:00Z",
            "summary": f"Flaw {identifier}",
            "severity": [{"type": "CVSS_V3", "score": cvss}] if cvss else [],
            "affected": [
                {
                    "package": {"ecosystem": "PyPI", "name": "pkg"},
                    "ranges": [{"type": "ECOSYSTEM", "events": [{kind: v} for kind, v in events]}],
                }
            ],
        }
    )


def test_when_no_version_fixes_every_advisory_the_message_says_what_the_upgrade_leaves(
    tmp_path: Path,
) -> None:
    # given: A fixed in 1.1 (and critical), B never fixed, C fixed in 1.3; D does not apply
    index = MemoryAdvisoryIndex(
        [
            pkg_advisory(
                "PYSEC-1",
                ("introduced", "0"),
                ("fixed", "1.1"),
                cvss="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            ),
            pkg_advisory("PYSEC-2", ("introduced", "0")),
            pkg_advisory("PYSEC-3", ("introduced", "0"), ("fixed", "1.3")),
            pkg_advisory("PYSEC-4", ("introduced", "2.0"), ("fixed", "2.1")),
        ]
    )
    context = checkout(tmp_path, {"requirements.txt": "pkg==1.0\n"})

    # when
    result = run(index, context)

    # then
    (finding,) = result.findings
    assert finding.message == (
        "upgrade pkg 1.0 → 1.3 fixes 2 of 3 advisories: PYSEC-1, PYSEC-3; "
        "not fixed by 1.3: PYSEC-2 (no fixed version listed)"
    )
    assert finding.severity == "critical"  # the highest of its advisories
    # ... and the rule's, which GitHub ranks the alert by, the highest of the run's findings
    assert [(rule.id, rule.default_severity) for rule in result.rules] == [
        (VULNERABLE_RULE_ID, "critical"),
        (UNPINNED_RULE_ID, "info"),
    ]
    assert advisory_ids(finding) == ["PYSEC-1", "PYSEC-2", "PYSEC-3"]
    assert [a["severity"] for a in finding.properties["advisories"]] == [
        "critical",
        "high",
        "high",
    ]
    assert finding.properties["advisories"][0]["url"] == "https://osv.dev/vulnerability/PYSEC-1"
    assert (
        finding.properties["upgrade_to"],
        finding.properties["upgrade_fixes_all"],
        finding.properties["not_fixed_by_upgrade"],
    ) == ("1.3", False, ["PYSEC-2"])


def test_an_upgrade_that_another_advisory_affects_says_so(tmp_path: Path) -> None:
    # given: 1.1 fixes PYSEC-1, but PYSEC-5 was introduced in 1.1 (and fixed in 1.2)
    index = MemoryAdvisoryIndex(
        [
            pkg_advisory("PYSEC-1", ("introduced", "0"), ("fixed", "1.1")),
            pkg_advisory("PYSEC-5", ("introduced", "1.1"), ("fixed", "1.2")),
        ]
    )
    context = checkout(tmp_path, {"requirements.txt": "pkg==1.0\n"})

    # when
    (finding,) = run(index, context).findings

    # then: the finding is about what affects 1.0, and warns about what affects 1.1
    assert finding.message == (
        "upgrade pkg 1.0 → 1.1 fixes 1 advisory: PYSEC-1, Flaw PYSEC-1; "
        "1.1 is affected by PYSEC-5 in turn"
    )
    assert advisory_ids(finding) == ["PYSEC-1"]
    assert finding.properties["upgrade_affected_by"] == ["PYSEC-5"]


def test_last_affected_without_a_fix_names_no_upgrade(
    tmp_path: Path, pypa_index: MemoryAdvisoryIndex
) -> None:
    # py PYSEC-2022-42969: "introduced 0, last_affected 1.11.0" and no fixed version
    context = checkout(tmp_path, {"requirements.txt": "py==1.11.0\n"})

    (finding,) = run(pypa_index, context).findings

    assert finding.message.startswith(
        "py 1.11.0 is affected by 1 advisory: PYSEC-2022-42969 (CVE-2022-42969, "
        "GHSA-w596-4wvx-j9j6), The py library through 1.11.0 for Python allows"
    )
    assert finding.message.endswith("; no fixed version newer than 1.11.0 is listed")
    assert finding.properties["upgrade_to"] is None
    assert finding.properties["not_fixed_by_upgrade"] == ["PYSEC-2022-42969"]


def test_identity_is_manifest_package_and_version_never_the_line(
    tmp_path: Path, pypa_index: MemoryAdvisoryIndex
) -> None:
    # given: django 3.2.0 pinned in two manifests
    context = checkout(
        tmp_path,
        {"requirements.txt": "django==3.2.0\n", "docs/requirements.txt": "django==3.2.0\n"},
    )
    first = run(pypa_index, context).findings

    # when: a line is added above the pin, then the version is bumped
    (tmp_path / "requirements.txt").write_text("jinja2==3.1.4\ndjango==3.2.0\n")
    moved = run(pypa_index, context).findings
    (tmp_path / "requirements.txt").write_text("jinja2==3.1.4\ndjango==3.2.4\n")
    bumped = run(pypa_index, context).findings

    # then: one finding per manifest; the line moves, the identity stays until the bump
    def identities(findings: list[AnalyzerFinding]) -> dict[tuple[str, int | None], str]:
        fingerprints = assign_fingerprints("dependencies", findings)
        return {(f.path, f.start_line): fp for f, fp in zip(findings, fingerprints, strict=True)}

    before, after, upgraded = identities(first), identities(moved), identities(bumped)
    assert list(before) == [("docs/requirements.txt", 1), ("requirements.txt", 1)]
    assert after == {
        ("docs/requirements.txt", 1): before[("docs/requirements.txt", 1)],
        ("requirements.txt", 2): before[("requirements.txt", 1)],
    }
    assert len(set(before.values())) == 2  # same package and version, another manifest
    assert upgraded[("docs/requirements.txt", 1)] == before[("docs/requirements.txt", 1)]
    assert upgraded[("requirements.txt", 2)] not in before.values()  # 3.2.4: a new finding
    assert bumped[1].message.startswith("upgrade django 3.2.4 → 3.2.25 fixes 21 advisories: ")


def test_a_version_pinned_on_several_lines_of_one_manifest_is_one_finding(tmp_path: Path) -> None:
    # given: lodash 4.17.20 installed twice in one lock file, once directly
    lock = {
        "lockfileVersion": 3,
        "packages": {
            "": {"dependencies": {"lodash": "4.17.20"}},
            "node_modules/a/node_modules/lodash": {"version": "4.17.20"},
            "node_modules/lodash": {"version": "4.17.20"},
        },
    }
    context = checkout(tmp_path, {"package-lock.json": json.dumps(lock, indent=2)})
    errors: list[str] = []
    index = MemoryAdvisoryIndex(iter_records(fixture_data("osv-ghsa-sample", "npm"), errors))

    # when
    result = run(index, context)

    # then: one finding, at the first of its lines, listing both advisories that apply
    (finding,) = result.findings
    assert finding.start_line == 9
    assert finding.properties["direct"] is True
    assert finding.message == (
        "upgrade lodash 4.17.20 → 4.17.21 fixes 2 advisories: "
        "GHSA-29mw-wpgm-hmr9, GHSA-35jh-r3h4-6jhm"
    )
    assert [a["published"] for a in finding.properties["advisories"]] == [
        "2022-01-06T20:30:46Z",
        "2021-05-06T16:05:51Z",
    ]
