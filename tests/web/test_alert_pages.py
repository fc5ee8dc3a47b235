"""The alert pages as the server renders them: the project's list (filters, grouping, pages,
exports), an alert's page, its triage forms, and who may see and do what."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from scanpulse.alerts.models import Alert, Dismissal, TriageAction
from scanpulse.projects.models import Project
from scanpulse.tenancy.services import user_create
from tests.alerts.conftest import flags  # noqa: F401 (a fixture)
from tests.alerts.test_list import listed  # noqa: F401 (a fixture: the alerts of ALERTS there)
from tests.alerts.test_triage import make_alert
from tests.scans.conftest import advisories  # noqa: F401 (a fixture)


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def rows(html: str) -> list[str]:
    """The alerts listed, as "rule@path" in the order shown."""
    found = re.findall(
        r'<tr role="row" data-alert-id="[^"]+" data-state="(\w+)">.*?<code>([^<]+)</code></td>'
        r'.*?<span class="file-line">([^<:]+)',
        html,
        re.DOTALL,
    )
    return [f"{rule}@{name}:{state}" for state, rule, name in found]


@pytest.fixture
def project(listed) -> Project:  # noqa: F811
    return next(iter(listed.values())).project


def page(client: Client, project: Project, query: str = "") -> str:
    response = client.get(f"/projects/{project.id}/{query}")
    assert response.status_code == 200
    return response.content.decode()


def test_the_project_page_lists_open_alerts_most_severe_first(tenant, project) -> None:
    shown = rows(page(signed_in(tenant.user), project))
    # open ones only (B105 is fixed, B101 in tests/test_app.py dismissed), critical first
    assert shown == [
        "aws-access-key@settings.py:open",
        "B602@run.py:open",
        "B602@run.py:open",
        "PYSEC-2021-7@requirements.txt:open",
        "B101@test_x.py:open",
        "SP-DEP-UNPINNED@requirements.txt:open",
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?severity=high", ["aws-access-key", "B602", "B602", "PYSEC-2021-7"]),
        ("?tool=dependencies", ["PYSEC-2021-7", "SP-DEP-UNPINNED"]),
        ("?rule=B602", ["B602", "B602"]),
        ("?path=tests/*", ["B101"]),
        ("?q=SETTINGS", ["aws-access-key"]),
        ("?state=dismissed", ["B101"]),
        ("?state=fixed", ["B105"]),
        ("?state=all&path=app/settings.py", ["aws-access-key", "B105"]),
        ("?severity=bogus&rule=B602", ["B602", "B602"]),  # an invalid filter is ignored
    ],
)
def test_filters_narrow_the_list(tenant, project, query: str, expected: list[str]) -> None:
    shown = rows(page(signed_in(tenant.user), project, query))
    assert [row.split("@")[0] for row in shown] == expected


def test_grouped_by_rule_counts_each_rule_once(tenant, project) -> None:
    html = page(signed_in(tenant.user), project, "?group=rule&state=all")
    groups = re.findall(
        r'rule=([^"#&]+)#alerts"><code>[^<]+</code></a></td>\s*<td[^>]*>(\d+)', html
    )
    assert groups[0] == ("aws-access-key", "1")
    assert dict(groups) == {
        "aws-access-key": "1",
        "B602": "2",
        "PYSEC-2021-7": "1",
        "B105": "1",
        "B101": "2",
        "SP-DEP-UNPINNED": "1",
    }


def test_pages_of_fifty(tenant, project) -> None:
    for line in range(60):
        make_alert(project, line + 100, fingerprint=f"f{line:031d}", severity="info")
    client = signed_in(tenant.user)
    first, second = (
        page(client, project, "?severity=info"),
        page(client, project, "?severity=info&page=2"),
    )
    assert "Page 1 of 2" in first and "severity=info&amp;page=2#alerts" in first
    # a minimum: info lists all 6 open alerts of the fixture and the 60 new ones
    assert len(rows(first)) == 50 and len(rows(second)) == 16


def test_dismissing_from_the_alert_page_moves_it_to_dismissed(tenant, project, listed) -> None:  # noqa: F811
    client = signed_in(tenant.user)
    alert = listed["B602@app/run.py:main"]
    html = client.get(f"/projects/{project.id}/alerts/{alert.id}/").content.decode()
    assert "B602 in app/run.py" in html and "run.py:8</span>" in html
    assert "No triage yet." in html

    response = client.post(
        f"/projects/{project.id}/alerts/{alert.id}/dismiss",
        {"reason": "false_positive", "comment": "input is a constant"},
    )
    assert response.status_code == 302
    assert response["Location"] == f"/projects/{project.id}/alerts/{alert.id}/"
    html = client.get(response["Location"]).content.decode()
    assert 'data-state="dismissed"' in html
    assert "False positive" in html and "input is a constant" in html
    assert tenant.user.email in html  # the history says who

    open_rows = rows(page(client, project))
    dismissed_rows = rows(page(client, project, "?state=dismissed"))
    # the alert of "dev" has another fingerprint in the fixture: it stays open
    assert open_rows.count("B602@run.py:open") == 1
    assert dismissed_rows.count("B602@run.py:dismissed") == 1

    response = client.post(f"/projects/{project.id}/alerts/{alert.id}/reopen", {"comment": ""})
    assert response.status_code == 302
    assert "B602@run.py:open" in rows(page(client, project))
    actions = list(TriageAction.objects.values_list("action", flat=True))
    assert actions == ["reopened", "dismissed"]


def test_an_accepted_risk_without_expiry_is_refused_with_the_apis_message(
    tenant,
    project,
    listed,  # noqa: F811
) -> None:
    alert = listed["B602@app/run.py:main"]
    response = signed_in(tenant.user).post(
        f"/projects/{project.id}/alerts/{alert.id}/dismiss", {"reason": "accepted_risk"}
    )
    assert response.status_code == 400
    assert "An accepted risk needs an expiry" in response.content.decode()
    assert not Dismissal.objects.filter(fingerprint=alert.fingerprint).exists()

    later = (timezone.now() + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")
    response = signed_in(tenant.user).post(
        f"/projects/{project.id}/alerts/{alert.id}/dismiss",
        {"reason": "accepted_risk", "expires_at": later},
    )
    assert response.status_code == 302
    assert Dismissal.objects.get(fingerprint=alert.fingerprint).expires_at is not None


def test_bulk_triage_is_all_or_none(tenant, other_tenant, project, listed) -> None:  # noqa: F811
    client = signed_in(tenant.user)
    ids = [
        str(listed["B602@app/run.py:main"].id),
        str(listed["PYSEC-2021-7@requirements.txt:main"].id),
    ]
    foreign_project = Project.objects.create(organization=other_tenant.org, name="x", repo_url="/x")
    foreign = make_alert(foreign_project, 1)
    back = f"/projects/{project.id}/?severity=high"

    refused = client.post(
        f"/projects/{project.id}/alerts/triage",
        {
            "alerts": [*ids, str(foreign.id)],
            "action": "dismiss",
            "reason": "wont_fix",
            "next": back,
        },
    )
    assert refused.status_code == 302 and refused["Location"] == back
    html = client.get(back).content.decode()
    assert "Nothing was changed" in html and str(foreign.id) in html
    assert not Dismissal.objects.exists() or Dismissal.objects.count() == 1  # the fixture's

    done = client.post(
        f"/projects/{project.id}/alerts/triage",
        {"alerts": ids, "action": "dismiss", "reason": "wont_fix", "next": "https://evil.example/"},
    )
    assert done.status_code == 302 and done["Location"] == f"/projects/{project.id}/"
    assert "2 alerts dismissed." in client.get(done["Location"]).content.decode()
    assert Dismissal.objects.filter(reason="wont_fix").count() == 2

    empty = client.post(f"/projects/{project.id}/alerts/triage", {"action": "reopen"})
    assert "Choose at least one alert." in client.get(empty["Location"]).content.decode()


def test_bulk_reopen_counts_only_the_alerts_it_reopened(tenant, project, listed) -> None:  # noqa: F811
    # given: one dismissed alert (the fixture's B101 in tests) and two open ones, all checked
    client = signed_in(tenant.user)
    dismissed = listed["B101@tests/test_app.py:main"]
    assert Dismissal.objects.filter(fingerprint=dismissed.fingerprint).exists()
    ids = [
        str(dismissed.id),
        str(listed["B602@app/run.py:main"].id),
        str(listed["PYSEC-2021-7@requirements.txt:main"].id),
    ]

    # when
    done = client.post(f"/projects/{project.id}/alerts/triage", {"alerts": ids, "action": "reopen"})

    # then: one reopened, the two others named as not dismissed; one history entry
    html = client.get(done["Location"]).content.decode()
    assert "1 alert reopened. 2 were not dismissed: nothing to reopen." in html
    assert "3 alerts reopened" not in html
    assert not Dismissal.objects.filter(fingerprint=dismissed.fingerprint).exists()
    assert TriageAction.objects.filter(action="reopened").count() == 1


def test_a_viewer_reads_but_every_triage_form_is_a_403_page(tenant, project, listed) -> None:  # noqa: F811
    viewer = user_create(email="viewer@acme.example", organization=tenant.org, role="viewer")
    client = signed_in(viewer)
    alert = listed["B602@app/run.py:main"]
    html = client.get(f"/projects/{project.id}/alerts/{alert.id}/").content.decode()
    assert "may read alerts but not triage them" in html and "/dismiss" not in html
    assert 'name="alerts"' not in page(client, project)
    for path, data in [
        (f"alerts/{alert.id}/dismiss", {"reason": "wont_fix"}),
        (f"alerts/{alert.id}/reopen", {}),
        ("alerts/triage", {"alerts": [str(alert.id)], "action": "dismiss", "reason": "wont_fix"}),
        ("alerts/triage", {"action": "nonsense"}),  # refused before its input is looked at
    ]:
        response = client.post(f"/projects/{project.id}/{path}", data)
        assert response.status_code == 403, path
        assert "Viewers cannot triage alerts" in response.content.decode()
        assert response["Content-Type"].startswith("text/html")
    assert Dismissal.objects.count() == 1 and not TriageAction.objects.exists()


def test_another_organizations_pages_and_exports_are_not_found(
    other_tenant,
    project,
    listed,  # noqa: F811
) -> None:
    client = signed_in(other_tenant.user)
    alert = listed["B602@app/run.py:main"]
    base = f"/projects/{project.id}"
    for path in [
        f"{base}/",
        f"{base}/alerts/{alert.id}/",
        f"{base}/alerts/export?format=csv",
        f"{base}/alerts/export?format=json",
    ]:
        response = client.get(path)
        assert response.status_code == 404, path
        assert alert.message not in response.content.decode()
    for path in [f"{base}/alerts/{alert.id}/dismiss", f"{base}/alerts/triage"]:
        response = client.post(path, {"reason": "wont_fix", "alerts": [str(alert.id)]})
        assert response.status_code == 404, path
    assert Dismissal.objects.count() == 1


def test_an_alert_of_another_project_is_not_found_under_this_one(tenant, project, listed) -> None:  # noqa: F811
    other = Project.objects.create(organization=tenant.org, name="other", repo_url="/o")
    alert = listed["B602@app/run.py:main"]
    assert signed_in(tenant.user).get(f"/projects/{other.id}/alerts/{alert.id}/").status_code == 404


def test_forms_need_the_csrf_token(tenant, project, listed) -> None:  # noqa: F811
    client = Client(enforce_csrf_checks=True)
    client.force_login(tenant.user)
    alert = listed["B602@app/run.py:main"]
    response = client.post(
        f"/projects/{project.id}/alerts/{alert.id}/dismiss", {"reason": "wont_fix"}
    )
    assert response.status_code == 403
    assert Dismissal.objects.count() == 1


def export(client: Client, project: Project, query: str) -> Any:
    response = client.get(f"/projects/{project.id}/alerts/export?{query}")
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode()


def test_csv_export_is_the_filtered_list_with_states_and_no_formula(
    tenant,
    project,
    listed,  # noqa: F811
) -> None:
    hostile = make_alert(
        project,
        40,
        fingerprint="e" * 32,
        severity="high",
        rule_id='=HYPERLINK("http://evil")',
        path="+cmd.py",
        message="-2+3 @SUM(A1)",
    )
    Dismissal.objects.create(
        project=project,
        fingerprint=hostile.fingerprint,
        reason="wont_fix",
        comment="=1+1",
        dismissed_at=timezone.now(),
    )
    text = export(signed_in(tenant.user), project, "state=all&severity=high&format=csv")
    table = list(csv.DictReader(io.StringIO(text)))
    by_rule = {row["rule_id"]: row for row in table}
    assert set(by_rule) == {"aws-access-key", "B602", "PYSEC-2021-7", '\'=HYPERLINK("http://evil")'}
    row = by_rule['\'=HYPERLINK("http://evil")']
    assert row["path"] == "'+cmd.py" and row["message"] == "'-2+3 @SUM(A1)"
    assert row["state"] == "dismissed" and row["dismissed_reason"] == "wont_fix"
    assert row["dismissed_comment"] == "'=1+1"
    assert by_rule["B602"]["state"] == "open" and by_rule["B602"]["dismissed_reason"] == ""
    for row in table:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@")), value
    dismissed = export(signed_in(tenant.user), project, "state=dismissed&format=csv")
    assert [row["rule_id"] for row in csv.DictReader(io.StringIO(dismissed))] == [
        '\'=HYPERLINK("http://evil")',
        "B101",
    ]


def test_json_export_is_the_filtered_list_as_the_api_shows_it(tenant, project) -> None:
    client = signed_in(tenant.user)
    body = json.loads(export(client, project, "tool=bandit&state=all&format=json"))
    api = tenant.client.get(f"/api/projects/{project.id}/alerts/?tool=bandit").json()
    assert body["alerts"] == api["results"]
    assert [alert["rule_id"] for alert in body["alerts"]] == [
        "B602",
        "B602",
        "B105",
        "B101",
        "B101",
    ]
    assert {alert["state"] for alert in body["alerts"]} == {"open", "fixed", "dismissed"}


def test_the_export_links_carry_the_filters(tenant, project) -> None:
    html = page(signed_in(tenant.user), project, "?severity=high&page=1&group=rule")
    assert f"/projects/{project.id}/alerts/export?severity=high&amp;format=csv" in html


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("advisories")
def test_an_alert_page_of_a_real_scan_tells_everything_about_it(tenant, tmp_path) -> None:
    from scanpulse.scans.models import Scan
    from tests.scans.conftest import start_scan, wait_for_scan
    from tests.support.repos import vulnerable_repo

    repo = vulnerable_repo(tmp_path / "repo")
    first = wait_for_scan(start_scan(tenant, repo.path)["id"])
    second = wait_for_scan(start_scan(tenant, repo.path)["id"])
    client = signed_in(tenant.user)
    project = first.project

    # the code, its secrets masked, the flagged line marked; the rule and its documentation
    b404 = Alert.objects.get(project=project, rule_id="B404")
    html = client.get(f"/projects/{project.id}/alerts/{b404.id}/").content.decode()
    assert '<li value="1" class="flagged"><code>import subprocess</code></li>' in html
    assert "AWS_KEY = &quot;A********E&quot;" in html and "hunter2" not in html
    assert 'href="https://bandit.readthedocs.io/' in html
    # the scans it appeared in, newest first
    seen = html[html.index('id="seen-title"') :]
    assert seen.index(str(second.id)[:8]) < seen.index(str(first.id)[:8])
    assert seen.count('<td><a href="/scans/') == 2

    # a dependency: its package, the upgrade that fixes it and every advisory it lists
    (django,) = [
        alert
        for alert in Alert.objects.filter(project=project, rule_id="SP-DEP-VULNERABLE")
        if alert.message.startswith("upgrade django ")
    ]
    html = client.get(f"/projects/{project.id}/alerts/{django.id}/").content.decode()
    assert "<code>django</code> <code>3.2.0</code>" in html
    assert "<dt>Upgrade</dt><dd>to <code>3.2.25</code>, which fixes every advisory listed" in html
    assert "<caption>25 advisories</caption>" in html
    assert html.count('<td><a href="https://') == 25
    assert "<dt>Fixed in</dt>" not in html  # per advisory, in the table

    # the scan page links each finding to its alert, with its state
    html = client.get(f"/scans/{second.id}/?rule=B404").content.decode()
    assert f"/projects/{project.id}/alerts/{b404.id}/" in html
    assert Scan.objects.count() == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("flags")
def test_the_project_page_charts_open_alerts_and_new_and_fixed_per_scan(tenant, tmp_path) -> None:
    from tests.alerts.conftest import scan
    from tests.support.repos import GitRepo

    repo = GitRepo(tmp_path / "repo")
    repo.write("a.py", "flag one\nflag two\n")
    repo.commit("two")
    first = scan(tenant, repo)
    repo.write("a.py", "flag one\nflag two\nflag three\n")
    repo.commit("three")
    second = scan(tenant, repo)
    repo.write("a.py", "flag three\n")
    repo.commit("one")
    third = scan(tenant, repo)
    project = Project.objects.get()

    html = page(signed_in(tenant.user), project)
    chart = html[html.index('<section class="panel trend"') :]
    chart = chart[: chart.index("</section>")]
    # a bar per scan, oldest first, as tall as its open alerts (the tallest: 120)
    bars = re.findall(
        r'<rect class="trend-medium" x="(\d+)" y="([\d.]+)" width="18" height="([\d.]+)"', chart
    )
    assert bars == [("0", "40.0", "80.0"), ("24", "0.0", "120.0"), ("48", "80.0", "40.0")]
    assert "Open alerts over the last 3 completed scans of main: 2 then, 1 now." in chart
    # the same figures as a table, newest first: critical … info, open, new, fixed
    table = {
        scan_id: [int(n) for n in re.findall(r'<td class="num">(?:<strong>)?(\d+)', row)]
        for scan_id, row in re.findall(r'<tr data-scan-id="([^"]+)">(.*?)</tr>', chart, re.DOTALL)
    }
    assert list(table) == [third["id"], second["id"], first["id"]]
    assert table[first["id"]] == [0, 0, 2, 0, 0, 2, 2, 0]
    assert table[second["id"]] == [0, 0, 3, 0, 0, 3, 1, 0]
    assert table[third["id"]] == [0, 0, 1, 0, 0, 1, 0, 2]


def test_no_chart_before_a_scan_completes(tenant, project) -> None:
    assert "Open alerts over time" not in page(signed_in(tenant.user), project)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("flags")
def test_the_scan_page_filters_groups_and_exports_its_findings_with_their_alert_state(
    tenant, other_tenant, tmp_path
) -> None:
    from tests.alerts.conftest import scan
    from tests.support.repos import GitRepo

    repo = GitRepo(tmp_path / "repo")
    repo.write("src/a.py", "flag one\nflag again\nhere\n")
    repo.write("tests/b.py", "flag two\n")
    repo.commit("start")
    scanned = scan(tenant, repo)
    project = Project.objects.get()
    dismissed = Alert.objects.get(path="tests/b.py")
    client = signed_in(tenant.user)
    client.post(
        f"/projects/{project.id}/alerts/{dismissed.id}/dismiss", {"reason": "used_in_tests"}
    )
    base = f"/scans/{scanned['id']}/"

    def locations(query: str) -> list[str]:
        html = client.get(base + query).content.decode()
        return re.findall(r'<span class="file-line">([^<]+)</span>', html)

    assert locations("") == ["a.py:1", "a.py:2", "a.py:3", "b.py:1"]
    assert locations("?path=tests/*") == ["b.py:1"]
    assert locations("?rule=FLAG002") == ["a.py:3"]
    assert locations("?q=ON LINE") == ["a.py:3"]  # text in the message, any case
    assert locations("?severity=high") == []  # a minimum: the flags are medium
    # the state is the one the scan ended with: dismissed after it, the finding is still open
    assert locations("?state=dismissed") == []
    html = client.get(base + "?path=tests/*").content.decode()
    assert 'data-state="dismissed">Dismissed</span>' in html  # but its alert shows it now

    # the scan's filters and the project's alert filters are one form: the same fields (the
    # scan adds the change since the previous scan), the same clearing link to their list
    def filters(url: str) -> tuple[list[str], list[str]]:
        html = client.get(url).content.decode()
        (form,) = re.findall(r'<form class="filters" method="get".*?</form>', html, re.DOTALL)
        names = re.findall(r'<(?:select|input)[^>]*name="(\w+)"', form)
        clear = re.findall(r'class="button button-quiet" href="([^"]+)">Clear filters', form)
        return names, clear

    scan_fields, scan_clear = filters(base + "?rule=FLAG001")
    alert_fields, alert_clear = filters(f"/projects/{project.id}/?rule=FLAG001")
    assert [name for name in scan_fields if name != "status"] == alert_fields
    assert (scan_clear, alert_clear) == (
        [base + "#scan-results"],
        [f"/projects/{project.id}/#alerts"],
    )
    grouped = client.get(base + "?group=rule").content.decode()
    assert re.findall(
        r"rule=(\w+)#scan-results\"><code>\w+</code></a></td>\s*<td[^>]*>(\d+)", grouped
    ) == [
        ("FLAG001", "3"),
        ("FLAG002", "1"),
    ]

    response = client.get(f"/scans/{scanned['id']}/findings/export?path=src/*&format=csv")
    table = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["start_line"] for row in table] == ["1", "2", "3"]
    assert table[1]["message"] == "a flagged line" and table[1]["alert_state"] == "open"
    response = client.get(f"/scans/{scanned['id']}/findings/export?path=tests/*&format=json")
    body = json.loads(b"".join(response.streaming_content))
    assert [(f["path"], f["alert_state"]) for f in body["findings"]] == [
        ("tests/b.py", "dismissed")
    ]
    assert (
        signed_in(other_tenant.user)
        .get(f"/scans/{scanned['id']}/findings/export?format=csv")
        .status_code
        == 404
    )


def test_a_reopen_comment_too_long_is_refused_in_words(tenant, project, listed) -> None:  # noqa: F811
    alert = listed["B101@tests/test_app.py:main"]  # dismissed in the fixture
    client = signed_in(tenant.user)
    response = client.post(
        f"/projects/{project.id}/alerts/{alert.id}/reopen", {"comment": "x" * 2001}, follow=True
    )
    html = response.content.decode()
    assert "Ensure this field has no more than 2000 characters." in html
    assert "errorlist" not in html.split('<ul class="messages">')[1].split("</ul>")[0]
    assert Dismissal.objects.filter(fingerprint=alert.fingerprint).exists()
