"""The built-in issuer: logins (answers, bounded attempts) and user management by admins."""

import json
import threading
from datetime import UTC, datetime, timedelta

import jwt
import pytest
import requests
from sqlalchemy import func, select, update

from caldb_server.auth.models import LoginThrottle, TokenRecord
from caldb_server.db import utcnow
from caldb_server.users.models import User
from caldb_server.web import extension
from tests.conftest import SECRET
from tests.helpers import add_user, assert_problem, bearer

TOKEN_URL = "/api/v1/auth/token"
WHOAMI = "/api/v1/auth/whoami"
PASSWORD = "correct horse battery"
NEW_PASSWORD = "another long passphrase"
WRONG = "not the right password"
ATTEMPTS, MINUTES, WINDOW = 3, 7, 300


@pytest.fixture
def app_config(app_config, request):
    """Three attempts per name (12 per address) and 7-minute tokens; a test may change the
    attempts with ``@pytest.mark.parametrize("app_config", [n], indirect=True)``."""
    app_config.update(
        LOGIN_ATTEMPTS=getattr(request, "param", ATTEMPTS), ACCESS_TOKEN_MINUTES=MINUTES
    )
    return app_config


@pytest.fixture
def database(app):
    return extension(app).database


@pytest.fixture
def admin(make_token):
    return bearer(make_token("admin", subject="root"))


