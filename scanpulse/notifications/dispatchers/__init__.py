"""The dispatcher backends (``scanpulse.notifications.dispatch`` is their interface): a thread
pool in the server process (``inprocess``) and Celery workers (``celery``)."""
