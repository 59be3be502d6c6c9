"""CAL_QUAL changes and their history: the record ``as_of`` replays."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from caldb_server.catalogue.models import Dataset, QualityChange

__all__ = ["GOOD", "SUPERSEDED", "change_quality", "qualities_as_of", "quality_words"]

GOOD = 0
SUPERSEDED = 5  # HEASARC's "bad": udcif and caldbflag set it on replaced datasets
_CHUNK = 1000


def quality_words(quality: int) -> str:
    """CAL_QUAL in words: ``good`` (0), ``superseded or bad`` (5), else ``flagged``.

    Only good datasets are ever selected; HEASARC uses 5 both for a superseded dataset and
    for one found bad, and leaves other values to the mission.
    """
    if quality == GOOD:
        return "good"
    return "superseded or bad" if quality == SUPERSEDED else "flagged"


def change_quality(
    session: Session,
    dataset: Dataset,
    new_qual: int,
    *,
    reason: str,
    actor: str,
    now: datetime,
) -> QualityChange | None:
    """Set a dataset's CAL_QUAL and record who changed it, when and why.

    Returns the recorded change, or None when the quality already had that value.
    """
    if dataset.cal_qual == new_qual:
        return None
    change = QualityChange(
        dataset=dataset,
        old_qual=dataset.cal_qual,
        new_qual=new_qual,
        reason=reason,
        changed_by=actor,
        changed_at=now,
    )
    dataset.cal_qual = new_qual
    session.add(change)
    return change


def qualities_as_of(
    session: Session, dataset_ids: Iterable[int], moment: datetime
) -> dict[int, int]:
    """CAL_QUAL values of datasets that have changed since ``moment``, as they were then.

    The value at ``moment`` is the ``old_qual`` of the first change after it; datasets
    without a later change keep their current value (not in the returned mapping).
    """
    ids = list(dataset_ids)
    earlier: dict[int, int] = {}
    for start in range(0, len(ids), _CHUNK):  # stay far below the drivers' parameter limits
        rows = session.execute(
            select(QualityChange.dataset_id, QualityChange.old_qual)
            .where(
                QualityChange.dataset_id.in_(ids[start : start + _CHUNK]),
                QualityChange.changed_at > moment,
            )
            .order_by(QualityChange.dataset_id, QualityChange.changed_at, QualityChange.id)
        )
        for dataset_id, old_qual in rows:
            earlier.setdefault(dataset_id, old_qual)
    return earlier
