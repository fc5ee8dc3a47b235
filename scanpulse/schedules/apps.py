from django.apps import AppConfig


class SchedulesConfig(AppConfig):
    name = "scanpulse.schedules"
    label = "schedules"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (a deleted schedule takes its periodic task along)
