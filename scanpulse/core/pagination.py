"""Page-number pagination with a client-chosen page size, capped."""

from typing import Any

from django.core.paginator import Page
from django.core.paginator import Paginator as DjangoPaginator
from django.db.models import QuerySet
from rest_framework import pagination, serializers
from rest_framework.exceptions import NotFound


class PageNumberPagination(pagination.PageNumberPagination):
    """Strict about its parameters, like the rest of the API: a page that does not exist or
    a page size that is not a positive integer is a 400 naming the parameter (not a 404,
    which means "no such object, or not yours", nor a silent fallback). Sizes above
    ``max_page_size`` are capped."""

    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request: Any) -> int | None:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
            raise serializers.ValidationError(
                {self.page_size_query_param: ["A positive whole number is required."]}
            )
        return min(int(raw), self.max_page_size)

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> Any:
        # DRF reads an empty ``page=`` as the first page; it is a page number left out.
        if request.query_params.get(self.page_query_param) == "":
            raise serializers.ValidationError(
                {self.page_query_param: ["A positive whole number is required."]}
            )
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound as exc:
            raise serializers.ValidationError({self.page_query_param: [str(exc.detail)]}) from exc

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters: list[dict[str, Any]] = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                parameter["description"] = (
                    f"Results per page (default {self.page_size}, at most {self.max_page_size})."
                )
        return parameters


class FromTheEndPaginator(DjangoPaginator):
    """Reads a page in the second half of a totally ordered queryset backwards from its end:
    the last page costs what the first does (an index scanned backwards, a small offset)
    instead of skipping every row before it."""

    def page(self, number: Any) -> Any:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        count = self.count
        if top + self.orphans >= count:
            top = count
        rows = self.object_list
        if bottom > count // 2 and isinstance(rows, QuerySet) and rows.ordered:
            page = list(rows.reverse()[count - top : count - bottom])
            page.reverse()
            return Page(page, number, self)
        return Page(rows[bottom:top], number, self)


class ListingPagination(PageNumberPagination):
    """For listings ordered totally (their last key unique: findings, alerts)."""

    django_paginator_class = FromTheEndPaginator
