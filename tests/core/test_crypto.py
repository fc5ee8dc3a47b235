"""Secrets at rest: sealed with the newest key, opened with any configured key, re-sealed on
rotation, and a clear error when no key opens them."""

from __future__ import annotations

import pytest

from scanpulse.core.crypto import SealError, generate_key, reseal, seal, unseal


def test_a_sealed_secret_opens_and_does_not_show_the_secret(settings) -> None:
    settings.SCANPULSE_ENCRYPTION_KEYS = [generate_key()]
    token = seal("ghp_notarealtoken1234")
    assert "ghp_" not in token and "1234" not in token
    assert seal("ghp_notarealtoken1234") != token  # a fresh IV every time
    assert unseal(token) == "ghp_notarealtoken1234"


def test_rotation_reseals_with_the_new_key_so_the_old_one_can_go(settings) -> None:
    old, new = generate_key(), generate_key()
    settings.SCANPULSE_ENCRYPTION_KEYS = [old]
    token = seal("deploy-key-material")
    # when: the new key comes first, the old one still opens what it sealed
    settings.SCANPULSE_ENCRYPTION_KEYS = [new, old]
    assert unseal(token) == "deploy-key-material"
    resealed = reseal(token)
    # then: with the old key dropped, only the re-sealed value opens
    settings.SCANPULSE_ENCRYPTION_KEYS = [new]
    assert unseal(resealed) == "deploy-key-material"
    with pytest.raises(SealError, match="could not be decrypted with any configured key"):
        unseal(token)


def test_a_malformed_key_is_refused_clearly(settings) -> None:
    settings.SCANPULSE_ENCRYPTION_KEYS = ["not-a-fernet-key"]
    with pytest.raises(SealError, match="must hold Fernet keys"):
        seal("x")
