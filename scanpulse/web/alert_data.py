"""What the alert pages show, read once here: a page of alerts with their dismissals, the
list grouped by rule, and everything an alert's own page tells about it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Min, QuerySet

from scanpulse.alerts.models import Alert, Dismissal, TriageAction
from scanpulse.alerts.selectors import SEVERITY_RANK, dismissals_of, triage_history
from scanpulse.analyzers.base import SEVERITIES
from scanpulse.projects.models import Project
from scanpulse.scans.models import AdvisoryMatch, AnalyzerRun, Finding, FindingStatus, Scan
from scanpulse.scans.selectors import advisory_updates

# An alert's page lists at most this many of the scans it appeared in, newest first.
APPEARANCES_SHOWN = 50


class AdvisoryUpdateFacts:
    """What advisory updates (no scan) did to an alert: the advisories they matched, and
    whether its advisories were withdrawn."""

    updates: tuple[AdvisoryMatch, ...]

    @property
    def found_by_update(self) -> AdvisoryMatch | None:
        """The newest advisory an update matched that still applies (None: none)."""
        return next(
            (
                match
                for match in self.updates
                if match.found_by_update and match.withdrawn_at is None
            ),
            None,
        )

    @property
    def matched(self) -> list[AdvisoryMatch]:
        return [match for match in self.updates if match.found_by_update]

    @property
    def withdrawn(self) -> list[AdvisoryMatch]:
        return [match for match in self.updates if match.withdrawn_at is not None]

    def fixed_reason(self, alert: Alert) -> str:
        """Why a fixed alert no scan fixed is fixed: "advisory withdrawn"."""
        if alert.state == "fixed" and alert.fixed_in_scan is None and self.withdrawn:
            return "advisory withdrawn"
        return ""


@dataclass(frozen=True, slots=True)
class AlertRow(AdvisoryUpdateFacts):
    alert: Alert
    dismissal: Dismissal | None
    updates: tuple[AdvisoryMatch, ...] = ()

    @property
    def state(self) -> str:
        return str(getattr(self.alert, "shown_state", self.alert.state))

    @property
    def fixed_because(self) -> str:
        return self.fixed_reason(self.alert)


def alert_rows(*, project: Project, alerts: Iterable[Alert]) -> list[AlertRow]:
    """The alerts with the dismissal in force of each (one query for all)."""
    listed = list(alerts)
    dismissals = dismissals_of(
        project_id=project.id, fingerprints=[alert.fingerprint for alert in listed]
    )
    updates = advisory_updates(
        project_id=project.id, alerts=[(alert.ref, alert.fingerprint) for alert in listed]
    )
    return [
        AlertRow(
            alert,
            dismissals.get(alert.fingerprint),
            tuple(updates.get((alert.ref, alert.fingerprint), ())),
        )
        for alert in listed
    ]


@dataclass(frozen=True, slots=True)
class RuleGroup:
    tool: str
    rule_id: str
    severity: str  # the most severe of its alerts
    count: int


def rule_groups(alerts: QuerySet[Any]) -> list[RuleGroup]:
    """The listed alerts (or findings) counted per rule, the rules with the most severe
    first."""
    rows = (
        alerts.order_by()
        .values("tool", "rule_id")
        .annotate(count=Count("id"), rank=Min(SEVERITY_RANK))
        .order_by("rank", "-count", "rule_id", "tool")
    )
    return [
        RuleGroup(
            tool=row["tool"],
            rule_id=row["rule_id"],
            severity=SEVERITIES[min(row["rank"], len(SEVERITIES) - 1)],
            count=row["count"],
        )
        for row in rows
    ]


@dataclass(frozen=True, slots=True)
class Appearance:
    scan: Scan
    status: str  # the finding's change in that scan: new, unchanged
    dismissed_reason: str | None


@dataclass(frozen=True, slots=True)
class ExcerptLine:
    number: int
    text: str
    flagged: bool


@dataclass(slots=True)
class AlertDetail(AdvisoryUpdateFacts):
    """An alert's page: the alert, its rule's description and documentation, the finding's
    advisory details and code excerpt, where it was seen and what the team decided."""

    alert: Alert
    dismissal: Dismissal | None
    history: list[TriageAction]
    appearances: list[Appearance]
    appearances_total: int
    rule: dict[str, Any] = field(default_factory=dict)
    advisory: dict[str, Any] = field(default_factory=dict)
    excerpt: list[ExcerptLine] = field(default_factory=list)
    updates: tuple[AdvisoryMatch, ...] = ()

    @property
    def state(self) -> str:
        return str(getattr(self.alert, "shown_state", self.alert.state))

    @property
    def fixed_because(self) -> str:
        return self.fixed_reason(self.alert)


def _rule(alert: Alert) -> dict[str, Any]:
    """The rule's description as its analyzer gave it in the scan that last saw the alert."""
    rules = (
        AnalyzerRun.objects.filter(scan_id=alert.last_seen_scan, tool=alert.tool)
        .values_list("rules", flat=True)
        .first()
    )
    for rule in rules or []:
        if isinstance(rule, dict) and rule.get("id") == alert.rule_id:
            uri = str(rule.get("help_uri") or "")
            # Only links a browser may follow safely: never javascript: or data:.
            return {**rule, "help_uri": uri if uri.startswith(("https://", "http://")) else ""}
    return {}


