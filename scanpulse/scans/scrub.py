"""Secrets that earlier versions stored in clear or reversibly, scrubbed in place with their
identities carried over. The data migration ``scans.0003_redact_secrets`` runs this, and so
does ``scanpulse scrub_secrets``, for rows that workers still on the previous version wrote
during a rolling upgrade.

- Findings of the secrets analyzer kept detect-secrets' SHA-1 of the secret and a mask showing
  its first and last four characters; the SHA-1 was also their snippet, so it was in their
  fingerprint. They get the keyed identifier (computed from that SHA-1), the mask (computed
  from the old one) and the fingerprint a scan computes now: the next scan sees them unchanged.
- Findings of bandit's hard-coded password checks quoted the password in their message. They
  get the masked message, the identifier, the mask and the fingerprint a scan computes now
  (the password is read from the old message).
- Stored SARIF reports of those scans are rewritten, result by result, to match.
- Per-file analysis cache entries holding such findings are deleted: some hold passwords in
  clear, and none can be hit again (the analyzers' cache keys changed).

Rows are recognised by what they hold, so running this again only touches rows still in the
old form. Models come from ``apps``: the registry a migration is given, or Django's own.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from scanpulse.analyzers.bandit import SECRET_CHECKS, quoted_secret
from scanpulse.analyzers.base import AnalyzerFinding
from scanpulse.analyzers.redaction import mask, secret_id, secret_sha1
from scanpulse.core.keys import secret_id_key
from scanpulse.pipeline.fingerprints import assign_fingerprints, primary_location_line_hash
from scanpulse.pipeline.sarif import FINGERPRINT_KEY

logger = logging.getLogger(__name__)

_BATCH = 500
_RUNS = '"runs":['
_RESULTS = ',"results":['
_INVOCATIONS = '],"invocations":'


@dataclass(frozen=True, slots=True)
class Scrubbed:
    findings: int = 0
    reports: int = 0
    cache_entries: int = 0


@dataclass(slots=True)
class _Redacted:
    """One finding row's new content."""

    row: Any
    message: str
    properties: dict[str, Any]
    snippet: str
    fingerprint: str = ""
    line_hash: str = ""


def _remask(old: str) -> str:
    """The mask from the old one, which kept the length and, from 12 characters on, the first
    and last four characters (the new one shows fewer, and none under 16)."""
    if len(old) < 16:
        return mask("")
    return mask(old[:4] + "*" * (len(old) - 8) + old[-4:])


def _redacted(row: Any, key: bytes) -> _Redacted | None:
    """The row's new message, properties and snippet, or None when it holds nothing to redact."""
    properties = dict(row.properties or {})
    if "secret_id" in properties:
        return None
    if row.tool == "secrets":
        sha1 = properties.pop("secret_hash", None)
        if not isinstance(sha1, str):
            return None
        identifier = secret_id(key, sha1)
        properties["masked_secret"] = _remask(str(properties.get("masked_secret", "")))
        properties["secret_id"] = identifier
        return _Redacted(row, row.message, properties, identifier)
    head, value = quoted_secret(row.message)
    identifier = secret_id(key, secret_sha1(value))
    properties["masked_secret"] = mask(value)
    properties["secret_id"] = identifier
    return _Redacted(row, f"{head}: {mask(value)}", properties, identifier)


def _identify(tool: str, redacted: list[_Redacted]) -> None:
    """Fingerprints as the pipeline computes them, for the rows of one tool in one scan.

    A scan's own rows are numbered as the pipeline numbers them (by line, then report order);
    rows carried over as fixed from the scan before come after them, so no two rows of a scan
    share a fingerprint.
    """
    groups: defaultdict[tuple[str, str, str], list[_Redacted]] = defaultdict(list)
    for item in redacted:
        groups[(item.row.rule_id, item.row.path, item.snippet)].append(item)
    for members in groups.values():
        members.sort(
            key=lambda item: (
                item.row.status == "fixed",
                item.row.start_line or 0,
                item.row.position,
            )
        )
        # Lines numbered in this order give exactly these occurrence indexes.
        findings = [
            AnalyzerFinding(
                rule_id=item.row.rule_id,
                severity="info",
                confidence="low",
                path=item.row.path,
                start_line=index + 1,
                end_line=index + 1,
                message="",
                snippet=item.snippet,
            )
            for index, item in enumerate(members)
        ]
        for index, (item, fingerprint) in enumerate(
            zip(members, assign_fingerprints(tool, findings), strict=True)
        ):
            item.fingerprint = fingerprint
            item.line_hash = primary_location_line_hash(item.snippet, index)
            item.properties["occurrence"] = index


