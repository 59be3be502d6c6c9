"""``/api/v1/subscriptions``: webhooks of the change feed, for any signed-in user."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from caldb_server.auth.access import authenticated, current_principal
from caldb_server.errors import ValidationFailed
from caldb_server.web import (
    api_root,
    db_session,
    extension,
    json_object,
    parse_bounded_integer,
    request_time,
)
from caldb_server.webhooks.service import (
    attempt_json,
    create_subscription,
    delete_subscription,
    get_subscription,
    list_deliveries,
    list_subscriptions,
    set_active,
    subscription_json,
)

__all__ = ["blueprint"]

blueprint = Blueprint("webhooks", __name__)

FIELDS = ("url", "mission", "instrument", "codenames", "since")
MAX_ID = 2**31 - 1
_DELIVERY_PARAMETERS = frozenset({"after", "limit"})


@blueprint.post("/subscriptions")
@authenticated
def create_subscription_view() -> tuple[Response, int]:
    """Subscribe a URL to the changes; the answer holds the secret, shown this once."""
    document = json_object(FIELDS, example='{"url": "https://...", "instrument": "MXT"}')
    services = extension()
    subscription, secret = create_subscription(
        db_session(),
        document,
        owner=current_principal().subject,
        registry=services.registry,
        secret_key=services.settings.secret_key,
        allow_private=services.settings.webhook_allow_private,
        now=request_time(),
    )
    response = jsonify({**subscription_json(subscription), "secret": secret})
    response.headers["Location"] = f"{api_root()}subscriptions/{subscription.id}"
    response.headers["Cache-Control"] = "no-store"  # it holds the secret
    return response, 201


@blueprint.get("/subscriptions")
@authenticated
def subscriptions_view() -> dict[str, Any]:
    """The caller's subscriptions (an admin: everyone's)."""
    found = list_subscriptions(db_session(), current_principal())
    return {"subscriptions": [subscription_json(s) for s in found]}


@blueprint.get("/subscriptions/<int:subscription_id>")
@authenticated
def subscription_view(subscription_id: int) -> dict[str, Any]:
    """One subscription: its filters, cursor and state (not its secret)."""
    return subscription_json(get_subscription(db_session(), subscription_id, current_principal()))


@blueprint.patch("/subscriptions/<int:subscription_id>")
@authenticated
def update_subscription_view(subscription_id: int) -> dict[str, Any]:
    """Pause (``{"active": false}``) or resume (``true``: a disabled one too)."""
    document = json_object(("active",), example='{"active": true}')
    active = document.get("active")
    if not isinstance(active, bool):
        raise ValidationFailed(
            'send {"active": true} or false',
            errors=[{"field": "active", "reason": "must be true or false"}],
        )
    subscription = get_subscription(db_session(), subscription_id, current_principal())
    set_active(subscription, active, request_time())
    return subscription_json(subscription)


@blueprint.delete("/subscriptions/<int:subscription_id>")
@authenticated
def delete_subscription_view(subscription_id: int) -> tuple[str, int]:
    """Delete a subscription and its delivery log."""
    session = db_session()
    delete_subscription(session, get_subscription(session, subscription_id, current_principal()))
    return "", 204


def _page() -> tuple[int, int]:
    args = request.args
    errors = [
        {"field": f, "reason": "unknown parameter"}
        for f in sorted(set(args) - _DELIVERY_PARAMETERS)
    ]
    numbers = {}
    for field, (default, low, high) in {
        "after": ("0", 0, MAX_ID),
        "limit": ("100", 1, 1000),
    }.items():
        if len(args.getlist(field)) > 1:
            errors.append({"field": field, "reason": "given more than once"})
            continue
        try:
            numbers[field] = parse_bounded_integer(args.get(field, default), low, high)
        except ValueError as error:
            errors.append({"field": field, "reason": str(error)})
    if errors:
        raise ValidationFailed("the delivery log's parameters are not valid", errors=errors)
    return numbers["after"], numbers["limit"]


@blueprint.get("/subscriptions/<int:subscription_id>/deliveries")
@authenticated
def deliveries_view(subscription_id: int) -> dict[str, Any]:
    """The subscription's delivery attempts, oldest first, after the attempt id ``after``."""
    after, limit = _page()
    session = db_session()
    subscription = get_subscription(session, subscription_id, current_principal())
    attempts = list_deliveries(session, subscription, after=after, limit=limit)
    return {
        "deliveries": [attempt_json(a) for a in attempts],
        "last_id": attempts[-1].id if attempts else after,
    }
