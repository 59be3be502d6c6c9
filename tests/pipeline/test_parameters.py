"""Brick parameters: the declaration checks a job's values, and the runner turns a refusal
into a FAILED status naming the parameter before the brick reads anything.

No CalDB is needed: every job here ends (or succeeds) before asking for calibration."""

from __future__ import annotations

import json
import math
import socket
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from caldb_common.resources import schema_path
from pipeline_bricks.cli import main
from pipeline_bricks.framework import Brick, BrickContext
from pipeline_bricks.framework.runner import STATUS_FILE, run_brick
from pipeline_bricks.parameters import (
    Interval,
    Parameter,
    ParameterError,
    merge_parameters,
    resolve_parameters,
)
from pipeline_bricks.registry import CATALOGUE, bricks

STATUS_SCHEMA = json.loads(schema_path("processing_status.schema.json").read_text())

DECLARED = (
    Parameter("radius_arcmin", "number", "arcmin", 5.0, "a radius", allowed=Interval(0, 60, True)),
    Parameter("count", "integer", "", 10, "a count", allowed=Interval(1, 50)),
    Parameter("band_kev", "number pair", "keV", (0.2, 10.0), "a band", allowed=Interval(0),
              order="<"),
    Parameter("range", "integer pair", "", (0, 12), "a range", allowed=Interval(0, 12), order="<="),
    Parameter("radec", "number pair", "deg", None, "a position", default_text="from the list",
              allowed=(Interval(0, 360, high_open=True), Interval(-90, 90))),
    Parameter("verbose", "boolean", "", False, "say more"),
    Parameter("mode", "text", "", "fast", "how", choices=("fast", "exact")),
)  # fmt: skip


class Echo(Brick):
    """Reports the values its context hands it."""

    name = "test-echo"
    description = "report the parameters"
    inputs = ()
    codenames = ("GAIN",)
    parameters = DECLARED

    def run(self, context: BrickContext) -> None:
        context.results["values"] = {p.name: context.parameter(p.name) for p in self.parameters}


class Undeclared(Echo):
    """Reads a parameter it does not declare: a programming error, reported as such."""

    name = "test-undeclared"

    def run(self, context: BrickContext) -> None:
        context.parameter("threshold")


BRICKS = {Echo.name: Echo, Undeclared.name: Undeclared}


def _closed_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def job(directory: Path, brick: str, parameters: dict[str, Any]) -> Path:
    document = {
        "brick": brick,
        "target": {"obs_id": "01234567", "instrument": "MXT"},
        "inputs": {},
        "output_dir": "out",
        "parameters": parameters,
        "caldb": {"url": _closed_url(), "max_tries": 1},
    }
    path = directory / "runtime_data.json"
    path.write_text(json.dumps(document))
    return path


def run(directory: Path, parameters: dict[str, Any], brick: str = Echo.name) -> dict[str, Any]:
    status, path = run_brick(BRICKS, brick, job(directory, brick, parameters))
    assert path == directory / "out" / STATUS_FILE  # beside the outputs, as for any failure
    document = json.loads(path.read_text())
    jsonschema.validate(document, STATUS_SCHEMA)
    assert document["status"] == status
    return document


def error_text(document: dict[str, Any]) -> str:
    (error,) = [m["text"] for m in document["messages"] if m["level"] == "ERROR"]
    return error


def test_the_defaults_are_filled_in_and_given_values_typed(tmp_path):
    document = run(tmp_path, {"count": 3.0, "band_kev": [1, 2.5], "mode": "exact"})
    assert document["status"] == "SUCCESS"
    assert document["results"]["values"] == {
        "radius_arcmin": 5.0,
        "count": 3,
        "band_kev": [1.0, 2.5],
        "range": [0, 12],
        "radec": None,  # the brick works it out
        "verbose": False,
        "mode": "exact",
    }


def test_the_context_hands_out_python_types():
    values = resolve_parameters("b", DECLARED, {"count": 3.0, "radius_arcmin": 2, "range": [1, 4]})
    assert type(values["count"]) is int
    assert type(values["radius_arcmin"]) is float
    assert values["range"] == (1, 4)
    assert all(type(v) is int for v in values["range"])


