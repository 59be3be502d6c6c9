"""Browser tests: Debian's chromium, driven by Playwright, against live demonstration servers.

One browser and one server per session (per xdist worker); each test gets a fresh browser
context (no cookies) and page. The whole directory is skipped, with the reason, when Debian's
chromium or Playwright is missing (``make test`` installs both: ``system-deps``, the ``dev``
extra). Playwright is given chromium's path: ``playwright install`` (which downloads a browser
of its own) is never needed.

Fixtures
--------
browser
    The chromium of the session.
live_server
    :class:`LiveServer`: ``caldb-server serve`` on the demonstration set, with one user per
    role (``live_server.users["reader"|"uploader"|"admin"]``, random passwords).
private_server
    The same instance served by a second server with ``CALDB_PUBLIC_READ=false``, started
    the first time a test asks for it.
page, private_page
    A new page in a new context whose base URL is the server's: ``page.goto("/search")``.
    When the test fails, a screenshot of the page and the end of the server's log are added
    to the report. A Content-Security-Policy violation or an uncaught JavaScript error on the
    page fails the test (at teardown): the pages promise a strict CSP.

The helpers (:func:`screenshot`, :func:`axe_check`, :func:`assert_accessible`) are in
:mod:`tests.ui.browser`.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
from collections.abc import Generator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from tests.live_demo import Credentials, DemoInstance, make_demo_instance, serving

CHROMIUM = shutil.which("chromium")
if CHROMIUM is None:
    pytest.skip(
        "Debian's chromium is not installed (`make system-deps`, as root, installs it)",
        allow_module_level=True,
    )
if importlib.util.find_spec("playwright") is None:
    pytest.skip(
        "Playwright is not installed (the `dev` extra: `make install`)", allow_module_level=True
    )

# Only now that both are known to be there:
from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402

from tests.ui.browser import (  # noqa: E402
    failure_screenshot,
    record_problems,
    stop_recording,
    take_problems,
)

ROLES = ("reader", "uploader", "admin")
LOG_LINES = 40  # of the server's log, in the report of a failed test
ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")  # Werkzeug colours its log lines
# Same look on every machine: screenshots and layout do not depend on the host's settings.
CONTEXT_OPTIONS = {
    "locale": "en-GB",
    "timezone_id": "UTC",
    "viewport": {"width": 1280, "height": 800},
    "color_scheme": "light",
    "reduced_motion": "reduce",
}


@dataclass(frozen=True)
class LiveServer:
    """A running CalDB server on the demonstration set, and its users by role."""

    url: str
    instance: DemoInstance
    users: dict[str, Credentials]
    log: Path  # the server's output: request lines, and tracebacks if any

    def log_tail(self, lines: int = LOG_LINES) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(ANSI_COLOUR.sub("", line) for line in text.splitlines()[-lines:])


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's chromium, headless (no sandbox as root: chromium refuses to start otherwise)."""
    arguments = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=arguments)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """``caldb-server serve`` on an instance with the demonstration set and a user per role."""
    directory = tmp_path_factory.mktemp("ui-caldb")
    instance = make_demo_instance(directory)
    users = {role: instance.create_user(role, role) for role in ROLES}
    log = directory / "server.log"
    with serving(instance, log=log) as url:
        yield LiveServer(url, instance, users, log)


@pytest.fixture(scope="session")
def private_server(live_server: LiveServer) -> Iterator[LiveServer]:
    """The same instance and users, served with ``CALDB_PUBLIC_READ=false``."""
    log = live_server.log.with_name("private-server.log")
    with serving(live_server.instance, {"CALDB_PUBLIC_READ": "false"}, log) as url:
        yield replace(live_server, url=url, log=log)


def _open_page(
    browser: Browser, server: LiveServer, request: pytest.FixtureRequest, folder: Path
) -> Iterator[Page]:
    context = browser.new_context(base_url=server.url, **CONTEXT_OPTIONS)
    opened = context.new_page()
    record_problems(opened)
    request.node.stash[_OPENED] = _Opened(opened, server, folder)
    yield opened
    problems = take_problems(opened)
    stop_recording(opened)
    context.close()
    if problems:
        pytest.fail("the page reported:\n" + "\n".join(problems))


@pytest.fixture
def page(
    browser: Browser, live_server: LiveServer, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Page]:
    """A new page, in a new context (no cookies), at the public-read server."""
    yield from _open_page(browser, live_server, request, tmp_path)


@pytest.fixture
def private_page(
    browser: Browser, private_server: LiveServer, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Page]:
    """A new page, in a new context (no cookies), at the private-read server."""
    yield from _open_page(browser, private_server, request, tmp_path)


@dataclass(frozen=True)
class _Opened:
    page: Page
    server: LiveServer
    folder: Path  # the test's tmp_path


_OPENED = pytest.StashKey[_Opened]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test's report gets the page's screenshot and the end of the server's log."""
    report = yield
    opened = item.stash.get(_OPENED, None)
    if report.failed and call.when == "call" and opened is not None:
        shot = failure_screenshot(opened.page, opened.folder / "failure.png")
        report.sections.append(("browser", shot))
        report.sections.append((f"server log ({opened.server.log})", opened.server.log_tail()))
    return report
