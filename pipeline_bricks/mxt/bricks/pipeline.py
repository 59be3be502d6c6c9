"""``mxt-pipeline``: the MXT chain in one call, each brick feeding the next."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pipeline_bricks.framework.brick import Brick, BrickContext
from pipeline_bricks.mxt.bricks.calibrate import MxtCalibrate
from pipeline_bricks.mxt.bricks.coordinates import MxtCoordinates
from pipeline_bricks.mxt.bricks.screen import MxtScreen
from pipeline_bricks.registry import register

__all__ = ["MxtPipeline"]


@register
class MxtPipeline(Brick):
    """calibrate -> coordinates -> screen on one event list and its attitude file.

    Each brick's event list is the next one's input; the calibration is asked once per
    dataset and recorded once; each brick's results are filed under its name. A
    ``NO_DATA`` or ``FAILED`` brick ends the chain with its status.
    """

    name = "mxt-pipeline"
    description = "the MXT chain: calibrate, coordinates, screen"
    inputs = ("events", "attitude")
    stages: ClassVar[tuple[tuple[type[Brick], str], ...]] = (
        (MxtCalibrate, "calibrated_events"),
        (MxtCoordinates, "sky_events"),
        (MxtScreen, "cleaned_events"),
    )
    codenames = tuple(dict.fromkeys(c for brick, _ in stages for c in brick.codenames))

    def run(self, context: BrickContext) -> None:
        """Run every stage; the last event list is the chain's product."""
        events = context.input("events")
        attitude = [context.input("attitude")]
        for brick, produces in self.stages:
            stage = context.stage({"events": [events], "attitude": attitude})
            try:
                brick().run(stage)
            finally:
                context.results[brick.name] = stage.results
            events = Path(stage.output_dir / stage.outputs[produces][-1])
