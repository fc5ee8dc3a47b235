"""The upgrade that fixes a package version's advisories: real records, edge cases, and a
property check against a brute force over small version universes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from scanpulse.advisories.index import MemoryAdvisoryIndex
from scanpulse.advisories.matching import advisory_affects
from scanpulse.advisories.osv import Advisory, Affected, Event, EventKind, Range
from scanpulse.advisories.upgrades import (
    Upgrade,
    best_upgrade,
    smallest_fixing_version,
    upgrade_candidates,
)
from scanpulse.analyzers.dependencies.findings import vulnerable_finding
from scanpulse.analyzers.dependencies.manifests import Dependency
from tests.advisories.test_matching import UNIVERSES, RankedEvent
from tests.support import osv_oracle as oracle


def advisory(
    identifier: str, *ranges: Range, versions: tuple[str, ...] = (), ecosystem: str = "PyPI"
) -> Advisory:
    return Advisory(
        id=identifier,
        modified="2024-01-01T00:00:00Z",
        affected=(Affected(ecosystem=ecosystem, name="pkg", ranges=ranges, versions=versions),),
    )


def events(*pairs: tuple[EventKind, str], type_: str = "ECOSYSTEM") -> Range:
    return Range(type_, tuple(Event(kind, version) for kind, version in pairs))


# --- real records ------------------------------------------------------------------------------


def test_django_3_2_0_upgrades_to_the_last_fix_of_its_release_line(
    pypa_index: MemoryAdvisoryIndex,
) -> None:
    # given: the 25 PyPA advisories that affect django 3.2.0, fixed on several release lines
    django = pypa_index.lookup("PyPI", "django")
    affecting = [a for a in django if advisory_affects(a, "PyPI", "django", "3.2.0")]
    assert len(affecting) == 25

    # when
    upgrade = best_upgrade(affecting, "PyPI", "Django", "3.2.0")

    # then: 3.2.25 (PYSEC-2024-47's fix on the 3.2 line), not a 2.2.x or 4.x fix
    assert upgrade == Upgrade("3.2.25", tuple(a.id for a in affecting), ())
    assert upgrade.fixes_all
    # ... every newer fixed version below it leaves an advisory open, older ones are no candidates
    candidates = upgrade_candidates(affecting, "PyPI", "django", "3.2.0")
    below = candidates[: candidates.index("3.2.25")]
    assert below[:3] == ["3.2.1", "3.2.2", "3.2.4"]
    assert all(any(advisory_affects(a, "PyPI", "django", v) for a in affecting) for v in below)
    assert "2.2.24" not in candidates


def test_last_affected_without_a_fix_names_no_upgrade(pypa_records: dict[str, Advisory]) -> None:
    # py PYSEC-2022-42969: introduced 0, last_affected 1.11.0, no fixed event
    record = pypa_records["PYSEC-2022-42969"]

    assert best_upgrade([record], "PyPI", "py", "1.11.0") == Upgrade(None, (), (record.id,))
    assert smallest_fixing_version([record], "PyPI", "py", "1.11.0") is None


# --- edge cases --------------------------------------------------------------------------------


def test_a_fix_on_one_line_still_affected_on_another_is_skipped() -> None:
    # 1.5 fixes A's first range, but A is affected again from 1.5 to 2.0
    a = advisory(
        "A",
        events(("introduced", "0"), ("fixed", "1.5")),
        events(("introduced", "1.5"), ("fixed", "2.0")),
    )
    b = advisory("B", events(("introduced", "0"), ("fixed", "1.2")))

    assert smallest_fixing_version([a, b], "PyPI", "pkg", "1.0") == "2.0"


def test_when_nothing_fixes_all_the_best_upgrade_fixes_the_most() -> None:
    fixed = advisory("FIXED", events(("introduced", "0"), ("fixed", "1.1")))
    open_ = advisory("OPEN", events(("introduced", "0")))
    later = advisory("LATER", events(("introduced", "0"), ("fixed", "1.3")))

    upgrade = best_upgrade([fixed, open_, later], "PyPI", "pkg", "1.0")

    assert upgrade == Upgrade("1.3", ("FIXED", "LATER"), ("OPEN",))
    assert not upgrade.fixes_all
    assert smallest_fixing_version([fixed, open_, later], "PyPI", "pkg", "1.0") is None


def test_among_equally_good_upgrades_the_smallest_wins() -> None:
    # 1.1 fixes A (B reintroduced later), 2.0 fixes B (A reintroduced at 1.5): one each
    a = advisory("A", events(("introduced", "0"), ("fixed", "1.1"), ("introduced", "1.5")))
    b = advisory("B", events(("introduced", "0"), ("fixed", "2.0")))

    assert best_upgrade([a, b], "PyPI", "pkg", "1.0") == Upgrade("1.1", ("A",), ("B",))


def test_candidates_are_newer_ordered_by_the_ecosystem_and_spelled_once() -> None:
    a = advisory(
        "A",
        events(("introduced", "0"), ("fixed", "1.10"), ("fixed", "1.9"), ("fixed", "0.5")),
        events(("introduced", "0"), ("fixed", "1.9.0"), ("fixed", "not-a-version")),
        events(("introduced", "0"), ("fixed", "3.0"), type_="GIT"),
    )

    assert upgrade_candidates([a], "PyPI", "pkg", "1.0") == ["1.9", "1.10"]
    assert upgrade_candidates([a], "PyPI", "pkg", "not a version") == []


def test_npm_prereleases_order_before_their_release() -> None:
    a = advisory(
        "A",
        events(("introduced", "0"), ("fixed", "2.0.0"), ("fixed", "2.0.0-rc.1"), type_="SEMVER"),
        events(("introduced", "2.0.0-rc.1"), ("fixed", "2.0.0-rc.2"), type_="SEMVER"),
        ecosystem="npm",
    )

    # rc.1 is affected again by the second range; rc.2 is the first version outside both, but
    # the release 2.0.0 fixes it too and is what is recommended
    assert upgrade_candidates([a], "npm", "pkg", "1.0.0") == ["2.0.0-rc.1", "2.0.0-rc.2", "2.0.0"]
    assert smallest_fixing_version([a], "npm", "pkg", "1.0.0") == "2.0.0"
    # ... while without the release, the pre-release is named, and flagged as one
    b = advisory(
        "B",
        events(("introduced", "0"), ("fixed", "2.0.0-rc.1"), type_="SEMVER"),
        events(("introduced", "2.0.0-rc.1"), ("fixed", "2.0.0-rc.2"), type_="SEMVER"),
        ecosystem="npm",
    )
    assert best_upgrade([b], "npm", "pkg", "1.0.0") == Upgrade(
        "2.0.0-rc.2", ("B",), (), prerelease=True
    )


# --- property: the chosen upgrade agrees with a brute force over a version universe ------------

Record = tuple[list[tuple[str, list[RankedEvent]]], list[tuple[int, str]]]


@st.composite
def upgrade_cases(draw: st.DrawFn) -> tuple[str, list[Record], tuple[int, str]]:
    """Records over one universe. Half the cases are "plain" (introduced and fixed events only,
    no listed versions); fixed events and introduced "0" are drawn often, so that most records
    affect the installed version and most of those have fixes above it."""
    ecosystem = draw(st.sampled_from(sorted(UNIVERSES)))
    universe = UNIVERSES[ecosystem]
    plain = draw(st.booleans())
    kinds: list[EventKind] = ["introduced", "fixed", "fixed"]
    if not plain:
        kinds += ["last_affected", "limit"]
    types = ["ECOSYSTEM", "ECOSYSTEM", "GIT"] + (["SEMVER"] if ecosystem == "npm" else [])
    version = st.integers(0, len(universe) - 1).flatmap(
        lambda rank: st.sampled_from(universe[rank]).map(lambda text: (rank, text))
    )
    event = st.tuples(st.sampled_from(kinds), version).map(
        lambda item: (item[0], item[1][0], item[1][1])
    )
    start: st.SearchStrategy[RankedEvent] = st.just(("introduced", None, "0"))
    range_events = st.lists(st.one_of(event, event, start), min_size=1, max_size=6)
    record = st.tuples(
        st.lists(st.tuples(st.sampled_from(types), range_events), min_size=1, max_size=3),
        st.just([]) if plain else st.lists(version, max_size=2),
    )
    return ecosystem, draw(st.lists(record, min_size=1, max_size=4)), draw(version)


@settings(max_examples=500, derandomize=True, database=None, deadline=None)
@given(upgrade_cases())
def test_best_upgrade_agrees_with_brute_force(
    case: tuple[str, list[Record], tuple[int, str]],
) -> None:
    # given: the records that affect the installed version, by the oracle
    ecosystem, records, (installed, installed_text) = case
    universe = UNIVERSES[ecosystem]
    group = [
        (f"A-{i}", ranges, [rank for rank, _ in listed], [text for _, text in listed])
        for i, (ranges, listed) in enumerate(records)
        if oracle.affected(installed, ranges, [rank for rank, _ in listed])
    ]
    if not group:
        return
    advisories = [
        Advisory(id=ident, modified="", affected=(oracle.record(ecosystem, ranges, texts),))
        for ident, ranges, _, texts in group
    ]

    # when
    upgrade = best_upgrade(advisories, ecosystem, "pkg", installed_text)

    # then: brute force over ranks (the oracle's own evaluation of every rank)
    records = [(ident, ranges, listed) for ident, ranges, listed, _ in group]
    expected, left = oracle.upgrade(
        installed, records, len(universe), oracle.prerelease_ranks(universe)
    )
    rank_of = {text: rank for rank, spellings in enumerate(universe) for text in spellings}
    assert (rank_of[upgrade.version] if upgrade.version else None) == expected
    assert upgrade.not_fixed == tuple(left)
    assert upgrade.fixed == tuple(ident for ident, *_ in group if ident not in left)

    # ... and with only introduced/fixed events and no listed versions, some candidate fixes
    # them all exactly when some version of the whole universe is outside every range (the
    # first such version is always a fixed event); the one named is the oracle's
    safe = [
        rank
        for rank in range(installed + 1, len(universe))
        if not any(oracle.affected(rank, ranges, listed) for _, ranges, listed in records)
    ]
    plain = all(
        kind in ("introduced", "fixed")
        for _, ranges, _, _ in group
        for _, range_events in ranges
        for kind, _, _ in range_events
    ) and not any(listed for _, _, listed, _ in group)
    found = smallest_fixing_version(advisories, ecosystem, "pkg", installed_text)
    if plain:
        assert (found is None) == (not safe)
    if found is not None:
        assert rank_of[found] in safe and rank_of[found] == expected and not left
        assert upgrade.prerelease == (rank_of[found] in oracle.prerelease_ranks(universe))


# --- the whole PyPA database (skipped without ../shared) --------------------------------------


def test_django_3_2_0_in_the_whole_database(pypa_full_index: MemoryAdvisoryIndex) -> None:
    affecting = [
        a
        for a in pypa_full_index.lookup("PyPI", "django")
        if advisory_affects(a, "PyPI", "django", "3.2.0")
    ]

    upgrade = best_upgrade(affecting, "PyPI", "django", "3.2.0")

    assert (len(affecting), upgrade.version, upgrade.fixes_all) == (25, "3.2.25", True)


def test_every_first_affected_version_of_the_whole_database_gets_a_sound_upgrade(
    pypa_full_index: MemoryAdvisoryIndex, pypa_full_load: tuple[list[Advisory], list[str]]
) -> None:
    # given: for every package, each version an advisory's range starts at
    checked = fixing = 0
    for key in sorted(
        {entry.package_key for record in pypa_full_load[0] for entry in record.affected}
    ):
        advisories = pypa_full_index.lookup(*key)
        starts = {
            event.version
            for advisory in advisories
            for entry in advisory.affected
            for rng in entry.ranges
            if rng.type == "ECOSYSTEM"
            for event in rng.events
            if event.kind == "introduced" and event.version != "0"
        }
        for version in sorted(starts):
            group = [a for a in advisories if advisory_affects(a, *key, version)]
            if not group:
                continue

            # when
            upgrade = best_upgrade(group, *key, version)

            # then: what it claims holds, and no smaller candidate fixes as many
            checked += 1
            if upgrade.version is None:
                continue
            fixing += upgrade.fixes_all
            assert all(
                advisory_affects(a, *key, upgrade.version) == (a.id in upgrade.not_fixed)
                for a in group
            ), (key, version)
            for candidate in upgrade_candidates(group, *key, version):
                if candidate == upgrade.version:
                    break
                fixed = sum(not advisory_affects(a, *key, candidate) for a in group)
                assert fixed < len(upgrade.fixed), (key, version, candidate)
    # 439 package versions, 381 of which one listed version fixes completely
    assert (checked, fixing) == (439, 381)


# --- pre-releases (real records) ------------------------------------------------------------


def test_a_release_is_preferred_to_a_pre_release_that_is_affected_again(
    pypa_records: dict[str, Advisory],
) -> None:
    # given: PYSEC-2022-11 fixed apache-airflow in the beta 2.0.0b1, but 2.0.0 is affected
    # again until the release 2.2.0
    advisory = pypa_records["PYSEC-2022-11"]
    assert advisory_affects(advisory, "PyPI", "apache-airflow", "1.10.15")
    assert not advisory_affects(advisory, "PyPI", "apache-airflow", "2.0.0b1")

    # when
    upgrade = best_upgrade([advisory], "PyPI", "apache-airflow", "1.10.15")

    # then: the release that fixes it, not the lower beta
    assert upgrade_candidates([advisory], "PyPI", "apache-airflow", "1.10.15") == [
        "2.0.0b1",
        "2.2.0",
    ]
    assert upgrade == Upgrade("2.2.0", ("PYSEC-2022-11",), (), prerelease=False)
    assert smallest_fixing_version([advisory], "PyPI", "apache-airflow", "1.10.15") == "2.2.0"


def test_a_pre_release_is_named_only_when_no_release_fixes_it_and_says_so(
    pypa_records: dict[str, Advisory],
) -> None:
    # given: PYSEC-2024-46 names only the release candidate 2.8.3rc1 as fixed
    advisory = pypa_records["PYSEC-2024-46"]

    # when
    upgrade = best_upgrade([advisory], "PyPI", "apache-airflow", "2.8.2")
    finding = vulnerable_finding(
        [
            Dependency(
                "PyPI",
                "apache-airflow",
                "2.8.2",
                "apache-airflow==2.8.2",
                "requirements.txt",
                1,
                direct=True,
            )
        ],
        "2.8.2",
        [advisory],
    )

    # then: the pre-release is recommended, and the message and properties say it is one
    assert upgrade == Upgrade("2.8.3rc1", ("PYSEC-2024-46",), (), prerelease=True)
    assert finding.properties["upgrade_to"] == "2.8.3rc1"
    assert finding.properties["upgrade_is_prerelease"] is True
    assert "2.8.3rc1 (a pre-release: no release listed fixes it)" in finding.message
