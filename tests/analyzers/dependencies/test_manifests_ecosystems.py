"""The manifests and lock files of Go, Rust, Ruby, PHP, .NET, Java and pnpm/Yarn: what each
pins, what is direct, and what cannot be checked (with the message a user sees)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from scanpulse.advisories.index import MemoryAdvisoryIndex
from scanpulse.advisories.osv_files import iter_records
from scanpulse.analyzers.base import AnalyzerContext
from scanpulse.analyzers.dependencies import DependenciesAnalyzer
from scanpulse.analyzers.dependencies.manifests import (
    ManifestResult,
    is_manifest,
    manifest_ecosystem,
    parse_manifest,
)
from scanpulse.analyzers.dependencies.manifests.golang import go_release
from tests.support.data import fixture_data


def pins(result: ManifestResult) -> list[tuple[str, str | None, int | None, bool]]:
    return [(dep.name, dep.version, dep.line, dep.direct) for dep in result.dependencies]


@pytest.mark.parametrize(
    ("path", "ecosystem"),
    [
        ("go.mod", "Go"),
        ("svc/go.sum", "Go"),
        ("Cargo.lock", "crates.io"),
        ("Gemfile.lock", "RubyGems"),
        ("composer.lock", "Packagist"),
        ("packages.lock.json", "NuGet"),
        ("src/Api/Api.csproj", "NuGet"),
        ("src/Lib/Lib.fsproj", "NuGet"),
        ("pom.xml", "Maven"),
        ("gradle.lockfile", "Maven"),
        ("pnpm-lock.yaml", "npm"),
        ("yarn.lock", "npm"),
    ],
)
def test_every_file_is_a_manifest_of_its_ecosystem(path: str, ecosystem: str) -> None:
    assert is_manifest(path)
    assert manifest_ecosystem(path) == ecosystem


@pytest.mark.parametrize(
    ("written", "release"),
    [
        ("1.21", "1.21.0"),
        ("1.21.3", "1.21.3"),
        ("go1.22.1", "1.22.1"),
        ("1.21rc2", "1.21.0-rc.2"),
        ("go1.20beta1", "1.20.0-beta.1"),
        ("latest", None),
    ],
)
def test_go_releases_are_written_as_osv_writes_them(written: str, release: str | None) -> None:
    assert go_release(written) == release


def test_go_mod_applies_replace_and_reports_excluded_and_local_modules() -> None:
    go_mod = (
        "module example.com/app\n"
        "\n"
        "go 1.20\n"
        "\n"
        'require "golang.org/x/net" v0.7.0\n'
        "require (\n"
        "\tgithub.com/a/b v1.2.3 // indirect\n"
        "\tgithub.com/c/d v1.0.0\n"
        "\tgithub.com/e/f v0.1.0\n"
        "\tgithub.com/old/name v1.0.0\n"
        ")\n"
        "replace github.com/a/b v1.2.3 => github.com/a/b v1.2.4\n"
        "replace github.com/old/name => github.com/new/name v2.0.0+incompatible\n"
        "replace github.com/e/f => ./forks/f\n"
        "exclude github.com/c/d v1.0.0\n"
        "tool (\n\tgolang.org/x/tools/cmd/stringer\n)\n"
        "godebug default=go1.21\n"
    )

    result = parse_manifest(go_mod, "go.mod")

    assert pins(result) == [
        ("golang.org/x/net", "v0.7.0", 5, True),
        ("github.com/a/b", "v1.2.4", 7, False),
        ("github.com/new/name", "v2.0.0+incompatible", 10, True),
        ("stdlib", "1.20.0", 3, True),
        ("toolchain", "1.20.0", 3, True),
    ]
    assert result.messages == [
        "go.mod:8: 'github.com/c/d' v1.0.0 is excluded, so the version built is not known; "
        "cannot be checked",
        "go.mod:9: 'github.com/e/f' is replaced by the directory './forks/f'; cannot be "
        "checked against advisories",
    ]


def test_go_sum_keeps_the_highest_downloaded_version_of_each_module() -> None:
    go_sum = (
        "golang.org/x/text v0.3.6 h1:aRYxNxv6iGQlyVaZmk6ZgYEDa+Jg18DxebPSrd6bg1M=\n"
        "golang.org/x/text v0.3.10/go.mod h1:u+2+/6zg+i71rQMx5EYifcz6MCKuco9NR7FvBB0k6+Q=\n"
        "golang.org/x/text v0.3.7 h1:olpwvP2KacW1ZWvsR7uQhoyTYvKAupfQrRGBFM352Gk=\n"
        "not a go.sum line\n"
    )

    result = parse_manifest(go_sum, "go.sum")

    assert pins(result) == [("golang.org/x/text", "v0.3.7", 3, False)]
    assert result.messages == ["go.sum:4: cannot parse 'not a go.sum line'"]


def test_cargo_lock_skips_the_workspace_and_reports_git_crates() -> None:
    lock = (
        "version = 3\n\n"
        '[[package]]\nname = "app"\nversion = "0.1.0"\ndependencies = ["serde 1.0.1", "helper"]\n\n'
        '[[package]]\nname = "serde"\nversion = "1.0.1"\n'
        'source = "registry+https://github.com/rust-lang/crates.io-index"\n\n'
        '[[package]]\nname = "itoa"\nversion = "1.0.9"\n'
        'source = "sparse+https://index.crates.io/"\n\n'
        '[[package]]\nname = "helper"\nversion = "0.2.0"\n'
        'source = "git+https://example.com/helper.git#abc"\n'
    )

    result = parse_manifest(lock, "Cargo.lock")

    assert pins(result) == [("serde", "1.0.1", 9, True), ("itoa", "1.0.9", 14, False)]
    assert result.messages == [
        "Cargo.lock:19: 'helper' comes from 'git+https://example.com/helper.git#abc', not a "
        "registry; cannot be checked against advisories"
    ]


def test_gemfile_lock_strips_platforms_and_reports_path_gems() -> None:
    lock = (
        "PATH\n  remote: engines/billing\n  specs:\n    billing (0.1.0)\n\n"
        "GEM\n  remote: https://rubygems.org/\n  specs:\n"
        "    nokogiri (1.13.3-arm64-darwin)\n      racc (~> 1.4)\n    racc (1.7.1)\n\n"
        "DEPENDENCIES\n  billing!\n  nokogiri (>= 1.13)\n"
    )

    result = parse_manifest(lock, "Gemfile.lock")

    assert pins(result) == [("nokogiri", "1.13.3", 9, True), ("racc", "1.7.1", 11, False)]
    assert result.messages == [
        "Gemfile.lock:4: 'billing' comes from a PATH source, not a gem server; cannot be "
        "checked against advisories"
    ]


def test_composer_lock_reads_both_sections_and_reports_branches() -> None:
    lock = {
        "packages": [{"name": "twig/twig", "version": "v3.4.2"}],
        "packages-dev": [
            {"name": "acme/tools", "version": "dev-main"},
            {"name": "acme/lib", "version": "2.x-dev"},
        ],
    }

    result = parse_manifest(json.dumps(lock, indent=4), "composer.lock")

    assert pins(result) == [("twig/twig", "v3.4.2", 4, False)]
    assert [message.split(": ", 1)[1] for message in result.messages] == [
        "'acme/tools' is the branch 'dev-main', not a release; cannot be checked against "
        "advisories",
        "'acme/lib' is the branch '2.x-dev', not a release; cannot be checked against advisories",
    ]


def test_pom_resolves_properties_in_the_file_and_never_guesses() -> None:
    pom = """<?xml version="1.0"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <groupId>com.example</groupId><artifactId>app</artifactId><version>1.4.0</version>
  <properties><jackson.version>2.13.2</jackson.version></properties>
  <dependencies>
    <dependency><groupId>com.fasterxml.jackson.core</groupId>
      <artifactId>jackson-databind</artifactId><version>${jackson.version}</version></dependency>
    <dependency><groupId>com.example</groupId>
      <artifactId>app-model</artifactId><version>${project.version}</version></dependency>
    <dependency><groupId>org.yaml</groupId>
      <artifactId>snakeyaml</artifactId><version>[1.0,2.0)</version></dependency>
    <dependency><groupId>io.micrometer</groupId>
      <artifactId>micrometer-core</artifactId><version>${micrometer.version}</version></dependency>
    <dependency><groupId>org.springframework.boot</groupId>
      <artifactId>spring-boot-starter</artifactId></dependency>
  </dependencies>
  <profiles><profile><dependencies>
    <dependency><groupId>com.h2database</groupId>
      <artifactId>h2</artifactId><version>2.1.214</version></dependency>
  </dependencies></profile></profiles>
