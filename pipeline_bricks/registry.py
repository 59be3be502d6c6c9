"""Every brick the ``pipeline-bricks`` command knows, by name.

:data:`CATALOGUE` describes each brick (summary, inputs, calibration codenames, parameters)
and where its class lives, so ``pipeline-bricks list`` and ``--help`` answer without importing the
science modules (numpy, scipy, astropy). Bricks register themselves with :func:`register`
when their module is imported, which checks that the class agrees with its catalogue entry;
:func:`bricks` imports the modules that hold them: all, or only the one a run needs.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline_bricks.mxt import parameters as mxt
from pipeline_bricks.parameters import Parameter

if TYPE_CHECKING:
    from pipeline_bricks.framework.brick import Brick

__all__ = ["BRICKS", "CATALOGUE", "BrickInfo", "bricks", "register"]


@dataclass(frozen=True)
class BrickInfo:
    """What ``pipeline-bricks list`` says about a brick, read without importing it."""

    name: str
    module: str  # the module defining the brick class
    description: str
    inputs: tuple[str, ...]
    codenames: tuple[str, ...]  # calibration it needs
    parameters: tuple[Parameter, ...] = ()  # declared in a light module (mxt/parameters.py)


_MXT = "pipeline_bricks.mxt.bricks"
CATALOGUE: dict[str, BrickInfo] = {
    info.name: info
    for info in (
        BrickInfo(
            "mxt-calibrate", f"{_MXT}.calibrate",
            "patterns, per-column gain/offset, CTI, PHA -> PI and ENERGY",
            ("events",), ("GAIN", "CTI", "BADPIX", "EVTTHR"), mxt.CALIBRATE,
        ),
        BrickInfo(
            "mxt-coordinates", f"{_MXT}.coordinates",
            "RAW -> DET -> SKY X/Y and RA/Dec with the TELDEF and the attitude",
            ("events", "attitude"), ("TELDEF",), mxt.COORDINATES,
        ),
        BrickInfo(
            "mxt-screen", f"{_MXT}.screen",
            "GTIs from attitude/SAA, bad/hot/flickering pixels, pattern and energy cuts",
            ("events", "attitude"), ("BADPIX",), mxt.SCREEN,
        ),
        BrickInfo(
            "mxt-detect", f"{_MXT}.detect",
            "source detection: PSF histogram fit, then joint Cash ML fit, RA/Dec list",
            ("events", "attitude"), ("PSF", "TELDEF", "BADPIX"), mxt.DETECT,
        ),
        BrickInfo(
            "mxt-products", f"{_MXT}.products",
            "image, exposure map, OGIP spectra and light curves, PNG previews",
            ("events", "attitude", "srclist"),
            ("TELDEF", "BADPIX", "PSF", "VIGNET", "SPECRESP", "MATRIX"), mxt.PRODUCTS,
        ),
        BrickInfo(
            "mxt-pipeline", f"{_MXT}.pipeline",
            "the MXT chain: calibrate, coordinates, screen, detect, products",
            ("events", "attitude"),
            ("GAIN", "CTI", "BADPIX", "EVTTHR", "TELDEF", "PSF", "VIGNET", "SPECRESP", "MATRIX"),
            mxt.PIPELINE,
        ),
    )
}  # fmt: skip

BRICKS: dict[str, type[Brick]] = {}


def register(brick: type[Brick]) -> type[Brick]:
    """Class decorator: make a brick runnable by name.

    Raises
    ------
    ValueError
        If another brick has the name, or the class disagrees with its :data:`CATALOGUE` entry.
    """
    info = CATALOGUE.get(brick.name)
    declared = BrickInfo(
        brick.name, brick.__module__, brick.description, tuple(brick.inputs),
        tuple(brick.codenames), tuple(brick.parameters),
    )  # fmt: skip
    if info != declared:
        raise ValueError(f"brick {brick.name!r} is {declared}, its catalogue entry is {info}")
    if brick.name in BRICKS and BRICKS[brick.name] is not brick:
        raise ValueError(f"two bricks are named {brick.name!r}")
    BRICKS[brick.name] = brick
    return brick


def bricks(name: str | None = None) -> dict[str, type[Brick]]:
    """The registered bricks, after importing the modules of every brick, or of ``name`` only.

    A command runs one brick in a new process: importing only that brick's module (and what
    it imports: mxt-pipeline imports every stage) spares it the others' libraries. An unknown
    ``name`` imports them all, so that the refusal can list every brick.
    """
    chosen = [CATALOGUE[name]] if name in CATALOGUE else CATALOGUE.values()
    for info in chosen:
        importlib.import_module(info.module)
    return BRICKS
