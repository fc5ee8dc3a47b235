"""The ``scanpulse`` command: administration (Django management commands) and the client."""

from __future__ import annotations

import os
import sys

CLIENT_COMMANDS: frozenset[str] = frozenset({"scan", "watch", "upload"})


OVERVIEW = """\
usage: scanpulse <command> [options]      (scanpulse <command> --help for details)

Scanning
  scan PATH|URL        scan a repository and report its findings, locally or on a server
  watch SCAN_ID        follow a scan running on a server
  upload FILE          upload another tool's SARIF report to a server as a scan

Running scanpulse
  serve                the web interface, the API and the live streams
  nginx_config         print an nginx configuration for a set of web processes

Administration
  org                  create and list organizations
  user                 create users and add them to organizations
  token                create, list and revoke API tokens
  advisories           sync the OSV advisory feed (or load a path), show what is loaded
  credential           an organization's credentials for private repositories
  reencrypt            seal stored secrets again with the newest encryption key

Every Django management command works too (migrate, createsuperuser, …):
  scanpulse help --all
"""


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    if len(argv) == 1 or argv[1:] in (["--help"], ["-h"], ["help"]):
        sys.stdout.write(OVERVIEW)
        return
    if argv[1:] == ["help", "--all"]:
        argv = [argv[0], "help"]
    if len(argv) > 1 and argv[1] in CLIENT_COMMANDS:
        from .client import main as client_main

        raise SystemExit(client_main(argv[1:]))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scanpulse.config.settings.embedded")
    from django.core.management import execute_from_command_line

    if len(argv) > 1 and argv[1] == "manage":
        argv = [argv[0], *argv[2:]]
    execute_from_command_line(["scanpulse", *argv[1:]])


if __name__ == "__main__":
    main()
