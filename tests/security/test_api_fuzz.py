"""Every API operation fuzzed by schemathesis against the schema the server itself serves.

A real ``scanpulse serve`` (embedded mode; on the suite's database, so PostgreSQL when the
suite runs with ``DATABASE_URL=postgres://…``) is seeded with a user who owns a project, a
completed scan with findings, events and a SARIF report, and a project that DELETE may take.
Path parameters are the seeded ids as often as generated ones, so the fuzzer reaches the
views' logic rather than only their 404s. Generation is deterministic and bounded.

Checks: no 5xx; status codes, bodies, headers and content types as the schema documents them;
invalid input refused; credentials enforced (an operation that succeeded is tried again without
and with a wrong token); every error in the one shape ``{"error": {"code", "message", "fields"}}``;
and each operation reached its logic (a 2xx) at least once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import CheckContext
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from scanpulse.credentials.services import credential_create
from scanpulse.notifications.models import Delivery
from scanpulse.notifications.services import endpoint_create
from scanpulse.schedules.services import schedule_create
from scanpulse.tenancy.models import ApiToken, Invitation, Role
from scanpulse.tenancy.services import token_create, user_create
from scanpulse.tenancy.tokens import token_digest
from tests.security import seed
from tests.support.analyzers import paced_settings
from tests.support.services import ServerFactory

pytestmark = [pytest.mark.services, pytest.mark.slow]

EXAMPLES_PER_OPERATION = 50
# Where aimed webhook examples point (not resolvable here: saved, and refused when sent).
WEBHOOK_URL = "https://hooks.example.com/fuzz"
# The seeded owner's API token, fixed so that the schema's auth config can name it.
FUZZ_TOKEN = "spt_fuzzing-" + "f" * 32


@schemathesis.check
def error_shape(ctx: CheckContext, response: schemathesis.Response, case: schemathesis.Case):
    """Every 4xx/5xx is ``{"error": {"code": str, "message": str, "fields": {str: [str]}}}``."""
    if response.status_code < 400:
        return None
    assert response.headers.get("content-type", [""])[0].startswith("application/json"), (
        f"error {response.status_code} is not JSON: {response.headers.get('content-type')}"
    )
    body = json.loads(response.content)
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "fields"}, error
    assert isinstance(error["code"], str) and error["code"], error
    assert isinstance(error["message"], str) and error["message"], error
    assert isinstance(error["fields"], dict), error
    for name, messages in error["fields"].items():
        assert isinstance(name, str) and isinstance(messages, list), error
        assert all(isinstance(message, str) for message in messages), error
    return True


def no_server_error(ctx: CheckContext, response: schemathesis.Response, case: schemathesis.Case):
    assert response.status_code < 500, f"{response.status_code}: {response.text[:500]}"
    return True


def invalid_data_rejected(
    ctx: CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """Schema-violating data is refused; a body over the size limit is refused with 413 before
    it is read, which is a refusal too (the limit is checked first, whatever the body holds)."""
    if response.status_code == 413:
        return True
    return negative_data_rejection(ctx, response, case)


CHECKS = [
    no_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    invalid_data_rejected,
    ignored_auth,
    error_shape,
]


@pytest.fixture(scope="module")
def fuzz_server(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory):
    """One server for every operation's test (the data is seeded again for each)."""
    with ServerFactory(
        tmp_path_factory.mktemp("fuzz"),
        # Scans the fuzzer starts are cheap: one paced analyzer, no delay.
        **paced_settings(0.0),
        # The fuzzer is one client sending a few hundred requests a second.
        SCANPULSE_THROTTLE_TOKEN_RATE="100000/minute",
        SCANPULSE_THROTTLE_IP_RATE="100000/minute",
        # It also sends invalid tokens on purpose, which would lock its address out.
        SCANPULSE_THROTTLE_AUTH_FAILURE_RATE="",
    ) as start:
        yield start()


