#!/usr/bin/env python3
"""Take docs/screenshot-scan.png: the scan page of a real scan, caught mid-way.

Runs a throwaway ``scanpulse serve`` (its own data directory, the real analyzers, no advisory
database) with the browser-test harness, scans a generated repository large enough to be
watched, and photographs the page in Chromium (light theme, 1280×800) while it runs.

    .venv/bin/python scripts/screenshot.py [--output docs/screenshot-scan.png]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.web.harness import PASSWORD, Site, seed  # noqa: E402

VIEW = '''"""Order views of service {index}{edition}."""

import hashlib
import subprocess


def export_orders(request):
    name = request.args.get("name", "orders")
    digest = hashlib.md5(name.encode()).hexdigest()
    return subprocess.check_output("export-orders --name " + name, shell=True), digest
'''


def storefront(edition: int) -> dict[str, str]:
    """A repository with the usual mistakes, and enough files to take a few seconds (each
    edition has new contents, so per-file results cached by an earlier attempt do not apply)."""
    suffix = f" (edition {edition})" if edition else ""
    files = {
        f"services/svc_{index:04d}/views.py": VIEW.format(index=index, edition=suffix)
        for index in range(1500)
    }
    files |= {
        "requirements.txt": "django==3.2.0\npyyaml==5.1\nrequests>=2.20\n",
        "config/settings.py": 'AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"\nDEBUG = True\n',
        "README.md": "# storefront\n",
    }
    return files


def mid_scan(page: Page, low: int = 40, high: int = 75, timeout: float = 60.0) -> bool:
    """Wait until the page shows the scan between ``low`` and ``high`` percent."""
    bar = page.get_by_role("progressbar", name="Scan progress")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = int(bar.get_attribute("aria-valuenow") or 0)
        if low <= value <= high:
            return True
        if value > high:
            return False
        time.sleep(0.05)
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "screenshot-scan.png")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: run scripts/system-deps", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="scanpulse-screenshot-") as scratch:
        root = Path(scratch)
        seeded = seed(root / "seed")
        site = Site(seeded, root / "site").start()
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
                )
                context = browser.new_context(
                    viewport={"width": 1280, "height": 800}, color_scheme="light"
                )
                page = context.new_page()
                page.goto(site.url + "/login/")
                page.get_by_label("Email").fill(seeded.alice.email)
                page.get_by_label("Password").fill(PASSWORD)
                page.get_by_role("button", name="Log in").click()
                expect(page.get_by_role("heading", name="Active scans")).to_be_visible()
                for attempt in range(3):
                    name = "storefront" if attempt == 0 else f"storefront-{attempt}"
                    project = site.project(name, storefront(attempt))
                    page.goto(f"{site.url}/projects/{project['id']}/")
                    page.get_by_role("button", name="Start scan").click()
                    if mid_scan(page):
                        args.output.parent.mkdir(parents=True, exist_ok=True)
                        page.screenshot(path=str(args.output))
                        print(f"wrote {args.output}")
                        browser.close()
                        return 0
                browser.close()
        finally:
            site.stop()
    print("the scan never showed mid-way progress; try again on a quieter machine", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
