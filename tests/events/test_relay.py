"""What the scan log commits reaches the bus, once committed and only then."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from scanpulse.events.bus import EventBus, reset_bus
from scanpulse.events.types import event_message
from scanpulse.projects.models import Project
from scanpulse.scans.log import append_event, purge_expired_events
from scanpulse.scans.models import Scan, ScanStatus

pytestmark = pytest.mark.django_db(transaction=True)

published: list[dict[str, Any]] = []


class RecordingBus(EventBus):
    def publish(self, message: dict[str, Any]) -> None:
        published.append(message)

    async def listen(self, on_message: Any, on_reconnect: Any) -> None:
        raise NotImplementedError


@pytest.fixture
def bus(settings, tenant):
    # After the tenant: its creation announces access changes of its own.
    settings.SCANPULSE_EVENT_BUS = f"{__name__}.RecordingBus"
    reset_bus()
    published.clear()
    yield published
    published.clear()


@pytest.fixture
def scan(tenant, tmp_path) -> Scan:
    project = Project.objects.create(organization=tenant.org, name="p", repo_url=str(tmp_path))
    return Scan.objects.create(project=project, organization=tenant.org, ref="main")


def test_an_event_is_published_once_its_transaction_commits(bus, scan) -> None:
    with transaction.atomic():
        event = append_event(scan_id=scan.id, kind="log", data={"message": "x"})
        assert bus == []
    assert bus == [event_message(event)]


def test_a_rolled_back_event_is_never_published(bus, scan) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        append_event(scan_id=scan.id, kind="log", data={"message": "x"})
        raise RuntimeError
    assert bus == []


def test_a_purge_is_announced_with_the_numbers_that_left(bus, scan) -> None:
    for _ in range(2):
        append_event(scan_id=scan.id, kind="log", data={"message": "x"})
    Scan.objects.filter(pk=scan.pk).update(
        status=ScanStatus.COMPLETED, finished_at=timezone.now() - timedelta(days=3)
    )
    bus.clear()
    purge_expired_events(retention=timedelta(hours=24))
    assert bus == [
        {"type": "purged", "scan": str(scan.id), "org": str(scan.organization_id), "through": 2}
    ]
