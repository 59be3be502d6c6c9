"""Initial catalogue: indexes, files, datasets (the 18 CIF columns), quality history, releases.

Revision ID: 5e845bdd877e
Revises:
Create Date: 2026-11-21 11:15:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e845bdd877e"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTOR = sa.String(length=200)


def _timestamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "catalogue_indexes",
        sa.Column("index_dir", sa.String(length=70), nullable=False),
        sa.Column("telescop", sa.String(length=10), nullable=False),
        sa.Column("serial", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("index_dir", name=op.f("pk_catalogue_indexes")),
    )
    op.create_table(
        "calibration_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("index_dir", sa.String(length=70), nullable=False),
        sa.Column("cal_dir", sa.String(length=70), nullable=False),
        sa.Column("cal_file", sa.String(length=40), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("uploaded_by", ACTOR, nullable=False),
        sa.Column("uploaded_at", _timestamp(), nullable=False),
        sa.ForeignKeyConstraint(
            ["index_dir"],
            ["catalogue_indexes.index_dir"],
            name=op.f("fk_calibration_files_index_dir_catalogue_indexes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calibration_files")),
        sa.UniqueConstraint(
            "cal_dir", "cal_file", name=op.f("uq_calibration_files_cal_dir_cal_file")
        ),
        sa.UniqueConstraint(
            "index_dir", "cal_file", name=op.f("uq_calibration_files_index_dir_cal_file")
        ),
    )
    op.create_table(
        "releases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("index_dir", sa.String(length=70), nullable=False),
        sa.Column("caldbver", sa.String(length=8), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("created_by", ACTOR, nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.ForeignKeyConstraint(
            ["index_dir"],
            ["catalogue_indexes.index_dir"],
            name=op.f("fk_releases_index_dir_catalogue_indexes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_releases")),
        sa.UniqueConstraint("index_dir", "caldbver", name=op.f("uq_releases_index_dir_caldbver")),
    )
    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("telescop", sa.String(length=10), nullable=False),
        sa.Column("instrume", sa.String(length=10), nullable=False),
        sa.Column("detnam", sa.String(length=20), nullable=False),
        sa.Column("filter", sa.String(length=10), nullable=False),
        sa.Column("cal_dev", sa.String(length=20), nullable=False),
        sa.Column("cal_clas", sa.String(length=3), nullable=False),
        sa.Column("cal_dtyp", sa.String(length=4), nullable=False),
        sa.Column("cal_cnam", sa.String(length=20), nullable=False),
        sa.Column("cal_cbd", sa.JSON(), nullable=False),
        sa.Column("cal_xno", sa.SmallInteger(), nullable=False),
        sa.Column("cal_vsd", sa.String(length=10), nullable=False),
        sa.Column("cal_vst", sa.String(length=8), nullable=False),
        sa.Column("ref_time", sa.Double(), nullable=False),
        sa.Column("cal_qual", sa.SmallInteger(), nullable=False),
        sa.Column("cal_date", sa.String(length=10), nullable=False),
        sa.Column("cal_desc", sa.String(length=70), nullable=False),
        sa.Column("indexed_by", ACTOR, nullable=False),
        sa.Column("indexed_at", _timestamp(), nullable=False),
        sa.CheckConstraint("cal_qual >= 0", name=op.f("ck_datasets_cal_qual_non_negative")),
        sa.CheckConstraint("cal_xno >= 0", name=op.f("ck_datasets_cal_xno_non_negative")),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["calibration_files.id"],
            name=op.f("fk_datasets_file_id_calibration_files"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_datasets")),
    )
    op.create_index("ix_datasets_file_id", "datasets", ["file_id"])
    op.create_index(
        "ix_datasets_selection", "datasets", ["telescop", "instrume", "cal_cnam", "ref_time"]
    )
    op.create_table(
        "quality_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("old_qual", sa.SmallInteger(), nullable=False),
        sa.Column("new_qual", sa.SmallInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("changed_by", ACTOR, nullable=False),
        sa.Column("changed_at", _timestamp(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_quality_changes_dataset_id_datasets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_changes")),
    )
    op.create_index(
        "ix_quality_changes_dataset_id_changed_at", "quality_changes", ["dataset_id", "changed_at"]
    )


def downgrade() -> None:
    op.drop_table("quality_changes")
    op.drop_table("datasets")
    op.drop_table("releases")
    op.drop_table("calibration_files")
    op.drop_table("catalogue_indexes")
