"""The brick framework: runtime_data.json in, outputs and processing_status.json out."""

from pipeline_bricks.framework.brick import Brick, BrickContext, BrickError, NoData
from pipeline_bricks.framework.calibration import CalibrationFile, CalibrationUsed
from pipeline_bricks.framework.runtime import RuntimeData, load_runtime_data

__all__ = [
    "Brick",
    "BrickContext",
    "BrickError",
    "CalibrationFile",
    "CalibrationUsed",
    "NoData",
    "RuntimeData",
    "load_runtime_data",
]
