"""Alembic environment: migrations run on the server's own engine set-up.

The connection comes from ``config.attributes["connection"]`` when the server runs the
migrations (``caldb-server init``, tests), otherwise from ``CALDB_DATABASE_URL``.
"""

from alembic import context

import caldb_server.models  # noqa: F401 - registers every table on Base.metadata
from caldb_server.config import load_settings
from caldb_server.db import Base, make_engine

config = context.config
target_metadata = Base.metadata


def _database_url() -> str:
    # Migrating from the command line initialises the instance, like 'caldb-server init'.
    url = config.get_main_option("sqlalchemy.url")
    return url or load_settings(create_secret=True).database_url


def _configure_and_run(connection) -> None:
    if connection.dialect.name == "postgresql":
        # Never wait forever behind a long transaction of a running server.
        connection.exec_driver_sql("SET lock_timeout = '30s'")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        transaction_per_migration=True,
        compare_server_default=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(
        url=_database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    engine = make_engine(_database_url())
    try:
        with engine.connect() as connection:
            _configure_and_run(connection)
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