def _advisory(properties: dict[str, Any]) -> dict[str, Any]:
    """The advisory details a dependency finding carries (empty for any other finding)."""
    if "advisory_ids" not in properties and "package" not in properties:
        return {}
    return {
        "package": properties.get("package", ""),
        "version": properties.get("version", ""),
        "ecosystem": properties.get("ecosystem", ""),
        "advisory_ids": list(properties.get("advisory_ids") or []),
        "fixed_versions": list(properties.get("fixed_versions") or []),
        "manifest": properties.get("manifest", ""),
        "direct": properties.get("direct"),
        "spec": properties.get("spec", ""),
        # One finding per package version: the upgrade and each advisory it lists.
        "upgrade_to": properties.get("upgrade_to") or "",
        "upgrade_fixes_all": bool(properties.get("upgrade_fixes_all")),
        "not_fixed_by_upgrade": list(properties.get("not_fixed_by_upgrade") or []),
        "advisories": [
            _listed_advisory(advisory)
            for advisory in properties.get("advisories") or []
            if isinstance(advisory, dict)
        ],
    }


def _listed_advisory(advisory: dict[str, Any]) -> dict[str, Any]:
    url = str(advisory.get("url") or "")
    return {
        "id": str(advisory.get("id") or ""),
        "aliases": [str(alias) for alias in advisory.get("aliases") or []],
        "summary": str(advisory.get("summary") or ""),
        "severity": str(advisory.get("severity") or ""),
        "fixed_versions": [str(version) for version in advisory.get("fixed_versions") or []],
        "published": str(advisory.get("published") or ""),
        # Only links a browser may follow safely: never javascript: or data:.
        "url": url if url.startswith(("https://", "http://")) else "",
    }


def _excerpt(properties: dict[str, Any], alert: Alert) -> list[ExcerptLine]:
    """The lines around the finding stored with it when it was found (secrets masked)."""
    stored = properties.get("excerpt")
    if not isinstance(stored, dict):
        return []
    start = stored.get("start")
    lines = stored.get("lines")
    if not isinstance(start, int) or not isinstance(lines, list):
        return []
    first = alert.start_line or 0
    last = alert.end_line or first
    return [
        ExcerptLine(number=start + index, text=str(text), flagged=first <= start + index <= last)
        for index, text in enumerate(lines)
    ]


def alert_detail(*, project: Project, alert: Alert) -> AlertDetail:
    findings = Finding.objects.filter(
        scan__project=project, scan__ref=alert.ref, fingerprint=alert.fingerprint
    )
    latest = findings.filter(scan_id=alert.last_seen_scan).only("properties").first()
    properties = latest.properties if latest is not None and latest.properties else {}
    seen = findings.exclude(status=FindingStatus.FIXED)
    appearances = [
        Appearance(
            scan=finding.scan, status=finding.status, dismissed_reason=finding.dismissed_reason
        )
        for finding in seen.select_related("scan").order_by("-scan__created_at")[:APPEARANCES_SHOWN]
    ]
    return AlertDetail(
        alert=alert,
        dismissal=dismissals_of(project_id=project.id, fingerprints=[alert.fingerprint]).get(
            alert.fingerprint
        ),
        history=list(triage_history(alert=alert)),
        appearances=appearances,
        appearances_total=seen.count(),
        rule=_rule(alert),
        advisory=_advisory(properties),
        excerpt=_excerpt(properties, alert),
        updates=tuple(
            advisory_updates(project_id=project.id, alerts=[(alert.ref, alert.fingerprint)]).get(
                (alert.ref, alert.fingerprint), ()
            )
        ),
    )
