"""Pull request scans compared with their target branch, from a signed webhook to the scan's
page: real git repositories (a main branch and a feature branch adding a vulnerable file),
real scans, real analyzers."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from scanpulse.integrations.parsers import Host
from scanpulse.scans.models import Scan
from tests.alerts.conftest import scan
from tests.integrations.conftest import deliver, payload, rotate
from tests.scans.conftest import wait_for_scan
from tests.support.analyzers import PLUGINS
from tests.support.repos import VULNERABLE_APP, GitRepo

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def flags(settings: Any) -> None:
    """One analyzer, in microseconds: lines starting ``flag high`` are high findings, other
    lines starting ``flag`` medium ones."""
    settings.SCANPULSE_ANALYZER_PATHS = [str(PLUGINS)]
    settings.SCANPULSE_ANALYZERS = ["flagging:FlagAnalyzer"]


CLEAN_APP = 'def greet(name):\n    return f"Hello {name}"\n'


def pull_request_payload(repo: GitRepo, head: str, number: int = 2) -> dict[str, Any]:
    """GitHub's recorded ``pull_request`` payload, for ``repo``'s feature branch into main."""
    body = payload("github-pull_request-opened")
    body["number"] = body["pull_request"]["number"] = number
    body["pull_request"]["head"]["sha"] = head
    body["repository"]["clone_url"] = f"file://{repo.path}"
    return body


def open_alerts(tenant: Any, project_id: str, ref: str) -> list[dict[str, Any]]:
    answer = tenant.client.get(f"/api/projects/{project_id}/alerts/?ref={ref}&state=open")
    assert answer.status_code == 200, answer.content
    return list(answer.json()["results"])


def test_a_pull_request_scan_counts_what_the_pull_request_brings(tenant, tmp_path) -> None:
    # given: main holds a known problem, and has been scanned
    repo = GitRepo(tmp_path / "repo")
    repo.write(
        "app.py",
        CLEAN_APP + "\nimport subprocess\n\n\ndef run(cmd):\n"
        "    return subprocess.call(cmd, shell=True)\n",
    )
    repo.commit("start")
    on_main = scan(tenant, repo)
    project_id = on_main["project"]
    main_alerts = open_alerts(tenant, project_id, "main")
    assert main_alerts, "main's known problem is an alert"
    # ... and a feature branch adds a vulnerable file
    repo.git("checkout", "--quiet", "-b", "feature")
    repo.write("vulnerable.py", VULNERABLE_APP)
    head = repo.commit("add the vulnerable helper")
    repo.git("checkout", "--quiet", "main")
    secret = rotate(tenant)

    # when: GitHub says a pull request from feature into main was opened
    answer = deliver(
        tenant.org.pk,
        Host.GITHUB,
        "pull_request",
        pull_request_payload(repo, head),
        secret=secret,
        delivery="pr-2-opened",
    )

    # then: one scan of the head commit, compared with main, which completes
    assert answer.status_code == 202, answer.content
    (scan_id,) = answer.json()["scans"]
    finished = wait_for_scan(scan_id)
    assert finished.status == "completed", finished.error_message
    shown = tenant.client.get(f"/api/scans/{scan_id}/").json()
    assert (shown["ref"], shown["commit_sha"], shown["base_ref"]) == (
        "refs/pull/2/head",
        head,
        "main",
    )
    assert shown["pull_request"]["number"] == 2
    assert shown["compared_with"] == on_main["id"]
    # ... its new findings are exactly those of the file the pull request adds
    findings = tenant.client.get(f"/api/scans/{scan_id}/findings/?page_size=200").json()["results"]
    introduced = [f for f in findings if f["path"] == "vulnerable.py"]
    new = [f for f in findings if f["status"] == "new"]
    assert introduced and new == [f for f in findings if f in introduced]
    assert shown["new_in_pull_request"] == len(introduced)
    assert all(f["status"] == "unchanged" for f in findings if f["path"] == "app.py")
    n = len(introduced)
    assert shown["summary"]["message"].startswith(
        f"{n} new in this pull request (compared with main)."
    )
    # ... the terminal event (what webhooks and streams send) says so too
    events = tenant.client.get(f"/api/scans/{scan_id}/events?limit=500").json()["events"]
    (terminal,) = [e for e in events if e["kind"] == "completed"]
    assert terminal["data"]["summary"]["new_in_pull_request"] == n
    # ... and the scan's page
    browser = Client()
    assert browser.login(username=tenant.user.username, password="a-long-test-password")
    page = browser.get(f"/scans/{scan_id}/").content.decode()
    assert f"{n} new in this pull request" in page
    assert "Pull request #2" in page and "the GitHub webhook, delivery pr-2-opened" in page
    # ... main's alerts are untouched: the pull request's live under its own ref
    assert open_alerts(tenant, project_id, "main") == main_alerts
    assert {a["path"] for a in open_alerts(tenant, project_id, "refs/pull/2/head")} >= {
        "vulnerable.py"
    }

    # when: GitHub sends the same delivery again, and then a second one for the same head
    again = deliver(
        tenant.org.pk,
        Host.GITHUB,
        "pull_request",
        pull_request_payload(repo, head),
        secret=secret,
        delivery="pr-2-opened",
    )
    other = deliver(
        tenant.org.pk,
        Host.GITHUB,
        "pull_request",
        pull_request_payload(repo, head),
        secret=secret,
        delivery="pr-2-reopened",
    )

    # then: nothing new starts
    assert (again.status_code, other.status_code) == (200, 200)
    assert Scan.objects.filter(ref="refs/pull/2/head").count() == 1


def set_gate(tenant: Any, project_id: str) -> None:
    changed = tenant.client.patch(
        f"/api/projects/{project_id}/",
        {"gate_policy": {"no_new_alerts_at_or_above": "high"}},
        format="json",
    )
    assert changed.status_code == 200, changed.content


def test_the_gate_fails_a_pull_request_only_for_what_it_brings(tenant, flags, tmp_path) -> None:
    # given: main with a high finding, scanned, under a gate refusing new highs
    repo = GitRepo(tmp_path / "repo")
    repo.write("a.py", "flag high one\nflag medium\n")
    repo.commit("start")
    first = scan(tenant, repo)
    set_gate(tenant, first["project"])
    scan(tenant, repo)  # main again: its high is not new any more
    repo.git("checkout", "--quiet", "-b", "feature")
    repo.write("b.py", "flag high two\nflag medium too\n")
    head = repo.commit("feature")
    repo.git("checkout", "--quiet", "main")
    secret = rotate(tenant)

    # when: the pull request's head is scanned through the webhook
    answer = deliver(
        tenant.org.pk,
        Host.GITHUB,
        "pull_request",
        pull_request_payload(repo, head, 5),
        secret=secret,
        delivery="pr-5",
    )
    finished = wait_for_scan(answer.json()["scans"][0])

    # then: it fails for the one high it brings, not for main's
    assert finished.status == "completed", finished.error_message
    gate = finished.gate
    assert gate is not None and gate["reasons"] == ["1 new alert at or above high"]
    (condition,) = [condition for condition in gate["conditions"] if not condition["passed"]]
    (finding_id,) = condition["findings"]
    failing = tenant.client.get(f"/api/scans/{finished.pk}/findings/?severity=high").json()
    by_id = {f["id"]: f for f in failing["results"]}
    assert by_id[finding_id]["path"] == "b.py"
    shown = tenant.client.get(f"/api/scans/{finished.pk}/").json()
    assert shown["new_in_pull_request"] == 2  # b.py's high and medium


def test_a_new_branchs_first_scan_does_not_call_mains_alerts_new(tenant, flags, tmp_path) -> None:
    # given: main with a high finding, scanned, under a gate refusing new highs
    repo = GitRepo(tmp_path / "repo")
    repo.write("a.py", "flag high one\n")
    repo.commit("start")
    first = scan(tenant, repo)
    set_gate(tenant, first["project"])
    repo.git("checkout", "--quiet", "-b", "topic")
    repo.write("c.py", "flag medium\n")
    repo.commit("topic")

    # when: the new branch is scanned for the first time (by a user, without a base)
    on_topic = scan(tenant, repo, ref="topic")

    # then: compared with main, only its own medium is new, and the gate passes
    assert on_topic["gate"]["passed"] is True, on_topic["gate"]
    assert on_topic["compared_with"] == first["id"]
    assert (on_topic["summary"]["new"], on_topic["summary"]["unchanged"]) == (1, 1)
    assert on_topic["summary"]["message"].startswith("1 new compared with main.")
    assert on_topic["new_in_pull_request"] is None  # not a pull request

    # when: the branch gets a high of its own and is scanned again
    repo.write("c.py", "flag medium\nflag high three\n")
    repo.commit("more")
    again = scan(tenant, repo, ref="topic")

    # then: the same ref compares with its own previous scan, as ever, and fails for it
    assert again["compared_with"] == on_topic["id"]
    assert again["gate"]["reasons"] == ["1 new alert at or above high"]
    assert again["summary"]["message"].startswith("1 new, ")


def test_a_scan_given_a_base_through_the_api_is_compared_with_it(tenant, flags, tmp_path) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.write("a.py", "flag high one\n")
    repo.commit("start")
    first = scan(tenant, repo)
    repo.git("checkout", "--quiet", "-b", "work")
    repo.write("a.py", "flag high one\nflag medium\n")
    repo.commit("work")
    scan(tenant, repo, ref="work")  # an earlier scan of the branch itself
    repo.write("a.py", "flag high one\nflag medium\nflag medium again\n")
    repo.commit("more work")

    created = tenant.client.post(
        "/api/scans/",
        {"project": first["project"], "ref": "work", "base_ref": "main"},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["base_ref"] == "main"
    finished = wait_for_scan(created.json()["id"])
    shown = tenant.client.get(f"/api/scans/{finished.pk}/").json()

    # compared with main, not with the branch's previous scan: both mediums are new
    assert shown["compared_with"] == first["id"]
    assert shown["new_in_pull_request"] == 2
    refused = tenant.client.post(
        "/api/scans/", {"project": first["project"], "base_ref": "-x"}, format="json"
    )
    assert refused.status_code == 400
