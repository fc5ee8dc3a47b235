"""The ``dependencies`` analyzer: dependency manifests checked against OSV advisories."""

from scanpulse.analyzers.dependencies.analyzer import DependenciesAnalyzer

__all__ = ["DependenciesAnalyzer"]
