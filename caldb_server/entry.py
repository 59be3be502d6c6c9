"""The ``caldb-server`` console script.

It says which extra to install when the server's packages are missing (a client-only
install), instead of a ``ModuleNotFoundError``.
"""

from typing import Any

from caldb_common.extras import run_command

__all__ = ["main"]


def main() -> Any:
    """Console entry point of ``caldb-server``."""
    return run_command("caldb_server.cli:main", "caldb-server", "server")
