"""Where the project's data directories are: ``schemas/`` and ``migrations/``.

They sit at the repository root (one source of truth for the server, the client, the
pipeline bricks and the documentation). An editable install finds them there; a regular
install finds the copies that ``setup.cfg`` installs under ``<prefix>/share/svom-caldb``.

It lives in the neutral package of the base install so that the server, the client and
the bricks (a client of the CalDB) read the same schemas without importing one another.
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["project_dir", "schema_path"]

_REPOSITORY = Path(__file__).resolve().parents[1]
_INSTALLED = Path(sys.prefix) / "share" / "svom-caldb"


def project_dir(name: str) -> Path:
    """The ``schemas`` or ``migrations`` directory."""
    for base in (_REPOSITORY, _INSTALLED):
        if (base / name).is_dir():
            return base / name
    raise FileNotFoundError(f"{name}/ not found next to the package nor in {_INSTALLED}")


def schema_path(name: str) -> Path:
    """Path of a file in ``schemas/``."""
    return project_dir("schemas") / name
