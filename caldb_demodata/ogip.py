"""OGIP response HDUs (CAL/GEN/92-002): RMF ``MATRIX`` + ``EBOUNDS``, ARF ``SPECRESP``.

Shared by the MXT and ECL demonstration responses. The redistribution is Gaussian with an
energy-dependent width; each matrix row holds one channel group (``N_GRP = 1``) and is
normalised so that it sums to the fraction of the Gaussian falling inside the channel
range (1 except where the Gaussian leaves the first or last channel).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from astropy.io import fits

from caldb_demodata.common import CalibrationId, calibration_header, gaussian_bin_fractions

__all__ = ["LO_THRES", "arf_hdu", "ebounds_hdu", "matrix_hdu", "redistribution_rows"]

LO_THRES = 1.0e-6  # matrix elements below this at the ends of a row are dropped
_SIGMAS = 6.0  # rows are computed over +/- 6 sigma around the line energy
FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))


def _object_array(rows: list[np.ndarray]) -> np.ndarray:
    """Rows of a variable-length column (never collapsed into a 2-D array)."""
    array = np.empty(len(rows), dtype=object)
    for index, row in enumerate(rows):
        array[index] = row
    return array


def redistribution_rows(
    energy_lo: np.ndarray,
    energy_hi: np.ndarray,
    channel_edges: np.ndarray,
    fwhm: Callable[[np.ndarray], np.ndarray],
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Gaussian redistribution rows of an RMF.

    Parameters
    ----------
    energy_lo, energy_hi : numpy.ndarray
        Photon energy bins [keV]; each row is computed at the bin centre.
    channel_edges : numpy.ndarray
        ``DETCHANS + 1`` channel energy edges [keV] (channel ``k`` spans
        ``edges[k]..edges[k+1]``).
    fwhm : callable
        Energy resolution: FWHM [keV] as a function of energy [keV].

    Returns
    -------
    first_channel : numpy.ndarray
        ``F_CHAN`` of each row (first channel of its only group, 0-based channels).
    n_channels : numpy.ndarray
        ``N_CHAN`` of each row.
    rows : list of numpy.ndarray
        The ``MATRIX`` values (float32) of each row, from ``F_CHAN`` on.
    """
    centres = 0.5 * (np.asarray(energy_lo, float) + np.asarray(energy_hi, float))
    sigmas = np.asarray(fwhm(centres), dtype=float) / FWHM_PER_SIGMA
    n_chan = len(channel_edges) - 1
    first, counts, rows = [], [], []
    for centre, sigma in zip(centres, sigmas, strict=True):
        low = int(np.searchsorted(channel_edges, centre - _SIGMAS * sigma, side="right")) - 1
        high = int(np.searchsorted(channel_edges, centre + _SIGMAS * sigma, side="left"))
        low, high = max(low, 0), min(max(high, low + 1), n_chan)
        values = gaussian_bin_fractions(channel_edges[low : high + 1], centre, sigma)
        keep = np.flatnonzero(values >= LO_THRES)
        if keep.size == 0:  # the line falls outside the channel range: one empty element
            first.append(min(low, n_chan - 1))
            counts.append(1)
            rows.append(np.zeros(1, dtype=np.float32))
            continue
        start, stop = int(keep[0]), int(keep[-1]) + 1
        first.append(low + start)
        counts.append(stop - start)
        rows.append(values[start:stop].astype(np.float32))
    return np.array(first, dtype=np.int16), np.array(counts, dtype=np.int16), rows


def matrix_hdu(
    ident: CalibrationId,
    seed: int,
    *,
    energy_lo: np.ndarray,
    energy_hi: np.ndarray,
    channel_edges: np.ndarray,
    fwhm: Callable[[np.ndarray], np.ndarray],
    extra: tuple[tuple[str, object, str], ...] = (),
) -> fits.BinTableHDU:
    """The RMF ``MATRIX`` extension (HDUCLAS1 'RESPONSE', HDUCLAS2 'RSP_MATRIX').

    Parameters
    ----------
    ident : CalibrationId
        Calibration keywords (codename ``MATRIX``).
    seed : int
        Demonstration seed (``DEMOSEED``).
    energy_lo, energy_hi : numpy.ndarray
        Photon energy bins [keV] (``ENERG_LO``, ``ENERG_HI``).
    channel_edges : numpy.ndarray
        Channel energy edges [keV] (``DETCHANS + 1`` values).
    fwhm : callable
        Resolution FWHM [keV] versus energy [keV].
    extra : tuple of (keyword, value, comment)
        Instrument keywords recorded in the header (e.g. the resolution model).

    Returns
    -------
    astropy.io.fits.BinTableHDU
        Columns ENERG_LO, ENERG_HI (E, keV), N_GRP (I), F_CHAN (I), N_CHAN (I),
        MATRIX (PE, variable length).
    """
    first, counts, rows = redistribution_rows(energy_lo, energy_hi, channel_edges, fwhm)
    n_chan = len(channel_edges) - 1
    columns = [
        fits.Column(name="ENERG_LO", format="E", unit="keV", array=energy_lo.astype(np.float32)),
        fits.Column(name="ENERG_HI", format="E", unit="keV", array=energy_hi.astype(np.float32)),
        fits.Column(name="N_GRP", format="I", array=np.ones(len(rows), dtype=np.int16)),
        fits.Column(name="F_CHAN", format="I", array=first),
        fits.Column(name="N_CHAN", format="I", array=counts),
        fits.Column(name="MATRIX", format="PE()", array=_object_array(rows)),
    ]
    header = calibration_header(
        ident,
        seed,
        (
            ("HDUCLASS", "OGIP", "format conforms to OGIP standard"),
            ("HDUDOC", "CAL/GEN/92-002", "document describing the format"),
            ("HDUCLAS1", "RESPONSE", "dataset relates to spectral response"),
            ("HDUCLAS2", "RSP_MATRIX", "dataset is a spectral response matrix"),
            ("HDUCLAS3", "REDIST", "photon redistribution only (area in the ARF)"),
            ("HDUVERS", "1.3.0", "version of the format"),
            ("CHANTYPE", "PI", "channels are calibrated PI channels"),
            ("DETCHANS", n_chan, "number of channels"),
            ("FILTER", "NONE", "filter"),
            ("LO_THRES", LO_THRES, "lower threshold of stored matrix elements"),
            ("TLMIN4", 0, "first channel number"),
            ("TLMAX4", n_chan - 1, "last channel number"),
            *extra,
        ),
    )
    return fits.BinTableHDU.from_columns(columns, header=header, name="MATRIX")


