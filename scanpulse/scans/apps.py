from django.apps import AppConfig


class ScansConfig(AppConfig):
    name = "scanpulse.scans"
    label = "scans"

    def ready(self) -> None:
        # Registered with every process's metrics, those that never run a scan included
        # (``/metrics`` of a web node shows the histogram empty rather than not at all).
        from . import metrics  # noqa: F401
