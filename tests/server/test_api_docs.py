"""``/api/v1/docs``: Swagger UI from the installed package, under a CSP with nothing inline."""

from __future__ import annotations

import importlib.resources
import importlib.util
import os
import re
import shutil
from html.parser import HTMLParser
from typing import Any

import pytest
import requests

from caldb_server.meta.docs import ASSET_MAX_AGE_S
from caldb_server.meta.views import openapi_document
from tests.helpers import assert_problem

DOCS = "/api/v1/docs"
CONTENT_TYPES = {
    "css": "text/css; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
    "png": "image/png",
}
CHROMIUM = shutil.which("chromium")


class PageLinks(HTMLParser):
    """What a page loads (scripts, stylesheets, icons), its inline code and its viewer's root."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.stylesheets: list[str] = []
        self.icons: list[str] = []
        self.inline: list[str] = []  # inline script bodies, style elements and attributes
        self.root: dict[str, str | None] = {}
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if "style" in attributes or any(name.startswith("on") for name in attributes):
            self.inline.append(f"<{tag}> attribute")
        if tag == "script":
            self._in_script = True
            self.scripts.append(attributes.get("src") or "")
        elif tag == "style":
            self.inline.append("<style>")
        elif tag == "link" and attributes.get("rel") == "stylesheet":
            self.stylesheets.append(attributes["href"] or "")
        elif tag == "link" and attributes.get("rel") == "icon":
            self.icons.append(attributes["href"] or "")
        elif attributes.get("id") == "swagger-ui":
            self.root = attributes

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(f"script body {data.strip()[:40]!r}")


def page_links(html: str) -> PageLinks:
    parser = PageLinks()
    parser.feed(html)
    return parser


def policy_directives(header: str) -> dict[str, list[str]]:
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: sources for name, *sources in directives}


def linked_assets(client: Any) -> list[str]:
    links = page_links(client.get(DOCS).get_data(as_text=True))
    return links.scripts + links.stylesheets + links.icons


def test_the_page_loads_swagger_ui_on_the_openapi_document(client):
    response = client.get(DOCS)
    assert response.status_code == 200
    assert response.content_type == "text/html; charset=utf-8"
    links = page_links(response.get_data(as_text=True))
    names = [url.rpartition("/")[2] for url in links.scripts + links.stylesheets + links.icons]
    assert [re.sub(r"\.[0-9a-f]{12}\.", ".", name) for name in names] == [
        "swagger-ui-bundle.js",
        "docs-init.js",
        "swagger-ui.css",
        "docs.css",  # ours, after Swagger UI's: its colours with enough contrast
        "favicon-32x32.png",
    ]
    assert all(url.startswith(f"{DOCS}/assets/") for url in links.scripts + links.stylesheets)
    assert links.root["data-openapi-url"] == "/api/v1/openapi.json"
    assert links.inline == []
    assert "/api/v1/openapi.json" in response.get_data(as_text=True).partition("<noscript>")[2]


def test_the_policy_allows_nothing_inline_and_nothing_from_elsewhere(client):
    for url in [DOCS, *linked_assets(client)]:
        directives = policy_directives(client.get(url).headers["Content-Security-Policy"])
        assert directives["default-src"] == ["'none'"], url
        assert directives["script-src"] == directives["style-src"] == ["'self'"], url
        assert directives["img-src"] == ["'self'", "data:"], url  # Swagger UI's icons
        assert directives["connect-src"] == ["'self'"], url  # the document, "Try it out"
        assert directives["frame-ancestors"] == directives["base-uri"] == ["'none'"], url


def test_the_api_answers_keep_the_data_policy(client):
    """The docs' policy is their blueprint's only: openapi.json still loads nothing."""
    header = client.get("/api/v1/openapi.json").headers["Content-Security-Policy"]
    assert policy_directives(header)["default-src"] == ["'none'"]
    assert "script-src" not in policy_directives(header)


def test_every_linked_asset_is_served_over_http_with_its_type_and_a_year_of_cache(
    client, live_server
):
    urls = linked_assets(client)
    assert len(urls) == 5
    for url in urls:
        response = requests.get(live_server + url, timeout=30)
        assert response.status_code == 200, url
        assert response.headers["Content-Type"] == CONTENT_TYPES[url.rpartition(".")[2]], url
        assert response.content, url
        cache = {part.strip() for part in response.headers["Cache-Control"].split(",")}
        assert cache == {"public", f"max-age={ASSET_MAX_AGE_S}", "immutable"}, url
        again = requests.get(
            live_server + url, headers={"If-None-Match": response.headers["ETag"]}, timeout=30
        )
        assert again.status_code == 304, url


def test_the_viewer_is_the_installed_packages_file(client):
    """The bytes come from the flask-swagger-ui wheel, not from a copy kept in the repository."""
    (bundle,) = [url for url in linked_assets(client) if "swagger-ui-bundle." in url]
    dist = importlib.resources.files("flask_swagger_ui").joinpath("dist")
    assert client.get(bundle).get_data() == dist.joinpath("swagger-ui-bundle.js").read_bytes()
    version = dist.joinpath("VERSION").read_text().strip()
    assert int(version.removeprefix("v").split(".")[0]) >= 5  # OpenAPI 3.1 needs Swagger UI 5


def test_the_init_script_starts_swagger_ui_on_the_pages_document(client):
    (init,) = [url for url in linked_assets(client) if "docs-init." in url]
    script = client.get(init).get_data(as_text=True)
    assert 'getElementById("swagger-ui")' in script
    assert "url: root.dataset.openapiUrl" in script  # the page's data-openapi-url
    assert "queryConfigEnabled: false" in script  # no ?url= pointing at another document
    assert "validatorUrl: null" in script  # the document stays on this server
    assert "deepLinking: false" in script  # no link nested in each operation's button


def test_the_served_names_follow_the_document(client):
    parameter = openapi_document()["paths"]["/docs/assets/{name}"]["get"]["parameters"][0]
    pattern = re.compile(parameter["schema"]["pattern"])
    for url in linked_assets(client):
        assert pattern.fullmatch(url.rpartition("/")[2]), url


def test_the_page_is_revalidated_on_each_visit(client):
    response = client.get(DOCS)
    assert response.headers["Cache-Control"] == "no-cache"
    again = client.get(DOCS, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


@pytest.mark.parametrize(
    "name",
    [
        "swagger-ui.css",  # a file of the package, but not a served (fingerprinted) name
        "index.css",  # a file of the package the page does not use
        "swagger-ui.000000000000.css",  # a stale or made-up digest
        "docs.html",
        "__init__.py",
        "..",
        "%2e%2e",
        "..%2Fviews.py",
        "%2e%2e%2f%2e%2e%2f%2e%2e%2fsetup.cfg",
        "..%5c..%5csetup.cfg",
        "x" * 5000,
    ],
)
def test_a_name_outside_the_table_is_a_404_problem(client, name):
    assert_problem(client.get(f"{DOCS}/assets/{name}"), 404)


@pytest.mark.parametrize(
    "path",
    [
        "../../setup.cfg",
        "../views.py",
        "%2e%2e/%2e%2e/%2e%2e/setup.cfg",
        "/etc/passwd",
        "//etc/passwd",
        "dist/swagger-ui.css",
        "C:%5Cwindows%5Cwin.ini",
        "..%00/setup.cfg",
    ],
)
def test_paths_never_reach_a_file(client, path):
    response = client.get(f"{DOCS}/assets/{path}")
    assert response.status_code in {404, 422}, path  # 422: a control character (%00)
    body = response.get_data()
    for content in (b"[metadata]", b"root:", b"import"):  # setup.cfg, passwd, a module
        assert content not in body, path


@pytest.mark.parametrize("app_config", [{"PUBLIC_READ": "false"}], indirect=True)
def test_the_docs_stay_public_when_reads_are_private(client):
    """Like openapi.json: the page describes the API, it shows no calibration data."""
    assert_problem(client.get("/api/v1/instruments"), 401)  # reads do need a token here
    assert client.get(DOCS).status_code == 200
    for url in linked_assets(client):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "Authorization" not in response.vary, url  # shared caches may keep them


@pytest.fixture
def app_config(app_config, request):
    """``indirect=True`` parametrisation: settings to change before the app is made."""
    return app_config | getattr(request, "param", {})


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
@pytest.mark.skipif(importlib.util.find_spec("playwright") is None, reason="no Playwright")
def test_swagger_ui_renders_every_operation_in_chromium_without_a_csp_violation(live_server):
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - optional test dependency

    document = openapi_document()
    items = [*document["paths"].values(), *document.get("webhooks", {}).values()]
    operations = sum(method != "parameters" for item in items for method in item)
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox"] if os.geteuid() == 0 else []
        )
        page = browser.new_page()
        page.on("console", lambda message: problems.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
        page.goto(live_server + DOCS)
        page.wait_for_selector(".opblock")
        rendered = page.locator(".opblock").count()
        title = page.locator(".info .title").inner_text()
        page.locator(".opblock-summary-path", has_text="/health").first.click()
        page.get_by_role("button", name="Try it out").click()
        page.get_by_role("button", name="Execute").click()
        status = page.locator(".live-responses-table tbody .response-col_status").first
        status_text = status.inner_text()
        browser.close()
    assert title.startswith(openapi_document()["info"]["title"])
    assert rendered == operations
    assert status_text == "200"  # "Try it out" reached the API (connect-src 'self')
    assert problems == []  # a CSP violation is a console error in Chromium
