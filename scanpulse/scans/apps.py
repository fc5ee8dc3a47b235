from django.apps import AppConfig


class ScansConfig(AppConfig):
    name = "scanpulse.scans"
    label = "scans"
