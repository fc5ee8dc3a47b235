"""Reads of a project's alerts, their dismissals and their triage history.

An alert *shows* ``dismissed`` while its project has an active dismissal of its fingerprint
(one without an expiry, or whose expiry is still ahead), else its detected state, ``open`` or
``fixed``. This is decided when reading, against the time of the read: an accepted risk whose
expiry has passed shows ``open`` at once, before housekeeping records that it expired.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.db import connection
from django.db.models import (
    Case,
    CharField,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.expressions import Combinable
from django.utils import timezone

from scanpulse.analyzers.base import SEVERITIES
from scanpulse.core.exceptions import NotFound
from scanpulse.projects.models import Project

from .models import LINE_RANK, SEVERITY_RANK, Alert, AlertState, Dismissal, TriageAction

# What an alert shows: its detected state, or dismissed.
SHOWN_STATES = ("open", "fixed", "dismissed", "excluded", "superseded")

# How the list may be ordered; the first is the default. Ties always end on the id, so pages
# neither overlap nor skip.
ORDERINGS = ("severity", "path", "-last_seen", "last_seen", "-first_seen", "first_seen")

# Most severe first (critical … info); anything else after them.


def active(now: datetime) -> Q:
    """Dismissals in force at ``now``."""
    return Q(expires_at__isnull=True) | Q(expires_at__gt=now)


@dataclass(frozen=True, slots=True)
class Suppression:
    """Why a fingerprint is dismissed, as a scan's findings and report carry it."""

    reason: str
    comment: str

    @property
    def justification(self) -> str:
        return f"{self.reason}: {self.comment}" if self.comment else self.reason


def dismissed_fingerprints(
    *, project_id: UUID, now: datetime | None = None
) -> dict[str, Suppression]:
    """The fingerprints the project has dismissed at ``now``, with why (a read: safe to
    repeat)."""
    dismissals = Dismissal.objects.filter(active(now or timezone.now()), project_id=project_id)
    return {
        fingerprint: Suppression(reason, comment)
        for fingerprint, reason, comment in dismissals.values_list(
            "fingerprint", "reason", "comment"
        ).iterator(chunk_size=2000)
    }


@dataclass(frozen=True, slots=True)
class CarryOver:
    """What the dismissals of a grouped dependency alert's advisories, one alert each before
    grouping, say of it: ``dismissal`` (reason, comment, expiry) when every advisory was
    dismissed, else None and ``note`` says which were and which were not."""

    dismissal: tuple[str, str, datetime | None] | None
    note: str = ""

    @property
    def suppression(self) -> Suppression | None:
        if self.dismissal is None:
            return None
        return Suppression(self.dismissal[0], self.dismissal[1])


def carried_over(
    *,
    project_id: UUID,
    groups: Mapping[str, Mapping[str, tuple[str, ...]]],
    now: datetime | None = None,
) -> dict[str, CarryOver]:
    """For each grouped fingerprint (``groups``: its advisories' fingerprints before grouping,
    by advisory id) the project has never triaged, what the dismissals in force of those
    fingerprints carry over to it: all of its advisories dismissed, a dismissal (the reason
    they share, else the newest one's; the earliest expiry; a comment naming where it came
    from); some of them, a note only; none, nothing. A read: safe to repeat."""
    now = now or timezone.now()
    wanted = {old for advisories in groups.values() for olds in advisories.values() for old in olds}
    if not wanted:
        return {}
    dismissals = {
        dismissal.fingerprint: dismissal
        for dismissal in Dismissal.objects.filter(
            active(now), project_id=project_id, fingerprint__in=sorted(wanted)
        )
    }
    if not dismissals:
        return {}
    triaged = triaged_fingerprints(project_id=project_id, fingerprints=groups)
    out: dict[str, CarryOver] = {}
    for fingerprint, advisories in groups.items():
        if fingerprint in triaged or not advisories:
            continue
        found = {
            advisory: next((dismissals[old] for old in olds if old in dismissals), None)
            for advisory, olds in advisories.items()
        }
        dismissed = {advisory: d for advisory, d in found.items() if d is not None}
        if not dismissed:
            continue
        ids = ", ".join(sorted(dismissed))
        if len(dismissed) < len(found):
            missing = ", ".join(sorted(set(found) - set(dismissed)))
            out[fingerprint] = CarryOver(
                None,
                f"dismissal not carried over: {len(dismissed)} of {len(found)} advisories were "
                f"dismissed before they were grouped ({ids}); not dismissed: {missing}",
            )
            continue
        newest = max(dismissed.values(), key=lambda d: d.dismissed_at)
        reasons = {d.reason for d in dismissed.values()}
        reason = reasons.pop() if len(reasons) == 1 else newest.reason
        expiries = [d.expires_at for d in dismissed.values() if d.expires_at is not None]
        said = f" ({newest.comment})" if newest.comment else ""
        comment = (
            f"carried over from the dismissals of its {len(dismissed)} advisories before "
            f"they were grouped: {ids}{said}"
        )
        out[fingerprint] = CarryOver((reason, comment, min(expiries) if expiries else None))
    return out


