"""The interface's stylesheet and scripts, at ``/ui/static/<file>``."""

from __future__ import annotations

from flask import Response, send_from_directory

from caldb_server.auth.access import public
from caldb_server.ui.blueprint import STATIC_DIR, blueprint

__all__ = ["static"]


@blueprint.get("/ui/static/<path:filename>")
@public
def static(filename: str) -> Response:
    """A file of ``static/`` (send_from_directory refuses any path that leaves it: 404)."""
    response = send_from_directory(STATIC_DIR, filename, max_age=3600)
    return response
