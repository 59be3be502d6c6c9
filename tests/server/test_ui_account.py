"""The web interface's account page (API tokens) and the admins' user management."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from caldb_server.auth.models import TokenRecord
from caldb_server.auth.tokens import MAX_TOKEN_DAYS
from caldb_server.users.service import get_user
from caldb_server.web import extension
from tests.helpers import bearer
from tests.server.ui_client import PASSWORD, add_user, csrf_token, sign_in, signed_in_client, text

_NEW_TOKEN = re.compile(r'<pre class="token" id="new-token" data-copy="[^"]*">([^<]+)</pre>')
_JTI = re.compile(r"<dt>Token id</dt><dd><code>([0-9a-f]+)</code>")


def create_token(client, token=None, **fields):
    data = {"role": "reader", "days": "7"} | fields
    if token is not False:
        data["csrf_token"] = token or csrf_token(client, "/account")
    return client.post("/account/tokens", data=data)


def made_token(response) -> tuple[str, str]:
    """The token shown once in the answer, and its id."""
    assert response.status_code == 200, text(response)
    token, jti = _NEW_TOKEN.search(text(response)), _JTI.search(text(response))
    assert token is not None
    assert jti is not None
    return token.group(1), jti.group(1)


def whoami(client, token):
    return client.get("/api/v1/auth/whoami", headers=bearer(token))


def revoke(client, jti):
    return client.post(
        f"/account/tokens/{jti}/revoke", data={"csrf_token": csrf_token(client, "/account")}
    )


def test_the_account_page_needs_a_sign_in(client):
    response = client.get("/account")
    assert response.status_code == 302
    assert response.headers["Location"] == "/sign-in?next=%2Faccount"


def test_the_account_page_says_who_you_are(app):
    alice = signed_in_client(app, "alice", "uploader")
    home = text(alice.get("/"))
    assert '<a href="/account">alice</a>' in home
    page = text(alice.get("/account"))
    assert "<dt>User name</dt><dd>alice</dd>" in page
    assert "<dt>Roles</dt><dd>uploader</dd>" in page
    assert "(this session)" in page  # the sign-in's own token, listed
    assert "Manage users" not in page


def test_a_token_is_shown_once_works_and_stops_when_revoked(app):
    alice = signed_in_client(app, "alice", "uploader")
    response = create_token(alice, role="uploader", days="3")
    token, jti = made_token(response)
    assert response.headers["Cache-Control"] == "no-store"
    assert "data-copy" in text(response)
    answer = whoami(alice, token)
    assert answer.status_code == 200
    assert answer.get_json()["subject"] == "alice"
    assert answer.get_json()["roles"] == ["uploader"]
    assert answer.get_json()["jti"] == jti
    later = text(alice.get("/account"))
    assert jti in later
    assert token not in later  # shown once
    assert token not in str(alice.get_cookie("caldb_session").value)
    with extension(app).database.unit_of_work(write=False) as session:
        record = session.get(TokenRecord, jti)
        assert (record.subject, record.roles, record.issued_by) == ("alice", "uploader", "alice")
        assert (record.expires_at - record.issued_at).days == 3
    revoked = revoke(alice, jti)
    assert revoked.status_code == 303
    assert revoked.headers["Location"] == "/account"
    assert f"Token {jti} is revoked" in text(alice.get("/account"))
    assert whoami(alice, token).status_code == 401


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"role": "admin"}, "must be one of your roles: uploader, reader"),
        ({"role": "root"}, "must be one of your roles"),
        ({"days": "0"}, f"must be an integer from 1 to {MAX_TOKEN_DAYS}"),
        ({"days": str(MAX_TOKEN_DAYS + 1)}, "must be an integer from 1"),
        ({"days": "seven"}, "must be an integer from 1"),
    ],
)
def test_a_token_beyond_your_role_or_the_lifetime_bounds_is_refused(app, fields, reason):
    alice = signed_in_client(app, "alice", "uploader")
    response = create_token(alice, **fields)
    assert response.status_code == 422
    assert reason in text(response)
    assert _NEW_TOKEN.search(text(response)) is None
    with extension(app).database.unit_of_work(write=False) as session:
        issued = session.scalars(select(TokenRecord.issued_by)).all()
    assert issued == ["login"]  # only the session's


def test_token_forms_need_their_csrf_token(app):
    alice = signed_in_client(app, "alice", "uploader")
    assert create_token(alice, token=False).status_code == 400
    _token, jti = made_token(create_token(alice))
    forged = alice.post(f"/account/tokens/{jti}/revoke")
    assert forged.status_code == 400
    assert "Traceback" not in text(forged)


def test_nobody_but_an_admin_revokes_another_users_token(app):
    bob = signed_in_client(app, "bob", "uploader")
    token, jti = made_token(create_token(bob))
    mallory = signed_in_client(app, "mallory", "uploader")
    refused = revoke(mallory, jti)
    assert refused.status_code == 403
    assert "only your own tokens" in text(refused)
    assert revoke(mallory, "0123456789abcdef").status_code == 404
    assert whoami(bob, token).status_code == 200
    admin = signed_in_client(app, "root", "admin")
    assert "Manage users" in text(admin.get("/account"))
    assert revoke(admin, jti).status_code == 303
    assert whoami(bob, token).status_code == 401


def test_revoking_the_sessions_own_token_signs_out(app):
    alice = signed_in_client(app, "alice", "reader")
    with extension(app).database.unit_of_work(write=False) as session:
        (jti,) = session.scalars(select(TokenRecord.jti)).all()
    assert revoke(alice, jti).status_code == 303
    assert alice.get("/account").status_code == 302  # to Sign in


# ---- /admin/users ----


def admin_form(client, path="/admin/users", **fields):
    data = {"csrf_token": csrf_token(client, "/admin/users")} | fields
    return client.post(path, data=data)


@pytest.mark.parametrize("role", ["reader", "uploader"])
def test_only_admins_reach_the_users_page(app, client, role):
    assert client.get("/admin/users").status_code == 302
    someone = signed_in_client(app, "someone", role)
    for response in (
        someone.get("/admin/users"),
        someone.post("/admin/users", data={"csrf_token": csrf_token(someone, "/")}),
    ):
        assert response.status_code == 403
        assert response.mimetype == "text/html"
        assert "Traceback" not in text(response)


def test_an_admin_creates_a_user_who_can_sign_in(app):
    admin = signed_in_client(app, "root", "admin")
    response = admin_form(admin, name="carol", role="uploader", password=PASSWORD)
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/users"
    page = text(admin.get("/admin/users"))
    assert "User carol created with role uploader" in page
    assert "<td>carol</td>" in page
    carol = app.test_client()
    assert sign_in(carol, "carol").status_code == 303
    assert ">Upload</a>" in text(carol.get("/"))
    with extension(app).database.unit_of_work(write=False) as session:
        assert get_user(session, "carol").created_by == "root"


@pytest.mark.parametrize(
    ("fields", "status", "reason"),
    [
        ({"name": "dave", "role": "uploader", "password": "short"}, 422, "must have 12 to"),
        ({"name": "-dave", "role": "reader", "password": PASSWORD}, 422, "starting with a letter"),
        ({"name": "dave", "role": "root", "password": PASSWORD}, 422, "must be one of admin"),
        ({"name": "ROOT", "role": "reader", "password": PASSWORD}, 409, "already a user"),
    ],
)
def test_a_refused_user_is_explained_on_the_form(app, fields, status, reason):
    admin = signed_in_client(app, "root", "admin")
    response = admin_form(admin, **fields)
    assert response.status_code == status
    page = text(response)
    assert reason in page
    assert 'role="alert"' in page
    assert f'value="{fields["name"]}"' in page  # the name is kept, never the password
    assert PASSWORD not in page


def test_changing_a_role_or_disabling_revokes_the_users_sessions(app):
    admin = signed_in_client(app, "root", "admin")
    carol = signed_in_client(app, "carol", "uploader")
    assert admin_form(admin, "/admin/users/carol", role="reader").status_code == 303
    assert "carol now has role reader" in text(admin.get("/admin/users"))
    assert carol.get("/account").status_code == 302  # her session token was revoked
    assert sign_in(carol, "carol").status_code == 303
    assert ">Upload</a>" not in text(carol.get("/"))
    assert admin_form(admin, "/admin/users/carol", disabled="true").status_code == 303
    assert carol.get("/account").status_code == 302
    assert sign_in(carol, "carol").status_code == 401
    assert admin_form(admin, "/admin/users/carol", disabled="false").status_code == 303
    assert sign_in(carol, "carol").status_code == 303
    with extension(app).database.unit_of_work(write=False) as session:
        revokers = session.scalars(
            select(TokenRecord.revoked_by).where(TokenRecord.subject == "carol")
        ).all()
    assert sorted(r for r in revokers if r) == ["root", "root"]


@pytest.mark.parametrize(
    ("path", "fields", "status", "reason"),
    [
        ("/admin/users/carol", {"role": "root"}, 422, "must be one of admin"),
        ("/admin/users/carol", {"disabled": "maybe"}, 422, "must be true or false"),
        ("/admin/users/carol", {}, 422, "give a new role"),
        ("/admin/users/nobody", {"role": "reader"}, 404, "no user named"),
    ],
)
def test_a_refused_user_change_is_explained(app, path, fields, status, reason):
    add_user(app, "carol", "uploader")
    admin = signed_in_client(app, "root", "admin")
    response = admin_form(admin, path, **fields)
    assert response.status_code == status
    assert reason in text(response)
    assert "Traceback" not in text(response)
