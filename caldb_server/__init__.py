"""SVOM CalDB server: a HEASARC-compatible calibration database with a JSON API.

Production: ``caldb-server serve`` (gunicorn, see :mod:`caldb_server.production`).
"""

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "create_app"]


def __getattr__(name: str) -> Any:
    # The app (Flask, SQLAlchemy...) loads only when asked for: light modules of this
    # package, such as the demonstration data generator the simulator uses, stay light.
    if name == "create_app":
        from caldb_server.app import create_app  # noqa: PLC0415

        return create_app
    raise AttributeError(f"module 'caldb_server' has no attribute {name!r}")
