"""``GET /api/v1/instruments``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from caldb_server.auth.access import readable
from caldb_server.instruments.service import describe_instruments
from caldb_server.web import db_session, extension

__all__ = ["blueprint"]

blueprint = Blueprint("instruments", __name__)


@blueprint.get("/instruments")
@readable
def instruments_view() -> dict[str, Any]:
    """Missions, instruments, their codenames and dataset counts."""
    return describe_instruments(db_session(), extension().registry)
