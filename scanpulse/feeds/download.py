"""Downloading one export over HTTPS: a conditional GET (``If-None-Match``,
``If-Modified-Since``) to an address the outbound rules allow, no redirects, a size limit.

The rules are those of repository locations (``scanpulse.pipeline.locations``): public
addresses, or what the operator allows (``SCANPULSE_GIT_ALLOWED_NETWORKS``), never a cloud
metadata service; the connection goes to the address checked, and TLS verifies the
certificate for the name in the URL (the system's CAs, or ``SCANPULSE_OSV_CA_BUNDLE``).
Plain HTTP only where the operator allows it (``SCANPULSE_OSV_ALLOW_HTTP``).
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

from scanpulse.pipeline.locations import Address, LocationRefused, NetworkPolicy, remote_of

CHUNK = 256 * 1024


class FeedError(Exception):
    """The export could not be fetched or used; ``str()`` says why, for the operator (never
    credentials: URLs with them are refused before any request)."""


@dataclass(frozen=True, slots=True)
class Outbound:
    """Where and how downloads may go."""

    policy: NetworkPolicy
    allow_http: bool = False
    ca_bundle: str = ""
    timeout: float = 60.0
    max_bytes: int = 1024**3


@dataclass(frozen=True, slots=True)
class Fetched:
    """``changed`` False: the server answered 304 and nothing was transferred."""

    changed: bool
    etag: str = ""
    last_modified: str = ""
    size: int = 0


def export_url(base_url: str, ecosystem: str) -> str:
    return f"{base_url.rstrip('/')}/{quote(ecosystem, safe='')}/all.zip"


def shown_url(url: str) -> str:
    """The URL as the pages show it: without a query (where signed URLs keep their keys)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def check_url(url: str, outbound: Outbound) -> None:
    """Refuse what may never be fetched, before any connection: another scheme, plain HTTP
    unless allowed, credentials in the URL."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises for an invalid port
    except ValueError:
        raise FeedError("The advisory feed URL is not a valid URL.") from None
    scheme = parts.scheme.lower()
    if scheme == "http" and not outbound.allow_http:
        raise FeedError(
            "The advisory feed URL must use https:// (plain http:// only with "
            "SCANPULSE_OSV_ALLOW_HTTP=true)."
        )
    if scheme not in ("https", "http") or not parts.hostname:
        raise FeedError("The advisory feed URL must be an https:// URL.")
    if parts.username is not None or parts.password is not None:
        raise FeedError("The advisory feed URL must not contain credentials.")


def _addresses(url: str, outbound: Outbound) -> tuple[str, int, tuple[Address, ...]]:
    try:
        remote = remote_of(url)
        assert remote is not None
        return remote.host, remote.port, outbound.policy.check(remote)
    except LocationRefused:
        raise FeedError(
            f"The advisory feed's host {urlsplit(url).hostname} could not be reached or is not "
            "allowed on this server (public addresses, or SCANPULSE_GIT_ALLOWED_NETWORKS)."
        ) from None


def _connection(
    scheme: str, host: str, port: int, address: Address, outbound: Outbound
) -> http.client.HTTPConnection:
    connection: http.client.HTTPConnection
    if scheme == "https":
        context = ssl.create_default_context(cafile=outbound.ca_bundle or None)
        connection = http.client.HTTPSConnection(
            host, port, timeout=outbound.timeout, context=context
        )
    else:
        connection = http.client.HTTPConnection(host, port, timeout=outbound.timeout)
    pinned = (str(address), port)

    def connect(
        _address: object, timeout: float = outbound.timeout, source: object = None
    ) -> socket.socket:
        return socket.create_connection(pinned, timeout)

    connection._create_connection = connect  # type: ignore[attr-defined]
    return connection


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "TLS certificate verification failed"
    if isinstance(exc, ssl.SSLError):
        return "TLS handshake failed"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, http.client.HTTPException):
        return "the answer was not valid HTTP"
    return "connection failed"


def fetch(
    url: str,
    destination: Path,
    outbound: Outbound,
    *,
    etag: str = "",
    last_modified: str = "",
    progress: Callable[[int, int | None], None] | None = None,
) -> Fetched:
    """Download ``url`` into ``destination`` unless it has not changed since the copy these
    validators describe. ``progress(bytes so far, total or None)`` as it arrives."""
    check_url(url, outbound)
    host, port, addresses = _addresses(url, outbound)
    parts = urlsplit(url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    headers = {"Host": parts.netloc, "Accept-Encoding": "identity", "User-Agent": "scanpulse"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    problem = "no address to connect to"
    for address in addresses:
        connection = _connection(parts.scheme.lower(), host, port, address, outbound)
        try:
            connection.request("GET", target, headers=headers)
            answer = connection.getresponse()
            if answer.status == 304:
                return Fetched(False, etag, last_modified)
            if answer.status != 200:
                what = "redirect not followed" if 300 <= answer.status < 400 else "refused"
                raise FeedError(
                    f"The advisory feed answered {answer.status} ({what}) for {shown_url(url)}."
                )
            length = answer.getheader("Content-Length")
            total = int(length) if length and length.isdigit() else None
            if total is not None and total > outbound.max_bytes:
                raise FeedError(
                    f"The export {shown_url(url)} is {total:,} bytes, more than the limit of "
                    f"{outbound.max_bytes:,} (SCANPULSE_OSV_MAX_BYTES)."
                )
            size = 0
            with destination.open("wb") as out:
                while chunk := answer.read(CHUNK):
                    size += len(chunk)
                    if size > outbound.max_bytes:
                        raise FeedError(
                            f"The export {shown_url(url)} is larger than the limit of "
                            f"{outbound.max_bytes:,} bytes (SCANPULSE_OSV_MAX_BYTES)."
                        )
                    out.write(chunk)
                    if progress is not None:
                        progress(size, total)
            if total is not None and size != total:
                raise FeedError(f"The download of {shown_url(url)} was cut short.")
            return Fetched(
                True,
                answer.getheader("ETag") or "",
                answer.getheader("Last-Modified") or "",
                size,
            )
        except (OSError, http.client.HTTPException) as exc:
            problem = _describe(exc)
            if isinstance(exc, ConnectionRefusedError):
                continue
            break
        finally:
            connection.close()
    raise FeedError(f"The advisory feed {shown_url(url)} could not be downloaded: {problem}.")
