"""``pipeline-bricks list`` and ``--help`` answer without importing the science modules."""

import json
import subprocess
import sys

import pytest

from pipeline_bricks.registry import CATALOGUE, BrickInfo, bricks, register

HEAVY = ("numpy", "scipy", "astropy", "matplotlib", "pipeline_bricks.simulator")

SCRIPT = """
import contextlib, io, json, sys
from pipeline_bricks.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        code = main(sys.argv[1:])
    except SystemExit as done:
        code = done.code
print(json.dumps({"code": code, "out": out.getvalue(), "loaded": sorted(sys.modules)}))
"""


def _run(*argv):
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, *argv],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.parametrize(
    "argv",
    [
        ["list"],
        ["list", "--parameters"],
        ["--help"],
        ["run", "--help"],
        ["campaign", "--help"],
        ["campaign-report", "--help"],
    ],
)
def test_list_and_help_import_no_science_module(argv):
    report = _run(*argv)
    assert report["code"] == 0
    heavy = [m for m in report["loaded"] if m.startswith(HEAVY)]
    assert not heavy, heavy


def test_list_names_every_brick_with_its_inputs_and_calibration():
    out = _run("list")["out"]
    for info in CATALOGUE.values():
        assert f"{info.name:18} {info.description}" in out
        assert f"calibration: {', '.join(info.codenames)}" in out


def test_the_catalogue_describes_the_brick_classes():
    # register() refuses a class that disagrees with its entry; every entry has a class.
    classes = bricks()
    assert set(classes) == set(CATALOGUE)
    for name, brick in classes.items():
        assert CATALOGUE[name] == BrickInfo(
            name, brick.__module__, brick.description, brick.inputs, brick.codenames,
            brick.parameters,
        )  # fmt: skip


def test_a_brick_disagreeing_with_its_catalogue_entry_is_refused():
    detect = bricks()["mxt-detect"]
    changed = type("Changed", (detect,), {"codenames": ("PSF",), "__module__": detect.__module__})
    with pytest.raises(ValueError, match="catalogue entry"):
        register(changed)


def test_a_brick_disagreeing_with_its_catalogue_parameters_is_refused():
    detect = bricks()["mxt-detect"]
    fewer = detect.parameters[1:]
    changed = type("Changed", (detect,), {"parameters": fewer, "__module__": detect.__module__})
    with pytest.raises(ValueError, match="catalogue entry"):
        register(changed)


def test_list_parameters_prints_every_declared_parameter_in_aligned_columns():
    out = _run("list", "--parameters")["out"]
    lines = out.splitlines()
    for info in CATALOGUE.values():
        block = lines[lines.index(f"{info.name:18} {info.description}") :]
        rows = [
            line for line in block[2:] if line.startswith("  ") and not line.startswith(" " * 6)
        ]
        heading, *parameters = rows[: len(info.parameters) + 1]
        assert heading.split() == ["parameter", "type", "unit", "default", "allowed"]
        for line, parameter in zip(parameters, info.parameters, strict=True):
            name, kind, unit, default, allowed, meaning = parameter.cells()
            assert line.split(maxsplit=1)[0] == name
            # Every column starts where its heading does.
            for cell, title in zip(
                (kind, unit, default, allowed), heading.split()[1:], strict=True
            ):
                assert line[heading.index(title) :].startswith(cell), (line, cell)
            assert lines[lines.index(line) + 1] == f"      {meaning}"
    assert "Every brick also takes calibration:" in lines[-1]
    assert "split_threshold_adu" not in _run("list")["out"]  # only when asked
