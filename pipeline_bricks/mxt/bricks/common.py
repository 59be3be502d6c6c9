"""What the MXT bricks share: the observation date, output names, event-list I/O."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from pipeline_bricks.framework.brick import BrickContext
from pipeline_bricks.framework.errors import BrickError
from pipeline_bricks.mxt.eventfile import EventList, read_events

__all__ = ["load_events", "observation_date", "write_events"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def observation_date(events: EventList) -> str:
    """The observation start ``DATE-OBS`` (UTC, ISO to the second): the calibration epoch.

    Raises
    ------
    BrickError
        If neither the EVENTS nor the primary header has a readable DATE-OBS.
    """
    for header in (events.header, events.primary):
        text = str(header.get("DATE-OBS", "")).strip()
        if not text:
            continue
        try:
            start = datetime.fromisoformat(text)
        except ValueError:
            raise BrickError(f"DATE-OBS {text!r} is not an ISO date") from None
        return start.replace(tzinfo=None, microsecond=0).isoformat()
    raise BrickError("the event list has no DATE-OBS: the calibration epoch cannot be chosen")


def load_events(context: BrickContext) -> EventList:
    """The event list of the job's ``events`` input."""
    return read_events(context.input("events"))


def write_events(context: BrickContext, events: EventList, stage: str, kind: str) -> Path:
    """Write ``events`` as ``<obs_id>_mxt_<stage>_evt.fits`` and register it as ``kind``."""
    observation = str(context.runtime.target.get("obs_id") or events.primary.get("OBS_ID", "mxt"))
    name = f"{_UNSAFE.sub('_', observation)[:40]}_mxt_{stage}_evt.fits"
    events.primary["CREATOR"] = "pipeline_bricks"
    return context.write_fits(events.hdulist(), name, kind)
