from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "scanpulse.events"
    label = "events"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.signals import user_logged_out
        from django.db.models.signals import post_delete, post_save

        from scanpulse.scans.models import Scan
        from scanpulse.scans.signals import event_committed, events_purged
        from scanpulse.tenancy.models import ApiToken, Membership

        from . import relay, services

        # What the scan log commits goes on the bus (see .relay).
        event_committed.connect(relay.on_event_committed, dispatch_uid="scanpulse-log-event")
        events_purged.connect(relay.on_events_purged, dispatch_uid="scanpulse-log-purged")
        user_logged_out.connect(services.on_user_logged_out, dispatch_uid="scanpulse-stream-logout")
        # Every change of who may see what reaches the web processes (see .services).
        post_save.connect(services.on_token_saved, ApiToken, dispatch_uid="scanpulse-token-saved")
        post_delete.connect(
            services.on_token_deleted, ApiToken, dispatch_uid="scanpulse-token-deleted"
        )
        post_save.connect(
            services.on_membership_changed, Membership, dispatch_uid="scanpulse-membership-saved"
        )
        post_delete.connect(
            services.on_membership_changed, Membership, dispatch_uid="scanpulse-membership-deleted"
        )
        post_save.connect(services.on_user_saved, get_user_model(), dispatch_uid="scanpulse-user")
        post_delete.connect(services.on_scan_deleted, Scan, dispatch_uid="scanpulse-scan-deleted")
