"""The repository's fixture set is an unchanged extract of the reference data it names."""

from __future__ import annotations

from scanpulse.analyzers.sarif_import.convert import SCHEMA_PATH
from tests.support.data import FIXTURES, shared_data

# Written here, not extracted: webhook payloads after the hosts' published examples, the test
# repositories under manifests/ and other tools' SARIF reports (run here, or after their
# documented output); SOURCES.tsv lists only the rows of the files taken.
AUTHORED = ("webhooks/", "manifests/", "sarif-reports/")
EXTRACTED = sorted(
    name
    for path in FIXTURES.rglob("*")
    if path.is_file()
    and path.name not in ("README.md", "SOURCES.tsv")
    and not (name := path.relative_to(FIXTURES).as_posix()).startswith(AUTHORED)
)


def test_the_fixture_set_is_small_and_attributed() -> None:
    records = [name for name in EXTRACTED if name.startswith("osv-pypa/vulns/")]
    npm = [name for name in EXTRACTED if name.startswith("osv-ghsa-sample/npm/")]
    ghsa = [name for name in EXTRACTED if name.startswith("osv-ghsa-sample/")]
    go = [name for name in EXTRACTED if name.startswith("osv-go/vulns/")]

    assert "sarif/sarif-schema-2.1.0.json" in EXTRACTED
    assert "osv-pypa/LICENSE" in EXTRACTED
    assert len(records) == 62
    assert len(npm) == 12
    assert len(ghsa) == 74
    assert len(go) == 19
    readme = (FIXTURES / "README.md").read_text(encoding="utf-8")
    assert "CC-BY-4.0" in readme and "62 OSV records" in readme
    assert "74 OSV records" in readme and "19 OSV records" in readme
    assert "CC-BY-4.0" in (FIXTURES / "osv-go" / "README.md").read_text(encoding="utf-8")


def test_the_sources_list_names_every_extracted_advisory_as_upstream_does() -> None:
    rows = (FIXTURES / "osv-ghsa-sample" / "SOURCES.tsv").read_text(encoding="utf-8").splitlines()
    named = sorted(
        f"osv-ghsa-sample/{row.split(chr(9))[0]}/{row.split(chr(9))[1]}.json" for row in rows[1:]
    )

    assert named == sorted(name for name in EXTRACTED if name.startswith("osv-ghsa-sample/"))
    upstream = (shared_data("osv-ghsa-sample") / "SOURCES.tsv").read_text(encoding="utf-8")
    assert rows[0] == upstream.splitlines()[0]
    assert set(rows[1:]) <= set(upstream.splitlines()[1:])


def test_every_fixture_file_equals_its_source() -> None:
    source = shared_data()
    changed = [
        name
        for name in EXTRACTED
        if not (source / name).is_file()
        or (source / name).read_bytes() != (FIXTURES / name).read_bytes()
    ]

    assert changed == []


def test_the_schema_uploads_are_checked_against_is_the_reference_schema() -> None:
    # The copy in the package (read at run time) is the fixture's, itself the reference file.
    assert SCHEMA_PATH.read_bytes() == (FIXTURES / "sarif" / "sarif-schema-2.1.0.json").read_bytes()
    assert SCHEMA_PATH.read_bytes() == shared_data("sarif", "sarif-schema-2.1.0.json").read_bytes()
