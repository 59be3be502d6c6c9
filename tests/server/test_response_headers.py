"""Headers on every answer: security headers, caching of private content, no-store on tokens.

Every route of the app is called (errors included: 401, 404, 405), in both read modes, so a
new endpoint is covered without a new test.
"""

from __future__ import annotations

import pytest
from flask import Blueprint, Flask, url_for

from caldb_server import create_app
from caldb_server.auth.access import public
from caldb_server.headers import DATA_POLICY, set_content_security_policy
from caldb_server.meta.docs import DOCS_POLICY
from caldb_server.storage import StagedFile
from caldb_server.ui import PAGE_POLICY
from caldb_server.web import extension
from tests.helpers import MXT_GAIN, assert_problem, bearer, calfile_bytes, upload

SECURITY = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": DATA_POLICY,
}
NO_STORE_BLUEPRINTS = ("auth", "users")
# Blueprints that serve pages, and the policy of their answers (DATA_POLICY for the others).
PAGE_POLICIES = {"api_docs": DOCS_POLICY, "ui": PAGE_POLICY}
# Endpoints of a data blueprint whose 200s are pages: the HEASARC tree's top is a listing.
PAGE_ENDPOINTS = {"heasarc.caldb_root_view": PAGE_POLICY}
CONTENT = calfile_bytes(MXT_GAIN)


@pytest.fixture(params=["true", "false"], ids=["public reads", "private reads"])
def app_config(app_config, request):
    app_config["PUBLIC_READ"] = request.param
    return app_config


def private_reads(app: Flask) -> bool:
    return not extension(app).settings.public_read


def assert_security_headers(response, where, policy=DATA_POLICY):
    expected = SECURITY | {"Content-Security-Policy": policy}
    for name, value in expected.items():
        assert response.headers.get(name) == value, (where, response.status_code, name)


def every_route_url(app: Flask) -> list[tuple[str, str, frozenset[str]]]:
    """(endpoint, URL, methods) of every rule, with '1' for each variable part."""
    routes = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            url = url_for(rule.endpoint, **dict.fromkeys(rule.arguments, "1"))
            routes.append((rule.endpoint, url, frozenset(rule.methods or ())))
    return routes


@pytest.mark.parametrize("credentials", ["none", "admin"])
def test_every_route_answers_with_the_security_headers(app, client, make_token, credentials):
    headers = bearer(make_token("admin")) if credentials == "admin" else {}
    routes = every_route_url(app)
    assert len(routes) >= 19  # every endpoint of create_app() (see test_access_rules)
    readable = {url for _, url, methods in routes if "GET" in methods}
    statuses = set()
    for endpoint, url, _methods in routes:
        response = client.get(url, headers=headers)
        statuses.add(response.status_code)
        blueprint = endpoint.partition(".")[0]
        policy = PAGE_POLICIES.get(blueprint, DATA_POLICY)
        if endpoint in PAGE_ENDPOINTS and response.status_code == 200:
            policy = PAGE_ENDPOINTS[endpoint]  # its 401 to a client is the tree's JSON problem
        assert_security_headers(response, url, policy)
        if url not in readable:
            assert response.status_code == 405, url
        if blueprint in NO_STORE_BLUEPRINTS:  # their errors (401, 404, 405) included
            assert response.headers["Cache-Control"] == "no-store", url
            assert response.headers["Pragma"] == "no-cache", url
        response.close()
    if credentials == "none" and private_reads(app):
        expected = {200, 401, 405}  # only health and openapi.json answer without a token
    else:
        expected = {200, 404, 405} | ({401} if credentials == "none" else set())
    assert expected <= statuses


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/no-such-page", 404),
        ("GET", "/api/v1/nothing-here", 404),
        ("GET", "/caldb/data/svom/mxt/caldb.indx.gz", 404),  # CFITSIO's probe
        # /caldb/ is now an HTML listing (test_heasarc_listing.py); a missing file of the
        # tree is still a JSON problem with the data policy.
        ("GET", "/caldb/data/svom/mxt/bcf/gain/nothing.fits", 404),
        ("POST", "/api/v1/search", 405),
        ("DELETE", "/api/v1/instruments", 405),
        ("GET", "/api/v1/auth/token", 405),
        ("PUT", "/api/v1/users/alice", 405),
        ("POST", "/api/v1/auth/token", 422),
        ("GET", "/api/v1/auth/whoami", 401),
        ("GET", "/api/v1/auth/tokens", 401),
        ("GET", "/api/v1/users", 401),
        ("GET", "/api/v1/search?access_token=x", 401),
    ],
)
def test_error_answers_carry_the_headers_too(client, make_token, method, path, status):
    # A reader's token where a read needs one; the 401s are those of calls without a token.
    headers = {} if status == 401 else bearer(make_token("reader"))
    response = client.open(path, method=method, headers=headers)
    assert_problem(response, status)
    assert_security_headers(response, path)
    if path.startswith(("/api/v1/auth", "/api/v1/users")):
        assert response.headers["Cache-Control"] == "no-store"


