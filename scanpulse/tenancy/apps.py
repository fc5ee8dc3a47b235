from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "scanpulse.tenancy"
    label = "tenancy"
