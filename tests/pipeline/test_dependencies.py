"""The bricks are a client of the CalDB: a pipeline container has the client and the
pipeline extras, never the server nor its stack."""

import json
import subprocess
import sys

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
code = main(["run", "mxt-calibrate", sys.argv[1]])
status = json.loads((Path(sys.argv[1]).parent / "processing_status.json").read_text())
print(json.dumps({
    "code": code,
    "status": status,
    "loaded": sorted({m.split(".")[0] for m in sys.modules}),
}))
"""


def test_running_a_brick_on_a_bad_runtime_data_loads_no_server_module(tmp_path):
    # Valid JSON the schema refuses: the brick reads runtime_data.schema.json to say so.
    runtime = tmp_path / "runtime_data.json"
    runtime.write_text(json.dumps({"brick": "mxt-calibrate", "inputs": "not an object"}))
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(runtime)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["code"] == 1
    assert report["status"]["status"] == "FAILED"
    assert "is not of type 'object'" in report["status"]["messages"][-1]["text"]
    loaded = set(report["loaded"])
    assert {"pipeline_bricks", "caldbio", "caldb_selection", "caldb_common", "jsonschema"} <= loaded
    assert loaded.isdisjoint(SERVER), sorted(loaded & set(SERVER))
