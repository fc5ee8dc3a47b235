"""Every ecosystem end to end: a test repository of real-looking manifests and lock files
(``tests/fixtures/manifests/<ecosystem>``) scanned against real OSV records, its findings
compared with a brute-force evaluation of the OSV rules over the raw records
(``tests/support/osv_oracle``, with the reference version orders of
``tests/support/version_reference``)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from scanpulse.advisories.index import MemoryAdvisoryIndex
from scanpulse.advisories.osv import parse_record
from scanpulse.advisories.osv_files import iter_records
from scanpulse.analyzers.base import AnalyzerContext, AnalyzerResult
from scanpulse.analyzers.dependencies import DependenciesAnalyzer
from scanpulse.analyzers.dependencies.analyzer import VULNERABLE_RULE_ID
from scanpulse.analyzers.dependencies.manifests import is_manifest, parse_manifest
from tests.support.data import fixture_data, shared_data
from tests.support.osv_oracle import affecting_records, oracle_name, raw_records

MANIFESTS = fixture_data("manifests")

# What each test repository pins, read off the files by hand: (manifest, package@version).
PINS: dict[str, list[str]] = {
    "go": [
        "go.mod: github.com/dgrijalva/jwt-go@v3.2.0+incompatible",
        "go.mod: github.com/docker/distribution@v2.7.1+incompatible",
        "go.mod: github.com/gin-gonic/gin@v1.9.0",
        "go.mod: golang.org/x/text@v0.3.7",
        "go.mod: gopkg.in/yaml.v2@v2.2.8",  # replaced v2.2.1
        "go.mod: github.com/bytedance/sonic@v1.8.0",
        "go.mod: github.com/gin-contrib/sse@v0.1.0",
        "go.mod: golang.org/x/net@v0.0.0-20220722155237-a158d28d115b",
        "go.mod: golang.org/x/sys@v0.5.0",
        "go.mod: stdlib@1.21.3",  # toolchain go1.21.3
        "go.mod: toolchain@1.21.3",
        "go.sum: github.com/bytedance/sonic@v1.8.0",
        "go.sum: github.com/dgrijalva/jwt-go@v3.2.0+incompatible",
        "go.sum: github.com/docker/distribution@v2.7.1+incompatible",
        "go.sum: github.com/gin-contrib/sse@v0.1.0",
        "go.sum: github.com/gin-gonic/gin@v1.9.0",
        "go.sum: golang.org/x/net@v0.0.0-20220722155237-a158d28d115b",
        "go.sum: golang.org/x/sys@v0.5.0",
        "go.sum: golang.org/x/text@v0.3.7",  # not v0.3.6, which it also lists
        "go.sum: gopkg.in/yaml.v2@v2.2.8",
    ],
    "crates.io": [
        "Cargo.lock: atty@0.2.14",
        "Cargo.lock: h2@0.3.16",
        "Cargo.lock: hyper@0.14.9",
        "Cargo.lock: mio@0.8.11",
        "Cargo.lock: regex@1.5.4",
        "Cargo.lock: rsa@0.9.6",
        "Cargo.lock: rustls@0.20.0",
        "Cargo.lock: time@0.1.45",
        "Cargo.lock: time@0.2.22",
        "Cargo.lock: tokio@1.20.3",
    ],
    "RubyGems": [
        "Gemfile.lock: actionpack@7.2.0.beta1",
        "Gemfile.lock: activerecord@7.0.3.1",
        "Gemfile.lock: activesupport@7.0.7",
        "Gemfile.lock: concurrent-ruby@1.2.2",
        "Gemfile.lock: google-protobuf@3.21.0.rc.2",
        "Gemfile.lock: i18n@1.14.1",
        "Gemfile.lock: mini_portile2@2.8.0",
        "Gemfile.lock: nio4r@2.5.9",
        "Gemfile.lock: nokogiri@1.13.3",  # 1.13.3-x86_64-linux
        "Gemfile.lock: puma@6.3.0",
        "Gemfile.lock: racc@1.7.1",
        "Gemfile.lock: rack@2.2.6.2",
        "Gemfile.lock: rails@7.1.0",
        "Gemfile.lock: rails-html-sanitizer@1.4.2",
    ],
    "Packagist": [
        "composer.lock: composer/composer@2.3.5",
        "composer.lock: guzzlehttp/guzzle@7.4.4",
        "composer.lock: guzzlehttp/psr7@2.4.4",
        "composer.lock: Laravel/Framework@v8.74.0",
        "composer.lock: league/flysystem@1.1.4",
        "composer.lock: smarty/smarty@v4.3.0",
        "composer.lock: symfony/http-kernel@v5.4.19",
        "composer.lock: symfony/serializer@v5.3.0-RC1",
        "composer.lock: tinymce/tinymce@5.10.9",
        "composer.lock: twig/twig@v3.4.2",
        "composer.lock: symfony/twig-bridge@v6.3.7",
    ],
    "NuGet": [
        "Inventory.Api.csproj: Azure.Identity@1.10.1",
        "Inventory.Api.csproj: Microsoft.Data.SqlClient@5.1.2",  # $(SqlClientVersion)
        "Inventory.Api.csproj: Microsoft.Identity.Client@4.61.0",  # [4.61.0]
        "Inventory.Api.csproj: newtonsoft.json@13.0.1",
        "Inventory.Api.csproj: npgsql@7.0.6",
        "packages.lock.json: Newtonsoft.Json@12.0.3",  # net6.0
        "packages.lock.json: Newtonsoft.Json@12.0.3",  # net8.0
        "packages.lock.json: SixLabors.ImageSharp@3.1.3",
        "packages.lock.json: System.IdentityModel.Tokens.Jwt@7.0.0-PREVIEW",
        "packages.lock.json: Microsoft.IdentityModel.JsonWebTokens@7.0.0-preview",
        "packages.lock.json: Npgsql@8.0.2",
        "packages.lock.json: System.Data.SqlClient@4.8.6",
        "packages.lock.json: TinyMCE@6.8.0",
    ],
    "Maven": [
        "gradle.lockfile: ch.qos.logback:logback-core@1.3.11",
        "gradle.lockfile: com.google.guava:failureaccess@1.0.1",
        "gradle.lockfile: com.google.guava:guava@31.1-jre",
        "gradle.lockfile: com.h2database:h2@2.1.214",
        "gradle.lockfile: io.netty:netty-codec-http2@4.1.100.Final",
        "gradle.lockfile: org.apache.tomcat.embed:tomcat-embed-core@10.1.24",
        "gradle.lockfile: org.eclipse.jetty:jetty-server@9.4.50.v20221201",
        "gradle.lockfile: org.yaml:snakeyaml@1.33",
        "pom.xml: org.springframework:spring-beans@5.3.17",  # ${spring.version}
        "pom.xml: org.springframework:spring-webmvc@5.2.20.RELEASE",
        "pom.xml: com.fasterxml.jackson.core:jackson-databind@2.13.2",  # property of a property
        "pom.xml: org.apache.logging.log4j:log4j-core@2.14.1",
        "pom.xml: log4j:log4j@1.2.17",
        "pom.xml: org.apache.commons:commons-text@1.9",  # dependencyManagement
        "pom.xml: org.apache.tomcat:tomcat-catalina@11.0.0-M10",
        "pom.xml: io.netty:netty-codec-http2@4.1.99.Final",
        "pom.xml: com.google.protobuf:protobuf-java@3.21.0-rc-2",
        "pom.xml: ch.qos.logback:logback-classic@1.2.13",
        "pom.xml: org.eclipse.jetty:jetty-server@9.4.51.v20230217",
        "pom.xml: com.example:inventory-model@3.2.0",  # ${project.version}, the parent's
        "pom.xml: org.junit.jupiter:junit-jupiter@5.10.0",
    ],
    "npm": [
        "pnpm/pnpm-lock.yaml: @babel/traverse@7.23.0",
        "pnpm/pnpm-lock.yaml: express@5.0.0-beta.1",
        "pnpm/pnpm-lock.yaml: json5@2.2.1",
        "pnpm/pnpm-lock.yaml: minimist@1.2.5",
        "pnpm/pnpm-lock.yaml: ws@8.17.0",
        "yarn-berry/yarn.lock: lodash-es@4.17.15",
        "yarn-berry/yarn.lock: minimist@1.2.5",
        "yarn-berry/yarn.lock: resolve@1.22.1",
        "yarn-berry/yarn.lock: semver@6.3.0",
        "yarn-v1/yarn.lock: event-stream@3.3.6",
        "yarn-v1/yarn.lock: flatmap-stream@0.1.1",
        "yarn-v1/yarn.lock: lodash@4.17.20",
        "yarn-v1/yarn.lock: node-fetch@2.6.1",
        "yarn-v1/yarn.lock: ua-parser-js@0.7.29",
    ],
}

ECOSYSTEMS = {"go": "Go"}


def _split(pin: str) -> tuple[str, str, str]:
    manifest, _, package = pin.partition(": ")
    at = package.find("@", 1)
    return manifest, package[:at], package[at + 1 :]


def _scan(tmp_path: Path, folder: str, index: MemoryAdvisoryIndex) -> AnalyzerResult:
    root = tmp_path / folder
    shutil.copytree(MANIFESTS / folder, root)
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    return DependenciesAnalyzer(index).run(AnalyzerContext(root=root, files=files))


@pytest.fixture(scope="module")
def fixture_records() -> list[dict[str, object]]:
    return raw_records(fixture_data("osv-ghsa-sample"), fixture_data("osv-go"))


@pytest.fixture(scope="module")
def fixture_index() -> MemoryAdvisoryIndex:
    errors: list[str] = []
    records = [
        *iter_records(fixture_data("osv-ghsa-sample"), errors),
        *iter_records(fixture_data("osv-go"), errors),
    ]
    # The sample's malformed event and crates.io's listed release line "0.20" are reported,
    # and the load goes on; partial bounds (npm's and crates.io's introduced "1.0", "0.1")
    # are read as the release they name (docs/dependencies.md).
    assert [error.split("osv-ghsa-sample/", 1)[1] for error in errors] == [
        "RubyGems/GHSA-fwhr-88qx-h9g7.json: affected[2].ranges[0].events[1]: fixed "
        "'7.1.3.4, 7.1.4 ' is not a valid RubyGems version; range ignored (actionpack)",
        "crates.io/GHSA-6g7w-8wpp-frhj.json: affected[3].versions[0]: '0.20' is a partial "
        "version (a release line, not a published version); not matched (rustls)",
    ]
    return MemoryAdvisoryIndex(records, source="fixtures")


def _expected(
    folder: str, records: list[dict[str, object]]
) -> dict[tuple[str, str, str], set[str]]:
    ecosystem = ECOSYSTEMS.get(folder, folder)
    expected: dict[tuple[str, str, str], set[str]] = {}
    pins = [_split(pin) for pin in PINS[folder]]
    # A Go module version is reported once per module: at go.mod when it requires that
    # version, at go.sum only otherwise.
    in_go_mod = {(name, version) for manifest, name, version in pins if manifest == "go.mod"}
    for manifest, name, version in pins:
        if manifest == "go.sum" and (name, version) in in_go_mod:
            continue
        hits = affecting_records(records, ecosystem, name, version)  # type: ignore[arg-type]
        if hits:
            key = (manifest, oracle_name(ecosystem, name), version)
            expected.setdefault(key, set()).update(hits)
    return expected


def _found(result: AnalyzerResult, ids: set[str]) -> dict[tuple[str, str, str], set[str]]:
    found: dict[tuple[str, str, str], set[str]] = {}
    for finding in result.findings:
        if finding.rule_id != VULNERABLE_RULE_ID:
            continue
        props = finding.properties
        key = (finding.path, props["package"], props["version"])
        found.setdefault(key, set()).update(set(props["advisory_ids"]) & ids)
    return found


@pytest.mark.parametrize("folder", sorted(PINS))
def test_the_manifests_pin_what_the_files_say(folder: str) -> None:
    ecosystem = ECOSYSTEMS.get(folder, folder)
    pinned = []
    for path in sorted(MANIFESTS.joinpath(folder).rglob("*")):
        relative = path.relative_to(MANIFESTS / folder).as_posix()
        if not path.is_file() or not is_manifest(relative):
            continue
        result = parse_manifest(path.read_bytes(), relative)
        assert result.unread is None
        assert {dep.ecosystem for dep in result.dependencies} == {ecosystem}
        pinned += [
            f"{relative}: {dep.name}@{dep.version}"
            for dep in result.dependencies
            if dep.version is not None
        ]

    assert sorted(pinned) == sorted(PINS[folder])


@pytest.mark.parametrize("folder", sorted(PINS))
def test_a_scan_matches_the_brute_force_osv_evaluation(
    folder: str,
    tmp_path: Path,
    fixture_index: MemoryAdvisoryIndex,
    fixture_records: list[dict[str, object]],
) -> None:
    expected = _expected(folder, fixture_records)
    ids = {str(record["id"]) for record in fixture_records}

    result = _scan(tmp_path, folder, fixture_index)

    assert _found(result, ids) == expected
    # the repository has vulnerable pins, and pins that are not
    assert 3 <= len(expected) < len(PINS[folder])
    ecosystem = ECOSYSTEMS.get(folder, folder)
    assert "advisories for" in result.notes[0] and ecosystem in result.notes[0]


# --- the whole reference folders (CI has them; a fresh clone skips only these) ------------------


@pytest.fixture(scope="module")
def whole_go_database() -> tuple[MemoryAdvisoryIndex, list[str], float]:
    started = time.perf_counter()
    errors: list[str] = []
    index = MemoryAdvisoryIndex(iter_records(shared_data("osv-go"), errors), source="Go")
    return index, errors, time.perf_counter() - started


def test_the_whole_go_database_loads_without_problems(
    whole_go_database: tuple[MemoryAdvisoryIndex, list[str], float],
) -> None:
    # (how fast it loads is measured by bench/advisory_index.py, not asserted here)
    index, errors, _seconds = whole_go_database

    assert errors == []
    assert index.record_count == 4291
    assert index.ecosystems() == frozenset({"Go"})


def test_the_go_repository_against_the_whole_go_database(
    tmp_path: Path, whole_go_database: tuple[MemoryAdvisoryIndex, list[str], float]
) -> None:
    records = raw_records(shared_data("osv-go"))
    expected = _expected("go", records)

    result = _scan(tmp_path, "go", whole_go_database[0])

    assert _found(result, {str(record["id"]) for record in records}) == expected
    # the whole database knows more about these pins than the extract
    assert len(expected[("go.mod", "stdlib", "1.21.3")]) > 2


@pytest.mark.parametrize("folder", sorted(set(PINS) - {"go"}))
def test_each_repository_against_the_whole_ghsa_sample(tmp_path: Path, folder: str) -> None:
    records = raw_records(shared_data("osv-ghsa-sample"))
    index = MemoryAdvisoryIndex(iter_records(shared_data("osv-ghsa-sample"), []), source="GHSA")

    result = _scan(tmp_path, folder, index)

    assert _found(result, {str(record["id"]) for record in records}) == _expected(folder, records)


def test_a_go_module_version_in_go_mod_and_go_sum_is_one_finding(tmp_path: Path) -> None:
    """go.sum records what go.mod requires: one finding per vulnerable module version, at
    go.mod; a version only go.sum lists (another module's requirement) keeps go.sum."""
    root = tmp_path / "svc"
    (root / "api").mkdir(parents=True)
    (root / "api" / "go.mod").write_text(
        "module example.com/api\n\ngo 1.22\n\nrequire golang.org/x/text v0.3.7\n"
    )
    (root / "api" / "go.sum").write_text(
        "golang.org/x/text v0.3.7 h1:olpwvP2KacW1ZWvsR7uQhoyTYvKAupfQrRGBFM352Gk=\n"
        "golang.org/x/text v0.3.7/go.mod h1:u+2+/6zg+i71rQMx5EYifcz6MCKuco9NR6JIITiCfzQ=\n"
        "golang.org/x/net v0.0.0-20220722155237-a158d28d115b h1:PxfKdU9lEEDYjdIzOtC4qFWgkU2rGHgXm+iJqnRHW8c=\n"
    )
    record = {
        "id": "GO-TEST-0001",
        "modified": "2024-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "Go", "name": name},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "0.3.8"}]}],
            }
            for name in ("golang.org/x/text", "golang.org/x/net")
        ],
    }
    index = MemoryAdvisoryIndex([parse_record(record)], source="test")
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    result = DependenciesAnalyzer(index).run(AnalyzerContext(root=root, files=files))

    vulnerable = sorted(
        (f.path, f.properties["package"], f.properties["version"])
        for f in result.findings
        if f.rule_id == VULNERABLE_RULE_ID
    )
    assert vulnerable == [
        ("api/go.mod", "golang.org/x/text", "v0.3.7"),
        ("api/go.sum", "golang.org/x/net", "v0.0.0-20220722155237-a158d28d115b"),
    ]
    # The stored inventory (re-matched by advisory updates, exported as SBOMs) agrees.
    assert sorted((i["path"], i["name"]) for i in result.inventory) == [
        ("api/go.mod", "golang.org/x/text"),
        ("api/go.mod", "stdlib"),
        ("api/go.mod", "toolchain"),
        ("api/go.sum", "golang.org/x/net"),
    ]
