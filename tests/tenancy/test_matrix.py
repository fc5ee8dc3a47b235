"""The permission matrix, route by route: every route of the API, the pages and the streams
has an entry here saying what it needs, and each is called as an owner, an admin, a member, a
viewer and a member of another organization, whose answers must follow
``scanpulse.tenancy.permissions.PERMISSIONS`` (the table docs/security.md shows).

A route that the URL resolver (or the stream application) serves without an entry here fails
``test_the_matrix_covers_every_route``.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from scanpulse.notifications.models import Delivery
from scanpulse.notifications.services import endpoint_create
from scanpulse.tenancy.models import Invitation, Role
from scanpulse.tenancy.permissions import PERMISSIONS, Action
from scanpulse.tenancy.services import token_create, user_create
from tests.alerts.test_roles import objects  # noqa: F401 - the fixture
from tests.api.test_isolation import SARIF_UPLOAD, SBOM_UPLOAD, STREAM_ROUTES

READ = "read"  # every member of the organization reads it
OWN = "own"  # anyone signed in, about their own things (not tied to the organization)
PUBLIC = "public"  # no sign-in needed (signed links, the login page, inbound deliveries)

ORG = "organizations/<uuid:organization_id>/"
PROJECT = "projects/<uuid:project_id>/"
HOOK = ORG + "webhooks/<uuid:webhook_id>/"

# (method, route as the resolver spells it, body, what it needs). A body for the API is JSON,
# for a page form fields.
MATRIX: list[tuple[str, str, Any, Any]] = [
    # -- the API --------------------------------------------------------------------------
    ("GET", "api/projects/", None, OWN),
    ("POST", "api/projects/", {"name": "new", "repo_url": "{repo}"}, Action.PROJECT_CREATE),
    ("GET", "api/" + PROJECT, None, READ),
    ("PATCH", "api/" + PROJECT, {"name": "renamed"}, Action.PROJECT_UPDATE),
    ("PATCH", "api/" + PROJECT, {"repo_url": "{repo}/sub"}, Action.PROJECT_CHANGE_REPOSITORY),
    ("PATCH", "api/" + PROJECT, {"gate_policy": {}}, Action.PROJECT_GATE),
    ("DELETE", "api/" + PROJECT, None, Action.PROJECT_DELETE),
    ("GET", "api/" + PROJECT + "credential", None, READ),
    ("PUT", "api/" + PROJECT + "credential", {"kind": "ssh_key"}, Action.CREDENTIAL_MANAGE),
    ("DELETE", "api/" + PROJECT + "credential", None, Action.CREDENTIAL_MANAGE),
    ("POST", "api/" + PROJECT + "credential/use", {"credential": None}, Action.CREDENTIAL_MANAGE),
    ("GET", "api/" + PROJECT + "host-keys/", None, READ),
    (
        "POST",
        "api/" + PROJECT + "host-keys/",
        {"host": "h", "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA=="},
        Action.CREDENTIAL_MANAGE,
    ),
    ("DELETE", "api/" + PROJECT + "host-keys/", None, Action.CREDENTIAL_MANAGE),
    ("GET", "api/" + ORG + "credentials/", None, READ),
    (
        "POST",
        "api/" + ORG + "credentials/",
        {"name": "n", "kind": "ssh_key"},
        Action.CREDENTIAL_MANAGE,
    ),
    ("GET", "api/" + ORG + "credentials/<uuid:credential_id>/", None, READ),
    ("DELETE", "api/" + ORG + "credentials/<uuid:credential_id>/", None, Action.CREDENTIAL_MANAGE),
    ("GET", "api/" + PROJECT + "alerts/", None, READ),
    (
        "POST",
        "api/" + PROJECT + "alerts/triage",
        {"alerts": ["{alert_id}"], "action": "dismiss", "reason": "wont_fix"},
        Action.ALERT_TRIAGE,
    ),
    ("GET", "api/" + PROJECT + "alerts/<uuid:alert_id>/", None, READ),
    (
        "POST",
        "api/" + PROJECT + "alerts/<uuid:alert_id>/dismiss",
        {"reason": "wont_fix"},
        Action.ALERT_TRIAGE,
    ),
    ("POST", "api/" + PROJECT + "alerts/<uuid:alert_id>/reopen", None, Action.ALERT_TRIAGE),
    ("GET", "api/" + PROJECT + "schedules/", None, READ),
    (
        "POST",
        "api/" + PROJECT + "schedules/",
        {"kind": "cron", "cron": "0 4 * * *"},
        Action.SCHEDULE_MANAGE,
    ),
    ("GET", "api/" + PROJECT + "schedules/<uuid:schedule_id>/", None, READ),
    (
        "PATCH",
        "api/" + PROJECT + "schedules/<uuid:schedule_id>/",
        {"cron": "0 5 * * *"},
        Action.SCHEDULE_MANAGE,
    ),
    ("DELETE", "api/" + PROJECT + "schedules/<uuid:schedule_id>/", None, Action.SCHEDULE_MANAGE),
    ("GET", "api/scans/", None, OWN),
    ("POST", "api/scans/", {"project": "{project_id}"}, Action.SCAN_CREATE),
    ("GET", "api/scans/<uuid:scan_id>/", None, READ),
    ("POST", "api/scans/<uuid:running_id>/cancel", None, Action.SCAN_CANCEL),
    ("GET", "api/scans/<uuid:scan_id>/findings/", None, READ),
    ("GET", "api/scans/<uuid:scan_id>/status", None, READ),
    ("GET", "api/scans/<uuid:scan_id>/events", None, READ),
    ("GET", "api/scans/<uuid:scan_id>/sarif", None, READ),
    ("GET", "api/scans/<uuid:scan_id>/gate", None, READ),
    ("GET", "api/scans/<uuid:scan_id>/sbom", None, READ),
    ("POST", "api/" + PROJECT + "sbom", SBOM_UPLOAD, Action.SCAN_CREATE),
    ("POST", "api/" + PROJECT + "sarif", SARIF_UPLOAD, Action.SCAN_CREATE),
    # The advisory data is the server's, the same for everyone signed in.
    ("GET", "api/advisories/", None, OWN),
    ("GET", "api/" + ORG + "inbound-webhooks", None, Action.INBOUND_WEBHOOK_VIEW),
    ("POST", "api/" + ORG + "inbound-webhooks/secret", None, Action.INBOUND_WEBHOOK_ROTATE),
    ("GET", "api/" + ORG + "webhooks/", None, Action.WEBHOOK_MANAGE),
    (
        "POST",
        "api/" + ORG + "webhooks/",
        {"name": "x", "url": "https://hooks.example.com/x", "events": ["scan.failed"]},
        Action.WEBHOOK_MANAGE,
    ),
    ("GET", "api/" + HOOK, None, Action.WEBHOOK_MANAGE),
    ("PATCH", "api/" + HOOK, {"name": "renamed"}, Action.WEBHOOK_MANAGE),
    ("DELETE", "api/" + HOOK, None, Action.WEBHOOK_MANAGE),
    ("POST", "api/" + HOOK + "rotate-secret", None, Action.WEBHOOK_MANAGE),
    ("POST", "api/" + HOOK + "test", None, Action.WEBHOOK_MANAGE),
    ("GET", "api/" + HOOK + "deliveries/", None, Action.WEBHOOK_MANAGE),
    ("GET", "api/" + HOOK + "deliveries/<uuid:delivery_id>/", None, Action.WEBHOOK_MANAGE),
    (
        "POST",
        "api/" + HOOK + "deliveries/<uuid:delivery_id>/redeliver",
        None,
        Action.WEBHOOK_MANAGE,
    ),
    ("GET", "api/tokens/", None, OWN),
    ("POST", "api/tokens/", {"name": "ci", "scope": "scan"}, OWN),
    ("DELETE", "api/tokens/<uuid:token_id>/", None, OWN),
    ("GET", "api/" + ORG + "members/", None, READ),
    ("PATCH", "api/" + ORG + "members/<int:user_id>/", {"role": "viewer"}, Action.MEMBER_MANAGE),
    ("DELETE", "api/" + ORG + "members/<int:user_id>/", None, Action.MEMBER_MANAGE),
    ("GET", "api/" + ORG + "invitations/", None, Action.MEMBER_MANAGE),
    ("POST", "api/" + ORG + "invitations/", {"email": "new@example.com"}, Action.MEMBER_MANAGE),
    ("DELETE", "api/" + ORG + "invitations/<uuid:invitation_id>/", None, Action.MEMBER_MANAGE),
    ("GET", "api/" + ORG + "audit/", None, Action.AUDIT_VIEW),
    ("GET", "api/schema/", None, PUBLIC),
    ("GET", "api/docs/", None, PUBLIC),
    # Signed by the repository host, not signed in.
    ("POST", "hooks/<uuid:organization_id>/<str:host>", None, PUBLIC),
    # -- the pages ------------------------------------------------------------------------
    ("GET", "", None, OWN),
    ("GET", "login/", None, PUBLIC),
    # The second step of a sign-in, and single sign-on: before anyone is signed in.
    ("GET", "login/two-factor/", None, PUBLIC),
    ("GET", "sso/login/", None, PUBLIC),
    ("GET", "sso/callback/", None, PUBLIC),
    ("GET", "account/two-factor/", None, OWN),
    ("GET", "advisories/", None, OWN),
    ("POST", "logout/", None, PUBLIC),  # ends whatever session there is
    ("POST", "organization/", {"organization": "{organization_id}"}, OWN),
    ("GET", "password-reset/", None, PUBLIC),
    ("GET", "password-reset/sent", None, PUBLIC),
    ("GET", "password-reset/<uidb64>/<token>/", None, PUBLIC),
    ("GET", "password-reset/done", None, PUBLIC),
    ("GET", "invitations/<str:secret>", None, PUBLIC),
    ("GET", "account/tokens", None, OWN),
    ("POST", "account/tokens", {"name": "ci", "scope": "read"}, OWN),
    ("POST", "account/tokens/<uuid:token_id>/revoke", None, OWN),
    ("GET", ORG + "settings", None, READ),
    (
        "POST",
        ORG + "members/invite",
        {"email": "new@example.com", "role": "member"},
        Action.MEMBER_MANAGE,
    ),
    ("POST", ORG + "members/<int:user_id>/role", {"role": "viewer"}, Action.MEMBER_MANAGE),
    ("POST", ORG + "members/<int:user_id>/remove", None, Action.MEMBER_MANAGE),
    ("POST", ORG + "invitations/<uuid:invitation_id>/withdraw", None, Action.MEMBER_MANAGE),
    ("GET", ORG + "audit", None, Action.AUDIT_VIEW),
    (
        "POST",
        ORG + "sso",
        {"issuer": "https://id.example.com", "client_id": "scanpulse", "client_secret": "s"},
        Action.SSO_MANAGE,
    ),
    ("GET", ORG + "inbound-webhooks", None, Action.INBOUND_WEBHOOK_VIEW),
    ("POST", ORG + "inbound-webhooks", None, Action.INBOUND_WEBHOOK_ROTATE),
    ("GET", "projects/", None, OWN),
    ("POST", "projects/", {"name": "new", "repo_url": "{repo}"}, Action.PROJECT_CREATE),
    ("GET", PROJECT, None, READ),
    ("POST", PROJECT + "scans", {"ref": "main"}, Action.SCAN_CREATE),
    # Without a file: refused for viewers, a form error (400) for those who may upload.
    ("POST", PROJECT + "sarif", {"sarif-ref": "main"}, Action.SCAN_CREATE),
    ("POST", PROJECT + "scan-config", {"scan_config": "{}"}, Action.PROJECT_CHANGE_SCAN_CONFIG),
    ("GET", PROJECT + "gate", None, READ),
    ("POST", PROJECT + "gate", {"no_secrets": "on", "require_complete": "on"}, Action.PROJECT_GATE),
    ("GET", PROJECT + "credentials", None, READ),
    ("POST", PROJECT + "credentials", {"action": "reset-host-keys"}, Action.CREDENTIAL_MANAGE),
    ("GET", ORG + "credentials", None, READ),
    (
        "POST",
        ORG + "credentials",
        {"action": "create", "name": "n", "kind": "ssh_key"},
        Action.CREDENTIAL_MANAGE,
    ),
    ("GET", PROJECT + "schedules/", None, READ),
    ("POST", PROJECT + "schedules/", {"kind": "cron", "cron": "0 4 * * *"}, Action.SCHEDULE_MANAGE),
    # The edit form: owners and admins (every member reads schedules on the list page).
    ("GET", PROJECT + "schedules/<uuid:schedule_id>/", None, Action.SCHEDULE_MANAGE),
    (
        "POST",
        PROJECT + "schedules/<uuid:schedule_id>/",
        {"kind": "cron", "cron": "0 5 * * *"},
        Action.SCHEDULE_MANAGE,
    ),
    ("POST", PROJECT + "schedules/<uuid:schedule_id>/delete", None, Action.SCHEDULE_MANAGE),
    ("GET", PROJECT + "alerts/export", None, READ),
    (
        "POST",
        PROJECT + "alerts/triage",
        {"alerts": "{alert_id}", "action": "dismiss", "reason": "wont_fix"},
        Action.ALERT_TRIAGE,
    ),
    ("GET", PROJECT + "alerts/<uuid:alert_id>/", None, READ),
    (
        "POST",
        PROJECT + "alerts/<uuid:alert_id>/dismiss",
        {"reason": "wont_fix"},
        Action.ALERT_TRIAGE,
    ),
    ("POST", PROJECT + "alerts/<uuid:alert_id>/reopen", None, Action.ALERT_TRIAGE),
    ("GET", ORG + "webhooks/", None, Action.WEBHOOK_MANAGE),
    (
        "POST",
        ORG + "webhooks/",
        {"name": "x", "url": "https://hooks.example.com/x", "events": "scan.failed"},
        Action.WEBHOOK_MANAGE,
    ),
    ("GET", HOOK, None, Action.WEBHOOK_MANAGE),
    ("POST", HOOK + "<str:action>", None, Action.WEBHOOK_MANAGE),
    ("POST", HOOK + "deliveries/<uuid:delivery_id>/redeliver", None, Action.WEBHOOK_MANAGE),
    ("GET", "scans/<uuid:scan_id>/", None, READ),
    ("GET", "scans/<uuid:running_id>/cancel", None, READ),
    ("POST", "scans/<uuid:running_id>/cancel", None, Action.SCAN_CANCEL),
    ("GET", "scans/<uuid:scan_id>/findings/export", None, READ),
]
# The streams (plain ASGI in front of Django): reads of every member.
STREAMS = {route: READ for route in STREAM_ROUTES}

ROLES = [Role.OWNER, Role.ADMIN, Role.MEMBER, Role.VIEWER]
ANONYMOUS = "anonymous"  # no token, no session
# Routes whose collection is the caller's own organizations': a member of another one is
# answered about its own (tests/api/test_isolation.py checks they never show this one's).
COLLECTIONS = {"api/projects/", "api/scans/", "projects/"}


def _resolver_routes() -> set[str]:
    found: set[str] = set()

    def walk(patterns: list, prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                found.add(prefix + str(pattern.pattern))

    walk(get_resolver().url_patterns, "")
    # Django's own administration (superusers only) is not the product's.
    return {route for route in found if not route.startswith("admin/")}


def _canonical(route: str) -> str:
    """The resolver's spelling: the table names the object a route is called with."""
    return route.replace("<uuid:running_id>", "<uuid:scan_id>")


