"""Hostile requests to every API entry point but the uploads, on both backends.

Each case is one request an attacker or a broken script could send: control characters,
out-of-range numbers, wrong types, oversize values, malformed bodies, forged credentials,
path tricks. Each must get a 4xx problem+json without a traceback, and leave every kept
row and every file of the tree as it was.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from caldb_server.db import utcnow
from caldb_server.users.service import create_user
from caldb_server.web import extension
from tests.helpers import MXT_GAIN, bearer, calfile_bytes, upload
from tests.hostile.checks import assert_refused, snapshot

Case = tuple[
    str, str, str, dict[str, Any], str | None, int
]  # id, method, path, kwargs, role, status

LONG = "A" * 5000
SEARCH = "/api/v1/search?instrument=MXT&codename=GAIN"
LISTING = "/api/v1/datasets?instrument=MXT"

SEARCH_CASES: list[Case] = [
    ("no instrument", "GET", "/api/v1/search?codename=GAIN", {}, None, 422),
    ("no codename", "GET", "/api/v1/search?instrument=MXT", {}, None, 422),
    ("NUL instrument", "GET", "/api/v1/search?instrument=MXT%00&codename=GAIN", {}, None, 422),
    ("NUL codename", "GET", "/api/v1/search?instrument=MXT&codename=GA%00IN", {}, None, 422),
    ("NUL mission", "GET", SEARCH + "&mission=SVOM%00", {}, None, 422),
    ("NUL detector", "GET", SEARCH + "&detector=%00", {}, None, 422),
    ("escape in filter", "GET", SEARCH + "&filter=%1b%5b31m", {}, None, 422),
    ("DEL in codename", "GET", "/api/v1/search?instrument=MXT&codename=GAIN%7f", {}, None, 422),
    ("C1 control", "GET", "/api/v1/search?instrument=MXT&codename=GAIN%c2%85", {}, None, 422),
    ("long instrument", "GET", "/api/v1/search?codename=GAIN&instrument=" + LONG, {}, None, 422),
    ("long codename", "GET", "/api/v1/search?instrument=MXT&codename=" + "G" * 21, {}, None, 422),
    ("blank in name", "GET", "/api/v1/search?instrument=MX%20T&codename=GAIN", {}, None, 422),
    ("month 13", "GET", SEARCH + "&date=2025-13-45", {}, None, 422),
    ("year 99999", "GET", SEARCH + "&date=99999-01-01", {}, None, 422),
    ("NUL date", "GET", SEARCH + "&date=2025-01-01%00", {}, None, 422),
    ("hour 25", "GET", SEARCH + "&date=2025-01-01&time=25:00:00", {}, None, 422),
    ("minute 60", "GET", SEARCH + "&date=2025-01-01&time=12:60:00", {}, None, 422),
    ("time words", "GET", SEARCH + "&date=2025-01-01&time=noon", {}, None, 422),
    ("expr dangling", "GET", SEARCH + "&expr=energy.lt.", {}, None, 422),
    ("expr brackets", "GET", SEARCH + "&expr=((energy.lt.1", {}, None, 422),
    ("expr overflow", "GET", SEARCH + "&expr=energy.eq.1e99999", {}, None, 422),
    ("expr and", "GET", SEARCH + "&expr=energy.lt.1.and.", {}, None, 422),
    ("expr huge", "GET", SEARCH + "&expr=" + "energy.lt.1.and." * 400 + "x", {}, None, 422),
    ("expr NUL", "GET", SEARCH + "&expr=energy.lt.1%00", {}, None, 422),
    ("maxret 0", "GET", SEARCH + "&maxret=0", {}, None, 422),
    ("maxret big", "GET", SEARCH + "&maxret=10001", {}, None, 422),
    ("maxret negative", "GET", SEARCH + "&maxret=-1", {}, None, 422),
    ("maxret exponent", "GET", SEARCH + "&maxret=1e3", {}, None, 422),
    ("maxret arabic digit", "GET", SEARCH + "&maxret=%d9%a3", {}, None, 422),
    ("as_of month 13", "GET", SEARCH + "&as_of=2025-13-01", {}, None, 422),
    ("as_of NUL", "GET", SEARCH + "&as_of=2025-01-01%00", {}, None, 422),
    ("as_of empty", "GET", SEARCH + "&as_of=", {}, None, 422),
    ("explain maybe", "GET", SEARCH + "&explain=maybe", {}, None, 422),
    ("misspelt parameter", "GET", "/api/v1/search?instrument=MXT&codname=GAIN", {}, None, 422),
    ("token in URL", "GET", SEARCH + "&access_token=abc", {}, None, 401),
]

LISTING_CASES: list[Case] = [
    ("no instrument", "GET", "/api/v1/datasets", {}, None, 422),
    ("empty instrument", "GET", "/api/v1/datasets?instrument=", {}, None, 422),
    ("NUL instrument", "GET", "/api/v1/datasets?instrument=MXT%00", {}, None, 422),
    ("NUL codename", "GET", LISTING + "&codename=GAIN%00", {}, None, 422),
    ("NUL mission", "GET", LISTING + "&mission=SVOM%00", {}, None, 422),
    ("long instrument", "GET", "/api/v1/datasets?instrument=" + LONG, {}, None, 422),
    ("long codename", "GET", LISTING + "&codename=" + "G" * 21, {}, None, 422),
    ("empty codename", "GET", LISTING + "&codename=", {}, None, 422),
    ("after negative", "GET", LISTING + "&after=-1", {}, None, 422),
    ("after too big", "GET", LISTING + "&after=2147483648", {}, None, 422),
    ("limit 0", "GET", LISTING + "&limit=0", {}, None, 422),
    ("limit huge", "GET", LISTING + "&limit=100000000000000000000", {}, None, 422),
    ("limit words", "GET", LISTING + "&limit=ten", {}, None, 422),
    ("after arabic digit", "GET", LISTING + "&after=%d9%a1", {}, None, 422),
    ("unknown parameter", "GET", LISTING + "&sort=id", {}, None, 422),
    ("dataset id too big", "GET", "/api/v1/datasets/2147483648", {}, None, 404),
    ("dataset id words", "GET", "/api/v1/datasets/one", {}, None, 404),
    ("dataset absent", "GET", "/api/v1/datasets/999999", {}, None, 404),
    ("file absent", "GET", "/api/v1/files/999999/content", {}, None, 404),
    ("file id negative", "GET", "/api/v1/files/-1/content", {}, None, 404),
]


DATASET = "/api/v1/datasets/{dataset}"
PASSWORD = "correct horse battery staple"
QUALITY = {"cal_qual": 5, "reason": "x"}


def _json(method: str, path: str, body: Any, role: str | None, status: int = 422) -> tuple:
    return (method, path, {"json": body}, role, status)


def _raw(method: str, path: str, data: Any, content_type: str | None, status: int) -> tuple:
    kwargs = {"data": data} | ({"content_type": content_type} if content_type else {})
    return (method, path, kwargs, "uploader" if path == DATASET else None, status)


def _bearer(value: str) -> tuple:
    return ("GET", "/api/v1/auth/whoami", {"headers": {"Authorization": value}}, None, 401)


def _patch(body: Any, role: str | None = "uploader", status: int = 422) -> tuple:
    return _json("PATCH", DATASET, body, role, status)


PATCH_CASES: list[Case] = [
    ("no token", *_patch({"cal_qual": 5, "reason": "x"}, role=None, status=401)),
    ("reader", *_patch({"cal_qual": 5, "reason": "x"}, role="reader", status=403)),
    ("quality text", *_patch({"cal_qual": "5", "reason": "x"})),
    ("quality 10", *_patch({"cal_qual": 10, "reason": "x"})),
    ("quality negative", *_patch({"cal_qual": -1, "reason": "x"})),
    ("quality boolean", *_patch({"cal_qual": True, "reason": "x"})),
    ("quality fraction", *_patch({"cal_qual": 1.5, "reason": "x"})),
    ("quality huge", *_patch({"cal_qual": 10**400, "reason": "x"})),
    ("quality null", *_patch({"cal_qual": None, "reason": "x"})),
    ("no reason", *_patch({"cal_qual": 5})),
    ("blank reason", *_patch({"cal_qual": 5, "reason": "   "})),
    ("long reason", *_patch({"cal_qual": 5, "reason": LONG})),
    ("NUL reason", *_patch({"cal_qual": 5, "reason": "bad\x00gain"})),
    ("escape reason", *_patch({"cal_qual": 5, "reason": "bad \x1b[2J gain"})),
    ("unknown field", *_patch({"cal_qual": 5, "reason": "x", "cal_file": "../x"})),
    ("array body", *_patch([5, "x"])),
    ("absent dataset", *_json("PATCH", "/api/v1/datasets/9999", QUALITY, "uploader", 404)),
    ("not JSON", *_raw("PATCH", DATASET, "cal_qual=5", "application/json", 422)),
    ("text body", *_raw("PATCH", DATASET, "5", "text/plain", 422)),
    ("deep JSON", *_raw("PATCH", DATASET, "[" * 100000 + "]" * 100000, "application/json", 413)),
    ("deep JSON 60k", *_raw("PATCH", DATASET, "[" * 30000 + "]" * 30000, "application/json", 422)),
]  # fmt: skip

TREE_CASES: list[Case] = [
    ("dot dot", "GET", "/caldb/../instance/secret_key", {}, None, 404),
    ("encoded dot dot", "GET", "/caldb/%2e%2e/%2e%2e/etc/passwd", {}, None, 404),
    ("data dot dot", "GET", "/caldb/data/svom/../../instance/secret_key", {}, None, 404),
    ("NUL in name", "GET", "/caldb/data/svom/mxt/bcf/gain%00.fits", {}, None, 404),
    ("backslash", "GET", "/caldb/data\\svom\\mxt", {}, None, 404),
    ("long path", "GET", "/caldb/data/" + "a/" * 2000, {}, None, 404),
    ("absent index", "GET", "/caldb/data/svom/mxt/index/caldb.indx99999", {}, None, 404),
    ("incoming", "GET", "/caldb/.incoming/x.part", {}, None, 404),
]


def _login(body: Any, status: int = 422) -> tuple:
    return _json("POST", "/api/v1/auth/token", body, None, status)


TOKEN = "/api/v1/auth/token"
AUTH_CASES: list[Case] = [
    ("no body", "POST", TOKEN, {}, None, 422),
    ("form body", *_raw("POST", TOKEN, {"username": "alice", "password": "x"}, None, 422)),
    ("broken JSON", *_raw("POST", TOKEN, '{"username": ', "application/json", 422)),
    ("array", *_login(["alice", "pw"])),
    ("no password", *_login({"username": "alice"})),
    ("no user name", *_login({"password": PASSWORD})),
    ("NUL user name", *_login({"username": "alice\x00", "password": PASSWORD})),
    ("newline user name", *_login({"username": "alice\nadmin", "password": "pw"})),
    ("long user name", *_login({"username": LONG, "password": "pw"})),
    ("long password", *_login({"username": "alice", "password": "p" * 5000})),
    ("number user name", *_login({"username": 42, "password": "pw"})),
    ("unknown field", *_login({"username": "alice", "password": "pw", "role": "admin"})),
    ("wrong password", *_login({"username": "alice", "password": "wrong password!!"}, 401)),
    ("unknown user", *_login({"username": "mallory", "password": "wrong password!!"}, 401)),
    ("whoami no token", "GET", "/api/v1/auth/whoami", {}, None, 401),
    ("whoami garbage", *_bearer("Bearer a.b.c")),
    ("whoami empty bearer", *_bearer("Bearer ")),
    ("whoami basic", *_bearer("Basic YWxpY2U6cHc=")),
    ("whoami NUL token", *_bearer("Bearer a\x00b")),
    ("tokens reader", "GET", "/api/v1/auth/tokens", {}, "reader", 403),
    ("tokens NUL subject", "GET", "/api/v1/auth/tokens?subject=a%00", {}, "admin", 422),
    ("tokens empty subject", "GET", "/api/v1/auth/tokens?subject=", {}, "admin", 422),
    ("tokens long subject", "GET", "/api/v1/auth/tokens?subject=" + LONG, {}, "admin", 422),
    ("tokens all maybe", "GET", "/api/v1/auth/tokens?all=maybe", {}, "admin", 422),
    ("tokens unknown", "GET", "/api/v1/auth/tokens?user=alice", {}, "admin", 422),
    ("revoke NUL", "DELETE", "/api/v1/auth/tokens/ab%00cd", {}, "admin", 422),
    ("revoke escape", "DELETE", "/api/v1/auth/tokens/ab%1bcd", {}, "admin", 422),
    ("revoke long", "DELETE", "/api/v1/auth/tokens/" + "j" * 201, {}, "admin", 422),
    ("revoke non-ASCII", "DELETE", "/api/v1/auth/tokens/%c3%a9t%c3%a9", {}, "admin", 422),
    ("revoke uploader", "DELETE", "/api/v1/auth/tokens/abc", {}, "uploader", 403),
]


def _new_user(status: int = 422, caller: str = "admin", **changes: Any) -> tuple:
    body = {"name": "bob", "role": "reader", "password": PASSWORD} | changes
    return _json("POST", "/api/v1/users", body, caller, status)


def _change_user(body: Any, status: int = 422, name: str = "alice") -> tuple:
    return _json("PATCH", f"/api/v1/users/{name}", body, "admin", status)


USER_CASES: list[Case] = [
    ("create as uploader", *_new_user(403, caller="uploader")),
    ("create NUL name", *_new_user(name="bob\x00")),
    ("create escape name", *_new_user(name="bob\x1b[1m")),
    ("create slash name", *_new_user(name="../bob")),
    ("create long name", *_new_user(name=LONG)),
    ("create unknown role", *_new_user(role="root")),
    ("create role list", *_new_user(role=["admin"])),
    ("create short password", *_new_user(password="pw")),
    ("create NUL password", *_new_user(password=PASSWORD + "\x00")),
    ("create existing", *_new_user(409, name="alice")),
    ("create unknown field", *_new_user(admin=True)),
    ("change disabled text", *_change_user({"disabled": "yes"})),
    ("change role number", *_change_user({"role": 5})),
    ("change role unknown", *_change_user({"role": "root"})),
    ("change unknown field", *_change_user({"name": "mallory"})),
    ("change absent user", *_change_user({"role": "reader"}, status=404, name="nobody")),
    ("change NUL user", *_change_user({"role": "reader"}, name="al%00ice")),
    ("get long user", "GET", "/api/v1/users/" + "u" * 65, {}, "admin", 404),
]

CASES = {
    "search": SEARCH_CASES,
    "listing": LISTING_CASES,
    "quality": PATCH_CASES,
    "tree": TREE_CASES,
    "auth": AUTH_CASES,
    "users": USER_CASES,
}


def _params() -> list[Any]:
    return [
        pytest.param(method, path, kwargs, role, status, id=f"{group}: {name}")
        for group, cases in CASES.items()
        for name, method, path, kwargs, role, status in cases
    ]


@pytest.fixture
def seeded(app: Flask, client: FlaskClient, make_token: Callable[..., str]) -> dict[str, Any]:
    """One MXT gain dataset and a user alice; what the cases need to aim at."""
    answer = upload(client, calfile_bytes(MXT_GAIN), headers=bearer(make_token("uploader")))
    assert answer.status_code == 201, answer.get_json()
    with extension(app).database.unit_of_work() as session:
        create_user(session, "alice", "reader", PASSWORD, actor="test", now=utcnow())
    return {"dataset": answer.get_json()["datasets"][0]["id"]}


@pytest.mark.parametrize(("method", "path", "kwargs", "role", "status"), _params())
def test_a_hostile_request_is_refused_and_changes_nothing(
    app, client, make_token, seeded, method, path, kwargs, role, status
):
    kwargs = dict(kwargs)
    if "json" in kwargs:  # the test client would refuse to encode some; send the bytes
        kwargs["data"] = json.dumps(kwargs.pop("json"))
        kwargs["content_type"] = "application/json"
    headers = dict(kwargs.pop("headers", {}))
    if role is not None:
        headers |= bearer(make_token(role, subject="mallory"))
    before = snapshot(app)
    response = client.open(path.format(**seeded), method=method, headers=headers, **kwargs)
    assert_refused(response, status)
    assert snapshot(app) == before
