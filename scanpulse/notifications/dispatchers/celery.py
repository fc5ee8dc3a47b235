"""The production dispatcher: attempts are Celery tasks run by the workers
(``scanpulse.notifications.tasks.deliver_webhook_task``)."""

from __future__ import annotations

from uuid import UUID

from celery import Celery
from django.conf import settings
from django.utils.module_loading import import_string

from scanpulse.notifications.dispatch import Dispatcher

# The task's name, shared by the sender (any process) and the workers.
DELIVER_TASK = "scanpulse.notifications.deliver"


class CeleryDispatcher(Dispatcher):
    def submit(self, delivery_id: UUID | str, *, delay: float = 0.0) -> None:
        app: Celery = import_string(settings.SCANPULSE_CELERY_APP)
        # By name: the sender never imports the task's module.
        app.send_task(DELIVER_TASK, args=[str(delivery_id)], countdown=max(delay, 0.0) or None)
