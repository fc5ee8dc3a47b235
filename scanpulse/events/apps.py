from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "scanpulse.events"
    label = "events"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out

        from .services import on_user_logged_out

        user_logged_out.connect(on_user_logged_out, dispatch_uid="scanpulse-stream-logout")
