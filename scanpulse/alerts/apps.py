from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "scanpulse.alerts"
    label = "alerts"
