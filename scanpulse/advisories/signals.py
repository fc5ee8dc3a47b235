"""What the advisory store announces to the layers above it (dependency monitoring listens).

Sent once the transaction that loaded the advisories has committed, never before.
"""

from django.dispatch import Signal

# An advisory load changed records. Arguments: ``ids`` (a list of the OSV ids added, modified
# or withdrawn — a record that left the database counts as withdrawn).
advisories_changed = Signal()
