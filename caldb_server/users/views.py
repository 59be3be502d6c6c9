"""User management for admins: ``/api/v1/users`` and ``/api/v1/users/<name>``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, url_for

from caldb_server.auth.access import current_principal, require_role
from caldb_server.errors import ValidationFailed
from caldb_server.users.models import User
from caldb_server.users.service import create_user, get_user, list_users, update_user
from caldb_server.web import db_session, json_object, request_time

__all__ = ["blueprint"]

blueprint = Blueprint("users", __name__)


def _user_json(user: User) -> dict[str, Any]:
    return {
        "name": user.name,
        "role": user.role,
        "disabled": user.disabled,
        "created_by": user.created_by,
        "created_at": user.created_at.isoformat(),
        "updated_by": user.updated_by,
        "updated_at": user.updated_at.isoformat(),
    }


def _strings(body: dict[str, Any], *names: str) -> None:
    errors = [
        {"field": name, "reason": "must be a string"}
        for name in names
        if name in body and not isinstance(body[name], str)
    ]
    if errors:
        raise ValidationFailed("the user is not valid", errors=errors)


@blueprint.get("/users")
@require_role("admin")
def users_view() -> dict[str, Any]:
    """Every user of the built-in issuer."""
    return {"users": [_user_json(user) for user in list_users(db_session())]}


@blueprint.post("/users")
@require_role("admin")
def create_user_view() -> tuple[dict[str, Any], int, dict[str, str]]:
    """Create a user: ``{"name": ..., "role": ..., "password": ...}``."""
    body = json_object(
        ("name", "role", "password"),
        example='{"name": "...", "role": "reader|uploader|admin", "password": "..."}',
    )
    _strings(body, "name", "role", "password")
    user = create_user(
        db_session(),
        body.get("name", ""),
        body.get("role", ""),
        body.get("password", ""),
        actor=current_principal().subject,
        now=request_time(),
    )
    location = url_for("users.user_view", name=user.name)
    return _user_json(user), 201, {"Location": location}


@blueprint.get("/users/<string(maxlength=64):name>")
@require_role("admin")
def user_view(name: str) -> dict[str, Any]:
    """One user."""
    return _user_json(get_user(db_session(), name))


@blueprint.patch("/users/<string(maxlength=64):name>")
@require_role("admin")
def update_user_view(name: str) -> dict[str, Any]:
    """Change ``role``, ``disabled`` or ``password``; the user's tokens are revoked."""
    body = json_object(
        ("role", "disabled", "password"),
        example='{"role": "uploader", "disabled": false, "password": "..."}',
    )
    _strings(body, "role", "password")
    if "disabled" in body and not isinstance(body["disabled"], bool):
        raise ValidationFailed(
            "the user change is not valid",
            errors=[{"field": "disabled", "reason": "must be true or false"}],
        )
    user = update_user(
        db_session(),
        name,
        actor=current_principal().subject,
        now=request_time(),
        role=body.get("role"),
        disabled=body.get("disabled"),
        password=body.get("password"),
    )
    return _user_json(user)
