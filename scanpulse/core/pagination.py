"""Page-number pagination with a client-chosen page size, capped."""

from typing import Any

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
