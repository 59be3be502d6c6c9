"""``mxt-products``: image, exposure map, spectra, light curves and previews of a source.

The source is at the position of the ``source_radec`` parameter, else the brightest of the
``srclist`` input (``mxt-detect``); the other sources of the list are cut out of its regions.
Without either, only the image and the exposure map are made. Every parameter and the source
list are checked before anything is written. The science is in
:mod:`pipeline_bricks.mxt.products`; this class reads the inputs and calibration, chooses the
regions, and writes (names ``<obs_id>_mxt_<what>``):

* ``img.fits``, ``expo.fits``: counts image and vignetted exposure map [s], one SKY WCS;
* ``src.pha``, ``bkg.pha``, ``src.arf`` and a copy of the MATRIX file: an XSPEC-ready
  spectrum (``RESPFILE``, ``ANCRFILE``, ``BACKFILE`` point at the others);
* ``lc_snr.fits``, ``lc_bb.fits``: net light curves, constant S/N and Bayesian blocks;
* ``img.png``, ``lc.png``: previews.
"""

from __future__ import annotations

import numpy as np
from astropy.io import fits
from astropy.time import Time, TimeDelta
from astropy.wcs import WCS

from pipeline_bricks.framework.brick import Brick, BrickContext
from pipeline_bricks.framework.errors import BrickError, NoData
from pipeline_bricks.mxt import caldata
from pipeline_bricks.mxt.bricks.common import (
    dead_pixel_mask,
    events_sky_wcs,
    load_calibration,
    load_events,
    observation_date,
    observation_keywords,
    output_name,
)
from pipeline_bricks.mxt.bricks.products_source import (
    ExtractionParameters,
    SourceProducts,
    Target,
)
from pipeline_bricks.mxt.eventfile import EventList, read_attitude
from pipeline_bricks.mxt.gti import gti_exposure
from pipeline_bricks.mxt.parameters import PRODUCTS
from pipeline_bricks.mxt.products import exposure_maps, sky_image
from pipeline_bricks.registry import register

__all__ = ["MxtProducts", "utc_date"]


def _source_radec(context: BrickContext) -> Target | None:
    """The ``source_radec`` parameter [deg] (checked on the sky by its declaration)."""
    given = context.parameter("source_radec")
    if given is None:
        return None
    ra, dec = given
    return Target(ra, dec, 0.0)


def _source_list(context: BrickContext) -> list[Target]:
    """The rows of the ``srclist`` input (none without one), brightest first."""
    if not context.runtime.inputs.get("srclist"):
        return []
    path = context.input("srclist")
    try:
        with fits.open(path) as hdus:
            table = hdus["SRCLIST"].data
            if table is None:
                return []
            rows = [(float(r["RA"]), float(r["DEC"]), float(r["ERR_R90"])) for r in table]
    except (OSError, KeyError, ValueError, TypeError) as error:
        raise BrickError(f"cannot read the source list {path.name}: {error}") from None
    sources = [Target(*row) for row in rows]  # mxt-detect sorts by decreasing DETML
    if not all(np.isfinite([s.ra, s.dec]).all() and abs(s.dec) <= 90 for s in sources):
        raise BrickError(f"the source list {path.name} has a position that is not on the sky")
    return sources


def _image_hdus(image: np.ndarray, header: fits.Header, extras: fits.Header) -> fits.HDUList:
    primary = fits.PrimaryHDU(image, header=header)
    primary.header.extend(extras, unique=True)
    primary.header["TELESCOP"] = ("SVOM", "mission")
    primary.header["INSTRUME"] = ("MXT", "instrument")
    return fits.HDUList([primary])


def _mean_energy_kev(events: EventList) -> float:
    energy = events.column("ENERGY") if "ENERGY" in events.columns else np.empty(0)
    return float(np.mean(energy)) if energy.size else 1.5


