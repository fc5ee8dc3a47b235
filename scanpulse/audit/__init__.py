"""The audit log of security-relevant actions (see ``scanpulse.audit.services.record``)."""
