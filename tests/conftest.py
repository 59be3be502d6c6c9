"""Shared fixtures: both database backends, a server app, tokens, real HEASARC files.

Every test that uses ``app`` runs twice: on SQLite (the embedded default) and on the
PostgreSQL named by ``CALDB_TEST_DATABASE_URL`` (skipped, with the reason, when it is not
set or not reachable; CI always sets it). The schema is made by the Alembic migrations,
once per session and backend; each test then starts from empty tables.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from caldb_server import create_app
from caldb_server.auth.tokens import issue_token
from caldb_server.db import Base, make_engine, utcnow
from caldb_server.devserver import closing_responses
from caldb_server.migrate import upgrade
from caldb_server.web import extension
from tests.helpers import heasarc_registry_document, write_registry

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
HEASARC = SHARED / "fixtures" / "heasarc"
SECRET = "test-secret-key-that-is-long-enough-for-hs256-0123456789"
PG_URL_VARIABLE = "CALDB_TEST_DATABASE_URL"
PG_UNSET = f"{PG_URL_VARIABLE} is not set (CI sets it; see .ci/run)"
PG_EXAMPLE = f"{PG_URL_VARIABLE}=postgresql://postgres@127.0.0.1:5432/caldb_test make test"


def postgresql_url() -> str:
    """The test PostgreSQL URL, or skip with the reason.

    Under pytest-xdist each worker gets a database of its own, ``<name>_<worker>``, made
    on first use: the tests empty their database freely.
    """
    url = os.environ.get(PG_URL_VARIABLE)
    if not url:
        pytest.skip(PG_UNSET)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return url if worker is None else _worker_database(url, worker)


def _worker_database(url: str, worker: str) -> str:
    shared = sa.make_url(url)
    own = shared.set(database=f"{shared.database}_{worker}")
    engine = sa.create_engine(shared.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            exists = connection.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": own.database},
            ).first()
            if exists is None:
                connection.exec_driver_sql(f'CREATE DATABASE "{own.database}"')
    except sa.exc.OperationalError as error:
        pytest.skip(f"PostgreSQL at {PG_URL_VARIABLE} is unreachable: {error.orig}")
    finally:
        engine.dispose()
    return own.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def heasarc_dir() -> Path:
    """The real HEASARC fixture files (skip when ../shared is absent)."""
    if not HEASARC.is_dir():
        pytest.skip(f"HEASARC fixtures not found at {HEASARC} (../shared is absent)")
    return HEASARC


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """A migrated database per backend: how to reach it and how to empty it."""
    if request.param == "sqlite":
        template = tmp_path_factory.mktemp("sqlite") / "template.sqlite"
        engine = make_engine(f"sqlite:///{template}")
        upgrade(engine)
        engine.dispose()
        yield {"name": "sqlite", "template": template}
        return
    url = postgresql_url()
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA public CASCADE")
            connection.exec_driver_sql("CREATE SCHEMA public")
    except sa.exc.OperationalError as error:
        engine.dispose()
        pytest.skip(f"PostgreSQL at {PG_URL_VARIABLE} is unreachable: {error.orig}")
    upgrade(engine)
    yield {"name": "postgresql", "url": url, "engine": engine}
    engine.dispose()


def fresh_database(backend: dict[str, Any], directory: Path) -> str:
    """Empty the migrated database of ``backend`` (SQLite: a copy in ``directory``)."""
    if backend["name"] == "sqlite":
        path = directory / "caldb.sqlite"
        shutil.copyfile(backend["template"], path)
        return f"sqlite:///{path}"
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with backend["engine"].begin() as connection:
        connection.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    return backend["url"]


def app_settings(database_url: str, directory: Path, registry: Path | None) -> dict[str, Any]:
    """Settings of a test app whose tree and instance live in ``directory``."""
    config: dict[str, Any] = {
        "DATABASE_URL": database_url,
        "ROOT": directory / "tree",
        "INSTANCE_PATH": directory / "instance",
        "SECRET_KEY": SECRET,
        "TESTING": True,
    }
    if registry is not None:
        config["REGISTRY"] = registry
    return config


@pytest.fixture
def database_url(backend: dict[str, Any], tmp_path: Path) -> str:
    """An empty, migrated database for one test."""
    return fresh_database(backend, tmp_path)


@pytest.fixture(scope="session")
def heasarc_registry(heasarc_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry with SVOM and the missions of HEASARC's own caldb.config and aliases."""
    document = heasarc_registry_document(
        heasarc_dir / "config" / "caldb.config", heasarc_dir / "config" / "alias_config.fits"
    )
    return write_registry(document, tmp_path_factory.mktemp("registry") / "registry.yaml")


@pytest.fixture
def registry_path(request: pytest.FixtureRequest) -> Path | None:
    """The registry the app loads: HEASARC's missions when the fixtures are there."""
    if HEASARC.is_dir():
        return request.getfixturevalue("heasarc_registry")
    return None


@pytest.fixture
def app_config(database_url: str, tmp_path: Path, registry_path: Path | None) -> dict[str, Any]:
    """Settings of the test app (tests may change them before using ``app``)."""
    return app_settings(database_url, tmp_path, registry_path)


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    """The CalDB server on the test database."""
    application = create_app(app_config)
    yield application
    extension(application).database.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A Flask test client."""
    return app.test_client()


@pytest.fixture
def make_token() -> Callable[..., str]:
    """Sign a token for the test app: ``make_token("uploader", subject="alice")``."""

    def make(*roles: str, subject: str = "alice", lifetime: timedelta = timedelta(hours=1)) -> str:
        return issue_token(
            SECRET,
            subject=subject,
            roles=roles or ("reader",),
            issuer="svom-caldb",
            now=utcnow(),
            lifetime=lifetime,
        ).token

    return make


@pytest.fixture
def uploader(make_token: Callable[..., str]) -> dict[str, str]:
    """Authorization headers of an uploader."""
    return {"Authorization": f"Bearer {make_token('uploader')}"}


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The app served over real HTTP (threaded) on a free local port; yields its base URL."""
    server = make_server("127.0.0.1", 0, closing_responses(app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


def _skip_reason(report: Any) -> str:
    """The reason of a skip report (a ``(path, line, reason)`` tuple, also under xdist)."""
    longrepr = getattr(report, "longrepr", None)
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr or "")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say so, loudly, when the PostgreSQL half of the tests did not run.

    ``make test`` without the variable passes on SQLite alone; the skips are one line each
    in ``-ra`` among many, so the summary ends with how to run them. Under pytest-xdist the
    controller gets every worker's skip reports here too.
    """
    skipped = terminalreporter.stats.get("skipped", [])
    unset = sum(1 for report in skipped if PG_UNSET in _skip_reason(report))
    if unset:
        terminalreporter.write_line(
            f"PostgreSQL tests NOT run: {unset} skipped because {PG_URL_VARIABLE} is unset; "
            f"run them with `{PG_EXAMPLE}` (.ci/run sets it)",
            yellow=True,
            bold=True,
        )
