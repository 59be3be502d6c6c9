"""The registry of missions and instruments, loaded from one data file.

Uploads must name a registered mission and instrument (or an alias of one, expanded into
one dataset per target as udcif does); the HEASARC ``caldb.config`` and
``alias_config.fits`` and ``/api/v1/instruments`` are derived from it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from caldb_common.resources import schema_path

__all__ = ["Instrument", "Mission", "Registry", "RegistryError", "load_registry"]


class RegistryError(ValueError):
    """A registry file that cannot be read or breaks its schema."""


@dataclass(frozen=True)
class Instrument:
    """A registered instrument: its index directory and known codenames."""

    name: str
    dir: str
    description: str = ""
    codenames: Mapping[str, str] = field(default_factory=dict)
    onboard: Mapping[str, str] = field(default_factory=dict)  # onboard-upload codenames


@dataclass(frozen=True)
class Mission:
    """A registered mission (TELESCOP), its instruments and aliases."""

    name: str
    instruments: Mapping[str, Instrument]
    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True)
class Registry:
    """Every registered mission, by name."""

    missions: Mapping[str, Mission]

    def expand(self, mission: str, instrume: str) -> tuple[str, ...] | None:
        """Instruments an INSTRUME value stands for; None if neither instrument nor alias."""
        entry = self.missions.get(mission)
        if entry is None:
            return None
        if instrume in entry.instruments:
            return (instrume,)
        return entry.aliases.get(instrume)

    def resolve(self, mission: str, instrume: str) -> str:
        """The instrument a search names: an alias with a single target becomes it."""
        targets = self.expand(mission, instrume)
        return targets[0] if targets and len(targets) == 1 else instrume

    def instrument(self, mission: str, name: str) -> Instrument | None:
        """A registered instrument, or None."""
        entry = self.missions.get(mission)
        return entry.instruments.get(name) if entry else None

    def registered(self, mission: str, name: str) -> Instrument:
        """An instrument known to be registered (one :meth:`expand` named); KeyError if not."""
        return self.missions[mission].instruments[name]

    def index_entries(self) -> list[tuple[str, str, str]]:
        """(mission, instrument, index directory) of every registered instrument."""
        return [
            (mission.name, instrument.name, instrument.dir)
            for mission in self.missions.values()
            for instrument in mission.instruments.values()
        ]

    def index_dirs(self) -> set[str]:
        """Index directories of every registered instrument."""
        return {directory for _, _, directory in self.index_entries()}

    def aliases(self) -> dict[str, dict[str, tuple[str, ...]]]:
        """Aliases by mission, for ``alias_config.fits``."""
        return {m.name: dict(m.aliases) for m in self.missions.values() if m.aliases}


def _check_consistency(document: dict[str, Any]) -> list[str]:
    """Rules the JSON Schema cannot express: unique names, aliases pointing at instruments."""
    problems = []
    seen_missions: set[str] = set()
    for mission in document["missions"]:
        name = mission["name"]
        if name in seen_missions:
            problems.append(f"mission {name} is declared twice")
        seen_missions.add(name)
        instruments = [i["name"] for i in mission["instruments"]]
        if len(set(instruments)) != len(instruments):
            problems.append(f"mission {name} declares an instrument twice")
        for instrument in mission["instruments"]:
            both = set(instrument.get("codenames", {})) & set(instrument.get("onboard", {}))
            problems.extend(
                f"{name} {instrument['name']} codename {code} is both calibration and onboard"
                for code in sorted(both)
            )
        for alias, targets in mission.get("aliases", {}).items():
            if alias in instruments:
                problems.append(f"{name} alias {alias} is also an instrument name")
            problems.extend(
                f"{name} alias {alias} points at unknown instrument {target}"
                for target in targets
                if target not in instruments
            )
    return problems


def parse_registry(document: Any) -> Registry:
    """Validate a registry document (already parsed) and build the :class:`Registry`."""
    schema = json.loads(schema_path("registry.schema.json").read_text())
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(document), key=str)
    messages = [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors]
    if not messages:
        messages = _check_consistency(document)
    if messages:
        raise RegistryError("invalid registry: " + "; ".join(messages))
    missions = {}
    for mission in document["missions"]:
        instruments = {
            i["name"]: Instrument(
                i["name"],
                i["dir"],
                i.get("description", ""),
                i.get("codenames", {}),
                i.get("onboard", {}),
            )
            for i in mission["instruments"]
        }
        aliases = {alias: tuple(t) for alias, t in mission.get("aliases", {}).items()}
        missions[mission["name"]] = Mission(
            mission["name"], instruments, aliases, mission.get("description", "")
        )
    return Registry(missions)


def load_registry(path: Path) -> Registry:
    """Read and validate a registry YAML (or JSON) file.

    Raises
    ------
    RegistryError
        If the file is missing, not YAML, or invalid.
    """
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as error:
        raise RegistryError(f"cannot read registry {path}: {error}") from None
    return parse_registry(document)
