"""The built-in token issuer and token management.

``POST /api/v1/auth/token`` exchanges a user's name and password for an access token;
``GET /api/v1/auth/whoami`` says what a token stands for; ``GET /api/v1/auth/tokens``
lists the tokens issued here and ``DELETE /api/v1/auth/tokens/<jti>`` revokes one (admin).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import Blueprint, request

from caldb_server.auth.access import authenticated, current_principal, public, require_role
from caldb_server.auth.login import password_sign_in
from caldb_server.auth.models import JTI_LENGTH, TokenRecord
from caldb_server.auth.records import list_tokens, revoke, valid_token_id
from caldb_server.auth.tokens import MAX_SUBJECT
from caldb_server.errors import ValidationFailed
from caldb_server.users.passwords import MAX_PASSWORD
from caldb_server.web import db_session, extension, json_object, parse_flag, request_time

__all__ = ["blueprint"]

log = logging.getLogger(__name__)
blueprint = Blueprint("auth", __name__)


def _credentials() -> tuple[str, str]:
    body = json_object(("username", "password"), example='{"username": "...", "password": "..."}')
    username, password = body.get("username"), body.get("password")
    errors = []
    if not isinstance(username, str) or not 0 < len(username) <= MAX_SUBJECT:
        errors.append(
            {"field": "username", "reason": f"is required: 1 to {MAX_SUBJECT} characters"}
        )
    if not isinstance(password, str) or not 0 < len(password) <= MAX_PASSWORD:
        errors.append(
            {"field": "password", "reason": f"is required: 1 to {MAX_PASSWORD} characters"}
        )
    if errors or not isinstance(username, str) or not isinstance(password, str):
        raise ValidationFailed("send a user name and a password", errors=errors)
    return username, password


@blueprint.post("/auth/token")
@public
def token_view() -> dict[str, Any]:
    """Exchange ``username`` and ``password`` for an access token (bounded attempts).

    Never cached (RFC 6749 §5.1): :mod:`caldb_server.headers` marks every answer of this
    blueprint ``no-store``.
    """
    username, password = _credentials()
    settings = extension().settings
    lifetime = timedelta(minutes=settings.access_token_minutes)
    signed = password_sign_in(
        extension(), db_session(), username, password, address=request.remote_addr
    )
    document = {
        "access_token": signed.token,
        "token_type": "Bearer",
        "expires_in": int(lifetime.total_seconds()),
        "expires_at": signed.expires_at.isoformat(),
        "jti": signed.jti,
        "roles": list(signed.roles),
    }
    return document


@blueprint.get("/auth/whoami")
@authenticated
def whoami_view() -> dict[str, Any]:
    """What the request's token stands for: subject, CalDB roles, issuer, expiry."""
    principal = current_principal()
    return {
        "subject": principal.subject,
        "roles": sorted(principal.roles),
        "source": principal.source,
        "jti": principal.token_id,
        "expires_at": principal.expires_at.isoformat() if principal.expires_at else None,
    }


def _token_json(record: TokenRecord) -> dict[str, Any]:
    def instant(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "jti": record.jti,
        "subject": record.subject,
        "roles": (record.roles or "").split(),
        "issued_by": record.issued_by,
        "issued_at": instant(record.issued_at),
        "expires_at": instant(record.expires_at),
        "revoked_by": record.revoked_by,
        "revoked_at": instant(record.revoked_at),
    }


@blueprint.get("/auth/tokens")
@require_role("admin")
def tokens_view() -> dict[str, Any]:
    """Tokens issued here: usable ones (``all=true``: also expired and revoked), by subject."""
    errors = [
        {"field": name, "reason": "unknown parameter"}
        for name in sorted(set(request.args) - {"subject", "all"})
    ]
    subject = request.args.get("subject")
    if subject is not None and not 0 < len(subject) <= MAX_SUBJECT:
        errors.append({"field": "subject", "reason": f"must have 1 to {MAX_SUBJECT} characters"})
    try:
        include_inactive = parse_flag(request.args.get("all", "false"))
    except ValueError as error:
        errors.append({"field": "all", "reason": str(error)})
        include_inactive = False
    if errors:
        raise ValidationFailed("the token listing parameters are not valid", errors=errors)
    records = list_tokens(
        db_session(), now=request_time(), subject=subject, include_inactive=include_inactive
    )
    return {"tokens": [_token_json(r) for r in records]}


# No maxlength in the route: a long jti would find no route and answer 404; it is a 422.
@blueprint.delete("/auth/tokens/<string:jti>")
@require_role("admin")
def revoke_view(jti: str) -> tuple[str, int]:
    """Revoke a token by its ``jti`` (issued here or by the identity provider)."""
    if not valid_token_id(jti):
        raise ValidationFailed(
            f"a token id is 1 to {JTI_LENGTH} printable ASCII characters",
            errors=[{"field": "jti", "reason": f"must be 1 to {JTI_LENGTH} printable ASCII"}],
        )
    actor = current_principal().subject
    revoke(db_session(), jti, actor=actor, now=request_time())
    log.info("token %s revoked by %s", jti, actor)
    return "", 204
