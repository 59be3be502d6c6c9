"""The web interface's frame: home page, signing in and out, CSRF, errors as pages."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from caldb_server.auth.models import TokenRecord
from caldb_server.ui import PAGE_POLICY
from caldb_server.web import extension
from tests.helpers import MXT_GAIN, calfile_bytes, upload
from tests.server.ui_client import PASSWORD, add_user, csrf_token, sign_in, text

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.fixture
def private(app_config):
    app_config["PUBLIC_READ"] = "false"
    return app_config


def test_home_names_the_mission_its_instruments_and_recent_uploads(client, uploader):
    assert (
        upload(client, calfile_bytes(MXT_GAIN), "mxt_gain_v1.fits", headers=uploader).status_code
        == 201
    )
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.headers["Content-Security-Policy"] == PAGE_POLICY
    page = text(response)
    for name in ("MXT", "ECL", "VT"):
        assert f'<a href="/instruments/{name}">{name}</a>' in page
    assert "CALDBVER" in page
    assert "mxt_gain_v1.fits" in page  # the upload, in the recent activity
    assert '<a href="/sign-in">Sign in</a>' in page
    assert ">Search</a>" in page


def test_signing_in_keeps_an_httponly_samesite_session_and_shows_sign_out(app, client):
    add_user(app, "alice", "uploader")
    response = sign_in(client, "alice", next="/?from=test")
    assert response.status_code == 303
    assert response.headers["Location"] == "/?from=test"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie
    page = text(client.get("/"))
    assert "Sign out" in page
    assert ">Upload</a>" in page
    assert "Sign in</a>" not in page


def test_over_https_the_session_cookie_is_secure(app, client):
    add_user(app, "alice", "reader")
    https = "https://caldb.example"
    form = text(client.get("/sign-in", base_url=https))
    token = form.split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post(
        "/sign-in",
        data={"username": "alice", "password": PASSWORD, "csrf_token": token},
        base_url=https,
    )
    assert response.status_code == 303
    assert "Secure" in response.headers["Set-Cookie"]


def test_a_reader_has_no_upload_link(app, client):
    add_user(app, "rita", "reader")
    sign_in(client, "rita")
    page = text(client.get("/"))
    assert "Sign out" in page
    assert ">Upload</a>" not in page


@pytest.mark.parametrize(
    ("name", "password", "status"),
    [("alice", "wrong password!", 401), ("nobody", PASSWORD, 401), ("", "", 422)],
)
def test_a_refused_sign_in_says_so_on_the_form(app, client, name, password, status):
    add_user(app, "alice", "uploader")
    response = sign_in(client, name, password)
    assert response.status_code == status
    page = text(response)
    assert 'role="alert"' in page
    assert "Traceback" not in page
    assert '<label for="username">User name</label>' in page


def test_sign_in_attempts_are_throttled_as_the_api_is(app, client):
    add_user(app, "alice", "uploader")
    attempts = extension(app).settings.login_attempts
    statuses = [
        sign_in(client, "alice", "wrong password!").status_code for _ in range(attempts + 1)
    ]
    assert statuses[:attempts] == [401] * attempts
    assert statuses[-1] == 429
    assert sign_in(client, "alice").status_code == 429  # even the right password waits


def test_a_form_without_its_csrf_token_is_refused(app, client):
    add_user(app, "alice", "uploader")
    response = client.post("/sign-in", data={"username": "alice", "password": PASSWORD})
    assert response.status_code == 400
    assert "CSRF" in text(response)
    assert "Traceback" not in text(response)
    assert "Sign out" not in text(client.get("/"))


def test_signing_out_revokes_the_session_token(app, client):
    add_user(app, "alice", "uploader")
    sign_in(client, "alice")
    response = client.post("/sign-out", data={"csrf_token": csrf_token(client, "/")})
    assert response.status_code == 303
    assert "Sign in</a>" in text(client.get("/"))
    with extension(app).database.unit_of_work(write=False) as session:
        records = session.scalars(select(TokenRecord).where(TokenRecord.subject == "alice")).all()
    assert [r.revoked_by for r in records] == ["alice"]


def test_a_stolen_cookie_is_useless_after_sign_out(app, client):
    add_user(app, "alice", "uploader")
    sign_in(client, "alice")
    stolen = client.get_cookie("caldb_session").value
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/")})
    thief = app.test_client()
    thief.set_cookie("caldb_session", stolen)
    assert "Sign out" not in text(thief.get("/"))


def test_next_never_leaves_the_site(app, client):
    add_user(app, "alice", "uploader")
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        assert sign_in(client, "alice", next=target).headers["Location"] == "/"


def test_private_reads_send_a_browser_to_sign_in_and_back(private, app, client):
    response = client.get("/?x=1")
    assert response.status_code == 302
    assert response.headers["Location"] == "/sign-in?next=%2F%3Fx%3D1"
    add_user(app, "rita", "reader")
    assert sign_in(client, "rita", next="/").status_code == 303
    assert client.get("/").status_code == 200


def test_unknown_pages_are_pages_for_browsers_and_problems_for_programs(client):
    page = client.get("/no-such-page", headers=BROWSER)
    assert (page.status_code, page.mimetype) == (404, "text/html")
    assert "Back to the home page" in text(page)
    for path, headers in [("/no-such-page", {}), ("/api/v1/nothing", BROWSER)]:
        answer = client.get(path, headers=headers)
        assert (answer.status_code, answer.mimetype) == (404, "application/problem+json")


def test_static_files_are_served_and_paths_cannot_leave_their_folder(client):
    css = client.get("/ui/static/site.css")
    assert (css.status_code, css.mimetype) == (200, "text/css")
    css.close()
    for path in (
        "/ui/static/../blueprint.py",
        "/ui/static/%2e%2e/blueprint.py",
        "/ui/static//etc/passwd",
    ):
        assert client.get(path).status_code == 404


def test_control_characters_in_a_form_give_a_page_not_a_traceback(app, client):
    response = client.post(
        "/sign-in",
        data={"username": "al\x00ice", "password": "x", "csrf_token": csrf_token(client)},
    )
    assert response.status_code == 422
    assert response.mimetype == "text/html"
    assert "Traceback" not in text(response)


def test_the_sign_out_link_opens_a_page_whose_button_signs_out(app, client):
    assert client.get("/sign-out").headers["Location"] == "/"  # nobody to sign out
    add_user(app, "alice", "uploader")
    sign_in(client, "alice")
    page = text(client.get("/"))
    assert '<a href="/sign-out" data-submit="sign-out-form">Sign out</a>' in page
    form = client.get("/sign-out")
    assert form.status_code == 200
    assert '<button type="submit">Sign out</button>' in text(form)
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/sign-out")})
    assert "Sign in</a>" in text(client.get("/"))


def test_signing_in_again_revokes_the_session_it_replaces(app, client):
    add_user(app, "alice", "uploader")
    sign_in(client, "alice")
    first = client.get_cookie("caldb_session").value
    sign_in(client, "alice")
    thief = app.test_client()
    thief.set_cookie("caldb_session", first)
    assert "Sign out" not in text(thief.get("/"))
    assert "Sign out" in text(client.get("/"))


@pytest.mark.parametrize("target", ["/\\evil.example", "https:/evil.example", "/ok\\..\\x"])
def test_next_refuses_anything_but_a_plain_path(app, client, target):
    add_user(app, "alice", "uploader")
    assert sign_in(client, "alice", next=target).headers["Location"] == "/"