@pytest.fixture
def target(
    fuzz_server, transactional_db, tenant, other_tenant, tmp_path: Path, request
) -> Iterator[dict[str, Any]]:
    """The server, the token, and the ids worth aiming at; afterwards, a check that the
    operation's examples reached its logic at least once (a 2xx), not only its refusals."""
    own = seed.project(tenant, tmp_path, "web")
    scan = seed.completed_scan(own, findings=5)
    doomed = [seed.project(tenant, tmp_path, f"doomed{index}") for index in range(3)]
    foreign = seed.project(other_tenant, tmp_path, "foreign")
    foreign_scan = seed.completed_scan(foreign, findings=1)
    credentials = [
        credential_create(
            user=tenant.user, organization=tenant.org, name=f"c{index}", kind="ssh_key"
        )
        for index in range(4)
    ]
    foreign_credential = credential_create(
        user=other_tenant.user, organization=other_tenant.org, name="theirs", kind="ssh_key"
    )
    schedules = [
        schedule_create(user=tenant.user, project=own, kind="cron", cron="0 3 * * *")
        for _ in range(4)
    ]
    foreign_schedule = schedule_create(
        user=other_tenant.user, project=foreign, kind="interval", every=1, period="days"
    )
    _targets.clear()
    _targets.update(
        {
            "project_id": [str(own.id), str(foreign.id)],
            "scan_id": [str(scan.id), str(foreign_scan.id)],
            "organization_id": [str(tenant.org.id), str(other_tenant.org.id)],
            "deletable": [str(project.id) for project in doomed],
            "own_project": str(own.id),
            # (project, schedule): the user's own, another organization's
            "schedule_id": [
                (str(own.id), str(schedules[0].id)),
                (str(foreign.id), str(foreign_schedule.id)),
            ],
            "deletable_schedules": [(str(own.id), str(schedule.id)) for schedule in schedules[1:]],
            "repo_urls": [own.repo_url, "https://git.example.com/org/repo.git"],
            "credential_id": [str(credentials[0].id), str(foreign_credential.id)],
            "deletable_credentials": [str(credential.id) for credential in credentials[1:]],
        }
    )
    _targets.update(
        {
            "webhooks": [_webhook(tenant), _webhook(other_tenant)],
            "deletable_webhooks": [_webhook(tenant) for _ in range(3)],
        }
    )
    # Members, invitations and tokens to aim at (some to change or remove).
    members = [
        user_create(email=f"m{index}@acme.example", organization=tenant.org, role=Role.MEMBER)
        for index in range(4)
    ]
    invitations = [
        Invitation.objects.create(
            organization=tenant.org,
            email=f"i{index}@example.com",
            digest=f"{index:064d}",
            expires_at=timezone.now() + timedelta(days=1),
        )
        for index in range(4)
    ]
    tokens = [token_create(user=tenant.user, name=f"t{index}")[0] for index in range(4)]
    _targets.update(
        {
            "user_id": [str(member.id) for member in members],
            "invitation_id": [str(invitation.id) for invitation in invitations],
            "token_id": [str(token.id) for token in tokens],
        }
    )
    ApiToken.objects.create(
        user=tenant.user, name="fuzz", prefix=FUZZ_TOKEN[:12], digest=token_digest(FUZZ_TOKEN)
    )
    _statuses.clear()
    yield {"server": fuzz_server, "token": FUZZ_TOKEN}
    label = request.node.name.partition("[")[2].rstrip("]")
    if label:  # the operation tests, not the schema comparison
        assert any(200 <= status < 300 for status in _statuses), (label, sorted(_statuses))


def _webhook(tenant: Any) -> dict[str, str]:
    """A webhook of the tenant's organization with one delivery: the ids of its routes."""
    endpoint, _secret = endpoint_create(
        user=tenant.user,
        organization_id=tenant.org.id,
        name="hook",
        url=WEBHOOK_URL,
        events=["scan.failed"],
    )
    delivery = Delivery.objects.create(
        endpoint=endpoint, event="ping", event_id=endpoint.id, body="{}", state="delivered"
    )
    return {
        "organization_id": str(tenant.org.id),
        "webhook_id": str(endpoint.id),
        "delivery_id": str(delivery.id),
    }


