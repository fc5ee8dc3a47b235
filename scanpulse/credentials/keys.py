"""SSH key pairs and fingerprints: a new Ed25519 deploy key, a private key someone uploads,
and the fingerprints shown in place of a secret."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from django.utils.crypto import salted_hmac

from scanpulse.pipeline.auth import ssh_fingerprint

_TOKEN_FINGERPRINT_PURPOSE = "scanpulse.credential-token-fingerprint"  # noqa: S105 - a label


@dataclass(frozen=True, slots=True)
class KeyPair:
    private_key: str = field(repr=False)  # OpenSSH format
    public_key: str  # "ssh-ed25519 AAAA… comment"
    fingerprint: str


def _public_line(key: object, comment: str) -> str:
    public = key.public_key()  # type: ignore[attr-defined]
    line = public.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()
    return f"{line} {comment}".strip()


def generate_key_pair(comment: str) -> KeyPair:
    """A new Ed25519 key pair; the public half is what the git host is given."""
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    public = _public_line(key, comment)
    return KeyPair(private, public, ssh_fingerprint(public.split()[1]))


def load_private_key(text: str, comment: str) -> KeyPair:
    """An uploaded private key (OpenSSH or PEM, without a passphrase), normalized to OpenSSH.

    Raises ``ValueError`` with a message that never repeats the key."""
    data = text.strip().encode() + b"\n"
    key: Any
    try:
        if b"OPENSSH PRIVATE KEY" in data:
            key = serialization.load_ssh_private_key(data, password=None)
        else:
            key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ValueError(
            "This is not an SSH private key scanpulse can use (OpenSSH or PEM format, "
            "Ed25519, ECDSA or RSA, without a passphrase)."
        ) from None
    try:
        private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        ).decode()
        public = _public_line(key, comment)
    except (ValueError, TypeError):
        raise ValueError("This kind of private key cannot be used for SSH.") from None
    return KeyPair(private, public, ssh_fingerprint(public.split()[1]))


def token_fingerprint(token: str) -> str:
    """A short keyed digest of a token: tells two tokens apart, reveals nothing of either."""
    digest = salted_hmac(_TOKEN_FINGERPRINT_PURPOSE, token, algorithm="sha256").hexdigest()
    return f"hmac:{digest[:16]}"
