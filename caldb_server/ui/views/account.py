"""``Sign in`` and ``Sign out`` of the web interface."""

from __future__ import annotations

from flask import Response, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from caldb_server.auth.access import public
from caldb_server.auth.login import password_sign_in
from caldb_server.auth.tokens import MAX_SUBJECT
from caldb_server.errors import TooManyRequests, Unauthorized
from caldb_server.ui import session
from caldb_server.ui.blueprint import blueprint
from caldb_server.ui.pages import page, safe_next
from caldb_server.users.passwords import MAX_PASSWORD
from caldb_server.web import db_session, extension

__all__ = ["sign_in", "sign_out", "sign_out_page"]


@blueprint.get("/sign-in")
@public
def sign_in() -> Response:
    """The sign-in form (``next``: the page to go back to)."""
    return page("sign_in.html", next=safe_next(request.args.get("next")), username="")


@blueprint.post("/sign-in")
@public
def sign_in_submit() -> BaseResponse:
    """Check the password (same throttle as the API) and keep the token in the session."""
    username = request.form.get("username", "")
    password = request.form.get("password", "")
    target = safe_next(request.form.get("next"))
    if not 0 < len(username) <= MAX_SUBJECT or not 0 < len(password) <= MAX_PASSWORD:
        return _refused("Give your user name and your password.", username, target, 422)
    try:
        signed = password_sign_in(
            extension(), db_session(), username, password, address=request.remote_addr
        )
    except Unauthorized as error:
        return _refused(f"Not signed in: {error.detail}.", username, target, 401)
    except TooManyRequests as error:
        response = _refused(f"Not signed in: {error.detail}.", username, target, 429)
        response.headers.update(error.headers)
        return response
    session.sign_in(signed)
    return redirect(target, code=303)


def _refused(message: str, username: str, target: str, status: int) -> Response:
    return page("sign_in.html", status, next=target, username=username, message=message)


@blueprint.get("/sign-out")
@public
def sign_out_page() -> BaseResponse:
    """Without JavaScript, the ``Sign out`` link leads here: one button that signs out."""
    if session.signed_in() is None:
        return redirect(url_for("ui.home"), code=303)
    return page("sign_out.html")


@blueprint.post("/sign-out")
@public
def sign_out() -> BaseResponse:
    """Revoke the session's token; back to the home page."""
    session.sign_out()
    return redirect(url_for("ui.home"), code=303)