def ebounds_hdu(ident: CalibrationId, seed: int, channel_edges: np.ndarray) -> fits.BinTableHDU:
    """The RMF ``EBOUNDS`` extension (HDUCLAS2 'EBOUNDS').

    Parameters
    ----------
    ident : CalibrationId
        Calibration keywords (codename ``EBOUNDS``).
    seed : int
        Demonstration seed.
    channel_edges : numpy.ndarray
        Channel energy edges [keV]; channel ``k`` (0-based) spans ``edges[k]..edges[k+1]``.

    Returns
    -------
    astropy.io.fits.BinTableHDU
        Columns CHANNEL (I), E_MIN, E_MAX (E, keV).
    """
    n_chan = len(channel_edges) - 1
    columns = [
        fits.Column(name="CHANNEL", format="I", array=np.arange(n_chan, dtype=np.int16)),
        fits.Column(name="E_MIN", format="E", unit="keV", array=channel_edges[:-1].astype("f4")),
        fits.Column(name="E_MAX", format="E", unit="keV", array=channel_edges[1:].astype("f4")),
    ]
    header = calibration_header(
        ident,
        seed,
        (
            ("HDUCLASS", "OGIP", "format conforms to OGIP standard"),
            ("HDUDOC", "CAL/GEN/92-002", "document describing the format"),
            ("HDUCLAS1", "RESPONSE", "dataset relates to spectral response"),
            ("HDUCLAS2", "EBOUNDS", "nominal energy bounds of the channels"),
            ("HDUVERS", "1.2.0", "version of the format"),
            ("CHANTYPE", "PI", "channels are calibrated PI channels"),
            ("DETCHANS", n_chan, "number of channels"),
            ("FILTER", "NONE", "filter"),
            ("TLMIN1", 0, "first channel number"),
            ("TLMAX1", n_chan - 1, "last channel number"),
        ),
    )
    return fits.BinTableHDU.from_columns(columns, header=header, name="EBOUNDS")


def arf_hdu(
    ident: CalibrationId,
    seed: int,
    *,
    energy_lo: np.ndarray,
    energy_hi: np.ndarray,
    area: np.ndarray,
    extra: tuple[tuple[str, object, str], ...] = (),
) -> fits.BinTableHDU:
    """The ARF ``SPECRESP`` extension (HDUCLAS1 'RESPONSE', HDUCLAS2 'SPECRESP').

    Parameters
    ----------
    ident : CalibrationId
        Calibration keywords (codename ``SPECRESP``).
    seed : int
        Demonstration seed.
    energy_lo, energy_hi : numpy.ndarray
        Photon energy bins [keV], identical to the RMF's.
    area : numpy.ndarray
        Effective area [cm2] per bin.
    extra : tuple of (keyword, value, comment)
        Further keywords.

    Returns
    -------
    astropy.io.fits.BinTableHDU
        Columns ENERG_LO, ENERG_HI (E, keV), SPECRESP (E, cm**2).
    """
    columns = [
        fits.Column(name="ENERG_LO", format="E", unit="keV", array=energy_lo.astype(np.float32)),
        fits.Column(name="ENERG_HI", format="E", unit="keV", array=energy_hi.astype(np.float32)),
        fits.Column(name="SPECRESP", format="E", unit="cm**2", array=area.astype(np.float32)),
    ]
    header = calibration_header(
        ident,
        seed,
        (
            ("HDUCLASS", "OGIP", "format conforms to OGIP standard"),
            ("HDUDOC", "CAL/GEN/92-002", "document describing the format"),
            ("HDUCLAS1", "RESPONSE", "dataset relates to spectral response"),
            ("HDUCLAS2", "SPECRESP", "dataset is an effective area (ARF)"),
            ("HDUVERS", "1.1.0", "version of the format"),
            ("FILTER", "NONE", "filter"),
            *extra,
        ),
    )
    return fits.BinTableHDU.from_columns(columns, header=header, name="SPECRESP")