def _generated_schema() -> dict[str, Any]:
    """The schema exactly as ``/api/schema/`` builds it (compared with the served one below)."""
    from drf_spectacular.generators import SchemaGenerator

    document: dict[str, Any] = json.loads(json.dumps(SchemaGenerator().get_schema(public=True)))
    return document


# Loaded while collecting, so that every operation is its own test; the config carries the
# deterministic generation settings, the server and token come from the ``target`` fixture.
schema = schemathesis.openapi.from_dict(
    _generated_schema(),
    config=schemathesis.config.SchemathesisConfig.from_dict(
        {
            "seed": 20261125,
            "generation": {
                "max-examples": EXAMPLES_PER_OPERATION,
                "deterministic": True,
                "mode": "all",
                "database": "none",
            },
            "request-timeout": 20,
            "auth": {"openapi": {"bearerAuth": {"bearer": FUZZ_TOKEN}}},
        }
    ),
)
_targets: dict[str, Any] = {}
_statuses: set[int] = set()


@schema.hook
def after_call(context: Any, case: schemathesis.Case, response: schemathesis.Response) -> None:
    _statuses.add(response.status_code)


def _positive(case: schemathesis.Case, location: ParameterLocation) -> bool:
    info = case.meta.components.get(location) if case.meta is not None else None
    return info is None or info.mode == GenerationMode.POSITIVE


@schema.hook
def flatmap_case(context: Any, case: schemathesis.Case) -> Any:
    """Aim valid examples at the seeded objects as often as at generated ids: the user's own
    (which exist), another organization's (404 like a missing one), and for DELETE a project
    that may go. Invalid examples are left as generated, so they stay invalid. The generated
    example comes last: the simplest choice, which deterministic generation tries first, is
    an aimed one."""
    choices: list[list[tuple[str, str, Any]]] = []
    if (
        case.path_parameters
        and "schedule_id" in case.path_parameters
        and _positive(case, ParameterLocation.PATH)
    ):
        # A schedule is reached through its project: both ids are aimed together.
        key = "deletable_schedules" if case.method.upper() == "DELETE" else "schedule_id"
        pairs = (
            _targets[key]
            if key == "deletable_schedules"
            else [_targets[key][0]] * 3 + [_targets[key][1]]
        )
        choices += [
            [("path", "project_id", project), ("path", "schedule_id", schedule)]
            for project, schedule in pairs
        ]
    elif case.path_parameters and _positive(case, ParameterLocation.PATH):
        for name in ("project_id", "scan_id", "credential_id"):
            if name not in case.path_parameters:
                continue
            if case.method.upper() == "DELETE" and name in ("project_id", "credential_id"):
                deletable = "deletable" if name == "project_id" else "deletable_credentials"
                choices.extend([("path", name, value)] for value in _targets[deletable])
            else:
                own, foreign = _targets[name]
                choices += [[("path", name, own)]] * 3 + [[("path", name, foreign)]]
        if "organization_id" in case.path_parameters:
            # A webhook route's ids go together: the organization, its webhook, its delivery.
            webhook_body = (
                [("body", "url", WEBHOOK_URL)]
                if isinstance(case.body, dict) and "url" in case.body
                else []
            )
            deleting = case.method.upper() == "DELETE"
            own, foreign = _targets["webhooks"]
            aimed = _targets["deletable_webhooks"] if deleting else [own, own, own, foreign]
            for ids in aimed:
                choices.append(
                    [
                        ("path", key, value)
                        for key, value in ids.items()
                        if key in case.path_parameters
                    ]
                    + webhook_body
                )
    path = case.path_parameters or {}
    if _positive(case, ParameterLocation.PATH):
        # Members, invitations, tokens: the user's own organization and seeded ids.
        own_org = [("path", "organization_id", _targets["organization_id"][0])]
        for name in ("user_id", "invitation_id", "token_id"):
            if name in path:
                choices += [
                    own_org * ("organization_id" in path) + [("path", name, value)]
                    for value in _targets[name]
                ]
    if isinstance(case.body, dict) and _positive(case, ParameterLocation.BODY):
        if "email" in case.body and "organization_id" in path:
            choices += [
                [
                    ("path", "organization_id", _targets["organization_id"][0]),
                    ("body", "email", f"fuzz{index}@example.com"),
                ]
                for index in range(3)
            ]
        if "project" in case.body:
            choices += [[("body", "project", _targets["own_project"])]] * 2
        if "repo_url" in case.body:
            choices += [[("body", "repo_url", url)] for url in _targets["repo_urls"]]
        if "kind" in case.body and "project_id" in (case.path_parameters or {}):
            # a valid schedule of the user's own project, as often as generated ones
            choices += [
                [
                    ("path", "project_id", _targets["own_project"]),
                    ("body", "kind", "cron"),
                    ("body", "cron", "*/5 * * * *"),
                    ("body", "timezone", "Europe/Berlin"),
                    ("body", "ref", "main"),
                ]
            ]
    choices += _credential_choices(case)
    choices.append([])  # the example as generated
    return st.sampled_from(choices).map(lambda choice: _aimed(case, choice))


