"""After a successful run, tell the CalDB which calibration it used: a usage record.

The record names the observation (the target's ``burst_id``, else its ``obs_id``), the brick
and its version, and for each dataset taken from the CalDB the search that chose it and the
file chosen. It goes through CaDBIO's local queue (``caldbio.usage``): with the CalDB down
it waits there and leaves with a later run or ``caldbio usage flush``; it is never lost and
never stored twice. Reporting never fails the run: what happened is a message in
processing_status.json.

A job opts out with ``"caldb": {"report_usage": false}`` (simulation campaigns do: their
observations are not the mission's).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from caldbio import __version__
from caldbio.usage import new_record_id

if TYPE_CHECKING:
    from pipeline_bricks.framework.brick import BrickContext
    from pipeline_bricks.framework.calibration import CalibrationUsed
    from pipeline_bricks.framework.runtime import RuntimeData

__all__ = ["report_usage", "usage_record"]

log = logging.getLogger(__name__)


def _selection(item: CalibrationUsed) -> dict[str, Any]:
    assert item.selection is not None  # a CalDB answer: its search and dataset
    assert item.dataset_id is not None
    return {
        **item.selection,
        "codename": item.codename,
        "as_of": item.as_of,
        "dataset_id": item.dataset_id,
        "cal_file": item.file,
        "cal_xno": item.extension,
        "sha256": item.sha256,
    }


def usage_record(
    runtime: RuntimeData, brick: str, used: list[CalibrationUsed], finished_at: datetime
) -> dict[str, Any] | None:
    """The usage record of a run, or None when there is nothing to tell.

    Nothing to tell: no dataset came from the CalDB (local files only), or the target names
    no observation (neither ``burst_id`` nor ``obs_id``).
    """
    observation = runtime.target.get("burst_id") or runtime.target.get("obs_id")
    from_caldb = [item for item in used if item.source == "caldb" and item.selection]
    if not observation or not from_caldb:
        return None
    return {
        "record_id": new_record_id(),
        "observation": observation,
        "brick": brick,
        "brick_version": __version__,
        "finished_at": finished_at.astimezone(UTC).isoformat(timespec="seconds"),
        "selections": [_selection(item) for item in from_caldb],
    }


def report_usage(context: BrickContext, brick: str) -> None:
    """Queue and send the run's usage record; say what happened in the run's messages."""
    if context.runtime.caldb.get("report_usage", True) is False:
        return
    record = usage_record(context.runtime, brick, context.calibration_used, datetime.now(UTC))
    if record is None:
        return
    try:
        report = context.calibration.report_usage(record)
    except Exception as error:  # never fail a run that has done its work
        log.exception("the usage record of %s could not be queued", brick)
        context.warning(f"usage record not reported: {type(error).__name__}: {error}")
        return
    if report is None:
        context.info("usage record not reported: no CalDB token")
    elif report.remaining or report.rejected:
        context.warning(report.line())
    else:
        context.info(report.line())
