"""A scenario: the laws each run of a campaign is drawn from, read from a YAML file.

The shipped scenarios are ``scenarios/<name>.yaml`` in this package (read with
importlib.resources); a path to a file of the same form is a scenario too. A run is drawn
from ``(seed, run index)`` alone: each law has its own stream
``numpy.random.default_rng([seed, index, crc32(name)])``, and the simulator's own seed
comes from ``SeedSequence([seed, index])``, so a run does not depend on the others, on the
order they are made in, or on the other laws.

A scenario may add constant extra sources (the simulator's ``--extra-source RA,DEC,RATE``) in
named groups, each with its own laws of how many (``count``), how far off-axis and how
bright; source ``i`` of group ``g`` draws from the streams ``extra_sources.g.i.<law>``.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from pipeline_bricks.campaign.locate import offset_deg
from pipeline_bricks.framework.errors import BrickError
from pipeline_bricks.simulator.core import MAX_EXTRA_SOURCES

__all__ = ["SCENARIOS", "Scenario", "load_scenario"]

SCENARIOS = ("grb", "gp")
# Simulator options a scenario may fix or draw: those of the source, observation and
# background. The campaign sets the position, pointing, seed, output and CalDB itself.
SETTABLE = frozenset((
    "rate", "decay", "gamma", "nh", "lines", "date", "start-offset", "duration", "saa", "roll",
    "jitter-arcsec", "bkg-rate", "hot-rate", "hot-pixels", "flickering-pixels", "flicker-frames",
    "cloud-sigma-um", "cloud-model",
))  # fmt: skip
LAWS = {
    "uniform": ("low", "high"),
    "loguniform": ("low", "high"),
    "normal": ("mean", "sigma"),
    "lognormal": ("median", "sigma_dex"),
    "value": ("value",),
    "disc": ("radius",),
    "integers": ("low", "high"),  # uniform over low .. high, both included (counts)
}
# The laws of a group of extra sources; the simulator gives them the main source's decay
# and spectrum, so only where they are and how bright is theirs.
EXTRA_LAWS = ("count", "off_axis_arcmin", "rate")
MAX_REDRAWS = 10_000  # a truncated law that cannot be met in this many draws is refused


@dataclass(frozen=True)
class Scenario:
    """A scenario file: fixed options, laws of the drawn ones, and the field's geometry."""

    name: str
    description: str
    fixed: dict[str, Any]
    draw: dict[str, dict[str, Any]]
    off_axis_arcmin: dict[str, Any]
    extra_sources: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def simulator_seed(self, seed: int, index: int) -> int:
        """The simulator's ``--seed`` of run ``index``."""
        return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])

    def draw_run(self, seed: int, index: int) -> dict[str, Any]:
        """The simulator options of run ``index`` (without ``--out``), by option name."""
        options: dict[str, Any] = dict(self.fixed)
        for name, law in self.draw.items():
            options[name] = _draw(law, _stream(seed, index, name))
        rng = _stream(seed, index, "field")
        pointing_ra = float(rng.uniform(0.0, 360.0))
        pointing_dec = math.degrees(math.asin(rng.uniform(-1.0, 1.0)))  # uniform over the sky
        theta = _draw(self.off_axis_arcmin, _stream(seed, index, "off_axis_arcmin"))
        ra, dec = offset_deg(pointing_ra, pointing_dec, theta / 60.0, float(rng.uniform(0, 360)))
        options |= {"ra": ra, "dec": dec, "pointing-ra": pointing_ra, "pointing-dec": pointing_dec}
        options.setdefault("roll", float(rng.uniform(0.0, 360.0)))
        extra = self._draw_extra_sources(seed, index, pointing_ra, pointing_dec)
        if extra:
            options["extra-source"] = extra
        options["seed"] = self.simulator_seed(seed, index)
        return options

    def _draw_extra_sources(
        self, seed: int, index: int, pointing_ra: float, pointing_dec: float
    ) -> list[str]:
        """``RA,DEC,RATE`` of each extra source, at its drawn distance from the pointing."""
        sources = []
        for group, laws in self.extra_sources.items():
            count = int(_draw(laws["count"], _stream(seed, index, f"extra_sources.{group}.count")))
            for i in range(count):
                name = f"extra_sources.{group}.{i}"
                theta = _draw(laws["off_axis_arcmin"], _stream(seed, index, f"{name}.off_axis"))
                angle = float(_stream(seed, index, f"{name}.position_angle").uniform(0, 360))
                ra, dec = offset_deg(pointing_ra, pointing_dec, theta / 60.0, angle)
                rate = _draw(laws["rate"], _stream(seed, index, f"{name}.rate"))
                sources.append(",".join(repr(value) for value in (ra, dec, rate)))
        return sources


def command_line(options: dict[str, Any]) -> list[str]:
    """``--name value`` arguments of the simulator (``repr`` keeps every digit of a float)."""
    arguments = []
    for name, value in options.items():
        values = value if isinstance(value, list) else [value]
        for item in values:
            arguments += [f"--{name}", repr(item) if isinstance(item, float) else str(item)]
    return arguments


def _stream(seed: int, index: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed, index, zlib.crc32(name.encode())])


