"""``scanpulse user create EMAIL --org NAME [--role ROLE] [--password-stdin]``."""

from __future__ import annotations

import sys
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from scanpulse.core.errors import ApiError
from scanpulse.tenancy.models import Organization, Role
from scanpulse.tenancy.services import user_create


class Command(BaseCommand):
    help = "Manage users."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="Create a user, or add one to an organization.")
        create.add_argument("email")
        create.add_argument("--org", required=True, help="Organization name.")
        create.add_argument("--role", default=Role.MEMBER, choices=Role.values)
        create.add_argument(
            "--password-stdin", action="store_true", help="Read a password from standard input."
        )
        create.add_argument("--superuser", action="store_true", help="Give access to /admin/.")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = Organization.objects.filter(name=options["org"]).first()
        if organization is None:
            raise CommandError(f"No organization named {options['org']!r}.")
        password = None
        if options["password_stdin"]:
            password = sys.stdin.readline().rstrip("\r\n")
            if not password:
                raise CommandError("No password on standard input.")
            try:
                validate_password(password)
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from exc
        try:
            user = user_create(
                email=options["email"],
                organization=organization,
                role=options["role"],
                password=password,
            )
        except ApiError as exc:
            raise CommandError(str(exc.detail)) from exc
        if options["superuser"]:
            user.is_staff = user.is_superuser = True  # type: ignore[attr-defined]
            user.save()
        self.stdout.write(f"{user.email}\t{organization.name}\t{options['role']}")  # type: ignore[attr-defined]
