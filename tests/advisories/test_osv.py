"""OSV record parsing and loading: the real PyPA database, zip exports and broken files."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from scanpulse.advisories.cvss import cvss3_base_score
from scanpulse.advisories.osv import (
    Advisory,
    Affected,
    Event,
    OSVError,
    Range,
    SeverityScore,
    normalize_name,
    parse_document,
)
from scanpulse.advisories.osv_files import iter_records

RECORD: dict[str, Any] = {
    "id": "GHSA-aaaa-bbbb-cccc",
    "modified": "2024-01-02T03:04:05Z",
    "aliases": ["CVE-2024-0001"],
    "summary": "Example flaw",
    "affected": [
        {
            "package": {"ecosystem": "PyPI", "name": "example"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.2"}]}],
            "versions": ["1.0", "1.1"],
        }
    ],
}


def test_loads_the_whole_pypa_database_reporting_unorderable_ranges(
    pypa_full_load: tuple[list[Advisory], list[str]],
) -> None:
    records, errors = pypa_full_load

    # the count the data README states, every record usable; the two ranges with a version
    # PEP 440 cannot order are reported (and only those ranges are ignored)
    assert sorted(error.split("vulns/", 1)[1] for error in errors) == [
        "binderhub/PYSEC-2021-371.yaml: affected[0].ranges[1].events[1]: fixed '0.2.0-n653' "
        "is not a valid PEP 440 version; range ignored (binderhub)",
        "steam/PYSEC-2019-125.yaml: affected[0].ranges[0].events[1]: fixed '2019-09-12' "
        "is not a valid PEP 440 version; range ignored (steam)",
    ]
    assert len(records) == 2661
    assert len({record.id for record in records}) == 2661
    assert all(record.id.startswith("PYSEC-") for record in records)
    assert sum(record.withdrawn is not None for record in records) == 10
    assert {entry.ecosystem for record in records for entry in record.affected} == {"PyPI"}


def test_a_real_record_is_parsed_field_by_field(pypa_records: dict[str, Advisory]) -> None:
    record = pypa_records["PYSEC-2021-98"]

    assert record.aliases == ("CVE-2021-33203", "GHSA-68w8-qjq3-2gfm")
    assert record.modified == "2021-06-22T04:54:55.381670Z"
    assert record.details.startswith("Django before 2.2.24, 3.x before 3.1.12")
    assert record.withdrawn is None
    assert record.published == "2021-06-08T18:15:00Z"
    (entry,) = record.affected
    assert (entry.ecosystem, entry.name) == ("PyPI", "django")
    assert entry.ranges == (
        Range(
            "ECOSYSTEM",
            (
                Event("introduced", "0"),
                Event("fixed", "2.2.24"),
                Event("introduced", "3.0"),
                Event("fixed", "3.1.12"),
                Event("introduced", "3.2"),
                Event("fixed", "3.2.4"),
            ),
        ),
    )
    assert "1.10" in entry.versions and "3.2.3" in entry.versions
    assert record.references[0].url == "https://docs.djangoproject.com/en/3.2/releases/security/"


def test_cvss_vectors_are_kept_as_given(pypa_records: dict[str, Advisory]) -> None:
    assert pypa_records["PYSEC-2023-221"].severity == (
        SeverityScore("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"),
    )


def test_every_real_record_round_trips_through_a_json_dict(
    pypa_full_load: tuple[list[Advisory], list[str]],
) -> None:
    for record in pypa_full_load[0]:
        assert Advisory.from_dict(json.loads(json.dumps(record.to_dict()))) == record


def test_unquoted_yaml_versions_and_timestamps_stay_strings(tmp_path: Path) -> None:
    # given: YAML that a default loader would turn into a float and a datetime
    (tmp_path / "X-1.yaml").write_text(
        "id: X-1\n"
        "modified: 2021-06-22T04:54:55Z\n"
        "affected:\n"
        "- package: {ecosystem: PyPI, name: foo}\n"
        "  versions: [1.10, 2.0]\n"
        "  ranges:\n"
        "  - type: ECOSYSTEM\n"
        "    events: [{introduced: 0}, {fixed: 1.20}]\n"
    )

    # when
    errors: list[str] = []
    (record,) = iter_records(tmp_path, errors)

    # then
    assert errors == []
    assert record.modified == "2021-06-22T04:54:55Z"
    assert record.affected[0].versions == ("1.10", "2.0")
    assert record.affected[0].ranges[0].events == (
        Event("introduced", "0"),
        Event("fixed", "1.20"),
    )


def test_bad_files_are_reported_one_by_one_and_the_rest_still_loads(tmp_path: Path) -> None:
    # given
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "GOOD-1.json").write_text(json.dumps(RECORD))
    (tmp_path / "pkg" / "BROKEN.yaml").write_text("id: [unclosed\n")
    (tmp_path / "pkg" / "BROKEN.json").write_text("{not json")
    (tmp_path / "pkg" / "NUMBER.json").write_text(
        json.dumps(
            {**RECORD, "id": "N-1", "affected": [{**RECORD["affected"][0], "versions": [1.5]}]}
        )
    )
    (tmp_path / "pkg" / "NOID.yaml").write_text("modified: '2024-01-01T00:00:00Z'\n")
    (tmp_path / "pkg" / "LIST.yaml").write_text("- just\n- a list\n")
    (tmp_path / "pkg" / "BINARY.json").write_bytes(b"\xff\xfe\x00garbage")
    (tmp_path / "pkg" / "README.md").write_text("not a record")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HIDDEN.json").write_text("{")

    # when
    errors: list[str] = []
    records = list(iter_records(tmp_path, errors))

    # then
    assert [record.id for record in records] == ["GHSA-aaaa-bbbb-cccc"]
    pkg = tmp_path / "pkg"
    assert len(errors) == 6
    assert errors[0].startswith(f"{pkg / 'BINARY.json'}: invalid JSON")
    assert errors[1].startswith(f"{pkg / 'BROKEN.json'}: invalid JSON")
    assert errors[2].startswith(f"{pkg / 'BROKEN.yaml'}: invalid YAML")
    assert errors[3] == f"{pkg / 'LIST.yaml'}: record must be an object, not a list"
    assert errors[4] == f"{pkg / 'NOID.yaml'}: id must be a string, not null"
    assert (
        errors[5] == f"{pkg / 'NUMBER.json'}: affected[0].versions[0] must be a string, not float"
    )


def test_loads_an_osv_zip_export_without_extracting_members(tmp_path: Path) -> None:
    # given: an all.zip with a traversal member name, a broken member and a non-record file
    archive = tmp_path / "export" / "all.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("GHSA-aaaa-bbbb-cccc.json", json.dumps(RECORD))
        zf.writestr("../../escaped.json", json.dumps({**RECORD, "id": "PYSEC-2024-1"}))
        zf.writestr("broken.json", "{")
        zf.writestr("LICENSE", "text")

    # when
    errors: list[str] = []
    records = list(iter_records(archive, errors))

    # then
    assert sorted(record.id for record in records) == ["GHSA-aaaa-bbbb-cccc", "PYSEC-2024-1"]
    assert len(errors) == 1
    assert errors[0].startswith("all.zip:broken.json: invalid JSON")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["all.zip", "export"]


def test_a_corrupt_zip_member_is_an_error_not_a_crash(tmp_path: Path) -> None:
    # given: a stored (uncompressed) member whose bytes are damaged after writing
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("GOOD.json", json.dumps(RECORD))
        zf.writestr("DAMAGED.json", json.dumps({**RECORD, "id": "X-2"}))
    data = bytearray(archive.read_bytes())
    position = data.index(b'"X-2"')
    data[position + 1 : position + 4] = b"Y-3"
    archive.write_bytes(bytes(data))

    # when
    errors: list[str] = []
    records = list(iter_records(archive, errors))

    # then: the CRC check catches it
    assert [record.id for record in records] == ["GHSA-aaaa-bbbb-cccc"]
    assert len(errors) == 1
    assert errors[0].startswith("all.zip:DAMAGED.json: cannot read zip member")


def test_a_missing_or_unsupported_path_is_reported(tmp_path: Path) -> None:
    errors: list[str] = []
    (tmp_path / "notes.txt").write_text("x")

    assert list(iter_records(tmp_path / "nope", errors)) == []
    assert list(iter_records(tmp_path / "notes.txt", errors)) == []

    assert errors == [
        f"{tmp_path / 'nope'}: no such file or directory",
        f"{tmp_path / 'notes.txt'}: not a directory, zip archive or OSV record file",
    ]


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({**RECORD, "id": ""}, "id must not be empty"),
        ({**RECORD, "aliases": "CVE-1"}, "aliases must be a list, not str"),
        (
            {**RECORD, "affected": [{"package": {"ecosystem": "PyPI"}}]},
            "affected[0].package.name must be a string, not null",
        ),
        (
            {
                **RECORD,
                "affected": [
                    {
                        "package": {"ecosystem": "PyPI", "name": "x"},
                        "ranges": [
                            {"type": "ECOSYSTEM", "events": [{"introduced": "0", "fixed": "1"}]}
                        ],
                    }
                ],
            },
            "affected[0].ranges[0].events[0] must have exactly one of introduced, fixed, "
            "last_affected, limit",
        ),
        (
            {
                **RECORD,
                "affected": [
                    {
                        "package": {"ecosystem": "PyPI", "name": "x"},
                        "ranges": [{"type": "ECOSYSTEM", "events": [{"removed": "1"}]}],
                    }
                ],
            },
            "affected[0].ranges[0].events[0] has unknown event 'removed'",
        ),
    ],
)
def test_invalid_records_name_the_bad_field(record: dict[str, object], message: str) -> None:
    with pytest.raises(OSVError) as raised:
        parse_document(json.dumps(record).encode(), "X.json")
    assert str(raised.value) == message


def test_affected_entries_without_a_package_are_dropped() -> None:
    # GIT-only entries (C libraries) have no package and can never match a dependency.
    record = {**RECORD, "affected": [{"ranges": []}, RECORD["affected"][0]]}

    advisory = Advisory.from_dict(record)

    assert [entry.name for entry in advisory.affected] == ["example"]


def test_to_dict_is_osv_shaped() -> None:
    advisory = Advisory.from_dict(RECORD)

    assert advisory.to_dict() == RECORD
    assert advisory.affected[0] == Affected(
        ecosystem="PyPI",
        name="example",
        ranges=(Range("ECOSYSTEM", (Event("introduced", "0"), Event("fixed", "1.2"))),),
        versions=("1.0", "1.1"),
    )


@pytest.mark.parametrize(
    ("ecosystem", "name", "normalized"),
    [
        ("PyPI", "Django", "django"),
        ("PyPI", "zope.interface", "zope-interface"),
        ("PyPI", "Foo__Bar", "foo-bar"),
        ("npm", "JSONStream", "jsonstream"),
        ("npm", "@Babel/Core", "@babel/core"),
        ("Go", "github.com/Foo/bar", "github.com/Foo/bar"),
    ],
)
def test_normalize_name(ecosystem: str, name: str, normalized: str) -> None:
    assert normalize_name(ecosystem, name) == normalized


@pytest.mark.parametrize(
    ("vector", "score"),
    [
        # Reference scores as published by NVD for these vectors.
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
        ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 8.8),
        ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
        ("CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", 5.9),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N", 5.3),
        ("CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:L/I:N/A:N", 3.3),
        ("CVSS:3.1/AV:L/AC:L/PR:L/UI:R/S:U/C:L/I:N/A:N", 2.8),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P/RL:O", 9.8),
    ],
)
def test_cvss3_base_score(vector: str, score: float) -> None:
    assert cvss3_base_score(vector) == score


@pytest.mark.parametrize(
    "vector",
    [
        "AV:N/AC:L/Au:N/C:P/I:P/A:P",  # CVSS v2
        "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H",  # A missing
        "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "CVSS:3.1/",
        "",
    ],
)
def test_cvss3_base_score_rejects_other_vectors(vector: str) -> None:
    assert cvss3_base_score(vector) is None
