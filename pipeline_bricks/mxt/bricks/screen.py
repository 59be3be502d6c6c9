"""``mxt-screen``: GTIs, bad/hot/flickering pixels, pattern and energy selection."""

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
from pipeline_bricks.mxt.eventfile import EventList, read_attitude
from pipeline_bricks.mxt.gti import gti_exposure, gti_from_attitude, in_gti, intersect_gtis
from pipeline_bricks.mxt.parameters import SCREEN
from pipeline_bricks.mxt.screen import (
    STATUS_BAD_PIXEL,
    STATUS_HOT_PIXEL,
    STATUS_INVALID_PATTERN,
    STATUS_OUT_OF_BAND,
    STATUS_OUTSIDE_GTI,
    find_hot_pixels,
    pixels_to_mask,
    screen_events,
)
from pipeline_bricks.registry import register

__all__ = ["MxtScreen"]

_REASONS = {
    "invalid_pattern": STATUS_INVALID_PATTERN,
    "bad_pixel": STATUS_BAD_PIXEL,
    "hot_pixel": STATUS_HOT_PIXEL,
    "outside_gti": STATUS_OUTSIDE_GTI,
    "out_of_band": STATUS_OUT_OF_BAND,
}


def _frames(events: EventList) -> tuple[np.ndarray, int]:
    """FRAME of each event and the number of frames of the observation."""
    frame = events.column("FRAME").astype(np.int64)
    if frame.size and frame.min() < 0:
        raise BrickError("FRAME must be >= 0")
    n_frames = int(frame.max()) + 1 if frame.size else 1
    header = events.header
    if {"TSTART", "TSTOP", "FRAMETIM"} <= set(header) and float(header["FRAMETIM"]) > 0:
        span = (float(header["TSTOP"]) - float(header["TSTART"])) / float(header["FRAMETIM"])
        n_frames = max(n_frames, int(np.ceil(span)))
    return frame, n_frames


@register
class MxtScreen(Brick):
    """Keep the X-ray events of the good time, off bad, hot and flickering pixels, in band."""

    name = "mxt-screen"
    description = "GTIs from attitude/SAA, bad/hot/flickering pixels, pattern and energy cuts"
    inputs = ("events", "attitude")
    codenames = ("BADPIX",)
    parameters = SCREEN

    def run(self, context: BrickContext) -> None:
        """Write the cleaned events with the new GTI and exposure keywords."""
        events = load_events(context)
        attitude = read_attitude(context.input("attitude"))
        for needed in ("PATTERN", "ENERGY"):
            if needed not in events.columns:
                raise BrickError(f"the event list has no {needed} column: run mxt-calibrate first")
        band = context.parameter("energy_band_kev")
        patterns = context.parameter("patterns")
        date = observation_date(events)
        bad = load_calibration(context, "BADPIX", caldata.read_badpix, date).mask()
        gti = intersect_gtis(
            (events.gti_start, events.gti_stop),
            gti_from_attitude(
                attitude.time, attitude.settled, attitude.in_saa,
                min_length_s=context.parameter("min_gti_s"),
            ),
        )  # fmt: skip
        if gti[0].size == 0:
            raise NoData("no good time: the attitude is never settled outside the SAA")
        time, rawx, rawy = events.column("TIME"), events.column("RAWX"), events.column("RAWY")
        frame, n_frames = _frames(events)
        good_time = in_gti(time, *gti)
        hot = find_hot_pixels(
            rawx[good_time], rawy[good_time], frame[good_time], n_frames,
            context.parameter("hot_pixel_probability"),
            known_bad=bad,
        )  # fmt: skip
        keep, status = screen_events(
            time, rawx, rawy, events.column("PATTERN"), events.column("ENERGY"),
            gti=gti, bad_mask=bad, hot_mask=pixels_to_mask(hot, bad.shape),
            energy_band=band, patterns=patterns,
            status=events.column("STATUS") if "STATUS" in events.columns else None,
        )  # fmt: skip
        events.set_column("STATUS", "I", status)
        cleaned = events.select(keep)
        cleaned.gti_start, cleaned.gti_stop = gti
        cleaned.hot_pixels = np.array(hot, dtype=np.int64).reshape(-1, 2)
        self._exposure_keywords(cleaned, gti, len(hot), band)
        context.results.update(
            events_in=len(events),
            events_kept=len(cleaned),
            exposure_s=round(gti_exposure(*gti), 3),
            gti_count=int(gti[0].size),
            hot_pixels=[list(p) for p in hot],
            flagged={k: int(np.count_nonzero(status & bit)) for k, bit in _REASONS.items()},
        )
        if len(cleaned) == 0:
            raise NoData("no event left after screening (GTIs, pixels, patterns, band)")
        write_events(context, cleaned, "cl", "cleaned_events")
        if hot:
            context.info(f"{len(hot)} hot or flickering pixels found in the data: {hot[:10]}")

    @staticmethod
    def _exposure_keywords(
        events: EventList, gti: tuple[np.ndarray, np.ndarray], n_hot: int, band: tuple[float, float]
    ) -> None:
        exposure = gti_exposure(*gti)
        for header in (events.header, events.primary):
            header["ONTIME"] = (exposure, "[s] sum of the GTIs")
            # A frame-store pnCCD has no dead time we model: the live time is the on time.
            header["LIVETIME"] = (exposure, "[s] on time x live fraction (1)")
            header["EXPOSURE"] = (exposure, "[s] exposure of the screened events")
        events.header["NHOTPIX"] = (n_hot, "hot or flickering pixels found in the data")
        events.header["E_MIN"] = (band[0], "[keV] lower bound of the kept band")
        events.header["E_MAX"] = (band[1], "[keV] upper bound of the kept band")
        events.header["SCREENED"] = (True, "mxt-screen applied")
