"""Each ecosystem's version order: the examples its maintainers publish, and agreement with a
reference order (``tests/support/version_reference``) on generated versions."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanpulse.advisories.versions import parse_version
from tests.support import version_reference


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)


def _order(scheme: str, a: str, b: str) -> int:
    left, right = parse_version(scheme, a), parse_version(scheme, b)
    assert left is not None, a
    assert right is not None, b
    if left == right:
        assert hash(left) == hash(right)
        assert not left < right and not left > right and left <= right and left >= right
        return 0
    assert (left < right) != (left > right)
    return -1 if left < right else 1


def _ascending(scheme: str, versions: list[str]) -> None:
    for lower, higher in itertools.combinations(versions, 2):
        assert _order(scheme, lower, higher) == -1, (lower, higher)
        assert _order(scheme, higher, lower) == 1, (higher, lower)


# --- published examples -------------------------------------------------------------------------

# maven-artifact's ComparableVersionTest: each list is in ascending order.
MAVEN_QUALIFIERS = [
    "1-alpha2snapshot", "1-alpha2", "1-alpha-123", "1-beta-2", "1-beta123", "1-m2", "1-m11",
    "1-rc", "1-cr2", "1-rc123", "1-SNAPSHOT", "1", "1-sp", "1-sp2", "1-sp123", "1-abc",
    "1-def", "1-pom-1", "1-1-snapshot", "1-1", "1-2", "1-123",
]  # fmt: skip
MAVEN_NUMBERS = [
    "2.0", "2-1", "2.0.a", "2.0.0.a", "2.0.2", "2.0.123", "2.1.0", "2.1-a", "2.1b", "2.1-c",
    "2.1-1", "2.1.0.1", "2.2", "2.123", "11.a2", "11.a11", "11.b2", "11.b11", "11.m2",
    "11.m11", "11", "11.a", "11b", "11c", "11m",
]  # fmt: skip
MAVEN_EQUAL = [
    ("1", "1.0"), ("1", "1.0.0"), ("1.0", "1.0.0"), ("1", "1-0"), ("1", "1.0-0"),
    ("1.0", "1.0-0"), ("1a", "1-a"), ("1a", "1.0-a"), ("1a", "1.0.0-a"), ("1.0a", "1-a"),
    ("1.0.0a", "1-a"), ("1x", "1-x"), ("1x", "1.0-x"), ("1.0.0x", "1-x"), ("1ga", "1"),
    ("1release", "1"), ("1final", "1"), ("1cr", "1rc"), ("1a1", "1-alpha-1"),
    ("1b2", "1-beta-2"), ("1m3", "1-milestone-3"), ("1X", "1x"), ("1A", "1a"),
    ("1B", "1b"), ("1M", "1m"), ("1Ga", "1"), ("1GA", "1"), ("1RELEASE", "1"),
    ("1Final", "1"), ("1FINAL", "1"), ("1Cr", "1Rc"), ("1cR", "1rC"), ("1m3", "1Milestone3"),
    ("5.2.20.RELEASE", "5.2.20"), ("4.1.100.Final", "4.1.100"),
]  # fmt: skip


def test_maven_follows_comparable_versions_published_examples() -> None:
    _ascending("Maven", MAVEN_QUALIFIERS)
    _ascending("Maven", MAVEN_NUMBERS)
    for a, b in MAVEN_EQUAL:
        assert _order("Maven", a, b) == 0, (a, b)


def test_maven_qualifiers_and_four_segments_as_advisories_write_them() -> None:
    _ascending(
        "Maven",
        ["11.0.0-M1", "11.0.0-M10", "11.0.0-M11", "11.0.0-rc1", "11.0.0-SNAPSHOT", "11.0.0"],
    )
    _ascending("Maven", ["2.13.2", "2.13.2.1", "2.13.2.2", "2.13.3"])
    _ascending("Maven", ["3.21.0-rc-1", "3.21.0-rc-2", "3.21.0", "3.21.7"])
    _ascending("Maven", ["9.4.50.v20221201", "9.4.51.v20230217", "9.4.52"])
    _ascending("Maven", ["1.0-alpha", "1.0-beta", "1.0-milestone", "1.0-rc", "1.0-snapshot"])
    _ascending("Maven", ["1.0-snapshot", "1.0", "1.0-sp"])


# The specification's own examples (maven.apache.org/pom.html, Version Order Specification).
def test_maven_follows_the_version_order_specification_examples() -> None:
    _ascending("Maven", ["1", "1.1"])
    _ascending("Maven", ["1-snapshot", "1", "1-sp"])
    _ascending("Maven", ["1-foo2", "1-foo10"])
    _ascending("Maven", ["1.foo", "1-1", "1.1"])
    assert _order("Maven", "1.foo", "1-foo") == 0
    for same in ("1-ga", "1-0", "1.0", "1"):
        assert _order("Maven", "1.ga", same) == 0
    _ascending("Maven", ["1-ga", "1-sp"])
    _ascending("Maven", ["1-ga.1", "1-sp.1"])
    _ascending("Maven", ["1-sp-1", "1-ga-1"])
    assert _order("Maven", "1-ga-1", "1-1") == 0
    assert _order("Maven", "1-a1", "1-alpha-1") == 0
    # where maven-artifact's ComparableVersion differs, OSV follows the specification
    assert _order("Maven", "1-alpha", "1.v20230217") == -1


# RubyGems' test_version.rb (test_spaceship) and the Gem::Version documentation.
RUBYGEMS_ORDER = [
    ("1.0", "1.0.0", 0), ("1.0", "1.0.a", 1), ("1.8.2", "0.0.0", 1),
    ("1.8.2", "1.8.2.a", 1), ("1.8.2.b", "1.8.2.a", 1), ("1.8.2.a", "1.8.2", -1),
    ("1.8.2.a10", "1.8.2.a9", 1), ("", "0", 0), ("0.beta.1", "0.0.beta.1", 0),
    ("0.0.beta", "0.0.beta.1", -1), ("0.0.beta", "0.beta.1", -1), ("5.a", "5.0.0.rc2", -1),
    ("5.x", "5.0.0.rc2", 1), ("1.0.a.2", "1.0.b1", -1), ("1.0.b1", "1.0", -1),
    ("3.21.0.rc.1", "3.21.0", -1), ("7.2.0.beta1", "7.2.0.beta2", -1), ("2.1.0.0", "2.1", 0),
    ("1.0.0-rc1", "1.0.0.pre.rc1", 0),
]  # fmt: skip


@pytest.mark.parametrize(("a", "b", "expected"), RUBYGEMS_ORDER)
def test_rubygems_follows_gem_version_examples(a: str, b: str, expected: int) -> None:
    assert _order("RubyGems", a, b) == expected


@pytest.mark.parametrize("text", ["7.1.3.4, 7.1.4 ", "1..2", "a.1", "1.0 beta", "v1.0"])
def test_rubygems_rejects_what_gem_version_rejects(text: str) -> None:
    assert parse_version("RubyGems", text) is None


# semver.org, section 11, and Go's module versions (v prefix, pseudo-versions, +incompatible).
SEMVER_SPEC = [
    "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
    "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "2.0.0", "2.1.0", "2.1.1",
]  # fmt: skip


@pytest.mark.parametrize("scheme", ["crates.io", "Go"])
def test_semver_ecosystems_follow_the_spec_example(scheme: str) -> None:
    _ascending(scheme, SEMVER_SPEC)


def test_go_versions_with_v_pseudo_versions_and_incompatible() -> None:
    _ascending(
        "Go",
        [
            "v0.0.0-20180816102801-aaf60122140d",
            "v0.0.0-20220722155237-a158d28d115b",
            "0.1.1-0.20221104162952-702349b0e862",
            "v0.1.1",
            "v0.13.0",
        ],
    )
    _ascending("Go", ["1.21.0-0", "1.21.0-rc.4", "1.21.0", "v1.21.3"])
    assert _order("Go", "v2.8.0+incompatible", "2.8.0") == 0
    assert _order("Go", "v1.9.0", "1.9.0") == 0


def test_nuget_four_parts_and_case_insensitive_labels() -> None:
    _ascending("NuGet", ["1.0.0-alpha", "1.0.0-Beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0"])
    _ascending("NuGet", ["4.0.0", "4.0.0.1", "4.0.1", "4.1"])
    assert _order("NuGet", "7.0.0-PREVIEW", "7.0.0-preview") == 0
    assert _order("NuGet", "1.0", "1.0.0.0") == 0
    assert _order("NuGet", "1.0.0+build", "1.0.0") == 0
    assert parse_version("NuGet", "1.0.0.0.0") is None


def test_composer_stabilities_and_v_prefix() -> None:
    _ascending(
        "Packagist",
        ["1.0.0-dev", "1.0.0-alpha1", "1.0.0-alpha2", "1.0.0-beta", "1.0.0-RC1", "1.0.0"],
    )
    _ascending("Packagist", ["1.0.0", "1.0.0-p1", "1.0.0.1", "1.0.1"])
    assert _order("Packagist", "v5.4.19", "5.4.19") == 0
    assert _order("Packagist", "2.0", "2.0.0.0") == 0
    assert _order("Packagist", "1.0.0-rc1", "1.0.0-RC1") == 0
    assert parse_version("Packagist", "dev-main") is None
    assert parse_version("Packagist", "1.x-dev") is None


# --- generated versions against the reference ---------------------------------------------------

_NUMBER = st.integers(min_value=0, max_value=12)
_RELEASE = st.lists(_NUMBER, min_size=1, max_size=4).map(lambda parts: ".".join(map(str, parts)))


def _agree(scheme: str, a: str, b: str) -> None:
    reference = version_reference.compare(scheme)
    assert _order(scheme, a, b) == _sign(reference(a, b)), (a, b)


_IDENTIFIER = st.one_of(
    st.integers(min_value=0, max_value=20).map(str),
    st.sampled_from(["alpha", "beta", "rc", "pre", "a1", "x-y", "0a"]),
)
_SEMVER = st.builds(
    lambda v, release, pre, build: (
        v
        + ".".join(map(str, release))
        + ("-" + ".".join(pre) if pre else "")
        + ("+" + build if build else "")
    ),
    st.sampled_from(["", "v"]),
    st.lists(_NUMBER, min_size=3, max_size=3),
    st.lists(_IDENTIFIER, max_size=3),
    st.sampled_from(["", "incompatible", "build.5"]),
)
_PSEUDO = st.builds(
    lambda base, stamp, commit: (
        f"v{base}-0.{stamp}-{commit}" if base else f"v0.0.0-{stamp}-{commit}"
    ),
    st.sampled_from(["", "1.2.4", "0.1.1"]),
    st.integers(min_value=20180101000000, max_value=20251231235959).map(str),
    st.sampled_from(["aaf60122140d", "702349b0e862"]),
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(_SEMVER, _PSEUDO), st.one_of(_SEMVER, _PSEUDO))
def test_go_and_crates_order_agrees_with_semver_reference(a: str, b: str) -> None:
    _agree("Go", a, b)
    _agree("crates.io", a.removeprefix("v"), b.removeprefix("v"))


_MAVEN_QUALIFIER = st.sampled_from(
    ["", "-alpha", "-alpha-2", "-beta1", "-M1", "-M11", "-rc1", "-rc-2", "-cr1", "-SNAPSHOT",
     ".RELEASE", ".Final", "-ga", "-sp", "-sp1", "-jre", "-android"]
)  # fmt: skip
_MAVEN = st.builds(lambda release, qualifier: release + qualifier, _RELEASE, _MAVEN_QUALIFIER)


@settings(max_examples=400, deadline=None)
@given(_MAVEN, _MAVEN)
def test_maven_order_agrees_with_comparable_version(a: str, b: str) -> None:
    _agree("Maven", a, b)


_GEM = st.builds(
    lambda release, letters, number: release + letters + number,
    _RELEASE,
    st.sampled_from(["", ".a", ".b", ".beta", ".pre", ".rc", ".alpha"]),
    st.sampled_from(["", "1", "2", ".1", ".10", "9"]),
).filter(lambda text: not (text[-1:].isdigit() and "." + text.split(".")[-1] == text))


@settings(max_examples=400, deadline=None)
@given(_GEM, _GEM)
def test_rubygems_order_agrees_with_gem_version_rules(a: str, b: str) -> None:
    _agree("RubyGems", a, b)


_NUGET = st.builds(
    lambda release, label: release + label,
    _RELEASE,
    st.sampled_from(
        ["", "-alpha", "-Alpha.2", "-BETA.10", "-beta.9", "-rc.1", "-RC.1", "-preview"]
    ),
)


@settings(max_examples=400, deadline=None)
@given(_NUGET, _NUGET)
def test_nuget_order_agrees_with_nuget_rules(a: str, b: str) -> None:
    _agree("NuGet", a, b)


_COMPOSER = st.builds(
    lambda v, release, suffix: v + release + suffix,
    st.sampled_from(["", "v"]),
    _RELEASE,
    st.sampled_from(["", "-dev", "-alpha", "-alpha2", "-beta1", "-b3", "-RC1", "-rc2", "-p1",
                     "-patch2", "-beta1-dev"]),
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(_COMPOSER, _COMPOSER)
def test_composer_order_agrees_with_version_compare(a: str, b: str) -> None:
    _agree("Packagist", a, b)
