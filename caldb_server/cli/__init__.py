"""The ``caldb-server`` command line: set up, run and maintain a CalDB.

Each command builds the app from the ``CALDB_*`` environment and works through the same
services and unit of work as the HTTP API (exit codes in :mod:`caldb_server.cli.common`).
"""

from caldb_server.cli import (  # noqa: F401 - registers the commands
    access,
    catalogue,
    deliver,
    demo,
    serve,
)
from caldb_server.cli.common import main

__all__ = ["main"]