</project>
"""

    result = parse_manifest(pom, "pom.xml")

    assert pins(result) == [
        ("com.fasterxml.jackson.core:jackson-databind", "2.13.2", 7, True),
        ("com.example:app-model", "1.4.0", 9, True),
        ("org.yaml:snakeyaml", None, 11, True),
        ("com.h2database:h2", "2.1.214", 19, True),
    ]
    assert result.messages == [
        "pom.xml:13: 'io.micrometer:micrometer-core' version '${micrometer.version}' uses a "
        "property this file does not define; cannot be checked",
        "pom.xml:15: 'org.springframework.boot:spring-boot-starter' has no version in this file "
        "(a parent POM or an imported BOM manages it); cannot be checked",
    ]


def test_xml_with_entities_is_refused_before_anything_expands() -> None:
    bomb = (
        '<?xml version="1.0"?>\n<!DOCTYPE project [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>\n'
        "<project><version>&b;</version></project>\n"
    )

    for name in ("pom.xml", "App.csproj"):
        result = parse_manifest(bomb, name)
        assert (result.dependencies, result.unread) == (
            [],
            "declares a DTD or entities, which are never read",
        )


def test_a_utf16_pom_with_its_declaration_is_read() -> None:
    pom = (
        '<?xml version="1.0" encoding="UTF-16"?>\n<project><dependencies><dependency>'
        "<groupId>log4j</groupId><artifactId>log4j</artifactId><version>1.2.17</version>"
        "</dependency></dependencies></project>\n"
    )

    result = parse_manifest(pom.encode("utf-16"), "pom.xml")

    assert pins(result) == [("log4j:log4j", "1.2.17", 2, True)]


def test_csproj_pins_exact_versions_and_reports_what_it_cannot_resolve() -> None:
    csproj = """<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><JsonVersion>13.0.1</JsonVersion></PropertyGroup>
  <ItemGroup>
    <PackageReference Include="Newtonsoft.Json" Version="$(JsonVersion)" />
    <PackageReference Include="Npgsql" Version="[8.0.2]" />
    <PackageReference Include="Serilog" Version="3.*" />
    <PackageReference Include="Polly" />
    <PackageReference Update="Dapper" Version="2.0.0" />
  </ItemGroup>
