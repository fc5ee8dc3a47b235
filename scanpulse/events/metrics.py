"""Prometheus metrics of the stream path (served at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

OPEN_STREAMS = Gauge("scanpulse_open_streams", "Server-sent event streams open in this process")
DELIVERIES = Counter("scanpulse_stream_deliveries_total", "Events written to streams")
REPLAYS = Counter("scanpulse_stream_replays_total", "Reads of the event log to fill a stream")
DB_CALLS = Counter(
    "scanpulse_stream_db_calls_total",
    "Calls into the database thread pool of the stream path (auth misses, heads, replays; health)",
)
RESETS = Counter(
    "scanpulse_stream_resets_total", "Streams told to reset: their cursor left the retention window"
)
REJECTED = Counter(
    "scanpulse_stream_rejections_total", "Streams refused with 429 (organization limit)"
)
DROPPED_SLOW = Counter(
    "scanpulse_stream_slow_readers_total", "Streams dropped because a write timed out"
)
LATENCY = Histogram(
    "scanpulse_event_latency_seconds",
    "Time from appending an event to writing it to a stream",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DB_QUERIES = Counter(
    "scanpulse_stream_db_queries_total",
    "SQL statements sent from the database thread pool of the stream and polling paths, "
    "for requests or for the periodic checks of access",
    ["purpose"],
)
POLL_ANSWERS = Counter(
    "scanpulse_poll_answers_total",
    "Polls of /api/scans/{id}/status and /events, by what answered them "
    "(memory, a read of the database, or Django)",
    ["source"],
)
POLL_REDIS = Counter(
    "scanpulse_poll_redis_round_trips_total",
    "Redis round trips of the polls answered at the edge (limits, failed authentications)",
)
ACCESS_CHECKS = Counter(
    "scanpulse_access_checks_total",
    "Periodic checks of the credentials held by open streams and recent polls: 'read' when "
    "their principals were read again (access may have changed, or the full re-read was due), "
    "'unchanged' when the log of access changes had not moved",
    ["outcome"],
)
