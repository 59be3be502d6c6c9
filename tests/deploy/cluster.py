"""A CalDB cluster for the deployment tests: nginx in front of ``caldb-server serve`` instances.

Real processes on loopback ports: each instance is a gunicorn tree (``caldb-server serve``)
on one PostgreSQL database made for the module and one shared tree; nginx runs the
configuration of ``deploy/nginx/caldb.conf`` rendered into a temporary directory, in the
foreground and unprivileged. Every wait is bounded by a deadline.
"""

from __future__ import annotations

import os
import pwd
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests
import sqlalchemy as sa

PROGRAM = Path(sys.executable).with_name("caldb-server")
TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "caldb.conf"
ACCEL_PREFIX = "/_caldb_files/"  # the template's internal location
START_S = 30  # an instance or nginx answers within this
STOP_S = 20  # an instance stops gracefully within this (its graceful timeout is less)
GRACEFUL_S = 10
# Short, so that nginx tries a restarted instance again soon after it is back.
FAIL_TIMEOUT_S = 2
_PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


def render_nginx_config(template: str, values: Mapping[str, str]) -> str:
    """The template with each ``${NAME}`` replaced, as ``envsubst 'list'`` does.

    nginx's own ``$variables`` (no braces) are kept. A placeholder without a value, or a
    value for no placeholder, is a KeyError: the template and its renderers must agree.
    """
    names = set(_PLACEHOLDER.findall(template))
    if names != set(values):
        raise KeyError(f"placeholders {sorted(names)} but values for {sorted(values)}")
    return _PLACEHOLDER.sub(lambda match: values[match[1]], template)


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new, uniquely named database on the server of ``server_url``; dropped after.

    Its own database, not the one of the URL: the module may run beside other tests
    (pytest-xdist) that empty theirs.
    """
    if server_url.startswith("postgresql://"):
        server_url = "postgresql+psycopg://" + server_url.removeprefix("postgresql://")
    url = sa.make_url(server_url)
    name = f"{url.database}_deploy_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        try:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            admin.dispose()


def wait_for(url: str, process: subprocess.Popen[bytes], what: str, log: Path) -> None:
    """Until ``url`` answers 200 (``process`` must stay alive meanwhile)."""
    deadline = time.monotonic() + START_S
    while True:
        if process.poll() is not None:
            raise AssertionError(f"{what} exited with {process.returncode}: {_tail(log)}")
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except requests.RequestException:  # refused, or workers still booting
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not answer {url} within {START_S} s: {_tail(log)}")
        time.sleep(0.05)


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:] if path.exists() else ""


@dataclass
class Instance:
    """One ``caldb-server serve`` with two workers; restartable with other settings."""

    name: str
    port: int
    environ: dict[str, str]
    directory: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        """``host:port``, as nginx's ``$upstream_addr`` names it."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """Its own base URL (not through nginx)."""
        return f"http://{self.address}"

    @property
    def access_log(self) -> Path:
        """gunicorn's access log (stdout), kept across restarts."""
        return self.directory / "access.log"

    @property
    def error_log(self) -> Path:
        """gunicorn's error log (stderr), kept across restarts."""
        return self.directory / "error.log"

    def running(self) -> bool:
        """Whether the command is alive."""
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Start it and wait until it answers its health check."""
        assert not self.running(), f"{self.name} is running already"
        command = [
            str(PROGRAM), "serve", "--host", "127.0.0.1", "--port", str(self.port),
            "--workers", "2", "--graceful-timeout", str(GRACEFUL_S),
        ]  # fmt: skip
        with self.access_log.open("ab") as out, self.error_log.open("ab") as err:
            self.process = subprocess.Popen(
                command, env=self.environ, stdout=out, stderr=err, start_new_session=True
            )
        wait_for(f"{self.url}/api/v1/health", self.process, self.name, self.error_log)

    def stop(self) -> None:
        """SIGTERM to gunicorn's master, as an operator does; it must exit cleanly."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=STOP_S)
        assert code == 0, f"{self.name} exited with {code}: {_tail(self.error_log)}"

    def kill(self) -> None:
        """Kill it and its workers at once (teardown)."""
        if self.running():
            assert self.process is not None
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=STOP_S)


@dataclass
class Nginx:
    """nginx in the foreground on the rendered configuration."""

    config: Path
    state: Path
    port: int
    program: str
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The base URL clients use."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def access_log(self) -> Path:
        """One line per request: status, bytes, upstream tried, whether the tree sent it."""
        return self.state / "access.log"

    def start(self) -> None:
        """Start it and wait until it answers (through an instance)."""
        error_log = self.state / "error.log"
        # Workers as this user: run by root, nginx would make them 'nobody', who cannot read
        # the tree in pytest's private temporary directory (an unprivileged nginx ignores it).
        user = pwd.getpwuid(os.geteuid()).pw_name
        command = [
            self.program, "-c", str(self.config), "-p", str(self.state), "-e", str(error_log),
            "-g", f"daemon off; user {user};",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        wait_for(f"{self.url}/api/v1/health", self.process, "nginx", error_log)

    def stop(self) -> None:
        """Stop it (teardown)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_S)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=STOP_S)

    def log_lines(self) -> list[str]:
        """The access log so far."""
        return self.access_log.read_text().splitlines() if self.access_log.exists() else []


@dataclass
class Cluster:
    """Instances A and B behind nginx, on one database and one tree."""

    instances: list[Instance]
    nginx: Nginx
    root: Path
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """Through nginx."""
        return self.nginx.url

    def ensure_running(self, **settings: str) -> None:
        """Both instances up with ``settings`` (restarted one after the other if they differ)."""
        for instance in self.instances:
            changed = {k: v for k, v in settings.items() if instance.environ.get(k) != v}
            if instance.running() and not changed:
                continue
            if instance.running():
                instance.stop()
            instance.environ.update(settings)
            instance.start()
            self.wait_routed_to(instance)

    def wait_routed_to(self, instance: Instance) -> None:
        """Until nginx sends requests to ``instance`` again (its failure window is over)."""
        seen = len(self.nginx.log_lines())
        answered = f"upstream={instance.address} upstream_status=200 "
        deadline = time.monotonic() + START_S
        while True:
            requests.get(f"{self.url}/api/v1/health", timeout=10).raise_for_status()
            if any(answered in line for line in self.nginx.log_lines()[seen:]):
                return
            assert time.monotonic() < deadline, f"nginx still avoids {instance.name}"
            time.sleep(0.05)

    def shutdown(self) -> None:
        """Stop everything (teardown)."""
        self.nginx.stop()
        for instance in self.instances:
            instance.kill()
