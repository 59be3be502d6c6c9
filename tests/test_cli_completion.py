"""Shell completion of the console scripts, as the README tells users to turn it on.

``caldbio``, ``pipeline-bricks`` and ``mxt-simulate`` answer argcomplete's protocol (the
shell runs the program with ``_ARGCOMPLETE`` and the line in ``COMP_LINE``), also through the
bash function ``register-python-argcomplete`` writes; ``caldb-server`` answers click's
(``_CALDB_SERVER_COMPLETE``). A command run as usual does not even import argcomplete.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def completions(line: str, tmp_path: Path) -> list[str]:
    """The candidates the installed program offers for the end of ``line``."""
    answer = tmp_path / "completions"
    program = line.split(maxsplit=1)[0]
    environment = os.environ | {
        "_ARGCOMPLETE": "1",
        "_ARGCOMPLETE_SHELL": "bash",
        "COMP_LINE": line,
        "COMP_POINT": str(len(line)),
        "_ARGCOMPLETE_STDOUT_FILENAME": str(answer),
    }
    result = subprocess.run(
        [BIN / program], env=environment, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return [word.strip() for word in answer.read_text().split("\v") if word.strip()]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("caldbio ", {"search", "get", "quzcif", "sync", "info", "--json", "--url"}),
        ("caldbio up", {"upload", "upload-onboard"}),
        ("caldbio search MXT GAIN --d", {"--date", "--detector", "--download"}),
        ("caldbio sync MXT --", {"--mission", "--no-download", "--offline"}),
        ("pipeline-bricks ", {"run", "list", "simulate"}),
        ("pipeline-bricks list --", {"--help", "--parameters"}),
        ("pipeline-bricks simulate --cloud", {"--cloud-model", "--cloud-sigma-um"}),
        ("mxt-simulate --cloud-model ", {"exponential", "fixed"}),
    ],
)
def test_argparse_commands_complete_sub_commands_and_options(line, expected, tmp_path):
    offered = completions(line, tmp_path)
    assert expected <= set(offered), offered
    if line.endswith(("up", "--d", "--cloud")):  # a prefix: only words that start with it
        assert all(word.startswith(line.split()[-1]) for word in offered), offered


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_the_registered_bash_function_completes_caldbio_and_pipeline_bricks():
    script = """
    eval "$(register-python-argcomplete caldbio pipeline-bricks)"
    for line in "caldbio sea" "pipeline-bricks l"; do
        read -r -a COMP_WORDS <<< "$line"
        COMP_CWORD=1 COMP_LINE="$line" COMP_POINT=${#line}
        _python_argcomplete "${COMP_WORDS[0]}"
        echo "${COMPREPLY[*]}"
    done
    """
    environment = os.environ | {"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(
        ["bash", "-c", script],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert [line.strip() for line in result.stdout.splitlines()] == ["search", "list"]


def test_caldb_server_completes_with_click(tmp_path):
    environment = os.environ | {
        "_CALDB_SERVER_COMPLETE": "bash_complete",
        "COMP_WORDS": "caldb-server i",
        "COMP_CWORD": "1",
    }
    result = subprocess.run(
        [BIN / "caldb-server"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["plain,import-cif", "plain,ingest", "plain,init"]


SCRIPT = """
import contextlib, io, json, sys
from {module} import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        main({argv!r})
    except SystemExit:
        pass
print(json.dumps("argcomplete" in sys.modules))
"""


@pytest.mark.parametrize(
    ("module", "argv"),
    [("pipeline_bricks.cli", ["list"]), ("caldbio.cli", ["--help"])],
)
def test_a_command_run_as_usual_does_not_import_argcomplete(module, argv):
    environment = {k: v for k, v in os.environ.items() if k != "_ARGCOMPLETE"}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(module=module, argv=argv)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(result.stdout.splitlines()[-1]) is False
