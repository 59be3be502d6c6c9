"""SVOM CalDB server: a HEASARC-compatible calibration database with a JSON API.

Production: ``gunicorn -w 4 -b 0.0.0.0:8000 'caldb_server:create_app()'``.
"""

__version__ = "0.1.0"

# Imported after __version__, which the app's modules read.
from caldb_server.app import create_app

__all__ = ["__version__", "create_app"]
