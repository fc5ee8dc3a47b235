"""Who may keep streaming: real server processes, and what their viewers see when access ends.

Access can end in many ways - a token revoked with the command, in the admin or by SQL, a
member removed or given another role, a session that expires, the scan or project deleted -
and through any process. Whatever the way, every serving process closes the streams it
concerns within 5 s and refuses new ones. The stream limit holds across a Redis restart.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.sessions.models import Session
from django.db import close_old_connections, connection
from django.utils import timezone

from scanpulse.projects.models import Project
from scanpulse.scans.log import append_event
from scanpulse.scans.models import Scan
from scanpulse.tenancy.models import ApiToken, Membership
from tests.events.test_streams import log, stream
from tests.support.sse import ParsedEvent, StreamReader

pytestmark = pytest.mark.services

SCANPULSE = str(Path(sys.executable).with_name("scanpulse"))
PROMISE = 5.0  # seconds within which every process acts on a change of access


def closes_within(reader: StreamReader, seconds: float = PROMISE) -> list[ParsedEvent]:
    """The events a stream still sends until the server closes it; fails if it stays open."""
    started = time.monotonic()
    try:
        events = reader.read_to_end()
    except httpx.ReadTimeout:
        pytest.fail(f"the stream was still open {time.monotonic() - started:.1f} s later")
    elapsed = time.monotonic() - started
    assert reader.ended
    assert elapsed < seconds, f"the stream closed only after {elapsed:.1f} s"
    return events


def opened(reader: StreamReader) -> StreamReader:
    assert reader.response.status_code == 200, reader.response.read()
    assert reader._pump()  # ": connected"
    return reader


def status_of(server, path: str, **headers: str) -> int:
    with (
        httpx.Client(timeout=httpx.Timeout(5, connect=5)) as client,
        client.stream("GET", server.url + path, headers=headers) as response,
    ):
        return response.status_code


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def streams_of(tenant, scan) -> tuple[str, str]:
    return f"/api/scans/{scan.id}/progress", f"/api/stream?organization={tenant.org.id}"


def usable_password(user) -> str:
    """The servers verify passwords with the production hashers, not the tests' fast one."""
    hasher = PBKDF2PasswordHasher()
    user.password = hasher.encode("a-long-test-password", hasher.salt())
    user.save()
    return "a-long-test-password"


def sign_in(client: httpx.Client, path: str, username: str, password: str) -> None:
    form = client.get(path).text
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    response = client.post(
        path,
        data={"username": username, "password": password, "csrfmiddlewaretoken": csrf},
        headers={"Referer": str(client.base_url) + path},
    )
    assert response.status_code == 302, response.text


class Writer:
    """Appends an event to a scan every 0.1 s in the background, as a running scan does,
    for at most ``seconds``."""

    def __init__(self, scan: Scan, seconds: float = PROMISE + 2) -> None:
        self.scan = scan
        self.seconds = seconds
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        try:
            index = 0
            deadline = time.monotonic() + self.seconds
            while not self.stop.wait(0.1) and time.monotonic() < deadline:
                append_event(scan_id=self.scan.id, kind="log", data={"message": f"new {index}"})
                index += 1
        finally:
            close_old_connections()

    def __enter__(self) -> Writer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


# -- revocation, whatever revoked it -------------------------------------------------------------


def quiet_scan(tenant, tmp_path: Path) -> Scan:
    """A running scan that nobody runs: the embedded server resumes what exists when it starts,
    so create this after it."""
    project = Project.objects.create(organization=tenant.org, name="q", repo_url=str(tmp_path))
    return Scan.objects.create(
        project=project,
        organization=tenant.org,
        ref="main",
        status="running",
        heartbeat_at=timezone.now(),
    )


