"""Playwright driving Debian's Chromium (no browser download) against the live server."""

import os
import shutil

import pytest

# Playwright's sync API runs an event loop in this thread; Django's test database calls from
# the same thread are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"No Chromium at {CHROMIUM}: run the suite with bin/test, which installs it.")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


def _console_error(problems: list[str], text: str) -> None:
    """Keep a console error as a problem, but a request htmx aborted on purpose (hx-sync: a
    newer search supersedes an older count), which it logs as two errors, afterRequest then
    sendAbort."""
    if text.startswith("htmx:sendAbort"):
        if problems and problems[-1].startswith("htmx:afterRequest"):
            problems.pop()
        return
    problems.append(text)


@pytest.fixture
def page(browser):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []
    page.on("console", lambda msg: msg.type == "error" and _console_error(problems, msg.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.problems = problems
    yield page
    context.close()
