"""Reading a dataset with its history, and changing its CAL_QUAL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from caldb_server.catalogue.duplicates import find_duplicates
from caldb_server.catalogue.indexes import lock_index, record_change
from caldb_server.catalogue.models import Dataset
from caldb_server.catalogue.quality import GOOD, change_quality
from caldb_server.changes.service import record_quality
from caldb_server.db import utcnow
from caldb_server.errors import Conflict, NotFound

__all__ = ["get_dataset", "list_datasets", "set_quality"]


def get_dataset(session: Session, dataset_id: int) -> Dataset:
    """The dataset with its file and quality history.

    Raises
    ------
    NotFound
        If there is no such dataset.
    """
    dataset = session.get(Dataset, dataset_id, options=[selectinload(Dataset.quality_changes)])
    if dataset is None:
        raise NotFound(f"there is no dataset {dataset_id}")
    return dataset


def set_quality(
    session: Session,
    dataset_id: int,
    quality: int,
    *,
    reason: str,
    actor: str,
    now: datetime | None = None,
) -> Dataset:
    """Change a dataset's CAL_QUAL, recording who, when (by default: once locked) and why.

    Setting the quality it already has changes nothing. Making a dataset good again is
    refused while another good dataset occupies the same slot (quzcif would return both).

    Raises
    ------
    NotFound
        If there is no such dataset.
    Conflict
        If restoring it would duplicate a good dataset.
    """
    dataset = get_dataset(session, dataset_id)
    if dataset.cal_qual == quality:
        return dataset
    index = lock_index(session, dataset.file.index_dir, dataset.telescop)
    session.refresh(dataset)
    if dataset.cal_qual == quality:  # changed so while we waited for the lock
        return dataset
    if quality == GOOD:
        rivals = find_duplicates(session, dataset, exclude_id=dataset.id)
        if rivals:
            raise Conflict(
                f"dataset {dataset.id} cannot be made good while dataset(s) "
                f"{', '.join(str(r.id) for r in rivals)} cover the same requests; "
                "withdraw them first",
                errors=[
                    {"reason": "duplicate of a good dataset", "dataset_id": r.id} for r in rivals
                ],
            )
    now = now or utcnow()
    change = change_quality(session, dataset, quality, reason=reason, actor=actor, now=now)
    assert change is not None  # the quality differs
    record_change(index, now)
    record_quality(session, change, actor=actor, now=now)  # the change feed
    session.flush()
    return dataset


def list_datasets(
    session: Session,
    *,
    mission: str,
    instrument: str,
    codenames: Sequence[str] = (),
    after_id: int = 0,
    limit: int,
) -> Sequence[Dataset]:
    """Every dataset of an instrument (all qualities), in index order, one page at a time.

    Keyset paging (``id > after_id``) keeps pages consistent while uploads go on: a page
    never repeats or skips a dataset that existed when paging began.
    """
    statement = (
        select(Dataset)
        .where(
            Dataset.telescop == mission.upper(),
            Dataset.instrume == instrument.upper(),
            Dataset.id > after_id,
        )
        .order_by(Dataset.id)
        .limit(limit)
    )
    if codenames:
        statement = statement.where(Dataset.cal_cnam.in_([c.upper() for c in codenames]))
    return session.scalars(statement).all()
