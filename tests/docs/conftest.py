"""A live demonstration CalDB for the documentation's command lines.

Made as a reader would make one: ``caldb-server init`` on a temporary SQLite instance,
``caldb-server demo-data``, the user ``alice`` of the README's login example, an uploader
token from ``caldb-server create-token``, and ``caldb-server serve`` on a free port (one
server for the whole module).
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from tests.server.test_processes import BIN, free_port, running

USER = "alice"  # the README's login example logs in as alice


@dataclass(frozen=True)
class DemoServer:
    """A running demonstration CalDB and what a reader of the docs would have at hand."""

    url: str
    instance: Path
    demo_files: Path  # the files demo-data generated and ingested
    token: str  # uploader token made by create-token
    password: str  # alice's
    environ: dict[str, str]  # the settings of the instance, nothing from the caller's shell

    @property
    def tree(self) -> Path:
        return self.instance / "caldb"

    def run(self, program: str, *arguments: str, stdin: str | None = None) -> CompletedProcess:
        """Run one of our programs on the instance and server; fail the test if it fails."""
        environ = self.environ | (
            {"CALDB_URL": self.url, "CALDB_TOKEN": self.token} if self.url else {}
        )
        result = subprocess.run(
            [str(BIN / program), *arguments],
            env=environ,
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        if result.returncode != 0:
            pytest.fail(f"{program} {' '.join(arguments)}: {result.stdout}{result.stderr}")
        return result


def instance_environ(instance: Path) -> dict[str, str]:
    """The caller's environment without CalDB settings, plus the instance's path."""
    ours = ("CALDB_", "CALDBIO_", "RUNTIME_DATA")
    environ = {key: value for key, value in os.environ.items() if not key.startswith(ours)}
    environ["PATH"] = f"{BIN}{os.pathsep}{environ.get('PATH', '')}"
    environ["CALDB_INSTANCE_PATH"] = str(instance)
    return environ


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    """``caldb-server serve`` on an initialised instance filled with the demonstration set."""
    directory = tmp_path_factory.mktemp("docs-caldb")
    instance = directory / "instance"
    environ = instance_environ(instance)
    password = secrets.token_urlsafe(12)
    setup = DemoServer("", instance, directory / "demo-files", "", password, environ)
    setup.run("caldb-server", "init")
    setup.run("caldb-server", "demo-data", "--keep", str(setup.demo_files))
    setup.run("caldb-server", "create-user", USER, "--role", "uploader", stdin=password + "\n")
    token = setup.run("caldb-server", "create-token", "--role", "uploader", "--sub", "docs").stdout
    port = free_port()
    command = [str(BIN / "caldb-server"), "serve", "--port", str(port)]
    with running(command, environ, port) as (_process, url):
        yield DemoServer(url, instance, setup.demo_files, token.strip(), password, environ)
