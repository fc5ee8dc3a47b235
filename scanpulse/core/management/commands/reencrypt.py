"""``scanpulse reencrypt``: seal every stored secret again with the newest key."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from scanpulse.core.crypto import SealError, reseal, sealed_columns

_BATCH = 500


class Command(BaseCommand):
    help = (
        "Re-seal every sealed column with the first key of SCANPULSE_ENCRYPTION_KEYS, so that "
        "older keys can then be removed."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        total = 0
        for column in sealed_columns():
            model = apps.get_model(column.model)
            count = 0
            last = None
            while True:
                with transaction.atomic():
                    rows = model.objects.select_for_update().exclude(**{column.field: ""})
                    if last is not None:
                        rows = rows.filter(pk__gt=last)
                    batch = list(rows.order_by("pk").values_list("pk", column.field)[:_BATCH])
                    for pk, value in batch:
                        try:
                            model.objects.filter(pk=pk).update(**{column.field: reseal(value)})
                        except SealError as exc:
                            raise CommandError(
                                f"{column.model}.{column.field} (id {pk}): {exc}"
                            ) from None
                if not batch:
                    break
                count += len(batch)
                last = batch[-1][0]
            total += count
            self.stdout.write(f"{column.model}.{column.field}: {count} re-sealed")
        self.stdout.write(f"{total} secrets re-sealed with the newest key.")
