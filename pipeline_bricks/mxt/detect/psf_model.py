"""The MXT PSF as a model of the counts in DET pixels, for a source at any sub-pixel position.

The PSF calibration image (docs/calibration_formats.md §4.1) gives the fraction of a source's
photons in each DET pixel for a source at the centre of a pixel: ``image[centre + dDETY,
centre + dDETX]``. The photons of an image pixel are taken as spread uniformly over it (this
is also how the simulator draws them). For a source at a fractional position, the fraction
falling in a DET pixel is then *exactly* the bilinear interpolation of the image at the
(fractional) offset of that pixel from the source: shifting a piecewise-constant density by
``phi`` of a pixel puts ``1 - phi`` of each image pixel in one DET pixel and ``phi`` in the
next. Likewise the fraction in a ``b x b`` bin is the bilinear interpolation of the image
box-summed over ``b x b`` pixels, and the fraction on the live pixels of the CCD is the
bilinear interpolation of the correlation of the live mask with the image (the PSF leaks off
the CCD and into dead pixels; both are accounted for this way). All three are continuous and
piecewise bilinear in the source position, with exact derivatives.

Conventions of this package: positions are DET pixel coordinates (``DETX``, ``DETY``,
1-based, pixel ``k`` covering ``k - 0.5 .. k + 0.5``); internally ``x = DETX - 1`` so that
numpy pixel ``[row, column]`` of a CCD array is centred on ``(x, y) = (column, row)``.
The image is normalised to a sum of 1 (the ~3e-4 of the photons outside it are not
modelled): ``counts`` of a source are therefore its counts over the whole focal plane.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipeline_bricks.mxt.caldata import Psf

__all__ = ["BoxKernel", "PsfModel", "bilinear"]

_CACHE_SIZE = 8  # live-fraction maps kept per model (one per live mask and binning)


def bilinear(padded: np.ndarray, rows: Any, cols: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear interpolation of an array with a one-pixel zero border, and its derivatives.

    Parameters
    ----------
    padded : numpy.ndarray
        2-D float64 array whose outer rows and columns are zero (the border); C-contiguous.
    rows, cols : array_like
        Continuous indices into ``padded`` (broadcast together). Outside the array the value
        and the derivatives are 0.

    Returns
    -------
    value, d_row, d_col : numpy.ndarray
        The interpolated values and their derivatives with respect to ``rows`` and ``cols``
        (exact, piecewise constant in each cell).
    """
    r, c = np.broadcast_arrays(np.asarray(rows, float), np.asarray(cols, float))
    i, j = np.floor(r), np.floor(c)
    fr, fc = r - i, c - j
    n_rows, n_cols = padded.shape
    inside = (i >= 0) & (i <= n_rows - 2) & (j >= 0) & (j <= n_cols - 2)
    flat = np.where(inside, i * n_cols + j, 0).astype(np.intp)
    values = padded.ravel()
    v00, v01 = values.take(flat), values.take(flat + 1)
    v10, v11 = values.take(flat + n_cols), values.take(flat + n_cols + 1)
    d_top, d_bottom = v01 - v00, v11 - v10
    top = v00 + fc * d_top
    bottom = v10 + fc * d_bottom
    zero = np.zeros_like(top)
    value = np.where(inside, top + fr * (bottom - top), zero)
    d_row = np.where(inside, bottom - top, zero)
    d_col = np.where(inside, d_top + fr * (d_bottom - d_top), zero)
    return value, d_row, d_col


def _padded(array: np.ndarray) -> np.ndarray:
    """``array`` with a one-pixel zero border (float64, C-contiguous)."""
    return np.pad(np.asarray(array, dtype=np.float64), 1)


@dataclass(frozen=True, eq=False)
class BoxKernel:
    """The PSF image summed over ``binning x binning`` DET pixels, ready for :func:`bilinear`.

    The fraction of a source at 0-based ``(x0, y0)`` in the bin whose first (lowest) pixel is
    ``(column, row)`` is ``bilinear(padded, row0 + row - y0, col0 + column - x0)[0]``.

    Attributes
    ----------
    binning : int
        Bin size [DET pixel].
    padded : numpy.ndarray
        Box-summed image with a zero border.
    row0, col0 : float
        Index in ``padded`` of a zero offset between the bin's first pixel and the source.
    """

    binning: int
    padded: np.ndarray
    row0: float
    col0: float

    def fraction(self, row_offset: Any, col_offset: Any) -> tuple[np.ndarray, ...]:
        """Fraction in the bins (and its derivatives) at offsets bin-first-pixel minus source."""
        return bilinear(self.padded, self.row0 + row_offset, self.col0 + col_offset)


