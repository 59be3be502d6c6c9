"""``make test`` without CALDB_TEST_DATABASE_URL says the PostgreSQL tests did not run."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PG_EXAMPLE, PG_URL_VARIABLE

ROOT = Path(__file__).resolve().parents[2]
ONE_TEST = "tests/server/test_errors_and_contract.py::test_openapi_is_served_as_json"


@pytest.mark.slow
@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_the_summary_says_how_to_run_the_skipped_postgresql_tests(workers):
    env = {k: v for k, v in os.environ.items() if k != PG_URL_VARIABLE}
    env.pop("PYTEST_XDIST_WORKER", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *workers, ONE_TEST],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    notices = [line for line in result.stdout.splitlines() if "PostgreSQL tests NOT run" in line]
    assert len(notices) == 1, result.stdout
    assert "1 skipped" in notices[0]
    assert PG_EXAMPLE in notices[0]
    assert ".ci/run" in notices[0]
