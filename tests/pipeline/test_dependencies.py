"""The bricks are a client of the CalDB: a pipeline container has the client and the
pipeline extras, never the server nor its stack; a brick run as a command imports its heavy
libraries (scipy.optimize, matplotlib) only to use them."""

import json
import subprocess
import sys

import pytest

from pipeline_bricks.registry import CATALOGUE

SERVER = (
    "caldb_server",
    "caldb_demodata",
    "flask",
    "sqlalchemy",
    "alembic",
    "jwt",
    "argon2",
    "psycopg",
)

SCRIPT = """
import json, sys
from pathlib import Path
from pipeline_bricks.cli import main
code = main(["run", sys.argv[1], sys.argv[2]])
status = json.loads((Path(sys.argv[2]).parent / "processing_status.json").read_text())
print(json.dumps({"code": code, "status": status, "modules": sorted(sys.modules)}))
"""


def _run_on_bad_runtime_data(tmp_path, brick):
    """Run ``brick`` in a new Python on a runtime_data.json the schema refuses (it is loaded,
    never run); its exit code, processing_status.json and every module imported."""
    runtime = tmp_path / "runtime_data.json"
    runtime.write_text(json.dumps({"brick": brick, "inputs": "not an object"}))
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, brick, str(runtime)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(result.stdout.splitlines()[-1])


def test_running_a_brick_on_a_bad_runtime_data_loads_no_server_module(tmp_path):
    # Valid JSON the schema refuses: the brick reads runtime_data.schema.json to say so.
    report = _run_on_bad_runtime_data(tmp_path, "mxt-calibrate")
    assert report["code"] == 1
    assert report["status"]["status"] == "FAILED"
    assert "is not of type 'object'" in report["status"]["messages"][-1]["text"]
    loaded = {m.split(".")[0] for m in report["modules"]}
    assert {"pipeline_bricks", "caldbio", "caldb_selection", "caldb_common", "jsonschema"} <= loaded
    assert loaded.isdisjoint(SERVER), sorted(loaded & set(SERVER))


@pytest.mark.parametrize("brick", sorted(CATALOGUE))
def test_a_brick_imports_its_fitting_and_plotting_libraries_only_to_use_them(tmp_path, brick):
    # A command runs one brick in a new Python: loading it (its module and what that imports)
    # must not cost scipy.optimize (~0.3 s, for detect's fits) nor matplotlib (~0.4 s, for
    # the previews of mxt-products); the brick imports them where it fits or draws.
    report = _run_on_bad_runtime_data(tmp_path, brick)
    assert report["status"]["status"] == "FAILED"
    assert report["status"]["brick"] == brick
    heavy = [m for m in report["modules"] if m.startswith(("scipy.optimize", "matplotlib"))]
    assert not heavy, heavy
