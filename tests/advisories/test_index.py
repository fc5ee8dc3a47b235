"""The in-memory advisory index: exact matches on real data and alias merging."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from scanpulse.advisories.index import MemoryAdvisoryIndex, id_order, merge_by_alias
from scanpulse.advisories.matching import advisory_affects
from scanpulse.advisories.osv import Advisory, Affected, Event, Range, Reference, SeverityScore

# Worked out by hand from the YAML files (ranges and versions lists agree on every one).
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
# jinja2: 2014-8 (fixed 2.7.2), 2014-82 (2.7.3) and 2019-220 (2.8.1) are fixed before 2.10.
JINJA2_2_10 = ["PYSEC-2019-217", "PYSEC-2021-66"]
# pyyaml: 2018-49 is fixed in 5.1 itself (fixed is exclusive).
PYYAML_5_1 = ["PYSEC-2020-96", "PYSEC-2020-176", "PYSEC-2021-142"]


def matched(index: MemoryAdvisoryIndex, name: str, version: str) -> list[str]:
    return [
        advisory.id
        for advisory in index.lookup("PyPI", name)
        if advisory_affects(advisory, "PyPI", name, version)
    ]


@pytest.mark.parametrize(
    ("name", "version", "expected"),
    [
        ("django", "3.2.0", DJANGO_3_2_0),
        ("Django", "3.2.0", DJANGO_3_2_0),
        ("jinja2", "2.10", JINJA2_2_10),
        ("Jinja2", "2.10.0", JINJA2_2_10),
        ("pyyaml", "5.1", PYYAML_5_1),
        ("PyYAML", "5.1", PYYAML_5_1),
    ],
)
def test_exact_advisories_for_real_pins(
    pypa_any_index: MemoryAdvisoryIndex, name: str, version: str, expected: list[str]
) -> None:
    # lookup results are ordered by id, naturally (2021-7 before 2021-98 before 2021-109)
    assert matched(pypa_any_index, name, version) == expected


def test_unaffected_and_unknown_packages_match_nothing(
    pypa_any_index: MemoryAdvisoryIndex,
) -> None:
    assert matched(pypa_any_index, "jinja2", "3.1.4") == []
    assert matched(pypa_any_index, "pyyaml", "6.0.1") == []
    assert pypa_any_index.lookup("PyPI", "no-such-package-here") == []
    assert pypa_any_index.lookup("npm", "django") == []


def test_withdrawn_records_are_left_out_of_lookups(pypa_any_index: MemoryAdvisoryIndex) -> None:
    redis = [advisory.id for advisory in pypa_any_index.lookup("PyPI", "redis")]

    assert redis != []
    assert "PYSEC-2023-73" not in redis


def test_real_records_sharing_a_cve_are_merged(
    pypa_any_index: MemoryAdvisoryIndex, pypa_records: dict[str, Advisory]
) -> None:
    # given: distributed PYSEC-2021-871 and PYSEC-2021-872 both alias CVE-2021-42343
    (advisory,) = pypa_any_index.lookup("PyPI", "distributed")

    # then: one logical advisory, the PYSEC ids visible, the data of both records kept
    assert advisory.id == "PYSEC-2021-871"
    assert "PYSEC-2021-872" in advisory.aliases
    assert "CVE-2021-42343" in advisory.aliases
    both = (pypa_records["PYSEC-2021-871"], pypa_records["PYSEC-2021-872"])
    assert set(advisory.affected) == {entry for rec in both for entry in rec.affected}


def test_description_names_the_source_and_record_count(
    pypa_full_index: MemoryAdvisoryIndex,
) -> None:
    description = pypa_full_index.description()

    assert description is not None
    assert description.startswith("PyPA advisory-database, 2,661 records, loaded ")


def test_description_with_a_fixed_load_time() -> None:
    index = MemoryAdvisoryIndex(
        [record("PYSEC-1")], source="test data", loaded_at=datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    )

    assert index.description() == "test data, 1 records, loaded 2026-01-02 03:04 UTC"


def test_an_empty_index_has_no_description() -> None:
    assert MemoryAdvisoryIndex([]).description() is None


# --- merge_by_alias on synthetic records -------------------------------------------------------


def record(
    advisory_id: str,
    *aliases: str,
    name: str = "pkg",
    fixed: str = "2.0",
    modified: str = "2024-01-01T00:00:00Z",
    withdrawn: str | None = None,
    summary: str = "",
) -> Advisory:
    return Advisory(
        id=advisory_id,
        modified=modified,
        aliases=aliases,
        summary=summary,
        details=f"details of {advisory_id}",
        withdrawn=withdrawn,
        severity=(SeverityScore("CVSS_V3", f"vector of {advisory_id}"),),
        references=(Reference("ADVISORY", f"https://example.com/{advisory_id}"),),
        affected=(
            Affected(
                "PyPI",
                name,
                ranges=(Range("ECOSYSTEM", (Event("introduced", "0"), Event("fixed", fixed))),),
            ),
        ),
    )


def test_records_sharing_an_alias_merge_with_ghsa_as_primary() -> None:
    # given: the same flaw from three databases, linked through the CVE
    pysec = record("PYSEC-2024-9", "CVE-2024-1")
    ghsa = record("GHSA-xxxx-yyyy-zzzz", "CVE-2024-1", summary="Short title", fixed="2.1")
    cve = record("CVE-2024-1")

    # when
    (merged,) = merge_by_alias([pysec, cve, ghsa])

    # then
    assert merged.id == "GHSA-xxxx-yyyy-zzzz"
    assert merged.aliases == ("PYSEC-2024-9", "CVE-2024-1")
    assert merged.summary == "Short title"
    assert merged.details == "details of GHSA-xxxx-yyyy-zzzz"
    # identical affected entries (PYSEC and CVE both say "fixed 2.0") are kept once
    assert [entry.ranges[0].events[1].version for entry in merged.affected] == ["2.1", "2.0"]
    assert [ref.url for ref in merged.references] == [
        "https://example.com/GHSA-xxxx-yyyy-zzzz",
        "https://example.com/PYSEC-2024-9",
        "https://example.com/CVE-2024-1",
    ]
    assert len(merged.severity) == 3


def test_merging_is_transitive_and_unrelated_records_stay_apart() -> None:
    # given: A ~ B through X, B ~ C through Y; D is unrelated
    a = record("PYSEC-1", "X")
    b = record("PYSEC-2", "X", "Y")
    c = record("PYSEC-3", "Y")
    d = record("PYSEC-4", "Z")

    merged = merge_by_alias([c, d, a, b])

    assert [(advisory.id, advisory.aliases) for advisory in merged] == [
        ("PYSEC-1", ("PYSEC-2", "PYSEC-3", "X", "Y")),
        ("PYSEC-4", ("Z",)),
    ]


def test_withdrawn_records_neither_match_nor_bridge() -> None:
    # given: the only link between A and C is a withdrawn record
    a = record("PYSEC-1", "X")
    bridge = record("PYSEC-2", "X", "Y", withdrawn="2024-02-01T00:00:00Z")
    c = record("PYSEC-3", "Y")

    merged = merge_by_alias([a, bridge, c])

    assert [advisory.id for advisory in merged] == ["PYSEC-1", "PYSEC-3"]


def test_a_duplicate_id_keeps_the_latest_modified_version() -> None:
    # given: the same record twice, e.g. from a directory and a zip; fractional seconds
    # would sort wrongly as plain text
    old = record("PYSEC-1", fixed="1.0", modified="2024-01-01T00:00:00.5Z")
    new = record("PYSEC-1", fixed="1.5", modified="2024-01-01T00:00:01Z")

    (merged,) = merge_by_alias([new, old])

    assert merged.affected == new.affected
    assert MemoryAdvisoryIndex([old, new]).lookup("PyPI", "pkg") == [new]


def test_a_record_withdrawn_in_its_latest_version_disappears() -> None:
    live = record("PYSEC-1", modified="2024-01-01T00:00:00Z")
    withdrawn = record("PYSEC-1", modified="2024-03-01T00:00:00Z", withdrawn="2024-03-01T00:00:00Z")

    assert merge_by_alias([live, withdrawn]) == []


def test_lookup_merges_only_records_about_the_package() -> None:
    # given: one CVE, two packages, one PYSEC record each
    index = MemoryAdvisoryIndex(
        [record("PYSEC-1", "CVE-1", name="alpha"), record("PYSEC-2", "CVE-1", name="Beta")]
    )

    assert [advisory.id for advisory in index.lookup("PyPI", "alpha")] == ["PYSEC-1"]
    assert [advisory.aliases for advisory in index.lookup("PyPI", "beta")] == [("CVE-1",)]


def test_merged_advisories_round_trip_for_a_database_store() -> None:
    (merged,) = merge_by_alias([record("PYSEC-1", "CVE-1"), record("GHSA-a", "CVE-1")])

    assert Advisory.from_dict(merged.to_dict()) == merged


def test_a_merged_advisory_is_published_when_its_first_record_with_a_date_was() -> None:
    # given: the GHSA record (the primary id) has no date, the PYSEC one has
    ghsa = replace(record("GHSA-a", "CVE-1"), published=None)
    pysec = replace(record("PYSEC-1", "CVE-1"), published="2021-06-08T18:15:00Z")

    (merged,) = merge_by_alias([ghsa, pysec])

    assert merged.id == "GHSA-a"
    assert merged.published == "2021-06-08T18:15:00Z"
    assert Advisory.from_dict(merged.to_dict()).published == "2021-06-08T18:15:00Z"


def test_id_order_prefers_ghsa_then_pysec_then_others_then_cve() -> None:
    ids = ["CVE-2024-1", "PYSEC-2021-100", "OSV-2024-1", "GHSA-b", "PYSEC-2021-98", "GHSA-a"]

    assert sorted(ids, key=id_order) == [
        "GHSA-a",
        "GHSA-b",
        "PYSEC-2021-98",
        "PYSEC-2021-100",
        "OSV-2024-1",
        "CVE-2024-1",
    ]
