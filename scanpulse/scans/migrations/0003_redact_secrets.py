"""Secrets stored before findings were redacted: scrubbed in place, identities carried over.

- Findings of the secrets analyzer kept detect-secrets' SHA-1 of the secret and a mask showing
  its first and last four characters; the SHA-1 was also their snippet, so their fingerprint.
  They get the keyed identifier (computed from that SHA-1) and the new mask (computed from the
  old one), and the fingerprint a scan computes now: the first scan after the upgrade sees
  them unchanged.
- Findings of bandit's hard-coded password checks (B105-B107) quoted the password in their
  message. They get the masked message, the identifier and mask, and the fingerprint a scan
  computes now (the password is read from the old message).
- Stored SARIF reports of those scans are rewritten result by result to match.
- Per-file analysis cache entries holding such findings are deleted: some hold passwords in
  clear, and none can be hit again (the analyzers' cache keys changed).

Everything needed is computed here as the code computed it when this migration was written,
except the key, which is the deployment's (``scanpulse.core.keys.secret_id_key``).
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import re
from collections import defaultdict
from typing import Any

from django.db import migrations

SECRET_CHECKS = ("B105", "B106", "B107")
_OLD_PASSWORD_MESSAGE = re.compile(r"(?P<head>[^:]*): '(?P<value>.*)'", re.DOTALL)
_MASK = "*" * 8
_RESULTS = ',"results":['
_INVOCATIONS = '],"invocations":'
_BATCH = 500


def _mask(secret: str) -> str:
    shown = min(len(secret) // 16, 4)
    return _MASK if shown == 0 else secret[:shown] + _MASK + secret[-shown:]


def _remask(old: str) -> str:
    """The new mask from the old one, which kept the length and four characters at each end
    from 12 characters on (the new one shows at most four, and only from 16 on)."""
    if len(old) < 16:
        return _MASK
    return _mask(old[:4] + "?" * (len(old) - 8) + old[-4:])


def _secret_id(key: bytes, sha1: str) -> str:
    return hmac.new(key, sha1.encode("ascii"), hashlib.sha256).hexdigest()[:32]


def _fingerprint(tool: str, rule_id: str, path: str, snippet: str, occurrence: int) -> str:
    payload = json.dumps(
        [tool, rule_id, path, " ".join(snippet.split()), occurrence],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _line_hash(snippet: str, occurrence: int) -> str:
    digest = hashlib.sha256(" ".join(snippet.split()).encode("utf-8", "surrogatepass"))
    return f"{digest.hexdigest()[:16]}:{occurrence + 1}"


def _redacted(row: Any, key: bytes) -> tuple[str, dict[str, Any], str] | None:
    """The row's new message, properties and snippet, or None when it holds nothing to redact."""
    properties = dict(row.properties or {})
    if "secret_id" in properties:
        return None  # redacted already
    if row.tool == "secrets":
        sha1 = properties.pop("secret_hash", None)
        if not isinstance(sha1, str):
            return None
        identifier = _secret_id(key, sha1)
        properties["masked_secret"] = _remask(str(properties.get("masked_secret", "")))
        properties["secret_id"] = identifier
        return row.message, properties, identifier
    match = _OLD_PASSWORD_MESSAGE.fullmatch(row.message)
    head, value = (
        (match["head"], match["value"]) if match else ("Possible hardcoded password", row.message)
    )
    sha1 = hashlib.sha1(value.encode("utf-8", "surrogatepass")).hexdigest()  # noqa: S324
    identifier = _secret_id(key, sha1)
    properties["masked_secret"] = _mask(value)
    properties["secret_id"] = identifier
    return f"{head}: {_mask(value)}", properties, identifier


def _occurrences(rows: list[Any], snippets: dict[Any, str]) -> dict[Any, int]:
    """Occurrence indexes as the pipeline numbers them: per rule, path and snippet, by line,
    then report order. Rows carried over as fixed come after the scan's own, so that no two
    rows of a scan share a fingerprint."""
    taken: defaultdict[tuple[str, str, str, str], int] = defaultdict(int)
    indexes: dict[Any, int] = {}
    for fixed in (False, True):
        group = [row for row in rows if (row.status == "fixed") == fixed]
        group.sort(key=lambda row: (row.start_line or 0, row.position))
        for row in group:
            key = (row.tool, row.rule_id, row.path, snippets[row.pk])
            indexes[row.pk] = taken[key]
            taken[key] += 1
    return indexes