</Project>
"""

    result = parse_manifest(csproj, "src/Api/Api.csproj")

    assert pins(result) == [
        ("Newtonsoft.Json", "13.0.1", 4, True),
        ("Npgsql", "8.0.2", 5, True),
        ("Serilog", None, 6, True),
    ]
    assert result.messages == [
        "src/Api/Api.csproj:7: 'Polly' has no version in this file (central package "
        "management); cannot be checked"
    ]


def test_gradle_lockfile_lines() -> None:
    lock = (
        "# This is a Gradle generated file for dependency locking.\n"
        "com.google.guava:guava:31.1-jre=compileClasspath\n"
        "empty=annotationProcessor\n"
        "broken-line=runtimeClasspath\n"
    )

    result = parse_manifest(lock, "gradle.lockfile")

    assert pins(result) == [("com.google.guava:guava", "31.1-jre", 2, False)]
    assert result.messages == ["gradle.lockfile:4: cannot parse 'broken-line=runtimeClasspath'"]


PNPM_5 = """lockfileVersion: 5.4

dependencies:
  lodash: 4.17.20

packages:

  /lodash/4.17.20:
    resolution: {integrity: sha512-x}

  /@babel/core/7.20.0_supports-color@5.5.0:
    resolution: {integrity: sha512-y}
"""
PNPM_6 = """lockfileVersion: '6.0'

dependencies:
  lodash:
    specifier: ^4.17.0
    version: 4.17.20

packages:

  /lodash@4.17.20:
    resolution: {integrity: sha512-x}

  /@babel/core@7.20.0(supports-color@5.5.0):
    resolution: {integrity: sha512-y}
"""
PNPM_9 = """lockfileVersion: '9.0'

importers:

  .:
    dependencies:
      lodash:
        specifier: ^4.17.0
        version: 4.17.20
      local:
        specifier: link:../local
        version: link:../local

