"""The one place that decides whether a scan's findings are new, unchanged or fixed, by
comparing fingerprints with the previous completed scan of the same project and ref."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

# Whether a finding of this scan was in the previous one (``scans.models.FindingStatus`` adds
# "fixed", for the previous findings now gone).
Recurrence = Literal["new", "unchanged"]


@dataclass(frozen=True, slots=True)
class Classification:
    """``statuses[i]`` belongs to ``current[i]``; ``fixed`` lists previous fingerprints now gone."""

    statuses: tuple[Recurrence, ...]
    fixed: tuple[str, ...]


def classify(previous: Iterable[str], current: Sequence[str]) -> Classification:
    """Classify ``current`` fingerprints against ``previous`` ones.

    ``previous`` holds the fingerprints of the previous completed scan of the same project and
    ref, without those already marked fixed there (a finding fixed earlier and back now is new
    again). ``fixed`` keeps the order of ``previous`` and lists each fingerprint once.
    """
    current_set = set(current)
    previous_unique = dict.fromkeys(previous)
    statuses: tuple[Recurrence, ...] = tuple(
        "unchanged" if fp in previous_unique else "new" for fp in current
    )
    fixed = tuple(fp for fp in previous_unique if fp not in current_set)
    return Classification(statuses=statuses, fixed=fixed)
