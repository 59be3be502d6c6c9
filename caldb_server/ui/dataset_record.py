"""The catalogue side of the dataset page: CIF fields, sibling HDUs, history, previous version.

Plain functions of a session, a few queries in all (the dataset with its file and quality
changes, the file's other datasets, the previous version, and the datasets that replaced
this one). Nothing here reads the file tree (see :mod:`caldb_server.ui.dataset_content`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from caldb_server.catalogue.models import ONBOARD_CLASS, Dataset, QualityChange
from caldb_server.catalogue.quality import SUPERSEDED, quality_words
from caldb_server.datasets.service import get_dataset
from caldb_server.errors import NotFound

__all__ = [
    "MAX_ID",
    "DatasetRecord",
    "HistoryEntry",
    "cif_fields",
    "dataset_record",
    "previous_version",
]

MAX_ID = 2**31 - 1  # ids are INTEGER columns: a larger one is no dataset (and no query)
# How ingestion words a supersession (ingest/service.py, onboard/service.py): the reason
# is the only place the catalogue records which dataset replaced this one.
_REPLACED_BY = re.compile(r"^superseded by .*[(, ]dataset (\d{1,10})\)$")


@dataclass(frozen=True)
class HistoryEntry:
    """One quality change: old and new CAL_QUAL, why, who, when (UTC).

    ``replaced_by`` is the id of the dataset that superseded this one, when the change
    records a supersession and that dataset exists.
    """

    old_qual: int
    new_qual: int
    reason: str
    changed_by: str
    changed_at: datetime
    replaced_by: int | None

    @property
    def old_words(self) -> str:
        """The old CAL_QUAL in words."""
        return quality_words(self.old_qual)

    @property
    def new_words(self) -> str:
        """The new CAL_QUAL in words."""
        return quality_words(self.new_qual)


@dataclass(frozen=True)
class DatasetRecord:
    """The catalogue part of the dataset page.

    ``fields`` are the 18 CIF columns as (HEASARC name, text); ``siblings`` the other
    datasets of the same file; ``history`` newest first; ``previous`` the previous version
    of the same codename, detector and filter, or None.
    """

    dataset: Dataset
    fields: list[tuple[str, str]]
    siblings: list[Dataset]
    history: list[HistoryEntry]
    previous: Dataset | None

    @property
    def onboard(self) -> bool:
        """True for an onboard configuration (a YAML file, not FITS)."""
        return self.dataset.cal_clas == ONBOARD_CLASS


def cif_fields(dataset: Dataset) -> list[tuple[str, str]]:
    """The 18 CIF columns of ``dataset`` as HEASARC names them, with their values as text."""
    stored = dataset.file
    return [
        ("TELESCOP", dataset.telescop),
        ("INSTRUME", dataset.instrume),
        ("DETNAM", dataset.detnam),
        ("FILTER", dataset.filter),
        ("CAL_DEV", dataset.cal_dev),
        ("CAL_DIR", stored.cal_dir),
        ("CAL_FILE", stored.cal_file),
        ("CAL_CLAS", dataset.cal_clas),
        ("CAL_DTYP", dataset.cal_dtyp),
        ("CAL_CNAM", dataset.cal_cnam),
        ("CAL_CBD", " ".join(dataset.cal_cbd)),
        ("CAL_XNO", str(dataset.cal_xno)),
        ("CAL_VSD", dataset.cal_vsd),
        ("CAL_VST", dataset.cal_vst),
        ("REF_TIME", f"{dataset.ref_time:.10g} (MJD)"),
        ("CAL_QUAL", f"{dataset.cal_qual} ({quality_words(dataset.cal_qual)})"),
        ("CAL_DATE", dataset.cal_date),
        ("CAL_DESC", dataset.cal_desc),
    ]


_PREVIOUS_CANDIDATES = 64  # enough for the HDUs of a file, one per boundary


def previous_version(session: Session, dataset: Dataset) -> Dataset | None:
    """The previous version of ``dataset``, in another file, whatever its quality.

    Same mission, instrument, codename, detector and filter (and onboard or not): the
    dataset with the latest validity start before this one's, or with the same start and
    a lower id (an earlier upload it may have superseded). Among the nearest candidates,
    one with the same boundaries (CAL_CBD: the same energy band, say) is preferred.
    """
    onboard = Dataset.cal_clas == ONBOARD_CLASS
    candidates = session.scalars(
        select(Dataset)
        .where(
            Dataset.telescop == dataset.telescop,
            Dataset.instrume == dataset.instrume,
            Dataset.cal_cnam == dataset.cal_cnam,
            Dataset.detnam == dataset.detnam,
            Dataset.filter == dataset.filter,
            onboard if dataset.cal_clas == ONBOARD_CLASS else ~onboard,
            Dataset.file_id != dataset.file_id,
            or_(
                Dataset.ref_time < dataset.ref_time,
                and_(Dataset.ref_time == dataset.ref_time, Dataset.id < dataset.id),
            ),
        )
        .order_by(Dataset.ref_time.desc(), Dataset.id.desc())
        .limit(_PREVIOUS_CANDIDATES)
    ).all()
    same_bounds = (c for c in candidates if c.cal_cbd == dataset.cal_cbd)
    return next(same_bounds, candidates[0] if candidates else None)


def _replacement_id(change: QualityChange) -> int | None:
    if change.new_qual != SUPERSEDED:
        return None
    found = _REPLACED_BY.match(change.reason)
    return int(found[1]) if found else None


def _history(session: Session, dataset: Dataset) -> list[HistoryEntry]:
    changes = sorted(
        dataset.quality_changes, key=lambda change: (change.changed_at, change.id), reverse=True
    )
    named = {found for change in changes if (found := _replacement_id(change)) is not None}
    existing = (
        set(session.scalars(select(Dataset.id).where(Dataset.id.in_(named)))) if named else set()
    )
    return [
        HistoryEntry(
            change.old_qual,
            change.new_qual,
            change.reason,
            change.changed_by,
            change.changed_at,
            replaced if (replaced := _replacement_id(change)) in existing else None,
        )
        for change in changes
    ]


def dataset_record(session: Session, dataset_id: int) -> DatasetRecord:
    """Everything the catalogue says about one dataset, for its page.

    Raises
    ------
    NotFound
        If there is no such dataset (any id out of the column's range included).
    """
    if not 1 <= dataset_id <= MAX_ID:
        raise NotFound(f"there is no dataset {dataset_id}")
    dataset = get_dataset(session, dataset_id)
    siblings = [other for other in dataset.file.datasets if other.id != dataset.id]
    return DatasetRecord(
        dataset,
        cif_fields(dataset),
        siblings,
        _history(session, dataset),
        previous_version(session, dataset),
    )
