"""What the HEASARC tree's listings never show, and who may see them.

Listings come from the catalogue only (a stray file on disk stays invisible), resolve no
dot segment, escape every name, follow the read mode (a signed-in browser's session opens
a private tree; a bearer token, when sent, is the only credential read), and only they get
the web interface's Content-Security-Policy.
"""

from __future__ import annotations

import http.client
from urllib.parse import urlencode, urlsplit

import pytest

from caldb_server.headers import DATA_POLICY
from caldb_server.ui import PAGE_POLICY
from caldb_server.web import extension
from tests.helpers import MXT_GAIN, assert_problem, bearer, calfile_bytes, upload
from tests.server.test_heasarc_listing import (
    GAIN_DIR,
    GAIN_FILE,
    MXT,
    catalogue_file,
    entries,
    fetch,
    listing,
)
from tests.server.ui_client import add_user, csrf_token, sign_in

GAIN = calfile_bytes(MXT_GAIN)
HOSTILE_DIR = "data/svom/mxt/bcf/<b>\"x'&amp;"
HOSTILE_FILE = "<img src=x onerror=alert(1)>.fits"
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.fixture
def gain(client, uploader):
    response = upload(client, GAIN, "mxt_gain_v1.fits", headers=uploader)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["datasets"][0]


@pytest.fixture
def private(app_config):
    app_config["PUBLIC_READ"] = "false"
    return app_config


def test_a_stray_file_or_directory_on_disk_is_not_listed(app, client, gain):
    root = extension(app).storage.root
    (root / "data/svom/mxt/bcf/gain/stray.fits").write_bytes(GAIN)
    (root / "data/svom/mxt/bcf/stray").mkdir()
    (root / "data/svom/mxt/bcf/stray/hidden.fits").write_bytes(GAIN)
    (root / "data/svom/ghost").mkdir()
    assert entries(listing(client, GAIN_DIR)) == {"mxt_gain_v1.fits": GAIN_FILE}
    assert entries(listing(client, f"{MXT}bcf/")) == {"gain": GAIN_DIR}
    assert "ghost" not in entries(listing(client, "/caldb/data/svom/"))
    for path in (f"{MXT}bcf/stray/", "/caldb/data/svom/ghost/", f"{MXT}bcf/stray"):
        response = fetch(client, path)
        assert response.status_code == 404, path
        assert "Location" not in response.headers
    assert_problem(fetch(client, f"{GAIN_DIR}stray.fits"), 404)


TRAVERSALS = [
    "/caldb/data/../../etc/",
    "/caldb/data/%2e%2e/%2e%2e/etc/",
    "/caldb/%2e%2e/",
    "/caldb/..%2f..%2fetc/",
    "/caldb/data/svom/../svom/mxt/",
    "/caldb/./data/",
    "/caldb/data/svom/mxt/bcf/gain/../",
    "/caldb/data/svom/mxt/%2e",
    "/caldb/data/svom/mxt/bcf/..",
]


@pytest.mark.parametrize("path", TRAVERSALS)
@pytest.mark.parametrize("accept", [{}, BROWSER], ids=["client", "browser"])
def test_dot_segments_are_404_never_resolved(client, gain, path, accept):
    response = fetch(client, path, headers=accept)
    assert response.status_code == 404
    assert "Location" not in response.headers
    assert "Index of" not in response.get_data(as_text=True)


def test_dot_segments_over_real_http_are_404(live_server, gain):
    """http.client sends the path as written: no client-side normalisation."""
    address = urlsplit(live_server)
    for path in TRAVERSALS:
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read().decode()
        finally:
            connection.close()
        assert response.status == 404, path
        assert response.getheader("Location") is None
        assert "root:" not in body
        assert "Index of" not in body