def test_the_matrix_covers_every_route() -> None:
    in_matrix = {_canonical(route) for _, route, _, _ in MATRIX}
    assert in_matrix == _resolver_routes()
    assert set(STREAMS) == set(STREAM_ROUTES)


def test_every_action_of_the_permission_table_has_a_route() -> None:
    assert {rule for *_, rule in MATRIX if isinstance(rule, Action)} == set(PERMISSIONS)


def _fill(value: Any, ids: dict[str, Any]) -> Any:
    if isinstance(value, str):
        value = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(ids[m.group(1)]), value)
        return re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), value)
    if isinstance(value, list):
        return [_fill(item, ids) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, ids) for key, item in value.items()}
    return value


@pytest.fixture
def world(tenant, other_tenant, objects) -> dict[str, Any]:  # noqa: F811 - the fixture
    endpoint, _ = endpoint_create(
        user=tenant.user,
        organization_id=tenant.org.id,
        name="ci",
        url="https://hooks.example.com/ci/abc",
        events=["scan.failed"],
    )
    delivery = Delivery.objects.create(
        endpoint=endpoint, event="ping", event_id=endpoint.id, body="{}", state="delivered"
    )
    target = user_create(email="target@acme.example", organization=tenant.org, role=Role.MEMBER)
    invitation = Invitation.objects.create(
        organization=tenant.org,
        email="invited@example.com",
        digest="0" * 64,
        expires_at="2999-01-01T00:00:00Z",
    )
    return {
        **objects,
        "webhook_id": endpoint.id,
        "delivery_id": delivery.id,
        "user_id": target.id,
        "invitation_id": invitation.id,
        "action": "disable",
        "host": "github",
        "secret": "spi_unknown",
        "uidb64": "MQ",
        "token": "set-password",
        "other": other_tenant,
    }


