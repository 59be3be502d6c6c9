"""Run the documentation's command lines through bash against the live demonstration CalDB.

Each code block is a little shell session: its lines run in order, once, in a directory of
the block's own, so that a file one line writes (``curl -o``, ``simulate --out``) is there
for the next; a line that only sets shell state (``export``, ``TOKEN=$(...)``) is replayed
before each later line of its block. What the docs write for the reader's own host, token
or files is replaced through the tables of the test module (``Tables``), so that the line
reaches the test's server with real values.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.docs.commands import ROOT, CommandLine
from tests.docs.conftest import USER, DemoServer
from tests.server.test_processes import free_port

# "[--json]" in a synopsis: the optional part is run too (the brackets go).
OPTIONAL_PART = re.compile(r"\[(-[^\]]*)\]")
TIMEOUT_S = 300
STARTUP_S = 60
MATPLOTLIB_CONFIG = Path.home() / ".config" / "matplotlib"


@dataclass
class Context:
    """What one run of one line may need: fresh files, tokens, users and ports."""

    server: DemoServer
    directory: Path
    serial: Callable[[], int]  # distinct numbers for the whole session
    ports: list[int] = field(default_factory=list)

    def new_port(self) -> int:
        port = free_port()
        self.ports.append(port)
        return port

    def new_token_id(self) -> str:
        """The jti of a token made for the line to revoke."""
        made = self.server.run("caldb-server", "create-token", "--role", "reader", "--sub", "docs")
        jti = re.search(r"token id (\S+),", made.stderr)
        assert jti is not None, made.stderr
        return jti.group(1)

    def new_name(self, stem: str) -> str:
        return f"{stem}{self.serial()}"


@dataclass(frozen=True)
class Tables:
    """The explicit tables of the test module."""

    substitutions: Sequence[tuple[str, Callable[[Context], str]]]  # regex -> value
    files: Mapping[str, Callable[[Context, Path], None]]  # documented name -> maker
    variables: Callable[[DemoServer], dict[str, str]]  # the reader's shell variables
    long_running: re.Pattern[str]  # servers: started, checked, stopped
    in_repository: re.Pattern[str]  # lines the docs run from the repository's root


@dataclass(frozen=True)
class Outcome:
    """How a line ended."""

    returncode: int
    script: str
    output: str

    def __str__(self) -> str:
        return f"exit code {self.returncode} of\n{self.script}\n--- output:\n{self.output}"


class Shell:
    """Runs each command line once, its block's earlier lines first."""

    def __init__(
        self,
        server: DemoServer,
        directory: Path,
        tables: Tables,
        runnable: Callable[[CommandLine], bool],
    ) -> None:
        self.server = server
        self.directory = directory
        self.tables = tables
        self.runnable = runnable  # a line not run is not replayed before the next ones
        self.home = directory / "home"
        self.home.mkdir()
        # Every curl of the docs fails on an HTTP error, as the reader would notice one.
        (self.home / ".curlrc").write_text("fail-with-body\nshow-error\n")
        self.outcomes: dict[CommandLine, Outcome] = {}
        self.serial = itertools.count(1).__next__

    def outcome(self, line: CommandLine, block: Sequence[CommandLine]) -> Outcome:
        """Run the block up to ``line`` (once) and tell how ``line`` ended."""
        earlier = [other for other in block if other.line < line.line and self.runnable(other)]
        for position, other in enumerate([*earlier, line]):
            if other not in self.outcomes:
                self.outcomes[other] = self._run(other, earlier[:position])
        return self.outcomes[line]

    def _run(self, line: CommandLine, before: Sequence[CommandLine]) -> Outcome:
        directory = self.directory / f"{line.document.replace('/', '-')}-block{line.block}"
        directory.mkdir(exist_ok=True)
        context = Context(self.server, directory, self.serial)
        state = [self._substituted(other, context) for other in before if other.sets_state]
        script = "\n".join(["set -eo pipefail", *state, self._substituted(line, context)])
        cwd = ROOT if self.tables.in_repository.match(line.text) else directory
        if self.tables.long_running.match(line.text):
            return self._start_and_stop(line.shell, script, cwd, context.ports)
        result = subprocess.run(
            [line.shell, "-c", script],
            cwd=cwd,
            env=self._environ(),
            input=self.server.password + "\n",  # a password prompt reads it from stdin
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
            timeout=TIMEOUT_S,
        )
        return Outcome(result.returncode, script, result.stdout)

    def _substituted(self, line: CommandLine, context: Context) -> str:
        text = OPTIONAL_PART.sub(r"\1", line.text)
        for pattern, value in self.tables.substitutions:
            text = _substitute(pattern, value, context, text)
        for name, make in self.tables.files.items():
            path = context.directory / name
            if re.search(rf"(?<![\w/.-]){re.escape(name)}(?![\w.-])", text) and not path.exists():
                make(context, path)
        return text

    def _environ(self) -> dict[str, str]:
        return {
            **self.server.environ,
            "HOME": str(self.home),
            "USER": USER,  # who `caldbio login` logs in as
            "LOGNAME": USER,
            "CALDB_URL": self.server.url,
            "CALDB_TOKEN": self.server.token,
            # matplotlib's font cache where it already is (rebuilt in a new HOME: seconds)
            "MPLCONFIGDIR": os.environ.get("MPLCONFIGDIR", str(MATPLOTLIB_CONFIG)),
            **self.tables.variables(self.server),
        }

    def _start_and_stop(self, shell: str, script: str, cwd: Path, ports: list[int]) -> Outcome:
        """Start a server line, wait until it answers /api/v1/health, stop it."""
        log = self.directory / f"server-{self.serial()}.log"
        with log.open("w") as sink:
            process = subprocess.Popen(
                [shell, "-c", script],
                cwd=cwd,
                env=self._environ(),
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            healthy = ports and _wait_healthy(f"http://127.0.0.1:{ports[-1]}", process)
        finally:
            _stop(process)
        if healthy:
            return Outcome(0, script, log.read_text())
        code = process.returncode or 1
        return Outcome(code, script, "no answer on /api/v1/health\n" + log.read_text())


def _substitute(pattern: str, value: Callable[[Context], str], context: Context, text: str) -> str:
    """Each match of ``pattern`` replaced by a value of its own (a fresh file, port...)."""
    return re.sub(pattern, lambda _match: value(context), text)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGINT to the whole group (gunicorn's quick shutdown), SIGKILL if that is not enough."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def _wait_healthy(url: str, process: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + STARTUP_S
    while process.poll() is None and time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/api/v1/health", timeout=5).ok:
                return True
        except requests.RequestException:  # refused: still starting
            time.sleep(0.1)
    return False
