from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "scanpulse.tenancy"
    label = "tenancy"

    def ready(self) -> None:
        from . import schema  # noqa: F401 - registers the OpenAPI authentication extensions
