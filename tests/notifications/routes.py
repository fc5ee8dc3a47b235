"""Every webhook route of the API, as (method, route pattern, body): owners and admins only,
another organization's a 404 (tests/notifications/test_api.py; the suite's route tables in
tests/api/test_isolation.py and tests/alerts/test_roles.py count them as covered)."""

from __future__ import annotations

BASE = "api/organizations/<uuid:organization_id>/webhooks/"
ONE = BASE + "<uuid:webhook_id>/"

WEBHOOK_ROUTES = [
    ("GET", BASE, None),
    ("POST", BASE, {"name": "x", "url": "https://hooks.example.com/x", "events": ["scan.failed"]}),
    ("GET", ONE, None),
    ("PATCH", ONE, {"name": "renamed"}),
    ("DELETE", ONE, None),
    ("POST", ONE + "rotate-secret", None),
    ("POST", ONE + "test", None),
    ("GET", ONE + "deliveries/", None),
    ("GET", ONE + "deliveries/<uuid:delivery_id>/", None),
    ("POST", ONE + "deliveries/<uuid:delivery_id>/redeliver", None),
]
