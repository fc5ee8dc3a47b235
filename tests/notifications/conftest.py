"""Fixtures for webhooks: a real receiver on 127.0.0.1, the operator's allow-list for it, and
the in-process dispatcher started fresh for each test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import scanpulse.notifications
from scanpulse.notifications.dispatch import reset_dispatcher
from tests.support.webhook_receiver import Receiver

SCHEMA = json.loads(
    (
        Path(scanpulse.notifications.__file__).parent / "schema/webhook-payload.schema.json"
    ).read_text()
)


def validate(payload: dict[str, Any]) -> None:
    jsonschema.validate(
        payload, SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver()
    yield started
    started.stop()


@pytest.fixture
def loopback_allowed(settings: Any) -> None:
    """The operator allows 127.0.0.1 (as for a receiver on the same machine)."""
    settings.SCANPULSE_GIT_ALLOWED_NETWORKS = ["127.0.0.1/32"]


@pytest.fixture
def webhook_settings(settings: Any) -> Iterator[Any]:
    settings.SCANPULSE_WEBHOOK_DISPATCHER = (
        "scanpulse.notifications.dispatchers.inprocess.InProcessDispatcher"
    )
    settings.SCANPULSE_WEBHOOK_RETRY_BASE_SECONDS = 0.2
    settings.SCANPULSE_WEBHOOK_TIMEOUT_SECONDS = 5
    settings.SCANPULSE_WEBHOOK_MAX_ATTEMPTS = 4
    settings.SCANPULSE_WEBHOOK_DISABLE_AFTER = 3
    reset_dispatcher()
    yield settings
    reset_dispatcher()
