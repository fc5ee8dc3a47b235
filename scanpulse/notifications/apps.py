from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "scanpulse.notifications"
    label = "notifications"

    def ready(self) -> None:
        from scanpulse.alerts.signals import alerts_opened
        from scanpulse.core.crypto import register_sealed
        from scanpulse.scans.signals import advisory_matched, housekeeping_ran, scan_finished

        from . import receivers

        register_sealed("notifications.Endpoint", "url_sealed")
        register_sealed("notifications.Endpoint", "secret_sealed")
        scan_finished.connect(receivers.on_scan_finished, dispatch_uid="scanpulse-webhooks-scan")
        alerts_opened.connect(receivers.on_alerts_opened, dispatch_uid="scanpulse-webhooks-alerts")
        advisory_matched.connect(
            receivers.on_advisory_matched, dispatch_uid="scanpulse-webhooks-advisories"
        )
        housekeeping_ran.connect(receivers.on_housekeeping, dispatch_uid="scanpulse-webhooks-sweep")