packages:

  lodash@4.17.20:
    resolution: {integrity: sha512-x}

  '@babel/core@7.20.0':
    resolution: {integrity: sha512-y}

  tool@https://codeload.github.com/acme/tool/tar.gz/abc:
    resolution: {tarball: https://codeload.github.com/acme/tool/tar.gz/abc}
"""


@pytest.mark.parametrize("text", [PNPM_5, PNPM_6, PNPM_9])
def test_pnpm_lock_keys_of_every_lockfile_version(text: str) -> None:
    result = parse_manifest(text, "pnpm-lock.yaml")

    assert [(name, version, direct) for name, version, _, direct in pins(result)] == [
        ("lodash", "4.17.20", True),
        ("@babel/core", "7.20.0", False),
    ]
    assert [dep.line for dep in result.dependencies] == [
        text.splitlines().index(line) + 1
        for line in text.splitlines()
        if line.startswith(("  /lodash", "  lodash@", "  /@babel", "  '@babel"))
    ]
    if text is PNPM_9:
        assert result.messages == [
            "pnpm-lock.yaml:22: 'tool@https://codeload.github.com/acme/tool/tar.gz/abc' is not "
            "a registry package version; cannot be checked against advisories"
        ]


def test_yarn_v1_aliases_and_berry_workspaces_patches_and_git() -> None:
    v1 = (
        "# yarn lockfile v1\n\n"
        '"old-lodash@npm:lodash@^4.17.0":\n  version "4.17.20"\n\n'
        '"@scope/pkg@^1.0.0", "@scope/pkg@^1.0.1":\n  version "1.0.2"\n'
    )
    berry = (
        "__metadata:\n  version: 8\n\n"
        '"app@workspace:.":\n  version: 0.0.0-use.local\n  resolution: "app@workspace:."\n'
        '  dependencies:\n    lodash: "npm:^4.17.0"\n\n'
        '"lodash@npm:^4.17.0":\n  version: 4.17.20\n  resolution: "lodash@npm:4.17.20"\n\n'
        '"lodash@patch:lodash@npm%3A^4.17.0#~/.yarn/patches/l.patch":\n  version: 4.17.20\n'
        '  resolution: "lodash@patch:lodash@npm%3A4.17.20#~/.yarn/patches/l.patch::v=4.17.20"\n\n'
        '"tool@https://github.com/acme/tool.git#commit=abc":\n  version: 1.0.0\n'
        '  resolution: "tool@https://github.com/acme/tool.git#commit=abc"\n'
    )

    old = parse_manifest(v1, "yarn.lock")
    new = parse_manifest(berry, "web/yarn.lock")

    assert pins(old) == [("lodash", "4.17.20", 3, False), ("@scope/pkg", "1.0.2", 6, False)]
    assert pins(new) == [("lodash", "4.17.20", 10, True)]
    assert new.messages == [
        "web/yarn.lock:18: 'tool' comes from 'https://github.com/acme/tool.git#commit=abc', "
        "not the npm registry; cannot be checked against advisories"
    ]


def test_nuget_lock_marks_direct_and_skips_projects() -> None:
    lock = {
        "version": 1,
        "dependencies": {
            "net8.0": {
                "Npgsql": {"type": "Direct", "requested": "[8.0.2, )", "resolved": "8.0.2"},
                "Microsoft.Extensions.Logging": {"type": "Transitive", "resolved": "8.0.0"},
                "Shared": {"type": "Project"},
            }
        },
    }

    result = parse_manifest(json.dumps(lock, indent=2), "packages.lock.json")

    assert pins(result) == [
        ("Npgsql", "8.0.2", 5, True),
        ("Microsoft.Extensions.Logging", "8.0.0", 10, False),
    ]


# --- through the analyzer -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def maven_index() -> MemoryAdvisoryIndex:
    return MemoryAdvisoryIndex(
        iter_records(fixture_data("osv-ghsa-sample", "Maven"), []), source="GHSA"
    )


def test_a_maven_finding_names_the_upgrade_in_maven_order(
    tmp_path: Path, maven_index: MemoryAdvisoryIndex
) -> None:
    shutil.copy(fixture_data("manifests", "Maven", "pom.xml"), tmp_path / "pom.xml")

    result = DependenciesAnalyzer(maven_index).run(
        AnalyzerContext(root=tmp_path, files=["pom.xml"])
    )

    messages = {finding.properties["package"]: finding.message for finding in result.findings}
    assert messages["org.apache.tomcat:tomcat-catalina"].startswith(
        "upgrade org.apache.tomcat:tomcat-catalina 11.0.0-M10 → 11.0.0-M11 fixes 1 advisory: "
        "GHSA-fccv-jmmp-qg76"
    )
    assert messages["com.fasterxml.jackson.core:jackson-databind"].startswith(
        "upgrade com.fasterxml.jackson.core:jackson-databind 2.13.2 → 2.13.4.1 fixes 2 advisories"
    )
    assert messages["org.yaml:snakeyaml"] == (
        "org.yaml:snakeyaml@[1.30,2.0) is not pinned; cannot be checked against advisories"
    )
    assert "org.springframework:spring-webmvc" not in messages  # 5.2.20.RELEASE is the fix
    assert [(gap.kind, gap.reason.split(":")[0]) for gap in result.gaps] == [
        ("partial", "line 101")
    ]


def test_an_ecosystem_without_loaded_data_is_named(
    tmp_path: Path, maven_index: MemoryAdvisoryIndex
) -> None:
    shutil.copy(fixture_data("manifests", "crates.io", "Cargo.lock"), tmp_path / "Cargo.lock")

    result = DependenciesAnalyzer(maven_index).run(
        AnalyzerContext(root=tmp_path, files=["Cargo.lock"])
    )

    assert result.notes[1] == (
        "no advisory data loaded for crates.io — 1 manifest not checked against advisories: "
        "Cargo.lock"
    )
    assert ("not_checked", "no advisory data loaded for crates.io") in [
        (gap.kind, gap.reason) for gap in result.gaps
    ]
