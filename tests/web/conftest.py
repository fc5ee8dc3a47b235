"""Browser tests: Debian's Chromium driven by Playwright against real ``scanpulse serve``
processes (see ``harness``). Every page runs under the strict Content-Security-Policy, and a
test fails if the page reports a violation or an uncaught script error."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.support.analyzers import paced_settings
from tests.support.browser import CHROMIUM_ARGS, require_chromium
from tests.web.harness import Seed, Site, seed


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # One per module, not per session: Playwright's synchronous API keeps its event loop set
    # as this thread's running loop while it is open, which Django's database calls and the
    # asynchronous tests of the modules that run after it (in any order) would meet.
    chromium = require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seed:
    require_chromium()  # a missing Chromium skips (or fails in CI) before any seeding work
    return seed(tmp_path_factory.mktemp("seed"))


def _site(
    seeded: Seed, tmp_path_factory: pytest.TempPathFactory, name: str, settings: dict[str, str]
) -> Iterator[Site]:
    site = Site(seeded, tmp_path_factory.mktemp(name), settings).start()
    try:
        yield site
    finally:
        site.stop()


@pytest.fixture(scope="module")
def real_site(seeded: Seed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The real analyzers (bandit, detect-secrets, dependencies), no advisory database."""
    yield from _site(seeded, tmp_path_factory, "real", {})


@pytest.fixture(scope="module")
def paced_site(seeded: Seed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """Scans made of the paced test analyzer: a log line per file, 0.25 s each."""
    yield from _site(seeded, tmp_path_factory, "paced", paced_settings(0.25))


@pytest.fixture(scope="module")
def cutting_site(seeded: Seed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """Like ``paced_site``, but the server ends every stream after about 1.5 s."""
    settings = paced_settings(0.3) | {"SCANPULSE_SSE_MAX_LIFETIME_SECONDS": "1.5"}
    yield from _site(seeded, tmp_path_factory, "cutting", settings)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, color_scheme="light")
    context.set_default_timeout(20_000)
    page = context.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda message: (
            problems.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
    yield page
    context.close()
    assert problems == []
