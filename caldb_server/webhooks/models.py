"""A subscription to the change feed, and the log of its delivery attempts.

A subscription's cursor, ``delivered_seq``, is the last change number it is done with
(delivered, or not matching its filters). Deliveries go one change at a time, the next
only after the previous one was acknowledged, so a subscriber sees changes in sequence
order; the lease (``lease_until``, ``lease_token``) lets one worker at a time hold it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from caldb_server.catalogue.models import ACTOR_LENGTH
from caldb_server.db import Base, utcnow

__all__ = ["URL_LENGTH", "DeliveryAttempt", "Subscription"]

URL_LENGTH = 2000


class Subscription(Base):
    """Where to send which changes, how far it got, and when to try next."""

    __tablename__ = "webhook_subscriptions"
    __table_args__ = (
        Index("ix_webhook_subscriptions_due", "active", "next_attempt_at"),
        Index("ix_webhook_subscriptions_owner", "owner"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str] = mapped_column(String(ACTOR_LENGTH))
    url: Mapped[str] = mapped_column(String(URL_LENGTH))
    mission: Mapped[str | None] = mapped_column(String(10))
    instrument: Mapped[str | None] = mapped_column(String(10))
    codenames: Mapped[list[str]] = mapped_column(JSON)
    # The HMAC key must be stored to sign with: sealed under CALDB_SECRET_KEY (secrets.py).
    secret_sealed: Mapped[str] = mapped_column(String(255))
    secret_prefix: Mapped[str] = mapped_column(String(16))  # shown to tell secrets apart
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    delivered_seq: Mapped[int] = mapped_column(BigInteger)
    next_attempt_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)  # consecutive failures
    failing_since: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]
    lease_token: Mapped[str | None] = mapped_column(String(32))


class DeliveryAttempt(Base):
    """One POST of one change to a subscription: its answer or its error, and how long."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_subscription", "subscription_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    seq: Mapped[int] = mapped_column(BigInteger)
    attempted_at: Mapped[datetime]
    ok: Mapped[bool] = mapped_column(Boolean)
    status_code: Mapped[int | None] = mapped_column(SmallInteger)
    error: Mapped[str | None] = mapped_column(String(200))
    duration_ms: Mapped[int]
