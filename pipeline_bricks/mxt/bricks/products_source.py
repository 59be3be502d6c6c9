"""The source part of ``mxt-products``: its target, regions, spectra with their ARF, light curves.

Regions (parameters, arcmin): a source circle of ``source_radius_arcmin`` (5 arcmin: half of the
PSF) and a background annulus ``background_radii_arcmin`` (10-20 arcmin) about the source, minus
a source circle about every other source of the list. The PSF halo in the annulus is
accounted for (:mod:`pipeline_bricks.mxt.products.extraction`).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from pipeline_bricks.framework.brick import BrickContext
from pipeline_bricks.framework.errors import BrickError
from pipeline_bricks.mxt import caldata
from pipeline_bricks.mxt.bricks.common import (
    load_calibration,
    output_name,
)
from pipeline_bricks.mxt.coordinates import Teldef, off_axis_angle, radec_to_det
from pipeline_bricks.mxt.detect.srclist import exposure_attitude
from pipeline_bricks.mxt.eventfile import Attitude, EventList
from pipeline_bricks.mxt.products import (
    Background,
    Gap,
    LightCurveBins,
    Region,
    arf_for_region,
    backscal,
    bayesian_block_bins,
    constant_snr_bins,
    find_gaps,
    pha_spectrum,
    region_area_ratio,
    write_arf_hdus,
    write_lightcurve_hdus,
    write_pha_hdus,
)
from pipeline_bricks.mxt.products.extraction import (
    ExtractionRegion,
    net_psf_fraction,
    region_psf_fraction,
    separate_source_and_background,
    sky_to_det_matrix,
)
from pipeline_bricks.mxt.sky import radec_to_sky

__all__ = ["ExtractionParameters", "SourceProducts", "Target"]


@dataclass(frozen=True)
class Target:
    """The source the spectra and light curves are extracted for."""

    ra: float  # [deg]
    dec: float  # [deg]
    err_r90_arcsec: float  # 0 when unknown (a position given as a parameter)


def _radii(context: BrickContext) -> tuple[float, float, float]:
    """Source radius and background inner, outer radii [arcmin], checked together.

    Each is checked alone by its declaration; the source circle must fit inside the annulus.
    """
    r_source = context.parameter("source_radius_arcmin")
    inner, outer = context.parameter("background_radii_arcmin")
    if not (0 < r_source <= inner < outer <= 60):
        raise BrickError(
            "the regions must satisfy 0 < source radius <= background inner < outer <= 60 "
            f"arcmin, not {r_source}, {inner}, {outer}"
        )
    return r_source, inner, outer


@dataclass(frozen=True)
class ExtractionParameters:
    """The parameters of the source products, read and checked before any work."""

    radii: tuple[float, float, float]  # source, background inner and outer radii [arcmin]
    lightcurve_snr: float
    bayesian_blocks_p0: float

    @classmethod
    def from_context(cls, context: BrickContext) -> ExtractionParameters:
        """The job's parameters (defaults: 5 arcmin, 10-20 arcmin, S/N 5, p0 0.05).

        Raises
        ------
        BrickError
            A malformed or out-of-range parameter.
        """
        return cls(
            _radii(context),
            context.parameter("lightcurve_snr"),
            context.parameter("bayesian_blocks_p0"),
        )


class SourceProducts:
    """Spectra and light curves of one source of one event list, written in ``context``."""

    def __init__(
        self,
        context: BrickContext,
        events: EventList,
        *,
        attitude: Attitude,
        teldef: Teldef,
        wcs: WCS,
        extras: fits.Header,
        live_map: np.ndarray,
        parameters: ExtractionParameters,
    ) -> None:
        self.context, self.events, self.attitude = context, events, attitude
        self.parameters = parameters
        self.teldef, self.wcs, self.extras = teldef, wcs, extras
        self.coverage = live_map / live_map.max() if live_map.max() > 0 else live_map
        self.exposure_s = float(extras["EXPOSURE"])
        self.light_curves: tuple[LightCurveBins, LightCurveBins, list[Gap]] | None = None

    def _name(self, suffix: str) -> str:
        return output_name(self.context, self.events, suffix)

    def extract(self, target: Target, listed: list[tuple[float, float]], date: str) -> None:
        """Regions, spectra (with ARF and RMF) and light curves of ``target``.

        ``listed``: RA, Dec [deg] of the sources of the list (the target among them or not).
        """
        context = self.context
        psf = load_calibration(context, "PSF", caldata.read_psf, date)
        specresp = load_calibration(context, "SPECRESP", caldata.read_specresp, date)
        vignet = load_calibration(context, "VIGNET", caldata.read_vignet, date)
        matrix = context.calibrate("MATRIX", date=date)
        caldata.read_rmf(matrix.path, matrix.extension)  # a broken RMF fails here, named
        radii = self.parameters.radii
        source, background = self._regions(target, listed, radii)
        ra_p, dec_p, roll_p, weights = exposure_attitude(
            self.attitude.time, self.attitude.ra, self.attitude.dec, self.attitude.roll,
            self.events.gti_start, self.events.gti_stop, step_s=10.0,
        )  # fmt: skip
        middle = int(np.searchsorted(np.cumsum(weights), 0.5 * weights.sum()))
        centre = (source.include.x, source.include.y)
        to_det = sky_to_det_matrix(
            *centre, self.wcs, self.teldef, ra_p[middle], dec_p[middle], roll_p[middle]
        )
        try:
            areas = [
                backscal(r, exposure=self.coverage, exposure_s=1.0) for r in (source, background)
            ]
        except ValueError as error:
            raise BrickError(f"extraction regions: {error}") from None
        per_pixel = float(self.wcs.wcs.cdelt[1]) * 60.0  # [arcmin]
        eefs = [
            region_psf_fraction(r, psf, to_det, self.coverage, per_pixel)
            for r in (source, background)
        ]
        ratio = region_area_ratio(*areas)
        try:
            eef_net = net_psf_fraction(eefs[0], eefs[1], ratio)
        except ValueError as error:
            raise BrickError(f"{error}; parameter background_radii_arcmin") from None
        x, y = self.events.column("X"), self.events.column("Y")
        in_source, in_background = source.contains(x, y), background.contains(x, y)
        split = separate_source_and_background(
            int(in_source.sum()), int(in_background.sum()), *areas, *eefs
        )
        detx, dety = radec_to_det(target.ra, target.dec, self.teldef, ra_p, dec_p, roll_p)
        theta = off_axis_angle(detx, dety, self.teldef)
        header = self._region_keywords(target, radii, eefs, eef_net)
        arf = arf_for_region(specresp, vignet, theta, eef_net, weights)
        arf_hdus = write_arf_hdus(
            specresp.energ_lo_kev, specresp.energ_hi_kev, arf, header_extras=header
        )
        self._write_spectra((in_source, in_background), areas, header, arf_hdus, matrix.path)
        background_model = Background(
            split.background_counts / self.exposure_s,
            ratio,
            split.background_counts_err / self.exposure_s,
        )
        self._write_light_curves(in_source, background_model, header)
        context.results["source"] = {
            "ra_deg": round(target.ra, 6),
            "dec_deg": round(target.dec, 6),
            "source_counts_region": int(in_source.sum()),
            "background_counts_region": int(in_background.sum()),
            "source_counts_total": round(split.source_counts, 1),
            "source_counts_total_err": round(split.source_counts_err, 1),
            "psf_fraction_source_region": round(eefs[0], 4),
            "psf_fraction_background_region": round(eefs[1], 4),
            "off_axis_arcmin": round(float(np.average(theta, weights=weights)), 2),
        }

    def _regions(
        self, target: Target, listed: list[tuple[float, float]], radii: tuple[float, float, float]
    ) -> tuple[ExtractionRegion, ExtractionRegion]:
        """Source circle and background annulus about ``target``, other sources cut out."""
        per_pixel = float(self.wcs.wcs.cdelt[1]) * 60.0  # [arcmin]
        r_source, inner, outer = (r / per_pixel for r in radii)
        x, y = (float(v) for v in radec_to_sky(target.ra, target.dec, self.wcs))
        circle = Region.circle(x, y, r_source) if np.isfinite(x) and np.isfinite(y) else None
        if circle is None or not np.any(self.coverage[circle.pixel_mask(self.coverage.shape)]):
            raise BrickError(
                f"the source at RA {target.ra:.5f}, Dec {target.dec:.5f} is outside the field of "
                "view: no exposed pixel within the source radius"
            )
        others = [radec_to_sky(ra, dec, self.wcs) for ra, dec in listed]
        # A listed source inside the source circle is the target itself (source_radec
        # given next to a list) or blended with it: cutting it out would cut the target.
        excluded = tuple(
            Region.circle(float(ox), float(oy), r_source)
            for ox, oy in others
            if np.hypot(ox - x, oy - y) >= r_source
        )
        return (
            ExtractionRegion(circle, excluded),
            ExtractionRegion(Region.annulus(x, y, inner, outer), excluded),
        )

    def _region_keywords(
        self, target: Target, radii: tuple[float, float, float], eefs: list[float], eef_net: float
    ) -> fits.Header:
        r_source, inner, outer = radii
        header = self.extras.copy()
        header.remove("EXPOSURE", ignore_missing=True)  # each writer sets its own
        header["RA_OBJ"] = (target.ra, "[deg] source position")
        header["DEC_OBJ"] = (target.dec, "[deg] source position")
        header["SRC_RAD"] = (r_source, "[arcmin] source circle radius")
        header["BKG_RIN"] = (inner, "[arcmin] background annulus inner radius")
        header["BKG_ROUT"] = (outer, "[arcmin] background annulus outer radius")
        header["PSF_SRC"] = (round(eefs[0], 5), "PSF fraction in the source region")
        header["PSF_BKG"] = (round(eefs[1], 5), "PSF fraction in the background region")
        header["PSF_NET"] = (round(eef_net, 5), "PSF fraction of the net spectrum (in ARF)")
        return header

    def _write_spectra(
        self,
        selections: tuple[np.ndarray, np.ndarray],
        areas: list[float],
        header: fits.Header,
        arf_hdus: fits.HDUList,
        matrix: Path,
    ) -> None:
        """Source and background PHA, the ARF, and the RMF copied next to them."""
        context, pi = self.context, self.events.column("PI")
        names = {key: self._name(suffix) for key, suffix in
                 (("src", "src.pha"), ("bkg", "bkg.pha"), ("arf", "src.arf"))}  # fmt: skip
        respfile = _copy_response(context, matrix)
        context.write_fits(arf_hdus, names["arf"], "arf")
        for source, selected, area in zip((True, False), selections, areas, strict=True):
            hdus = write_pha_hdus(
                pha_spectrum(pi[selected]), self.exposure_s, area, respfile=respfile,
                ancrfile=names["arf"] if source else "none",
                backfile=names["bkg"] if source else "none", kind="TOTAL" if source else "BKG",
                header_extras=header,
            )  # fmt: skip
            context.write_fits(hdus, names["src" if source else "bkg"], "spectrum")

    def _write_light_curves(
        self, in_source: np.ndarray, background: Background, header: fits.Header
    ) -> None:
        context, events = self.context, self.events
        times = events.column("TIME")[in_source]
        if times.size == 0:
            context.warning("no event in the source region: no light curve")
            return
        gti = (events.gti_start, events.gti_stop)
        snr, p0 = self.parameters.lightcurve_snr, self.parameters.bayesian_blocks_p0
        try:
            constant = constant_snr_bins(times, gti, snr, background=background)
            blocks = bayesian_block_bins(times, gti, p0=p0, background=background)
            gaps = find_gaps(
                gti, self.attitude.time, self.attitude.settled, self.attitude.in_saa,
                tstart=events.header.get("TSTART"), tstop=events.header.get("TSTOP"),
            )  # fmt: skip
        except ValueError as error:
            raise BrickError(f"light curves: {error}") from None
        binnings = (
            (constant, "lc_snr.fits", f"constant S/N {snr}"),
            (blocks, "lc_bb.fits", f"Bayesian blocks p0 {p0}"),
        )
        for bins, suffix, method in binnings:
            lc_header = header.copy()
            for key in ("TSTART", "TSTOP", "TIMEUNIT"):  # the light curve's own: its GTIs
                lc_header.remove(key, ignore_missing=True)
            lc_header["BINNING"] = (method, "how the bins were chosen")
            hdus = write_lightcurve_hdus(bins, gti, gaps, header_extras=lc_header)
            context.write_fits(hdus, self._name(suffix), "lightcurve")
        self.light_curves = (constant, blocks, gaps)
        context.results["lightcurve"] = {
            "constant_snr_bins": len(constant),
            "bayesian_blocks": len(blocks),
            "gaps": [{"start": g.start, "stop": g.stop, "cause": g.cause} for g in gaps],
        }


def _copy_response(context: BrickContext, matrix: Path) -> str:
    """Copy the MATRIX file next to the spectra (``RESPFILE`` names it); return its name."""
    name = matrix.name
    shutil.copyfile(matrix, context.output_dir / name)
    context.register_output(name, "response")
    return name
