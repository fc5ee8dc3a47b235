"""The alert list: filters, globs with fnmatch's rules, orderings, pages."""

from __future__ import annotations

import fnmatch
import random
import re
import time
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.test import Client
from django.utils import timezone

from scanpulse.alerts.models import Alert, Dismissal
from scanpulse.alerts.selectors import alert_list, alert_tools, glob_regex
from scanpulse.projects.models import Project
from tests.alerts.test_triage import make_alert

# (severity, tool, rule, path, line, ref, state)
ALERTS = [
    ("low", "bandit", "B101", "tests/test_app.py", 3, "main", "open"),
    ("high", "bandit", "B602", "app/run.py", 8, "main", "open"),
    ("critical", "secrets", "aws-access-key", "app/settings.py", 3, "main", "open"),
    ("medium", "bandit", "B105", "app/settings.py", 4, "main", "fixed"),
    ("high", "dependencies", "PYSEC-2021-7", "requirements.txt", None, "main", "open"),
    ("high", "bandit", "B602", "app/run.py", 8, "dev", "open"),
    ("info", "dependencies", "SP-DEP-UNPINNED", "requirements.txt", 2, "main", "open"),
    ("low", "bandit", "B101", "tests/unit/test_x.py", 1, "main", "open"),
]


@pytest.fixture
def listed(tenant, tmp_path) -> dict[str, Alert]:
    project = Project.objects.create(organization=tenant.org, name="app", repo_url=str(tmp_path))
    now = timezone.now()
    made = {}
    for index, (severity, tool, rule, path, line, ref, state) in enumerate(ALERTS):
        alert = make_alert(
            project,
            line or 0,
            ref=ref,
            fingerprint=f"{index:032d}",
            severity=severity,
            tool=tool,
            rule_id=rule,
            path=path,
            state=state,
            message=f"{rule} in {path}",
        )
        Alert.objects.filter(pk=alert.pk).update(
            start_line=line, last_seen_at=now - timedelta(minutes=index)
        )
        made[f"{rule}@{path}:{ref}"] = alert
    # B101 in tests/test_app.py is dismissed
    Dismissal.objects.create(
        project=project, fingerprint=f"{0:032d}", reason="used_in_tests", dismissed_at=now
    )
    return made


def names(tenant, listed, query: str = "") -> list[str]:
    project = next(iter(listed.values())).project_id
    response = tenant.client.get(f"/api/projects/{project}/alerts/?{query}")
    assert response.status_code == 200, response.json()
    by_id = {str(alert.id): name for name, alert in listed.items()}
    return [by_id[alert["id"]] for alert in response.json()["results"]]


def test_the_default_order_is_most_severe_first_then_path_and_line(tenant, listed) -> None:
    assert names(tenant, listed) == [
        "aws-access-key@app/settings.py:main",
        "B602@app/run.py:dev",
        "B602@app/run.py:main",
        "PYSEC-2021-7@requirements.txt:main",
        "B105@app/settings.py:main",
        "B101@tests/test_app.py:main",
        "B101@tests/unit/test_x.py:main",
        "SP-DEP-UNPINNED@requirements.txt:main",
    ]


def test_other_orderings(tenant, listed) -> None:
    assert names(tenant, listed, "ordering=-last_seen")[:3] == [
        "B101@tests/test_app.py:main",
        "B602@app/run.py:main",
        "aws-access-key@app/settings.py:main",
    ]
    assert names(tenant, listed, "ordering=path")[:4] == [
        "B602@app/run.py:dev",
        "B602@app/run.py:main",
        "aws-access-key@app/settings.py:main",
        "B105@app/settings.py:main",
    ]
    bad = tenant.client.get(
        f"/api/projects/{listed['B602@app/run.py:dev'].project_id}/alerts/?ordering=id"
    )
    assert bad.status_code == 400 and "ordering" in bad.json()["error"]["fields"]


def test_filters(tenant, listed) -> None:
    assert names(tenant, listed, "state=dismissed") == ["B101@tests/test_app.py:main"]
    assert names(tenant, listed, "state=fixed") == ["B105@app/settings.py:main"]
    assert "B101@tests/test_app.py:main" not in names(tenant, listed, "state=open")
    assert len(names(tenant, listed, "state=open")) == 6
    assert names(tenant, listed, "severity=high") == [
        "aws-access-key@app/settings.py:main",
        "B602@app/run.py:dev",
        "B602@app/run.py:main",
        "PYSEC-2021-7@requirements.txt:main",
    ]
    assert names(tenant, listed, "tool=dependencies&severity=info") == [
        "PYSEC-2021-7@requirements.txt:main",
        "SP-DEP-UNPINNED@requirements.txt:main",
    ]
    assert names(tenant, listed, "rule=B602&ref=dev") == ["B602@app/run.py:dev"]
    assert names(tenant, listed, "path=tests/*") == [
        "B101@tests/test_app.py:main",
        "B101@tests/unit/test_x.py:main",
    ]
    assert names(tenant, listed, "path=" + quote("app/s?ttings.[pq]y")) == [
        "aws-access-key@app/settings.py:main",
        "B105@app/settings.py:main",
    ]
    assert names(tenant, listed, "q=UNPINNED") == ["SP-DEP-UNPINNED@requirements.txt:main"]
    assert names(tenant, listed, "q=run.py&severity=critical") == []
    assert names(tenant, listed, "page_size=3&page=3") == [
        "B101@tests/unit/test_x.py:main",
        "SP-DEP-UNPINNED@requirements.txt:main",
    ]
    refused = tenant.client.get(
        f"/api/projects/{listed['B602@app/run.py:dev'].project_id}/alerts/?state=gone"
    )
    assert refused.status_code == 400


