"""The direction of every dependency between our packages, checked by import-linter.

The contracts live in ``.importlinter`` (docs/architecture.md, "Dependencies"). The first test
checks the real code; the others run the same contracts against a small package tree built in
``tmp_path`` with the same package names, once clean and once per kind of forbidden import, so
that a broken contract is known to be reported.
"""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
CONTRACTS = REPOSITORY / ".importlinter"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

# The allowed edges of docs/architecture.md, one module each: the clean tree must keep every
# contract, so that each broken case below is broken by its one added import alone.
CLEAN_TREE = {
    "caldb_common/__init__.py": "",
    "caldb_common/text.py": "import string\n",
    "caldb_selection/__init__.py": "",
    "caldb_selection/select.py": "from caldb_common import text\n",
    "caldb_demodata/__init__.py": "",
    "caldb_demodata/common.py": "import numpy\nfrom caldb_common import text\n",
    "caldb_server/__init__.py": "",
    "caldb_server/app.py": "import flask\nfrom caldb_selection import select\n",
    "caldb_server/cli/__init__.py": "",
    "caldb_server/cli/demo.py": "from caldb_demodata import common\n",
    "caldbio/__init__.py": "",
    "caldbio/client.py": "import requests\nfrom caldb_selection import select\n",
    "pipeline_bricks/__init__.py": "",
    "pipeline_bricks/runtime.py": "import scipy\nfrom caldbio import client\n",
}

# (module, the import added to it, the contract that must then be reported broken)
FORBIDDEN = [
    ("caldb_common/text.py", "import caldb_selection", "layers"),
    ("caldb_selection/select.py", "import caldbio", "layers"),
    ("caldb_server/app.py", "import pipeline_bricks", "layers"),
    ("caldbio/client.py", "from caldb_server import app", "client-never-imports-server"),
    ("pipeline_bricks/runtime.py", "import caldb_demodata", "client-never-imports-server"),
    ("caldb_server/app.py", "import caldbio", "server-never-imports-client"),
    ("caldb_demodata/common.py", "import caldb_selection", "demodata-stands-alone"),
    ("caldb_server/app.py", "import caldb_demodata", "demodata-only-for-demo-data"),
    ("caldb_selection/select.py", "import numpy", "base-install-is-light"),
    ("caldbio/client.py", "import yaml", "base-install-is-light"),
    ("caldb_server/app.py", "from tests import helpers", "nothing-imports-tests"),
]


def lint_imports(directory: Path) -> subprocess.CompletedProcess[str]:
    """Run lint-imports with the project's contracts on the packages found in ``directory``."""
    environment = {**os.environ, "COLUMNS": "300"}  # one contract per line, never wrapped
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(CONTRACTS)],
        check=False,  # the exit code is the answer
        cwd=directory,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def contract_names() -> dict[str, str]:
    config = configparser.ConfigParser()
    config.read(CONTRACTS)
    prefix = "importlinter:contract:"
    return {
        section.removeprefix(prefix): config[section]["name"]
        for section in config.sections()
        if section.startswith(prefix)
    }


def broken_contracts(output: str) -> set[str]:
    names = contract_names()
    return {key for key, name in names.items() if f"{name} BROKEN" in output}


def write_tree(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_code_keeps_every_dependency_contract():
    result = lint_imports(REPOSITORY)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(contract_names())} kept, 0 broken." in result.stdout


def test_a_tree_with_only_the_allowed_imports_keeps_every_contract(tmp_path):
    write_tree(tmp_path, CLEAN_TREE)
    result = lint_imports(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in contract_names().values():
        assert f"{name} KEPT" in result.stdout, result.stdout


@pytest.mark.parametrize(("module", "statement", "contract"), FORBIDDEN)
def test_a_forbidden_import_breaks_its_contract(tmp_path, module, statement, contract):
    write_tree(tmp_path, CLEAN_TREE)
    with (tmp_path / module).open("a") as source:
        source.write(statement + "\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert contract in broken_contracts(result.stdout), result.stdout
    importer = module.removesuffix(".py").replace("/", ".")
    assert f"{importer} -> " in result.stdout, result.stdout
