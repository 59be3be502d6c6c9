"""Onboard uploads: CAL_CLAS 'UPLOAD' and CAL_DTYP 'ONBOARD' need wider columns.

HEASARC's CIF widths (3 and 4 characters) still bound calibration datasets, which are the
only ones written to ``caldb.indx``; onboard products are searched but never listed there.

Revision ID: 7b2e9c4d1f30
Revises: a3c1f07d2b19
Create Date: 2026-11-21 15:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7b2e9c4d1f30"
down_revision: str | None = "a3c1f07d2b19"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("datasets") as batch:
        batch.alter_column("cal_clas", type_=sa.String(length=6), existing_nullable=False)
        batch.alter_column("cal_dtyp", type_=sa.String(length=7), existing_nullable=False)


def downgrade() -> None:
    onboard = op.get_bind().scalar(
        sa.text("SELECT count(*) FROM datasets WHERE cal_clas = 'UPLOAD'")
    )
    if onboard:
        # Narrowing would truncate or fail; never drop rows silently.
        raise RuntimeError(f"{onboard} onboard datasets exist; this schema cannot hold them")
    with op.batch_alter_table("datasets") as batch:
        batch.alter_column("cal_clas", type_=sa.String(length=3), existing_nullable=False)
        batch.alter_column("cal_dtyp", type_=sa.String(length=4), existing_nullable=False)
