"""What the MXT bricks share: the observation date, output names, event-list I/O."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from pipeline_bricks.framework.brick import BrickContext
from pipeline_bricks.framework.errors import BrickError
from pipeline_bricks.mxt import caldata
from pipeline_bricks.mxt.eventfile import EventList, read_events
from pipeline_bricks.mxt.screen import pixels_to_mask
from pipeline_bricks.mxt.sky import event_sky_wcs

__all__ = [
    "dead_pixel_mask",
    "events_sky_wcs",
    "load_calibration",
    "load_events",
    "observation_date",
    "observation_keywords",
    "output_name",
    "write_events",
]

T = TypeVar("T")

# Keywords an MXT product repeats from its event list: which observation, when, pointing.
_OBSERVATION_KEYWORDS = (
    "OBS_ID", "TARGET", "DATE-OBS", "DATE-END", "TSTART", "TSTOP", "TIMESYS", "MJDREFI",
    "MJDREFF", "TIMEUNIT", "TIMEREF", "TRIGTIME", "RA_PNT", "DEC_PNT", "PA_PNT", "EQUINOX",
    "RADECSYS",
)  # fmt: skip

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


def load_calibration(
    context: BrickContext, codename: str, reader: Callable[[Path, int], T], date: str
) -> T:
    """Calibration ``codename`` at ``date`` (recorded as used), read by ``reader(path, hdu)``."""
    found = context.calibrate(codename, date=date)
    return reader(found.path, found.extension)


def dead_pixel_mask(context: BrickContext, events: EventList) -> np.ndarray:
    """Bool ``[RAWY - 1, RAWX - 1]``: the pixels whose events were discarded.

    The BADPIX pixels at the observation date, and the hot and flickering pixels
    ``mxt-screen`` found in the data (the event list's ``HOTPIX`` extension).
    """
    bad = load_calibration(context, "BADPIX", caldata.read_badpix, observation_date(events))
    mask = bad.mask()
    if events.hot_pixels is None:
        context.warning("the event list has no HOTPIX extension: was it screened by mxt-screen?")
    elif len(events.hot_pixels):
        try:
            mask |= pixels_to_mask(events.hot_pixels, mask.shape)
        except ValueError as error:
            raise BrickError(f"the HOTPIX extension: {error}") from None
    return mask


def output_name(context: BrickContext, events: EventList, suffix: str) -> str:
    """``<obs_id>_mxt_<suffix>``: the observation from the job's target, else from the list."""
    observation = str(context.runtime.target.get("obs_id") or events.primary.get("OBS_ID", "mxt"))
    return f"{_UNSAFE.sub('_', observation)[:40]}_mxt_{suffix}"


def write_events(context: BrickContext, events: EventList, stage: str, kind: str) -> Path:
    """Write ``events`` as ``<obs_id>_mxt_<stage>_evt.fits`` and register it as ``kind``."""
    events.primary["CREATOR"] = "pipeline_bricks"
    name = output_name(context, events, f"{stage}_evt.fits")
    return context.write_fits(events.hdulist(), name, kind)


def observation_keywords(events: EventList) -> fits.Header:
    """The observation's identity, time and pointing keywords, for a product's header."""
    header = fits.Header()
    for key in _OBSERVATION_KEYWORDS:
        for source in (events.header, events.primary):
            if key in source:
                header[key] = (source[key], source.comments[key])
                break
    return header


def events_sky_wcs(events: EventList) -> WCS:
    """The SKY WCS the ``X``, ``Y`` columns of ``mxt-coordinates`` carry.

    Raises
    ------
    BrickError
        If the list has no such columns or they lack their WCS.
    """
    columns = [events.columns[name] for name in ("X", "Y") if name in events.columns]
    try:
        return event_sky_wcs(fits.BinTableHDU.from_columns(columns).header)
    except (ValueError, TypeError) as error:
        raise BrickError(f"{error}: run mxt-coordinates first") from None
