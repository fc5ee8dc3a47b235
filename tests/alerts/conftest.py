"""Fixtures for alerts: scans of tiny repositories by a fast analyzer, and clients by role."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from scanpulse.tenancy.services import token_create, user_create
from tests.scans.conftest import start_scan, wait_for_scan
from tests.support.analyzers import PLUGINS


@pytest.fixture
def flags(settings: Any) -> None:
    """Scans run one analyzer, in microseconds: every line starting with ``flag`` is a
    medium finding (``flagging.FlagAnalyzer``)."""
    settings.SCANPULSE_ANALYZER_PATHS = [str(PLUGINS)]
    settings.SCANPULSE_ANALYZERS = ["flagging:FlagAnalyzer"]


def scan(tenant: Any, repo: Any, ref: str = "main") -> dict[str, Any]:
    """Scan ``repo`` at ``ref`` through the API and return the finished scan as it shows."""
    created = start_scan(tenant, repo.path, ref=ref)
    finished = wait_for_scan(created["id"])
    assert finished.status == "completed", finished.error_message
    return tenant.client.get(f"/api/scans/{created['id']}/").json()


def client_for(tenant: Any, email: str, role: str) -> APIClient:
    """An API client acting as a new ``role`` of the tenant's organization."""
    user = user_create(email=email, organization=tenant.org, role=role)
    _, token = token_create(user=user, name="t")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client
