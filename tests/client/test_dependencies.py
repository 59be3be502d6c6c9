"""The client stays light: a pipeline container needs neither the server nor its stack."""

import json
import subprocess
import sys

HEAVY = ("caldb_server", "flask", "sqlalchemy", "astropy", "numpy", "jwt", "argon2")


def test_importing_and_running_the_client_loads_no_server_module():
    script = (
        "import json, sys, caldbio, caldbio.cli; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(json.loads(result.stdout))
    assert "caldb_selection" in loaded  # the shared pure module, part of the base install
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))
