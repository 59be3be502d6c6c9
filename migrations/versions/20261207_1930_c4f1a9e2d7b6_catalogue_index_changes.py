"""Every change of an index's datasets is counted, onboard files included.

``catalogue_indexes.serial`` moves only when ``caldb.indx`` changes (HEASoft clients compare
it), so onboard uploads, which that file never lists, leave it alone. ``changes`` moves with
every committed change of the index's datasets; the sum over indexes is the catalogue serial
that tells each server process whether what it holds in memory is current.

Revision ID: c4f1a9e2d7b6
Revises: 7b2e9c4d1f30
Create Date: 2026-12-07 19:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c4f1a9e2d7b6"
down_revision: str | None = "7b2e9c4d1f30"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("catalogue_indexes") as batch:
        batch.add_column(sa.Column("changes", sa.BigInteger(), nullable=False, server_default="0"))
    op.execute("UPDATE catalogue_indexes SET changes = serial")


def downgrade() -> None:
    with op.batch_alter_table("catalogue_indexes") as batch:
        batch.drop_column("changes")