def triaged_fingerprints(*, project_id: UUID, fingerprints: Iterable[str]) -> set[str]:
    """Those of ``fingerprints`` the project's history holds a triage action for (a read)."""
    wanted = sorted(set(fingerprints))
    found: set[str] = set()
    for start in range(0, len(wanted), 1000):
        found.update(
            TriageAction.objects.filter(
                project_id=project_id, fingerprint__in=wanted[start : start + 1000]
            ).values_list("fingerprint", flat=True)
        )
    return found


def glob_regex(pattern: str, *, linear: bool = False) -> str:
    """A regular expression, understood alike by PostgreSQL and SQLite (Python's ``re``),
    matching what ``fnmatch.fnmatchcase(path, pattern)`` matches: ``*`` any run of characters
    (``/`` included), ``?`` one character, ``[abc]``/``[a-c]`` one of a set, ``[!abc]`` one not
    in it, anything else literally. The sets follow ``fnmatch.translate`` rule for rule.

    ``linear``: for Python's backtracking ``re`` (SQLite), where ``^.*a.*a.*…b$`` takes time
    exponential in the stars: each part between stars is matched at its leftmost place and
    never tried again (an atomic group), which for globs is exact, since every part has a fixed
    width. PostgreSQL's engine needs no such help and has no atomic groups."""
    parts: list[list[str]] = [[]]  # the fixed-width parts between runs of stars
    index, length = 0, len(pattern)
    while index < length:
        char = pattern[index]
        index += 1
        if char == "*":
            if parts[-1] or len(parts) == 1:
                parts.append([])
        elif char == "?":
            parts[-1].append(".")
        elif char == "[":
            end = index
            if end < length and pattern[end] == "!":
                end += 1
            if end < length and pattern[end] == "]":
                end += 1
            while end < length and pattern[end] != "]":
                end += 1
            if end >= length:
                parts[-1].append("\\[")  # no closing bracket: a literal "["
                continue
            parts[-1].append(_glob_set(pattern, index, end))
            index = end + 1
        else:
            parts[-1].append(re.escape(char))
    pieces = ["".join(part) for part in parts]
    if len(pieces) == 1:
        return f"^{pieces[0]}$"
    first, *middle, last = pieces
    if not linear:
        return "^" + first + "".join(f".*{piece}" for piece in middle) + f".*{last}$"
    return (
        "(?s)^" + first + "".join(f"(?>.*?{piece})" for piece in middle if piece) + f".*{last}\\Z"
    )


def path_glob(field: str, pattern: str) -> Q:
    """The rows whose ``field`` matches the glob ``pattern`` (``glob_regex``), on this database."""
    linear = connection.vendor == "sqlite"
    return Q(**{f"{field}__regex": glob_regex(pattern, linear=linear)})


def _glob_set(pattern: str, start: int, end: int) -> str:
    """The set ``pattern[start:end]`` (between its brackets) as a bracket expression."""
    if "-" not in pattern[start:end]:
        chunks = [pattern[start:end]]
    else:
        chunks = []
        k = start + 2 if pattern[start] == "!" else start + 1
        while True:
            k = pattern.find("-", k, end)
            if k < 0:
                break
            chunks.append(pattern[start:k])
            start = k + 1
            k = k + 3
        chunk = pattern[start:end]
        if chunk:
            chunks.append(chunk)
        else:
            chunks[-1] += "-"
        for k in range(len(chunks) - 1, 0, -1):  # empty ranges (z-a) match nothing
            if chunks[k - 1][-1] > chunks[k][0]:
                chunks[k - 1] = chunks[k - 1][:-1] + chunks[k][1:]
                del chunks[k]
    # Every character that could mean something inside a set is escaped ("\" followed by a
    # punctuation character is that character for both engines); hyphens between chunks stay
    # ranges.
    stuff = "-".join(re.sub(r"([\\\[\]&~|^-])", r"\\\1", chunk) for chunk in chunks)
    if not stuff:
        return ".^"  # an empty set: never matches
    if stuff == "!":
        return "."  # a negated empty set: any character
    if stuff.startswith("!"):
        return f"[^{stuff[1:]}]"
    return f"[{stuff}]"


