"""A live demonstration CalDB, made as a reader of the README would make one.

``caldb-server init`` on a temporary SQLite instance, ``caldb-server demo-data``, users from
``caldb-server create-user``, and ``caldb-server serve`` on a free port of 127.0.0.1. Used by
the documentation tests (tests/docs) and the browser tests (tests/ui); every step is one of
our own command lines, run as a subprocess, so the server is the one a user gets.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from tests.server.test_processes import BIN, free_port, running

TIMEOUT_S = 300


@dataclass(frozen=True)
class Credentials:
    """A user of the instance and the password it was created with."""

    username: str
    password: str
    role: str


@dataclass(frozen=True)
class DemoInstance:
    """An initialised instance holding the demonstration calibration set."""

    path: Path
    demo_files: Path  # the files demo-data generated and ingested
    environ: dict[str, str]  # the settings of the instance, nothing from the caller's shell

    @property
    def tree(self) -> Path:
        return self.path / "caldb"

    def run(
        self,
        program: str,
        *arguments: str,
        stdin: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> CompletedProcess:
        """Run one of our programs on the instance; fail the test if it fails."""
        result = subprocess.run(
            [str(BIN / program), *arguments],
            env=self.environ | dict(environ or {}),
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
            timeout=TIMEOUT_S,
        )
        if result.returncode != 0:
            pytest.fail(f"{program} {' '.join(arguments)}: {result.stdout}{result.stderr}")
        return result

    def create_user(self, username: str, role: str) -> Credentials:
        """A new user with a random password (``caldb-server create-user``, password on stdin)."""
        password = secrets.token_urlsafe(12)
        self.run("caldb-server", "create-user", username, "--role", role, stdin=password + "\n")
        return Credentials(username, password, role)


def instance_environ(instance: Path) -> dict[str, str]:
    """The caller's environment without CalDB settings, plus the instance's path."""
    ours = ("CALDB_", "CALDBIO_", "RUNTIME_DATA")
    environ = {key: value for key, value in os.environ.items() if not key.startswith(ours)}
    environ["PATH"] = f"{BIN}{os.pathsep}{environ.get('PATH', '')}"
    environ["CALDB_INSTANCE_PATH"] = str(instance)
    return environ


def make_demo_instance(directory: Path) -> DemoInstance:
    """``caldb-server init`` and ``demo-data`` in ``directory`` (instance/ and demo-files/)."""
    instance = directory / "instance"
    made = DemoInstance(instance, directory / "demo-files", instance_environ(instance))
    made.run("caldb-server", "init")
    made.run("caldb-server", "demo-data", "--keep", str(made.demo_files))
    return made


@contextmanager
def serving(
    instance: DemoInstance, settings: Mapping[str, str] | None = None, log: Path | None = None
) -> Iterator[str]:
    """``caldb-server serve`` on the instance and a free port; yields its URL.

    ``settings`` are more environment variables (``{"CALDB_PUBLIC_READ": "false"}``);
    ``log``, when given, receives the server's output (its request lines and tracebacks).
    """
    port = free_port()
    command = [str(BIN / "caldb-server"), "serve", "--port", str(port), "--workers", "2"]
    environ = instance.environ | dict(settings or {})
    if log is None:
        with running(command, environ, port) as (_process, url):
            yield url
        return
    with log.open("ab") as output, running(command, environ, port, output) as (_process, url):
        yield url
