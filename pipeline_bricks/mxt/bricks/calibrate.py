"""``mxt-calibrate``: patterns, gain, CTI, PHA -> PI and ENERGY (calibration_formats.md §3)."""

from __future__ import annotations

import numpy as np

from pipeline_bricks.framework.brick import Brick, BrickContext
from pipeline_bricks.framework.errors import BrickError, NoData
from pipeline_bricks.mxt import caldata
from pipeline_bricks.mxt.bricks.common import (
    load_calibration,
    load_events,
    observation_date,
    write_events,
)
from pipeline_bricks.mxt.calibrate import calibrate_events
from pipeline_bricks.mxt.parameters import CALIBRATE
from pipeline_bricks.mxt.patterns import BOX_DX, BOX_DY, N_COLUMNS
from pipeline_bricks.registry import register

__all__ = ["MxtCalibrate", "exclude_bad_neighbours"]


def _next_to_bad(bad: np.ndarray) -> np.ndarray:
    """Pixels with a bad pixel among their 8 neighbours (mask ``[RAWY-1, RAWX-1]``)."""
    padded = np.pad(bad, 1)
    near = np.zeros_like(bad)
    rows, columns = bad.shape
    for dy, dx in zip(BOX_DY, BOX_DX, strict=True):
        if dx or dy:
            near |= padded[1 + dy : 1 + dy + rows, 1 + dx : 1 + dx + columns]
    return near


def exclude_bad_neighbours(
    phas: np.ndarray, rawx: np.ndarray, rawy: np.ndarray, bad: np.ndarray, offsets: np.ndarray
) -> np.ndarray:
    """PHAS with each BADPIX neighbour set to its column OFFSET [ADU], i.e. no charge.

    A hot or flickering neighbour would add its own signal to the pattern and a dead one
    carries none, so neither may count; the central pixel is left alone (mxt-screen
    flags events centred on a bad pixel). ``bad`` is the BADPIX mask ``[RAWY-1, RAWX-1]``.
    Only the events next to a bad pixel are touched (a few per cent).
    """
    rawx, rawy = np.asarray(rawx, np.int64), np.asarray(rawy, np.int64)
    cleaned = np.array(phas, copy=True)
    touched = np.flatnonzero(_next_to_bad(bad)[rawy - 1, rawx - 1])
    cols = rawx[touched, None] + BOX_DX
    rows = rawy[touched, None] + BOX_DY
    on_ccd = (cols >= 1) & (cols <= N_COLUMNS) & (rows >= 1) & (rows <= bad.shape[0])
    neighbour_bad = np.zeros(cols.shape, dtype=bool)
    neighbour_bad[on_ccd] = bad[rows[on_ccd] - 1, cols[on_ccd] - 1]
    neighbour_bad[:, 4] = False
    event, pixel = np.nonzero(neighbour_bad)
    level = np.rint(offsets[cols[event, pixel] - 1]).astype(cleaned.dtype)
    cleaned[touched[event], pixel] = level
    return cleaned


@register
class MxtCalibrate(Brick):
    """Per-column gain and offset, CTI, split-event patterns, PHA -> PI and ENERGY."""

    name = "mxt-calibrate"
    description = "patterns, per-column gain/offset, CTI, PHA -> PI and ENERGY"
    inputs = ("events",)
    codenames = ("GAIN", "CTI", "BADPIX", "EVTTHR")
    parameters = CALIBRATE

    def run(self, context: BrickContext) -> None:
        """Add PHA, PATTERN, MULTIPLICITY, ENERGY, PI (and STATUS bits) to the events."""
        events = load_events(context)
        if len(events) == 0:
            raise NoData("the event list has no event")
        if "PHAS" not in events.columns:
            raise BrickError("the event list has no PHAS column (not an MXT L1 event list)")
        date = observation_date(events)
        gains = load_calibration(context, "GAIN", caldata.read_gain, date)
        cti = load_calibration(context, "CTI", caldata.read_cti, date)
        bad = load_calibration(context, "BADPIX", caldata.read_badpix, date).mask()
        split = self._split_threshold(context, events.header, date)
        rawx, rawy = events.column("RAWX"), events.column("RAWY")
        if np.any((rawx < 1) | (rawx > N_COLUMNS) | (rawy < 1) | (rawy > bad.shape[0])):
            raise BrickError("RAWX/RAWY outside 1..256: not an MXT event list")
        phas = exclude_bad_neighbours(events.column("PHAS"), rawx, rawy, bad, gains.offset_adu)
        status = events.column("STATUS") if "STATUS" in events.columns else None
        result = calibrate_events(
            phas, rawx, rawy, gains.gain_ev_per_adu, gains.offset_adu,
            split_threshold_adu=split, cti_norm=cti.norm, cti_e0_kev=cti.e0_kev,
            cti_index=cti.index, cti_n_offset=cti.n_offset, status=status,
        )  # fmt: skip
        events.set_column("PHA", "J", result.pha, unit="adu")
        events.set_column("PATTERN", "I", result.pattern, limits=(-1, 12))
        events.set_column("MULTIPLICITY", "I", result.multiplicity, limits=(0, 4))
        events.set_column("ENERGY", "E", result.energy, unit="keV")
        events.set_column("PI", "J", result.pi, unit="chan", limits=(0, 1023))
        events.set_column("STATUS", "I", result.status)
        events.header["SPLTHRU"] = (split, "[adu] split threshold used for the patterns")
        events.header["GAINAPP"] = (True, "per-column gain and offset applied")
        events.header["CTIAPP"] = (True, "charge transfer inefficiency corrected")
        events.header["PI_EV"] = (10.0, "[eV] width of a PI channel (EBOUNDS grid)")
        write_events(context, events, "cal", "calibrated_events")
        invalid = int(np.count_nonzero(result.pattern < 0))
        context.results.update(
            events=len(events),
            invalid_patterns=invalid,
            multiplicity_fractions={
                str(m): round(float(np.mean(result.multiplicity == m)), 4) for m in range(1, 5)
            },
        )
        if invalid:
            context.info(f"{invalid} of {len(events)} events have no X-ray pattern (STATUS 1)")

    @staticmethod
    def _split_threshold(context: BrickContext, header: object, date: str) -> float:
        """SPLTHR: a parameter, else the event-list header, else the onboard EVTTHR upload."""
        value = context.parameter("split_threshold_adu")  # checked: in (0, 4096)
        if value is None and "SPLTHR" in header:  # type: ignore[operator]
            value = header["SPLTHR"]  # type: ignore[index]
        if value is None:
            thresholds = context.calibrate("EVTTHR", date=date)
            value = caldata.read_evtthr(thresholds.path).split_adu
        try:
            split = float(value)
        except (TypeError, ValueError):
            raise BrickError(f"the split threshold {value!r} is not a number") from None
        if not 0 < split < 4096:
            raise BrickError(f"the split threshold {split} ADU is outside 0..4096")
        return split