def _rewrite_report(report: Any, changes: dict[tuple[str, str], _Redacted]) -> None:
    """Rewrite the results of ``changes`` (by tool and old fingerprint) in a stored report, one
    result at a time: inflated, a report can be many times larger than stored."""
    text = gzip.decompress(bytes(report.sarif_gzip)).decode("ascii")
    decoder = json.JSONDecoder()
    # The report is compact JSON: outside strings, '"runs":[' and ',"results":[' are keys (in a
    # string every quote is escaped).
    position = text.index(_RUNS) + len(_RUNS)
    pieces = [text[:position]]
    while text[position] != "]":
        if text[position] == ",":
            pieces.append(",")
            position += 1
        head_end = text.index(_RESULTS, position)
        tool = json.loads(text[position:head_end] + "}")["tool"]["driver"]["name"]
        pieces.append(text[position : head_end + len(_RESULTS)])
        position = head_end + len(_RESULTS)
        while text[position] != "]":
            if text[position] == ",":
                pieces.append(",")
                position += 1
            result, position = decoder.raw_decode(text, position)
            change = changes.get((tool, result.get("fingerprints", {}).get(FINGERPRINT_KEY)))
            if change is not None:
                result["message"]["text"] = change.message
                result["fingerprints"][FINGERPRINT_KEY] = change.fingerprint
                result["partialFingerprints"]["primaryLocationLineHash"] = change.line_hash
                properties = result.get("properties", {})
                properties.pop("secret_hash", None)
                properties["masked_secret"] = change.properties["masked_secret"]
                properties["secret_id"] = change.properties["secret_id"]
            pieces.append(json.dumps(result, ensure_ascii=True, separators=(",", ":")))
        _, end = decoder.raw_decode(text, position + len(_INVOCATIONS))
        pieces.append(text[position : end + 1])  # the invocations and the run's closing brace
        position = end + 1
    pieces.append(text[position:])
    document = "".join(pieces).encode("ascii")
    report.sarif_gzip = gzip.compress(document, compresslevel=6, mtime=0)
    report.size = len(document)
    report.save(update_fields=["sarif_gzip", "size"])


def _scrub_scan(apps: Any, scan_id: Any, rows: list[Any], key: bytes) -> tuple[int, int]:
    redacted = [item for item in (_redacted(row, key) for row in rows) if item is not None]
    if not redacted:
        return 0, 0
    for tool in {item.row.tool for item in redacted}:
        _identify(tool, [item for item in redacted if item.row.tool == tool])
    changes = {(item.row.tool, item.row.fingerprint): item for item in redacted}
    for item in redacted:
        item.row.message = item.message
        item.row.properties = item.properties
        item.row.fingerprint = item.fingerprint
    Finding = apps.get_model("scans", "Finding")
    Finding.objects.bulk_update(
        [item.row for item in redacted], ["message", "properties", "fingerprint"], batch_size=_BATCH
    )
    report = apps.get_model("scans", "ScanReport").objects.filter(scan_id=scan_id).first()
    if report is not None:
        try:
            _rewrite_report(report, changes)
        except (ValueError, KeyError, IndexError, TypeError, OSError, EOFError):
            # Not laid out as this version writes reports: rather no report than a secret in
            # one. A new scan writes a new report.
            logger.warning(
                "the SARIF report of scan %s could not be rewritten and was deleted", scan_id
            )
            report.delete()
    return len(redacted), int(report is not None)


def _holds_secrets(payload: Any) -> bool:
    for finding in payload if isinstance(payload, list) else []:
        if not isinstance(finding, dict):
            continue
        properties = finding.get("properties") or {}
        if "secret_id" in properties:
            continue
        if finding.get("rule_id") in SECRET_CHECKS or "secret_hash" in properties:
            return True
    return False


def scrub_stored_secrets(apps: Any) -> Scrubbed:
    """Scrub every finding, report and cache entry still holding a secret the old way."""
    key = secret_id_key()
    Finding = apps.get_model("scans", "Finding")
    candidates = Finding.objects.filter(tool="secrets") | Finding.objects.filter(
        tool="bandit", rule_id__in=SECRET_CHECKS
    )
    findings = reports = 0
    scan_ids = list(candidates.order_by().values_list("scan_id", flat=True).distinct())
    for scan_id in scan_ids:
        with transaction.atomic():
            rows = list(candidates.filter(scan_id=scan_id).select_for_update())
            changed, rewritten = _scrub_scan(apps, scan_id, rows, key)
        findings += changed
        reports += rewritten

    AnalysisCacheEntry = apps.get_model("scans", "AnalysisCacheEntry")
    entries = AnalysisCacheEntry.objects.values_list("key", "payload").iterator(chunk_size=_BATCH)
    doomed = [entry for entry, payload in entries if _holds_secrets(payload)]
    for start in range(0, len(doomed), _BATCH):
        AnalysisCacheEntry.objects.filter(key__in=doomed[start : start + _BATCH]).delete()
    return Scrubbed(findings=findings, reports=reports, cache_entries=len(doomed))
