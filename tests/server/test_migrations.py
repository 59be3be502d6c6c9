"""The schema is made only by migrations, and the models agree with them."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from caldb_server.db import Base, make_engine
from caldb_server.migrate import current_revision, downgrade, head_revision, upgrade


def test_models_match_the_migrations(database_url):
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_downgrade_and_upgrade_round_trip(database_url):
    engine = make_engine(database_url)
    try:
        downgrade(engine, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        assert current_revision(engine) is None
        upgrade(engine)
        assert {t.name for t in Base.metadata.sorted_tables} <= set(
            inspect(engine).get_table_names()
        )
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()
