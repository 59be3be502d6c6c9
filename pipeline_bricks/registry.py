"""Every brick the ``pipeline-bricks`` command knows, by name.

Bricks register themselves with :func:`register` when their module is imported;
:func:`bricks` imports the packages that hold them.
"""

from __future__ import annotations

import importlib

from pipeline_bricks.framework.brick import Brick

__all__ = ["BRICKS", "bricks", "register"]

BRICKS: dict[str, type[Brick]] = {}
_PACKAGES = ("pipeline_bricks.mxt.bricks",)


def register(brick: type[Brick]) -> type[Brick]:
    """Class decorator: make a brick runnable by name."""
    if brick.name in BRICKS and BRICKS[brick.name] is not brick:
        raise ValueError(f"two bricks are named {brick.name!r}")
    BRICKS[brick.name] = brick
    return brick


def bricks() -> dict[str, type[Brick]]:
    """Every registered brick (importing the brick packages first)."""
    for package in _PACKAGES:
        importlib.import_module(package)
    return BRICKS