def _rewrite_report(report: Any, changes: dict[tuple[str, str], dict[str, Any]]) -> None:
    """Rewrite the results of ``changes`` (by tool and old fingerprint) in a stored report, one
    result at a time: a report can be far larger inflated than it is stored."""
    text = gzip.decompress(bytes(report.sarif_gzip)).decode("ascii")
    decoder = json.JSONDecoder()
    pieces: list[str] = []
    start = text.index('"runs":[') + len('"runs":[')
    pieces.append(text[:start])
    position = start
    while text[position] != "]":
        if text[position] == ",":
            pieces.append(",")
            position += 1
        # Outside strings only: inside one, every quote is escaped.
        head_end = text.index(_RESULTS, position) + len(_RESULTS)
        head = json.loads(text[position : head_end - len(_RESULTS)] + "}")
        tool = head["tool"]["driver"]["name"]
        pieces.append(text[position:head_end])
        position = head_end
        while text[position] != "]":
            if text[position] == ",":
                pieces.append(",")
                position += 1
            result, position = decoder.raw_decode(text, position)
            change = changes.get((tool, result.get("fingerprints", {}).get("scanpulse/v1", "")))
            if change is not None:
                result["message"]["text"] = change["message"]
                result["fingerprints"]["scanpulse/v1"] = change["fingerprint"]
                result["partialFingerprints"]["primaryLocationLineHash"] = change["line_hash"]
                properties = {
                    name: value
                    for name, value in result.get("properties", {}).items()
                    if name != "secret_hash"
                }
                properties["masked_secret"] = change["properties"]["masked_secret"]
                properties["secret_id"] = change["properties"]["secret_id"]
                result["properties"] = properties
            pieces.append(json.dumps(result, ensure_ascii=True, separators=(",", ":")))
        invocations_start = position + len(_INVOCATIONS)
        _, end = decoder.raw_decode(text, invocations_start)
        pieces.append(text[position : end + 1])  # the invocations and the run's closing brace
        position = end + 1
    pieces.append(text[position:])
    document = "".join(pieces)
    report.sarif_gzip = gzip.compress(document.encode("ascii"), compresslevel=6, mtime=0)
    report.size = len(document)
    report.save(update_fields=["sarif_gzip", "size"])


def redact_findings(apps: Any, schema_editor: Any) -> None:
    from scanpulse.core.keys import secret_id_key

    Finding = apps.get_model("scans", "Finding")
    ScanReport = apps.get_model("scans", "ScanReport")
    key = secret_id_key()
    affected = Finding.objects.filter(tool="secrets") | Finding.objects.filter(
        tool="bandit", rule_id__in=SECRET_CHECKS
    )
    scan_ids = affected.order_by().values_list("scan_id", flat=True).distinct()
    for scan_id in list(scan_ids):
        redacted = {}
        for row in affected.filter(scan_id=scan_id):
            new = _redacted(row, key)
            if new is not None:
                redacted[row.pk] = (row, *new)
        if not redacted:
            continue
        rows = [row for row, *_ in redacted.values()]
        occurrences = _occurrences(rows, {pk: new[3] for pk, new in redacted.items()})
        changes: dict[tuple[str, str], dict[str, Any]] = {}
        for row, message, properties, snippet in redacted.values():
            occurrence = occurrences[row.pk]
            fingerprint = _fingerprint(row.tool, row.rule_id, row.path, snippet, occurrence)
            properties["occurrence"] = occurrence
            changes[(row.tool, row.fingerprint)] = {
                "message": message,
                "fingerprint": fingerprint,
                "line_hash": _line_hash(snippet, occurrence),
                "properties": properties,
            }
            row.message, row.properties, row.fingerprint = message, properties, fingerprint
        Finding.objects.bulk_update(
            rows, ["message", "properties", "fingerprint"], batch_size=_BATCH
        )
        report = ScanReport.objects.filter(scan_id=scan_id).first()
        if report is not None:
            _rewrite_report(report, changes)


def _holds_secrets(payload: Any) -> bool:
    for finding in payload if isinstance(payload, list) else []:
        if not isinstance(finding, dict):
            continue
        properties = finding.get("properties") or {}
        if finding.get("rule_id") in SECRET_CHECKS or "secret_hash" in properties:
            return True
    return False


def drop_cached_secrets(apps: Any, schema_editor: Any) -> None:
    AnalysisCacheEntry = apps.get_model("scans", "AnalysisCacheEntry")
    doomed: list[str] = []
    for key, payload in AnalysisCacheEntry.objects.values_list("key", "payload").iterator(
        chunk_size=_BATCH
    ):
        if _holds_secrets(payload):
            doomed.append(key)
    for start in range(0, len(doomed), _BATCH):
        AnalysisCacheEntry.objects.filter(key__in=doomed[start : start + _BATCH]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("scans", "0002_scan_enqueued_at"),
    ]

    operations = [
        # Irreversible in substance: what was scrubbed is gone.
        migrations.RunPython(redact_findings, migrations.RunPython.noop),
        migrations.RunPython(drop_cached_secrets, migrations.RunPython.noop),
    ]
