"""Recording catalogue events in commit order, and reading them back ``since`` a number.

Every write path of the catalogue calls one ``record_*`` function in its unit of work:
uploads (:mod:`caldb_server.ingest.service`, :mod:`caldb_server.onboard.service`),
quality changes (:mod:`caldb_server.datasets.service`), imports
(:mod:`caldb_server.imports.service`) and releases (:mod:`caldb_server.heasarc.tree`).
Each records one :class:`Change` through :func:`record_event`; the commit numbers it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import event, func, or_, select
from sqlalchemy.orm import Session, SessionTransaction, selectinload

from caldb_server.catalogue.models import (
    CalibrationFile,
    Dataset,
    QualityChange,
    Release,
)
from caldb_server.changes.models import COUNTER_ROW, Change, ChangeCounter, ChangeSubject
from caldb_server.db import upsert_statement

__all__ = [
    "IMPORT",
    "KINDS",
    "ONBOARD_UPLOAD",
    "QUALITY",
    "RELEASE",
    "SUPERSESSION",
    "UPLOAD",
    "Subject",
    "latest_seq",
    "list_changes",
    "next_seqs",
    "record_event",
    "record_import",
    "record_quality",
    "record_release",
    "record_supersession",
    "record_upload",
]

UPLOAD, ONBOARD_UPLOAD, QUALITY = "upload", "onboard_upload", "quality"
SUPERSESSION, RELEASE, IMPORT = "supersession", "release", "import"
KINDS = (UPLOAD, ONBOARD_UPLOAD, QUALITY, SUPERSESSION, RELEASE, IMPORT)

Subject = tuple[str, str, str | None]
"""(TELESCOP, INSTRUME, CAL_CNAM) an event concerns; CAL_CNAM None: every codename."""


def next_seqs(session: Session, count: int) -> range:
    """``count`` new sequence numbers, taken under the counter row's lock until the commit.

    Why a one-row counter and not a database sequence: readers poll ``since=N`` and must
    never miss an event, so numbers must grow in *commit* order. A PostgreSQL sequence
    only grows in allocation order: a transaction that took 7 may commit after one that
    took 8, and a reader who saw 8 would then ask for ``since=8`` and never see 7. Here
    the ``UPDATE`` of the counter row locks it until the transaction ends, so the next
    writer's ``UPDATE`` waits for that commit and then reads the committed value: numbers
    are given, and become visible, one transaction after the other, every snapshot holds
    a gapless prefix, and a rolled-back transaction gives its numbers back. SQLite
    serialises write transactions anyway (``BEGIN IMMEDIATE``). An upsert, so that the row
    is made on first use.
    """
    counter = ChangeCounter.__table__.c
    statement = (
        upsert_statement(session, ChangeCounter)
        .values(id=COUNTER_ROW, last=count)
        .on_conflict_do_update(index_elements=[counter.id], set_={"last": counter.last + count})
        .returning(counter.last)
    )
    last = int(session.execute(statement).scalar_one())
    return range(last - count + 1, last + 1)


def record_event(
    session: Session,
    kind: str,
    *,
    actor: str,
    now: datetime,
    subjects: Iterable[Subject],
    dataset_ids: Sequence[int] = (),
    files: Sequence[str] = (),
    details: Mapping[str, Any] | None = None,
) -> Change:
    """Record one catalogue event in the caller's unit of work; it commits, or not, with it.

    Its number is given at the commit (:func:`_number_pending`): the counter's lock is
    then the last one the transaction takes and it is held only for the final flush and
    COMMIT, whatever the unit of work did before (several indexes locked one after the
    other by a release of all of them, files published...). Taking it earlier would hold
    every other writer back for longer and, taken before another index's lock, could
    deadlock with a writer holding that index and waiting for the counter.
    """
    change = Change(
        kind=kind,
        recorded_at=now,
        actor=actor,
        dataset_ids=list(dataset_ids),
        files=list(dict.fromkeys(files)),
        details=dict(details or {}),
        subjects=[
            ChangeSubject(telescop=telescop, instrume=instrume, cal_cnam=cal_cnam)
            for telescop, instrume, cal_cnam in sorted(set(subjects), key=_subject_order)
        ],
    )
    session.info.setdefault(_PENDING, []).append(change)
    return change


_PENDING = "caldb.pending_changes"  # session.info: events recorded, numbered at the commit


@event.listens_for(Session, "before_commit")
def _number_pending(session: Session) -> None:
    """Number the unit of work's events in the order recorded, and add them (last writes)."""
    pending: list[Change] = session.info.pop(_PENDING, [])
    if not pending:
        return
    for change, seq in zip(pending, next_seqs(session, len(pending)), strict=True):
        change.seq = seq
    session.add_all(pending)


@event.listens_for(Session, "after_transaction_end")
def _forget_pending(session: Session, transaction: SessionTransaction) -> None:
    """A rolled-back unit of work's events are dropped with it."""
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


def _subject_order(subject: Subject) -> tuple[str, str, str]:
    return subject[0], subject[1], subject[2] or ""


