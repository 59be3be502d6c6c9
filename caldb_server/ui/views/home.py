"""The home page ``/``: the mission, its CALDBVER and latest release, instruments, activity."""

from __future__ import annotations

from flask import Response

from caldb_server.auth.access import readable
from caldb_server.instruments.service import describe_instruments
from caldb_server.ui.activity import mission_state, recent_activity
from caldb_server.ui.blueprint import blueprint
from caldb_server.ui.pages import page
from caldb_server.web import db_session, extension

__all__ = ["home"]


@blueprint.get("/")
@readable
def home() -> Response:
    """What is in the CalDB, and what changed lately."""
    session = db_session()
    described = describe_instruments(session, extension().registry)
    missions = [
        (mission, mission_state(session, mission["name"])) for mission in described["missions"]
    ]
    return page("home.html", missions=missions, activity=recent_activity(session))
