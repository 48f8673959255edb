"""Browser tests: Playwright for Python driving Debian's chromium against a live server of the app.

They run on PostgreSQL (the live server's thread reads the rows a test commits through its own connection) and skip,
saying why, without playwright (`pip install -r requirements-browser.txt`), without a chromium binary
(`apt-get install chromium`; `HANDOFF_CHROMIUM` names another one) or on SQLite.
"""
from __future__ import annotations

import os
import shutil

import pytest
from django.core.management import call_command
from django.db import connection, connections

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

CHROMIUM = os.environ.get("HANDOFF_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "pw"  # tests.factories.make_user's
WIDTHS = {"desktop": 1366, "phone": 390}



# Each test module: pytestmark = [pytest.mark.browser, BROWSER_DB]. The live server's thread reads through its own
# connection, so rows must be committed: a transactional test, whose flush afterwards the module puts right (below).
BROWSER_DB = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture(scope="module", autouse=True)
def _migration_rows_back(django_db_blocker):
    """After the module, the rows the migrations made (roles, reason codes…) are back for the tests that follow:
    a transactional test ends by emptying every table."""
    yield
    with django_db_blocker.unblock():
        contents = getattr(connection, "_test_serialized_contents", None)
        if contents:
            call_command("flush", verbosity=0, interactive=False, inhibit_post_migrate=True)
            connection.creation.deserialize_db_from_string(contents)


@pytest.fixture(scope="module")
def chromium(django_db_setup):
    """Chromium for one module's tests (so Playwright's loop is gone again for the tests that follow)."""
    if connection.vendor != "postgresql":
        pytest.skip("browser tests run on PostgreSQL (set DATABASE_URL): the live server's thread reads committed rows")
    if sync_playwright is None:
        pytest.skip("playwright is not installed: pip install -r requirements-browser.txt")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no chromium at {CHROMIUM}: apt-get install chromium, or set HANDOFF_CHROMIUM")
    # Playwright's sync API leaves its event loop marked as running in this thread between its calls; Django's ORM
    # calls in between are still synchronous, one at a time. Django then keeps its connections apart from the ones
    # it had before the loop: the new ones get the test database's migration rows (for `serialized_rollback`), and
    # the old ones are closed so the test database can be dropped at the end.
    # The variable is this module's only: set for its tests and removed after, so no later test (or the
    # subprocesses they start, such as the deployment check) inherits it.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        before = {alias: connections[alias] for alias in connections}
        with sync_playwright() as playwright:
            for alias, old in before.items():
                if hasattr(old, "_test_serialized_contents"):
                    connections[alias]._test_serialized_contents = old._test_serialized_contents
                old.close()
            # --no-sandbox: CI runs as root, where chromium's sandbox refuses to start.
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            yield browser
            browser.close()
            connections.close_all()


@pytest.fixture
def site(chromium, live_server):
    return live_server.url


@pytest.fixture
def open_page(chromium, site):
    """`open_page(width)`: a fresh browser tab of that width (no cookies), on the live site."""
    contexts = []

    def opened(width: int):
        context = chromium.new_context(viewport={"width": width, "height": 860}, base_url=site)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())  # the confirm() before a bulk action
        return page

    yield opened
    for context in contexts:
        context.close()


def sign_in(page, username: str) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def assert_fits(page) -> None:
    """Nothing overflows sideways: the document is no wider than the window (else name what sticks out)."""
    found = page.evaluate(
        """() => {
          const width = window.innerWidth;
          const out = [...document.querySelectorAll('body *')]
            .filter(el => el.getBoundingClientRect().right > width + 1)
            .slice(0, 5)
            .map(el => el.tagName.toLowerCase() + '.' + String(el.className).replaceAll(' ', '.'));
          return {scroll: document.documentElement.scrollWidth, width, out};
        }"""
    )
    assert found["scroll"] <= found["width"], (
        f"{page.url}: {found['scroll']} px wide in {found['width']} px: {found['out']}"
    )
