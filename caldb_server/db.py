"""Database plumbing: declarative base, engine set-up, and the per-request unit of work.

Services receive a :class:`~sqlalchemy.orm.Session` and only ``flush()``. The transaction is
committed in exactly one place, :func:`commit`, called once per request by the app (and by
each CLI command): it flushes, publishes staged files into the tree, then commits, and
withdraws the published files if the commit fails. A request that ends in an error is
rolled back and its staged files are discarded (see :mod:`caldb_server.storage`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from caldb_server import storage

__all__ = ["Base", "Database", "UTCDateTime", "commit", "upsert_statement", "utcnow"]

# Stable constraint names, so that migrations can refer to them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

WRITE_OPTION = "caldb_write"


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (the only kind of datetime stored)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive values; store UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; store UTC-aware values")
        value = value.astimezone(UTC)
        # SQLite has no time zones: store the UTC wall time.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Give back an aware UTC value."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def upsert_statement(session: Session, table: Table) -> Any:
    """``INSERT`` for ``table`` with ``on_conflict_do_update/nothing`` (both backends have it).

    One atomic statement instead of read-then-write, which concurrent requests would race.
    """
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


class Base(DeclarativeBase):
    """Base of every model: shared metadata with the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime}  # noqa: RUF012 - SQLAlchemy's API


def _configure_sqlite(engine: Engine) -> None:
    """Make SQLite behave: foreign keys, WAL, waiting on locks, and real transactions.

    pysqlite's own transaction handling breaks SAVEPOINTs and delays BEGIN; we emit BEGIN
    ourselves (SQLAlchemy's documented recipe), and BEGIN IMMEDIATE for write units of work
    so that two writers queue on the lock instead of failing on a stale snapshot.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        write = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def make_engine(url: str) -> Engine:
    """Create the engine for ``url`` with the settings each backend needs.

    ``postgresql://`` means the psycopg 3 driver this project installs.
    """
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        _configure_sqlite(engine)
        return engine
    # No pre-ping: it costs a round trip per request. A connection that died with the
    # server raises OperationalError, answered 503 (clients retry), and invalidates the pool.
    return create_engine(url, pool_size=5, max_overflow=5)


class Database:
    """One engine and its session factories; kept on the Flask app as an extension."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        # Reads on PostgreSQL run in autocommit: a search is one statement, and BEGIN/COMMIT
        # around it would be two more round trips. SQLite keeps transactions (no network).
        reads = self.engine
        if self.engine.dialect.name != "sqlite":
            reads = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._read_sessions = sessionmaker(reads, expire_on_commit=False)
        # Reads of several statements that must agree (an index's serial and its rows).
        snapshots = self.engine
        if self.engine.dialect.name != "sqlite":
            snapshots = self.engine.execution_options(isolation_level="REPEATABLE READ")
        self._snapshot_sessions = sessionmaker(snapshots, expire_on_commit=False)
        self._write_sessions = sessionmaker(
            self.engine.execution_options(**{WRITE_OPTION: True}), expire_on_commit=False
        )

    def session(self, *, write: bool = False) -> Session:
        """A new session; ``write`` ones take the write lock first on SQLite."""
        return (self._write_sessions if write else self._read_sessions)()

    @contextlib.contextmanager
    def unit_of_work(self, *, write: bool = True) -> Iterator[Session]:
        """A session committed with :func:`commit` on success, rolled back on error.

        Read-only units of work (``write=False``) see one snapshot of the database.
        """
        session = self.session(write=True) if write else self._snapshot_sessions()
        try:
            yield session
            commit(session)
        except BaseException:
            rollback(session)
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def commit(session: Session) -> None:
    """Commit a unit of work: flush, publish staged files, commit.

    Files are renamed into the tree only once the flush has passed every constraint, so
    the commit can succeed. If publishing fails, nothing is committed: the published files
    are withdrawn and the others discarded. If COMMIT itself fails, its outcome is unknown
    (the connection may have died after the server committed), so published files stay: a
    file without its row is invisible, and ``caldb-server fsck`` reports it.
    """
    session.flush()
    staged = storage.take_staged(session)
    try:
        for file in staged:
            file.publish()
    except BaseException:
        for file in reversed(staged):
            file.withdraw()
            file.discard()
        session.rollback()
        raise
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise


def rollback(session: Session) -> None:
    """Roll a unit of work back and delete the temporary files it staged."""
    for staged in storage.take_staged(session):
        staged.discard()
    session.rollback()
