"""Point-source extraction: regions with exclusions, PSF fractions, source and background.

The MXT PSF is broad (an 8 arcmin core and a halo over the whole field, docs/calibration_formats.md
§4.1), so a background annulus also holds source photons: with the default 10-20 arcmin annulus
about 20 % of them. Rather than moving the annulus off the CCD, the products account for
it. With ``e`` the fraction of the source's photons a region collects and ``a`` its area
(BACKSCAL), the counts of the source (s) and background (b) regions are

    N_s = S e_s + B a_s,    N_b = S e_b + B a_b

for ``S`` source counts and ``B`` background counts per sky pixel, which
:func:`separate_source_and_background` solves. Two consequences, both exact for a point
source on a flat background:

* the spectrum: XSPEC subtracts ``N_b a_s / a_b``, which removes ``S e_b a_s / a_b`` source
  photons too; the ARF's PSF fraction is therefore ``e_s - e_b a_s / a_b``
  (:func:`net_psf_fraction`);
* the light curve subtracts the background alone, ``B a_s`` per exposure, so its net rate is
  the source rate times ``e_s``.

A region's PSF fraction (:func:`region_psf_fraction`) is the encircled energy of its circle
or annulus (:func:`.spectrum.psf_enclosed_fraction`, exact in the radius) times the share of
that PSF light that falls on the region's live, not-excluded pixels (the PSF image sampled
at the sky pixel centres, rotated to the DET frame, weighted by the relative exposure).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from astropy.wcs import WCS

from pipeline_bricks.mxt.caldata import Psf
from pipeline_bricks.mxt.coordinates import Teldef, radec_to_det
from pipeline_bricks.mxt.products.regions import Region
from pipeline_bricks.mxt.products.spectrum import psf_enclosed_fraction
from pipeline_bricks.mxt.sky import sky_to_radec

__all__ = [
    "ExtractionRegion",
    "SourceAndBackground",
    "net_psf_fraction",
    "region_psf_fraction",
    "separate_source_and_background",
    "sky_to_det_matrix",
]


@dataclass(frozen=True)
class ExtractionRegion:
    """A circle or annulus minus circles (other sources) [SKY pixel].

    It has the ``contains`` and ``pixel_mask`` of :class:`.regions.Region`, so
    :func:`.regions.backscal` measures it.
    """

    include: Region
    exclude: tuple[Region, ...] = ()

    def contains(self, x: Any, y: Any) -> np.ndarray:
        """Bool mask of the positions [SKY pixel] inside ``include`` and no ``exclude``."""
        inside = self.include.contains(x, y)
        for region in self.exclude:
            inside &= ~region.contains(x, y)
        return inside

    def pixel_mask(self, shape: tuple[int, int]) -> np.ndarray:
        """Bool image ``(n_rows, n_columns)`` of the pixels whose centre is inside."""
        mask = self.include.pixel_mask(shape)
        for region in self.exclude:
            mask &= ~region.pixel_mask(shape)
        return mask


def sky_to_det_matrix(  # noqa: PLR0917 (a position, its frames, then the attitude)
    x: float, y: float, wcs: WCS, teldef: Teldef, ra_pnt: float, dec_pnt: float, roll: float
) -> np.ndarray:
    """2 x 2 matrix taking a SKY offset [pixel] at ``(x, y)`` to a DET offset [pixel].

    A rotation by the roll (and a flip if the TELDEF has one) of nearly unit scale; taken by
    finite differences of the full chain at the attitude ``ra_pnt, dec_pnt, roll`` [deg].
    """
    xs = np.array([x, x + 1.0, x])
    ys = np.array([y, y, y + 1.0])
    ra, dec = sky_to_radec(xs, ys, wcs)
    detx, dety = radec_to_det(ra, dec, teldef, ra_pnt, dec_pnt, roll)
    return np.array(
        [[detx[1] - detx[0], detx[2] - detx[0]], [dety[1] - dety[0], dety[2] - dety[0]]]
    )


def _sampled_psf(
    psf: Psf, rows: np.ndarray, columns: np.ndarray, centre_xy: tuple[float, float], to_det: Any
) -> np.ndarray:
    """PSF value (fraction per DET pixel) at the sky pixels ``(rows, columns)``."""
    dx, dy = columns + 1.0 - centre_xy[0], rows + 1.0 - centre_xy[1]
    matrix = np.asarray(to_det, dtype=np.float64)
    ddetx = np.rint(matrix[0, 0] * dx + matrix[0, 1] * dy).astype(np.int64)
    ddety = np.rint(matrix[1, 0] * dx + matrix[1, 1] * dy).astype(np.int64)
    row, column = psf.centre[0] + ddety, psf.centre[1] + ddetx
    n_rows, n_columns = psf.image.shape
    inside = (row >= 0) & (row < n_rows) & (column >= 0) & (column < n_columns)
    values = np.zeros(row.shape)
    values[inside] = psf.image[row[inside], column[inside]]
    return values


def region_psf_fraction(
    region: ExtractionRegion,
    psf: Psf,
    to_det: Any,
    coverage: np.ndarray,
    arcmin_per_pixel: float,
) -> float:
    """Fraction of a point source's photons collected by ``region`` (module doc).

    Parameters
    ----------
    region : ExtractionRegion
        Its ``include`` circle or annulus is centred on the source.
    psf : Psf
        The PSF calibration.
    to_det : array_like
        :func:`sky_to_det_matrix` at the source.
    coverage : numpy.ndarray
        Relative exposure of each sky pixel, 0 .. 1 (a non-vignetted exposure map over its
        maximum): dead pixels, CCD edges.
    arcmin_per_pixel : float
        SKY pixel size [arcmin].

    Returns
    -------
    float
        The fraction, in [0, 1].

    Raises
    ------
    ValueError
        A coverage outside 0 .. 1 or a non-positive pixel size.
    """
    weights = np.asarray(coverage, dtype=np.float64)
    if weights.ndim != 2 or not np.all((weights >= 0) & (weights <= 1 + 1e-6)):
        raise ValueError("coverage must be a 2-d image of values in [0, 1]")
    if not arcmin_per_pixel > 0:
        raise ValueError(f"the pixel size must be positive, not {arcmin_per_pixel} arcmin")
    whole = ExtractionRegion(region.include)
    rows, columns = np.nonzero(whole.pixel_mask(weights.shape))
    if rows.size == 0:
        return 0.0
    centre = (region.include.x, region.include.y)
    sampled = _sampled_psf(psf, rows, columns, centre, to_det)
    kept = region.contains(columns + 1.0, rows + 1.0) * weights[rows, columns]
    share = float(sampled @ kept / sampled.sum()) if sampled.sum() > 0 else 0.0
    radii = np.array([region.include.r_inner, region.include.r_outer]) * arcmin_per_pixel
    inner, outer = np.asarray(psf_enclosed_fraction(psf, radii), dtype=np.float64)
    return float(np.clip((outer - inner) * share, 0.0, 1.0))


def net_psf_fraction(eef_source: float, eef_background: float, area_ratio: float) -> float:
    """PSF fraction of the background-subtracted source spectrum, ``e_s - e_b a_s / a_b``.

    Raises
    ------
    ValueError
        If it is not positive: the background region holds as much of the source as the
        source region (move it out).
    """
    net = float(eef_source) - float(eef_background) * float(area_ratio)
    if not net > 0:
        raise ValueError(
            f"the background region holds too much of the source (net PSF fraction {net:.3g})"
        )
    return net


@dataclass(frozen=True)
class SourceAndBackground:
    """The counts of the two regions split into source and background (module doc).

    Attributes
    ----------
    source_counts, source_counts_err : float
        Source counts over the whole PSF ``S`` and their 1-sigma error.
    background_counts, background_counts_err : float
        Background counts in the background region ``B a_b`` and their 1-sigma error.
    """

    source_counts: float
    source_counts_err: float
    background_counts: float
    background_counts_err: float


def separate_source_and_background(  # noqa: PLR0917 (two regions, three numbers each)
    n_source: int,
    n_background: int,
    area_source: float,
    area_background: float,
    eef_source: float,
    eef_background: float,
) -> SourceAndBackground:
    """Solve ``N_s = S e_s + B a_s``, ``N_b = S e_b + B a_b`` (module doc), Gaussian errors.

    Negative solutions (fluctuations) are clipped at 0.

    Raises
    ------
    ValueError
        Negative counts, non-positive areas, or regions that cannot be told apart
        (``a_b e_s - a_s e_b <= 0``).
    """
    if n_source < 0 or n_background < 0:
        raise ValueError("region counts must be >= 0")
    if not (area_source > 0 and area_background > 0):
        raise ValueError("region areas must be positive")
    determinant = area_background * eef_source - area_source * eef_background
    if not determinant > 0:
        raise ValueError("the source and background regions cannot be told apart")
    per_pixel = (n_background * eef_source - n_source * eef_background) / determinant
    source = (n_source * area_background - n_background * area_source) / determinant
    # Var from the Poisson variances of N_s and N_b through the linear solution.
    per_pixel_err = np.hypot(eef_source * np.sqrt(n_background), eef_background * np.sqrt(n_source))
    source_err = np.hypot(area_background * np.sqrt(n_source), area_source * np.sqrt(n_background))
    return SourceAndBackground(
        max(float(source), 0.0),
        float(source_err / determinant),
        max(float(per_pixel * area_background), 0.0),
        float(per_pixel_err / determinant * area_background),
    )
