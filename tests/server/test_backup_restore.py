"""Backup and restore as docs/operations.md describes them, on PostgreSQL.

A catalogue made with our own commands (``caldb-server init``, ``caldb-server ingest`` of
real calibration files) is backed up with ``pg_dump`` and a copy of its tree, restored with
``pg_restore`` into a new database and the copy into a new directory; then ``caldb-server
init`` and ``caldb-server fsck`` run on the restored pair, and a search answers as it did
before. Skipped, with the reason, without ``CALDB_TEST_DATABASE_URL``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from caldb_server import create_app
from caldb_server.web import extension
from tests.conftest import SECRET, postgresql_url
from tests.helpers import MXT_GAIN, calfile_bytes
from tests.live_demo import instance_environ
from tests.server.test_processes import BIN

pytestmark = [pytest.mark.postgresql, pytest.mark.slow]

TIMEOUT_S = 300
SEARCH = "/api/v1/search?instrument=MXT&codename=GAIN&date=2025-07-01"
VALIDITY_STARTS = ("2024-06-22", "2025-03-01")  # two epochs: the search picks the newer


def _libpq_url(url: sa.URL) -> str:
    """The URL as pg_dump and pg_restore take it (no SQLAlchemy driver name)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
def databases() -> Iterator[tuple[sa.URL, sa.URL]]:
    """Two empty databases of our own beside the test one: the original and the restored."""
    base = sa.make_url(postgresql_url())
    original = base.set(database=f"{base.database}_backup_original")
    restored = base.set(database=f"{base.database}_backup_restored")
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")

    def recreate() -> None:
        with admin.connect() as connection:
            for url in (original, restored):
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{url.database}"')
                connection.exec_driver_sql(f'CREATE DATABASE "{url.database}"')

    try:
        recreate()
        yield original, restored
    finally:
        with admin.connect() as connection:
            for url in (original, restored):
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{url.database}" (FORCE)')
        admin.dispose()


def _environ(url: sa.URL, directory: Path) -> dict[str, str]:
    """The settings of an instance in ``directory`` on the database ``url``."""
    return instance_environ(directory / "instance") | {
        "CALDB_DATABASE_URL": url.render_as_string(hide_password=False),
        "CALDB_ROOT": str(directory / "tree"),
        "CALDB_SECRET_KEY": SECRET,
    }


def _run(*command: str, environ: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(
        command, env=environ, capture_output=True, text=True, check=False, timeout=TIMEOUT_S
    )
    assert result.returncode == 0, f"{' '.join(command)}: {result.stdout}{result.stderr}"
    return result


def _fsck(environ: dict[str, str]) -> tuple[int, dict]:
    result = subprocess.run(
        [str(BIN / "caldb-server"), "fsck", "--json"],
        env=environ,
        capture_output=True,
        text=True,
        check=False,
        timeout=TIMEOUT_S,
    )
    return result.returncode, json.loads(result.stdout)


def _search(url: sa.URL, directory: Path) -> dict:
    """The API's answer to one search, through the app on that database and tree."""
    app = create_app(
        {
            "DATABASE_URL": url.render_as_string(hide_password=False),
            "ROOT": directory / "tree",
            "INSTANCE_PATH": directory / "instance",
            "SECRET_KEY": SECRET,
            "TESTING": True,
        }
    )
    try:
        response = app.test_client().get(SEARCH)
    finally:
        extension(app).database.dispose()
    assert response.status_code == 200, response.get_data(as_text=True)
    answer = response.get_json()
    del answer["answered_at"]  # when, not what
    return answer


@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump is not installed")
def test_a_restored_dump_and_tree_pass_fsck_and_answer_the_same(
    databases: tuple[sa.URL, sa.URL], tmp_path: Path
) -> None:
    original_url, restored_url = databases
    original = tmp_path / "original"
    original_env = _environ(original_url, original)
    caldb_server = str(BIN / "caldb-server")
    _run(caldb_server, "init", environ=original_env)
    files = []
    for day in VALIDITY_STARTS:
        path = tmp_path / f"mxt_gain_{day.replace('-', '')}v001.fits"
        path.write_bytes(calfile_bytes(MXT_GAIN | {"CVSD0001": day}))
        files.append(str(path))
    _run(caldb_server, "ingest", *files, environ=original_env)
    before = _search(original_url, original)
    assert before["results"], before  # the search finds something to compare

    # The backup: the database first, then the tree (docs/operations.md).
    dump = tmp_path / "backup" / "caldb.dump"
    dump.parent.mkdir()
    _run("pg_dump", "--format=custom", f"--file={dump}", _libpq_url(original_url))
    shutil.copytree(original / "tree", tmp_path / "backup" / "tree")

    # The restore: a new database and a new directory, nothing shared with the original.
    restored = tmp_path / "restored"
    _run("pg_restore", "--no-owner", f"--dbname={_libpq_url(restored_url)}", str(dump))
    shutil.copytree(tmp_path / "backup" / "tree", restored / "tree")
    restored_env = _environ(restored_url, restored)
    _run(caldb_server, "init", environ=restored_env)

    code, report = _fsck(restored_env)
    assert (code, report["consistent"], report["findings"]) == (0, True, []), report
    assert report["files_checked"] == len(VALIDITY_STARTS)
    assert _search(restored_url, restored) == before

    # fsck does check the restored pair: a file lost from its tree is an error.
    (lost,) = list((restored / "tree" / "data").rglob("*20250301v001.fits"))
    lost.unlink()
    code, report = _fsck(restored_env)
    assert (code, report["consistent"]) == (1, False)
    assert [finding["kind"] for finding in report["findings"]] == ["missing"]