def test_tokens_whoami_and_users_are_never_stored(app, client, make_token):
    admin = bearer(make_token("admin"))
    created = client.post(
        "/api/v1/users",
        json={"name": "pat", "role": "reader", "password": "correct horse battery"},
        headers=admin,
    )
    assert created.status_code == 201, created.get_json()
    login = client.post(
        "/api/v1/auth/token", json={"username": "pat", "password": "correct horse battery"}
    )
    token = login.get_json()["access_token"]
    answers = [
        created,
        login,
        client.get("/api/v1/auth/whoami", headers=bearer(token)),
        client.get("/api/v1/auth/tokens", headers=admin),
        client.get("/api/v1/users", headers=admin),
        client.get("/api/v1/users/pat", headers=admin),
        client.patch("/api/v1/users/pat", json={"disabled": True}, headers=admin),
        client.delete(f"/api/v1/auth/tokens/{login.get_json()['jti']}", headers=admin),
        client.get("/api/v1/users/nobody", headers=admin),
        client.post("/api/v1/auth/token", json={"username": "pat", "password": "wrong one"}),
    ]
    assert [a.status_code for a in answers] == [201, 200, 200, 200, 200, 200, 200, 204, 404, 401]
    for answer in answers:
        assert answer.headers["Cache-Control"] == "no-store", answer.request.path
        assert "public" not in answer.headers["Cache-Control"]
        assert_security_headers(answer, answer.request.path)


@pytest.fixture
def stored(client, uploader):
    """An uploaded file: its two URLs (API and HEASARC tree) and sha256."""
    response = upload(client, CONTENT, "mxt_gain_v1.fits", headers=uploader)
    assert response.status_code == 201, response.get_json()
    (dataset,) = response.get_json()["datasets"]
    urls = (
        f"/api/v1/files/{dataset['file_id']}/content",
        f"/caldb/{dataset['cal_dir']}/{dataset['cal_file']}",
    )
    return urls, dataset["sha256"]


@pytest.mark.parametrize("route", ["api", "heasarc tree"])
def test_file_caching_follows_the_read_mode(app, client, stored, make_token, route):
    urls, sha256 = stored
    url = urls[route == "heasarc tree"]
    reader = bearer(make_token("reader"))
    response = client.get(url, headers=reader)
    assert response.status_code == 200
    assert response.get_data() == CONTENT
    response.close()
    cache = response.cache_control
    assert cache.max_age == 3600  # files are immutable: caching is safe where allowed
    assert response.headers["ETag"] == f'"{sha256}"'
    again = client.get(url, headers=reader | {"If-None-Match": f'"{sha256}"'})
    assert again.status_code == 304  # revalidation still works
    again.close()
    if private_reads(app):
        # Not for a shared cache: it would hand one reader's file to anyone.
        for answer in (response, again):
            assert answer.cache_control.private
            assert not answer.cache_control.public
            assert "Authorization" in answer.vary
        refused = client.get(url)
        assert_problem(refused, 401)
        assert "Authorization" in refused.vary
        assert not refused.cache_control.public
    else:
        assert cache.public
        assert not cache.private
        assert "Authorization" not in response.vary
        anonymous = client.get(url)
        assert anonymous.status_code == 200
        assert anonymous.cache_control.public
        anonymous.close()


def test_every_read_of_a_private_caldb_is_private(app, client, stored, make_token):
    if not private_reads(app):
        pytest.skip("public reads are the same for everyone")
    reader = bearer(make_token("reader"))
    for path in [
        "/api/v1/search?instrument=MXT&codename=GAIN&date=-",
        "/api/v1/instruments",
        "/caldb/data/svom/mxt/caldb.indx",
        "/caldb/software/tools/caldb.config",
        *stored[0],
    ]:
        response = client.get(path, headers=reader)
        assert response.status_code == 200, path
        assert response.cache_control.private, path
        assert not response.cache_control.public, path
        assert "Authorization" in response.vary, path
        response.close()


def test_public_endpoints_do_not_vary_on_credentials(client):
    for path in ["/api/v1/health", "/api/v1/openapi.json"]:
        response = client.get(path)
        assert response.status_code == 200
        assert "Authorization" not in response.vary
        assert_security_headers(response, path)


def test_health_503_says_when_to_retry(app_config):
    app = create_app(app_config | {"DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"})
    try:
        response = app.test_client().get("/api/v1/health")
        assert response.status_code == 503
        assert response.get_json()["status"] == "unavailable"
        assert response.headers["Retry-After"] == "5"
        assert_security_headers(response, "health")
    finally:
        extension(app).database.dispose()


def test_a_blueprint_serving_pages_gets_its_own_policy(app_config):
    app = create_app(app_config)
    pages = Blueprint("pages", __name__)

    @pages.get("/pages/")
    @public
    def home() -> str:
        return "<!doctype html><title>CalDB</title>"

    app.register_blueprint(pages)
    policy = "default-src 'self'; frame-ancestors 'none'"
    set_content_security_policy(app, "pages", policy)
    try:
        client = app.test_client()
        page = client.get("/pages/")
        assert page.status_code == 200
        assert page.headers["Content-Security-Policy"] == policy
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        assert client.post("/pages/").headers["Content-Security-Policy"] == policy  # 405 too
        assert client.get("/api/v1/health").headers["Content-Security-Policy"] == DATA_POLICY
    finally:
        extension(app).database.dispose()


def test_an_answer_replaced_by_a_failed_commit_carries_the_headers(
    app_config, uploader, monkeypatch
):
    app = create_app(app_config | {"TESTING": False})
    try:

        def disk_full(self):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(StagedFile, "publish", disk_full)
        response = upload(app.test_client(), CONTENT, "gain_v1.fits", headers=uploader)
        assert_problem(response, 500)
        assert_security_headers(response, "failed commit")
    finally:
        extension(app).database.dispose()
