"""The browser-test stack works: chromium reaches the live servers, axe runs under the pages'
Content-Security-Policy, the page fixture catches CSP violations, screenshots are written.

The pages of the interface have their own test modules; these probe the tools with the API's
documents and with probe pages that Playwright serves at the server's origin (``page.route``)
under the interface's own policy.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, Route, expect

from caldb_server.ui import PAGE_POLICY
from tests.ui.browser import (
    assert_accessible,
    axe_check,
    screenshot,
    sign_in,
    sign_out_control,
    take_problems,
)
from tests.ui.conftest import ROLES, LiveServer

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# A 1x1 transparent PNG: an image that loads under img-src 'self' data:.
PIXEL = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


def probe_page(body: str, title: str = "Probe") -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"</head><body><main><h1>{title}</h1>{body}</main></body></html>"
    )


def serve_probe(page: Page, path: str, html: str) -> None:
    """Answer ``path`` of the server's origin with ``html``, under the interface's CSP."""

    def answer(route: Route) -> None:
        headers = {"Content-Security-Policy": PAGE_POLICY}
        route.fulfill(status=200, content_type="text/html", headers=headers, body=html)

    page.route(f"**{path}", answer)


def test_chromium_reads_the_openapi_document(page: Page) -> None:
    response = page.goto("/api/v1/openapi.json")
    assert response is not None
    assert response.status == 200
    assert response.headers["content-type"].startswith("application/json")
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert "/search" in document["paths"]


def test_the_api_documentation_runs_its_scripts_under_its_policy(page: Page) -> None:
    document = page.request.get("/api/v1/openapi.json").json()
    page.goto("/api/v1/docs")
    # Swagger UI, loaded from the server's own files, fetched the document and drew it.
    expect(page.locator(".swagger-ui .info .title")).to_contain_text(document["info"]["title"])
    expect(page.get_by_text(document["paths"]["/search"]["get"]["summary"])).to_be_visible()
    path = screenshot(page, "api-docs")
    assert path.read_bytes().startswith(PNG_SIGNATURE)


def test_private_read_server_needs_a_signed_in_reader(page: Page, private_page: Page) -> None:
    public = page.goto("/api/v1/instruments")
    private = private_page.goto("/api/v1/instruments")
    assert public is not None
    assert private is not None
    assert public.status == 200
    assert private.status == 401


@pytest.mark.parametrize("role", ROLES)
def test_every_role_signs_in(page: Page, live_server: LiveServer, role: str) -> None:
    page.goto("/")
    expect(sign_out_control(page)).to_have_count(0)
    sign_in(page, live_server.users[role])
    expect(sign_out_control(page)).to_be_visible()


def test_axe_runs_under_the_interface_policy_and_finds_what_is_wrong(page: Page) -> None:
    serve_probe(page, "/probe-no-alt", probe_page(f'<img src="{PIXEL}">'))
    page.goto("/probe-no-alt")
    violations = axe_check(page)
    assert [(violation.rule, violation.impact) for violation in violations] == [
        ("image-alt", "critical")
    ]
    assert violations[0].nodes[0].startswith("img:")
    with pytest.raises(pytest.fail.Exception, match=r"image-alt \(critical\)"):
        assert_accessible(page)


def test_axe_finds_nothing_on_a_sound_page(page: Page) -> None:
    serve_probe(page, "/probe-sound", probe_page(f'<img src="{PIXEL}" alt="A dot">'))
    page.goto("/probe-sound")
    assert axe_check(page) == []
    assert_accessible(page)


def test_an_inline_script_is_refused_and_reported(page: Page) -> None:
    script = "<script>document.title = 'inline script ran'</script>"
    serve_probe(page, "/probe-inline", probe_page(script))
    page.goto("/probe-inline")
    assert page.title() == "Probe"
    problems = take_problems(page)  # taken: the page fixture would fail the test on them
    assert len(problems) == 1
    assert problems[0].startswith("CSP violation:")
    assert "script-src 'self'" in problems[0]


def test_an_uncaught_script_error_is_reported(page: Page) -> None:
    page.goto("/api/v1/openapi.json")
    with page.expect_event("pageerror"):
        page.evaluate("setTimeout(() => { throw new Error('deliberate'); })")
    assert take_problems(page) == ["uncaught JavaScript error: deliberate"]


def test_a_screenshot_name_is_checked(page: Page) -> None:
    with pytest.raises(ValueError, match="lowercase words joined by hyphens"):
        screenshot(page, "../README")
