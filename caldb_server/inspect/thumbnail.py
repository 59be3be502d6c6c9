"""The thumbnail of an image HDU: block-averaged to at most 256 pixels, asinh-stretched.

The image is reduced by averaging square blocks of pixels (NaNs left out), so that a
single hot or bad pixel stays visible as a grey dot instead of vanishing or dominating as
it would with plain subsampling (an image wider than :data:`MAX_AVERAGED_PIXELS` is first
subsampled to that width, which bounds the memory a thumbnail takes). Grey levels follow an
asinh stretch between the smallest and largest block means, linear up to the softening
level and logarithmic above. The softening is the median's place in that range (bounded
by :data:`SOFTENING_LIMITS`): a peaked image (a PSF, median near its minimum) is stretched
hard, so its faint wings show; a flat field (median mid-range) is stretched little, so
its small variations keep their contrast. Row 0 of
a FITS image is at the bottom (as ds9 and fv show it), so the rows are flipped. Blocks
without any finite value are black.
"""

from __future__ import annotations

import math

import numpy as np

from caldb_server.inspect.png import greyscale_png

__all__ = [
    "MAX_AVERAGED_PIXELS",
    "MAX_THUMBNAIL_PIXELS",
    "SOFTENING_LIMITS",
    "grey_levels",
    "thumbnail_png",
]

MAX_THUMBNAIL_PIXELS = 256  # on the long side
MAX_AVERAGED_PIXELS = 2048  # on the long side; 32 MB of float64 at most
# Bounds of the asinh softening, in units of the data range: smaller shows fainter parts.
SOFTENING_LIMITS = (0.001, 1.0)


def _block_means(plane: np.ndarray, block: int) -> np.ndarray:
    """Means of ``block`` x ``block`` squares, NaNs left out (NaN where all are)."""
    values = np.asarray(plane, dtype=np.float64)
    if block == 1:
        return values
    rows = math.ceil(values.shape[0] / block) * block
    columns = math.ceil(values.shape[1] / block) * block
    padded = np.full((rows, columns), np.nan)
    padded[: values.shape[0], : values.shape[1]] = values
    blocks = padded.reshape(rows // block, block, columns // block, block)
    finite = np.isfinite(blocks)
    counts = finite.sum(axis=(1, 3))
    sums = np.where(finite, blocks, 0.0).sum(axis=(1, 3))
    means = np.full(counts.shape, np.nan)
    np.divide(sums, counts, out=means, where=counts > 0)
    return means


def grey_levels(plane: np.ndarray) -> np.ndarray:
    """8-bit grey levels of a 2-D array: asinh stretch from its minimum to its maximum.

    The softening is the normalised median, within :data:`SOFTENING_LIMITS`.

    Parameters
    ----------
    plane : numpy.ndarray
        Two dimensions, real values; NaN and infinite values become black.

    Returns
    -------
    numpy.ndarray
        ``uint8``, same shape; a constant array is mid-grey.
    """
    finite = np.isfinite(plane)
    levels = np.zeros(plane.shape, dtype=np.uint8)
    if not finite.any():
        return levels
    low, high = plane[finite].min(), plane[finite].max()
    if high == low:
        levels[finite] = 128
        return levels
    scaled = (plane[finite] - low) / (high - low)
    softening = float(np.clip(np.median(scaled), *SOFTENING_LIMITS))
    stretched = np.arcsinh(scaled / softening) / np.arcsinh(1.0 / softening)
    levels[finite] = np.round(stretched * 255.0).astype(np.uint8)
    return levels


def thumbnail_png(plane: np.ndarray) -> bytes:
    """The PNG thumbnail of a 2-D image, at most :data:`MAX_THUMBNAIL_PIXELS` on a side.

    Parameters
    ----------
    plane : numpy.ndarray
        Two dimensions, real values, at least one pixel, FITS order (row 0 at the bottom).

    Returns
    -------
    bytes
        An 8-bit greyscale PNG.
    """
    stride = math.ceil(max(plane.shape) / MAX_AVERAGED_PIXELS)
    if stride > 1:
        plane = plane[::stride, ::stride]
    block = max(1, math.ceil(max(plane.shape) / MAX_THUMBNAIL_PIXELS))
    means = _block_means(plane, block)
    return greyscale_png(grey_levels(means)[::-1])
