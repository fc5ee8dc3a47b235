from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "scanpulse.web"
    label = "web"

    def ready(self) -> None:
        from . import middleware  # noqa: F401 - connects the sign-in failure counters
