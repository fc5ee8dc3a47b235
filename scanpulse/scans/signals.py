"""What the scans domain announces to the layers above it (the live edge listens).

Both are sent once the transaction that made the change has committed, never before: a
receiver never announces what a rollback took back.
"""

from django.dispatch import Signal

# An event was appended to a scan's log. Arguments: ``event`` (``.types.Event``).
event_committed = Signal()

# A finished scan's log was deleted (retention). Arguments: ``scan_id`` and ``org_id``
# (strings), ``through`` (the highest organization number that left the log).
events_purged = Signal()
