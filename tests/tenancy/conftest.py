"""Real server processes (and a scan to watch) for the tenancy tests that open streams."""

from tests.events.conftest import pair, scan, servers  # noqa: F401 - fixtures