def login(client, username, password, address="127.0.0.1"):
    return client.post(
        TOKEN_URL,
        json={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def throttle_rows(database):
    with database.unit_of_work() as session:
        return {row.key: row.attempts for row in session.scalars(select(LoginThrottle))}


def fields(body):
    return sorted(error["field"] for error in body["errors"])


def test_login_returns_a_short_lived_token_that_is_not_cached(client, database):
    add_user(database, "alice", PASSWORD, "uploader")
    response = login(client, "alice", PASSWORD)
    assert response.status_code == 200, response.get_json()
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == MINUTES * 60
    assert body["roles"] == ["uploader"]
    claims = jwt.decode(body["access_token"], SECRET, algorithms=["HS256"], issuer="svom-caldb")
    assert {"exp", "iat", "sub", "jti", "roles"} <= set(claims)
    assert (claims["sub"], claims["roles"], claims["jti"]) == ("alice", ["uploader"], body["jti"])
    assert claims["exp"] - claims["iat"] == MINUTES * 60
    assert datetime.fromisoformat(body["expires_at"]) == datetime.fromtimestamp(claims["exp"], UTC)
    me = client.get(WHOAMI, headers=bearer(body["access_token"])).get_json()
    assert (me["subject"], me["roles"], me["jti"]) == ("alice", ["uploader"], body["jti"])
    assert throttle_rows(database) == {"addr:127.0.0.1": 0}  # the attempt was given back


def test_wrong_password_unknown_and_disabled_users_get_the_same_401(client, database):
    add_user(database, "alice", PASSWORD)
    add_user(database, "dora", PASSWORD, disabled=True)
    answers = [login(client, "alice", WRONG), login(client, "nobody", PASSWORD)]
    answers.append(login(client, "dora", PASSWORD))
    bodies = [assert_problem(response, 401) for response in answers]
    assert bodies[0] == bodies[1] == bodies[2]  # nothing tells which names exist
    assert "password" in bodies[0]["detail"]
    for response in answers:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "access_token" not in response.get_json()


BAD_BODIES = {
    "form": ({"data": "username=a&password=b"}, 422, ["body"]),
    "broken JSON": ({"data": "{", "content_type": "application/json"}, 422, ["body"]),
    "array": ({"json": ["alice", PASSWORD]}, 422, ["body"]),
    "missing fields": ({"json": {}}, 422, ["password", "username"]),
    "wrong types": ({"json": {"username": 7, "password": None}}, 422, ["password", "username"]),
    "empty strings": ({"json": {"username": "", "password": ""}}, 422, ["password", "username"]),
    "unknown field": ({"json": {"username": "a", "password": "b", "x": 1}}, 422, ["x"]),
    "long username": ({"json": {"username": "a" * 201, "password": "b"}}, 422, ["username"]),
    "long password": ({"json": {"username": "a", "password": "b" * 1025}}, 422, ["password"]),
    "over 64 KiB": (
        {
            "data": json.dumps({"username": "a", "password": "b" * 70_000}),
            "content_type": "application/json",
        },
        413,
        None,
    ),
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_bad_login_bodies_are_refused_and_not_counted(client, database, case):
    arguments, status, expected = BAD_BODIES[case]
    body = assert_problem(client.post(TOKEN_URL, **arguments), status)
    if expected is not None:
        assert fields(body) == expected
    assert throttle_rows(database) == {}


def test_a_chunked_body_over_64_kib_is_refused_without_being_read_in_full(live_server):
    body = json.dumps({"username": "a", "password": "b" * 200_000}).encode()
    chunks = (body[i : i + 8192] for i in range(0, len(body), 8192))  # no Content-Length
    response = requests.post(
        f"{live_server}{TOKEN_URL}",
        data=chunks,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413, response.text
    assert response.headers["Content-Type"] == "application/problem+json"


def test_the_fourth_attempt_for_a_name_waits_for_the_end_of_the_window(client, database):
    add_user(database, "alice", PASSWORD)
    for _ in range(ATTEMPTS):
        assert_problem(login(client, "alice", WRONG), 401)
    for password in (WRONG, PASSWORD):  # throttled: even the right password is refused
        response = login(client, "alice", password)
        assert_problem(response, 429)
        assert 0 < int(response.headers["Retry-After"]) <= WINDOW
    assert login(client, "bob", WRONG).status_code == 401  # only that name is throttled
    with database.unit_of_work() as session:  # the window began 290 s ago: 10 s left
        session.execute(
            update(LoginThrottle).values(window_start=utcnow() - timedelta(seconds=290))
        )
    response = login(client, "alice", PASSWORD)
    assert_problem(response, 429)
    assert 0 < int(response.headers["Retry-After"]) <= 10
    with database.unit_of_work() as session:  # the window is over
        session.execute(
            update(LoginThrottle).values(window_start=utcnow() - timedelta(seconds=WINDOW + 1))
        )
    assert login(client, "alice", PASSWORD).status_code == 200


def test_a_successful_login_resets_the_count_of_its_name(client, database):
    add_user(database, "alice", PASSWORD)
    for _ in range(ATTEMPTS - 1):
        assert_problem(login(client, "alice", WRONG), 401)
    assert login(client, "alice", PASSWORD).status_code == 200
    for _ in range(ATTEMPTS):  # a fresh count: not merely one attempt given back
        assert_problem(login(client, "alice", WRONG), 401)
    assert_problem(login(client, "alice", WRONG), 429)


@pytest.mark.parametrize("app_config", [1], indirect=True)
def test_the_address_limit_is_four_times_the_name_limit_across_names(client, database):
    for name in ("ann", "ben", "cat", "dan"):
        assert_problem(login(client, name, WRONG), 401)
    response = login(client, "eve", WRONG)  # a name never tried, from a busy address
    assert_problem(response, 429)
    assert int(response.headers["Retry-After"]) > 0
    assert_problem(login(client, "fay", WRONG, address="10.0.0.2"), 401)
    assert throttle_rows(database)["addr:127.0.0.1"] == 5


def test_concurrent_guesses_never_exceed_the_limit(live_server, database):
    add_user(database, "alice", PASSWORD)
    count, statuses, barrier = 12, [], threading.Barrier(12)

    def guess():
        barrier.wait()
        response = requests.post(
            f"{live_server}{TOKEN_URL}", json={"username": "alice", "password": WRONG}, timeout=60
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=guess) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [401] * ATTEMPTS + [429] * (count - ATTEMPTS)
    assert throttle_rows(database)["user:alice"] == count


def test_admins_create_get_and_list_users(client, admin, database):
    response = client.post(
        "/api/v1/users",
        json={"name": "carol", "role": "uploader", "password": PASSWORD},
        headers=admin,
    )
    assert response.status_code == 201, response.get_json()
    assert response.headers["Location"].endswith("/api/v1/users/carol")
    created = response.get_json()
    assert (created["name"], created["role"], created["disabled"]) == ("carol", "uploader", False)
    assert created["created_by"] == created["updated_by"] == "root"
    assert not [key for key in created if "pass" in key or "hash" in key]
    assert PASSWORD not in response.get_data(as_text=True)
    assert client.get(response.headers["Location"], headers=admin).get_json() == created
    add_user(database, "abel", PASSWORD)
    listed = client.get("/api/v1/users", headers=admin).get_json()["users"]
    assert [user["name"] for user in listed] == ["abel", "carol"]
    for name in ("carol", "CAROL"):
        again = {"name": name, "role": "reader", "password": NEW_PASSWORD}
        assert_problem(client.post("/api/v1/users", json=again, headers=admin), 409)
    assert_problem(client.get("/api/v1/users/nobody", headers=admin), 404)
    with database.unit_of_work() as session:
        hashes = session.scalars(select(User.password_hash)).all()
    assert len(hashes) == 2
    assert all(h.startswith("$argon2id$") for h in hashes)
    assert login(client, "carol", PASSWORD).get_json()["roles"] == ["uploader"]


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"name": "-bad", "role": "root", "password": "short"}, ["name", "password", "role"]),
        ({}, ["name", "password", "role"]),
        ({"name": 5, "role": ["admin"], "password": PASSWORD}, ["name", "role"]),
        ({"name": "x" * 65, "role": "reader", "password": PASSWORD}, ["name"]),
        ({"name": "blank", "role": "reader", "password": " " * 12}, ["password"]),
        ({"name": "x", "role": "reader", "password": PASSWORD, "admin": True}, ["admin"]),
    ],
)
def test_invalid_users_are_refused_listing_each_field(client, admin, document, expected):
    body = assert_problem(client.post("/api/v1/users", json=document, headers=admin), 422)
    assert fields(body) == expected
    assert client.get("/api/v1/users", headers=admin).get_json()["users"] == []


