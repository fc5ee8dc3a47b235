"""The ``semgrep`` analyzer: scanpulse's rule pack (and an organization's own rules) on the
Semgrep engine, run offline.

The package holds the analyzer (``analyzer``), the rule pack and its metadata (``pack``) and
the rules themselves (``rules/<language>/<family>/<rule>.yaml``, each with its test file).
"""

from scanpulse.analyzers.semgrep.analyzer import SemgrepAnalyzer

__all__ = ["SemgrepAnalyzer"]
