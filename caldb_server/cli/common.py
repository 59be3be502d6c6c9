"""What every ``caldb-server`` command shares: the group, the services, errors and exit codes.

Exit codes: 0 success, 1 an inconsistency (fsck) or an unexpected failure, 2 usage or
configuration error, 3 input refused (validation), 4 conflict with what is stored, 5 not
found, 6 instance not initialised (run ``caldb-server init``), 7 database unavailable
(unreachable, or busy past its timeout: try again later).

Every refusal is one or a few lines on stderr, never a traceback, and leaves the instance as
it was: only ``init`` creates the database, the tree and the secret key.
"""

from __future__ import annotations

import functools
import getpass
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, ParamSpec, TypeVar

import click
from flask import Flask
from sqlalchemy.exc import OperationalError

from caldb_common.console import exit_code_for, report_failure
from caldb_server import create_app, migrate
from caldb_server.config import ConfigError, MissingSecret, load_settings
from caldb_server.db import create_sqlite_file, sqlite_path
from caldb_server.errors import CaldbError, Conflict, NotFound, ServiceUnavailable, ValidationFailed
from caldb_server.registry import RegistryError
from caldb_server.web import Caldb, extension

__all__ = [
    "EXIT_NOT_INITIALISED",
    "EXIT_UNAVAILABLE",
    "actor_option",
    "exit_code_of",
    "handles_errors",
    "main",
    "open_services",
    "report_error",
]

P = ParamSpec("P")
R = TypeVar("R")
EXIT_CONFIGURATION = 2
EXIT_NOT_INITIALISED = 6
EXIT_UNAVAILABLE = 7
EXIT_CODES = {ValidationFailed: 3, Conflict: 4, NotFound: 5, ServiceUnavailable: EXIT_UNAVAILABLE}
_DATABASE_KEY = "caldb.database"  # the database a command works on, for error messages


def _default_actor() -> str:
    return f"cli:{getpass.getuser()}@{socket.gethostname()}"


actor_option = click.option(
    "--actor", default=_default_actor, show_default="cli:<user>@<host>", help="Who does it (audit)."
)


def report_error(error: CaldbError) -> None:
    """Print a CalDB error and each of its findings on stderr."""
    report_failure(error.detail, exit_code_of(error))
    for item in error.errors:
        where = ", ".join(f"{k}={v}" for k, v in item.items() if k != "reason")
        click.echo(f"  - {where + ': ' if where else ''}{item['reason']}", err=True)


def exit_code_of(error: CaldbError) -> int:
    """The process exit code for a kind of error."""
    return exit_code_for(error, EXIT_CODES)


def _refuse_uninitialised() -> NoReturn:
    sys.exit(
        report_failure(
            "the database is not initialised or not up to date; run 'caldb-server init'",
            EXIT_NOT_INITIALISED,
        )
    )


@contextmanager
def open_services(*, initialise: bool = False) -> Iterator[tuple[Flask, Caldb]]:
    """The app and its services; refuses to work on a database that was never migrated.

    Nothing is created on the way (a refused command leaves the instance as it was), except
    with ``initialise`` (``caldb-server init``): the secret key and the SQLite file, both
    readable by their owner only.
    """
    if initialise:
        settings = load_settings(create_secret=True)
        if (path := sqlite_path(settings.database_url)) is not None:
            create_sqlite_file(path)
    app = create_app()
    services = extension(app)
    context = click.get_current_context(silent=True)
    if context is not None:
        context.meta[_DATABASE_KEY] = services.database.display_url
    try:
        if not initialise and (
            services.database.file_missing()  # checked first: connecting would make one
            or migrate.current_revision(services.database.engine) != migrate.head_revision()
        ):
            _refuse_uninitialised()
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


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0].strip() if lines else type(error).__name__


class _Commands(click.Group):
    """The command group: turns the failures every command shares into a line and a code."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; a missing secret, a bad setting or a lost database exit cleanly."""
        try:
            return super().invoke(ctx)
        except MissingSecret as error:
            sys.exit(report_failure(error, EXIT_NOT_INITIALISED))
        except (ConfigError, RegistryError) as error:
            sys.exit(report_failure(_first_line(error), EXIT_CONFIGURATION))
        except OperationalError as error:
            where = ctx.meta.get(_DATABASE_KEY)
            database = f"the database {where}" if where else "the database"
            reason = _first_line(error.orig if error.orig is not None else error)
            sys.exit(report_failure(f"{database} is unavailable: {reason}", EXIT_UNAVAILABLE))
        except CaldbError as error:
            report_error(error)
            sys.exit(exit_code_of(error))


@click.group(cls=_Commands)
@click.version_option(package_name="svom-caldb")
def main() -> None:
    """Run and maintain an SVOM CalDB (settings from CALDB_* environment variables)."""
