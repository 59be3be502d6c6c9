"""``caldb-server serve``: gunicorn by default, the reloading development server with ``--dev``."""

from __future__ import annotations

import socket
import sys
from contextlib import nullcontext

import click
from werkzeug.serving import is_running_from_reloader

from caldb_common.console import report_failure
from caldb_server import create_app, devserver
from caldb_server.cli.common import main, open_services
from caldb_server.metrics.multiprocess import multiprocess_directory
from caldb_server.production import (
    DEFAULT_GRACEFUL_TIMEOUT_S,
    CaldbServer,
    default_workers,
    gunicorn_options,
)
from caldb_server.server_logs import LOG_FORMATS, dev_server_logs

__all__ = ["serve"]

EXIT_ADDRESS = 2  # a configuration error: the address cannot be listened on


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=5000,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port to listen on.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 1000),
    default=None,
    show_default="2 x CPUs + 1",
    help="gunicorn worker processes.",
)
@click.option(
    "--graceful-timeout",
    type=click.IntRange(1, 3600),
    default=DEFAULT_GRACEFUL_TIMEOUT_S,
    show_default=True,
    help="Seconds a worker has to finish its request on SIGTERM or SIGHUP.",
)
@click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    default="text",
    show_default=True,
    envvar="CALDB_LOG_FORMAT",
    show_envvar=True,
    help="Access and error logs as text lines or one JSON object per line.",
)
@click.option("--dev", is_flag=True, help="The reloading development server (werkzeug) instead.")
def serve(
    *, host: str, port: int, workers: int | None, graceful_timeout: int, log_format: str, dev: bool
) -> None:
    """Serve the CalDB with gunicorn: access log on stdout, SIGHUP reloads the workers.

    SIGTERM stops gracefully, SIGINT at once. A never-initialised instance is refused first.
    /metrics sums the counts of every worker (PROMETHEUS_MULTIPROC_DIR: the directory of
    their files; by default a temporary one, removed on exit).
    """
    if dev and workers is not None:
        raise click.UsageError("--workers is for the production server, not --dev")
    # Before any app is built: gunicorn's workers inherit the master's way of counting.
    with nullcontext() if dev else multiprocess_directory():
        with open_services() as (app, _services):
            if not is_running_from_reloader():  # its parent holds the socket
                _check_address(host, port)
            if dev:
                dev_server_logs(log_format)
                devserver.serve(app, host, port, reload=True)
                return
        options = gunicorn_options(
            host,
            port,
            workers=workers or default_workers(),
            graceful_timeout=graceful_timeout,
            log_format=log_format,
        )
        CaldbServer(options, create_app).run()


def _check_address(host: str, port: int) -> None:
    """Refuse in one line an address that cannot be listened on (in use, unknown host...)."""
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM
        )[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do
            probe.bind(address)
    except OSError as error:
        reason = error.strerror or str(error)
        sys.exit(report_failure(f"cannot listen on {host}:{port}: {reason}", EXIT_ADDRESS))
