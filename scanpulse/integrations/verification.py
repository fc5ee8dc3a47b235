"""Whether a delivery comes from the organization's webhook: the host proves it knows the
organization's inbound secret, each host its own way, compared in constant time.

- GitHub: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>``.
- Gitea and Forgejo: ``X-Gitea-Signature`` (or ``X-Forgejo-Signature``): the hex HMAC-SHA256
  of the body.
- GitLab: ``X-Gitlab-Token``: the secret itself (GitLab signs nothing).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from .parsers import Host


def _hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def sign(host: Host, secret: str, body: bytes) -> dict[str, str]:
    """The headers a host sends with ``body`` when it knows ``secret`` (what the tests send,
    and what the documentation describes)."""
    if host == Host.GITHUB:
        return {"X-Hub-Signature-256": f"sha256={_hmac_hex(secret, body)}"}
    if host == Host.GITEA:
        return {"X-Gitea-Signature": _hmac_hex(secret, body)}
    return {"X-Gitlab-Token": secret}


def verified(host: Host, secret: str, body: bytes, headers: Mapping[str, str]) -> bool:
    """Whether ``headers`` prove that the sender of ``body`` knows ``secret``."""
    if not secret:
        return False
    if host == Host.GITHUB:
        given = headers.get("X-Hub-Signature-256", "")
        expected = f"sha256={_hmac_hex(secret, body)}"
    elif host == Host.GITEA:
        given = headers.get("X-Gitea-Signature", "") or headers.get("X-Forgejo-Signature", "")
        given = given.strip().lower()
        expected = _hmac_hex(secret, body)
    else:
        given = headers.get("X-Gitlab-Token", "")
        expected = secret
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def event_name(host: Host, headers: Mapping[str, str]) -> str:
    """The event the headers name ("" when none)."""
    if host == Host.GITHUB:
        return headers.get("X-GitHub-Event", "")
    if host == Host.GITEA:
        return headers.get("X-Gitea-Event", "") or headers.get("X-Forgejo-Event", "")
    return headers.get("X-Gitlab-Event", "")


def delivery_id(host: Host, headers: Mapping[str, str]) -> str:
    """The host's id of the delivery, the same when it sends it again ("" when none)."""
    if host == Host.GITHUB:
        value = headers.get("X-GitHub-Delivery", "")
    elif host == Host.GITEA:
        value = headers.get("X-Gitea-Delivery", "") or headers.get("X-Forgejo-Delivery", "")
    else:
        value = headers.get("Idempotency-Key", "") or headers.get("X-Gitlab-Event-UUID", "")
    return value.strip()[:200]
