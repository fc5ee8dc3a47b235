"""The Celery entry point of schedules: ``celery beat`` sends ``run_schedule`` at a
schedule's due times (its periodic task), a worker runs it."""

from __future__ import annotations

from celery import shared_task

from .services import RUN_SCHEDULE_TASK, schedule_run


@shared_task(name=RUN_SCHEDULE_TASK, ignore_result=True)
def run_schedule(schedule_id: str) -> None:
    schedule_run(schedule_id=schedule_id)
