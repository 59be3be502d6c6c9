"""Extraction regions in SKY pixels: source circle, background annulus, BACKSCAL.

A region is a circle (``r_inner = 0``) or an annulus ``r_inner <= r < r_outer`` about a
centre ``(x, y)`` in SKY pixels (1-based, continuous, as the event columns ``X``, ``Y``).
An event belongs to it by its position; a sky pixel by its centre (``X = column + 1``,
``Y = row + 1`` of the numpy image).

BACKSCAL (OGIP/92-007) is the region's area in sky pixels: the spectra of the source and
the background carry their own and the fitting program scales the background counts by
their ratio. :func:`backscal` counts the pixels whose centre is inside the region, each
weighted by ``exposure / EXPOSURE`` when an exposure map is given: the parts of the region
on a bad column, off the CCD or less exposed count for less, so the ratio compares what
each region really saw. Use an exposure map without vignetting (``vignet=None``) here: the
particle and stray background are not vignetted, and the source's vignetting is in its ARF.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

__all__ = ["PixelRegion", "Region", "backscal", "region_area_ratio"]


@dataclass(frozen=True)
class Region:
    """A circle or annulus in SKY pixels.

    Attributes
    ----------
    x, y : float
        Centre [SKY pixel, 1-based].
    r_outer : float
        Outer radius [SKY pixel] (> 0).
    r_inner : float
        Inner radius [SKY pixel] (0 for a circle, < ``r_outer``).
    """

    x: float
    y: float
    r_outer: float
    r_inner: float = 0.0

    def __post_init__(self) -> None:
        values = (self.x, self.y, self.r_outer, self.r_inner)
        if not all(np.isfinite(v) for v in values):
            raise ValueError(f"region centre and radii must be finite, not {values}")
        if not 0.0 <= self.r_inner < self.r_outer:
            raise ValueError(
                f"region radii must satisfy 0 <= r_inner < r_outer, not "
                f"r_inner={self.r_inner}, r_outer={self.r_outer}"
            )

    @classmethod
    def circle(cls, x: float, y: float, radius: float) -> Region:
        """Source circle of ``radius`` [SKY pixel] about ``(x, y)``."""
        return cls(float(x), float(y), float(radius))

    @classmethod
    def annulus(cls, x: float, y: float, r_inner: float, r_outer: float) -> Region:
        """Background annulus ``r_inner <= r < r_outer`` [SKY pixel] about ``(x, y)``."""
        return cls(float(x), float(y), float(r_outer), float(r_inner))

    def contains(self, x: Any, y: Any) -> np.ndarray:
        """Bool mask of the positions ``x``, ``y`` [SKY pixel] inside the region.

        Raises
        ------
        ValueError
            ``x`` and ``y`` of different shapes.
        """
        xs, ys = np.asarray(x, np.float64), np.asarray(y, np.float64)
        if xs.shape != ys.shape:
            raise ValueError("X and Y differ in shape")
        r2 = (xs - self.x) ** 2 + (ys - self.y) ** 2
        return (r2 >= self.r_inner**2) & (r2 < self.r_outer**2)

    def pixel_mask(self, shape: tuple[int, int]) -> np.ndarray:
        """Bool image of shape ``(n_rows, n_columns)``: the pixels whose centre is inside."""
        n_rows, n_columns = (int(n) for n in shape)
        if n_rows < 1 or n_columns < 1:
            raise ValueError(f"image shape must be positive, not {shape}")
        y, x = np.mgrid[1 : n_rows + 1, 1 : n_columns + 1]
        return self.contains(x.astype(np.float64), y.astype(np.float64))


class PixelRegion(Protocol):
    """What :func:`backscal` measures: a :class:`Region`, or one with holes cut out."""

    def pixel_mask(self, shape: tuple[int, int]) -> np.ndarray:
        """Bool image ``(n_rows, n_columns)`` of the pixels whose centre is inside."""
        ...


def backscal(
    region: PixelRegion,
    shape: tuple[int, int] = (512, 512),
    exposure: np.ndarray | None = None,
    exposure_s: float | None = None,
) -> float:
    """BACKSCAL of ``region``: its (exposure-weighted) area in SKY pixels (module doc).

    Parameters
    ----------
    region : PixelRegion
        The extraction region (a :class:`Region` or an ``ExtractionRegion``).
    shape : tuple of int
        ``(SKY_YSIZ, SKY_XSIZ)`` of the image, used without an exposure map.
    exposure : numpy.ndarray, optional
        Exposure map [s] (``image.exposure_map``, preferably without vignetting); its
        shape replaces ``shape``.
    exposure_s : float, optional
        Reference exposure [s], the ``EXPOSURE`` of the spectrum; default the largest value
        of the map.

    Returns
    -------
    float
        Area [sky pixel]: number of pixel centres inside (no map) or
        ``sum(exposure[inside]) / exposure_s``.

    Raises
    ------
    ValueError
        Negative or non-finite exposure map, a map that is zero everywhere, a
        non-positive ``exposure_s``, or a region containing no (exposed) pixel.
    """
    if exposure is None:
        area = float(np.count_nonzero(region.pixel_mask(shape)))
    else:
        expo = np.asarray(exposure, dtype=np.float64)
        if expo.ndim != 2 or not np.all(np.isfinite(expo)) or np.any(expo < 0):
            raise ValueError("the exposure map must be a 2-d image of finite values >= 0 [s]")
        reference = float(expo.max()) if exposure_s is None else float(exposure_s)
        if not (np.isfinite(reference) and reference > 0):
            raise ValueError(f"the reference exposure must be positive, not {reference} s")
        area = float(expo[region.pixel_mask(expo.shape)].sum()) / reference
    if area <= 0:
        raise ValueError(f"the region {region} covers no exposed sky pixel")
    return area


def region_area_ratio(source_backscal: float, background_backscal: float) -> float:
    """``source / background`` BACKSCAL: the factor scaling background counts to the source.

    Raises
    ------
    ValueError
        A BACKSCAL that is not a positive finite number.
    """
    for name, value in (("source", source_backscal), ("background", background_backscal)):
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"the {name} BACKSCAL must be positive, not {value}")
    return float(source_backscal) / float(background_backscal)
