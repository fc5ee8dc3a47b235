"""``scanpulse credential list|add|delete``: an organization's shared credentials for private
repositories. A token is read from standard input (``--token-stdin``), a private key from a
file (or generated); neither is ever printed or taken as an argument."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError, CommandParser

from scanpulse.core.exceptions import DomainError
from scanpulse.core.management.base import DatabaseCommand
from scanpulse.credentials.models import Credential, CredentialKind
from scanpulse.credentials.services import credential_create, credential_delete
from scanpulse.tenancy.models import Organization
from scanpulse.tenancy.types import User


class Command(DatabaseCommand):
    help = "Manage an organization's credentials for private repositories."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        listing = actions.add_parser("list", help="List them (fingerprints, never secrets).")
        listing.add_argument("--org", required=True, help="The organization's name.")
        add = actions.add_parser("add", help="Add one (as an owner or admin of the organization).")
        add.add_argument("name")
        add.add_argument("--org", required=True, help="The organization's name.")
        add.add_argument("--as", dest="email", required=True, help="An owner's or admin's email.")
        add.add_argument("--kind", choices=CredentialKind.values, required=True)
        add.add_argument("--username", default="", help="https_token: the username.")
        add.add_argument(
            "--token-stdin", action="store_true", help="https_token: read the token from stdin."
        )
        add.add_argument(
            "--private-key-file",
            type=Path,
            help="ssh_key: a private key to use; without it a key pair is generated.",
        )
        delete = actions.add_parser("delete", help="Delete one by its id.")
        delete.add_argument("credential_id")
        delete.add_argument(
            "--as", dest="email", required=True, help="An owner's or admin's email."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "list":
            for credential in Credential.objects.filter(
                organization=_organization(options["org"]), project_id__isnull=True
            ):
                self.stdout.write(
                    f"{credential.id}\t{credential.name}\t{credential.kind}\t"
                    f"{credential.username or '-'}\t{credential.fingerprint}\t"
                    f"used by {credential.projects.count()} project(s)"
                )
            return
        user = _user(options["email"])
        try:
            if action == "add":
                self._add(user, options)
            else:
                found = Credential.objects.filter(
                    pk=_uuid(options["credential_id"]), project_id__isnull=True
                ).first()
                if found is None:
                    raise CommandError("No organization credential has that id.")
                credential_delete(user=user, credential=found, in_use=found.projects.count())
                self.stdout.write(f"deleted {found.name}")
        except DomainError as exc:
            raise CommandError(exc.message) from exc

    def _add(self, user: User, options: dict[str, Any]) -> None:
        token = private_key = ""
        if options["kind"] == CredentialKind.HTTPS_TOKEN:
            if not options["token_stdin"]:
                raise CommandError("Give the token on standard input with --token-stdin.")
            token = sys.stdin.readline().strip()
        elif options["private_key_file"] is not None:
            try:
                private_key = options["private_key_file"].read_text()
            except OSError as exc:
                raise CommandError(f"Cannot read the private key file: {exc.strerror}") from None
        credential = credential_create(
            user=user,
            organization=_organization(options["org"]),
            name=options["name"],
            kind=options["kind"],
            username=options["username"],
            token=token,
            private_key=private_key,
        )
        self.stdout.write(f"{credential.id}\t{credential.name}\t{credential.fingerprint}")
        if credential.public_key:
            self.stdout.write(credential.public_key)


def _organization(name: str) -> Organization:
    organization = Organization.objects.filter(name=name).first()
    if organization is None:
        raise CommandError(f"No organization named {name!r}.")
    return organization


def _user(email: str) -> Any:
    user = get_user_model().objects.filter(username=email.strip().lower()).first()
    if user is None:
        raise CommandError(f"No user {email!r}.")
    return user


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise CommandError("Give a credential id (see `credential list`).") from None