PATHS = [
    "a.py", "app/a.py", "app/b/c.py", "tests/test_a.py", "x[1].py", "a-b.txt", "a]b", "A.PY",
    "dir with space/f.py", "weird$^.py", "back\\slash", "!bang", "q?.py", ".hidden", "a.pyc",
]  # fmt: skip
PATTERNS = [
    "*", "*.py", "app/*", "app/*.py", "tests/*", "?.py", "[ab].py", "[!a].py", "[a-c]*",
    "x[[]1].py", "x[1].py", "a[]]b", "a[!]]b", "*[", "[", "a-b.*", "dir with space/*",
    "weird$^.py", "back\\slash", "[!!]*", "q?.py", "q[?].py", "*.[Pp][Yy]", ".*", "[^a]*",
    "[z-a].py", "[!]", "[!]].py", "[a-].py", "[-a].py", "a[&~|]b", "*[.-.]py", "[\\]*",
]  # fmt: skip


def random_patterns(count: int) -> list[str]:
    chooser = random.Random(13)
    pieces = ["*", "?", "a", ".", "/", "p", "y", "[a-c]", "[!a]", "[", "]", "\\", "^", "$", "-"]
    pieces += ["!", "&", "~", "|", "[z-a]", "x"]
    return [
        "".join(chooser.choice(pieces) for _ in range(chooser.randint(1, 6))) for _ in range(count)
    ]


def test_path_globs_match_what_fnmatch_matches(tenant, tmp_path) -> None:
    project = Project.objects.create(organization=tenant.org, name="globs", repo_url=str(tmp_path))
    for index, path in enumerate(PATHS):
        make_alert(project, index + 1, fingerprint=f"{index:032d}", path=path)
    for pattern in PATTERNS + random_patterns(150):
        found = set(alert_list(project=project, path=pattern).values_list("path", flat=True))
        expected = {path for path in PATHS if fnmatch.fnmatchcase(path, pattern)}
        assert found == expected, (pattern, glob_regex(pattern))


@pytest.mark.parametrize("linear", [False, True])
def test_both_forms_of_a_glob_match_what_fnmatch_matches(linear: bool) -> None:
    # the form for Python's engine (SQLite) and the one for PostgreSQL's, checked here with
    # Python's engine, which understands both
    paths = [*PATHS, "a\nb", "ab/ab/abab", "aaaa", "abc/abc", ""]
    patterns = [*PATTERNS, "a*a*a", "*ab*ab*", "a**b", "**", "*a*", "?*?", *random_patterns(400)]
    for pattern in patterns:
        regex = re.compile(glob_regex(pattern, linear=linear))
        found = {path for path in paths if regex.search(path)}
        expected = {path for path in paths if fnmatch.fnmatchcase(path, pattern)}
        if not linear:  # without DOTALL a newline is not "any character" there
            paths_without_newline = {path for path in paths if "\n" not in path}
            found &= paths_without_newline
            expected &= paths_without_newline
        assert found == expected, (pattern, glob_regex(pattern, linear=linear))


def test_a_glob_made_to_backtrack_is_answered_at_once(tenant, tmp_path) -> None:
    # "*a" many times then "b", against a long run of "a": a backtracking regex tries every
    # way to place the stars (hours); the filter must answer like any other
    project = Project.objects.create(organization=tenant.org, name="slow", repo_url=str(tmp_path))
    make_alert(project, 1, fingerprint="0" * 32, path="a" * 200)
    started = time.monotonic()
    response = tenant.client.get(f"/api/projects/{project.id}/alerts/?path={'*a' * 20}b")
    assert response.status_code == 200 and response.json()["count"] == 0
    assert time.monotonic() - started < 10


def test_the_tool_filter_offers_each_tool_of_the_projects_alerts_once_in_order(
    tenant, listed, tmp_path
) -> None:
    project = Project.objects.get(pk=next(iter(listed.values())).project_id)
    other = Project.objects.create(organization=tenant.org, name="other", repo_url=str(tmp_path))
    make_alert(other, 1, tool="checkov", fingerprint="f" * 32)
    # Read with one probe per tool (a skip scan), it is what DISTINCT would give.
    expected = sorted(set(Alert.objects.filter(project=project).values_list("tool", flat=True)))
    assert expected == ["bandit", "dependencies", "secrets"]
    assert alert_tools(project=project) == expected
    assert alert_tools(project=other) == ["checkov"]
    empty = Project.objects.create(organization=tenant.org, name="empty", repo_url=str(tmp_path))
    assert alert_tools(project=empty) == []
    browser = Client()
    browser.force_login(tenant.user)
    page = browser.get(f"/projects/{project.id}/")
    assert page.status_code == 200
    options = re.findall(r'<option value="([a-z]+)"', page.content.decode())
    assert [tool for tool in options if tool in [*expected, "checkov"]] == expected
