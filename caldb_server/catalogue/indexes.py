"""HEASARC indexes (``data/<mission>/<inst>``) and the write lock each one carries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from caldb_server.catalogue.models import CatalogueIndex
from caldb_server.db import utcnow
from caldb_server.errors import Conflict

__all__ = [
    "catalogue_serial",
    "index_dir_of",
    "lock_index",
    "record_change",
    "record_unlisted_change",
]

_PRODUCT_DIRS = frozenset({"bcf", "cpf", "upload"})


def index_dir_of(cal_dir: str) -> str:
    """The index a CAL_DIR belongs to: the part before ``bcf``/``cpf``/``upload``.

    ``data/swift/xrt/cpf/rmf`` -> ``data/swift/xrt``; ``data/gen/bcf`` -> ``data/gen``.
    A directory without such a component belongs to its first three components.
    """
    parts = cal_dir.split("/")
    for position, part in enumerate(parts[1:], start=1):
        if part.lower() in _PRODUCT_DIRS:
            return "/".join(parts[:position])
    return "/".join(parts[:3])


def lock_index(session: Session, index_dir: str, telescop: str) -> CatalogueIndex:
    """Take the write lock of an index (creating the index), held until the commit.

    Every unit of work that may change datasets of an index calls this before reading
    what it will decide on, so writers of one index queue behind each other and see each
    other's committed rows: a row lock on PostgreSQL (``SELECT ... FOR UPDATE``); on SQLite
    write sessions already hold the database lock (``BEGIN IMMEDIATE``). An index belongs to
    one mission, as a HEASARC CIF does.

    Raises
    ------
    Conflict
        If the index already holds another mission's datasets.
    """
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(
        dialect.insert(CatalogueIndex)
        .values(index_dir=index_dir, telescop=telescop, serial=0, changes=0, updated_at=utcnow())
        .on_conflict_do_nothing(index_elements=["index_dir"])
    )
    index = session.scalars(
        select(CatalogueIndex)
        .where(CatalogueIndex.index_dir == index_dir)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if index.telescop != telescop:
        raise Conflict(
            f"{index_dir} indexes mission {index.telescop}; an index holds one mission only"
        )
    return index


def record_change(index: CatalogueIndex, now: datetime) -> None:
    """Mark that datasets of a locked index changed: a new serial, and the date of CALDBVER.

    Only real changes call it, so an identical re-upload or a no-op quality change does not
    make HEASoft clients download the index again.
    """
    index.serial += 1
    index.updated_at = now
    record_unlisted_change(index)


def record_unlisted_change(index: CatalogueIndex) -> None:
    """Mark that datasets of a locked index changed where caldb.indx does not show it.

    An onboard upload: the index's serial and CALDBVER stay (HEASoft clients would fetch an
    identical caldb.indx again), the catalogue serial moves (searches must see it).
    """
    index.changes += 1


def catalogue_serial(session: Session) -> int:
    """The serial of the whole catalogue: the sum of the indexes' ``changes``.

    Every committed change of datasets or of their quality moves it (:func:`record_change`,
    :func:`record_unlisted_change`, in the same transaction), and it never goes back: the
    counts only grow and indexes are never deleted. Processes compare it to tell whether
    what they hold is current.
    """
    # Plain SQL on the session's connection: read on every search, where the ORM's
    # statement handling would cost more than the query itself.
    return int(session.connection().exec_driver_sql(_SERIAL_SQL).scalar_one())


_SERIAL_SQL = "SELECT coalesce(sum(changes), 0) FROM catalogue_indexes"  # CatalogueIndex's
