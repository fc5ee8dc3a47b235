"""``scanpulse user create EMAIL --org NAME [--role ROLE] [--password-stdin]`` and
``scanpulse user set-password EMAIL [--password-stdin]``.

A password never comes from the command line, where other users of the machine can read it
in the process list: it is typed at a prompt or read from standard input.
"""

from __future__ import annotations

import getpass
import sys
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from scanpulse.core.exceptions import DomainError
from scanpulse.core.management.base import DatabaseCommand
from scanpulse.tenancy.models import Organization, Role
from scanpulse.tenancy.services import user_create, user_set_password
from scanpulse.tenancy.types import User


class Command(DatabaseCommand):
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
        set_password = actions.add_parser(
            "set-password",
            help="Set a user's password (asked at a prompt, or read with --password-stdin).",
        )
        set_password.add_argument("email")
        set_password.add_argument(
            "--password-stdin", action="store_true", help="Read the password from standard input."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "set-password":
            self._set_password(options)
        else:
            self._create(options)

    def _create(self, options: dict[str, Any]) -> None:
        organization = Organization.objects.filter(name=options["org"]).first()
        if organization is None:
            raise CommandError(f"No organization named {options['org']!r}.")
        password = _password_from_stdin() if options["password_stdin"] else None
        try:
            user = user_create(
                email=options["email"],
                organization=organization,
                role=options["role"],
                password=password,
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        if options["superuser"]:
            user.is_staff = user.is_superuser = True
            user.save()
        self.stdout.write(f"{user.email}\t{organization.name}\t{options['role']}")

    def _set_password(self, options: dict[str, Any]) -> None:
        email = options["email"].strip().lower()
        user = get_user_model().objects.filter(username=email).first()
        if user is None:
            raise CommandError(f"No user {options['email']!r}.")
        if options["password_stdin"]:
            password = _password_from_stdin(user=user)
        else:
            password = _password_prompt(user=user)
        user_set_password(user=user, password=password)
        self.stdout.write(f"Password of {email} changed; their browser sessions are signed out.")


def _validated(password: str, user: User | None = None) -> str:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise CommandError(" ".join(exc.messages)) from exc
    return password


def _password_from_stdin(*, user: User | None = None) -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise CommandError("No password on standard input.")
    return _validated(password, user)


def _password_prompt(*, user: User | None) -> str:
    if not sys.stdin.isatty():
        raise CommandError("No terminal to ask for the password: give it with --password-stdin.")
    password = getpass.getpass("New password: ")
    if not password:
        raise CommandError("No password given.")
    _validated(password, user)
    if getpass.getpass("Again: ") != password:
        raise CommandError("The two passwords differ.")
    return password
