"""``mxt-detect``: point sources of a screened event list, with RA/Dec and 90 % radii.

Stage 1 fits the PSF to a binned DET image; stage 2 fits all sources together by maximum
likelihood (Cash) on the DET pixels (:mod:`pipeline_bricks.mxt.detect`). The positions go to
the sky through the TELDEF and the attitude over the good time, and are written as
``<obs_id>_mxt_srclist.fits`` and as the ``sources`` result of processing_status.json.
"""

from __future__ import annotations

from typing import Any

from pipeline_bricks.framework.brick import Brick, BrickContext
from pipeline_bricks.framework.errors import BrickError, NoData
from pipeline_bricks.mxt import caldata
from pipeline_bricks.mxt.bricks.common import (
    dead_pixel_mask,
    load_calibration,
    load_events,
    observation_date,
    observation_keywords,
    output_name,
)
from pipeline_bricks.mxt.coordinates import det_live_mask
from pipeline_bricks.mxt.detect import DetectParams, detect
from pipeline_bricks.mxt.detect.srclist import (
    SkySource,
    det_pixel_arcsec,
    exposure_attitude,
    sky_sources,
    srclist_hdus,
)
from pipeline_bricks.mxt.eventfile import EventList, read_attitude
from pipeline_bricks.mxt.gti import gti_exposure
from pipeline_bricks.mxt.parameters import DETECT
from pipeline_bricks.registry import register

__all__ = ["MxtDetect", "source_record"]


def source_record(source: SkySource) -> dict[str, Any]:
    """A source as processing_status.json reports it (units in the names)."""
    found = source.source
    return {
        "ra_deg": round(source.ra, 6),
        "dec_deg": round(source.dec, 6),
        "err_r90_arcsec": round(source.err_r90_arcsec, 2),
        "counts": round(found.counts, 2),
        "counts_err": round(found.counts_err, 2),
        "rate_cps": round(found.rate, 5),
        "rate_err_cps": round(found.rate_err, 5),
        "detml": round(found.detml, 2),
        "detx": round(found.detx, 3),
        "dety": round(found.dety, 3),
    }


def _exposure_s(events: EventList) -> float:
    exposure = float(events.header.get("EXPOSURE", gti_exposure(events.gti_start, events.gti_stop)))
    if not exposure > 0:
        raise NoData("the event list has no exposure")
    return exposure


@register
class MxtDetect(Brick):
    """Two-stage PSF detection in DET coordinates; the source list on the sky."""

    name = "mxt-detect"
    description = "source detection: PSF histogram fit, then joint Cash ML fit, RA/Dec list"
    inputs = ("events", "attitude")
    codenames = ("PSF", "TELDEF", "BADPIX")
    parameters = DETECT

    def run(self, context: BrickContext) -> None:
        """Write the source list; its sources are also the ``sources`` result."""
        events = load_events(context)
        attitude = read_attitude(context.input("attitude"))
        for needed in ("DETX", "DETY"):
            if needed not in events.columns:
                message = f"the event list has no {needed} column: run mxt-coordinates first"
                raise BrickError(message)
        if len(events) == 0:
            raise NoData("the event list is empty")
        date = observation_date(events)
        teldef = load_calibration(context, "TELDEF", caldata.read_teldef, date)
        psf = load_calibration(context, "PSF", caldata.read_psf, date)
        live = det_live_mask(dead_pixel_mask(context, events), teldef)
        systematic_arcsec = context.parameter("systematic_r90_arcsec")
        params = DetectParams(
            detml_min=context.parameter("detml_min"),
            max_sources=context.parameter("max_sources"),
            systematic_r90_px=systematic_arcsec / det_pixel_arcsec(teldef),
        )
        exposure_s = _exposure_s(events)
        try:
            found = detect(
                events.column("DETX"), events.column("DETY"), live, psf, exposure_s, params=params
            )
            pointing = exposure_attitude(
                attitude.time, attitude.ra, attitude.dec, attitude.roll,
                events.gti_start, events.gti_stop,
            )  # fmt: skip
        except ValueError as error:
            raise BrickError(f"source detection: {error}") from None
        sources = sky_sources(found.sources, teldef, *pointing)
        header = observation_keywords(events)
        header["EXPOSURE"] = (exposure_s, "[s] exposure of the events")
        header["BKGRATE"] = (found.background_rate, "[count/s/pixel] background per DET pixel")
        header["DETMLMIN"] = (params.detml_min, "smallest DETML kept")
        header["SYSR90"] = (systematic_arcsec, "[arcsec] systematic 90% radius (in ERR_R90)")
        name = output_name(context, events, "srclist.fits")
        context.write_fits(srclist_hdus(sources, header), name, "srclist")
        context.results.update(
            n_sources=len(sources),
            exposure_s=round(exposure_s, 3),
            background_cps_per_pixel=float(f"{found.background_rate:.4g}"),
            sources=[source_record(s) for s in sources],
        )
        if found.n_outside:  # e.g. a bright source just outside the field (its PSF on the CCD)
            context.info(f"{found.n_outside} source(s) fitted off the CCD: modelled, not listed")
        if not sources:
            context.warning(f"no source above DETML {params.detml_min} in {len(events)} events")
        else:
            best = sources[0]
            context.info(
                f"{len(sources)} source(s); brightest at RA {best.ra:.5f} Dec {best.dec:.5f} "
                f"(R90 {best.err_r90_arcsec:.1f} arcsec, {best.source.counts:.0f} counts)"
            )
