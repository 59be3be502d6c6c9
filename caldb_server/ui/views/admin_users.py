"""``/admin/users``: admins list, create, re-role, disable and enable users.

The same services as ``/api/v1/users`` (same validation; any change revokes the user's
tokens), with the signed-in admin as the actor of every change.
"""

from __future__ import annotations

from typing import Any

from flask import Response, flash, redirect, request, url_for

from caldb_server.auth.access import current_principal, require_role
from caldb_server.auth.tokens import ROLES
from caldb_server.errors import Conflict, NotFound, ValidationFailed
from caldb_server.ui.blueprint import blueprint
from caldb_server.ui.pages import page
from caldb_server.users.passwords import MIN_PASSWORD
from caldb_server.users.service import NAME_RULE, create_user, get_user, list_users, update_user
from caldb_server.web import db_session, parse_flag, request_time

__all__ = ["admin_create_user", "admin_update_user", "admin_users"]


def _users_page(
    status: int = 200, *, errors: list[dict[str, Any]] | None = None, detail: str = "", **form: str
) -> Response:
    return page(
        "admin_users.html",
        status,
        users=list_users(db_session()),
        roles=ROLES,
        errors=errors or [],
        detail=detail,
        form={"name": "", "role": "reader"} | form,
        name_rule=NAME_RULE,
        min_password=MIN_PASSWORD,
    )


@blueprint.get("/admin/users")
@require_role("admin")
def admin_users() -> Response:
    """Every user, and the form to create one."""
    return _users_page()


@blueprint.post("/admin/users")
@require_role("admin")
def admin_create_user() -> Response:
    """Create a user (name, role, password); the form again with every problem if refused."""
    name, role = request.form.get("name", ""), request.form.get("role", "")
    try:
        create_user(
            db_session(),
            name,
            role,
            request.form.get("password", ""),
            actor=current_principal().subject,
            now=request_time(),
        )
    except (ValidationFailed, Conflict) as error:
        problems = error.errors or [{"field": "name", "reason": error.detail}]
        return _users_page(error.status, errors=problems, detail=error.detail, name=name, role=role)
    flash(f"User {name} created with role {role}.")
    return redirect(url_for("ui.admin_users"), code=303)  # type: ignore[return-value]


def _change() -> dict[str, Any]:
    """The change a row's form asks for: a new ``role``, or ``disabled`` true or false."""
    change: dict[str, Any] = {}
    if "role" in request.form:
        change["role"] = request.form["role"]
    if "disabled" in request.form:
        try:
            change["disabled"] = parse_flag(request.form["disabled"])
        except ValueError as error:
            raise ValidationFailed(
                "the user change is not valid",
                errors=[{"field": "disabled", "reason": str(error)}],
            ) from None
    if not change:
        raise ValidationFailed(
            "the user change is not valid",
            errors=[{"field": "role", "reason": "give a new role, or disabled true or false"}],
        )
    return change


@blueprint.post("/admin/users/<string(maxlength=64):name>")
@require_role("admin")
def admin_update_user(name: str) -> Response:
    """Change a user's role or disable/enable them (their tokens are revoked)."""
    change, session = _change(), db_session()
    try:
        user = get_user(session, name)
        before = (user.role, user.disabled)
        user = update_user(
            session, name, actor=current_principal().subject, now=request_time(), **change
        )
    except ValidationFailed as error:
        return _users_page(error.status, errors=error.errors, detail=error.detail)
    except NotFound as error:
        return _users_page(error.status, detail=error.detail)
    state = "disabled" if user.disabled else "enabled"
    if before == (user.role, user.disabled):
        flash(f"User {user.name} already had role {user.role} and was {state}: nothing changed.")
    else:
        flash(
            f"User {user.name} now has role {user.role} and is {state}; their tokens are revoked."
        )
    return redirect(url_for("ui.admin_users"), code=303)  # type: ignore[return-value]