def _draw(law: dict[str, Any], rng: np.random.Generator) -> float:
    kind = law["law"]
    if kind == "value":
        return float(law["value"])
    if kind == "disc":
        return float(law["radius"] * math.sqrt(rng.uniform()))
    if kind == "integers":
        return float(rng.integers(law["low"], law["high"], endpoint=True))
    low, high = law.get("low", -math.inf), law.get("high", math.inf)
    for _ in range(MAX_REDRAWS):
        if kind == "uniform":
            value = rng.uniform(law["low"], law["high"])
        elif kind == "loguniform":
            value = math.exp(rng.uniform(math.log(law["low"]), math.log(law["high"])))
        elif kind == "normal":
            value = rng.normal(law["mean"], law["sigma"])
        else:  # lognormal
            value = 10.0 ** rng.normal(math.log10(law["median"]), law["sigma_dex"])
        if low <= value <= high:
            return float(value)
    raise BrickError(f"no draw of {law} within [{low}, {high}] in {MAX_REDRAWS} tries")


def _checked_law(where: str, law: Any) -> dict[str, Any]:
    if not isinstance(law, dict) or law.get("law") not in LAWS:
        raise BrickError(f"{where}: a law is a mapping with law: one of {', '.join(LAWS)}")
    needed = LAWS[law["law"]]
    allowed = {"law", *needed, "low", "high"}
    if set(needed) - set(law) or set(law) - allowed:
        raise BrickError(f"{where}: law {law['law']} takes {', '.join(needed)} (and low, high)")
    numbers = {key: value for key, value in law.items() if key != "law"}
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in numbers.values()):
        raise BrickError(f"{where}: the parameters of a law are finite numbers")
    if law["law"] == "integers" and not (
        all(isinstance(law[key], int) for key in ("low", "high")) and 0 <= law["low"] <= law["high"]
    ):
        raise BrickError(f"{where}: integers takes whole numbers 0 <= low <= high")
    positive = {"loguniform": ("low", "high"), "lognormal": ("median",), "disc": ("radius",)}
    if any(law[key] <= 0 for key in positive.get(law["law"], ())):
        raise BrickError(f"{where}: {', '.join(positive[law['law']])} must be > 0")
    return law


def _iso_if_date(value: Any) -> Any:
    """An unquoted YAML date is a datetime: the simulator reads ISO text."""
    return value.isoformat() if isinstance(value, date) else value


def _read(scenario: str) -> tuple[str, str]:
    """The text of the shipped scenario ``scenario``, or of the file at that path."""
    if scenario in SCENARIOS:
        source = resources.files("pipeline_bricks.campaign").joinpath(f"scenarios/{scenario}.yaml")
        return source.read_text(encoding="utf-8"), f"the {scenario} scenario"
    path = Path(scenario)
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except OSError as error:
        raise BrickError(
            f"cannot read the scenario {scenario} ({error.strerror}); "
            f"a scenario is one of {', '.join(SCENARIOS)} or a YAML file"
        ) from None


def load_scenario(scenario: str) -> Scenario:
    """The scenario named (``grb``) or in the YAML file at that path, checked."""
    text, where = _read(scenario)
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise BrickError(f"{where} is not YAML: {error}") from None
    if not isinstance(document, dict) or set(document) - {"name", "description", "fixed",
                                                          "draw", "field",
                                                          "extra_sources"}:  # fmt: skip
        raise BrickError(
            f"{where}: a mapping of name, description, fixed, draw, field and extra_sources"
        )
    fixed, draw = document.get("fixed") or {}, document.get("draw") or {}
    field = document.get("field") or {}
    for name in [*fixed, *draw]:
        if name not in SETTABLE:
            raise BrickError(
                f"{where}: {name!r} is not a simulator option a scenario sets; "
                f"one of {', '.join(sorted(SETTABLE))}"
            )
    if "date" not in fixed:
        raise BrickError(f"{where}: fixed: date (the trigger time, ISO UTC) is required")
    if set(field) - {"off_axis_arcmin"}:
        raise BrickError(f"{where}: field holds off_axis_arcmin only")
    return Scenario(
        name=str(document.get("name", Path(scenario).stem)),
        description=str(document.get("description", "")),
        fixed={name: _iso_if_date(value) for name, value in fixed.items()},
        draw={name: _checked_law(f"{where}: draw: {name}", law) for name, law in draw.items()},
        off_axis_arcmin=_checked_law(
            f"{where}: field: off_axis_arcmin",
            field.get("off_axis_arcmin", {"law": "disc", "radius": 20.0}),
        ),
        extra_sources=_checked_extra_sources(where, document.get("extra_sources") or {}),
    )


def _checked_extra_sources(where: str, groups: Any) -> dict[str, dict[str, dict[str, Any]]]:
    """The groups of extra sources, each with its laws of count, off-axis angle and rate."""
    if not isinstance(groups, dict):
        raise BrickError(f"{where}: extra_sources maps a group's name to its laws")
    checked = {}
    for group, laws in groups.items():
        place = f"{where}: extra_sources: {group}"
        if not isinstance(laws, dict) or set(laws) != set(EXTRA_LAWS):
            raise BrickError(f"{place}: the laws {', '.join(EXTRA_LAWS)}, and nothing else")
        checked[str(group)] = {name: _checked_law(f"{place}: {name}", laws[name])
                               for name in EXTRA_LAWS}  # fmt: skip
        if checked[str(group)]["count"]["law"] not in ("integers", "value"):
            raise BrickError(f"{place}: count: a law of whole numbers (integers or value)")
    most = sum(_largest_count(laws["count"]) for laws in checked.values())
    if most > MAX_EXTRA_SOURCES:
        raise BrickError(f"{where}: at most {MAX_EXTRA_SOURCES} extra sources in a run")
    return checked


def _largest_count(law: dict[str, Any]) -> int:
    value = law["high"] if law["law"] == "integers" else law["value"]
    if not isinstance(value, int) or value < 0:
        raise BrickError(f"a count is a whole number >= 0, not {value!r}")
    return value