PINNABLE_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDvXz1bY0j3o5r4W0r1Gk0yqDqXbI3nq2aVv8W1Yl3h5"
# Credential routes: bodies that can be saved (a key generated, a host key pinned).
_CREDENTIAL_BODIES = (
    {"name": "fuzzed", "kind": "ssh_key"},
    {"host": "git.example.com", "public_key": PINNABLE_KEY},
)


def _credential_choices(case: schemathesis.Case) -> list[Any]:
    """Every seeded id and a body that can be saved at once: the credential routes take an
    organization and a credential, or a project and a body, to reach their logic."""
    path = case.path_parameters or {}
    if not ("/credential" in case.path or "host-keys" in case.path):
        return []
    if not set(path) <= set(_targets):
        return []  # a route of other seeded objects (a webhook's), aimed above
    if not _positive(case, ParameterLocation.PATH) or (
        isinstance(case.body, dict) and not _positive(case, ParameterLocation.BODY)
    ):
        return []
    deleting = case.method.upper() == "DELETE"
    combos = []
    for index in range(3):
        assignments: list[tuple[str, str, Any]] = []
        for name in path:
            if name == "project_id":
                value = _targets["deletable"][index] if deleting else _targets[name][0]
            elif name == "credential_id" and deleting:
                value = _targets["deletable_credentials"][index]
            else:
                value = _targets[name][0]
            assignments.append(("path", name, value))
        if isinstance(case.body, dict):
            for body in _CREDENTIAL_BODIES:
                # the body this operation takes: its required fields are all there
                if set(body) - {"name"} <= set(case.body):
                    fields = {k: v for k, v in body.items() if k in case.body or k != "name"}
                    assignments.append(("body", "*", fields))
        combos.append(assignments)
    return combos * 2


def _aimed(case: schemathesis.Case, choice: list[tuple[str, str, Any]]) -> schemathesis.Case:
    for where, name, value in choice:
        if name == "*":
            case.body = dict(value)
        else:
            target = case.path_parameters if where == "path" else case.body
            target[name] = value
    return case


def test_the_fuzzed_schema_is_the_served_one(target: dict[str, Any]) -> None:
    served = httpx.get(f"{target['server'].url}/api/schema/?format=json", timeout=10)
    assert served.status_code == 200
    assert served.json() == _generated_schema()


@pytest.mark.timeout(300)
@schema.parametrize()
# The seeded data is shared by an operation's examples on purpose (like a real client's).
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_operation_survives_fuzzing(case: schemathesis.Case, target: dict[str, Any]) -> None:
    case.call_and_validate(base_url=target["server"].url, checks=CHECKS)