def test_a_token_revoked_with_the_command_ends_the_embedded_servers_streams(
    servers, tenant, tmp_path
) -> None:
    server = servers()  # embedded: the command's in-memory bus reaches no server
    scan = quiet_scan(tenant, tmp_path)
    scan_path, org_path = streams_of(tenant, scan)
    with (
        stream(server, scan_path, tenant.token, last_event_id=0, timeout=PROMISE + 3) as one,
        stream(server, org_path, tenant.token, timeout=PROMISE + 3) as two,
    ):
        opened(one), opened(two)
        revoked = subprocess.run(
            [SCANPULSE, "token", "revoke", str(tenant.api_token.id)],
            env=server.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert revoked.returncode == 0, revoked.stderr
        assert closes_within(one) == []
        assert [event.type for event in closes_within(two)] == ["snapshot"]
    for path in (scan_path, org_path):
        assert status_of(server, path, **bearer(tenant.token)) == 401


def test_a_token_revoked_in_the_admin_ends_its_streams_on_every_process(
    pair, tenant, other_tenant, scan
) -> None:
    admin = other_tenant.user
    admin.is_staff = admin.is_superuser = True
    password = usable_password(admin)
    scan_path, _ = streams_of(tenant, scan)
    with (
        stream(pair[0], scan_path, tenant.token, last_event_id=0, timeout=PROMISE + 3) as here,
        stream(pair[1], scan_path, tenant.token, last_event_id=0, timeout=PROMISE + 3) as there,
        httpx.Client(base_url=pair[0].url, timeout=30) as browser,
    ):
        opened(here), opened(there)
        sign_in(browser, "/admin/login/", admin.username, password)
        change = f"/admin/tenancy/apitoken/{tenant.api_token.id}/change/"
        csrf = re.search(
            r'name="csrfmiddlewaretoken" value="([^"]+)"', browser.get(change).text
        ).group(1)
        now = timezone.localtime()
        saved = browser.post(
            change,
            data={
                "csrfmiddlewaretoken": csrf,
                "user": str(tenant.user.pk),
                "name": "tests",
                "revoked_at_0": now.strftime("%Y-%m-%d"),
                "revoked_at_1": now.strftime("%H:%M:%S"),
                "_save": "Save",
            },
            headers={"Referer": pair[0].url + change},
        )
        assert saved.status_code == 302, saved.text
        assert ApiToken.objects.get(pk=tenant.api_token.pk).revoked_at is not None
        closes_within(here), closes_within(there)
    for server in pair:
        assert status_of(server, scan_path, **bearer(tenant.token)) == 401


def _revoke_token(tenant) -> None:
    ApiToken.objects.filter(pk=tenant.api_token.pk).update(revoked_at=timezone.now())


def _deactivate_user(tenant) -> None:
    type(tenant.user).objects.filter(pk=tenant.user.pk).update(is_active=False)


def _delete_membership(tenant) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {Membership._meta.db_table} WHERE user_id = %s",  # noqa: S608
            [tenant.user.pk],
        )


def _change_role(tenant) -> None:
    Membership.objects.filter(user=tenant.user).update(role="member")


@pytest.mark.parametrize(
    ("change", "then"),
    [
        (_revoke_token, 401),
        (_deactivate_user, 401),
        (_delete_membership, 404),
        (_change_role, 200),  # still a member: the streams close, and reconnect as a member
    ],
    ids=["token revoked", "user deactivated", "membership deleted", "role changed"],
)
def test_access_changed_directly_in_the_database_ends_streams_within_5_s(
    pair, tenant, scan, change, then
) -> None:
    # SQL and QuerySet.update() broadcast nothing: every process must notice by itself.
    scan_path, org_path = streams_of(tenant, scan)
    with (
        stream(pair[0], scan_path, tenant.token, last_event_id=0, timeout=PROMISE + 3) as one,
        stream(pair[1], org_path, tenant.token, timeout=PROMISE + 3) as two,
    ):
        opened(one), opened(two)
        change(tenant)
        closes_within(one), closes_within(two)
    for server in pair:
        for path in (scan_path, org_path):
            assert status_of(server, path, **bearer(tenant.token)) == then


