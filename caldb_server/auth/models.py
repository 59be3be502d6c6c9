"""Tables of the authentication state every server process shares.

``tokens`` records each token this CalDB issues and each revoked ``jti`` (also of tokens
from an external identity provider); a token whose row has ``revoked_at`` is refused.
``login_throttle`` counts login attempts per user name and per client address.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from caldb_server.db import Base

__all__ = ["LoginThrottle", "TokenRecord"]

ACTOR_LENGTH = 200
JTI_LENGTH = 200


class TokenRecord(Base):
    """A token issued here (all columns) or a revoked foreign one (``jti`` and revocation)."""

    __tablename__ = "tokens"
    __table_args__ = (Index("ix_tokens_subject", "subject"),)

    jti: Mapped[str] = mapped_column(String(JTI_LENGTH), primary_key=True)
    subject: Mapped[str | None] = mapped_column(String(ACTOR_LENGTH))
    roles: Mapped[str | None] = mapped_column(String(64))  # space-separated
    issued_by: Mapped[str | None] = mapped_column(String(ACTOR_LENGTH))
    issued_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(ACTOR_LENGTH))
    revoked_at: Mapped[datetime | None]


class LoginThrottle(Base):
    """Login attempts counted for one key (``user:<name>`` or ``addr:<ip>``) in a window."""

    __tablename__ = "login_throttle"
    __table_args__ = (Index("ix_login_throttle_window_start", "window_start"),)

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    attempts: Mapped[int]
    window_start: Mapped[datetime]