@dataclass(frozen=True, eq=False)
class PsfModel:
    """The PSF of :mod:`pipeline_bricks.mxt.caldata` as a model of counts in DET pixels.

    Attributes
    ----------
    image : numpy.ndarray
        Fraction of the photons per DET pixel, normalised to a sum of 1 (read-only).
    centre : tuple of int
        numpy ``(row, column)`` of the source pixel in ``image``.
    """

    image: np.ndarray
    centre: tuple[int, int]
    _kernels: dict[int, BoxKernel] = field(default_factory=dict, repr=False, init=False)
    _maps: dict[tuple[int, str], tuple[np.ndarray, float]] = field(
        default_factory=dict, repr=False, init=False
    )

    @classmethod
    def from_psf(cls, psf: Psf, det_pixel_arcmin: float | None = None) -> PsfModel:
        """The model of a PSF calibration image.

        Parameters
        ----------
        psf : Psf
            From :func:`pipeline_bricks.mxt.caldata.read_psf`.
        det_pixel_arcmin : float, optional
            DET pixel size [arcmin] (``DET_XSCL/FOCALLEN`` rad). The image is resampled
            (linearly) onto DET pixels when it differs from the image pixel by more than
            0.1 %; by default the image pixel is one DET pixel, as in the CalDB files.

        Raises
        ------
        ValueError
            The image is not a finite, non-negative 2-D array with a positive sum.
        """
        image = np.asarray(psf.image, dtype=np.float64)
        if image.ndim != 2 or not np.all(np.isfinite(image)) or np.any(image < 0):
            raise ValueError("the PSF image must be a finite, non-negative 2-D array")
        if not image.sum() > 0:
            raise ValueError("the PSF image sums to zero")
        centre = (int(psf.centre[0]), int(psf.centre[1]))
        if det_pixel_arcmin is not None:
            ratio = float(det_pixel_arcmin) / float(psf.pixel_arcmin)
            if not (np.isfinite(ratio) and ratio > 0):
                raise ValueError("det_pixel_arcmin must be positive")
            if abs(ratio - 1.0) > 1e-3:
                image, centre = _resample(image, centre, ratio)
        image = image / image.sum()
        image.setflags(write=False)
        return cls(image, centre)

    @property
    def reach(self) -> int:
        """Largest offset [DET pixel] along DETX or DETY at which the image has photons.

        The half-size of the image on its smaller side: a source further than this off the
        CCD puts none of its photons on it, nearer it may (its core or the arms of the
        lobster-eye PSF, along the DET axes).
        """
        (row, col), (rows, cols) = self.centre, self.image.shape
        return min(row, rows - 1 - row, col, cols - 1 - col)

    def psf_density(self, dx: Any, dy: Any) -> np.ndarray:
        """Fraction of the photons in the DET pixel centred ``(dx, dy)`` from the source.

        Parameters
        ----------
        dx, dy : array_like
            Offsets pixel centre minus source along DETX and DETY [DET pixel], any real
            values (0 beyond the image).

        Returns
        -------
        numpy.ndarray
            Fraction per DET pixel (a density per DET pixel; sums to 1 over a grid of unit
            spacing covering the image, for any sub-pixel source position).
        """
        return self.kernel(1).fraction(dy, dx)[0]

    def kernel(self, binning: int) -> BoxKernel:
        """The :class:`BoxKernel` of bins of ``binning x binning`` DET pixels (cached)."""
        binning = int(binning)
        if binning < 1:
            raise ValueError("the binning must be a positive integer")
        if binning not in self._kernels:
            s = binning - 1
            zeros = np.pad(self.image, s)
            n_rows, n_cols = self.image.shape[0] + s, self.image.shape[1] + s
            box = np.zeros((n_rows, n_cols))
            for a in range(binning):
                for e in range(binning):
                    box += zeros[a : a + n_rows, e : e + n_cols]
            # box[i + s, j + s] = sum over the bin starting at image offset (i, j)
            self._kernels[binning] = BoxKernel(
                binning, _padded(box), self.centre[0] + s + 1.0, self.centre[1] + s + 1.0
            )
        return self._kernels[binning]

    def binned_psf(
        self, x0: float, y0: float, binning: int = 4, shape: tuple[int, int] = (256, 256)
    ) -> np.ndarray:
        """Expected fraction of a source's photons in each bin of a binned DET image.

        Parameters
        ----------
        x0, y0 : float
            Source position [DET pixel, 1-based].
        binning : int
            Bin size ``b`` [DET pixel]; bin ``[I, J]`` covers DETX ``b J + 1 .. b J + b``
            and DETY ``b I + 1 .. b I + b``.
        shape : tuple of int
            ``(rows, columns)`` of the CCD [DET pixel], multiples of ``binning``.

        Returns
        -------
        numpy.ndarray
            Shape ``(rows // b, columns // b)``; the sum over the CCD is the fraction of the
            PSF on it (live or not).
        """
        kernel = self.kernel(binning)
        n_rows, n_cols = shape[0] // kernel.binning, shape[1] // kernel.binning
        rows = kernel.binning * np.arange(n_rows, dtype=float)[:, None] - (y0 - 1.0)
        cols = kernel.binning * np.arange(n_cols, dtype=float)[None, :] - (x0 - 1.0)
        return kernel.fraction(rows, cols)[0]

    def live_fraction_map(self, weights: np.ndarray, binning: int = 1) -> tuple[np.ndarray, float]:
        """Map of the PSF fraction on the CCD, weighted per bin, for integer source positions.

        ``sum_bins weights[I, J] * fraction_in_bin(I, J)`` for a source at 0-based pixel
        ``(x, y)`` is ``bilinear(map, offset + y, offset + x)[0]``, exact for any real ``x, y``
        from ``-reach`` to ``n - 1 + reach`` (:attr:`reach`): sources off the CCD whose PSF
        still reaches it are modelled too (0 further out, where none of it does). Computed
        by FFT and cached (by ``binning`` and the ``weights`` values).

        Parameters
        ----------
        weights : numpy.ndarray
            Per bin of the binned CCD: 1/0 for live/dead pixels with ``binning = 1``, the live
            fraction of each bin otherwise.
        binning : int
            Bin size [DET pixel].

        Returns
        -------
        map : numpy.ndarray
            Padded map (zero border), ``b n + 2 reach + 2`` on a side of ``b n`` pixels.
        offset : float
            Index in ``map`` of the source position 0.
        """
        weights = np.ascontiguousarray(weights, dtype=np.float64)
        key = (int(binning), hashlib.sha256(weights.tobytes()).hexdigest() + str(weights.shape))
        if key not in self._maps:
            if len(self._maps) >= _CACHE_SIZE:
                self._maps.pop(next(iter(self._maps)))
            self._maps[key] = self._integral_map(weights, int(binning))
        return self._maps[key]

    def _integral_map(self, weights: np.ndarray, binning: int) -> tuple[np.ndarray, float]:
        # scipy is imported where it is used: importing the detect package (mxt-products
        # reads its source list helpers) then costs no scipy.
        from scipy import fft as sp_fft  # noqa: PLC0415

        kernel = self.kernel(binning)
        box = kernel.padded[1:-1, 1:-1]
        n_rows, n_cols = weights.shape[0] * binning, weights.shape[1] * binning
        comb = np.zeros((n_rows, n_cols))
        comb[::binning, ::binning] = weights  # weights at the bins' first pixels
        shape = (n_rows + box.shape[0] - 1, n_cols + box.shape[1] - 1)
        fast = [sp_fft.next_fast_len(n, real=True) for n in shape]
        product = sp_fft.rfft2(comb, fast) * sp_fft.rfft2(box[::-1, ::-1], fast)
        full = sp_fft.irfft2(product, fast)[: shape[0], : shape[1]]
        # full[m, n] = sum comb[r, c] box[L - 1 - m + r, ...]; the source y sits at
        # L - 1 - m = row0 - 1 (box index of a zero offset)  ->  m = L - row0 + y.
        m0 = box.shape[0] - int(kernel.row0)
        n0 = box.shape[1] - int(kernel.col0)
        # keep source positions -reach .. n - 1 + reach: m0 >= reach and m0 + reach <= L - 1
        # by the definition of reach, so the crop lies inside ``full``.
        reach = self.reach
        lo_r, lo_c = m0 - reach, n0 - reach
        cropped = full[lo_r : lo_r + n_rows + 2 * reach, lo_c : lo_c + n_cols + 2 * reach]
        cropped = np.clip(cropped, 0.0, None)  # FFT round-off
        return _padded(cropped), reach + 1.0


def _resample(
    image: np.ndarray, centre: tuple[int, int], ratio: float
) -> tuple[np.ndarray, tuple[int, int]]:
    """The image on DET pixels of ``ratio`` image pixels (fraction per DET pixel)."""
    half = (
        int(min(centre[0], image.shape[0] - 1 - centre[0]) / ratio),
        int(min(centre[1], image.shape[1] - 1 - centre[1]) / ratio),
    )
    rows = centre[0] + ratio * np.arange(-half[0], half[0] + 1)
    cols = centre[1] + ratio * np.arange(-half[1], half[1] + 1)
    grid = np.meshgrid(rows, cols, indexing="ij")
    from scipy.ndimage import map_coordinates  # noqa: PLC0415 (as in PsfModel._integral_map)

    resampled = map_coordinates(image, grid, order=1, mode="constant") * ratio**2
    return np.clip(resampled, 0.0, None), half
