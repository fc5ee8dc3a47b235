from django.apps import AppConfig


class ScansConfig(AppConfig):
    name = "scanpulse.scans"
    label = "scans"

    def ready(self) -> None:
        # Registered with every process's metrics, those that never run a scan included
        # (``/metrics`` of a web node shows the histogram empty rather than not at all).
        from scanpulse.advisories.signals import advisories_changed

        from . import metrics  # noqa: F401
        from .monitoring import on_advisories_changed

        # Every process that loads advisories (a command, a worker, the server) starts the
        # re-match of stored inventories once the load committed.
        advisories_changed.connect(on_advisories_changed, dispatch_uid="scanpulse-monitoring")
