from django.apps import AppConfig


class AdvisoriesConfig(AppConfig):
    name = "scanpulse.advisories"
    label = "advisories"
