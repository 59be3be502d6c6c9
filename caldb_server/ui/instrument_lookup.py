"""Which instrument and codename a page URL names; an unknown name lists the known ones.

``/instruments/<instrument>`` takes the instrument in any case, or an alias of a single
instrument (``ECLAIRS`` is ``ECL``); the mission is the first registered one that has it,
else the one whose datasets the catalogue holds, unless ``?mission=`` says which. Names are
looked up in the registry first, so a registered instrument costs no query; the catalogue is
asked only for names the registry does not know (another mission's imported index).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from caldb_server.catalogue.models import Dataset
from caldb_server.errors import NotFound
from caldb_server.instruments.service import describe_instruments
from caldb_server.registry import Registry

__all__ = [
    "InstrumentEntry",
    "UnknownName",
    "codename_path",
    "find_instrument",
    "instrument_path",
    "unknown_codename",
]


@dataclass(frozen=True)
class InstrumentEntry:
    """An instrument a page shows: its mission, registered codenames and description."""

    mission: str
    name: str
    description: str = ""
    codenames: Mapping[str, str] = field(default_factory=dict)  # calibration: description
    onboard: Mapping[str, str] = field(default_factory=dict)  # onboard products
    registered: bool = True
    default_mission: bool = True  # reached without ?mission=

    @property
    def path(self) -> str:
        """The page of this instrument."""
        return instrument_path(self.mission, self.name, default=self.default_mission)

    def describe(self, codename: str) -> str:
        """The registry's description of a codename ('' when it does not list it)."""
        return self.codenames.get(codename) or self.onboard.get(codename, "")


class UnknownName(NotFound):
    """A mission, instrument or codename the CalDB does not know; ``known`` links the others."""

    def __init__(self, detail: str, what: str, known: list[tuple[str, str]]) -> None:
        names = ", ".join(name for name, _ in known) or "none"
        super().__init__(f"{detail}; known {what}: {names}.")
        self.what = what
        self.known = known  # (name, page path)


def _mission_query(mission: str, default: bool) -> str:
    return "" if default else "?" + urlencode({"mission": mission})


def instrument_path(mission: str, instrument: str, *, default: bool = True) -> str:
    """The page of an instrument (``?mission=`` only when the URL alone would not find it)."""
    return f"/instruments/{quote(instrument, safe='')}{_mission_query(mission, default)}"


def codename_path(entry: InstrumentEntry, codename: str) -> str:
    """The page of one codename of ``entry``, its name upper-case."""
    base = f"/instruments/{quote(entry.name, safe='')}/{quote(codename.upper(), safe='')}"
    return base + _mission_query(entry.mission, entry.default_mission)


def find_instrument(
    session: Session, registry: Registry, name: str, mission: str | None = None
) -> InstrumentEntry:
    """The instrument ``name`` (any case, or an alias) of ``mission`` or of the first that has it.

    Raises
    ------
    UnknownName
        Listing the known instruments of the mission (or the known missions).
    """
    wanted, scope = name.upper(), mission.upper() if mission is not None else None
    default = _default_mission(registry)
    for candidate in [scope] if scope is not None else list(registry.missions):
        targets = registry.expand(candidate, wanted)
        if targets is not None and len(targets) == 1:
            instrument = registry.registered(candidate, targets[0])
            return InstrumentEntry(
                candidate,
                instrument.name,
                instrument.description,
                dict(instrument.codenames),
                dict(instrument.onboard),
                default_mission=scope is None or scope == default,
            )
    in_catalogue = select(Dataset.telescop).where(Dataset.instrume == wanted)
    if scope is not None:
        in_catalogue = in_catalogue.where(Dataset.telescop == scope)
    found = session.scalars(in_catalogue.order_by(Dataset.telescop).limit(1)).first()
    if found is not None:
        return InstrumentEntry(found, wanted, registered=False, default_mission=scope is None)
    raise _unknown_instrument(session, registry, wanted, scope or default)


def _default_mission(registry: Registry) -> str:
    """The mission reached when a URL names none: the first registered one."""
    return next(iter(registry.missions), "")


def _unknown_instrument(
    session: Session, registry: Registry, name: str, mission: str
) -> UnknownName:
    """The error naming the instruments of ``mission`` (the same list as the API's)."""
    described = describe_instruments(session, registry)["missions"]
    missions = {entry["name"]: entry for entry in described}
    default = _default_mission(registry)
    if mission not in missions:
        return UnknownName(f"unknown mission {mission}", "missions", _mission_links(missions))
    known = [
        (i["name"], instrument_path(mission, i["name"], default=mission == default))
        for i in missions[mission]["instruments"]
    ]
    return UnknownName(
        f"unknown instrument {name} of {mission}", f"instruments of {mission}", known
    )


def _mission_links(missions: Mapping[str, dict[str, object]]) -> list[tuple[str, str]]:
    """Each known mission, linked to the page of its first instrument."""
    links = []
    for mission, entry in sorted(missions.items()):
        instruments = entry["instruments"]
        first = instruments[0]["name"] if isinstance(instruments, list) and instruments else None
        if first is not None:
            links.append((mission, instrument_path(mission, first, default=False)))
    return links


def unknown_codename(session: Session, entry: InstrumentEntry, codename: str) -> UnknownName:
    """The error naming every codename of ``entry``: registered or in the catalogue."""
    held = session.scalars(
        select(Dataset.cal_cnam)
        .where(Dataset.telescop == entry.mission, Dataset.instrume == entry.name)
        .distinct()
    ).all()
    names = sorted({*entry.codenames, *entry.onboard, *held})
    return UnknownName(
        f"unknown codename {codename.upper()} of {entry.name}",
        f"codenames of {entry.name}",
        [(name, codename_path(entry, name)) for name in names],
    )