def test_invalid_changes_are_refused(client, admin, database):
    add_user(database, "dave", PASSWORD)
    before = client.get("/api/v1/users/dave", headers=admin).get_json()
    for document, field in [
        ({"role": 5}, "role"),
        ({"role": "root"}, "role"),
        ({"disabled": "yes"}, "disabled"),
        ({"disabled": 1}, "disabled"),
        ({"password": 123}, "password"),
        ({"password": "short"}, "password"),
        ({"nickname": "d"}, "nickname"),
    ]:
        response = client.patch("/api/v1/users/dave", json=document, headers=admin)
        assert fields(assert_problem(response, 422)) == [field], document
    assert_problem(client.patch("/api/v1/users/nobody", json={"role": "admin"}, headers=admin), 404)
    assert client.get("/api/v1/users/dave", headers=admin).get_json() == before


def test_a_change_revokes_the_users_tokens(client, admin, database):
    add_user(database, "erin", PASSWORD)
    old = login(client, "erin", PASSWORD).get_json()
    assert client.get(WHOAMI, headers=bearer(old["access_token"])).status_code == 200
    changed = client.patch("/api/v1/users/erin", json={"role": "uploader"}, headers=admin)
    assert changed.status_code == 200, changed.get_json()
    assert (changed.get_json()["role"], changed.get_json()["updated_by"]) == ("uploader", "root")
    body = assert_problem(client.get(WHOAMI, headers=bearer(old["access_token"])), 401)
    assert "revoked" in body["detail"]
    new = login(client, "erin", PASSWORD).get_json()
    assert new["roles"] == ["uploader"]
    me = client.get(WHOAMI, headers=bearer(new["access_token"])).get_json()
    assert me["roles"] == ["uploader"]
    listed = client.get("/api/v1/auth/tokens?subject=erin&all=true", headers=admin).get_json()
    revoked = {t["jti"]: t["revoked_by"] for t in listed["tokens"]}
    assert revoked == {old["jti"]: "root", new["jti"]: None}


def test_a_password_change_refuses_the_old_password(client, admin, database):
    add_user(database, "frank", PASSWORD)
    response = client.patch("/api/v1/users/frank", json={"password": NEW_PASSWORD}, headers=admin)
    assert response.status_code == 200, response.get_json()
    assert_problem(login(client, "frank", PASSWORD), 401)
    assert login(client, "frank", NEW_PASSWORD).status_code == 200
    with database.unit_of_work() as session:
        assert session.scalar(select(User.password_hash)).startswith("$argon2id$")
    client.patch("/api/v1/users/frank", json={"disabled": True}, headers=admin)
    assert_problem(login(client, "frank", NEW_PASSWORD), 401)


