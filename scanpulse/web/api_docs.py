"""The interactive API docs: Swagger UI from this origin (drf-spectacular-sidecar), started by
a script file instead of an inline one, so the page runs under the site's strict CSP."""

from __future__ import annotations

from drf_spectacular.views import SpectacularSwaggerSplitView


class ApiDocsView(SpectacularSwaggerSplitView):
    template_name = "web/api_docs.html"
