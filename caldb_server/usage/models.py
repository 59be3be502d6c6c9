"""A pipeline run's usage record and the selections it holds.

A record is never changed once stored: ``record_id``, drawn by the sender, makes a resend
(a lost answer, a queue flushed twice) land on the stored record instead of a second one.
Each selection keeps what the search asked (so it can be replayed against a later
catalogue) and what it chose (so a replay can tell whether the choice would now differ).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Double, ForeignKey, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from caldb_server.catalogue.models import ACTOR_LENGTH
from caldb_server.db import Base, utcnow

__all__ = ["UsageRecord", "UsageSelection"]


class UsageRecord(Base):
    """What one run of a brick on one observation used."""

    __tablename__ = "usage_records"
    # The latest record of an (observation, brick) is the one without a later id (impact).
    __table_args__ = (Index("ix_usage_records_observation_brick_id", "observation", "brick", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[str] = mapped_column(String(36), unique=True)
    observation: Mapped[str] = mapped_column(String(40))
    brick: Mapped[str] = mapped_column(String(41))
    brick_version: Mapped[str] = mapped_column(String(40))
    finished_at: Mapped[datetime]
    submitted_by: Mapped[str] = mapped_column(String(ACTOR_LENGTH))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)

    selections: Mapped[list[UsageSelection]] = relationship(
        back_populates="record", order_by="UsageSelection.id", lazy="selectin"
    )


class UsageSelection(Base):
    """One calibration dataset a run took: the search it made and the dataset chosen."""

    __tablename__ = "usage_selections"
    __table_args__ = (
        Index("ix_usage_selections_codename", "instrument", "codename"),
        Index("ix_usage_selections_usage_id", "usage_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    usage_id: Mapped[int] = mapped_column(ForeignKey("usage_records.id"))
    mission: Mapped[str] = mapped_column(String(10))
    instrument: Mapped[str] = mapped_column(String(10))
    codename: Mapped[str] = mapped_column(String(20))
    date: Mapped[str] = mapped_column(String(40))  # as sent: the search's date parameter
    time_mjd: Mapped[float | None] = mapped_column(Double)  # None: any time ('-')
    detector: Mapped[str] = mapped_column(String(20))
    filter: Mapped[str] = mapped_column(String(10))
    expr: Mapped[str] = mapped_column(String(200))
    as_of: Mapped[datetime | None]
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"))
    cal_file: Mapped[str] = mapped_column(String(200))
    cal_xno: Mapped[int] = mapped_column(SmallInteger)
    sha256: Mapped[str] = mapped_column(String(64))

    record: Mapped[UsageRecord] = relationship(back_populates="selections")
