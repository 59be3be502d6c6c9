"""The MXT bricks: thin classes over the pure science modules of ``pipeline_bricks.mxt``.

Importing this package registers them (``pipeline_bricks.registry.BRICKS``).
"""

from pipeline_bricks.mxt.bricks.calibrate import MxtCalibrate
from pipeline_bricks.mxt.bricks.coordinates import MxtCoordinates
from pipeline_bricks.mxt.bricks.detect import MxtDetect
from pipeline_bricks.mxt.bricks.pipeline import MxtPipeline
from pipeline_bricks.mxt.bricks.products import MxtProducts
from pipeline_bricks.mxt.bricks.screen import MxtScreen

__all__ = ["MxtCalibrate", "MxtCoordinates", "MxtDetect", "MxtPipeline", "MxtProducts", "MxtScreen"]
