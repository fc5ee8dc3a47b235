"""``scanpulse token create EMAIL [--name LABEL] [--scope read|scan|admin] [--expiry DAYS|DATE]``
(prints the token once), ``list``, ``revoke``."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError, CommandParser

from scanpulse.core.exceptions import DomainError
from scanpulse.core.management.base import DatabaseCommand
from scanpulse.tenancy.models import ApiToken, TokenScope
from scanpulse.tenancy.services import token_create, token_revoke


def expiry(value: str) -> int | datetime:
    """``--expiry``: a number of days, or a date (YYYY-MM-DD) through which the token works
    (it stops at 00:00 UTC the day after)."""
    value = value.strip()
    if re.fullmatch(r"[0-9]{1,5}", value):
        return int(value)
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise CommandError(
            f"--expiry {value!r}: give a number of days (e.g. 90) or a date (e.g. 2027-03-31)."
        ) from None
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)


class Command(DatabaseCommand):
    help = "Manage API tokens."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="Create a token; it is printed only once.")
        create.add_argument("email")
        create.add_argument("--name", default="default", help="A label to recognise it by.")
        create.add_argument(
            "--scope",
            choices=TokenScope.values,
            default=TokenScope.ADMIN,
            help="read: reads only; scan: also starts and cancels scans and triages; admin: "
            "everything its user may (default).",
        )
        create.add_argument(
            "--expiry",
            metavar="DAYS|DATE",
            help="a number of days (1-3650), or the last day (YYYY-MM-DD, UTC) it works; "
            "without it the token works until revoked",
        )
        listing = actions.add_parser("list", help="List a user's tokens (never their values).")
        listing.add_argument("email")
        revoke = actions.add_parser("revoke", help="Revoke a token by its id or prefix.")
        revoke.add_argument("token_id")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action in ("create", "list"):
            user = (
                get_user_model().objects.filter(username=options["email"].strip().lower()).first()
            )
            if user is None:
                raise CommandError(f"No user {options['email']!r}.")
            if action == "create":
                self._create(user, options)
                return
            for api_token in ApiToken.objects.filter(user=user):
                state = "revoked" if api_token.revoked_at else "active"
                used = api_token.last_used_at.isoformat() if api_token.last_used_at else "never"
                expires = api_token.expires_at.isoformat() if api_token.expires_at else "never"
                self.stdout.write(
                    f"{api_token.id}\t{api_token.prefix}…\t{api_token.name}\t{api_token.scope}"
                    f"\t{state}\texpires {expires}\tlast used {used}"
                )
            return
        value = options["token_id"]
        tokens = ApiToken.objects.filter(prefix=value[:12]) if value.startswith("spt_") else None
        if tokens is None:
            try:
                tokens = ApiToken.objects.filter(pk=value)
                found = list(tokens)
            except Exception as exc:  # not a UUID
                raise CommandError("Give a token id (see `token list`) or its prefix.") from exc
        else:
            found = list(tokens)
        if len(found) != 1:
            raise CommandError("No single token matches.")
        token_revoke(api_token=found[0])
        self.stdout.write(f"revoked {found[0].id}")

    def _create(self, user: Any, options: dict[str, Any]) -> None:
        until = expiry(options["expiry"]) if options["expiry"] else None
        try:
            api_token, token = token_create(
                user=user,
                name=options["name"],
                scope=options["scope"],
                expires_in_days=until if isinstance(until, int) else None,
                expires_at=until if isinstance(until, datetime) else None,
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        # Only the token goes to standard output (for scripts); what it is, to the terminal.
        expires = (
            f"expires {api_token.expires_at:%Y-%m-%d %H:%M} UTC"
            if api_token.expires_at
            else "no expiry"
        )
        self.stderr.write(
            f"Token {api_token.name} ({api_token.scope} scope, {expires}), shown only now:"
        )
        self.stdout.write(token)