@pytest.mark.parametrize(
    ("given", "closest"),
    [("radius", "radius_arcmin"), ("cuont", "count"), ("band_ev", "band_kev"), ("zzz", None)],
)
def test_an_unknown_parameter_is_a_failed_status_naming_it(tmp_path, given, closest):
    document = run(tmp_path, {given: 1})
    assert document["status"] == "FAILED"
    text = error_text(document)
    assert text.startswith(f"unknown parameter {given!r} for test-echo")
    assert ("did you mean" in text) == (closest is not None)
    if closest:
        assert f"did you mean {closest!r}?" in text
    known = "band_kev, calibration, count, mode, radec, radius_arcmin, range, verbose"
    assert text.endswith(f"(known: {known})")
    assert "results" not in document  # the brick never ran
    assert document["outputs"] == {}


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("radius_arcmin", "5", "a number in (0, 60]"),
        ("radius_arcmin", True, "a number in (0, 60]"),
        ("radius_arcmin", 0, "a number in (0, 60]"),
        ("radius_arcmin", 60.5, "a number in (0, 60]"),
        ("radius_arcmin", [5], "a number in (0, 60]"),
        ("radius_arcmin", None, "a number in (0, 60]"),
        ("count", 2.5, "a whole number in [1, 50]"),
        ("count", 51, "a whole number in [1, 50]"),
        ("count", False, "a whole number in [1, 50]"),
        ("band_kev", [2, 1], "a list of two numbers (each >= 0, first < second)"),
        ("band_kev", [1, 1], "a list of two numbers (each >= 0, first < second)"),
        ("band_kev", [-1, 1], "a list of two numbers (each >= 0, first < second)"),
        ("band_kev", "12", "a list of two numbers (each >= 0, first < second)"),
        ("band_kev", [1, 2, 3], "a list of two numbers (each >= 0, first < second)"),
        ("band_kev", {"lo": 1, "hi": 2}, "a list of two numbers (each >= 0, first < second)"),
        ("range", [0, 1.5], "a list of two whole numbers (each in [0, 12], first <= second)"),
        ("range", [3, 2], "a list of two whole numbers (each in [0, 12], first <= second)"),
        ("radec", [360, 0], "a list of two numbers (first in [0, 360), second in [-90, 90])"),
        ("radec", [10, -91], "a list of two numbers (first in [0, 360), second in [-90, 90])"),
        ("verbose", 1, "true or false"),
        ("verbose", "yes", "true or false"),
        ("mode", "slow", "a string one of fast, exact"),
        ("mode", 1, "a string one of fast, exact"),
    ],
)
def test_an_ill_typed_parameter_is_a_failed_status_naming_it(tmp_path, name, value, expected):
    document = run(tmp_path, {name: value})
    assert document["status"] == "FAILED"
    assert error_text(document) == f"parameter {name} must be {expected}, not {value!r}"
    assert "results" not in document


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_number_that_is_not_finite_is_refused(tmp_path, value):
    # Python's json module reads NaN and Infinity, which are not JSON numbers.
    document = run(tmp_path, {"radius_arcmin": value})
    assert document["status"] == "FAILED"
    assert error_text(document).startswith("parameter radius_arcmin must be a number")


def test_a_calibration_override_for_a_codename_the_brick_does_not_use_is_refused(tmp_path):
    document = run(tmp_path, {"calibration": {"GIAN": "my_gain.fits"}})
    assert document["status"] == "FAILED"
    assert error_text(document) == (
        "parameter calibration names 'GIAN', which test-echo does not use; "
        "did you mean 'GAIN'? (its calibration: GAIN)"
    )


def test_reading_an_undeclared_parameter_is_reported_as_a_programming_error(tmp_path):
    document = run(tmp_path, {}, brick=Undeclared.name)
    assert document["status"] == "FAILED"
    assert error_text(document) == (
        "unexpected LookupError: the brick reads parameter 'threshold', which it does not declare"
    )


@pytest.mark.parametrize("brick", sorted(CATALOGUE))
def test_every_mxt_brick_refuses_a_misspelt_parameter_from_the_command_line(
    tmp_path, capsys, brick
):
    declared = [p.name for p in bricks()[brick].parameters]
    misspelt = declared[0][:-1]  # the last letter dropped
    code = main(["run", brick, str(job(tmp_path, brick, {misspelt: 1}))])
    assert code == 1
    document = json.loads((tmp_path / "out" / STATUS_FILE).read_text())
    assert document["status"] == "FAILED"
    text = error_text(document)
    assert f"unknown parameter {misspelt!r} for {brick}; did you mean {declared[0]!r}?" in text
    assert all(name in text for name in declared)
    assert text in capsys.readouterr().err


@pytest.mark.parametrize(
    ("brick", "parameters", "message"),
    [
        (
            "mxt-detect",
            {"max_sources": 0},
            "parameter max_sources must be a whole number in [1, 50]",
        ),
        ("mxt-screen", {"patterns": [0, 13]}, "parameter patterns must be a list of two whole"),
        ("mxt-coordinates", {"seed": -1}, "parameter seed must be a whole number >= 0, not -1"),
        ("mxt-calibrate", {"split_threshold_adu": 0}, "must be a number in (0, 4096), not 0"),
        ("mxt-products", {"source_radec": [1]}, "parameter source_radec must be a list of two"),
    ],
)
def test_every_mxt_brick_refuses_an_ill_typed_parameter_before_reading_its_inputs(
    tmp_path, brick, parameters, message
):
    status, path = run_brick(bricks(), brick, job(tmp_path, brick, parameters))
    assert status == "FAILED"
    assert message in error_text(json.loads(path.read_text()))  # not "no 'events' input"


def test_a_chain_refuses_two_different_declarations_of_one_name():
    one = Parameter("seed", "integer", "", 0, "a seed")
    assert merge_parameters((one,), (one,)) == (one,)
    with pytest.raises(ValueError, match="parameter seed is declared twice, differently"):
        merge_parameters((one,), (Parameter("seed", "integer", "", 1, "a seed"),))


def test_the_chain_takes_the_parameters_of_its_bricks():
    chain = bricks()["mxt-pipeline"]
    stages = [p for stage, _, _ in chain.stages for p in stage.parameters]
    assert chain.parameters == tuple(stages)


@pytest.mark.parametrize(
    ("interval", "text"),
    [
        (Interval(1, 50), "[1, 50]"),
        (Interval(0, 60, low_open=True), "(0, 60]"),
        (Interval(0, 360, high_open=True), "[0, 360)"),
        (Interval(0), ">= 0"),
        (Interval(0, low_open=True), "> 0"),
        (Interval(high=1e-3), "<= 0.001"),
        (Interval(), "any"),
    ],
)
def test_intervals_read_as_written(interval, text):
    assert str(interval) == text


def test_a_refusal_is_a_value_error_with_one_sentence():
    with pytest.raises(ParameterError) as refused:
        resolve_parameters("b", DECLARED, {"count": "many"})
    assert isinstance(refused.value, ValueError)
    assert str(refused.value) == "parameter count must be a whole number in [1, 50], not 'many'"
