"""MXT split events: the 3 x 3 pattern analysis of ``mxt-calibrate`` (pure numpy).

Docs/calibration_formats.md §3.3 steps 1-2, docs/event_formats.md §1 and §3. No FITS I/O
here and no loop over events; the energy scale (CTI, PI) is in :mod:`.calibrate`.

``PHAS`` holds the raw amplitudes [ADU, offset included] of the 3 x 3 box around the central
pixel (RAWX, RAWY), index ``3 * (dy + 1) + (dx + 1)``. A pixel belongs to the pattern when its
offset-subtracted amplitude ``a - OFFSET(RAWX + dx)`` is at least the split threshold; the
9-bit mask of those pixels (bit ``k`` = PHAS index ``k``, centre = bit 4) is graded with
:data:`PATTERN_TABLE`:

=====  ============  =====================================================================
code   multiplicity  pixels above the split threshold besides the centre
=====  ============  =====================================================================
0      1             none (single)
1..4   2             one edge neighbour at +x, +y, -x, -y
5..8   3             one x and one y edge neighbour: quadrant (+x,+y), (-x,+y), (-x,-y), (+x,-y)
9..12  4             the same L plus the corner between its two edge neighbours (2 x 2 square)
-1     0             anything else: centre below threshold, a corner without both its edges,
                     opposite neighbours, more than 4 pixels; also (outside the table) a
                     centre that is not the largest offset-subtracted amplitude of the box
=====  ============  =====================================================================

Pixels off the CCD (column or row outside 1..256) never belong to a pattern.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "BOX_DX",
    "BOX_DY",
    "MULTIPLICITY_OF_PATTERN",
    "N_COLUMNS",
    "PATTERN_TABLE",
    "Patterns",
    "PhasBox",
    "pattern_energy_ev",
    "reconstruct_patterns",
]

N_COLUMNS = 256  # RAWX and RAWY run over 1..256

BOX_DX = np.tile(np.array([-1, 0, 1]), 3)  # column offset of each PHAS index
BOX_DY = np.repeat(np.array([-1, 0, 1]), 3)  # row offset of each PHAS index
_CENTRE = 4
_BIT = 1 << np.arange(9)


def _build_pattern_table() -> NDArray[np.int16]:
    """The grade of each of the 512 above-threshold masks, from the rules of the module doc."""
    edges = [(1, 0), (0, 1), (-1, 0), (0, -1)]  # +x, +y, -x, -y
    quadrants = [((1, 0), (0, 1)), ((-1, 0), (0, 1)), ((-1, 0), (0, -1)), ((1, 0), (0, -1))]
    shapes: list[list[tuple[int, int]]] = [[]]
    shapes += [[edge] for edge in edges]
    shapes += [[ex, ey] for ex, ey in quadrants]
    shapes += [[ex, ey, (ex[0], ey[1])] for ex, ey in quadrants]
    table = np.full(512, -1, dtype=np.int16)
    for code, shape in enumerate(shapes):
        mask = 1 << _CENTRE
        for dx, dy in shape:
            mask |= 1 << (3 * (dy + 1) + (dx + 1))
        table[mask] = code
    return table


#: Pattern code (int16, -1 invalid) for each 9-bit mask of pixels above the split threshold.
PATTERN_TABLE: NDArray[np.int16] = _build_pattern_table()
PATTERN_TABLE.flags.writeable = False
#: Multiplicity of pattern codes 0..12.
MULTIPLICITY_OF_PATTERN: NDArray[np.int16] = np.array([1] + [2] * 4 + [3] * 4 + [4] * 4, np.int16)
MULTIPLICITY_OF_PATTERN.flags.writeable = False
_MULTIPLICITY_OR_0 = np.append(MULTIPLICITY_OF_PATTERN, np.int16(0))  # index -1: invalid


@dataclass(frozen=True)
class Patterns:
    """Result of :func:`reconstruct_patterns`, one entry per event.

    Attributes
    ----------
    pha_adu : numpy.ndarray
        (n,) float64 [ADU]: sum of ``a - OFFSET(column)`` over the pixels above the split
        threshold (also for invalid patterns).
    pattern : numpy.ndarray
        (n,) int16 pattern code 0..12, -1 for an invalid pattern.
    multiplicity : numpy.ndarray
        (n,) int16 number of pixels of the pattern, 1..4; 0 for an invalid pattern.
    mask : numpy.ndarray
        (n, 9) bool, the pixels above the split threshold (PHAS order).
    """

    pha_adu: NDArray[np.float64]
    pattern: NDArray[np.int16]
    multiplicity: NDArray[np.int16]
    mask: NDArray[np.bool_]


def _check_phas(phas: ArrayLike) -> NDArray[Any]:
    """PHAS as an (n, 9) numeric array, in its own dtype (integer ADU stay integers)."""
    array = np.asarray(phas)
    if array.dtype.kind not in "iuf":
        array = array.astype(np.float64)
    if array.ndim != 2 or array.shape[1] != 9:
        raise ValueError(f"PHAS must have shape (n, 9), not {array.shape}")
    return array


def _by_column(table: ArrayLike, x: NDArray[np.intp], dx: int) -> NDArray[np.float64]:
    """``table[clip(x + dx, 1, 256) - 1]`` in one pass (edge values repeated once)."""
    values = np.asarray(table, dtype=np.float64)
    padded = np.concatenate([values[:1], values, values[-1:]])  # columns 0 .. 257
    return np.take(padded, x + dx, mode="clip")


@dataclass(frozen=True)
class PhasBox:
    """The offset-subtracted 3 x 3 boxes, one contiguous row of ``n`` per PHAS index.

    Built once per event list (:meth:`build`), it grades the patterns and sums their
    amplitudes per column, so that the gain multiplies 3 sums instead of 9 pixels.

    Every numpy pass below is a stream over ``n`` contiguous values; the Python loops run
    over the 9 box pixels, never over events.

    Attributes
    ----------
    net : numpy.ndarray
        (9, n) float64 ``a - OFFSET(RAWX + dx)``, ``-inf`` at the pixels off the CCD.
    x : numpy.ndarray
        (n,) RAWX.
    off : list of numpy.ndarray
        For each PHAS index, the events whose pixel is off the CCD (only CCD-edge events).
    finite : bool
        Every ``net`` on the CCD is finite (integer PHAS and finite OFFSETs).
    """

    net: NDArray[np.float64]
    x: NDArray[np.intp]
    off: list[NDArray[np.intp]]
    finite: bool

    @classmethod
    def build(
        cls, phas: ArrayLike, rawx: ArrayLike, offsets: ArrayLike, rawy: ArrayLike | None = None
    ) -> PhasBox:
        """The boxes of ``phas`` (n, 9) [ADU] around ``rawx``, column OFFSETs subtracted.

        With ``rawy``, the pixels of rows 0 and 257 are left out as well.
        """
        raw = _check_phas(phas)
        n = raw.shape[0]
        x = np.asarray(rawx).astype(np.intp).reshape(n)
        offset = [_by_column(offsets, x, dx) for dx in (-1, 0, 1)]
        off_column = [np.flatnonzero((x + dx < 1) | (x + dx > N_COLUMNS)) for dx in (-1, 0, 1)]
        off_row = [np.empty(0, np.intp)] * 3
        if rawy is not None:
            y = np.asarray(rawy).astype(np.intp).reshape(n)
            off_row = [np.flatnonzero((y + dy < 1) | (y + dy > N_COLUMNS)) for dy in (-1, 0, 1)]
        net = np.empty((9, n))
        off = []
        for k in range(9):
            np.subtract(raw[:, k], offset[BOX_DX[k] + 1], out=net[k])
            outside = off_column[BOX_DX[k] + 1]
            if off_row[BOX_DY[k] + 1].size:
                outside = np.union1d(outside, off_row[BOX_DY[k] + 1])
            net[k, outside] = -np.inf
            off.append(outside)
        finite = raw.dtype.kind != "f" or bool(np.isfinite(raw).all())
        finite = finite and bool(np.isfinite(np.asarray(offsets, dtype=np.float64)).all())
        return cls(net, x, off, finite)

    def column_sums(self, use: NDArray[np.bool_]) -> list[NDArray[np.float64]]:
        """Sums of ``net`` over the pixels of ``use`` (9, n) in each column dx = -1, 0, +1.

        Off-CCD pixels never count. A product by the mask (no branch) where it is exact:
        every amplitude finite; else a selection.
        """
        n = self.net.shape[1]
        sums, term = [np.zeros(n), np.zeros(n), np.zeros(n)], np.empty(n)
        for k in range(9):
            if self.finite:
                with np.errstate(invalid="ignore"):  # -inf * 0 off the CCD, zeroed below
                    np.multiply(self.net[k], use[k], out=term)
                term[self.off[k]] = 0.0
            else:
                term = np.where(use[k], self.net[k], 0.0)
                term[self.off[k]] = 0.0
            sums[BOX_DX[k] + 1] += term
        return sums

    def energy_ev(self, sums: list[NDArray[np.float64]], gains: ArrayLike) -> NDArray[np.float64]:
        """``sum_dx GAIN(RAWX + dx) * sums[dx]`` [eV]."""
        energy = np.zeros(self.x.shape[0])
        for dx, column_sum in zip((-1, 0, 1), sums, strict=True):
            energy += _by_column(gains, self.x, dx) * column_sum
        return energy

    def patterns(self, split_threshold_adu: float) -> tuple[Patterns, list[NDArray[np.float64]]]:
        """Grade the boxes; also the column sums of their pattern pixels."""
        n = self.net.shape[1]
        above = np.empty((9, n), dtype=bool)
        code = np.zeros(n, np.uint16)
        for k in range(9):
            np.greater_equal(self.net[k], split_threshold_adu, out=above[k])
            above[k, self.off[k]] = False
            code |= np.left_shift(above[k], k, dtype=np.uint16)
        pattern = PATTERN_TABLE[code]
        pattern[~(self.net[_CENTRE] >= np.maximum.reduce(self.net, axis=0))] = -1
        sums = self.column_sums(above)
        pha = sums[0] + sums[1] + sums[2]
        return Patterns(pha, pattern, _MULTIPLICITY_OR_0[pattern], above.T), sums


def reconstruct_patterns(
    phas: ArrayLike,
    rawx: ArrayLike,
    offsets: ArrayLike,
    split_threshold_adu: float,
    rawy: ArrayLike | None = None,
) -> Patterns:
    """Grade the 3 x 3 boxes and sum the offset-subtracted amplitudes of their patterns.

    Parameters
    ----------
    phas : array_like
        (n, 9) raw amplitudes [ADU], offset included, index ``3 * (dy + 1) + (dx + 1)``.
    rawx : array_like
        (n,) column of the central pixel, 1..256.
    offsets : array_like
        (256,) OFFSET [ADU] of RAWX = 1..256; pixel ``dx`` uses the offset of RAWX + dx.
    split_threshold_adu : float
        SPLTHR [ADU]: a pixel is in the pattern if ``a - OFFSET >= split_threshold_adu``.
    rawy : array_like, optional
        (n,) row of the central pixel; when given, pixels of rows 0 and 257 (which hold 0)
        are left out even if ``0 - OFFSET`` passes the threshold.

    Returns
    -------
    Patterns
        PHA sum [ADU], pattern code, multiplicity and the above-threshold mask.
    """
    return PhasBox.build(phas, rawx, offsets, rawy).patterns(split_threshold_adu)[0]


def pattern_energy_ev(
    phas: ArrayLike,
    rawx: ArrayLike,
    mask: ArrayLike,
    gains: ArrayLike,
    offsets: ArrayLike,
) -> NDArray[np.float64]:
    """Measured event energy ``E_meas = sum_i GAIN(x_i) * (a_i - OFFSET(x_i))`` [eV].

    Parameters
    ----------
    phas : array_like
        (n, 9) raw amplitudes [ADU], offset included.
    rawx : array_like
        (n,) column of the central pixel, 1..256; pixel ``i`` is in column ``x_i = RAWX + dx_i``.
    mask : array_like
        (n, 9) bool, the pixels of the pattern (:attr:`Patterns.mask`); off-CCD pixels
        are ignored.
    gains, offsets : array_like
        (256,) GAIN [eV/ADU] and OFFSET [ADU] of RAWX = 1..256.

    Returns
    -------
    numpy.ndarray
        (n,) float64 energy before CTI correction [eV].
    """
    box = PhasBox.build(phas, rawx, offsets)
    use = np.broadcast_to(np.asarray(mask, dtype=bool), (box.net.shape[1], 9)).T
    return box.energy_ev(box.column_sums(use), gains)
