"""What an endpoint receives: the event's JSON as documented (``json``), or a message for a
Slack-compatible incoming webhook (``slack``: ``{"text": …, "blocks": […]}``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .events import (
    ADVISORY_MATCHED,
    ALERT_NEW,
    GATE_FAILED,
    PING,
    SCAN_CANCELLED,
    SCAN_COMPLETED,
    SCAN_FAILED,
    Format,
)

SLACK_ALERTS_LISTED = 10


def render(format: str, payload: dict[str, Any]) -> bytes:
    """The body sent for ``payload`` in ``format``."""
    formatter = FORMATTERS[format]
    return json.dumps(formatter(payload), separators=(",", ":"), ensure_ascii=False).encode()


def as_json(payload: dict[str, Any]) -> dict[str, Any]:
    return payload


def _escape(text: str) -> str:
    """Slack's mrkdwn control characters, as its documentation asks."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _scan_line(data: dict[str, Any]) -> str:
    scan = data["scan"]
    return f"*{_escape(scan['project']['name'])}* `{_escape(scan['ref'])}` — scan {scan['id'][:8]}"


def _headline(payload: dict[str, Any]) -> str:
    event, data = payload["type"], payload["data"]
    org = _escape(payload["organization"]["name"])
    if event == PING:
        return f"scanpulse test message for {org}: this endpoint receives webhooks."
    if event in (SCAN_COMPLETED, SCAN_FAILED, SCAN_CANCELLED):
        scan = data["scan"]
        word = {SCAN_COMPLETED: "completed", SCAN_FAILED: "failed", SCAN_CANCELLED: "was cancelled"}
        return (
            f"Scan of {_escape(scan['project']['name'])} ({_escape(scan['ref'])}) {word[event]}"
            f": {scan['findings_count']} findings."
            if event == SCAN_COMPLETED
            else f"Scan of {_escape(scan['project']['name'])} ({_escape(scan['ref'])}) "
            f"{word[event]}."
        )
    if event == GATE_FAILED:
        scan = data["scan"]
        return (
            f"Quality gate failed for {_escape(scan['project']['name'])} ({_escape(scan['ref'])})."
        )
    if event == ALERT_NEW:
        scan = data["scan"]
        return (
            f"{data['total']} new alert{'s' if data['total'] != 1 else ''} at or above "
            f"{data['minimum_severity']} in {_escape(scan['project']['name'])} "
            f"({_escape(scan['ref'])})."
        )
    if event == ADVISORY_MATCHED and "scan" in data:
        scan = data["scan"]
        return (
            f"Advisory update: {data['total']} dependenc{'ies' if data['total'] != 1 else 'y'} "
            f"of {_escape(scan['project']['name'])} ({_escape(scan['ref'])}) newly affected."
        )
    if event == ADVISORY_MATCHED:
        return f"New advisory matched in {org}."
    return f"scanpulse event {event} for {org}."


def as_slack(payload: dict[str, Any]) -> dict[str, Any]:
    event, data = payload["type"], payload["data"]
    text = _headline(payload)
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    details: list[str] = []
    if "scan" in data:
        details.append(_scan_line(data))
        message = data["scan"].get("message")
        if message:
            details.append(_escape(message))
    gate = data.get("gate")
    if event == GATE_FAILED and gate:
        details += [f"• {_escape(reason)}" for reason in gate["reasons"]]
    if event == ALERT_NEW:
        for alert in data["alerts"][:SLACK_ALERTS_LISTED]:
            where = alert["path"] + (f":{alert['start_line']}" if alert["start_line"] else "")
            details.append(
                f"• *{alert['severity']}* {_escape(alert['rule_id'])} in `{_escape(where)}`"
            )
        more = data["total"] - min(len(data["alerts"]), SLACK_ALERTS_LISTED)
        if more > 0:
            details.append(f"… and {more} more.")
    if event == ADVISORY_MATCHED:
        for match in data.get("matches", [])[:SLACK_ALERTS_LISTED]:
            ids = ", ".join(advisory["id"] for advisory in match["advisories"])
            details.append(
                f"• *{match['alert']['severity']}* {_escape(match['package'])} "
                f"{_escape(match['version'])} in `{_escape(match['manifest'])}`: {_escape(ids)}"
            )
    if details:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(details)[:2900]}}
        )
    blocks.append(
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": f"{event} · {_escape(payload['organization']['name'])}"}
            ],
        }
    )
    return {"text": text, "blocks": blocks}


FORMATTERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    Format.JSON: as_json,
    Format.SLACK: as_slack,
}
