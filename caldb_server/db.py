"""Database plumbing: declarative base, engine set-up, and the per-request unit of work.

Services receive a :class:`~sqlalchemy.orm.Session` and only ``flush()``. The transaction is
committed in exactly one place, :func:`commit`, called once per request by the app (and by
each CLI command): it flushes, publishes staged files into the tree, then commits, and
withdraws the published files if the commit fails. A request that ends in an error is
rolled back and its staged files are discarded (see :mod:`caldb_server.storage`).
"""

from __future__ import annotations

import contextlib
import os
import select
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import DateTime, Engine, MetaData, Table, create_engine, event, make_url
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from caldb_server import storage

__all__ = [
    "Base",
    "Database",
    "UTCDateTime",
    "commit",
    "create_sqlite_file",
    "make_engine",
    "sqlite_path",
    "upsert_statement",
    "utcnow",
]

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


def upsert_statement(session: Session, model: type[Base]) -> Any:
    """``INSERT`` for ``model``'s table with ``on_conflict_do_update/nothing`` (both backends).

    One atomic statement instead of read-then-write, which concurrent requests would race.
    """
    table = model.__table__
    assert isinstance(table, Table)  # every model maps one plain table
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


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite database URL; None for other databases and in-memory ones."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    if parsed.database.startswith("file:"):
        return None  # a URI: the operator chose every option, creation included
    return Path(parsed.database)


def create_sqlite_file(path: Path) -> None:
    """Create an empty SQLite database file that only its owner can read (if missing).

    It holds password hashes and token records. Made 0600 from the start, never widened
    then narrowed; SQLite gives its ``-wal``, ``-shm`` and ``-journal`` files the mode of
    the database file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _existing_sqlite_file(path: Path) -> Any:
    """A connection factory that opens ``path`` but never creates it (SQLite's ``mode=rw``).

    A server or a command pointed at a never-initialised instance must leave no empty
    database behind; only ``caldb-server init`` creates one.
    """
    uri = f"file:{quote(str(path.absolute()))}?mode=rw"

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, timeout=30, check_same_thread=False)

    return connect


def make_engine(url: str, *, create: bool = True) -> Engine:
    """Create the engine for ``url`` with the settings each backend needs.

    ``postgresql://`` means the psycopg 3 driver this project installs. A SQLite file is
    created (mode 0600) when missing if ``create``, else connecting to it fails with
    ``OperationalError`` as for an unreachable server.
    """
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        options: dict[str, Any] = {"connect_args": {"timeout": 30, "check_same_thread": False}}
        if path is not None:
            if create:
                create_sqlite_file(path)
            options = {"creator": _existing_sqlite_file(path)}
        engine = create_engine(url, **options)
        _configure_sqlite(engine)
        return engine
    # No pre-ping: it costs a round trip per request. Connections the server closed while
    # they sat in the pool are dropped at checkout instead (one poll(), no round trip); one
    # that dies during a request raises OperationalError, answered 503 (clients retry).
    engine = create_engine(
        url, pool_size=5, max_overflow=5, connect_args=_postgresql_timeouts(make_url(url).query)
    )
    _drop_connections_closed_by_the_server(engine)
    return engine


# A database that vanishes without a reset (a cut network, a frozen host) must cost a
# request seconds, answered 503, not the worker's whole timeout: bounded connects, and TCP
# keepalives that notice a silent peer. A URL's own values win.
_POSTGRESQL_TIMEOUTS = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}


def _postgresql_timeouts(query: Any) -> dict[str, int]:
    return {key: value for key, value in _POSTGRESQL_TIMEOUTS.items() if key not in query}


def _drop_connections_closed_by_the_server(engine: Engine) -> None:
    """Never hand a request a pooled PostgreSQL connection that the server has closed.

    An idle connection has nothing to read: a readable socket means the server closed it
    (restart, failover, a reset network) or sent its last FATAL message. The pool then opens
    a new connection, so a database that is back costs no failed request.
    """

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if dbapi_connection.closed:
            raise sa_exc.DisconnectionError("the pooled connection is closed")
        poller = select.poll()
        poller.register(dbapi_connection.fileno(), select.POLLIN | select.POLLPRI)
        if poller.poll(0):
            raise sa_exc.DisconnectionError("the database closed this pooled connection")


class Database:
    """One engine and its session factories; kept on the Flask app as an extension."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url, create=False)  # only 'caldb-server init' creates one
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

    @property
    def display_url(self) -> str:
        """The URL without its password, for messages."""
        return make_url(self.url).render_as_string(hide_password=True)

    def file_missing(self) -> bool:
        """Whether this is a SQLite database whose file does not exist (never initialised)."""
        path = sqlite_path(self.url)
        return path is not None and not path.exists()

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
