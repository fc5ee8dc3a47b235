"""OSV matching: real PyPA records, synthetic edge cases and a brute-force property check."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from scanpulse.advisories.matching import (
    advisory_affects,
    advisory_fixed_versions,
    fixed_versions,
    is_affected,
)
from scanpulse.advisories.osv import EVENT_KINDS, Advisory, Affected, Event, EventKind, Range
from scanpulse.advisories.versions import parse_version
from tests.support import osv_oracle as oracle


def entry(*ranges: Range, versions: tuple[str, ...] = (), ecosystem: str = "PyPI") -> Affected:
    return Affected(ecosystem=ecosystem, name="pkg", ranges=ranges, versions=versions)


def ecosystem_range(*events: tuple[EventKind, str], type_: str = "ECOSYSTEM") -> Range:
    return Range(type_, tuple(Event(kind, version) for kind, version in events))


# --- real records ------------------------------------------------------------------------------


def test_withdrawn_record_never_matches(pypa_records: dict[str, Advisory]) -> None:
    # given: redis PYSEC-2023-73 was withdrawn; its entry alone says "every version"
    record = pypa_records["PYSEC-2023-73"]
    assert record.withdrawn == "2023-06-06T10:37:00Z"
    assert is_affected(record.affected[0], "4.5.0")

    # then
    assert not advisory_affects(record, "PyPI", "redis", "4.5.0")
    assert not advisory_affects(record, "PyPI", "redis", "0.1")


def test_ecosystem_range_after_a_git_range_still_matches(
    pypa_records: dict[str, Advisory],
) -> None:
    # given: jinja2 PYSEC-2014-82 lists a GIT range before its ECOSYSTEM range (fixed 2.7.3);
    # without the versions list only the ranges can answer
    (affected,) = pypa_records["PYSEC-2014-82"].affected
    assert [rng.type for rng in affected.ranges] == ["GIT", "ECOSYSTEM"]
    ranges_only = Affected(affected.ecosystem, affected.name, ranges=affected.ranges)

    # then
    assert is_affected(ranges_only, "2.7.2")
    assert is_affected(ranges_only, "2.0rc1")
    assert not is_affected(ranges_only, "2.7.3")


def test_record_without_versions_list_matches_through_its_ranges(
    pypa_records: dict[str, Advisory],
) -> None:
    # given: octoprint PYSEC-2022-42975 has GIT then ECOSYSTEM (fixed 1.8.3), no versions list
    record = pypa_records["PYSEC-2022-42975"]
    assert record.affected[0].versions == ()
    assert [rng.type for rng in record.affected[0].ranges] == ["GIT", "ECOSYSTEM"]

    # then
    assert advisory_affects(record, "PyPI", "OctoPrint", "1.8.2")
    assert advisory_affects(record, "PyPI", "octoprint", "1.0.0")
    assert not advisory_affects(record, "PyPI", "octoprint", "1.8.3")
    assert not advisory_affects(record, "PyPI", "octoprint", "1.10.0")


def test_last_affected_is_inclusive(pypa_records: dict[str, Advisory]) -> None:
    # given: py PYSEC-2022-42969, the one real record with last_affected (1.11.0)
    record = pypa_records["PYSEC-2022-42969"]
    (affected,) = record.affected
    assert Event("last_affected", "1.11.0") in affected.ranges[0].events

    # then
    assert advisory_affects(record, "PyPI", "py", "1.11.0")
    assert advisory_affects(record, "PyPI", "py", "1.11")  # the same version in PEP 440
    assert not advisory_affects(record, "PyPI", "py", "1.11.0.post1")
    assert not advisory_affects(record, "PyPI", "py", "1.12.0")
    assert fixed_versions(affected) == []


def test_versions_list_compares_by_pep440_equality(pypa_records: dict[str, Advisory]) -> None:
    # PYSEC-2021-98 lists "3.2"; a pin on "3.2.0" is the same version
    (affected,) = pypa_records["PYSEC-2021-98"].affected
    ranges_removed = Affected(affected.ecosystem, affected.name, versions=affected.versions)

    assert is_affected(ranges_removed, "3.2.0")
    assert is_affected(ranges_removed, "3.2")
    assert not is_affected(ranges_removed, "3.2.4")


def test_fixed_versions_are_sorted_by_version_not_text(pypa_records: dict[str, Advisory]) -> None:
    record = pypa_records["PYSEC-2021-98"]

    assert advisory_fixed_versions(record, "PyPI", "Django") == ["2.2.24", "3.1.12", "3.2.4"]
    assert advisory_fixed_versions(record, "PyPI", "flask") == []


# --- synthetic edge cases ----------------------------------------------------------------------


def test_limit_is_an_exclusive_upper_bound() -> None:
    affected = entry(ecosystem_range(("introduced", "1.0"), ("limit", "2.0")))

    assert not is_affected(affected, "0.9")
    assert is_affected(affected, "1.0")
    assert is_affected(affected, "1.9.9")
    assert not is_affected(affected, "2.0")
    assert not is_affected(affected, "3.0")


def test_any_of_several_limits_lets_a_version_through() -> None:
    affected = entry(
        ecosystem_range(("introduced", "0"), ("limit", "1.5"), ("limit", "*")),
    )

    assert is_affected(affected, "9.0")


def test_multiple_introduced_fixed_pairs() -> None:
    affected = entry(
        ecosystem_range(
            ("introduced", "0"),
            ("fixed", "1.0.2"),
            ("introduced", "3.0.0"),
            ("fixed", "3.2.5"),
        ),
    )

    assert [
        v
        for v in ["0.1", "1.0.1", "1.0.2", "2.0", "3.0.0", "3.2.4", "3.2.5"]
        if is_affected(affected, v)
    ] == [
        "0.1",
        "1.0.1",
        "3.0.0",
        "3.2.4",
    ]


def test_unsorted_events_are_sorted_before_evaluation() -> None:
    affected = entry(
        ecosystem_range(
            ("fixed", "3.2.5"),
            ("introduced", "3.0.0"),
            ("fixed", "1.0.2"),
            ("introduced", "1.0.0"),
        ),
    )

    assert not is_affected(affected, "0.9")
    assert is_affected(affected, "1.0.0")
    assert not is_affected(affected, "2.0")
    assert is_affected(affected, "3.1")
    assert not is_affected(affected, "3.2.5")


def test_introduced_zero_sorts_before_every_version() -> None:
    affected = entry(ecosystem_range(("introduced", "0"), ("fixed", "1.0")))

    # PEP 440 puts 0.dev0 below "0"; the OSV "0" still includes it
    assert is_affected(affected, "0.dev0")
    assert not is_affected(affected, "1.0")


def test_a_version_in_any_range_or_the_list_is_affected() -> None:
    affected = entry(
        ecosystem_range(("introduced", "1.0"), ("fixed", "1.1")),
        ecosystem_range(("introduced", "2.0"), ("fixed", "2.1")),
        versions=("5.0",),
    )

    assert [is_affected(affected, v) for v in ["1.0", "1.5", "2.0.1", "5.0", "5.0.1"]] == [
        True,
        False,
        True,
        True,
        False,
    ]


def test_semver_ranges_use_semver_precedence() -> None:
    affected = entry(
        ecosystem_range(("introduced", "1.0.0-beta.2"), ("fixed", "1.0.0"), type_="SEMVER"),
        ecosystem="npm",
    )

    assert not is_affected(affected, "1.0.0-beta")
    assert is_affected(affected, "1.0.0-beta.11")
    assert is_affected(affected, "v1.0.0-rc.1")
    assert not is_affected(affected, "1.0.0+build.7")


def test_git_and_unknown_ranges_are_skipped() -> None:
    affected = entry(
        ecosystem_range(("introduced", "0"), ("fixed", "abc123"), type_="GIT"),
        ecosystem_range(("introduced", "0"), type_="FUTURE_TYPE"),
    )

    assert not is_affected(affected, "1.0")


def test_invalid_versions_only_match_by_exact_spelling() -> None:
    # given: a range with a non-PEP 440 event (as in 2 real records) and an odd listed version
    affected = entry(
        ecosystem_range(("introduced", "0"), ("fixed", "2019-09-12")),
        versions=("0.1-bulbasaur",),
    )

    # then: the range cannot be evaluated, the list still applies
    assert not is_affected(affected, "1.0")
    assert is_affected(affected, "0.1-bulbasaur")
    assert not is_affected(affected, "not a version")


def test_unsupported_ecosystem_matches_only_listed_versions() -> None:
    affected = entry(ecosystem_range(("introduced", "0")), versions=("1.0-1",), ecosystem="Debian")

    assert is_affected(affected, "1.0-1")
    assert not is_affected(affected, "1.0-2")


def test_fixed_versions_are_unique_and_ignore_git_ranges() -> None:
    affected = entry(
        ecosystem_range(("introduced", "0"), ("fixed", "deadbeef"), type_="GIT"),
        ecosystem_range(
            ("introduced", "0"), ("fixed", "1.10"), ("introduced", "2.0"), ("fixed", "2.0.1")
        ),
        ecosystem_range(("introduced", "1.2"), ("fixed", "1.9"), ("fixed", "1.10")),
    )

    assert fixed_versions(affected) == ["1.9", "1.10", "2.0.1"]


# --- property: the matcher agrees with a brute-force evaluation ---------------------------------

# Explicit version universes in ascending order; each inner list is one version spelled in
# different ways that compare equal. Ranks, not the code under test, define the order.
PEP440_UNIVERSE = [
    ["0.0.dev0"],
    ["0.0", "0.0.0"],
    ["0.0.post1"],
    ["0.9"],
    ["1.0.dev456"],
    ["1.0a1", "1.0alpha1", "1.0.0a1"],
    ["1.0a2.dev456"],
    ["1.0a12.dev456"],
    ["1.0a12"],
    ["1.0b1.dev456"],
    ["1.0b2"],
    ["1.0b2.post345.dev456"],
    ["1.0b2.post345"],
    ["1.0rc1.dev456"],
    ["1.0rc1", "1.0c1"],
    ["1.0", "1.0.0", "v1.0"],
    ["1.0+abc.5"],
    ["1.0+abc.7"],
    ["1.0+5"],
    ["1.0.post456.dev34"],
    ["1.0.post456", "1.0-456"],
    ["1.0.15"],
    ["1.1.dev1"],
    ["1.1"],
    ["1.10"],
    ["2.0"],
    ["1!0.1"],
    ["1!1.0"],
]
SEMVER_UNIVERSE = [
    ["0.0.1"],
    ["0.9.0"],
    ["1.0.0-alpha", "v1.0.0-alpha"],
    ["1.0.0-alpha.1"],
    ["1.0.0-alpha.beta"],
    ["1.0.0-beta"],
    ["1.0.0-beta.2"],
    ["1.0.0-beta.11"],
    ["1.0.0-rc.1", "1.0.0-rc.1+build.5"],
    ["1.0.0", "1.0.0+20130313144700", "v1.0.0"],
    ["1.0.1"],
    ["1.1.0-0"],
    ["1.1.0"],
    ["2.0.0-rc.1"],
    ["2.0.0"],
    ["10.0.0"],
]
UNIVERSES = {"PyPI": PEP440_UNIVERSE, "npm": SEMVER_UNIVERSE}

# (kind, rank, spelling); rank None is the special "0" (introduced) or "*" (limit).
RankedEvent = tuple[EventKind, int | None, str]


def test_universes_are_ordered_as_the_version_schemes_say() -> None:
    for ecosystem, universe in UNIVERSES.items():
        keys = [[parse_version(ecosystem, text) for text in group] for group in universe]
        for group in keys:
            assert all(key is not None and key == group[0] for key in group)
        for lower, higher in itertools.pairwise(keys):
            assert lower[0] < higher[0]  # type: ignore[operator]


@st.composite
def ranked_events(draw: st.DrawFn, universe: list[list[str]]) -> list[RankedEvent]:
    def event() -> st.SearchStrategy[RankedEvent]:
        return st.sampled_from(EVENT_KINDS).flatmap(
            lambda kind: st.integers(0, len(universe) - 1).flatmap(
                lambda rank: st.sampled_from(universe[rank]).map(lambda text: (kind, rank, text))
            )
        )

    special = st.sampled_from([("introduced", None, "0"), ("limit", None, "*")])
    return draw(st.lists(st.one_of(event(), event(), event(), special), min_size=1, max_size=7))


@st.composite
def cases(
    draw: st.DrawFn,
) -> tuple[str, list[tuple[str, list[RankedEvent]]], list[tuple[int, str]]]:
    ecosystem = draw(st.sampled_from(sorted(UNIVERSES)))
    universe = UNIVERSES[ecosystem]
    types = ["ECOSYSTEM", "GIT"] + (["SEMVER"] if ecosystem == "npm" else [])
    ranges = draw(st.lists(st.tuples(st.sampled_from(types), ranked_events(universe)), max_size=3))
    listed = draw(
        st.lists(
            st.integers(0, len(universe) - 1).flatmap(
                lambda rank: st.sampled_from(universe[rank]).map(lambda text: (rank, text))
            ),
            max_size=3,
        )
    )
    return ecosystem, ranges, listed


@settings(max_examples=200, derandomize=True, database=None, deadline=None)
@given(cases())
def test_is_affected_agrees_with_brute_force(
    case: tuple[str, list[tuple[str, list[RankedEvent]]], list[tuple[int, str]]],
) -> None:
    # given
    ecosystem, ranges, listed = case
    affected = oracle.record(ecosystem, ranges, (text for _, text in listed))

    # then: every spelling of every version in the universe
    for rank, group in enumerate(UNIVERSES[ecosystem]):
        expected = oracle.affected(rank, ranges, [r for r, _ in listed])
        for text in group:
            assert is_affected(affected, text) == expected, (text, affected)
