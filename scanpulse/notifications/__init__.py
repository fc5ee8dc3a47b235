"""Outbound webhooks of an organization: endpoints, signed deliveries with retries, and the
delivery log (see docs/integrations.md, "Outbound webhooks")."""
