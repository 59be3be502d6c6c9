"""Brick parameters: each brick declares its own, the framework checks a job's against them.

A brick lists its parameters once, as :class:`Parameter` items (name, type, unit, default,
allowed values, description). Before the brick runs, :func:`resolve_parameters` checks the
``parameters`` of a runtime_data.json against that list: an unknown name (a misspelling would
otherwise silently leave the default in force) or a value of the wrong JSON type or out of
range is refused with a sentence naming the parameter; the defaults are filled in. The brick
then reads the checked values with ``BrickContext.parameter(name)``.

``calibration`` (codename -> local file) is the framework's own parameter, taken by every
brick; its codenames must be ones the brick uses.

This module imports nothing but the standard library: ``pipeline-bricks list --parameters``
reads the declarations without importing the science modules.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "CALIBRATION",
    "CALIBRATION_TEXT",
    "TABLE_HEADINGS",
    "Interval",
    "Parameter",
    "ParameterError",
    "Value",
    "merge_parameters",
    "resolve_parameters",
]

CALIBRATION = "calibration"  # every brick's: codename -> local file, instead of the CalDB
CALIBRATION_TEXT = "codename -> local file (file or file[xno]) used instead of the CalDB"
TABLE_HEADINGS = ("parameter", "type", "unit", "default", "allowed", "meaning")

Kind = Literal["number", "integer", "number pair", "integer pair", "boolean", "text"]
Value = float | int | tuple[float, float] | tuple[int, int] | bool | str | None


class ParameterError(ValueError):
    """A job's parameters disagree with the brick's declaration (the message names which)."""


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _phrase(interval: str) -> str:
    """``in [1, 50]`` for a closed range, ``>= 0`` as it is."""
    return f"in {interval}" if interval[0] in "[(" else interval


@dataclass(frozen=True)
class Interval:
    """The values a number may take; each bound is included unless marked open."""

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def __str__(self) -> str:
        """``[1, 50]``, ``(0, 60]``, ``>= 0``, ``> 0``, or ``any`` (unbounded)."""
        low, high = math.isfinite(self.low), math.isfinite(self.high)
        if low and high:
            opening, closing = "(" if self.low_open else "[", ")" if self.high_open else "]"
            return f"{opening}{_number_text(self.low)}, {_number_text(self.high)}{closing}"
        if low:
            return f"{'>' if self.low_open else '>='} {_number_text(self.low)}"
        if high:
            return f"{'<' if self.high_open else '<='} {_number_text(self.high)}"
        return "any"


def _as_number(value: object, *, whole: bool) -> float | int | None:
    """``value`` as a finite JSON number (a whole one if ``whole``), else None.

    ``true`` is not 1 and ``"5"`` is not 5; ``3.0`` is a whole number, ``2.5`` is not.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value):
        return None
    if whole:
        return int(value) if float(value).is_integer() else None
    return float(value)


