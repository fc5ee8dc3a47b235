"""``scanpulse token create EMAIL [--name LABEL]`` (prints the token once), ``list``, ``revoke``."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError, CommandParser

from scanpulse.core.exceptions import DomainError
from scanpulse.core.management.base import DatabaseCommand
from scanpulse.tenancy.models import ApiToken
from scanpulse.tenancy.services import token_create, token_revoke


class Command(DatabaseCommand):
    help = "Manage API tokens."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="Create a token; it is printed only once.")
        create.add_argument("email")
        create.add_argument("--name", default="default", help="A label to recognise it by.")
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
                try:
                    _, token = token_create(user=user, name=options["name"])
                except DomainError as exc:
                    raise CommandError(exc.message) from exc
                self.stdout.write(token)
                return
            for api_token in ApiToken.objects.filter(user=user):
                state = "revoked" if api_token.revoked_at else "active"
                used = api_token.last_used_at.isoformat() if api_token.last_used_at else "never"
                self.stdout.write(
                    f"{api_token.id}\t{api_token.prefix}…\t{api_token.name}\t{state}\tlast used {used}"
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