# -- memberships and roles --------------------------------------------------------------------------


def test_a_removed_member_stops_receiving_at_once(pair, tenant, scan) -> None:
    scan_path, org_path = streams_of(tenant, scan)
    newer = Scan.objects.create(
        project=scan.project, organization=tenant.org, ref="next", status="running"
    )
    with (
        stream(pair[0], org_path, tenant.token, timeout=PROMISE + 3) as dashboard,
        stream(pair[1], scan_path, tenant.token, last_event_id=0, timeout=PROMISE + 3) as one,
    ):
        opened(dashboard), opened(one)
        assert dashboard.next_event().type == "snapshot"
        Membership.objects.get(user=tenant.user, organization=tenant.org).delete()
        removed_at = time.monotonic()
        with Writer(newer):  # a new scan keeps publishing: none of it may reach them
            closes_within(dashboard, PROMISE - (time.monotonic() - removed_at))
            closes_within(one, PROMISE - (time.monotonic() - removed_at))
    for server in pair:
        assert status_of(server, org_path, **bearer(tenant.token)) == 404
        assert status_of(server, scan_path, **bearer(tenant.token)) == 404


def test_a_role_change_closes_the_streams_it_concerns(pair, tenant, other_tenant, scan) -> None:
    _, org_path = streams_of(tenant, scan)
    membership = Membership.objects.get(user=tenant.user, organization=tenant.org)
    other_scan = Scan.objects.create(
        project=Project.objects.create(
            organization=other_tenant.org, name="q", repo_url="https://example.com/q.git"
        ),
        organization=other_tenant.org,
        ref="main",
        status="running",
    )
    # The same person, also a member of another organization, watching both.
    Membership.objects.create(user=tenant.user, organization=other_tenant.org, role="member")
    with (
        stream(pair[0], org_path, tenant.token, timeout=PROMISE + 3) as concerned,
        stream(pair[1], f"/api/scans/{other_scan.id}/progress", tenant.token, 0, 8) as other,
    ):
        opened(concerned), opened(other)
        membership.role = "member"
        membership.save()
        closes_within(concerned)
        append_event(scan_id=other_scan.id, kind="log", data={"message": "still here"})
        kept = other.next_event()
        assert kept is not None, "the stream of the other organization was closed too"
        assert json.loads(kept.data)["data"]["message"] == "still here"
    with stream(pair[1], org_path, tenant.token, timeout=5) as again:
        assert opened(again).next_event().type == "snapshot"


# -- sessions ---------------------------------------------------------------------------------------


def test_a_sessions_stream_ends_when_the_session_expires(servers, tenant, tmp_path) -> None:
    server = servers()
    scan = quiet_scan(tenant, tmp_path)
    password = usable_password(tenant.user)
    scan_path, _ = streams_of(tenant, scan)
    with httpx.Client(base_url=server.url, timeout=30) as browser:
        sign_in(browser, "/login/", tenant.user.username, password)
        expires = timezone.now() + timedelta(seconds=3)
        Session.objects.filter(session_key=browser.cookies["sessionid"]).update(expire_date=expires)
        with (
            httpx.Client(base_url=server.url, cookies=browser.cookies, timeout=8) as tab,
            tab.stream("GET", scan_path + "?last_event_id=0") as response,
        ):
            reader = opened(StreamReader(response))
            with contextlib.suppress(httpx.ReadTimeout):
                reader.read_to_end()
            ended = timezone.now()
        assert reader.ended, "the stream outlived the session"
        assert abs((ended - expires).total_seconds()) < 1.5, ended - expires
        assert browser.get(scan_path).status_code == 401


# -- deleting what viewers watch --------------------------------------------------------------------