def test_hostile_names_are_escaped(app, client):
    catalogue_file(app, HOSTILE_DIR, HOSTILE_FILE, held=True)
    page = client.get(f"{MXT}bcf/").get_data(as_text=True)
    assert "<b>" not in page
    assert "&lt;b&gt;&#34;x&#39;&amp;amp;" in page
    href = "/caldb/data/svom/mxt/bcf/%3Cb%3E%22x%27%26amp%3B/"
    assert f'href="{href}"' in page
    directory = client.get(href)
    assert directory.status_code == 200
    text = directory.get_data(as_text=True)
    assert "<img" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;.fits" in text
    assert "%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E.fits" in text
    hostile_url = client.get("/caldb/<script>alert(1)</script>/", headers=BROWSER)
    assert hostile_url.status_code == 404
    assert "<script>alert" not in hostile_url.get_data(as_text=True)


def test_listings_have_the_page_policy_and_files_the_data_policy(client, gain):
    assert listing(client, GAIN_DIR).links  # listing() checks PAGE_POLICY
    for missing in (f"{MXT}nothing/", f"{GAIN_FILE}/"):
        page = fetch(client, missing, headers=BROWSER)
        assert (page.status_code, page.mimetype) == (404, "text/html")
        assert page.headers["Content-Security-Policy"] == PAGE_POLICY
        assert "Accept" in page.vary
        problem = fetch(client, missing)  # a client that does not ask for HTML
        assert_problem(problem, 404)
        assert problem.headers["Content-Security-Policy"] == DATA_POLICY
    for path in (
        GAIN_FILE,
        f"{MXT}caldb.indx",
        "/caldb/software/tools/caldb.config",
        f"{GAIN_FILE}.gz",
        f"{MXT}nothing.fits",
    ):
        response = fetch(client, path)
        assert response.headers["Content-Security-Policy"] == DATA_POLICY, path
        assert response.mimetype != "text/html", path
    redirect = fetch(client, "/caldb/data/svom/mxt")
    assert redirect.status_code == 301
    assert redirect.headers["Content-Security-Policy"] == DATA_POLICY


def test_private_tree_sends_a_browser_to_sign_in_and_a_client_a_401(private, client, gain):
    for path in ("/caldb/", "/caldb", GAIN_DIR):
        response = fetch(client, path, headers=BROWSER)
        assert response.status_code == 302, path
        assert response.headers["Location"] == f"/sign-in?{urlencode({'next': path})}"
        assert_problem(fetch(client, path), 401)  # not a browser: the tree's 401
    for path in (GAIN_FILE, f"{MXT}caldb.indx", f"{GAIN_FILE}.gz", "/caldb/data/svom/mxt"):
        refused = assert_problem(fetch(client, path), 401)  # as before the listings
        assert "bearer token" in refused["detail"]
        assert fetch(client, path).headers["WWW-Authenticate"].startswith("Bearer")


def test_private_tree_opens_to_a_readers_bearer_token(private, client, make_token, gain):
    reader = bearer(make_token("reader"))
    assert entries(listing(client, GAIN_DIR, headers=reader)) == {"mxt_gain_v1.fits": GAIN_FILE}
    response = fetch(client, GAIN_FILE)
    assert response.status_code == 401
    response = fetch(client, GAIN_FILE, headers=reader)
    assert response.get_data() == GAIN
    assert {"Authorization", "Cookie"} <= set(response.vary)
    assert response.cache_control.private


def test_private_tree_opens_to_a_signed_in_browser(private, app, client, gain):
    add_user(app, "rita", "reader")
    assert sign_in(client, "rita").status_code == 303
    page = listing(client, GAIN_DIR)
    assert (f"/datasets/{gain['id']}", f"dataset {gain['id']}") in page.links
    (href,) = [href for name, href in entries(page).items() if name == "mxt_gain_v1.fits"]
    response = fetch(client, href)
    assert response.status_code == 200
    assert response.get_data() == GAIN
    assert "Cookie" in response.vary
    assert response.cache_control.private
    assert fetch(client, f"{href}.gz").status_code == 404  # the probes stay 404
    # A bearer token, when sent, is the only credential read: a bad one is refused.
    refused = fetch(client, href, headers={"Authorization": "Bearer not-a-token"})
    assert_problem(refused, 401)
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/")})
    assert fetch(client, GAIN_DIR, headers=BROWSER).status_code == 302
    assert_problem(fetch(client, href), 401)
