"""The ``secrets`` analyzer: credentials found by detect-secrets' built-in plugins and filters.

Findings equal ``detect-secrets scan --all-files`` on the same files, but a cheap pre-filter sends
only the lines that can match to detect-secrets' per-line machinery. Secrets are reported by a
keyed identifier and a mask (``scanpulse.analyzers.redaction``), never in clear.

The package holds the analyzer (``analyzer``), the detect-secrets scan it runs (``scanner``),
the pre-filter deciding which lines can match (``probes``) and the guard against exploding YAML
(``yaml_aliases``).
"""

from scanpulse.analyzers.secrets.analyzer import SecretsAnalyzer

__all__ = ["SecretsAnalyzer"]
