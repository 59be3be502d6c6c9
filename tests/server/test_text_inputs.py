"""No control character gets in: one guard for every text input, on both backends.

Query and path parameters, form fields, file names and JSON strings holding a C0 or C1
control, DEL or a lone surrogate are refused with 422 problem+json naming the field, and
nothing changes (on PostgreSQL a NUL used to reach the database: 500).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st

from caldb_common.text import (
    CONTROL,
    NONBLANK_TEXT_PATTERN,
    TEXT_PATTERN,
    control_characters,
    json_control_problems,
)
from caldb_server.auth.access import public
from caldb_server.db import utcnow
from caldb_server.users.service import create_user
from caldb_server.web import extension
from tests.helpers import MXT_GAIN, assert_problem, bearer, calfile_bytes, upload
from tests.hostile.checks import snapshot
from tests.server.uploads import BOUNDARY, multipart

PASSWORD = "correct horse battery staple"
TOKEN = "/api/v1/auth/token"
# One of each kind: C0 (NUL, unit separator, tab, newline), DEL, C1 (NEL).
CONTROLS = ["\x00", "\x1f", "\t", "\n", "\x7f", "\x85"]
Request = tuple[str, str, Any, str | None]  # method, path, JSON body, role


def _quoted(character: str) -> str:
    return "".join(f"%{b:02X}" for b in character.encode())


SEARCH = "/api/v1/search?instrument=MXT&codename=GAIN"
LISTING = "/api/v1/datasets?instrument=MXT"
DATASET = "/api/v1/datasets/{dataset}"


def _requests(c: str) -> dict[str, Request]:
    """Every API entry point that takes text, with ``c`` in one of its inputs."""
    q = _quoted(c)
    user = {"name": "bob", "role": "reader", "password": PASSWORD}
    return {
        "search instrument": ("GET", f"/api/v1/search?instrument=MXT{q}&codename=GAIN", None, None),
        "search date": ("GET", f"{SEARCH}&date=now{q}", None, None),
        "search expr": ("GET", f"{SEARCH}&expr=a.eq.{q}", None, None),
        "search parameter name": ("GET", f"{SEARCH}&x{q}=1", None, None),
        "listing instrument": ("GET", f"{LISTING}{q}", None, None),
        "listing codename": ("GET", f"{LISTING}&codename=GAIN{q}", None, None),
        "listing mission": ("GET", f"{LISTING}&mission=SVOM{q}", None, None),
        "instruments": ("GET", f"/api/v1/instruments?x={q}", None, None),
        "health": ("GET", f"/api/v1/health?x={q}", None, None),
        "quality reason": ("PATCH", DATASET, {"cal_qual": 5, "reason": f"bad{c}"}, "uploader"),
        "quality key": ("PATCH", DATASET, {"cal_qual": 5, f"reason{c}": "x"}, "uploader"),
        "login user name": ("POST", TOKEN, {"username": f"al{c}", "password": PASSWORD}, None),
        "login password": ("POST", TOKEN, {"username": "al", "password": f"{PASSWORD}{c}"}, None),
        "token subject": ("GET", f"/api/v1/auth/tokens?subject=a{q}", None, "admin"),
        "revoked jti": ("DELETE", f"/api/v1/auth/tokens/a{q}b", None, "admin"),
        "new user name": ("POST", "/api/v1/users", user | {"name": f"bob{c}"}, "admin"),
        "new user password": ("POST", "/api/v1/users", user | {"password": f"p{c}" * 7}, "admin"),
        "user path": ("GET", f"/api/v1/users/al{q}ice", None, "admin"),
        "changed password": ("PATCH", "/api/v1/users/alice", {"password": f"p{c}" * 7}, "admin"),
    }


CASES = [
    pytest.param(character, name, id=f"{name} U+{ord(character):04X}")
    for character in CONTROLS
    for name in _requests(character)
]


@pytest.fixture
def seeded(app: Flask, client: FlaskClient, uploader: dict[str, str]) -> dict[str, Any]:
    """A dataset and a user alice for the requests to aim at."""
    answer = upload(client, calfile_bytes(MXT_GAIN), headers=uploader)
    assert answer.status_code == 201, answer.get_json()
    with extension(app).database.unit_of_work() as session:
        create_user(session, "alice", "reader", PASSWORD, actor="test", now=utcnow())
    return {"dataset": answer.get_json()["datasets"][0]["id"]}


def _send(client: FlaskClient, request: Request, token: Callable[..., str], seeded: dict) -> Any:
    method, path, body, role = request
    headers = bearer(token(role, subject="mallory")) if role else {}
    kwargs = {"data": json.dumps(body), "content_type": "application/json"} if body else {}
    return client.open(path.format(**seeded), method=method, headers=headers, **kwargs)


@pytest.mark.parametrize(("character", "name"), CASES)
def test_a_control_character_in_any_text_input_is_422(
    app, client, make_token, seeded, character, name
):
    before = snapshot(app)
    response = _send(client, _requests(character)[name], make_token, seeded)
    body = assert_problem(response, 422)
    assert any(f"U+{ord(character):04X}" in e["reason"] for e in body["errors"]), body
    assert character not in response.get_data(as_text=True)  # not echoed back raw
    assert snapshot(app) == before


def test_a_lone_surrogate_in_json_is_422(app, client, seeded, make_token):
    """JSON's \\ud800 escape makes a string no database can encode (it used to be a 500)."""
    before = snapshot(app)
    for body in ('{"username": "a\\ud800", "password": "x"}', '{"\\udfff": 1}'):
        response = client.post("/api/v1/auth/token", data=body, content_type="application/json")
        assert "U+D" in assert_problem(response, 422)["errors"][0]["reason"]
    assert snapshot(app) == before


