"""``/account``: who you are, and your API tokens for pipelines (created, listed, revoked).

A token is made as ``caldb-server create-token`` makes one (:func:`issue_recorded`: same
signing, same record, same lifetime bounds), for the signed-in subject, with at most the
signed-in role. It is shown once, in the answer to the form (never kept in the session,
never cached); afterwards only its id is listed. Anyone revokes their own tokens; admins
revoke any.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import Response, flash, redirect, request, url_for

from caldb_server.auth.access import authenticated, current_principal
from caldb_server.auth.models import TokenRecord
from caldb_server.auth.records import issue_recorded, list_tokens, revoke
from caldb_server.auth.tokens import MAX_TOKEN_DAYS, ROLES, Principal, SignedToken
from caldb_server.errors import Forbidden, NotFound, ValidationFailed
from caldb_server.ui.blueprint import blueprint
from caldb_server.ui.pages import page
from caldb_server.web import db_session, extension, parse_bounded_integer, request_time

__all__ = ["account", "create_token", "revoke_token"]

log = logging.getLogger(__name__)
LISTED_TOKENS = 50  # the newest; each sign-in adds one (revoked at sign-out)


def grantable_roles(principal: Principal) -> list[str]:
    """The roles a token made by ``principal`` may carry: theirs and those it includes."""
    return [role for role in ROLES if principal.has_role(role)]


def _default_days() -> int:
    return min(extension().settings.token_days, MAX_TOKEN_DAYS)


def _account_page(
    status: int = 200,
    *,
    created: SignedToken | None = None,
    errors: list[dict[str, Any]] | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    principal = current_principal()
    tokens = list_tokens(
        db_session(),
        now=request_time(),
        subject=principal.subject,
        include_inactive=True,
        limit=LISTED_TOKENS,
    )
    roles = grantable_roles(principal)
    response = page(
        "account.html",
        status,
        me=principal,
        tokens=tokens,
        now=request_time(),
        created=created,
        errors=errors or [],
        roles=roles,
        form=form or {"role": roles[-1] if roles else "", "days": str(_default_days())},
        max_days=MAX_TOKEN_DAYS,
    )
    if created is not None:  # the token itself is in this page: no cache may keep it
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
    return response


@blueprint.get("/account")
@authenticated
def account() -> Response:
    """Who you are, your roles and your tokens."""
    return _account_page()


def _token_request(principal: Principal) -> tuple[str, int]:
    """The form's role and lifetime in days, checked (the create-token bounds)."""
    role, days_text = request.form.get("role", ""), request.form.get("days", "")
    errors = []
    if role not in grantable_roles(principal):
        allowed = ", ".join(grantable_roles(principal)) or "none"
        errors.append({"field": "role", "reason": f"must be one of your roles: {allowed}"})
    try:
        days = parse_bounded_integer(days_text, 1, MAX_TOKEN_DAYS)
    except ValueError as error:
        days = 0
        errors.append({"field": "days", "reason": str(error)})
    if errors:
        raise ValidationFailed("the token request is not valid", errors=errors)
    return role, days


@blueprint.post("/account/tokens")
@authenticated
def create_token() -> Response:
    """Make a token for a pipeline and show it, once."""
    principal = current_principal()
    try:
        role, days = _token_request(principal)
    except ValidationFailed as error:
        form = {"role": request.form.get("role", ""), "days": request.form.get("days", "")}
        return _account_page(error.status, errors=error.errors, form=form)
    settings = extension().settings
    signed = issue_recorded(
        db_session(),
        secret=settings.secret_key,
        issuer=settings.token_issuer,
        subject=principal.subject,
        roles=[role],
        lifetime=timedelta(days=days),
        issued_by=principal.subject,
        now=request_time(),
    )
    log.info("token %s (%s, %d days) made by %s", signed.jti, role, days, principal.subject)
    return _account_page(created=signed)


def _revocable(principal: Principal, jti: str) -> TokenRecord | None:
    """The record of ``jti`` if ``principal`` may revoke it (404 or 403 otherwise).

    Admins may revoke any token id, as with the API (an unknown one gets recorded as revoked).
    """
    record = db_session().get(TokenRecord, jti)
    if principal.has_role("admin"):
        return record
    if record is None or record.issued_at is None:
        raise NotFound("there is no such token of yours")
    if record.subject != principal.subject:
        raise Forbidden("you can revoke only your own tokens")
    return record


@blueprint.post("/account/tokens/<string(maxlength=200):jti>/revoke")
@authenticated
def revoke_token(jti: str) -> Response:
    """Revoke one of your tokens (an admin: any token); back to the account page."""
    principal = current_principal()
    _revocable(principal, jti)
    revoke(db_session(), jti, actor=principal.subject, now=request_time())
    log.info("token %s revoked by %s", jti, principal.subject)
    if jti == principal.token_id:
        flash("The token of this session is revoked: you are signed out.")
    else:
        flash(f"Token {jti} is revoked.")
    return redirect(url_for("ui.account"), code=303)  # type: ignore[return-value]
