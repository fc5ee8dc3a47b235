"""The ``checkov`` analyzer: infrastructure as code checked by Checkov, offline (``analyzer``),
its checks mapped to severities and CWEs (``severity``)."""

from scanpulse.analyzers.checkov.analyzer import CheckovAnalyzer

__all__ = ["CheckovAnalyzer"]
