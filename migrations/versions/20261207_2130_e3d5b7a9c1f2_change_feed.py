"""The change feed: catalogue events numbered in commit order.

``changes`` holds one row per event (upload, onboard upload, quality change, supersession,
release, index import) and ``change_subjects`` the missions, instruments and codenames each
concerns, for filtering. ``change_counter`` is the one row whose lock numbers the events in
commit order (``caldb_server.changes.service.next_seqs``). Events before this revision were
not recorded: the feed starts here.

Revision ID: e3d5b7a9c1f2
Revises: c4f1a9e2d7b6
Create Date: 2026-12-07 21:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e3d5b7a9c1f2"
down_revision: str | None = "c4f1a9e2d7b6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    counter = op.create_table(
        "change_counter",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("last", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_change_counter_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_counter")),
    )
    op.bulk_insert(counter, [{"id": 1, "last": 0}])
    op.create_table(
        "changes",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("dataset_ids", sa.JSON(), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_changes")),
    )
    op.create_table(
        "change_subjects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("telescop", sa.String(length=10), nullable=False),
        sa.Column("instrume", sa.String(length=10), nullable=False),
        sa.Column("cal_cnam", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(
            ["seq"], ["changes.seq"], name=op.f("fk_change_subjects_seq_changes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_subjects")),
    )
    op.create_index(
        "ix_change_subjects_instrume_cal_cnam_seq",
        "change_subjects",
        ["instrume", "cal_cnam", "seq"],
    )
    op.create_index("ix_change_subjects_seq", "change_subjects", ["seq"])


def downgrade() -> None:
    op.drop_index("ix_change_subjects_seq", table_name="change_subjects")
    op.drop_index("ix_change_subjects_instrume_cal_cnam_seq", table_name="change_subjects")
    op.drop_table("change_subjects")
    op.drop_table("changes")
    op.drop_table("change_counter")
