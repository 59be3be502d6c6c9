"""The delivery worker's work: claim due subscriptions, send each its next changes in order.

A claim is a lease: in one short transaction, due subscriptions are picked with
``SELECT ... FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite serialises write transactions
instead) and stamped with ``lease_until`` and a token of the claimer. No transaction is
held open while a receiver answers: the POST happens between transactions, and its
outcome is recorded only if the lease is still ours (one worker at a time per
subscription, so changes go out in order; several workers on several hosts share the
queue). A worker that dies mid-delivery leaves a lease that expires, and the change is
delivered again: at least once.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from caldb_server.changes.documents import change_document
from caldb_server.changes.models import Change
from caldb_server.changes.service import latest_seq, list_changes
from caldb_server.db import Database
from caldb_server.webhooks.models import DeliveryAttempt, Subscription
from caldb_server.webhooks.schedule import next_attempt
from caldb_server.webhooks.secrets import SecretUnreadable, unseal
from caldb_server.webhooks.sender import Outcome, post_delivery
from caldb_server.webhooks.targets import TargetRefused, parse_target, resolve_target

__all__ = [
    "LOG_KEPT",
    "Clock",
    "WorkerOptions",
    "claim_due",
    "deliver_claimed",
    "delivery_body",
    "prune_log",
]

Clock = Callable[[], datetime]
LOG_KEPT = timedelta(days=30)  # how long the delivery log keeps an attempt
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerOptions:
    """How a worker sends: timeouts, parallel deliveries, lease, changes per claim."""

    secret_key: str
    allow_private: bool = False
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 10.0
    threads: int = 8
    lease: timedelta = timedelta(minutes=5)  # well over one claim's worst case
    changes_per_claim: int = 20


def delivery_body(subscription: Subscription, change: Change) -> bytes:
    """The JSON body of a delivery: ids and the change as ``GET /api/v1/changes`` shows it."""
    document = {
        "delivery_id": delivery_id(subscription.id, change.seq),
        "subscription_id": subscription.id,
        "change": change_document(change),
    }
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


def delivery_id(subscription_id: int, seq: int) -> str:
    """The same for every retry of one change to one subscription (receivers dedupe on it)."""
    return f"{subscription_id}-{seq}"


def claim_due(
    database: Database, now: datetime, limit: int, lease: timedelta
) -> list[tuple[int, str]]:
    """Lease up to ``limit`` due subscriptions with changes past their cursor: (id, token)."""
    with database.unit_of_work() as session:
        latest = latest_seq(session)
        due = session.scalars(
            select(Subscription)
            .where(
                Subscription.active,
                Subscription.next_attempt_at <= now,
                or_(Subscription.lease_until.is_(None), Subscription.lease_until < now),
                Subscription.delivered_seq < latest,
            )
            .order_by(Subscription.next_attempt_at, Subscription.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        claims = []
        for subscription in due:
            subscription.lease_token = uuid.uuid4().hex
            subscription.lease_until = now + lease
            claims.append((subscription.id, subscription.lease_token))
        return claims


def _held(session: Session, subscription_id: int, token: str) -> Subscription | None:
    """The subscription, locked, if our lease on it still stands."""
    return session.scalars(
        select(Subscription)
        .where(Subscription.id == subscription_id, Subscription.lease_token == token)
        .with_for_update()
    ).one_or_none()


def _release(database: Database, subscription_id: int, token: str, **values: object) -> None:
    with database.unit_of_work() as session:
        session.execute(
            update(Subscription)
            .where(Subscription.id == subscription_id, Subscription.lease_token == token)
            .values(lease_until=None, lease_token=None, **values)
        )


def _next_change(
    database: Database, subscription_id: int
) -> tuple[Subscription, Change | None, int]:
    """The subscription, its next matching change (None: none yet) and the latest number."""
    with database.unit_of_work(write=False) as session:
        subscription = session.get_one(Subscription, subscription_id)
        latest = latest_seq(session)  # first: every change up to it is committed
        found = list_changes(
            session,
            since=subscription.delivered_seq,
            limit=1,
            mission=subscription.mission,
            instrument=subscription.instrument,
            codenames=subscription.codenames,
        )
        session.expunge_all()
        return subscription, (found[0] if found else None), latest


def _send(
    subscription: Subscription, change: Change, options: WorkerOptions, now: datetime
) -> Outcome:
    try:
        secret = unseal(options.secret_key, subscription.secret_sealed)
        target = parse_target(subscription.url)
        address = resolve_target(target, allow_private=options.allow_private)
    except TargetRefused as refused:
        return Outcome(False, None, f"target refused: {refused}"[:200], 0)
    return post_delivery(
        target,
        address,
        delivery_body(subscription, change),
        secret=secret,
        delivery_id=delivery_id(subscription.id, change.seq),
        event=change.kind,
        timestamp=int(now.timestamp()),
        connect_timeout_s=options.connect_timeout_s,
        read_timeout_s=options.read_timeout_s,
    )


def _record(
    database: Database,
    subscription_id: int,
    token: str,
    *,
    seq: int,
    latest: int,
    outcome: Outcome,
    now: datetime,
) -> bool:
    """Log the attempt and move the cursor or back off; whether to go on with the next change."""
    with database.unit_of_work() as session:
        subscription = _held(session, subscription_id, token)
        if subscription is None:  # the lease expired and another worker took over
            return False
        session.add(
            DeliveryAttempt(
                subscription_id=subscription_id,
                seq=seq,
                attempted_at=now,
                ok=outcome.ok,
                status_code=outcome.status_code,
                error=outcome.error,
                duration_ms=outcome.duration_ms,
            )
        )
        if outcome.ok:
            subscription.delivered_seq = seq
            subscription.attempts = 0
            subscription.failing_since = None
            if seq < latest:
                return True
            # The latest change: done, release now (saves a look and a transaction).
            subscription.lease_until = subscription.lease_token = None
            return False
        subscription.attempts += 1
        subscription.failing_since = subscription.failing_since or now
        retry_at = next_attempt(subscription.attempts, subscription.failing_since, now)
        log.warning(
            "subscription %s: change %s not delivered (%s); %s",
            subscription_id,
            seq,
            outcome.error,
            f"next attempt at {retry_at:%Y-%m-%dT%H:%M:%SZ}" if retry_at else "disabled",
        )
        if retry_at is None:
            subscription.active = False
            subscription.disabled_reason = "failing for 24 hours; last: " + (outcome.error or "")
            subscription.disabled_reason = subscription.disabled_reason[:200]
        else:
            subscription.next_attempt_at = retry_at
        subscription.lease_until = subscription.lease_token = None
        return False


def deliver_claimed(
    database: Database, options: WorkerOptions, subscription_id: int, token: str, clock: Clock
) -> int:
    """Send a claimed subscription its next changes, in order, until one fails; the count sent."""
    sent = 0
    for _ in range(options.changes_per_claim):
        subscription, change, latest = _next_change(database, subscription_id)
        if change is None:  # nothing matching up to the latest: skip the cursor past it
            _release(
                database,
                subscription_id,
                token,
                delivered_seq=max(latest, subscription.delivered_seq),
            )
            return sent
        now = clock()
        try:
            outcome = _send(subscription, change, options, now)
        except SecretUnreadable as error:
            _release(database, subscription_id, token, active=False, disabled_reason=str(error))
            return sent
        go_on = _record(
            database,
            subscription_id,
            token,
            seq=change.seq,
            latest=latest,
            outcome=outcome,
            now=clock(),
        )
        sent += outcome.ok
        if not go_on:
            return sent
    _release(database, subscription_id, token)  # more to send: claimable again at once
    return sent


def prune_log(database: Database, now: datetime) -> int:
    """Forget the attempts older than :data:`LOG_KEPT`; how many."""
    with database.unit_of_work() as session:
        result = session.execute(
            delete(DeliveryAttempt).where(DeliveryAttempt.attempted_at < now - LOG_KEPT)
        )
        return int(getattr(result, "rowcount", 0) or 0)
