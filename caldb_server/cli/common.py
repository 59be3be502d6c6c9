"""What every ``caldb-server`` command shares: the group, the services, errors and exit codes.

Exit codes: 0 success, 1 an inconsistency (fsck) or an unexpected failure, 2 usage error,
3 input refused (validation), 4 conflict with what is stored, 5 not found, 6 database not
initialised.
"""

from __future__ import annotations

import functools
import getpass
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

import click
from flask import Flask

from caldb_server import create_app, migrate
from caldb_server.errors import CaldbError, Conflict, NotFound, ValidationFailed
from caldb_server.web import Caldb, extension

__all__ = [
    "actor_option",
    "exit_code_of",
    "handles_errors",
    "main",
    "open_services",
    "report_error",
]

P = ParamSpec("P")
R = TypeVar("R")
EXIT_CODES = {ValidationFailed: 3, Conflict: 4, NotFound: 5}
EXIT_NOT_INITIALISED = 6


def _default_actor() -> str:
    return f"cli:{getpass.getuser()}@{socket.gethostname()}"


actor_option = click.option(
    "--actor", default=_default_actor, show_default="cli:<user>@<host>", help="Who does it (audit)."
)


def report_error(error: CaldbError) -> None:
    """Print a CalDB error and each of its findings on stderr."""
    click.echo(f"error: {error.detail}", err=True)
    for item in error.errors:
        where = ", ".join(f"{k}={v}" for k, v in item.items() if k != "reason")
        click.echo(f"  - {where + ': ' if where else ''}{item['reason']}", err=True)


def exit_code_of(error: CaldbError) -> int:
    """The process exit code for a kind of error."""
    return next((code for kind, code in EXIT_CODES.items() if isinstance(error, kind)), 1)


@contextmanager
def open_services(*, require_schema: bool = True) -> Iterator[tuple[Flask, Caldb]]:
    """The app and its services; refuses to work on a database that was never migrated."""
    app = create_app()
    services = extension(app)
    try:
        if (
            require_schema
            and migrate.current_revision(services.database.engine) != migrate.head_revision()
        ):
            click.echo(
                "error: the database is not initialised or not up to date; run 'caldb-server init'",
                err=True,
            )
            sys.exit(EXIT_NOT_INITIALISED)
        yield app, services
    finally:
        services.database.dispose()


def handles_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Print a CalDB error as a sentence and exit with its code."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except CaldbError as error:
            report_error(error)
            sys.exit(exit_code_of(error))

    return wrapper


@click.group()
@click.version_option(package_name="svom-caldb")
def main() -> None:
    """Run and maintain an SVOM CalDB (settings from CALDB_* environment variables)."""
