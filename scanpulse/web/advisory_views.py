"""The Advisories page: the loaded advisory data per ecosystem, where it comes from and how
fresh it is (read-only; the operator syncs with ``scanpulse advisories sync``)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.views.decorators.http import require_GET

from scanpulse.feeds.selectors import advisory_status
from scanpulse.tenancy.types import SignedInHttpRequest

from .errors import page_or_404
from .pages import render_page


@require_GET
@login_required
@page_or_404
def advisories(request: SignedInHttpRequest) -> HttpResponse:
    status = advisory_status(user=request.user)
    return render_page(
        request,
        "web/advisories.html",
        {
            "dataset": status["dataset"],
            "rows": status["ecosystems"],
            "interval": status["sync_interval_hours"],
        },
    )
