from django.apps import AppConfig


class FeedsConfig(AppConfig):
    """The OSV feed: downloading the ecosystem exports, on a schedule, into the advisory
    store (``scanpulse.advisories``)."""

    name = "scanpulse.feeds"
    label = "feeds"
