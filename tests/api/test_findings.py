"""The findings list: most severe first, then by path and line, in pages that neither overlap
nor skip."""

from __future__ import annotations

from typing import Any

from scanpulse.projects.models import Project
from scanpulse.scans.models import Finding, Scan

# In the order the analyzers reported them (file by file, lows first): not the order to read.
REPORTED = [
    ("low", "app/a.py", 1),
    ("medium", "app/a.py", 9),
    ("info", "app/b.py", 2),
    ("critical", "app/z.py", 30),
    ("high", "app/handlers.py", 12),
    ("low", "app/handlers.py", 3),
    ("high", "app/handlers.py", 2),
    ("high", "app/b.py", 40),
    ("medium", "requirements.txt", None),
    ("medium", "requirements.txt", 4),
    ("high", "app/handlers.py", 12),  # the same place twice: the reported order decides
]
EXPECTED = [
    ("critical", "app/z.py", 30),
    ("high", "app/b.py", 40),
    ("high", "app/handlers.py", 2),
    ("high", "app/handlers.py", 12),
    ("high", "app/handlers.py", 12),
    ("medium", "app/a.py", 9),
    ("medium", "requirements.txt", None),
    ("medium", "requirements.txt", 4),
    ("low", "app/a.py", 1),
    ("low", "app/handlers.py", 3),
    ("info", "app/b.py", 2),
]


def completed_scan(tenant: Any, tmp_path: Any) -> Scan:
    project = Project.objects.create(organization=tenant.org, name="p", repo_url=str(tmp_path))
    scan = Scan.objects.create(
        project=project, organization=tenant.org, ref="main", status="completed"
    )
    Finding.objects.bulk_create(
        Finding(
            scan=scan,
            tool="bandit",
            rule_id=f"R{position}",
            severity=severity,
            confidence="high",
            path=path,
            start_line=line,
            end_line=line,
            message=f"finding {position}",
            fingerprint=f"{position:064d}",
            status="new",
            position=position,
        )
        for position, (severity, path, line) in enumerate(REPORTED)
    )
    return scan


def test_findings_are_listed_most_severe_first_then_by_path_and_line(tenant, tmp_path) -> None:
    scan = completed_scan(tenant, tmp_path)

    body = tenant.client.get(f"/api/scans/{scan.id}/findings/").json()

    listed = [(f["severity"], f["path"], f["start_line"]) for f in body["results"]]
    assert listed == EXPECTED
    ties = [f["rule_id"] for f in body["results"] if f["start_line"] == 12]
    assert ties == ["R4", "R10"]


def test_pages_of_the_ordered_list_neither_overlap_nor_skip(tenant, tmp_path) -> None:
    scan = completed_scan(tenant, tmp_path)

    pages = [
        tenant.client.get(f"/api/scans/{scan.id}/findings/?page_size=3&page={page}").json()
        for page in (1, 2, 3, 4)
    ]

    ids = [f["id"] for page in pages for f in page["results"]]
    assert len(ids) == len(set(ids)) == len(REPORTED)
    listed = [(f["severity"], f["path"], f["start_line"]) for p in pages for f in p["results"]]
    assert listed == EXPECTED


def test_filters_keep_the_order(tenant, tmp_path) -> None:
    scan = completed_scan(tenant, tmp_path)

    body = tenant.client.get(f"/api/scans/{scan.id}/findings/?tool=bandit&status=new").json()
    high = tenant.client.get(f"/api/scans/{scan.id}/findings/?severity=high").json()

    assert [(f["severity"], f["path"], f["start_line"]) for f in body["results"]] == EXPECTED
    assert [(f["path"], f["start_line"]) for f in high["results"]] == [
        ("app/b.py", 40),
        ("app/handlers.py", 2),
        ("app/handlers.py", 12),
        ("app/handlers.py", 12),
    ]


def test_every_page_from_the_end_matches_the_listing(tenant, tmp_path) -> None:
    # Pages in the second half of the list are read backwards from its end: the same rows, in
    # the same order, as reading forwards — for every page size, the last page included.
    scan = completed_scan(tenant, tmp_path)
    whole = tenant.client.get(f"/api/scans/{scan.id}/findings/?page_size=100").json()["results"]

    for size in range(1, len(REPORTED) + 1):
        pages = -(-len(REPORTED) // size)
        for page in range(1, pages + 1):
            url = f"/api/scans/{scan.id}/findings/?page_size={size}&page={page}"
            body = tenant.client.get(url).json()
            assert [f["id"] for f in body["results"]] == [
                f["id"] for f in whole[(page - 1) * size : page * size]
            ], (size, page)
        last = tenant.client.get(f"/api/scans/{scan.id}/findings/?page_size={size}&page={pages}")
        assert last.json()["next"] is None


def test_the_last_page_of_a_filter(tenant, tmp_path) -> None:
    scan = completed_scan(tenant, tmp_path)

    body = tenant.client.get(f"/api/scans/{scan.id}/findings/?severity=high&page_size=3&page=2")

    assert [(f["path"], f["start_line"]) for f in body.json()["results"]] == [
        ("app/handlers.py", 12)
    ]
