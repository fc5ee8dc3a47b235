#!/usr/bin/env python
"""Django's command-line utility (the installed ``scanpulse`` command does the same)."""

from scanpulse.cli.main import main

if __name__ == "__main__":
    main()
