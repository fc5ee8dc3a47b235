"""The Advisories page: the loaded advisory data per ecosystem, where it comes from and how
fresh it is (read-only; the operator syncs with ``scanpulse advisories sync``)."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.views.decorators.http import require_GET

from scanpulse.feeds.selectors import advisory_status
from scanpulse.tenancy.types import SignedInHttpRequest

from .errors import page_or_404
from .pages import render_page


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@require_GET
@login_required
@page_or_404
def advisories(request: SignedInHttpRequest) -> HttpResponse:
    status = advisory_status(user=request.user)
    rows = [
        row
        | {"checked": _moment(row["last_checked_at"]), "changed": _moment(row["last_changed_at"])}
        for row in status["ecosystems"]
    ]
    dataset = status["dataset"]
    if dataset is not None:
        dataset = dataset | {"loaded": _moment(dataset["loaded_at"])}
    return render_page(
        request,
        "web/advisories.html",
        {"dataset": dataset, "rows": rows, "interval": status["sync_interval_hours"]},
    )
