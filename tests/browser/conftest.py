"""Fixtures for the browser tests: a real ``moot serve`` on SQLite whose relay is a mail sink
(the server of tests/inbound/test_end_to_end.py: a list dev@example.org with an owner, a
moderator and a member), and Debian's Chromium driven by Playwright.

Playwright is only the driver here: it never downloads a browser; it starts
``/usr/bin/chromium`` (``apt-get install chromium``).  Without it the tests skip and say so.
The pages are screenshotted into docs/screenshots/ on the way, so the pictures there always
show the pages as the tests last saw them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import fresh_database
from tests.inbound import test_end_to_end as e2e
from tests.inbound.test_end_to_end import Server

# The end-to-end tests' server, as it is: moot serve + a sink relay + the list and its members.
server = e2e.server

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "a long enough passphrase"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    """The browser tests run on SQLite only: what they check is the pages, and the server's
    database code is tested on both databases elsewhere."""
    with fresh_database("sqlite", tmp_path) as url:
        yield url


@pytest.fixture(scope="package")
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, for the browser tests (set up before any server: a wider
    fixture comes first, so a missing browser skips without starting one).  Package scope,
    not session: Playwright's sync API keeps an event loop running in this thread while it
    is open, and the tests after these need asyncio.run."""
    if not CHROMIUM.exists():
        pytest.skip(f"the browser tests need Debian's chromium at {CHROMIUM}: "
                    "run `apt-get install chromium` (as root)")
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="pip install playwright (the test extra has it)")
    with sync_api.sync_playwright() as p:
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=args)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def new_context(chromium: Any, server: Server) -> Iterator[Callable[..., Any]]:
    """Make a fresh browser context (its own cookies: one person) on the served site; all
    are closed after the test."""
    made: list[Any] = []

    def make(**options: Any) -> Any:
        options.setdefault("viewport", DESKTOP)
        context = chromium.new_context(base_url=server.base, **options)
        context.set_default_timeout(15_000)
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()


@pytest.fixture
def accounts(server: Server, monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Make web accounts the way an operator does: ``moot user create`` with the password in
    MOOT_PASSWORD."""
    monkeypatch.setenv("MOOT_PASSWORD", PASSWORD)

    def create(*emails: str) -> None:
        for email in emails:
            r = server.cli("user", "create", email)
            assert r.returncode == 0, r.stderr

    return create


def shot(page: Any, name: str, *, full_page: bool = True) -> None:
    """Save what the page looks like as docs/screenshots/NAME."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=full_page)


def log_in(page: Any, email: str, password: str = PASSWORD) -> None:
    """Log in with the form at /login, as a person does, and check that it worked."""
    page.goto("/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    assert "/login" not in page.url, page.inner_text("main")
    # The header names the logged-in account.
    assert email in page.inner_text("header")

