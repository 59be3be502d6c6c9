"""Fixtures of the MXT science tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from werkzeug.serving import make_server

from caldb_demodata import generate
from caldb_server import create_app
from caldb_server.auth.tokens import issue_token
from caldb_server.cli import main as caldb_server
from caldb_server.db import make_engine, utcnow
from caldb_server.devserver import closing_responses
from caldb_server.migrate import upgrade
from caldb_server.web import extension
from pipeline_bricks.mxt import caldata
from tests.conftest import SECRET, app_settings
from tests.pipeline.simulation import private_cache


@pytest.fixture(scope="module")
def columns() -> tuple[np.ndarray, np.ndarray]:
    """Epoch-2-like GAIN [eV/ADU] and OFFSET [ADU] of the 256 columns."""
    rng = np.random.default_rng(11)
    gains = 5.0 * (1 + 0.01 * rng.standard_normal(256)) * 1.015
    offsets = 4.0 + 1.5 * rng.standard_normal(256) + 1.5
    return gains, offsets


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demonstration calibration files (seed 2024), generated once, read-only."""
    directory = tmp_path_factory.mktemp("demo_files")
    generate(directory, seed=2024)
    return directory


@pytest.fixture(scope="session")
def demo_psf(demo: Path) -> caldata.Psf:
    """The demonstration MXT PSF."""
    return caldata.read_psf(demo / "svmxt_psf_20240622v001.fits")


@pytest.fixture(scope="session")
def demo_caldb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One CalDB (SQLite, the embedded default) holding the demonstration calibration set,
    served over real HTTP for the whole session; yields its base URL.

    The simulator and the bricks only read from it, so the tests share it.
    """
    directory = tmp_path_factory.mktemp("demo_caldb")
    template = directory / "template.sqlite"
    engine = make_engine(f"sqlite:///{template}")
    upgrade(engine)
    engine.dispose()
    config = app_settings(f"sqlite:///{template}", directory, None)
    env = {f"CALDB_{k}": str(v) for k, v in config.items() if k != "TESTING"}
    result = CliRunner().invoke(caldb_server, ["demo-data"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    application = create_app(config)
    server = make_server("127.0.0.1", 0, closing_responses(application), threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()
    extension(application).database.dispose()


@pytest.fixture
def caldb(app_config: dict[str, object], live_server: str) -> str:
    """The demonstration calibration set in the test's own CalDB (each backend), over HTTP."""
    env = {f"CALDB_{k}": str(v) for k, v in app_config.items() if k != "TESTING"}
    result = CliRunner().invoke(caldb_server, ["demo-data"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return live_server


@pytest.fixture(scope="module")
def caldb_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A private CaDBIO cache and no CALDB_TOKEN, for one test module (:func:`private_cache`)."""
    yield from private_cache(tmp_path_factory)


@pytest.fixture
def caldb_env(demo_caldb: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """CALDB_URL (and a CALDB_TOKEN) pointing at the demonstration CalDB, as a scheduler sets."""
    monkeypatch.setenv("CALDB_URL", demo_caldb)
    monkeypatch.setenv("CALDB_TOKEN", reader_token())
    return demo_caldb


def reader_token() -> str:
    """A reader token of the test CalDB."""
    return issue_token(
        SECRET, subject="pipeline", roles=("reader",), issuer="svom-caldb",
        now=utcnow(), lifetime=timedelta(hours=2),
    ).token  # fmt: skip