ADMIN_ONLY = [
    ("GET", "/api/v1/users", None),
    ("POST", "/api/v1/users", {"name": "mallory", "role": "admin", "password": PASSWORD}),
    ("GET", "/api/v1/users/gina", None),
    ("PATCH", "/api/v1/users/gina", {"role": "admin"}),
    ("GET", "/api/v1/auth/tokens", None),
    ("GET", "/api/v1/auth/tokens?all=true", None),
    ("DELETE", "/api/v1/auth/tokens/some-jti", None),
]


def test_user_and_token_management_is_for_admins(client, make_token, database, admin):
    add_user(database, "gina", PASSWORD)
    for role in ("reader", "uploader"):
        headers = bearer(make_token(role, subject="gina"))
        for method, path, document in ADMIN_ONLY:
            response = client.open(path, method=method, json=document, headers=headers)
            assert "admin" in assert_problem(response, 403)["detail"], (role, method, path)
    for method, path, document in ADMIN_ONLY:
        assert_problem(client.open(path, method=method, json=document), 401)
    users = client.get("/api/v1/users", headers=admin).get_json()["users"]
    assert [(u["name"], u["role"]) for u in users] == [("gina", "reader")]
    assert client.get("/api/v1/auth/tokens?all=true", headers=admin).get_json()["tokens"] == []


def test_admins_list_and_revoke_login_tokens(client, admin, database):
    add_user(database, "gina", PASSWORD)
    first, second = (login(client, "gina", PASSWORD).get_json() for _ in range(2))

    def listed(query=""):
        response = client.get(f"/api/v1/auth/tokens{query}", headers=admin)
        assert response.status_code == 200, response.get_json()
        return {t["jti"]: t for t in response.get_json()["tokens"]}

    tokens = listed()
    assert set(tokens) == {first["jti"], second["jti"]}
    assert {(t["subject"], t["issued_by"], tuple(t["roles"])) for t in tokens.values()} == {
        ("gina", "login", ("reader",))
    }
    for _ in range(2):  # revoking twice is harmless
        response = client.delete(f"/api/v1/auth/tokens/{first['jti']}", headers=admin)
        assert response.status_code == 204
        assert response.get_data() == b""
    assert set(listed()) == {second["jti"]}
    every = listed("?all=true")
    assert set(every) == {first["jti"], second["jti"]}
    assert every[first["jti"]]["revoked_by"] == "root"
    assert every[first["jti"]]["revoked_at"] is not None
    assert set(listed("?subject=gina")) == {second["jti"]}
    assert listed("?subject=nobody&all=true") == {}
    assert_problem(client.get(WHOAMI, headers=bearer(first["access_token"])), 401)
    assert client.get(WHOAMI, headers=bearer(second["access_token"])).status_code == 200
    for query, expected in [
        ("?all=maybe", ["all"]),
        ("?page=2", ["page"]),
        ("?subject=", ["subject"]),
        (f"?subject={'x' * 201}", ["subject"]),
        ("?all=maybe&page=2", ["all", "page"]),
    ]:
        response = client.get(f"/api/v1/auth/tokens{query}", headers=admin)
        assert fields(assert_problem(response, 422)) == expected, query


def test_whoami_needs_a_token(client):
    response = client.get(WHOAMI)
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("jti", "status"),
    [("bad%01id", 422), ("caf%C3%A9", 422), ("x" * 201, 422), (".", 422), ("..", 422)],
    ids=["control character", "non-ASCII", "too long", "dot", "dot dot"],
)
def test_revoking_a_malformed_token_id_is_refused_and_stores_nothing(
    client, admin, database, jti, status
):
    assert_problem(client.delete(f"/api/v1/auth/tokens/{jti}", headers=admin), status)
    with database.unit_of_work(write=False) as session:
        assert session.scalar(select(func.count()).select_from(TokenRecord)) == 0
