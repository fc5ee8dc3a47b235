"""Optional TOTP two-factor for password accounts: enrolment (a secret shown until confirmed
with a code), codes checked after the password, single-use recovery codes, wrong codes
limited per account.

The secret is sealed at rest (``scanpulse.core.crypto``); recovery codes are stored as SHA-256
digests (they are random, 50 bits each: a digest is as good as a slow hash here). A TOTP code
is accepted once: the time step of the last accepted one is kept.

Turning it on or off, replacing or using a recovery code and every wrong code are recorded in
the audit log of each organization the account belongs to (never the code itself).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from uuid import UUID

import pyotp
import segno
from django.db import transaction
from django.utils import timezone

from scanpulse.audit.services import AuditAction, record
from scanpulse.core.crypto import seal, unseal
from scanpulse.core.exceptions import Invalid, QuotaExceeded
from scanpulse.core.throttling import FailureLimiter, configured_rate

from .models import RecoveryCode, TwoFactor
from .types import User

ISSUER = "scanpulse"
RECOVERY_CODE_COUNT = 10
_STEP = 30
# Codes of the previous and the next time step are accepted too (clocks drift).
_WINDOW = 1
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def two_factor_failures() -> FailureLimiter:
    """Wrong codes per account, whatever the address they come from."""
    return FailureLimiter("two-factor", configured_rate("two_factor_failures"))


def enabled_for(user: User) -> bool:
    return TwoFactor.objects.filter(user=user, confirmed_at__isnull=False).exists()


def can_enrol(user: User) -> bool:
    """Two-factor protects password sign-in; single sign-on accounts have no password."""
    return user.has_usable_password()


@dataclass(frozen=True, slots=True)
class Enrolment:
    secret: str  # base32, to type into an authenticator app
    uri: str  # otpauth://, what the QR code holds
    qr_svg_data_uri: str


def enrolment_start(*, user: User) -> Enrolment:
    """The pending enrolment (a new secret unless one is pending). ``Invalid`` when two-factor
    is on already or the account has no password."""
    if not can_enrol(user):
        raise Invalid("Two-factor applies to password sign-in; this account signs in with SSO.")
    with transaction.atomic():
        current = TwoFactor.objects.select_for_update().filter(user=user).first()
        if current is not None and current.confirmed_at is not None:
            raise Invalid("Two-factor is already on for this account.")
        if current is None:
            current = TwoFactor.objects.create(user=user, secret=seal(pyotp.random_base32()))
    secret = unseal(current.secret)
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.get_username(), issuer_name=ISSUER)
    qr = segno.make(uri, error="m").svg_data_uri(scale=4, border=2)
    return Enrolment(secret=secret, uri=uri, qr_svg_data_uri=qr)


def _counter(secret: str, code: str, after: int) -> int | None:
    """The time step ``code`` is valid for (now, or one step either side), newer than
    ``after``; None if none."""
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now = int(time.time()) // _STEP
    for counter in range(now - _WINDOW, now + _WINDOW + 1):
        if counter > after and hmac.compare_digest(totp.at(counter * _STEP), code):
            return counter
    return None


def _limited(user: User) -> None:
    wait = two_factor_failures().blocked_for(str(user.pk))
    if wait is not None:
        minutes = max(1, int(wait + 59) // 60)
        raise QuotaExceeded(
            f"Too many wrong codes. Try again in {minutes} minute{'s' if minutes != 1 else ''}.",
            retry_after=wait,
        )


def _audit(user: User, action: AuditAction, **details: object) -> None:
    organizations: list[UUID | None] = list(
        user.memberships.values_list("organization_id", flat=True)
    )
    for organization_id in organizations or [None]:
        record(
            action=action,
            actor=user,
            organization_id=organization_id,
            target_type="user",
            target_id=user.pk,
            target=user.email or user.username,
            details=dict(details),
        )


def _wrong(user: User, during: str) -> Invalid:
    """Count a wrong code (outside any transaction that would undo its audit entry)."""
    two_factor_failures().record(str(user.pk))
    _audit(user, AuditAction.TWO_FACTOR_FAILED, during=during)
    return Invalid("That code is not right. Check your authenticator app's clock and try again.")


def _digest(code: str) -> str:
    return hashlib.sha256(code.strip().lower().replace("-", "").encode()).hexdigest()


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def _new_recovery_codes(device: TwoFactor) -> list[str]:
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    RecoveryCode.objects.bulk_create(
        RecoveryCode(two_factor=device, digest=_digest(code)) for code in codes
    )
    return codes


def enrolment_confirm(*, user: User, code: str) -> list[str]:
    """Turn two-factor on with a code from the pending secret; returns the recovery codes,
    shown this once."""
    _limited(user)
    with transaction.atomic():
        pending = (
            TwoFactor.objects.select_for_update()
            .filter(user=user, confirmed_at__isnull=True)
            .first()
        )
        if pending is None:
            raise Invalid("Start the enrolment again.")
        counter = _counter(unseal(pending.secret), code, pending.last_counter)
        if counter is not None:
            pending.confirmed_at = timezone.now()
            pending.last_counter = counter
            pending.save(update_fields=["confirmed_at", "last_counter"])
            codes = _new_recovery_codes(pending)
            _audit(user, AuditAction.TWO_FACTOR_ENABLE)
    if counter is None:
        raise _wrong(user, "enrolment")
    two_factor_failures().reset(str(user.pk))
    return codes


def verify(*, user: User, code: str, during: str = "sign-in") -> bool:
    """Check a sign-in's second factor: a TOTP code (each accepted once) or an unused recovery
    code (used up by this). ``Invalid`` if wrong, ``QuotaExceeded`` after too many wrong ones;
    True when a recovery code was used."""
    _limited(user)
    with transaction.atomic():
        device = (
            TwoFactor.objects.select_for_update()
            .filter(user=user, confirmed_at__isnull=False)
            .first()
        )
        if device is None:
            raise Invalid("Two-factor is not on for this account.")
        counter = _counter(unseal(device.secret), code, device.last_counter)
        if counter is not None:
            device.last_counter = counter
            device.save(update_fields=["last_counter"])
            two_factor_failures().reset(str(user.pk))
            return False
        used = RecoveryCode.objects.filter(
            two_factor=device, digest=_digest(code), used_at__isnull=True
        ).update(used_at=timezone.now())
        if used == 1:
            left = RecoveryCode.objects.filter(two_factor=device, used_at__isnull=True).count()
            _audit(user, AuditAction.RECOVERY_CODE_USE, during=during, left=left)
    if used != 1:
        raise _wrong(user, during)
    two_factor_failures().reset(str(user.pk))
    return True


def recovery_codes_left(user: User) -> int:
    return RecoveryCode.objects.filter(two_factor__user=user, used_at__isnull=True).count()


def recovery_codes_regenerate(*, user: User, code: str) -> list[str]:
    """Replace every recovery code (used or not) with new ones, with a current code (or a
    recovery code) as proof; returns the new codes, shown this once."""
    verify(user=user, code=code, during="recovery codes")
    with transaction.atomic():
        device = (
            TwoFactor.objects.select_for_update()
            .filter(user=user, confirmed_at__isnull=False)
            .first()
        )
        if device is None:
            raise Invalid("Two-factor is not on for this account.")
        RecoveryCode.objects.filter(two_factor=device).delete()
        codes = _new_recovery_codes(device)
        _audit(user, AuditAction.RECOVERY_CODES_REGENERATE)
    return codes


def disable(*, user: User, code: str) -> None:
    """Turn two-factor off, with a current code (or a recovery code) as proof."""
    verify(user=user, code=code, during="turning off")
    with transaction.atomic():
        TwoFactor.objects.filter(user=user).delete()
        _audit(user, AuditAction.TWO_FACTOR_DISABLE)
