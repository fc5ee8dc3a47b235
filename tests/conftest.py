"""Fixtures shared by the whole suite: organizations, users, tokens and API clients."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from scanpulse.tenancy.models import Organization, Role
from scanpulse.tenancy.services import organization_create, token_create, user_create


class Tenant:
    """An organization with one owner, a token, and an API client acting as them."""

    def __init__(self, name: str) -> None:
        self.org: Organization = organization_create(name=name)
        self.user: Any = user_create(
            email=f"owner@{name}.example",
            organization=self.org,
            role=Role.OWNER,
            password="a-long-test-password",
        )
        self.api_token, self.token = token_create(user=self.user, name="tests")
        self.client = APIClient()
        self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.token}")


@pytest.fixture
def tenant(db: None) -> Tenant:
    return Tenant("acme")


@pytest.fixture
def other_tenant(db: None) -> Tenant:
    return Tenant("globex")


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient()


@pytest.fixture
def repo_dir(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    return path


@pytest.fixture(autouse=True)
def _fresh_bus() -> Iterator[None]:
    from scanpulse.events.bus import reset_bus

    reset_bus()
    yield
    reset_bus()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
