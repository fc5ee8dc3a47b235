"""The ``scanpulse`` command: administration (Django management commands) and the client."""

from __future__ import annotations

import os
import sys

CLIENT_COMMANDS: frozenset[str] = frozenset()


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
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
