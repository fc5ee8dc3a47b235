"""What the scans domain announces to the layers above it (the live edge and the outbound
notifications listen).

The first three are sent once the transaction that made the change has committed, never before: a
receiver never announces what a rollback took back.
"""

from django.dispatch import Signal

# An event was appended to a scan's log. Arguments: ``event`` (``.types.Event``).
event_committed = Signal()

# A finished scan's log was deleted (retention). Arguments: ``scan_id`` and ``org_id``
# (strings), ``through`` (the highest organization number that left the log).
events_purged = Signal()

# A scan ended (completed, failed or cancelled). Arguments: ``scan_id`` and ``organization_id``
# (strings), ``status`` and ``gate`` (the quality gate's verdict, or None).
scan_finished = Signal()

# Housekeeping ran in this process (``scanpulse.scans.housekeeping``): the layers above do
# their own periodic upkeep here (due webhook deliveries). Sent outside any transaction; no
# arguments.
housekeeping_ran = Signal()

# An advisory load matched stored inventories (``scans.monitoring``), sent once committed.
# Arguments: ``organization_id``, ``project_id``, ``scan_id`` (strings; the scan whose
# inventory matched), ``ref`` and ``matches`` (a list of dicts: ``fingerprint``,
# ``severity``, ``ecosystem``, ``package``, ``version``, ``manifest``, ``direct``,
# ``message`` and ``advisories``, each ``id``, ``aliases``, ``summary``, ``published``,
# ``modified``). Dismissed alerts are never in it.
advisory_matched = Signal()
