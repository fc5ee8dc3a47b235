"""Two-factor services: what is kept at rest, codes accepted once, recovery codes used up,
wrong codes limited. (Enrolment and sign-in in the browser: tests/web/test_two_factor_browser.py.)"""

from __future__ import annotations

import pyotp
import pytest
from django.core.cache import cache
from django.db import connection

from scanpulse.core.exceptions import Invalid, QuotaExceeded
from scanpulse.tenancy import twofactor
from scanpulse.tenancy.models import RecoveryCode, TwoFactor
from scanpulse.tenancy.services import organization_create, user_create

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_limits() -> None:
    cache.clear()


@pytest.fixture
def user():
    org = organization_create(name="acme")
    return user_create(email="pat@acme.example", organization=org, password="pw-123456789")


def _enrol(user) -> tuple[pyotp.TOTP, list[str]]:
    enrolment = twofactor.enrolment_start(user=user)
    totp = pyotp.TOTP(enrolment.secret)
    assert enrolment.uri.startswith("otpauth://totp/scanpulse:pat%40acme.example?")
    assert enrolment.qr_svg_data_uri.startswith("data:image/svg+xml")
    return totp, twofactor.enrolment_confirm(user=user, code=totp.now())


def test_the_secret_is_sealed_and_recovery_codes_are_digests_at_rest(user) -> None:
    totp, codes = _enrol(user)
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM tenancy_twofactor")
        (stored,) = cursor.fetchone()
        cursor.execute("SELECT digest FROM tenancy_recoverycode")
        digests = [row[0] for row in cursor.fetchall()]
    assert totp.secret not in stored
    assert len(digests) == 10
    assert not any(code.replace("-", "") in digest for code in codes for digest in digests)
    # Once on, enrolment does not show the secret again.
    with pytest.raises(Invalid, match="already on"):
        twofactor.enrolment_start(user=user)


def test_a_code_is_accepted_once(user) -> None:
    totp, _ = _enrol(user)
    used = TwoFactor.objects.get(user=user).last_counter
    # The enrolment's own code is spent; the next time step's (accepted a step early, for
    # clocks that drift) works, once.
    with pytest.raises(Invalid):
        twofactor.verify(user=user, code=totp.at(used * 30))
    later = totp.at((used + 1) * 30)
    assert twofactor.verify(user=user, code=later) is False
    with pytest.raises(Invalid):
        twofactor.verify(user=user, code=later)


def test_recovery_codes_work_once_each(user) -> None:
    _, codes = _enrol(user)
    assert twofactor.verify(user=user, code=codes[3].upper()) is True
    with pytest.raises(Invalid):
        twofactor.verify(user=user, code=codes[3])
    assert twofactor.recovery_codes_left(user) == 9
    assert RecoveryCode.objects.filter(used_at__isnull=False).count() == 1


def test_wrong_codes_are_limited_even_for_the_right_code(user) -> None:
    totp, _ = _enrol(user)
    for _ in range(5):
        with pytest.raises(Invalid):
            twofactor.verify(user=user, code="000000" if totp.now() != "000000" else "111111")
    with pytest.raises(QuotaExceeded) as refused:
        twofactor.verify(user=user, code=totp.now())
    assert refused.value.retry_after and refused.value.retry_after > 0


def test_accounts_without_a_password_cannot_enrol() -> None:
    org = organization_create(name="acme")
    sso_user = user_create(email="sso@acme.example", organization=org)
    assert not twofactor.can_enrol(sso_user)
    with pytest.raises(Invalid, match="signs in with SSO"):
        twofactor.enrolment_start(user=sso_user)


def test_turning_off_needs_a_code(user) -> None:
    _, codes = _enrol(user)
    with pytest.raises(Invalid):
        twofactor.disable(user=user, code="12345")
    assert twofactor.enabled_for(user)
    twofactor.disable(user=user, code=codes[0])
    assert not twofactor.enabled_for(user)
    assert not RecoveryCode.objects.exists()


def test_the_key_column_is_resealed_by_reencrypt() -> None:
    from scanpulse.core.crypto import sealed_columns

    assert ("tenancy.TwoFactor", "secret") in {(c.model, c.field) for c in sealed_columns()}
