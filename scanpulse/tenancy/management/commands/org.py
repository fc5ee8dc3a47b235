"""``scanpulse org create NAME`` and ``scanpulse org list``."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import CommandError, CommandParser

from scanpulse.core.exceptions import DomainError
from scanpulse.core.management.base import DatabaseCommand
from scanpulse.tenancy.models import Organization
from scanpulse.tenancy.services import organization_create, organization_set_password_login
from scanpulse.tenancy.sso_settings import organization_sso_remove, organization_sso_set


class Command(DatabaseCommand):
    help = "Manage organizations."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="Create an organization.")
        create.add_argument("name")
        actions.add_parser("list", help="List organizations.")
        login = actions.add_parser(
            "password-login",
            help="Allow or refuse password sign-in for an organization's members (off: single "
            "sign-on only).",
        )
        login.add_argument("name")
        login.add_argument("state", choices=["on", "off"])
        sso = actions.add_parser(
            "sso",
            help="Give an organization its own OpenID Connect provider (or --remove it); the "
            "client secret is read from standard input.",
        )
        sso.add_argument("name")
        sso.add_argument("--issuer")
        sso.add_argument("--client-id")
        sso.add_argument("--client-secret-stdin", action="store_true")
        sso.add_argument("--scopes", default="openid email profile")
        sso.add_argument("--role", default="member", help="role of the accounts it brings in")
        sso.add_argument("--remove", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "create":
            try:
                org = organization_create(name=options["name"])
            except DomainError as exc:
                raise CommandError(exc.message) from exc
            self.stdout.write(f"{org.id}\t{org.name}")
        elif options["action"] == "sso":
            self._sso(options)
        elif options["action"] == "password-login":
            found = Organization.objects.filter(name=options["name"]).first()
            if found is None:
                raise CommandError(f"No organization named {options['name']!r}.")
            organization_set_password_login(organization=found, enabled=options["state"] == "on")
            self.stdout.write(f"{found.name}: password sign-in {options['state']}")
        else:
            for org in Organization.objects.order_by("name"):
                self.stdout.write(f"{org.id}\t{org.name}")

    def _sso(self, options: dict[str, Any]) -> None:
        organization = Organization.objects.filter(name=options["name"]).first()
        if organization is None:
            raise CommandError(f"No organization named {options['name']!r}.")
        if options["remove"]:
            removed = organization_sso_remove(organization=organization)
            self.stdout.write(
                f"{organization.name}: own provider {'removed' if removed else 'was not set'}"
            )
            return
        if not (options["issuer"] and options["client_id"] and options["client_secret_stdin"]):
            raise CommandError("Give --issuer, --client-id and --client-secret-stdin.")
        secret = sys.stdin.readline().strip()
        try:
            organization_sso_set(
                organization=organization,
                issuer=options["issuer"],
                client_id=options["client_id"],
                client_secret=secret,
                scopes=options["scopes"],
                default_role=options["role"],
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            f"{organization.name}: members sign in at /sso/login/?organization={organization.id}"
        )
