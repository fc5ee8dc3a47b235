from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "scanpulse.web"
    label = "web"
