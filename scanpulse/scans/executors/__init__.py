"""The scan executor backends (``scanpulse.scans.executor`` is their interface): a thread pool
in the server process (``inprocess``) and Celery workers (``celery``)."""
