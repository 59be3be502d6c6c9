"""Running a brick on a runtime_data.json and always leaving a processing_status.json.

The status the scheduler acts on: ``SUCCESS``; ``NO_DATA`` (nothing to process); ``FAILED``
with a message — for an invalid runtime_data.json, an unknown or ill-typed parameter (checked
against the brick's declaration before it runs), a missing input, an unreachable CalDB or a
missing calibration. An unexpected exception is also ``FAILED``, with its type and
message, and the traceback goes to the log only.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from caldb_common.atomic import write_text_atomically
from pipeline_bricks.framework.brick import Brick, BrickContext
from pipeline_bricks.framework.calibration import CalibrationProvider
from pipeline_bricks.framework.errors import BrickError, NoData
from pipeline_bricks.framework.runtime import RuntimeData, load_runtime_data
from pipeline_bricks.framework.usage import report_usage
from pipeline_bricks.parameters import ParameterError, Value, resolve_parameters

__all__ = ["STATUS_FILE", "run_brick"]

log = logging.getLogger(__name__)
STATUS_FILE = "processing_status.json"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _write_status(directory: Path, document: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / STATUS_FILE
    write_text_atomically(path, json.dumps(document, indent=2))  # never half a status
    return path


def _prepare(
    bricks: dict[str, type[Brick]], name: str, runtime_path: Path, cache_dir: Path | None
) -> BrickContext:
    if name not in bricks:
        raise BrickError(f"unknown brick {name!r}; known: {', '.join(sorted(bricks))}")
    runtime = load_runtime_data(runtime_path)
    if runtime.brick != name:
        raise BrickError(f"runtime_data.json is for {runtime.brick!r}, not {name!r}")
    return BrickContext(runtime, CalibrationProvider(runtime, cache_dir=cache_dir))


def _checked_parameters(brick: type[Brick], runtime: RuntimeData) -> dict[str, Value]:
    """The job's parameters checked against the brick's declaration, defaults filled in.

    A misspelt name is refused rather than leaving the default silently in force.
    """
    try:
        return resolve_parameters(brick.name, brick.parameters, runtime.parameters, brick.codenames)
    except ParameterError as error:
        raise BrickError(str(error)) from None


def run_brick(
    bricks: dict[str, type[Brick]], name: str, runtime_path: Path, *, cache_dir: Path | None = None
) -> tuple[str, Path]:
    """Run brick ``name`` on ``runtime_path``; return its status and the status file.

    The status file goes to the job's output directory, or next to the runtime_data.json
    when that cannot be read.
    """
    started = _now()
    document: dict[str, Any] = {"brick": name, "started_at": started, "outputs": {}, "messages": []}
    document["calibration"] = []
    status_dir = runtime_path.resolve().parent
    context: BrickContext | None = None
    status = "FAILED"
    try:
        context = _prepare(bricks, name, runtime_path, cache_dir)
        status_dir = context.runtime.output_dir
        context.parameters = _checked_parameters(bricks[name], context.runtime)
        bricks[name]().run(context)
        status = "SUCCESS"
    except NoData as reason:
        status = "NO_DATA"
        document["messages"].append({"level": "INFO", "text": str(reason)})
    except BrickError as error:
        status = "FAILED"
        document["messages"].append({"level": "ERROR", "text": str(error)})
    except Exception as error:  # reported as FAILED, never as a bare traceback
        log.exception("brick %s failed unexpectedly", name)
        status = "FAILED"
        text = f"unexpected {type(error).__name__}: {error}"
        document["messages"].append({"level": "ERROR", "text": text})
    finally:
        if context is not None:
            if status == "SUCCESS":  # what a reprocessing would redo: runs that made products
                report_usage(context, name)
            context.calibration.close()
    if context is not None:
        document["outputs"] = context.outputs
        document["messages"] = context.messages + document["messages"]
        document["calibration"] = [vars(item) for item in context.calibration_used]
        if context.results:
            document["results"] = context.results
    document.update(status=status, finished_at=_now())
    return status, _write_status(status_dir, document)
