"""A scenario: the laws each run of a campaign is drawn from, read from a YAML file.

The shipped scenarios are ``scenarios/<name>.yaml`` in this package (read with
importlib.resources); a path to a file of the same form is a scenario too. A run is drawn
from ``(seed, run index)`` alone: each law has its own stream
``numpy.random.default_rng([seed, index, crc32(name)])``, and the simulator's own seed
comes from ``SeedSequence([seed, index])``, so a run does not depend on the others, on the
order they are made in, or on the other laws.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from pipeline_bricks.campaign.locate import offset_deg
from pipeline_bricks.framework.errors import BrickError

__all__ = ["SCENARIOS", "Scenario", "load_scenario"]

SCENARIOS = ("grb",)
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
}
MAX_REDRAWS = 10_000  # a truncated law that cannot be met in this many draws is refused


@dataclass(frozen=True)
class Scenario:
    """A scenario file: fixed options, laws of the drawn ones, and the field's geometry."""

    name: str
    description: str
    fixed: dict[str, Any]
    draw: dict[str, dict[str, Any]]
    off_axis_arcmin: dict[str, Any]

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
        options["seed"] = self.simulator_seed(seed, index)
        return options


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
                                                          "draw", "field"}:  # fmt: skip
        raise BrickError(f"{where}: a mapping of name, description, fixed, draw and field")
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
    )