def _path(stored: CalibrationFile) -> str:
    return f"{stored.cal_dir}/{stored.cal_file}"


def _subjects(datasets: Iterable[Dataset]) -> list[Subject]:
    return [(d.telescop, d.instrume, d.cal_cnam) for d in datasets]


def record_upload(
    session: Session,
    stored: CalibrationFile,
    datasets: Sequence[Dataset],
    *,
    kind: str,
    actor: str,
    now: datetime,
    details: Mapping[str, Any] | None = None,
) -> Change:
    """A new file and its datasets (``kind``: ``upload`` or ``onboard_upload``)."""
    return record_event(
        session,
        kind,
        actor=actor,
        now=now,
        subjects=_subjects(datasets),
        dataset_ids=[d.id for d in datasets],
        files=[_path(stored)],
        details={"sha256": stored.sha256, "size": stored.size_bytes, **(details or {})},
    )


def record_supersession(
    session: Session,
    replaced: Sequence[QualityChange],
    replacements: Sequence[Dataset],
    by: CalibrationFile,
    *,
    actor: str,
    now: datetime,
) -> Change | None:
    """Datasets an upload superseded (their CAL_QUAL set to 5), if any.

    ``replacements[i]`` is the new dataset that superseded ``replaced[i].dataset``.
    """
    if not replaced:
        return None
    old = [change.dataset for change in replaced]
    return record_event(
        session,
        SUPERSESSION,
        actor=actor,
        now=now,
        subjects=_subjects(old),
        dataset_ids=[d.id for d in old],
        files=[_path(d.file) for d in old],
        details={
            "superseded_by_file": _path(by),
            "superseded": [
                {
                    "dataset_id": change.dataset.id,
                    "by_dataset_id": new.id,
                    "old_qual": change.old_qual,
                    "new_qual": change.new_qual,
                    "reason": change.reason,
                }
                for change, new in zip(replaced, replacements, strict=True)
            ],
        },
    )


def record_quality(session: Session, change: QualityChange, *, actor: str, now: datetime) -> Change:
    """A CAL_QUAL change asked for by a user (``PATCH /datasets/<id>``)."""
    dataset = change.dataset
    return record_event(
        session,
        QUALITY,
        actor=actor,
        now=now,
        subjects=_subjects([dataset]),
        dataset_ids=[dataset.id],
        files=[_path(dataset.file)],
        details={"old_qual": change.old_qual, "new_qual": change.new_qual, "reason": change.reason},
    )


def record_release(
    session: Session, release: Release, telescop: str, *, cif_path: str, actor: str, now: datetime
) -> Change:
    """A frozen ``index/caldb.indx<CALDBVER>``: it concerns every codename of its index."""
    instruments = session.scalars(
        select(Dataset.instrume)
        .distinct()
        .join(CalibrationFile, Dataset.file_id == CalibrationFile.id)
        .where(CalibrationFile.index_dir == release.index_dir)
    ).all()
    return record_event(
        session,
        RELEASE,
        actor=actor,
        now=now,
        subjects=[(telescop, instrume, None) for instrume in instruments],
        files=[cif_path],
        details={
            "index_dir": release.index_dir,
            "caldbver": release.caldbver,
            "row_count": release.row_count,
            "sha256": release.sha256,
        },
    )


def record_import(
    session: Session,
    subjects: Iterable[Subject],
    *,
    actor: str,
    now: datetime,
    details: Mapping[str, Any],
) -> Change:
    """A whole imported CIF, as one event with its counts (never one per row)."""
    return record_event(session, IMPORT, actor=actor, now=now, subjects=subjects, details=details)


def list_changes(
    session: Session,
    *,
    since: int | None,
    limit: int,
    mission: str | None = None,
    instrument: str | None = None,
    codenames: Sequence[str] = (),
) -> Sequence[Change]:
    """Events after ``since`` in sequence order, at most ``limit``, matching the filters.

    ``since`` None: the latest ``limit`` events, newest first (what a feed shows). A
    codename filter keeps the events that concern every codename (releases) too.
    """
    statement = select(Change).options(selectinload(Change.subjects)).limit(limit)
    if since is None:
        statement = statement.order_by(Change.seq.desc())
    else:
        statement = statement.where(Change.seq > since).order_by(Change.seq)
    conditions = []
    if mission is not None:
        conditions.append(ChangeSubject.telescop == mission)
    if instrument is not None:
        conditions.append(ChangeSubject.instrume == instrument)
    if codenames:
        conditions.append(
            or_(ChangeSubject.cal_cnam.in_(codenames), ChangeSubject.cal_cnam.is_(None))
        )
    if conditions:
        statement = statement.where(Change.seq.in_(select(ChangeSubject.seq).where(*conditions)))
    return session.scalars(statement).all()


def latest_seq(session: Session) -> int:
    """The number of the latest committed event (0 before the first)."""
    return int(session.scalar(select(func.coalesce(func.max(Change.seq), 0))) or 0)
