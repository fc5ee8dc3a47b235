"""``scanpulse advisories sync`` (the OSV feed, or ``PATH``) and ``scanpulse advisories status``."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import CommandError, CommandParser
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from scanpulse.advisories.store import active_dataset, describe, feed_states, sync_advisories
from scanpulse.core.exceptions import Invalid
from scanpulse.core.management.base import DatabaseCommand
from scanpulse.feeds.services import EcosystemResult, sync_feed


class _Bars:
    """A rich progress bar per ecosystem and phase, on a terminal only."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            TextColumn("{task.description:<22}"),
            BarColumn(),
            MofNCompleteColumn(),
            DownloadColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.tasks: dict[tuple[str, str], TaskID] = {}

    def __call__(self, ecosystem: str, phase: str, done: int, total: int | None) -> None:
        key = (ecosystem, phase)
        task = self.tasks.get(key)
        if task is None:
            task = self.tasks[key] = self.progress.add_task(f"{ecosystem} {phase}", total=total)
        self.progress.update(task, completed=done, total=total)


def _line(result: EcosystemResult) -> str:
    if result.outcome == "unchanged":
        return f"{result.ecosystem}: unchanged since the last sync ({result.url})"
    if result.outcome == "failed":
        return f"{result.ecosystem}: failed — {result.error}"
    assert result.load is not None
    load = result.load
    return (
        f"{result.ecosystem}: {load.records:,} records — {len(load.added):,} added, "
        f"{len(load.modified):,} modified, {len(load.removed):,} removed "
        f"({result.downloaded:,} bytes downloaded, {len(load.errors):,} not used: see the Advisories page)"
    )


class Command(DatabaseCommand):
    help = "Manage the OSV advisory database used by the dependencies analyzer."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        sync = actions.add_parser(
            "sync",
            help="Sync with the OSV feed (the ecosystems' all.zip exports), or replace the "
            "advisory data with the OSV records at PATH.",
        )
        sync.add_argument(
            "path",
            nargs="?",
            help="A directory of OSV records (YAML or JSON) or an OSV all.zip export; "
            "without it, the OSV feed (SCANPULSE_OSV_BASE_URL).",
        )
        sync.add_argument("--from", dest="from_path", help="The same as PATH.")
        sync.add_argument(
            "--source", help="A name for the data loaded from PATH (default: the path)."
        )
        sync.add_argument(
            "--ecosystem",
            action="append",
            dest="ecosystems",
            metavar="NAME",
            help="Sync only this ecosystem of the feed (repeatable; default: "
            "SCANPULSE_OSV_ECOSYSTEMS).",
        )
        actions.add_parser("status", help="Show what is loaded, from where, how fresh.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "status":
            self._status()
            return
        path = options["path"] or options["from_path"]
        if path is not None:
            if options["ecosystems"]:
                raise CommandError("--ecosystem chooses exports of the feed, not records of PATH.")
            self._load_path(path, options["source"])
        else:
            self._sync_feed(options["ecosystems"])

    def _status(self) -> None:
        dataset = active_dataset()
        if dataset is None:
            self.stdout.write("No advisory database loaded.")
        else:
            self.stdout.write(describe(dataset))
        for state in feed_states():
            checked = (
                state.last_checked_at.strftime("%Y-%m-%d %H:%M UTC")
                if state.last_checked_at
                else "never"
            )
            changed = (
                state.last_changed_at.strftime("%Y-%m-%d %H:%M UTC")
                if state.last_changed_at
                else "never"
            )
            line = (
                f"  {state.ecosystem}: {state.records:,} records, checked {checked}, "
                f"changed {changed}, {state.url}"
            )
            if state.problem_count:
                line += f", {state.problem_count:,} not used (see the Advisories page)"
            if state.last_error:
                line += f" — last error: {state.last_error}"
            self.stdout.write(line)

    def _load_path(self, path: str, source: str | None) -> None:
        try:
            report = sync_advisories(path, source=source)
        except (FileNotFoundError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        for problem in report.errors[:20]:
            self.stderr.write(f"skipped: {problem}")
        if len(report.errors) > 20:
            self.stderr.write(f"… and {len(report.errors) - 20} more skipped files")
        self.stdout.write(f"Loaded {report.records:,} advisory records.")

    def _sync_feed(self, ecosystems: list[str] | None) -> None:
        interactive = sys.stdout.isatty()
        bars = _Bars(Console(file=sys.stdout)) if interactive else None
        try:
            if bars is not None:
                with bars.progress:
                    results = sync_feed(ecosystems, progress=bars)
            else:
                results = sync_feed(ecosystems)
        except Invalid as exc:
            raise CommandError(exc.message) from exc
        for result in results:
            if result.load is not None:
                for problem in result.load.errors[:20]:
                    self.stderr.write(f"not used: {problem}")
                if len(result.load.errors) > 20:
                    self.stderr.write(f"… and {len(result.load.errors) - 20} more not used")
            self.stdout.write(_line(result))
        updated = sum(result.outcome == "updated" for result in results)
        unchanged = sum(result.outcome == "unchanged" for result in results)
        failed = [result.ecosystem for result in results if result.outcome == "failed"]
        changed = len(
            {osv_id for result in results if result.load for osv_id in result.load.changed_ids}
        )
        self.stdout.write(
            f"Advisory feed: {updated} updated, {unchanged} unchanged, {len(failed)} failed; "
            f"{changed:,} records changed."
        )
        if failed:
            raise CommandError(f"Not synced: {', '.join(failed)} (the data loaded before stays).")
