"""The repository's fixture set is an unchanged extract of the reference data it names."""

from __future__ import annotations

from tests.support.data import FIXTURES, shared_data

EXTRACTED = sorted(
    path.relative_to(FIXTURES).as_posix()
    for path in FIXTURES.rglob("*")
    if path.is_file() and path.name != "README.md"
)


def test_the_fixture_set_is_small_and_attributed() -> None:
    records = [name for name in EXTRACTED if name.startswith("osv-pypa/vulns/")]
    npm = [name for name in EXTRACTED if name.startswith("osv-ghsa-sample/npm/")]

    assert "sarif/sarif-schema-2.1.0.json" in EXTRACTED
    assert "osv-pypa/LICENSE" in EXTRACTED
    assert len(records) == 62
    assert len(npm) == 3
    readme = (FIXTURES / "README.md").read_text(encoding="utf-8")
    assert "CC-BY-4.0" in readme and "62 OSV records" in readme


def test_every_fixture_file_equals_its_source() -> None:
    source = shared_data()
    changed = [
        name
        for name in EXTRACTED
        if not (source / name).is_file()
        or (source / name).read_bytes() != (FIXTURES / name).read_bytes()
    ]

    assert changed == []
