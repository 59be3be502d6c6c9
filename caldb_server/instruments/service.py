"""Missions, instruments and codenames: the registry merged with what the catalogue holds.

Registered instruments are listed even when empty; instruments that only an imported
index brought in (another mission's CALDB) are listed too, marked ``registered: false``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from caldb_server.catalogue.models import ONBOARD_CLASS, CalibrationFile, Dataset
from caldb_server.catalogue.quality import GOOD
from caldb_server.registry import Registry

__all__ = ["catalogue_instruments", "describe_instruments"]

Counts = dict[tuple[str, str], dict[str, list[int]]]


def _counts(session: Session) -> tuple[Counts, Counts, dict[tuple[str, str], str]]:
    """Datasets and good datasets per (mission, instrument, codename), and index dirs.

    Counts come separately for calibration and onboard products; the index dirs are those of
    instruments holding calibration.
    """
    onboard = Dataset.cal_clas == ONBOARD_CLASS
    rows = session.execute(
        select(
            Dataset.telescop,
            Dataset.instrume,
            Dataset.cal_cnam,
            onboard,
            func.count(),
            func.sum(case((Dataset.cal_qual == GOOD, 1), else_=0)),
            func.min(CalibrationFile.index_dir),
        )
        .join(CalibrationFile, Dataset.file_id == CalibrationFile.id)
        .group_by(Dataset.telescop, Dataset.instrume, Dataset.cal_cnam, onboard)
    )
    counts: Counts = defaultdict(dict)
    onboard_counts: Counts = defaultdict(dict)
    dirs: dict[tuple[str, str], str] = {}
    for telescop, instrume, codename, is_onboard, total, good, index_dir in rows:
        (onboard_counts if is_onboard else counts)[telescop, instrume][codename] = [
            total,
            int(good or 0),
        ]
        if not is_onboard:
            dirs.setdefault((telescop, instrume), index_dir)
    return counts, onboard_counts, dirs


def catalogue_instruments(session: Session) -> list[tuple[str, str, str]]:
    """(mission, instrument, index dir) of every instrument that has calibration datasets."""
    _, _, dirs = _counts(session)
    return [(mission, instrument, index_dir) for (mission, instrument), index_dir in dirs.items()]


def _codenames(known: Mapping[str, str], counts: dict[str, list[int]]) -> list[dict[str, Any]]:
    return [
        {
            "name": codename,
            "description": known.get(codename, ""),
            "datasets": counts.get(codename, [0, 0])[0],
            "good": counts.get(codename, [0, 0])[1],
        }
        for codename in sorted(set(known) | set(counts))
    ]


def _instrument(
    name: str,
    index_dir: str,
    description: str,
    known: Mapping[str, str],
    counts: dict[str, list[int]],
    *,
    registered: bool,
    onboard: tuple[Mapping[str, str], dict[str, list[int]]] = ({}, {}),
) -> dict[str, Any]:
    codenames = _codenames(known, counts)
    return {
        "name": name,
        "dir": index_dir,
        "description": description,
        "registered": registered,
        "datasets": sum(c["datasets"] for c in codenames),
        "good": sum(c["good"] for c in codenames),
        "codenames": codenames,
        "onboard": _codenames(*onboard),
    }


def describe_instruments(session: Session, registry: Registry) -> dict[str, Any]:
    """The ``/api/v1/instruments`` document."""
    counts, onboard_counts, dirs = _counts(session)
    missions: dict[str, dict[str, Any]] = {}
    for mission in registry.missions.values():
        missions[mission.name] = {
            "name": mission.name,
            "description": mission.description,
            "registered": True,
            "aliases": {alias: list(targets) for alias, targets in mission.aliases.items()},
            "instruments": [
                _instrument(
                    i.name,
                    i.dir,
                    i.description,
                    dict(i.codenames),
                    counts.get((mission.name, i.name), {}),
                    registered=True,
                    onboard=(i.onboard, onboard_counts.get((mission.name, i.name), {})),
                )
                for i in mission.instruments.values()
            ],
        }
    for (telescop, instrume), index_dir in sorted(dirs.items()):
        if registry.instrument(telescop, instrume) is not None:
            continue
        entry = missions.setdefault(
            telescop,
            {
                "name": telescop,
                "description": "",
                "registered": False,
                "aliases": {},
                "instruments": [],
            },
        )
        entry["instruments"].append(
            _instrument(instrume, index_dir, "", {}, counts[telescop, instrume], registered=False)
        )
    return {"missions": list(missions.values())}
