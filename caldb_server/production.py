"""The production server of ``caldb-server serve``: gunicorn, run as one process tree.

gunicorn's documented custom-application API (``BaseApplication``) runs in the process of the
command: its master binds the socket and supervises sync workers, and the operator signals
it directly. Each worker builds its own app (``create_app()``) after the fork, never the
master, so no database connection or pool is shared between processes.

Signals (gunicorn's own): SIGHUP starts new workers, then stops the old ones gracefully; the
socket stays open, so no request is refused meanwhile, and each new worker re-reads the
files its app is built from (the registry, the instance secret). New code or a changed
environment needs a restart. SIGTERM stops gracefully (a worker finishes its request, within
the graceful timeout); SIGINT and SIGQUIT stop at once.

The workers count their metrics in files of one directory (``PROMETHEUS_MULTIPROC_DIR``,
set by ``caldb-server serve`` before the master builds its app), which ``/metrics`` sums.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from gunicorn.app.base import BaseApplication

from caldb_server.metrics.multiprocess import worker_exited
from caldb_server.server_logs import ACCESS_FORMAT, JsonServerLogs, TextServerLogs

__all__ = ["DEFAULT_GRACEFUL_TIMEOUT_S", "CaldbServer", "default_workers", "gunicorn_options"]

# Long enough for a request in flight (an upload) to finish on a restart.
DEFAULT_GRACEFUL_TIMEOUT_S = 30
# Threads per worker: with gthread workers a connection stays open between requests (clients
# with a session, nginx's upstream keep-alive), and a second thread runs while the first
# waits for the database; more would only take turns on the GIL.
WORKER_THREADS = 2
# Idle keep-alive connections are closed after this; nginx's upstream keepalive_timeout
# (deploy/nginx/caldb.conf) is shorter, so nginx never reuses one gunicorn is closing.
KEEPALIVE_S = 5


def default_workers() -> int:
    """The number of workers gunicorn advises, 2 x CPUs + 1 (those this process may use)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return 2 * cpus + 1


def bind_address(host: str, port: int) -> str:
    """The ``bind`` setting for a host and port (an IPv6 address goes in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def gunicorn_options(
    host: str, port: int, *, workers: int, graceful_timeout: int, log_format: str
) -> dict[str, Any]:
    """The gunicorn settings of ``caldb-server serve``."""
    return {
        "bind": [bind_address(host, port)],
        "workers": workers,
        "worker_class": "gthread",
        "threads": WORKER_THREADS,
        "keepalive": KEEPALIVE_S,
        "graceful_timeout": graceful_timeout,
        "preload_app": False,  # create_app() in each worker, after the fork
        "proc_name": "caldb-server",
        "accesslog": "-",  # stdout
        "errorlog": "-",  # stderr
        "access_log_format": ACCESS_FORMAT,
        "logger_class": JsonServerLogs if log_format == "json" else TextServerLogs,
        # gunicorn >= 25.1 otherwise opens a control socket at one path per user account,
        # on which two servers of that account collide; signals are the control here.
        "control_socket_disable": True,
        "child_exit": _child_exit,
    }


def _child_exit(_arbiter: Any, worker: Any) -> None:
    """Called by gunicorn, in the master, when a worker has exited (its child_exit hook)."""
    worker_exited(worker.pid)  # the metrics of /metrics (caldb_server.metrics.multiprocess)


class CaldbServer(BaseApplication):
    """gunicorn running ``app_factory()`` in each worker, with ``options`` as its settings."""

    def __init__(self, options: Mapping[str, Any], app_factory: Callable[[], Any]) -> None:
        self.options = dict(options)
        self.app_factory = app_factory
        super().__init__(prog="caldb-server serve")

    def load_config(self) -> None:
        """Apply the options (also on SIGHUP); a setting this gunicorn lacks is skipped."""
        for key, value in self.options.items():
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self) -> Any:
        """The WSGI app of one worker (called in the worker, after the fork)."""
        return self.app_factory()
