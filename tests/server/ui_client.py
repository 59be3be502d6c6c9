"""Signing a Flask test client in to the web interface, as a browser does."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from caldb_server.db import utcnow
from caldb_server.users.service import create_user
from caldb_server.web import extension

PASSWORD = "correct horse battery"  # >= 12 characters
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def add_user(app: Flask, name: str, role: str, password: str = PASSWORD) -> None:
    """A user of the built-in issuer, committed."""
    with extension(app).database.unit_of_work() as session:
        create_user(session, name, role, password, actor="test", now=utcnow())


def csrf_token(client: FlaskClient, path: str = "/sign-in") -> str:
    """The CSRF token of the form on ``path`` (the session cookie is kept by the client)."""
    match = _CSRF.search(client.get(path).get_data(as_text=True))
    assert match is not None, f"no form with a CSRF token on {path}"
    return match.group(1)


def sign_in(client: FlaskClient, name: str, password: str = PASSWORD, **form: str):
    """Post the sign-in form; the response (303 on success)."""
    data = {"username": name, "password": password, "csrf_token": csrf_token(client)} | form
    return client.post("/sign-in", data=data)


def text(response: TestResponse) -> str:
    """The body of a page."""
    return response.get_data(as_text=True)


def signed_in_client(app: Flask, name: str, role: str) -> FlaskClient:
    """A new test client signed in as a new user ``name`` with ``role``."""
    add_user(app, name, role)
    client = app.test_client()
    assert sign_in(client, name).status_code == 303
    return client