def test_a_control_character_in_a_form_field_is_422(app, client, uploader):
    content = calfile_bytes(MXT_GAIN)
    for parts, field in [
        ([("file", "mxt_gain.fits", content), ("supersede", None, b"true\x00")], "supersede"),
        ([("file", "mxt_gain.fits", content), ("x\x1b", None, b"1")], "x\ufffd"),
    ]:
        with client.post(
            "/api/v1/files",
            data=multipart(parts),
            headers=uploader,
            content_type=f"multipart/form-data; boundary={BOUNDARY}",
        ) as response:
            body = assert_problem(response, 422)
        assert [e["field"] for e in body["errors"]] == [field]
    assert client.get("/api/v1/datasets?instrument=MXT").get_json()["datasets"] == []


def test_the_heasarc_tree_answers_404_to_a_control_character(client):
    """The tree answers 404 to every path it does not hold: CFITSIO expects nothing else."""
    assert_problem(client.get("/caldb/data/svom/mxt/bcf/gain/a%00.fits"), 404)


def test_an_anonymous_client_is_told_401_before_its_inputs_are_read(client):
    assert_problem(client.get("/api/v1/auth/tokens?subject=a%00"), 401)


def test_a_new_endpoint_gets_the_guard_without_asking(app_config):
    """The guard is a before_request hook: a view added later is covered too."""
    from caldb_server import create_app  # noqa: PLC0415

    app = create_app(app_config)
    reached = []

    @public
    def echo(word: str) -> dict[str, Any]:
        reached.append(word)
        return {}

    app.add_url_rule("/api/v1/echo/<word>", view_func=echo)
    client = app.test_client()
    assert client.get("/api/v1/echo/ok?q=fine").status_code == 200
    assert_problem(client.get("/api/v1/echo/ok?q=%00"), 422)
    assert_problem(client.get("/api/v1/echo/o%0ak"), 422)
    assert reached == ["ok"]
    extension(app).database.dispose()


# -- the rule itself ---------------------------------------------------------------------


@given(st.text())
def test_the_documented_patterns_state_the_server_rules(text):
    assert bool(re.fullmatch(TEXT_PATTERN, text)) == (not CONTROL.search(text))
    nonblank = not CONTROL.search(text) and bool(text.strip())
    assert bool(re.fullmatch(NONBLANK_TEXT_PATTERN, text)) == nonblank


def test_json_problems_name_every_string_and_key():
    document = {"a": ["ok", "b\x00"], "k\x7f": {"c": "\x85"}, "n": 1}
    problems = json_control_problems(document)
    assert sorted(p["field"] for p in problems) == ["a/1", "k\ufffd", "k\ufffd/c"]
    assert control_characters("a\tb\x00") == ["U+0000", "U+0009"]


def test_deeply_nested_json_is_walked_without_recursion():
    deep: Any = "\x00"
    for _ in range(50_000):
        deep = [deep]
    assert len(json_control_problems(deep)) == 1
