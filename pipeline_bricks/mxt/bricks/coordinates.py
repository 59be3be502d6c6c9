"""``mxt-coordinates``: RAW -> DET -> SKY X/Y and RA/Dec (calibration_formats.md §2.1)."""

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
from pipeline_bricks.mxt.coordinates import (
    det_to_radec,
    interpolate_attitude,
    raw_to_det,
)
from pipeline_bricks.mxt.eventfile import EventList, read_attitude
from pipeline_bricks.mxt.parameters import COORDINATES
from pipeline_bricks.mxt.sky import radec_to_sky, sky_wcs
from pipeline_bricks.registry import register

__all__ = ["MxtCoordinates"]


def _nominal_pointing(events: EventList) -> tuple[float, float]:
    """RA_NOM, DEC_NOM (else RA_PNT, DEC_PNT) of the event list [deg]."""
    for ra_key, dec_key in (("RA_NOM", "DEC_NOM"), ("RA_PNT", "DEC_PNT")):
        for header in (events.header, events.primary):
            if ra_key in header and dec_key in header:
                ra, dec = float(header[ra_key]), float(header[dec_key])
                if np.isfinite(ra) and np.isfinite(dec) and -90 <= dec <= 90:
                    return ra % 360.0, dec
    raise BrickError("the event list has no RA_NOM/DEC_NOM (nor RA_PNT/DEC_PNT)")


@register
class MxtCoordinates(Brick):
    """DETX/DETY, sky X/Y (tangent plane about RA_NOM/DEC_NOM) and RA/Dec of every event."""

    name = "mxt-coordinates"
    description = "RAW -> DET -> SKY X/Y and RA/Dec with the TELDEF and the attitude"
    inputs = ("events", "attitude")
    codenames = ("TELDEF",)
    parameters = COORDINATES

    def run(self, context: BrickContext) -> None:
        """Add DETX, DETY, X, Y, RA, DEC; events without attitude get NaN."""
        events = load_events(context)
        attitude = read_attitude(context.input("attitude"))
        if len(events) == 0:
            raise NoData("the event list has no event")
        teldef = load_calibration(context, "TELDEF", caldata.read_teldef, observation_date(events))
        ra_nom, dec_nom = _nominal_pointing(events)
        # In-pixel randomisation, reproducible: the seed is a parameter (default 0).
        rng = np.random.default_rng(context.parameter("seed"))
        detx, dety = raw_to_det(events.column("RAWX"), events.column("RAWY"), teldef, rng)
        ra_pnt, dec_pnt, roll = interpolate_attitude(
            events.column("TIME"), attitude.time, attitude.ra, attitude.dec, attitude.roll,
            outside="nan",
        )  # fmt: skip
        ra, dec = det_to_radec(detx, dety, teldef, ra_pnt, dec_pnt, roll)
        wcs = sky_wcs(teldef, ra_nom, dec_nom)
        x, y = radec_to_sky(ra, dec, wcs)
        size = (teldef.raw_xsiz, teldef.raw_ysiz)
        events.set_column("DETX", "E", detx.astype(np.float32), unit="pixel", limits=(1, size[0]))
        events.set_column("DETY", "E", dety.astype(np.float32), unit="pixel", limits=(1, size[1]))
        for name, values, axis in (("X", x, 0), ("Y", y, 1)):
            events.set_column(
                name, "E", values.astype(np.float32), unit="pixel",
                limits=(1, (teldef.sky_xsiz, teldef.sky_ysiz)[axis]),
                coord_type=str(wcs.wcs.ctype[axis]), coord_unit="deg",
                coord_ref_point=float(wcs.wcs.crpix[axis]),
                coord_ref_value=float(wcs.wcs.crval[axis]),
                coord_inc=float(wcs.wcs.cdelt[axis]),
            )  # fmt: skip
        events.set_column("RA", "D", ra, unit="deg")
        events.set_column("DEC", "D", dec, unit="deg")
        for header in (events.header, events.primary):
            header["RA_NOM"] = (ra_nom, "[deg] sky X/Y tangent point")
            header["DEC_NOM"] = (dec_nom, "[deg] sky X/Y tangent point")
        events.header["RADECSYS"] = ("FK5", "celestial frame of RA/DEC and X/Y")
        events.header["EQUINOX"] = (2000.0, "equinox of RA/DEC")
        write_events(context, events, "sky", "sky_events")
        without = int(np.count_nonzero(~np.isfinite(ra)))
        context.results.update(events=len(events), without_attitude=without)
        if without:
            context.warning(f"{without} events fall outside the attitude file: RA/DEC/X/Y NaN")
