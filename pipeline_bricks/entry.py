"""The ``pipeline-bricks`` and ``mxt-simulate`` console scripts.

They say which extra to install when the bricks' packages are missing (a client-only
install), instead of a ``ModuleNotFoundError``.
"""

from typing import Any

from caldb_common.extras import run_command

__all__ = ["mxt_simulate", "pipeline_bricks"]


def pipeline_bricks() -> Any:
    """Console entry point of ``pipeline-bricks``."""
    return run_command("pipeline_bricks.cli:run", "pipeline-bricks", "pipeline")


def mxt_simulate() -> Any:
    """Console entry point of ``mxt-simulate``."""
    return run_command("pipeline_bricks.simulator.command:run", "mxt-simulate", "pipeline")
