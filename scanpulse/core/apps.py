from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "scanpulse.core"
    label = "core"
