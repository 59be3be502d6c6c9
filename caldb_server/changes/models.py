"""Catalogue events, numbered in commit order, and the counter that numbers them.

One :class:`Change` per event (an upload, an onboard upload, a quality change, a
supersession, a release, an index import) with what a pipeline needs to react to it: its
sequence number, kind, time, actor, the datasets and files it touched and kind-specific
details. :class:`ChangeSubject` rows say which (mission, instrument, codename) it concerns,
so that ``GET /api/v1/changes`` filters by them with an index instead of reading JSON.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from caldb_server.catalogue.models import ACTOR_LENGTH
from caldb_server.db import Base

__all__ = ["Change", "ChangeCounter", "ChangeSubject"]

COUNTER_ROW = 1


class ChangeCounter(Base):
    """The last sequence number given: one row, whose lock orders the writers' commits.

    See :func:`caldb_server.changes.service.next_seq` for why a row and not a sequence.
    """

    __tablename__ = "change_counter"
    __table_args__ = (CheckConstraint(f"id = {COUNTER_ROW}", name="single_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(BigInteger)


class Change(Base):
    """One catalogue event; ``seq`` grows in commit order, from 1, without gaps."""

    __tablename__ = "changes"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(20))
    recorded_at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(ACTOR_LENGTH))  # a user name, never a token
    dataset_ids: Mapped[list[int]] = mapped_column(JSON)
    files: Mapped[list[str]] = mapped_column(JSON)  # CAL_DIR/CAL_FILE (a release: its CIF)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)

    subjects: Mapped[list[ChangeSubject]] = relationship(
        back_populates="change", order_by="ChangeSubject.id"
    )


class ChangeSubject(Base):
    """A (mission, instrument, codename) an event concerns; no codename: all of them."""

    __tablename__ = "change_subjects"
    __table_args__ = (
        Index("ix_change_subjects_instrume_cal_cnam_seq", "instrume", "cal_cnam", "seq"),
        Index("ix_change_subjects_seq", "seq"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, ForeignKey("changes.seq"))
    telescop: Mapped[str] = mapped_column(String(10))
    instrume: Mapped[str] = mapped_column(String(10))
    cal_cnam: Mapped[str | None] = mapped_column(String(20))  # None: a release (every codename)

    change: Mapped[Change] = relationship(back_populates="subjects")