def _caller(tenant: Any, world: dict[str, Any], role: str | None, page: bool) -> tuple[Any, Any]:
    """A client acting as someone of ``role`` in the organization (None: a member of another
    one; ANONYMOUS: nobody), by token for the API, signed in for the pages, and that person."""
    if role == ANONYMOUS:
        from rest_framework.test import APIClient

        return (Client() if page else APIClient()), None
    if role is None:
        person = world["other"].user
    else:
        person = user_create(
            email=f"{role}-caller@acme.example", organization=tenant.org, role=role
        )
    if page:
        client: Any = Client()
        client.force_login(person)
    else:
        from rest_framework.test import APIClient

        _, token = token_create(user=person, name="caller")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client, person


def _call(client: Any, method: str, route: str, body: Any, ids: dict[str, Any], page: bool) -> Any:
    path = "/" + _fill(route, ids)
    data = _fill(body, ids)
    if page:
        return client.generic(method, path) if data is None else client.post(path, data)
    if data is None:
        return client.generic(method, path)
    return getattr(client, method.lower())(path, data, format="json")


def _expected(rule: Any, role: str | None) -> str:
    if rule == PUBLIC:
        return "allowed"
    if role == ANONYMOUS:
        return "signed out"
    if rule == OWN:
        return "allowed"
    if role is None:
        return "not found"
    if rule == READ or role in PERMISSIONS[rule].roles:
        return "allowed"
    return "refused"


