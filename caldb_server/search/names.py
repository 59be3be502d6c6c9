"""Refusing a search for a mission, instrument or codename the CalDB does not know.

quzcif tells "no such instrument" (no ``caldb.config`` line: an error) from "nothing valid
at that date" (``nfound = 0``); so does the server. A name is known when the registry
declares it (an instrument through an alias too) or when the catalogue holds datasets of
it (left by an instrument or codename since taken out of the registry). Instruments whose
registry entry lists no codenames accept any codename. An unknown name is a 404 whose
``errors`` item names the field and lists the known names (``known``).
"""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from caldb_server.catalogue.models import Dataset
from caldb_server.errors import NotFound
from caldb_server.registry import Registry
from caldb_server.search.service import SearchRequest

__all__ = ["check_known_names"]


def _in_catalogue(session: Session, mission: str, instrument: str, codename: str | None) -> bool:
    condition = [Dataset.telescop == mission, Dataset.instrume == instrument]
    if codename is not None:
        condition.append(Dataset.cal_cnam == codename)
    return bool(session.execute(select(exists().where(*condition))).scalar())


def _refuse(field: str, detail: str, known: list[str], what: str) -> NotFound:
    listed = ", ".join(known) if known else "none"
    return NotFound(
        f"{detail}; known {what}: {listed}",
        errors=[{"field": field, "reason": f"{detail}; known {what}: {listed}", "known": known}],
    )


def check_known_names(session: Session, registry: Registry, request: SearchRequest) -> None:
    """Raise :class:`NotFound` if the request names an unknown mission, instrument or codename.

    Only an unknown name costs a query: the catalogue is asked whether it holds that name.
    """
    mission, instrument = request.mission, request.query.instrument
    codename = request.query.codename
    entry = registry.missions.get(mission)
    if entry is None:
        if not _in_catalogue(session, mission, instrument, None):
            raise _refuse(
                "mission", f"unknown mission {mission}", sorted(registry.missions), "missions"
            )
        return
    if registry.expand(mission, instrument) is None:
        if not _in_catalogue(session, mission, instrument, None):
            known = sorted({*entry.instruments, *entry.aliases})
            raise _refuse(
                "instrument",
                f"unknown instrument {instrument} of {mission}",
                known,
                f"instruments of {mission}",
            )
        return
    registered = entry.instruments.get(instrument)  # None: an alias of several instruments
    if registered is None or not registered.codenames:
        return
    known_codenames = {*registered.codenames, *registered.onboard}
    if codename not in known_codenames and not _in_catalogue(
        session, mission, instrument, codename
    ):
        raise _refuse(
            "codename",
            f"unknown codename {codename} of {instrument}",
            sorted(known_codenames),
            f"codenames of {instrument}",
        )