@dataclass(frozen=True)
class Parameter:
    """One parameter of a brick, as a job gives it in runtime_data.json ``parameters``.

    ``kind`` is the JSON type: a number, a whole number, a list of two of either, true or
    false, or a string. ``default`` None means the brick works the value out from its
    inputs, as ``default_text`` says. A number must lie in ``allowed``; for a pair, that is
    one interval for both numbers or one per number, and ``order`` (``<`` or ``<=``) relates
    the first to the second. A string must be one of ``choices``, when there are any.
    """

    name: str
    kind: Kind
    unit: str
    default: Value
    description: str
    allowed: Interval | tuple[Interval, Interval] = Interval()
    order: Literal["", "<", "<="] = ""
    choices: tuple[str, ...] = ()
    default_text: str = ""

    @property
    def is_pair(self) -> bool:
        """Whether the value is a JSON list of two numbers."""
        return self.kind.endswith("pair")

    def _intervals(self) -> tuple[Interval, ...]:
        if isinstance(self.allowed, Interval):
            return (self.allowed, self.allowed) if self.is_pair else (self.allowed,)
        return self.allowed

    def allowed_text(self) -> str:
        """The allowed values in words: ``[1, 50]``, ``>= 0``, ``each > 0, first < second``."""
        if self.kind in ("boolean", "text"):
            return f"one of {', '.join(self.choices)}" if self.choices else "any"
        first, *others = [str(interval) for interval in self._intervals()]
        if not self.is_pair:
            return first
        first, second = _phrase(first), _phrase(others[0])
        parts = [f"each {first}" if first == second else f"first {first}, second {second}"]
        parts = [part for part in parts if part != "each any"]
        parts += [f"first {self.order} second"] if self.order else []
        return ", ".join(parts) or "any"

    def default_shown(self) -> str:
        """The default as a job would write it, or in words when the brick works it out."""
        if self.default is None:
            return self.default_text
        if isinstance(self.default, bool):
            return "true" if self.default else "false"
        if isinstance(self.default, str):
            return self.default
        if isinstance(self.default, tuple):
            return "[" + ", ".join(_number_text(v) for v in self.default) + "]"
        return _number_text(self.default)

    def expected(self) -> str:
        """What a value must be, for the message refusing one."""
        nouns = {"boolean": "true or false", "text": "a string", "integer": "a whole number"}
        noun = nouns.get(self.kind.removesuffix(" pair"), "a number")
        if self.is_pair:
            noun = f"a list of two {noun[2:]}s"
        allowed = self.allowed_text()
        if allowed == "any":
            return noun
        return f"{noun} ({allowed})" if self.is_pair else f"{noun} {_phrase(allowed)}"

    def cells(self) -> tuple[str, str, str, str, str, str]:
        """The row of :data:`TABLE_HEADINGS` describing this parameter, as plain text."""
        unit, allowed = self.unit or "-", self.allowed_text()
        return (self.name, self.kind, unit, self.default_shown(), allowed, self.description)

    def check(self, given: object) -> Value:
        """The checked value of ``given``: float, int, a tuple of two, bool or str.

        Raises
        ------
        ParameterError
            If ``given`` has the wrong JSON type or is out of the allowed values.
        """
        if self.kind == "boolean":
            if not isinstance(given, bool):
                raise self._refuse(given)
            return given
        if self.kind == "text":
            if not isinstance(given, str) or (self.choices and given not in self.choices):
                raise self._refuse(given)
            return given
        return self._check_numbers(given)

    def _check_numbers(self, given: object) -> Value:
        whole = self.kind.startswith("integer")
        items = given if self.is_pair else [given]
        if not isinstance(items, list) or len(items) != (2 if self.is_pair else 1):
            raise self._refuse(given)
        numbers: list[float | int] = []
        for item, interval in zip(items, self._intervals(), strict=True):
            number = _as_number(item, whole=whole)
            if number is None or number not in interval:
                raise self._refuse(given)
            numbers.append(number)
        if not self.is_pair:
            return numbers[0]
        first, second = numbers
        if (self.order == "<" and not first < second) or (
            self.order == "<=" and not first <= second
        ):
            raise self._refuse(given)
        return (first, second)

    def _refuse(self, given: object) -> ParameterError:
        return ParameterError(f"parameter {self.name} must be {self.expected()}, not {given!r}")


def _unknown(name: str, brick: str, known: list[str]) -> ParameterError:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ParameterError(
        f"unknown parameter {name!r} for {brick}{hint} (known: {', '.join(known)})"
    )


def resolve_parameters(
    brick: str,
    declared: Iterable[Parameter],
    given: Mapping[str, Any],
    codenames: Iterable[str] = (),
) -> dict[str, Value]:
    """Every declared parameter's checked value: the job's, else the default.

    ``calibration`` is left to the framework; its codenames must be among ``codenames``.

    Raises
    ------
    ParameterError
        For the first unknown name (with the closest known one), ill-typed or out-of-range
        value, or calibration codename the brick does not use.
    """
    by_name = {parameter.name: parameter for parameter in declared}
    known = sorted([*by_name, CALIBRATION])
    for name in given:
        if name not in by_name and name != CALIBRATION:
            raise _unknown(name, brick, known)
    uses = list(codenames)
    for codename in given.get(CALIBRATION, {}):
        if codename not in uses:
            close = difflib.get_close_matches(codename, uses, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ParameterError(
                f"parameter calibration names {codename!r}, which {brick} does not use{hint} "
                f"(its calibration: {', '.join(uses) or 'none'})"
            )
    return {
        name: parameter.check(given[name]) if name in given else parameter.default
        for name, parameter in by_name.items()
    }


def merge_parameters(*groups: Iterable[Parameter]) -> tuple[Parameter, ...]:
    """The parameters of a chain: those of its bricks, each name once.

    Raises
    ------
    ValueError
        If two bricks declare one name differently (one job value could not suit both).
    """
    merged: dict[str, Parameter] = {}
    for parameter in (p for group in groups for p in group):
        if merged.setdefault(parameter.name, parameter) != parameter:
            raise ValueError(f"parameter {parameter.name} is declared twice, differently")
    return tuple(merged.values())
