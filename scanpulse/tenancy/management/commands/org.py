"""``scanpulse org create NAME`` and ``scanpulse org list``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from scanpulse.core.exceptions import DomainError
from scanpulse.core.management.base import DatabaseCommand
from scanpulse.tenancy.models import Organization
from scanpulse.tenancy.services import organization_create, organization_set_password_login


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

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "create":
            try:
                org = organization_create(name=options["name"])
            except DomainError as exc:
                raise CommandError(exc.message) from exc
            self.stdout.write(f"{org.id}\t{org.name}")
        elif options["action"] == "password-login":
            found = Organization.objects.filter(name=options["name"]).first()
            if found is None:
                raise CommandError(f"No organization named {options['name']!r}.")
            organization_set_password_login(organization=found, enabled=options["state"] == "on")
            self.stdout.write(f"{found.name}: password sign-in {options['state']}")
        else:
            for org in Organization.objects.order_by("name"):
                self.stdout.write(f"{org.id}\t{org.name}")
