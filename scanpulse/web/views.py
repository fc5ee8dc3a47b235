"""Server-rendered pages."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from scanpulse.projects.selectors import project_list


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "web/home.html", {"projects": project_list(user=request.user)})
