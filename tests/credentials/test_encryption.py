"""Secrets at rest: the column holds no clear text, and ``scanpulse reencrypt`` re-seals every
registered column with a new first key, after which the old key can be dropped."""

from __future__ import annotations

import io
from contextlib import redirect_stdout

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from scanpulse.cli.main import main as scanpulse
from scanpulse.core.crypto import SealError, generate_key, sealed_columns, unseal
from scanpulse.credentials.models import Credential
from scanpulse.credentials.services import credential_create

pytestmark = pytest.mark.django_db(transaction=True)  # the command closes connections

TOKEN = "glpat-rotating-0123456789abcdef"


def _stored() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM credentials_credential ORDER BY name")
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.parametrize("command", ["manage.py", "scanpulse"])
def test_reencrypt_reseals_with_the_new_key_and_the_old_one_can_go(tenant, command) -> None:
    old, new = generate_key(), generate_key()
    with override_settings(SCANPULSE_ENCRYPTION_KEYS=[old]):
        for name in ("a", "b"):
            credential_create(
                user=tenant.user,
                organization=tenant.org,
                name=name,
                kind="https_token",
                username="bot",
                token=TOKEN,
            )
        credential_create(user=tenant.user, organization=tenant.org, name="c", kind="ssh_key")
    before = _stored()
    assert len(before) == 3
    assert not any(TOKEN in value or "PRIVATE KEY" in value for value in before)
    assert ("credentials.Credential", "secret") in {(c.model, c.field) for c in sealed_columns()}

    output = io.StringIO()
    with override_settings(SCANPULSE_ENCRYPTION_KEYS=[new, old]):
        if command == "manage.py":
            call_command("reencrypt", stdout=output)
        else:
            with redirect_stdout(output):
                scanpulse(["scanpulse", "reencrypt"])
    assert "credentials.Credential.secret: 3 re-sealed" in output.getvalue()
    after = _stored()
    assert all(a != b for a, b in zip(before, after, strict=True))
    assert not any(TOKEN in value for value in after)

    with override_settings(SCANPULSE_ENCRYPTION_KEYS=[new]):  # the old key dropped
        opened = [unseal(c.secret) for c in Credential.objects.order_by("name")]
    assert opened[:2] == [TOKEN, TOKEN] and "OPENSSH PRIVATE KEY" in opened[2]
    with override_settings(SCANPULSE_ENCRYPTION_KEYS=[old]), pytest.raises(SealError):
        unseal(Credential.objects.get(name="a").secret)