@register
class MxtProducts(Brick):
    """Sky image, exposure map, spectra, light curves and previews of an MXT observation."""

    name = "mxt-products"
    description = "image, exposure map, OGIP spectra and light curves, PNG previews"
    inputs = ("events", "attitude", "srclist")
    codenames = ("TELDEF", "BADPIX", "PSF", "VIGNET", "SPECRESP", "MATRIX")
    parameters = PRODUCTS

    def run(self, context: BrickContext) -> None:
        """Write the products; without a source, the image and exposure map only."""
        events = load_events(context)
        attitude = read_attitude(context.input("attitude"))
        # Every parameter and the source list are checked before anything is made.
        given, sources = _source_radec(context), _source_list(context)
        parameters = ExtractionParameters.from_context(context)
        if len(events) == 0:
            raise NoData("the event list is empty")
        if events.gti_start.size == 0:
            raise NoData("the event list has no good time")
        date = observation_date(events)
        teldef = load_calibration(context, "TELDEF", caldata.read_teldef, date)
        vignet = load_calibration(context, "VIGNET", caldata.read_vignet, date)
        dead = dead_pixel_mask(context, events)
        wcs = events_sky_wcs(events)
        extras = observation_keywords(events)
        exposure_s = float(
            events.header.get("EXPOSURE", gti_exposure(events.gti_start, events.gti_stop))
        )
        extras["EXPOSURE"] = (exposure_s, "[s] exposure of the events")
        size = (teldef.sky_xsiz, teldef.sky_ysiz)
        energy_kev = context.parameter("vignetting_energy_kev")
        if energy_kev is None:
            energy_kev = _mean_energy_kev(events)
        try:
            image, image_header = sky_image(events.column("X"), events.column("Y"), wcs, size)
            gti = (events.gti_start, events.gti_stop)
            pointing = (attitude.time, attitude.ra, attitude.dec, attitude.roll)
            expo, live_map, expo_header = exposure_maps(
                gti, pointing, teldef, wcs, bad_mask=dead, vignet=vignet, energy_kev=energy_kev
            )
        except ValueError as error:
            raise BrickError(f"image or exposure map: {error}") from None
        expo_header["ENERGY"] = (energy_kev, "[keV] energy of the vignetting")
        context.write_fits(
            _image_hdus(image, image_header, extras),
            self._name(context, events, "img.fits"),
            "image",
        )
        context.write_fits(
            _image_hdus(expo, expo_header, extras),
            self._name(context, events, "expo.fits"),
            "exposure_map",
        )
        context.results.update(image_counts=int(image.sum()), exposure_s=round(exposure_s, 3))
        target = given or (sources[0] if sources else None)
        if target is None:
            context.warning("no source to extract (no srclist row, no source_radec): image only")
            return
        products = SourceProducts(
            context, events, attitude=attitude, teldef=teldef, wcs=wcs, extras=extras,
            live_map=live_map, parameters=parameters,
        )  # fmt: skip
        products.extract(target, [(s.ra, s.dec) for s in sources], date)
        self._previews(context, events, image=image, wcs=wcs, target=target, products=products)

    @staticmethod
    def _name(context: BrickContext, events: EventList, suffix: str) -> str:
        return output_name(context, events, suffix)

    def _previews(
        self,
        context: BrickContext,
        events: EventList,
        *,
        image: np.ndarray,
        wcs: WCS,
        target: Target,
        products: SourceProducts,
    ) -> None:
        from pipeline_bricks.mxt.products import previews  # noqa: PLC0415 (loads matplotlib)

        name = self._name(context, events, "img.png")
        title = f"MXT {events.primary.get('OBS_ID', '')}".strip()
        previews.image_preview(
            image, wcs, (target.ra, target.dec), max(target.err_r90_arcsec, 1.0),
            context.output_dir / name, zoom_arcmin=15.0, title=title,
        )  # fmt: skip
        context.register_output(name, "preview")
        if products.light_curves is None:
            return
        constant, blocks, gaps = products.light_curves
        trigger = "TRIGTIME" in events.header
        t0 = float(events.header["TRIGTIME"] if trigger else events.gti_start[0])
        name = self._name(context, events, "lc.png")
        previews.lightcurve_preview(
            constant, blocks, gaps, context.output_dir / name, t0,
            log_time=bool(np.all(constant.start > t0)), title=f"{title}: net rate, source region",
            t0_utc=utc_date(events.header, t0), t0_is="trigger" if trigger else "first GTI start",
        )  # fmt: skip
        context.register_output(name, "preview")


def utc_date(header: fits.Header, seconds: float) -> str | None:
    """The UTC date (ISO, ms) of ``seconds`` of the header's time system, None if it has none.

    The reference is ``MJDREFI + MJDREFF`` (or ``MJDREF``) in ``TIMESYS`` (TT by default).
    """
    if "MJDREFI" in header and "MJDREFF" in header:
        reference = (float(header["MJDREFI"]), float(header["MJDREFF"]))
    elif "MJDREF" in header:
        reference = (float(header["MJDREF"]), 0.0)
    else:
        return None
    scale = str(header.get("TIMESYS", "TT")).strip().lower()
    if scale not in Time.SCALES:
        return None
    epoch = Time(*reference, format="mjd", scale=scale)
    return str((epoch + TimeDelta(seconds, format="sec")).utc.isot)
