"""Subscriptions: made, listed, paused or resumed, deleted by their owner; their delivery log.

An owner sees and manages their own subscriptions; an admin sees and manages every one.
Someone else's subscription is answered as not found (its existence is not told).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from caldb_server.auth.tokens import Principal
from caldb_server.changes.params import parse_change_params
from caldb_server.changes.service import latest_seq
from caldb_server.errors import Conflict, NotFound, ValidationFailed
from caldb_server.registry import Registry
from caldb_server.webhooks.models import DeliveryAttempt, Subscription
from caldb_server.webhooks.secrets import new_secret, seal, secret_prefix
from caldb_server.webhooks.targets import TargetRefused, parse_target, resolve_target

__all__ = [
    "MAX_PER_OWNER",
    "attempt_json",
    "create_subscription",
    "delete_subscription",
    "get_subscription",
    "list_deliveries",
    "list_subscriptions",
    "set_active",
    "subscription_json",
]

MAX_PER_OWNER = 50
MAX_ID = 2**31 - 1  # an INTEGER key: a larger id names nothing (and must not reach the database)


def subscription_json(subscription: Subscription) -> dict[str, Any]:
    """A subscription as the API shows it: never its secret, only the secret's first characters."""
    return {
        "id": subscription.id,
        "owner": subscription.owner,
        "url": subscription.url,
        "mission": subscription.mission,
        "instrument": subscription.instrument,
        "codenames": subscription.codenames,
        "secret_prefix": subscription.secret_prefix,
        "created_at": subscription.created_at.isoformat(),
        "active": subscription.active,
        "disabled_reason": subscription.disabled_reason,
        "delivered_seq": subscription.delivered_seq,
        "next_attempt_at": subscription.next_attempt_at.isoformat(),
        "failures": subscription.attempts,
        "failing_since": (
            subscription.failing_since.isoformat() if subscription.failing_since else None
        ),
    }


def attempt_json(attempt: DeliveryAttempt) -> dict[str, Any]:
    """One delivery attempt of the log."""
    return {
        "id": attempt.id,
        "seq": attempt.seq,
        "attempted_at": attempt.attempted_at.isoformat(),
        "ok": attempt.ok,
        "status_code": attempt.status_code,
        "error": attempt.error,
        "duration_ms": attempt.duration_ms,
    }


def _filters(document: Mapping[str, Any], registry: Registry) -> MultiDict[str, str]:
    """The body's filters and ``since`` as the change feed's query, checked by its parser."""
    errors = []
    args: MultiDict[str, str] = MultiDict()
    for name in ("mission", "instrument"):
        value = document.get(name)
        if value is not None and not isinstance(value, str):
            errors.append({"field": name, "reason": "must be a string"})
        elif value is not None:
            args.add(name, value)
    codenames = document.get("codenames", [])
    if not isinstance(codenames, list) or not all(isinstance(c, str) for c in codenames):
        errors.append({"field": "codenames", "reason": "must be a list of strings"})
    else:
        for codename in codenames:
            args.add("codename", codename)
    since = document.get("since")
    if isinstance(since, float) and since.is_integer():  # 3.0 is an integer to JSON Schema
        since = int(since)
    if since is not None and (not isinstance(since, int) or isinstance(since, bool)):
        errors.append({"field": "since", "reason": "must be an integer"})
    elif since is not None:
        args.add("since", str(since))
    if errors:
        raise ValidationFailed("the subscription is not valid", errors=errors)
    return args


def create_subscription(
    session: Session,
    document: Mapping[str, Any],
    *,
    owner: str,
    registry: Registry,
    secret_key: str,
    allow_private: bool,
    now: datetime,
) -> tuple[Subscription, str]:
    """A new subscription of ``owner`` and its secret (shown this once).

    Changes after ``since`` are delivered (by default: after the latest, i.e. from now on).

    Raises
    ------
    ValidationFailed
        For a bad URL, a target refused (not public), bad filters.
    Conflict
        When ``owner`` has :data:`MAX_PER_OWNER` subscriptions already.
    """
    url = document.get("url")
    if not isinstance(url, str):
        raise ValidationFailed(
            "the subscription needs a url", errors=[{"field": "url", "reason": "is required"}]
        )
    query = parse_change_params(_filters(document, registry), registry, since_required=False)
    try:
        resolve_target(parse_target(url), allow_private=allow_private)
    except TargetRefused as refused:
        raise ValidationFailed(
            "the webhook URL is refused", errors=[{"field": "url", "reason": str(refused)}]
        ) from None
    count = session.scalar(select(func.count(Subscription.id)).where(Subscription.owner == owner))
    if (count or 0) >= MAX_PER_OWNER:
        raise Conflict(f"{owner} has {MAX_PER_OWNER} subscriptions already: delete one first")
    secret = new_secret()
    subscription = Subscription(
        owner=owner,
        url=url,
        mission=query.mission,
        instrument=query.instrument,
        codenames=list(query.codenames),
        secret_sealed=seal(secret_key, secret),
        secret_prefix=secret_prefix(secret),
        created_at=now,
        active=True,
        delivered_seq=latest_seq(session) if query.since is None else query.since,
        next_attempt_at=now,
        attempts=0,
    )
    session.add(subscription)
    session.flush()
    return subscription, secret


def list_subscriptions(session: Session, principal: Principal) -> Sequence[Subscription]:
    """The principal's subscriptions (an admin: everyone's), oldest first."""
    statement = select(Subscription).order_by(Subscription.id)
    if not principal.has_role("admin"):
        statement = statement.where(Subscription.owner == principal.subject)
    return session.scalars(statement).all()


def get_subscription(session: Session, subscription_id: int, principal: Principal) -> Subscription:
    """A subscription the principal may see.

    Raises
    ------
    NotFound
        If there is none with that id, or it is someone else's (and the principal no admin).
    """
    subscription = session.get(Subscription, subscription_id) if subscription_id <= MAX_ID else None
    if subscription is None or (
        subscription.owner != principal.subject and not principal.has_role("admin")
    ):
        raise NotFound(f"there is no subscription {subscription_id}")
    return subscription


def set_active(subscription: Subscription, active: bool, now: datetime) -> None:
    """Pause, or resume from where it stopped (a disabled one too: its failures forgotten)."""
    subscription.active = active
    if active:
        subscription.disabled_reason = None
        subscription.attempts = 0
        subscription.failing_since = None
        subscription.next_attempt_at = now


def delete_subscription(session: Session, subscription: Subscription) -> None:
    """Delete a subscription and its delivery log."""
    session.execute(
        delete(DeliveryAttempt).where(DeliveryAttempt.subscription_id == subscription.id)
    )
    session.delete(subscription)


def list_deliveries(
    session: Session, subscription: Subscription, *, after: int, limit: int
) -> Sequence[DeliveryAttempt]:
    """The subscription's attempts after the attempt id ``after``, oldest first."""
    return session.scalars(
        select(DeliveryAttempt)
        .where(DeliveryAttempt.subscription_id == subscription.id, DeliveryAttempt.id > after)
        .order_by(DeliveryAttempt.id)
        .limit(limit)
    ).all()
