"""Usage records: the calibration each pipeline run selected, and the selection that chose it.

Revision ID: 5d8e2f6a9b41
Revises: e3d5b7a9c1f2
Create Date: 2026-12-07 22:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5d8e2f6a9b41"
down_revision: str | None = "e3d5b7a9c1f2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "usage_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("observation", sa.String(length=40), nullable=False),
        sa.Column("brick", sa.String(length=41), nullable=False),
        sa.Column("brick_version", sa.String(length=40), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_by", sa.String(length=200), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_records")),
        sa.UniqueConstraint("record_id", name=op.f("uq_usage_records_record_id")),
    )
    op.create_index(
        "ix_usage_records_observation_brick_id", "usage_records", ["observation", "brick", "id"]
    )
    op.create_table(
        "usage_selections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("usage_id", sa.Integer(), nullable=False),
        sa.Column("mission", sa.String(length=10), nullable=False),
        sa.Column("instrument", sa.String(length=10), nullable=False),
        sa.Column("codename", sa.String(length=20), nullable=False),
        sa.Column("date", sa.String(length=40), nullable=False),
        sa.Column("time_mjd", sa.Double(), nullable=True),
        sa.Column("detector", sa.String(length=20), nullable=False),
        sa.Column("filter", sa.String(length=10), nullable=False),
        sa.Column("expr", sa.String(length=200), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("cal_file", sa.String(length=200), nullable=False),
        sa.Column("cal_xno", sa.SmallInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name=op.f("fk_usage_selections_dataset_id_datasets")
        ),
        sa.ForeignKeyConstraint(
            ["usage_id"],
            ["usage_records.id"],
            name=op.f("fk_usage_selections_usage_id_usage_records"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_selections")),
    )
    op.create_index("ix_usage_selections_codename", "usage_selections", ["instrument", "codename"])
    op.create_index("ix_usage_selections_usage_id", "usage_selections", ["usage_id"])


def downgrade() -> None:
    op.drop_table("usage_selections")
    op.drop_table("usage_records")
