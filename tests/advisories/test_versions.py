"""Version ordering: SemVer 2.0.0 precedence and PEP 440, with invalid versions as ``None``."""

from __future__ import annotations

import itertools

import pytest

from scanpulse.advisories.versions import SemVer, parse_semver, parse_version

# semver.org, section 11: each version has lower precedence than the next.
SEMVER_SPEC_ORDER = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "2.0.0",
    "2.1.0",
    "2.1.1",
]


def test_semver_precedence_follows_the_spec_example() -> None:
    parsed = [parse_semver(text) for text in SEMVER_SPEC_ORDER]

    assert all(version is not None for version in parsed)
    for lower, higher in itertools.pairwise(parsed):
        assert lower is not None and higher is not None
        assert lower < higher and higher > lower and lower <= higher and not higher <= lower
        assert lower != higher


def test_semver_sorts_numeric_parts_as_numbers() -> None:
    assert parse_semver("1.10.0") > parse_semver("1.9.0")  # type: ignore[operator]
    assert parse_semver("10.0.0") > parse_semver("9.99.99")  # type: ignore[operator]
    assert parse_semver("1.0.0-rc.10") > parse_semver("1.0.0-rc.9")  # type: ignore[operator]
    # numeric identifiers always have lower precedence than alphanumeric ones
    assert parse_semver("1.0.0-999") < parse_semver("1.0.0-a")  # type: ignore[operator]


def test_semver_ignores_build_metadata_for_precedence() -> None:
    plain, built = parse_semver("1.0.0"), parse_semver("1.0.0+20130313144700")

    assert plain == built
    assert hash(plain) == hash(built)
    assert str(built) == "1.0.0+20130313144700"


def test_semver_tolerates_a_leading_v() -> None:
    assert parse_semver("v1.2.3-beta.1") == SemVer(1, 2, 3, ("beta", "1"))


@pytest.mark.parametrize(
    "text",
    ["1.0", "1", "01.0.0", "1.0.0-01", "1.0.0-", "1.0.0+", "1.0.0-a..b", "1.0.0 beta", "١.٠.٠", ""],
)
def test_invalid_semver_is_not_comparable(text: str) -> None:
    assert parse_semver(text) is None
    assert parse_version("npm", text) is None


def test_pep440_for_pypi() -> None:
    assert parse_version("PyPI", "1.0") == parse_version("PyPI", "1.0.0")
    assert parse_version("PyPI", "1.0rc1") < parse_version("PyPI", "1.0")  # type: ignore[operator]
    # string order would get these wrong
    assert parse_version("PyPI", "1.10") > parse_version("PyPI", "1.9")  # type: ignore[operator]


@pytest.mark.parametrize("text", ["2019-09-12", "0.2.0-n653", "not a version", ""])
def test_invalid_pep440_is_not_comparable(text: str) -> None:
    assert parse_version("PyPI", text) is None


def test_unknown_ecosystems_are_not_comparable() -> None:
    assert parse_version("Debian:12", "1.0.0") is None
    assert parse_version("SEMVER", "1.0.0") == parse_semver("1.0.0")