def _outcome(response: Any) -> str:
    if response.status_code == 404:
        return "not found"
    if response.status_code == 403:
        return "refused"
    if response.status_code in (401,) or (
        response.status_code == 302 and "/login/" in response.get("Location", "")
    ):
        return "signed out"
    return "allowed"


CASES = [
    pytest.param(method, route, body, rule, role, id=f"{method} /{route} as {role or 'outsider'}")
    for method, route, body, rule in MATRIX
    for role in [*ROLES, None, ANONYMOUS]
    if rule != PUBLIC and not (role is None and route in COLLECTIONS)
]


@pytest.mark.parametrize(("method", "route", "body", "rule", "role"), CASES)
def test_each_route_answers_each_role_as_the_matrix_says(
    tenant, world, method, route, body, rule, role
) -> None:
    page = not route.startswith("api/")
    client, person = _caller(tenant, world, role, page)
    ids = dict(world)
    if "token_id" in route:
        ids["token_id"] = token_create(user=person or tenant.user, name="own")[0].id
    response = _call(client, method, route, body, ids, page)
    assert _outcome(response) == _expected(rule, role), (
        response.status_code,
        response.content[:300],
    )


def test_each_stream_answers_each_role_as_the_matrix_says(servers, tenant, world) -> None:
    """The streams, served by a real server process, opened as each role."""
    server = servers()
    answers, expected = {}, {}
    for route, rule in sorted(STREAMS.items()):
        path = "/" + _fill(route, {**world, "scan_id": world["running_id"]})  # a live scan
        if route == "api/stream":
            path += f"?organization={world['organization_id']}"
        for role in [*ROLES, None]:
            _, person = _caller(tenant, world, role, False)
            _, token = token_create(user=person, name="stream")
            with (
                httpx.Client(timeout=httpx.Timeout(5, connect=5)) as client,
                client.stream(
                    "GET", server.url + path, headers={"Authorization": f"Bearer {token}"}
                ) as response,
            ):
                status = response.status_code
            answers[route, role] = {200: "allowed", 403: "refused", 404: "not found"}.get(
                status, str(status)
            )
            expected[route, role] = _expected(rule, role)
    assert answers == expected
