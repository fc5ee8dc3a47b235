from django.apps import AppConfig


class ServerConfig(AppConfig):
    """Running scanpulse: the ``serve`` command, the health and metrics probes, the demo."""

    name = "scanpulse.server"
    label = "server"
