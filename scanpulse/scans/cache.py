"""The per-file analysis cache, kept in the database so every worker node shares it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .models import AnalysisCacheEntry

_CHUNK = 500  # stays under every database's parameter limit


class DatabaseResultCache:
    def get_many(self, keys: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {}
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            found.update(
                AnalysisCacheEntry.objects.filter(key__in=chunk).values_list("key", "payload")
            )
        return found

    def put_many(self, entries: dict[str, list[dict[str, Any]]]) -> None:
        rows = [AnalysisCacheEntry(key=key, payload=payload) for key, payload in entries.items()]
        AnalysisCacheEntry.objects.bulk_create(rows, batch_size=_CHUNK, ignore_conflicts=True)
