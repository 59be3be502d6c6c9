"""A live demonstration CalDB for the documentation's command lines.

Made as a reader would make one (tests/live_demo.py): ``caldb-server init`` on a temporary
SQLite instance, ``caldb-server demo-data``, the user ``alice`` of the README's login
example, an uploader token from ``caldb-server create-token``, and ``caldb-server serve`` on a
free port (one server for the whole session).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from tests.live_demo import DemoInstance, make_demo_instance, serving

USER = "alice"  # the README's login example logs in as alice


@dataclass(frozen=True)
class DemoServer:
    """A running demonstration CalDB and what a reader of the docs would have at hand."""

    url: str
    setup: DemoInstance
    token: str  # uploader token made by create-token
    password: str  # alice's

    @property
    def instance(self) -> Path:
        return self.setup.path

    @property
    def demo_files(self) -> Path:
        return self.setup.demo_files

    @property
    def environ(self) -> dict[str, str]:
        return self.setup.environ

    @property
    def tree(self) -> Path:
        return self.setup.tree

    def run(self, program: str, *arguments: str, stdin: str | None = None) -> CompletedProcess:
        """Run one of our programs on the instance and server; fail the test if it fails."""
        client = {"CALDB_URL": self.url, "CALDB_TOKEN": self.token}
        return self.setup.run(program, *arguments, stdin=stdin, environ=client)


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    """``caldb-server serve`` on an initialised instance filled with the demonstration set."""
    setup = make_demo_instance(tmp_path_factory.mktemp("docs-caldb"))
    alice = setup.create_user(USER, "uploader")
    token = setup.run("caldb-server", "create-token", "--role", "uploader", "--sub", "docs").stdout
    with serving(setup) as url:
        yield DemoServer(url, setup, token.strip(), alice.password)
