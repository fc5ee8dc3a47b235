from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "scanpulse.tenancy"
    label = "tenancy"

    def ready(self) -> None:
        from scanpulse.core.crypto import register_sealed

        from . import (
            checks,  # noqa: F401 - registers the system checks
            schema,  # noqa: F401 - registers the OpenAPI authentication extensions
        )

        register_sealed("tenancy.TwoFactor", "secret")
        register_sealed("tenancy.OrganizationSso", "client_secret")
