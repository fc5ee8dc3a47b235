"""What the advisory store tells others, once its transaction has committed.

``advisories_changed`` is sent after every load that changed something, whatever its source
(a directory, a zip, the OSV feed), with ``ids``: the OSV ids of the records added, modified
or withdrawn (changed to withdrawn, or gone from the data) by that load, sorted.
"""

from __future__ import annotations

from django.dispatch import Signal

advisories_changed = Signal()
