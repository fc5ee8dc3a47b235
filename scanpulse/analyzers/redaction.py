"""How an analyzer reports a secret it found: a keyed identifier and a mask, never the value.

The identifier is an HMAC-SHA256, under a per-deployment key, of detect-secrets'
``hashed_secret`` (the SHA-1 of the secret). Without the key, no stored value lets anyone
check a guessed secret; with it, the same secret gets the same identifier in every scan and in
every analyzer, so findings keep their identity. The SHA-1 only ever exists in memory: it is
what lets a ``.secrets.baseline`` entry, or an identity stored before identifiers were keyed,
be matched without knowing the secret.

The key reaches an analyzer process in its options (the JSON spec on the child's stdin), never
on a command line or in an environment.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any

from scanpulse.analyzers.base import AnalyzerFinding

# The analyzer option holding the key, as hex.
KEY_OPTION = "secret_id_key"
SECRET_ID_HEX_CHARS = 32  # 128 bits, like fingerprints
MASK = "*" * 8
# One character is shown at each end per full 16 characters of a secret, at most this many:
# never more than an eighth of a secret, nothing at all of one shorter than 16 characters.
_SHOWN_PER = 16
_SHOWN_MAX = 4
_KEY_ID_LABEL = b"scanpulse secret id key id"


def mask(secret: str) -> str:
    """A preview that gives nothing away: ``********`` under 16 characters, else one character
    at each end per 16 (``A********E``, ``gh********R8``).

    The mask has a fixed width, so not even the length is revealed.
    """
    shown = min(len(secret) // _SHOWN_PER, _SHOWN_MAX)
    if shown == 0:
        return MASK
    return secret[:shown] + MASK + secret[-shown:]


# The user-info part of a URL ("https://user:token@host/…"): a credential, never quoted. Up to
# the last "@" before the path: a password may hold "@" itself.
_URL_CREDENTIALS = re.compile(r"(?<=://)[^/\s]*@")


def mask_url_credentials(text: str) -> str:
    """``text`` with the user-info part of every URL in it replaced by ``***``."""
    return _URL_CREDENTIALS.sub("***@", text)


def secret_sha1(secret: str) -> str:
    """detect-secrets' ``hashed_secret``: in memory only, as the input of :func:`secret_id`."""
    return hashlib.sha1(secret.encode("utf-8", "surrogatepass")).hexdigest()  # noqa: S324


def secret_id(key: bytes, sha1: str) -> str:
    """The identifier of the secret whose detect-secrets hash is ``sha1``, under ``key``."""
    digest = hmac.new(key, sha1.encode("ascii"), hashlib.sha256).hexdigest()
    return digest[:SECRET_ID_HEX_CHARS]


def key_id(key: bytes) -> str:
    """A value that differs between keys without revealing them (for cache keys)."""
    return hmac.new(key, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:16]


def options_key(options: Mapping[str, Any]) -> bytes | None:
    """The key given in ``options``, or None when there is none."""
    value = options.get(KEY_OPTION)
    if not isinstance(value, str) or not value:
        return None
    return bytes.fromhex(value)


def require_key(options: Mapping[str, Any], analyzer: str) -> bytes:
    """The key given in ``options``; without one the analyzer must not run at all."""
    key = options_key(options)
    if key is None:
        raise ValueError(f"analyzer {analyzer} needs the option {KEY_OPTION!r} to identify secrets")
    return key


def cache_part(options: Mapping[str, Any]) -> str:
    """The part of a ``config_key`` that tells deployments' keys apart."""
    key = options_key(options)
    return "unkeyed" if key is None else key_id(key)


def identify(finding: AnalyzerFinding, key: bytes) -> AnalyzerFinding:
    """``finding`` with the SHA-1 a worker process left in its snippet replaced by the keyed
    identifier, which becomes its snippet (so its fingerprint) and ``properties.secret_id``.

    Workers hash, the analyzer's own process keys: workers need no key, and nothing that
    leaves the analyzer carries the SHA-1.
    """
    identifier = secret_id(key, finding.snippet)
    return dataclasses.replace(
        finding, snippet=identifier, properties={**finding.properties, "secret_id": identifier}
    )
