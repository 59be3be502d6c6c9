"""Duplicate datasets, as udcif's ``ckcif`` defines them.

Two good datasets are duplicates when TELESCOP, INSTRUME, CAL_CNAM, DETNAM, FILTER and
REF_TIME are equal and their boundaries overlap: a search could not tell them apart. A
new dataset may replace an existing one only explicitly (supersede), which sets the old
one's CAL_QUAL to 5.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from caldb_selection import boundaries_overlap
from caldb_server.catalogue.models import Dataset
from caldb_server.catalogue.quality import GOOD

__all__ = ["DatasetKey", "find_duplicates", "same_slot"]


class DatasetKey(Protocol):
    """The fields that decide whether two datasets compete for the same requests.

    Read-only members, so that the frozen ``HduDataset`` and catalogue rows both qualify.
    """

    @property
    def telescop(self) -> str:
        """TELESCOP: the mission."""

    @property
    def instrume(self) -> str:
        """INSTRUME: the instrument."""

    @property
    def cal_cnam(self) -> str:
        """CAL_CNAM: the codename."""

    @property
    def detnam(self) -> str:
        """DETNAM: the detector, or NONE."""

    @property
    def filter(self) -> str:
        """FILTER: the filter, or NONE."""

    @property
    def ref_time(self) -> float:
        """REF_TIME: the validity start (MJD, UTC)."""

    @property
    def cal_cbd(self) -> Sequence[str]:
        """CAL_CBD: the boundary strings."""


def same_slot(first: DatasetKey, second: DatasetKey) -> bool:
    """Whether two datasets are duplicates of each other."""
    return (
        first.telescop == second.telescop
        and first.instrume == second.instrume
        and first.cal_cnam == second.cal_cnam
        and first.detnam == second.detnam
        and first.filter == second.filter
        and first.ref_time == second.ref_time
        and boundaries_overlap(tuple(first.cal_cbd), tuple(second.cal_cbd))
    )


def find_duplicates(
    session: Session, candidate: DatasetKey, *, exclude_id: int | None = None
) -> list[Dataset]:
    """Good datasets in the catalogue that ``candidate`` would duplicate, in index order."""
    query = (
        select(Dataset)
        .where(
            Dataset.telescop == candidate.telescop,
            Dataset.instrume == candidate.instrume,
            Dataset.cal_cnam == candidate.cal_cnam,
            Dataset.detnam == candidate.detnam,
            Dataset.filter == candidate.filter,
            Dataset.ref_time == candidate.ref_time,
            Dataset.cal_qual == GOOD,
        )
        .order_by(Dataset.id)
    )
    if exclude_id is not None:
        query = query.where(Dataset.id != exclude_id)
    return [row for row in session.scalars(query) if same_slot(candidate, row)]
