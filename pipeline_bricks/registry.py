"""Every brick the ``pipeline-bricks`` command knows, by name."""

from __future__ import annotations

from pipeline_bricks.framework.brick import Brick

__all__ = ["BRICKS", "register"]

BRICKS: dict[str, type[Brick]] = {}


def register(brick: type[Brick]) -> type[Brick]:
    """Class decorator: make a brick runnable by name."""
    if brick.name in BRICKS and BRICKS[brick.name] is not brick:
        raise ValueError(f"two bricks are named {brick.name!r}")
    BRICKS[brick.name] = brick
    return brick
