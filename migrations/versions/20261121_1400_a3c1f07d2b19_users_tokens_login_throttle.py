"""Authentication state: users, issued and revoked tokens, login throttle.

Revision ID: a3c1f07d2b19
Revises: 5e845bdd877e
Create Date: 2026-11-21 14:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a3c1f07d2b19"
down_revision: str | None = "5e845bdd877e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTOR = sa.String(length=200)


def _timestamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_by", ACTOR, nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("updated_by", ACTOR, nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.CheckConstraint(
            "role IN ('admin', 'uploader', 'reader')", name=op.f("ck_users_known_role")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )
    op.create_table(
        "tokens",
        sa.Column("jti", sa.String(length=200), nullable=False),
        sa.Column("subject", ACTOR, nullable=True),
        sa.Column("roles", sa.String(length=64), nullable=True),
        sa.Column("issued_by", ACTOR, nullable=True),
        sa.Column("issued_at", _timestamp(), nullable=True),
        sa.Column("expires_at", _timestamp(), nullable=True),
        sa.Column("revoked_by", ACTOR, nullable=True),
        sa.Column("revoked_at", _timestamp(), nullable=True),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_tokens")),
    )
    op.create_index("ix_tokens_subject", "tokens", ["subject"])
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("window_start", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttle")),
    )
    op.create_index("ix_login_throttle_window_start", "login_throttle", ["window_start"])


def downgrade() -> None:
    op.drop_index("ix_login_throttle_window_start", table_name="login_throttle")
    op.drop_table("login_throttle")
    op.drop_index("ix_tokens_subject", table_name="tokens")
    op.drop_table("tokens")
    op.drop_table("users")
