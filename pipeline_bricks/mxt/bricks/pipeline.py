"""``mxt-pipeline``: the MXT chain in one call, each brick feeding the next."""

from __future__ import annotations

import time
from pathlib import Path
from typing import ClassVar

from pipeline_bricks.framework.brick import Brick, BrickContext
from pipeline_bricks.mxt.bricks.calibrate import MxtCalibrate
from pipeline_bricks.mxt.bricks.coordinates import MxtCoordinates
from pipeline_bricks.mxt.bricks.detect import MxtDetect
from pipeline_bricks.mxt.bricks.products import MxtProducts
from pipeline_bricks.mxt.bricks.screen import MxtScreen
from pipeline_bricks.mxt.parameters import PIPELINE
from pipeline_bricks.registry import register

__all__ = ["MxtPipeline"]


@register
class MxtPipeline(Brick):
    """calibrate -> coordinates -> screen -> detect -> products on one event list.

    Each brick's event list is the next one's ``events`` input and the source list of
    ``mxt-detect`` is the ``srclist`` input of ``mxt-products``; the calibration is asked
    once per dataset and recorded once; each brick's results are filed under its name, with
    its wall time (``seconds``). A ``NO_DATA`` or ``FAILED`` brick ends the chain with its
    status.
    """

    name = "mxt-pipeline"
    description = "the MXT chain: calibrate, coordinates, screen, detect, products"
    inputs = ("events", "attitude")
    # (brick, the output kind the next bricks read, as which input); None: the end product
    stages: ClassVar[tuple[tuple[type[Brick], str | None, str | None], ...]] = (
        (MxtCalibrate, "calibrated_events", "events"),
        (MxtCoordinates, "sky_events", "events"),
        (MxtScreen, "cleaned_events", "events"),
        (MxtDetect, "srclist", "srclist"),
        (MxtProducts, None, None),
    )
    codenames = tuple(dict.fromkeys(c for brick, _, _ in stages for c in brick.codenames))
    parameters = PIPELINE  # those of its bricks: each stage reads its own

    def run(self, context: BrickContext) -> None:
        """Run every stage on what the previous ones made."""
        inputs = {"events": [context.input("events")], "attitude": [context.input("attitude")]}
        for brick, produces, as_input in self.stages:
            stage = context.stage(dict(inputs))
            started = time.perf_counter()
            try:
                brick().run(stage)
            finally:
                seconds = round(time.perf_counter() - started, 3)
                context.results[brick.name] = {**stage.results, "seconds": seconds}
            if produces is not None and as_input is not None:
                inputs[as_input] = [Path(stage.output_dir / stage.outputs[produces][-1])]
