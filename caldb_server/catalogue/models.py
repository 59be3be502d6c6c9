"""The catalogue: files, datasets (one per indexed HDU, every CIF column), and history.

Rows are never deleted: superseding or withdrawing a dataset changes its CAL_QUAL and
records a :class:`QualityChange`, which is what lets a search be replayed ``as_of`` any
past moment. Index order (HEASARC's row order) is the dataset id.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Double,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    cast,
    type_coerce,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql import ColumnElement
from sqlalchemy.types import TypeDecorator

from caldb_server.db import Base, utcnow

__all__ = [
    "ONBOARD_CLASS",
    "CalibrationFile",
    "CatalogueIndex",
    "Dataset",
    "QualityChange",
    "Release",
    "boundaries_column",
]

ACTOR_LENGTH = 200
# CAL_CLAS of onboard-upload products (SPEC §3.5): searched, never listed in caldb.indx.
ONBOARD_CLASS = "UPLOAD"


class CatalogueIndex(Base):
    """One HEASARC index (``data/<mission>/<inst>``): the unit that writers lock.

    Writers lock its row before deciding anything (``catalogue.indexes.lock_index``); a
    unit of work that changes the index's datasets also increments ``serial`` and sets
    ``updated_at`` (the date of CALDBVER), which tells a cached ``caldb.indx`` whether it
    is still current.
    """

    __tablename__ = "catalogue_indexes"

    index_dir: Mapped[str] = mapped_column(String(70), primary_key=True)
    telescop: Mapped[str] = mapped_column(String(10))
    serial: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Every committed change of the index's datasets, onboard files included (``serial``
    # moves only when caldb.indx changes): summed, the catalogue serial of the search cache.
    changes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class CalibrationFile(Base):
    """A stored file (or, for an imported index without its files, a name only)."""

    __tablename__ = "calibration_files"
    __table_args__ = (
        UniqueConstraint("index_dir", "cal_file"),
        UniqueConstraint("cal_dir", "cal_file"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    index_dir: Mapped[str] = mapped_column(ForeignKey("catalogue_indexes.index_dir"))
    cal_dir: Mapped[str] = mapped_column(String(70))
    cal_file: Mapped[str] = mapped_column(String(40))
    sha256: Mapped[str | None] = mapped_column(String(64))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    origin: Mapped[str] = mapped_column(String(16))  # "upload" or "import"
    uploaded_by: Mapped[str] = mapped_column(String(ACTOR_LENGTH))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    datasets: Mapped[list[Dataset]] = relationship(back_populates="file", order_by="Dataset.id")

    @property
    def held(self) -> bool:
        """Whether the bytes are stored (imported index rows may be metadata only)."""
        return self.sha256 is not None


class Dataset(Base):
    """One CIF row: an HDU of a calibration file with its selection keywords."""

    __tablename__ = "datasets"
    __table_args__ = (
        Index("ix_datasets_selection", "telescop", "instrume", "cal_cnam", "ref_time"),
        Index("ix_datasets_file_id", "file_id"),
        CheckConstraint("cal_qual >= 0", name="cal_qual_non_negative"),
        CheckConstraint("cal_xno >= 0", name="cal_xno_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("calibration_files.id"))
    telescop: Mapped[str] = mapped_column(String(10))
    instrume: Mapped[str] = mapped_column(String(10))
    detnam: Mapped[str] = mapped_column(String(20))
    filter: Mapped[str] = mapped_column(String(10))
    cal_dev: Mapped[str] = mapped_column(String(20))
    cal_clas: Mapped[str] = mapped_column(String(6))  # BCF, CPF; UPLOAD for onboard files
    cal_dtyp: Mapped[str] = mapped_column(String(7))  # DATA, TASK; ONBOARD
    cal_cnam: Mapped[str] = mapped_column(String(20))
    cal_cbd: Mapped[list[str]] = mapped_column(JSON)
    cal_xno: Mapped[int] = mapped_column(SmallInteger)
    cal_vsd: Mapped[str] = mapped_column(String(10))
    cal_vst: Mapped[str] = mapped_column(String(8))
    ref_time: Mapped[float] = mapped_column(Double)
    cal_qual: Mapped[int] = mapped_column(SmallInteger)
    cal_date: Mapped[str] = mapped_column(String(10))
    cal_desc: Mapped[str] = mapped_column(String(70))
    indexed_by: Mapped[str] = mapped_column(String(ACTOR_LENGTH))
    indexed_at: Mapped[datetime] = mapped_column(default=utcnow)

    file: Mapped[CalibrationFile] = relationship(back_populates="datasets", lazy="joined")
    quality_changes: Mapped[list[QualityChange]] = relationship(
        back_populates="dataset", order_by="QualityChange.id"
    )


class QualityChange(Base):
    """A CAL_QUAL change: who, when, why (supersession included)."""

    __tablename__ = "quality_changes"
    __table_args__ = (
        Index("ix_quality_changes_dataset_id_changed_at", "dataset_id", "changed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"))
    old_qual: Mapped[int] = mapped_column(SmallInteger)
    new_qual: Mapped[int] = mapped_column(SmallInteger)
    reason: Mapped[str] = mapped_column(Text)
    changed_by: Mapped[str] = mapped_column(String(ACTOR_LENGTH))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)

    dataset: Mapped[Dataset] = relationship(back_populates="quality_changes")


class Release(Base):
    """A frozen ``index/caldb.indx<YYYYMMDD>`` of one index."""

    __tablename__ = "releases"
    __table_args__ = (UniqueConstraint("index_dir", "caldbver"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    index_dir: Mapped[str] = mapped_column(ForeignKey("catalogue_indexes.index_dir"))
    caldbver: Mapped[str] = mapped_column(String(8))
    row_count: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(ACTOR_LENGTH))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


@lru_cache(maxsize=4096)
def _boundary_tuple(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text))


class _BoundaryList(TypeDecorator[tuple[str, ...]]):
    """CAL_CBD read as JSON text and decoded through a cache (few distinct lists repeat)."""

    impl = Text
    cache_ok = True

    def process_result_value(self, value: str | None, dialect: Dialect) -> tuple[str, ...] | None:
        """Decode (cached) into a tuple of the nine boundary strings."""
        return None if value is None else _boundary_tuple(value)


def boundaries_column() -> ColumnElement[tuple[str, ...]]:
    """``datasets.cal_cbd`` for bulk reads: a tuple per row, decoded once per distinct list."""
    return type_coerce(cast(Dataset.cal_cbd, Text), _BoundaryList()).label("cal_cbd")
