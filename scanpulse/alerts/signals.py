"""What the alerts domain announces to the layers above it (outbound notifications listen).

Sent once the transaction that made the change has committed, never before.
"""

from django.dispatch import Signal

# A scan opened alerts on a ref: seen there for the first time, or found again after a scan
# had fixed them. Arguments: ``project_id``, ``scan_id`` (strings), ``ref``, ``fingerprints``
# (a frozenset of the alerts' fingerprints).
alerts_opened = Signal()
