"""The ``users`` table: who may obtain a token from ``POST /api/v1/auth/token``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from caldb_server.auth.tokens import ROLES
from caldb_server.db import Base, utcnow

__all__ = ["User"]

ACTOR_LENGTH = 200


class User(Base):
    """A person or service account with one role and an argon2 password hash.

    Users are never deleted, only disabled, so that the audit columns elsewhere keep
    naming someone the CalDB knows.
    """

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"role IN ({', '.join(repr(r) for r in ROLES)})", name="known_role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[str] = mapped_column(String(ACTOR_LENGTH))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(ACTOR_LENGTH))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