def test_deleting_a_scan_ends_its_streams_and_forgets_it(pair, tenant, scan) -> None:
    scan_path, org_path = streams_of(tenant, scan)
    other = Scan.objects.create(
        project=scan.project, organization=tenant.org, ref="dev", status="running"
    )
    with (
        stream(pair[0], org_path, tenant.token, timeout=PROMISE + 3) as dashboard,
        stream(pair[1], scan_path, tenant.token, last_event_id=0, timeout=PROMISE + 3) as viewer,
    ):
        start = int(opened(dashboard).next_event().last_event_id)
        opened(viewer)
        log(scan, 5)
        seen = viewer.events_until(lambda e: e.last_event_id == "5")
        assert [e.last_event_id for e in seen] == ["1", "2", "3", "4", "5"]
        assert len(dashboard.events_until(lambda e: e.last_event_id == str(start + 5))) == 5
        Scan.objects.filter(pk=scan.pk).delete()
        last = closes_within(viewer)
        notice = dashboard.next_event()
    assert [event.type for event in last] == ["deleted"]
    assert json.loads(last[0].data) == {
        "scan": str(scan.id),
        "kind": "deleted",
        "data": {"message": "This scan was deleted."},
    }
    assert last[0].last_event_id == "5", "it carries no id of its own"
    assert notice.type == "deleted" and json.loads(notice.data)["scan"] == str(scan.id)

    # Nothing of it is replayed, from any process's memory.
    for server in pair:
        assert status_of(server, scan_path, **bearer(tenant.token), **{"Last-Event-ID": "2"}) == 404
    append_event(scan_id=other.id, kind="log", data={"message": "after"})
    with stream(pair[0], org_path, tenant.token, last_event_id=start) as resumed:
        first = resumed.next_event()
    assert json.loads(first.data)["scan"] == str(other.id)


def test_deleting_a_project_through_the_api_ends_its_scans_streams(pair, tenant, scan) -> None:
    scan_path, _ = streams_of(tenant, scan)
    log(scan, 2)
    with stream(pair[1], scan_path, tenant.token, timeout=PROMISE + 3) as viewer:
        assert len(opened(viewer).events_until(lambda e: e.last_event_id == "2")) == 2
        deleted = httpx.delete(
            f"{pair[0].url}/api/projects/{scan.project_id}/", headers=bearer(tenant.token)
        )
        assert deleted.status_code == 204, deleted.text
        assert [event.type for event in closes_within(viewer)] == ["deleted"]
    assert status_of(pair[1], scan_path, **bearer(tenant.token), **{"Last-Event-ID": "1"}) == 404


# -- the stream limit across a Redis restart --------------------------------------------------------


def test_the_stream_limit_holds_after_a_redis_restart(servers, redis_bus, tenant, scan) -> None:
    lease = 6.0
    env = {
        "REDIS_URL": redis_bus.url,
        "SCANPULSE_STREAMS_PER_ORG": "8",
        "SCANPULSE_STREAM_LEASE_SECONDS": str(lease),
    }
    first, second = servers(**env), servers(**env)
    scan_path, _ = streams_of(tenant, scan)
    with contextlib.ExitStack() as held:
        # Readers are kept: a collected reader closes its connection.
        readers = [
            opened(held.enter_context(stream(server, scan_path, tenant.token, last_event_id=0)))
            for server in (first, second) * 4
        ]
        assert status_of(first, scan_path, **bearer(tenant.token)) == 429

        redis_bus.restart()  # an empty Redis: every lease is gone
        answers: list[int] = []
        deadline = time.monotonic() + 2 * lease
        while time.monotonic() < deadline:
            for server in (first, second):
                answers.append(status_of(server, scan_path, **bearer(tenant.token)))
            time.sleep(0.1)
        assert not any(reader.ended for reader in readers)
    assert 200 not in answers, f"a 9th stream of 8 was accepted: {answers}"
    assert set(answers) <= {429, 503}
    assert answers[-4:] == [429] * 4, "once rebuilt, the limit answers as before"
