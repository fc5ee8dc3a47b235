"""A local HTTPS server serving OSV ecosystem exports (``/<ecosystem>/all.zip``) as the OSV
bucket does: ``ETag`` and ``Last-Modified`` on every answer, ``304 Not Modified`` for a
matching ``If-None-Match`` (or, without one, an ``If-Modified-Since`` not older than the copy),
with every request recorded. Its certificate is self-signed, made here with ``cryptography``;
the test trusts it through ``SCANPULSE_OSV_CA_BUNDLE``."""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import ssl
import threading
import zipfile
from dataclasses import dataclass
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support.private_git import self_signed_certificate

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost and its key, as PEM files."""
    return self_signed_certificate(directory, prefix="feed-")


def fixture_records(*folders: str) -> dict[str, dict[str, Any]]:
    """The fixture set's records under ``folders`` (e.g. ``osv-go``), by id."""
    records = {}
    for folder in folders:
        for path in sorted((FIXTURES / folder).rglob("*.json")):
            data = json.loads(path.read_text())
            records[data["id"]] = data
    return records


def export_zip(records: dict[str, dict[str, Any]]) -> bytes:
    """An OSV ``all.zip``: one ``<id>.json`` member per record."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for osv_id, record in sorted(records.items()):
            archive.writestr(f"{osv_id}.json", json.dumps(record, indent=1))
    return buffer.getvalue()


@dataclass(frozen=True, slots=True)
class Seen:
    path: str
    status: int
    body_bytes: int
    if_none_match: str | None
    if_modified_since: str | None


@dataclass(slots=True)
class _Export:
    body: bytes
    etag: str
    modified: datetime.datetime


class FeedServer:
    """``put(ecosystem, body)`` publishes a new copy of an export; ``requests`` lists what was
    asked and answered."""

    def __init__(self, directory: Path, *, tls: bool = True) -> None:
        self.exports: dict[str, _Export] = {}
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        self.cert_path: Path | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server._answer(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls:
            self.cert_path, key_path = self_signed(directory)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.cert_path, key_path)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.base_url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def put(self, ecosystem: str, body: bytes) -> None:
        with self._lock:
            previous = self.exports.get(ecosystem)
            modified = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
            if previous is not None and modified <= previous.modified:
                modified = previous.modified + datetime.timedelta(seconds=1)
            etag = '"' + hashlib.md5(body).hexdigest() + '"'  # noqa: S324 - as GCS does
            self.exports[ecosystem] = _Export(body, etag, modified)

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        ecosystem, _, rest = handler.path.lstrip("/").partition("/")
        with self._lock:
            export = self.exports.get(ecosystem) if rest == "all.zip" else None
        if_none_match = handler.headers.get("If-None-Match")
        if_modified_since = handler.headers.get("If-Modified-Since")
        if export is None:
            status, body = 404, b"not found"
        elif if_none_match is not None:
            status, body = (304, b"") if if_none_match == export.etag else (200, export.body)
        elif (
            if_modified_since is not None
            and parsedate_to_datetime(if_modified_since) >= export.modified
        ):
            status, body = 304, b""
        else:
            status, body = 200, export.body
        handler.send_response(status)
        if export is not None:
            handler.send_header("ETag", export.etag)
            handler.send_header("Last-Modified", format_datetime(export.modified, usegmt=True))
        if status != 304:
            handler.send_header("Content-Type", "application/zip")
            handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if body:
            handler.wfile.write(body)
        with self._lock:
            self.requests.append(
                Seen(handler.path, status, len(body), if_none_match, if_modified_since)
            )

    def __enter__(self) -> FeedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
