"""Helpers of the browser tests: screenshots, the accessibility check, what a page reported.

- :func:`screenshot` writes ``demo-output/screenshots/<name>.png`` (git-ignored); ``make
  screenshots`` copies the README's ones into ``docs/screenshots/``.
- :func:`axe_check` runs axe-core (npm, ``make node-deps``) on the page and returns its
  serious and critical violations; :func:`assert_accessible` fails the test with them listed.
  axe is put in the page by DevTools' ``Runtime.evaluate`` (``page.evaluate``), which the
  page's Content-Security-Policy does not govern: the strict policy of the pages stays in
  force, unlike ``page.add_script_tag`` (an inline script, refused by ``script-src 'self'``)
  or a context with ``bypass_csp``.
- :func:`record_problems` / :func:`take_problems`: the CSP violations and uncaught JavaScript
  errors a page reported (the ``page`` fixture fails a test that leaves any).
- :func:`sign_in` signs a user in through the ``Sign in`` form, as a person would.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Error, Locator, Page, expect

from tests.live_demo import Credentials

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "demo-output" / "screenshots"
AXE_SCRIPT = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")  # axe's impacts: minor, moderate, serious, critical
EVERY_IMPACT = ("minor", "moderate", "serious", "critical")
_NAME = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
_PROBLEMS: dict[int, list[str]] = {}  # id(page) -> what it reported


def screenshot(page: Page, name: str) -> Path:
    """The whole page as ``demo-output/screenshots/<name>.png`` (a lowercase-hyphenated name)."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"a screenshot name is lowercase words joined by hyphens, not {name!r}")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=path, full_page=True, animations="disabled", caret="hide")
    return path


def failure_screenshot(page: Page, path: Path) -> str:
    """A screenshot for the report of a failed test; what went wrong if there can be none."""
    try:
        page.screenshot(path=path, full_page=True)
    except Error as error:  # the page or browser is gone: say so, the failure is elsewhere
        return f"page {page.url}: no screenshot ({error.message.splitlines()[0]})"
    return f"page {page.url}: screenshot {path}"


@dataclass(frozen=True)
class Violation:
    """One rule axe-core found broken, and where."""

    rule: str
    impact: str
    help: str
    help_url: str
    nodes: tuple[str, ...]  # "selector: what is wrong", one per offending element

    def __str__(self) -> str:
        lines = [f"{self.rule} ({self.impact}): {self.help} <{self.help_url}>"]
        lines += [f"    {node}" for node in self.nodes]
        return "\n".join(lines)


@cache
def _axe_source() -> str:
    return AXE_SCRIPT.read_text()


def axe_check(page: Page, impacts: tuple[str, ...] = SERIOUS) -> list[Violation]:
    """axe-core's violations on the page as it is now, of the given impacts.

    Skips the test when axe-core is not installed (no npm on the machine).
    """
    if not AXE_SCRIPT.is_file():
        pytest.skip(f"axe-core is not installed at {AXE_SCRIPT} (`make node-deps` runs npm ci)")
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(_axe_source())
    found = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [_violation(entry) for entry in found if entry["impact"] in impacts]


def _violation(entry: dict[str, Any]) -> Violation:
    nodes = tuple(
        f"{' '.join(map(str, node['target']))}: {' '.join(node['failureSummary'].split())}"
        for node in entry["nodes"]
    )
    return Violation(entry["id"], entry["impact"], entry["help"], entry["helpUrl"], nodes)


def assert_accessible(page: Page) -> None:
    """Fail the test, listing them, if axe-core finds serious or critical violations."""
    violations = axe_check(page)
    if violations:
        listed = "\n".join(str(violation) for violation in violations)
        pytest.fail(f"{page.url}: {len(violations)} accessibility violation(s):\n{listed}")


def record_problems(page: Page) -> None:
    """From now on, remember the page's CSP violations and uncaught JavaScript errors."""
    problems = _PROBLEMS.setdefault(id(page), [])

    def console(message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            problems.append(f"CSP violation: {message.text}")

    def page_error(error: Error) -> None:
        problems.append(f"uncaught JavaScript error: {error.message}")

    page.on("console", console)
    page.on("pageerror", page_error)


def take_problems(page: Page) -> list[str]:
    """What the page reported since :func:`record_problems` or the last call; then forget it."""
    problems = _PROBLEMS.get(id(page), [])
    taken = list(problems)
    problems.clear()
    return taken


def stop_recording(page: Page) -> None:
    """Forget the page (it is closed)."""
    _PROBLEMS.pop(id(page), None)


def sign_in(page: Page, user: Credentials) -> None:
    """Sign ``user`` in with the ``Sign in`` form; return once the page offers ``Sign out``."""
    page.goto("/sign-in")
    page.get_by_label("User name").fill(user.username)
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Sign in").click()
    expect(sign_out_control(page)).to_be_visible()


def sign_out_control(page: Page) -> Locator:
    """The header's ``Sign out`` (a button of a form: signing out changes state)."""
    return page.get_by_role("button", name="Sign out").or_(
        page.get_by_role("link", name="Sign out")
    )
