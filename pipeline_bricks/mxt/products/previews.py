"""PNG previews of the MXT products: sky image with the position, light curve with gaps.

Matplotlib is used through its object interface only (``matplotlib.figure.Figure`` and the
Agg canvas): no pyplot, so no global figure state, no GUI backend and nothing left open.
The PNG files are deterministic: fixed size and DPI, and no ``Software`` metadata.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
from astropy.wcs import WCS
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure
from matplotlib.patches import Circle
from matplotlib.ticker import MaxNLocator

from pipeline_bricks.mxt.products.gaps import CAUSES, Gap
from pipeline_bricks.mxt.products.lightcurve import LightCurveBins

__all__ = [
    "ImageScale",
    "image_figure",
    "image_preview",
    "image_scale",
    "lightcurve_figure",
    "lightcurve_preview",
    "time_axis_label",
]

_DPI = 100
_GAP_COLOURS = dict(zip(CAUSES, ("tab:red", "tab:orange", "0.6"), strict=True))
_PNG_METADATA = {"Software": None}


def _save(figure: Figure, path: Path | str) -> Path:
    target = Path(path)
    FigureCanvasAgg(figure)
    figure.savefig(target, format="png", dpi=_DPI, metadata=_PNG_METADATA)
    return target


@dataclass(frozen=True)
class ImageScale:
    """The colour scale of a counts image: square-root stretch from ``vmin`` to ``vmax``."""

    vmin: float  # [counts per pixel]
    vmax: float
    ticks: tuple[float, ...]  # on the colour bar, both ends included
    label: str  # of the colour bar, with the range

    def norm(self) -> PowerNorm:
        """The matplotlib normalisation (square root: gamma 0.5)."""
        return PowerNorm(0.5, vmin=self.vmin, vmax=self.vmax)


def image_scale(counts: Any) -> ImageScale:
    """The colour scale spanning the counts shown: from their minimum to their maximum.

    X-ray images are mostly 0s and 1s with a few bright pixels, so the stretch is a square
    root and the bar is labelled with the range in counts. A flat image (all pixels equal)
    gets ``vmax = vmin + 1`` so that it still has a scale.
    """
    values = np.asarray(counts, dtype=np.float64)
    vmin, vmax = float(values.min()), float(values.max())
    if vmax <= vmin:
        vmax = vmin + 1.0
    whole = bool(np.all(values == np.round(values)))  # counts: whole-number ticks
    locator = MaxNLocator(nbins=4, integer=whole)
    inside = [float(t) for t in locator.tick_values(vmin, vmax) if vmin < t < vmax]
    label = f"counts per pixel (square-root scale, {vmin:g} to {vmax:g})"
    return ImageScale(vmin, vmax, (vmin, *inside, vmax), label)


def image_preview(
    image: Any,
    wcs: WCS,
    position: tuple[float, float],
    r90_arcsec: float,
    path: Path | str,
    *,
    zoom_arcmin: float | None = None,
    title: str | None = None,
) -> Path:
    """Counts image with RA/Dec axes, the source position and its 90 % circle.

    The colour scale spans the counts shown, square-root stretched (:func:`image_scale`).

    Parameters
    ----------
    image : array_like
        Counts image ``[Y - 1, X - 1]`` (``image.sky_image``).
    wcs : astropy.wcs.WCS
        Its celestial WCS.
    position : tuple of float
        RA, Dec of the source found [deg].
    r90_arcsec : float
        Radius of its 90 % error circle [arcsec] (> 0).
    path : Path or str
        PNG file written.
    zoom_arcmin : float, optional
        Half-width of the field shown about the position [arcmin]; None: the whole image.
    title : str, optional
        Title of the plot.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        An image that is not 2-d or has negative or non-finite values, a position that is
        not finite, a non-positive radius or zoom.
    """
    figure = image_figure(image, wcs, position, r90_arcsec, zoom_arcmin=zoom_arcmin, title=title)
    return _save(figure, path)


def image_figure(
    image: Any,
    wcs: WCS,
    position: tuple[float, float],
    r90_arcsec: float,
    *,
    zoom_arcmin: float | None = None,
    title: str | None = None,
) -> Figure:
    """The figure :func:`image_preview` saves (same parameters but ``path``, same errors)."""
    counts = np.asarray(image, dtype=np.float64)
    if counts.ndim != 2 or counts.size == 0:
        raise ValueError("the image must be a non-empty 2-d array")
    if not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise ValueError("image counts must be finite and >= 0")
    ra, dec = (float(v) for v in position)
    if not (np.isfinite(ra) and np.isfinite(dec) and -90.0 <= dec <= 90.0):
        raise ValueError(f"the position must be a finite RA, Dec [deg], not {position}")
    if not (np.isfinite(r90_arcsec) and r90_arcsec > 0):
        raise ValueError(f"r90_arcsec must be positive, not {r90_arcsec}")
    if zoom_arcmin is not None and not (np.isfinite(zoom_arcmin) and zoom_arcmin > 0):
        raise ValueError(f"zoom_arcmin must be positive, not {zoom_arcmin}")
    x, y = (float(v) for v in wcs.wcs_world2pix([[ra, dec]], 0)[0])
    scale_arcsec = abs(float(wcs.wcs.cdelt[1])) * 3600.0  # plain TAN: square pixels
    shown = counts
    if zoom_arcmin is not None:  # the scale spans the pixels shown
        half = zoom_arcmin * 60.0 / scale_arcsec
        rows = slice(max(int(np.floor(y - half)), 0), max(int(np.ceil(y + half)) + 1, 0))
        columns = slice(max(int(np.floor(x - half)), 0), max(int(np.ceil(x + half)) + 1, 0))
        shown = counts[rows, columns] if counts[rows, columns].size else counts
    scale = image_scale(shown)
    figure = Figure(figsize=(6.4, 6.0))
    axes = figure.add_subplot(projection=wcs)
    picture = axes.imshow(counts, origin="lower", cmap="viridis", norm=scale.norm())
    figure.colorbar(picture, ax=axes, label=scale.label, ticks=list(scale.ticks))
    axes.plot([x], [y], marker="+", color="white", markersize=6, linestyle="none")
    axes.add_patch(
        Circle((x, y), r90_arcsec / scale_arcsec, fill=False, edgecolor="red", linewidth=1.5)
    )
    if zoom_arcmin is not None:
        axes.set_xlim(x - half, x + half)
        axes.set_ylim(y - half, y + half)
    axes.set_xlabel("RA (J2000)")
    axes.set_ylabel("Dec (J2000)")
    axes.set_title(title or f"RA {ra:.4f}  Dec {dec:+.4f}  r90 {r90_arcsec:.1f}\u2033", fontsize=10)
    return figure


def _contiguous_runs(bins: LightCurveBins) -> list[slice]:
    """Runs of bins that touch each other (one per GTI)."""
    breaks = np.flatnonzero(bins.start[1:] > bins.stop[:-1]) + 1
    bounds = np.concatenate([[0], breaks, [len(bins)]])
    return [slice(int(a), int(b)) for a, b in pairwise(bounds)]


def time_axis_label(t0: float, t0_utc: str | None = None, t0_is: str | None = None) -> str:
    """The light curve's time axis label: what ``t0`` is, as a UTC date when known.

    ``t0_utc`` is the ISO date of ``t0`` in UTC; ``t0_is`` says what it is (``"trigger"``).
    Without a date, ``t0`` is given in seconds of mission time.
    """
    when = f"{t0_utc} UTC" if t0_utc else f"{t0:.3f} s (mission time)"
    return f"t - t0 [s],  t0 = {when}" + (f", {t0_is}" if t0_is else "")


def lightcurve_preview(
    constant_bins: LightCurveBins,
    bayesian_bins: LightCurveBins | None,
    gaps: Sequence[Gap],
    path: Path | str,
    t0: float,
    *,
    log_time: bool = False,
    title: str | None = None,
    t0_utc: str | None = None,
    t0_is: str | None = None,
) -> Path:
    """Light curve: constant-S/N rates with error bars, Bayesian blocks, gaps shaded.

    Parameters
    ----------
    constant_bins : LightCurveBins
        Points with horizontal (bin) and vertical (Gehrels, asymmetric) error bars; bins
        below the target S/N are drawn as open symbols.
    bayesian_bins : LightCurveBins, optional
        Drawn as steps, one line per GTI.
    gaps : sequence of Gap
        Shaded and labelled with their cause.
    path : Path or str
        PNG file written.
    t0 : float
        Reference time [s] (e.g. the trigger): the x axis is ``t - t0``.
    log_time : bool
        Logarithmic time axis (afterglows); the bins and gaps before ``t0`` are then not
        shown.
    title : str, optional
        Title of the plot.
    t0_utc, t0_is : str, optional
        ``t0`` as a UTC date and what it is, for the time axis (:func:`time_axis_label`).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        A non-finite ``t0``, or ``log_time`` with no bin after ``t0``.
    """
    figure = lightcurve_figure(
        constant_bins, bayesian_bins, gaps, t0,
        log_time=log_time, title=title, t0_utc=t0_utc, t0_is=t0_is,
    )  # fmt: skip
    return _save(figure, path)


def lightcurve_figure(
    constant_bins: LightCurveBins,
    bayesian_bins: LightCurveBins | None,
    gaps: Sequence[Gap],
    t0: float,
    *,
    log_time: bool = False,
    title: str | None = None,
    t0_utc: str | None = None,
    t0_is: str | None = None,
) -> Figure:
    """The figure :func:`lightcurve_preview` saves (same parameters but ``path``, same errors)."""
    if not np.isfinite(t0):
        raise ValueError(f"t0 must be a finite time [s], not {t0}")
    if log_time and not np.any(constant_bins.stop > t0):
        raise ValueError("log_time needs bins after t0")
    figure = Figure(figsize=(8.0, 4.5))
    axes = figure.add_subplot()
    low = 0.0
    if log_time:
        low = float(np.min((constant_bins.start - t0)[constant_bins.stop > t0]))
        low = max(low, 1e-3 * float(np.max(constant_bins.stop - t0)))
    centre, half = constant_bins.time - t0, 0.5 * constant_bins.timedel
    for complete, marker in ((True, "o"), (False, "s")):
        chosen = constant_bins.complete == complete
        if not np.any(chosen):
            continue
        axes.errorbar(
            centre[chosen],
            constant_bins.rate[chosen],
            xerr=half[chosen],
            yerr=[constant_bins.error_lo[chosen], constant_bins.error_hi[chosen]],
            fmt=marker,
            markersize=3,
            color="tab:blue",
            mfc="tab:blue" if complete else "none",
            elinewidth=0.8,
            label="constant S/N" if complete else "below target S/N",
        )
    if bayesian_bins is not None:
        for k, run in enumerate(_contiguous_runs(bayesian_bins)):
            edges = np.append(bayesian_bins.start[run], bayesian_bins.stop[run][-1]) - t0
            axes.stairs(
                bayesian_bins.rate[run],
                edges,
                baseline=None,
                color="black",
                linewidth=1.2,
                label="Bayesian blocks" if k == 0 else None,
            )
    labelled: set[str] = set()
    transform = axes.get_xaxis_transform()
    for start, stop, cause in gaps:
        a, b = start - t0, stop - t0
        if log_time:
            a = max(a, low)
        if b <= a:
            continue
        colour = _GAP_COLOURS.get(cause, "0.6")
        axes.axvspan(
            a, b, color=colour, alpha=0.25, lw=0, label=None if cause in labelled else cause
        )
        labelled.add(cause)
        middle = np.sqrt(a * b) if log_time else 0.5 * (a + b)
        axes.text(middle, 0.98, cause, transform=transform, rotation=90, fontsize=7,
                  ha="center", va="top", color=colour)  # fmt: skip
    if log_time:
        axes.set_xscale("log")
        axes.set_xlim(left=low)
    axes.set_xlabel(time_axis_label(t0, t0_utc, t0_is))
    axes.set_ylabel("rate [count/s]")
    axes.set_title(title or "MXT light curve", fontsize=10)
    axes.legend(fontsize=8, loc="best")
    return figure
