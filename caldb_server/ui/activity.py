"""What the home page shows: the mission's CALDBVER, its latest release, recent activity.

Plain functions of a session, a few statements each (a page is one request of a few queries).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from caldb_server.catalogue.models import (
    ONBOARD_CLASS,
    CalibrationFile,
    CatalogueIndex,
    Dataset,
    QualityChange,
    Release,
)
from caldb_server.catalogue.quality import quality_words

__all__ = ["Event", "MissionState", "mission_state", "recent_activity"]


@dataclass(frozen=True)
class MissionState:
    """``caldbver``: date (YYYYMMDD) of the last change of any index; the latest release."""

    caldbver: str | None
    release: str | None
    released_at: datetime | None


@dataclass(frozen=True)
class Event:
    """One line of recent activity: when, who, what, and the page it concerns."""

    when: datetime
    who: str
    kind: str  # "upload", "onboard", "quality", "release"
    text: str
    dataset_id: int | None = None


def mission_state(session: Session, mission: str) -> MissionState:
    """The mission's CALDBVER and its latest frozen release."""
    changed = session.scalar(
        select(func.max(CatalogueIndex.updated_at)).where(CatalogueIndex.telescop == mission)
    )
    latest = session.execute(
        select(Release.caldbver, Release.created_at)
        .join(CatalogueIndex, CatalogueIndex.index_dir == Release.index_dir)
        .where(CatalogueIndex.telescop == mission)
        .order_by(Release.created_at.desc(), Release.id.desc())
        .limit(1)
    ).first()
    return MissionState(
        caldbver=f"{changed:%Y%m%d}" if changed is not None else None,
        release=latest.caldbver if latest else None,
        released_at=latest.created_at if latest else None,
    )


def recent_activity(session: Session, limit: int = 15) -> list[Event]:
    """The latest uploads, onboard uploads, quality changes and releases, newest first."""
    first_datasets = (
        select(Dataset.file_id, func.min(Dataset.id).label("dataset_id"))
        .group_by(Dataset.file_id)
        .subquery()
    )
    files = session.execute(
        select(CalibrationFile, Dataset)
        .join(first_datasets, first_datasets.c.file_id == CalibrationFile.id)
        .join(Dataset, Dataset.id == first_datasets.c.dataset_id)
        .order_by(CalibrationFile.uploaded_at.desc(), CalibrationFile.id.desc())
        .limit(limit)
    ).all()
    changes = session.execute(
        select(QualityChange, Dataset)
        .join(Dataset, Dataset.id == QualityChange.dataset_id)
        .order_by(QualityChange.changed_at.desc(), QualityChange.id.desc())
        .limit(limit)
    ).all()
    releases = session.scalars(
        select(Release).order_by(Release.created_at.desc(), Release.id.desc()).limit(limit)
    ).all()
    events = [_file_event(file, dataset) for file, dataset in files]
    events += [_quality_event(change, dataset) for change, dataset in changes]
    events += [
        Event(r.created_at, r.created_by, "release", f"release {r.caldbver} of {r.index_dir}")
        for r in releases
    ]
    return sorted(events, key=lambda event: event.when, reverse=True)[:limit]


def _file_event(file: CalibrationFile, dataset: Dataset) -> Event:
    onboard = dataset.cal_clas == ONBOARD_CLASS
    verb = "imported" if file.origin == "import" else "uploaded"
    what = "onboard configuration" if onboard else "calibration file"
    text = f"{verb} {what} {file.cal_file} ({dataset.instrume} {dataset.cal_cnam})"
    return Event(
        file.uploaded_at, file.uploaded_by, "onboard" if onboard else "upload", text, dataset.id
    )


def _quality_event(change: QualityChange, dataset: Dataset) -> Event:
    text = (
        f"{dataset.instrume} {dataset.cal_cnam} {dataset.file.cal_file}[{dataset.cal_xno}]: "
        f"{quality_words(change.old_qual)} → {quality_words(change.new_qual)} ({change.reason})"
    )
    return Event(change.changed_at, change.changed_by, "quality", text, dataset.id)