def alert_list(
    *,
    project: Project,
    state: str | None = None,
    severity: str | None = None,
    tool: str | None = None,
    rule: str | None = None,
    path: str | None = None,
    ref: str | None = None,
    q: str | None = None,
    ordering: str = ORDERINGS[0],
    now: datetime | None = None,
) -> QuerySet[Alert]:
    """The project's alerts, each annotated with ``shown_state``; ``severity`` is a minimum
    (``high``: critical and high), ``path`` a glob (see ``glob_regex``), ``q`` text in the
    message, the path or the rule."""
    now = now or timezone.now()
    dismissed = Dismissal.objects.filter(
        active(now), project_id=OuterRef("project_id"), fingerprint=OuterRef("fingerprint")
    )
    alerts = (
        Alert.objects.filter(project=project)
        .annotate(dismissed=Exists(dismissed))
        .annotate(
            shown_state=Case(
                When(dismissed=True, then=Value("dismissed")),
                default=F("state"),
                output_field=CharField(),
            )
        )
    )
    if state == "dismissed":
        alerts = alerts.filter(dismissed=True)
    elif state in AlertState.values:
        alerts = alerts.filter(dismissed=False, state=state)
    if severity is not None:
        alerts = alerts.filter(severity__in=SEVERITIES[: SEVERITIES.index(severity) + 1])
    if tool is not None:
        alerts = alerts.filter(tool=tool)
    if rule is not None:
        alerts = alerts.filter(rule_id=rule)
    if path is not None:
        alerts = alerts.filter(path_glob("path", path))
    if ref is not None:
        alerts = alerts.filter(ref=ref)
    if q:
        alerts = alerts.filter(
            Q(message__icontains=q) | Q(path__icontains=q) | Q(rule_id__icontains=q)
        )
    return alerts.order_by(*_order(ordering))


def alert_tools(*, project: Project) -> list[str]:
    """The tools the project's alerts come from, sorted: one index probe per tool (a skip
    scan of ``(project, tool)``), not a pass over every alert as ``DISTINCT`` would make."""
    table = connection.ops.quote_name(Alert._meta.db_table)
    project_id = Alert._meta.get_field("project").get_db_prep_value(project.pk, connection)
    # The table name comes from the model, quoted; the project is a parameter.
    sql = f"""
        WITH RECURSIVE tools(tool) AS (
            SELECT (SELECT tool FROM {table} WHERE project_id = %s ORDER BY tool LIMIT 1)
            UNION ALL
            SELECT (
                SELECT next.tool FROM {table} AS next
                WHERE next.project_id = %s AND next.tool > tools.tool
                ORDER BY next.tool LIMIT 1
            )
            FROM tools WHERE tools.tool IS NOT NULL
        )
        SELECT tool FROM tools WHERE tool IS NOT NULL
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [project_id, project_id])
        return [row[0] for row in cursor.fetchall()]


def _order(ordering: str) -> list[str | Combinable]:
    line = LINE_RANK
    if ordering == "path":
        return ["path", line, SEVERITY_RANK, "ref", "id"]
    if ordering in ("-last_seen", "last_seen", "-first_seen", "first_seen"):
        return [f"{ordering}_at", SEVERITY_RANK, "path", line, "id"]
    return [SEVERITY_RANK, "path", line, "ref", "id"]


def alert_get(*, project: Project, alert_id: UUID | str, now: datetime | None = None) -> Alert:
    """The project's alert, or 404 (the project was already checked to be the caller's)."""
    alert = alert_list(project=project, now=now).filter(pk=alert_id).first()
    if alert is None:
        raise NotFound("Alert not found.")
    return alert


def dismissals_of(
    *, project_id: UUID, fingerprints: Iterable[str], now: datetime | None = None
) -> dict[str, Dismissal]:
    """The dismissals in force for these fingerprints of the project."""
    dismissals = Dismissal.objects.filter(
        active(now or timezone.now()), project_id=project_id, fingerprint__in=set(fingerprints)
    ).select_related("dismissed_by")
    return {dismissal.fingerprint: dismissal for dismissal in dismissals}


def triage_history(*, alert: Alert) -> QuerySet[TriageAction]:
    """Every triage action on the alert's fingerprint in its project, newest first."""
    return TriageAction.objects.filter(
        project_id=alert.project_id, fingerprint=alert.fingerprint
    ).order_by("-created_at", "-id")
