"""Where a webhook may be sent: the SSRF rules of repository locations
(``scanpulse.pipeline.locations``), checked when an endpoint is saved and again right before
each attempt, which then connects to the very address it checked (a name that resolves
elsewhere a moment later — DNS rebinding — changes nothing)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from scanpulse.pipeline.locations import Address, LocationRefused, Remote, remote_of
from scanpulse.projects.validation import network_policy

MAX_URL = 2000
SCHEMES = ("https", "http")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")

# One message whatever the reason: which addresses are internal must not be learnable.
DESTINATION_REFUSED = "The webhook's host could not be reached or is not allowed on this server."


class DestinationRefused(ValueError):
    """The URL may not be used; ``str()`` is a user-facing message (never the URL itself)."""


@dataclass(frozen=True, slots=True)
class Destination:
    url: str
    remote: Remote
    host_header: str  # host[:port] as in the URL
    target: str  # path and query, what the request line asks for


def parse(url: str) -> Destination:
    """The URL's parts, its form checked (not its host's addresses: ``check``)."""
    if not url or len(url) > MAX_URL:
        raise DestinationRefused(f"A webhook URL of at most {MAX_URL} characters is required.")
    if _CONTROL.search(url):
        raise DestinationRefused("Spaces and control characters are not allowed in the URL.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises for an invalid port
    except ValueError as exc:
        raise DestinationRefused("This is not a valid URL.") from exc
    if parts.scheme.lower() not in SCHEMES or not parts.hostname:
        raise DestinationRefused("Use an https:// (or http://) URL.")
    if parts.username is not None or parts.password is not None:
        raise DestinationRefused("Credentials before the host are not allowed in the URL.")
    if parts.fragment:
        raise DestinationRefused("A URL fragment (#…) is not sent; remove it.")
    try:
        remote = remote_of(url)
    except LocationRefused as exc:
        raise DestinationRefused(str(exc)) from None
    assert remote is not None
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return Destination(url=url, remote=remote, host_header=parts.netloc, target=target)


def check(destination: Destination, *, unresolved_ok: bool = False) -> tuple[Address, ...]:
    """The addresses the destination may be reached at, every one of them allowed: public,
    or in the operator's allow-list (``SCANPULSE_GIT_ALLOWED_NETWORKS``); never a cloud
    metadata service. ``DestinationRefused`` otherwise, or when the name does not resolve
    (unless ``unresolved_ok``: the empty tuple then)."""
    try:
        return network_policy().check(destination.remote, unresolved_ok=unresolved_ok)
    except LocationRefused:
        raise DestinationRefused(DESTINATION_REFUSED) from None


def shown(url: str) -> str:
    """The URL as pages and answers show it: scheme, host, port and the first path segment;
    the rest of the path and the query (where such addresses keep their tokens) hidden."""
    parts = urlsplit(url)
    segments = [segment for segment in parts.path.split("/") if segment]
    path = "/" + segments[0] if segments else ""
    hidden = len(segments) > 1 or bool(parts.query)
    return f"{parts.scheme.lower()}://{parts.netloc}{path}{'/…' if hidden else ''}"[:300]
