"""What the fault tests see of the topology: the public API and live viewers, through nginx."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.repos import make_repo
from tests.support.sse import StreamParser

TERMINAL = ("completed", "failed", "cancelled")
# What the TLS load balancer in front of nginx adds to every request (see conftest.py).
THROUGH_TLS = {"X-Forwarded-Proto": "https"}


class Api:
    """A user with a token, talking to the topology's public URL."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.token = token
        self.client = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}", **THROUGH_TLS},
            timeout=httpx.Timeout(30, connect=5),
        )

    def close(self) -> None:
        self.client.close()

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request; a 429 (rate limit) is waited out as its Retry-After says."""
        for _ in range(20):
            response = self.client.request(method, url, **kwargs)
            if response.status_code != 429:
                return response
            time.sleep(min(5.0, float(response.headers.get("retry-after") or 1)))
        return response

    def _json(self, response: httpx.Response, *expected: int) -> Any:
        assert response.status_code in expected, (response.status_code, response.text[:500])
        return response.json()

    def project(self, name: str, repo_url: str) -> str:
        created = self._send("POST", "/api/projects/", json={"name": name, "repo_url": repo_url})
        return str(self._json(created, 201)["id"])

    def start_scan(self, project: str) -> dict[str, Any]:
        return dict(self._json(self._send("POST", "/api/scans/", json={"project": project}), 201))

    def scan(self, scan_id: str) -> dict[str, Any]:
        return dict(self._json(self._send("GET", f"/api/scans/{scan_id}/"), 200))

    def scans(self, project: str) -> list[dict[str, Any]]:
        """Every scan of a project (one request per 500)."""
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            listing = self._json(
                self._send(
                    "GET",
                    "/api/scans/",
                    params={"project": project, "page_size": 500, "page": page},
                ),
                200,
            )
            found.extend(listing["results"])
            if not listing.get("next"):
                return found
            page += 1

    def cancel(self, scan_id: str) -> dict[str, Any]:
        return dict(self._json(self._send("POST", f"/api/scans/{scan_id}/cancel"), 200, 202))

    def events(self, scan_id: str) -> list[dict[str, Any]]:
        """The scan's whole log, through the polling endpoint."""
        events: list[dict[str, Any]] = []
        while True:
            page = self._json(
                self._send(
                    "GET",
                    f"/api/scans/{scan_id}/events",
                    params={"after": events[-1]["seq"] if events else 0, "limit": 500},
                ),
                200,
            )
            events.extend(page["events"])
            if not page["events"]:
                return events

    def findings_count(self, scan_id: str) -> int:
        page = self._json(
            self._send("GET", f"/api/scans/{scan_id}/findings/", params={"page_size": 1}), 200
        )
        return int(page["count"])

    def wait(self, scan_id: str, timeout: float, *, until: Any = None) -> dict[str, Any]:
        """Poll until the scan is terminal (or ``until(scan)``); fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        scan: dict[str, Any] = {}
        while time.monotonic() < deadline:
            try:
                scan = self.scan(scan_id)
            except (httpx.HTTPError, AssertionError):
                time.sleep(0.2)  # a node or the database may be down right now
                continue
            if (until or (lambda s: s["status"] in TERMINAL))(scan):
                return scan
            time.sleep(0.2)
        raise AssertionError(f"scan {scan_id} still {scan.get('status')} after {timeout} s")

    def wait_for_event(self, scan_id: str, predicate: Any, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events(scan_id):
                if predicate(event):
                    return event
            time.sleep(0.2)
        raise AssertionError(f"no such event in scan {scan_id} after {timeout} s")


def is_log(event: dict[str, Any], text: str) -> bool:
    return event["kind"] == "log" and text in event["data"].get("message", "")


@dataclass
class Received:
    seq: int
    kind: str
    data: dict[str, Any]
    at: float  # time.monotonic() on arrival


@dataclass
class Viewer:
    """One browser tab on a scan: reads its stream through nginx and, like ``EventSource``,
    reconnects with ``Last-Event-ID`` after any break until the terminal event (or a 204)."""

    base_url: str
    token: str
    scan_id: str
    timeout: float = 120.0
    retry_seconds: float = 0.25  # EventSource would wait the server's retry hint (2 s)
    received: list[Received] = field(default_factory=list)
    connections: int = 0
    breaks: list[str] = field(default_factory=list)
    anomalies: list[str] = field(default_factory=list)
    ended_by: str = ""
    _thread: threading.Thread | None = None

    def start(self) -> Viewer:
        self._thread = threading.Thread(
            target=self._run, daemon=True, name=f"viewer-{self.scan_id[:8]}"
        )
        self._thread.start()
        return self

    def join(self, timeout: float) -> None:
        assert self._thread is not None
        self._thread.join(timeout)
        assert not self._thread.is_alive(), (
            f"viewer of {self.scan_id} still reading: {self.summary()}"
        )

    @property
    def seqs(self) -> list[int]:
        return [event.seq for event in self.received]

    @property
    def last_seq(self) -> int:
        return self.received[-1].seq if self.received else 0

    def summary(self) -> str:
        return (
            f"{len(self.received)} events, last {self.last_seq}, {self.connections} connections, "
            f"breaks {self.breaks[-3:]}, anomalies {self.anomalies[-3:]}, ended by {self.ended_by!r}"
        )

    def _run(self) -> None:
        deadline = time.monotonic() + self.timeout
        with httpx.Client(timeout=httpx.Timeout(30, connect=5)) as client:
            while time.monotonic() < deadline:
                try:
                    if self._connect(client):
                        return
                except httpx.HTTPError as exc:
                    self.breaks.append(type(exc).__name__)
                time.sleep(self.retry_seconds)
        self.ended_by = "timeout"

    def _connect(self, client: httpx.Client) -> bool:
        """One connection; True once the scan's stream is over for good."""
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Last-Event-ID": str(self.last_seq),
            **THROUGH_TLS,
        }
        url = f"{self.base_url}/api/scans/{self.scan_id}/progress"
        with client.stream("GET", url, headers=headers) as response:
            self.connections += 1
            if response.status_code == 204:
                self.ended_by = "204"
                return True
            if response.status_code != 200:
                self.breaks.append(f"HTTP {response.status_code}")
                return False
            parser = StreamParser()
            delivered = 0
            for chunk in response.iter_raw():
                parser.feed(chunk)
                for event in parser.events[delivered:]:
                    delivered += 1
                    if not event.last_event_id.isdigit() or event.type in ("reset", "snapshot"):
                        self.anomalies.append(f"{event.type} id={event.last_event_id!r}")
                        continue
                    payload = json.loads(event.data)
                    self.received.append(
                        Received(
                            int(event.last_event_id), event.type, payload["data"], time.monotonic()
                        )
                    )
                    if event.type in TERMINAL:
                        self.ended_by = event.type
                        return True
            self.breaks.append("closed")
            return False


def assert_gap_free(events: list[dict[str, Any]]) -> None:
    """The log a user reads: numbered 1..N without a hole, one terminal event, at the end."""
    seqs = [event["seq"] for event in events]
    assert seqs == list(range(1, len(seqs) + 1)), seqs
    terminal = [event for event in events if event["kind"] in TERMINAL]
    assert len(terminal) == 1, [event["kind"] for event in terminal]
    assert events[-1]["kind"] in TERMINAL


def assert_saw_everything_once(viewer: Viewer, scan: dict[str, Any]) -> None:
    assert viewer.anomalies == [], viewer.summary()
    assert viewer.seqs == list(range(1, scan["last_event_id"] + 1)), viewer.summary()
    assert viewer.received[-1].kind == scan["status"], viewer.summary()


def source_repo(path: Path, files: int, extra: dict[str, str] | None = None) -> Path:
    """A repository of ``files`` small Python files (the paced analyzer takes a known time
    per file and reports one finding for each)."""
    content = {f"pkg/module_{index:03d}.py": f"VALUE = {index}\n" for index in range(files)}
    return make_repo(path, {**content, **(extra or {})})
