"""The console scripts of a client-only install (``pip install svom-caldb``, no extra).

Each either works or says in one line which extra to install, and exits 2. A client-only
install is simulated in a subprocess whose import system refuses the extras' packages.
"""

import configparser
import subprocess
import sys
from pathlib import Path

import pytest

from caldb_common.extras import missing_third_party, run_command

SETUP_CFG = Path(__file__).resolve().parents[2] / "setup.cfg"
EXTRAS = (
    "flask", "werkzeug", "click", "sqlalchemy", "alembic", "astropy", "numpy", "scipy",
    "matplotlib", "jwt", "argon2", "yaml", "jsonschema", "psycopg", "gunicorn",
)  # fmt: skip

# Runs ``module:function`` as its console script would, refusing the named packages.
SCRIPT = """
import importlib, sys
refused, module, function, *argv = sys.argv[1:]
REFUSED = set(refused.split(",")) - {""}

class ClientOnly:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in REFUSED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, ClientOnly())
sys.argv = [function, *argv]
getattr(importlib.import_module(module), function)()
"""


def console_scripts() -> dict[str, str]:
    config = configparser.ConfigParser()
    config.read(SETUP_CFG)
    lines = config["options.entry_points"]["console_scripts"].strip().splitlines()
    return dict(tuple(part.strip() for part in line.split("=")) for line in lines)


def run(command: str, *argv: str, refused: tuple[str, ...] = EXTRAS):
    module, _, function = console_scripts()[command].partition(":")
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, ",".join(refused), module, function, *argv],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("command", "argv", "extra"),
    [
        ("caldb-server", ["init"], "server"),
        ("pipeline-bricks", ["run", "mxt-calibrate", "runtime_data.json"], "pipeline"),
        ("mxt-simulate", ["--help"], "pipeline"),
    ],
)
def test_a_command_of_a_missing_extra_says_which_in_one_line(command, argv, extra):
    result = run(command, *argv)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {command} needs the {extra} extra (")
    assert lines[0].endswith(f"pip install 'svom-caldb[{extra}]'")


def test_listing_the_bricks_needs_no_extra():
    # The brick catalogue is light (no science module): it answers in a client-only install.
    result = run("pipeline-bricks", "list")
    assert result.returncode == 0, result.stderr
    assert "mxt-calibrate" in result.stdout


def test_the_client_works_in_a_client_only_install():
    result = run("caldbio", "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: caldbio" in result.stdout


@pytest.mark.parametrize("command", ["caldb-server", "pipeline-bricks", "mxt-simulate"])
def test_with_the_extras_installed_the_commands_work(command):
    result = run(command, "--help", refused=())
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout.lower()


def test_a_missing_module_of_our_own_or_of_the_standard_library_is_a_bug():
    with pytest.raises(ModuleNotFoundError):
        run_command("caldb_server.no_such_module:main", "caldb-server", "server")
    assert missing_third_party(ModuleNotFoundError("x", name="pipeline_bricks.gone")) is None
    assert missing_third_party(ModuleNotFoundError("x", name="tomllib")) is None
    assert missing_third_party(ModuleNotFoundError("x")) is None
    assert missing_third_party(ModuleNotFoundError("x", name="astropy.io")) == "astropy"
