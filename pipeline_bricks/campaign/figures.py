"""The figures of a campaign's HTML report, as PNG bytes.

Matplotlib through its object interface only (``Figure`` and the Agg canvas, no pyplot):
no global state, nothing left open. The bytes depend on the records alone: fixed size and
DPI, and no ``Software`` metadata in the PNG.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from pipeline_bricks.campaign.report import wilson

__all__ = ["coverage_png", "efficiency_png", "offset_png", "rayleigh_cdf", "recovery_png"]

_DPI = 100
_SIZE = (8.0, 3.6)  # [inch]
_PNG_METADATA = {"Software": None}
_LN10 = math.log(10.0)
_COLOURS = ("tab:blue", "tab:orange")
_MAX_BINS = 8

Records = Sequence[dict[str, Any]]


def rayleigh_cdf(x: Any) -> Any:
    """P(offset < x R90) for a 2-D Gaussian error whose 90 % radius is R90: 1 - 0.1**(x**2)."""
    return 1.0 - np.exp(-np.square(x) * _LN10)


def _figure() -> Figure:
    """A report figure with fixed margins: the same layout on every machine.

    Not matplotlib's constrained layout, which depends on the fonts found and, where they
    leave no room, warns instead of drawing.
    """
    figure = Figure(figsize=_SIZE)
    figure.subplots_adjust(left=0.08, right=0.98, bottom=0.16, top=0.9, wspace=0.28)
    return figure


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI, metadata=_PNG_METADATA)
    return buffer.getvalue()


def _ratios(records: Records) -> np.ndarray:
    values = [r["offset_over_r90"] for r in records if r["detected"]]
    return np.sort(np.array([v for v in values if v is not None], dtype=np.float64))


def _empty(axes: Axes, text: str) -> None:
    axes.text(0.5, 0.5, text, ha="center", va="center", transform=axes.transAxes)


def offset_png(campaigns: Sequence[tuple[str, Records]]) -> bytes:
    """Offset / R90 of the detected runs against the Rayleigh law: histogram and CDF.

    ``campaigns`` is one (label, records) pair, or two to overlay (``--compare``).
    """
    figure = _figure()
    density, cumulative = figure.subplots(1, 2)
    every = [_ratios(records) for _, records in campaigns]
    top = max([2.5, *(float(r.max()) * 1.05 for r in every if r.size)])
    grid = np.linspace(0.0, top, 200)
    edges = np.linspace(0.0, top, 21)
    density.plot(grid, 2 * grid * _LN10 * np.exp(-grid * grid * _LN10), color="k",
                 label="Rayleigh (calibrated R90)")  # fmt: skip
    cumulative.plot(grid, rayleigh_cdf(grid), color="k", label="Rayleigh: 1 - 0.1^(x²)")
    for (label, _), ratios, colour in zip(campaigns, every, _COLOURS, strict=False):
        if not ratios.size:
            continue
        density.hist(ratios, bins=edges, density=True, histtype="step", color=colour,
                     linewidth=1.5, label=f"{label} ({ratios.size})")  # fmt: skip
        steps = np.arange(1, ratios.size + 1) / ratios.size
        cumulative.step(np.concatenate([[0.0], ratios]), np.concatenate([[0.0], steps]),
                        where="post", color=colour, label=label)  # fmt: skip
    if not any(r.size for r in every):
        _empty(density, "no detected run")
    for axes in (density, cumulative):
        axes.axvline(1.0, color="0.6", linestyle=":", linewidth=1)
        axes.set_xlim(0.0, top)
        axes.set_xlabel("offset / R90 (true to found, over the 90 % radius)")
        axes.legend(fontsize="small")
    density.set_ylabel("probability density (per unit offset / R90)")
    cumulative.set_ylabel("fraction of detected runs below")
    cumulative.set_ylim(0.0, 1.02)
    cumulative.axhline(0.9, color="0.6", linestyle=":", linewidth=1)
    return _png(figure)


def _edges(values: np.ndarray) -> np.ndarray:
    """Logarithmic bins over ``values`` (> 0): about sqrt(n) of them, at most _MAX_BINS."""
    low, high = float(values.min()), float(values.max())
    if high <= low * 1.001:
        low, high = low / 1.5, high * 1.5
    count = max(1, min(_MAX_BINS, int(math.sqrt(values.size))))
    return np.geomspace(low, high * 1.0001, count + 1)  # the largest value falls inside


def _binned_fraction(axes: Axes, x: np.ndarray, hits: np.ndarray, colour: str, label: str) -> None:
    """Fraction of ``hits`` in log bins of ``x``, with 95 % Wilson intervals as error bars."""
    edges = _edges(x)
    which = np.clip(np.digitize(x, edges) - 1, 0, edges.size - 2)
    centres, fractions, below, above = [], [], [], []
    for index in range(edges.size - 1):
        inside = which == index
        n = int(np.count_nonzero(inside))
        if n == 0:
            continue
        k = int(np.count_nonzero(hits[inside]))
        low, high = wilson(k, n)
        centres.append(math.sqrt(edges[index] * edges[index + 1]))
        fractions.append(k / n)
        below.append(max(0.0, k / n - low))  # Wilson's bounds at k = 0 or n: rounding only
        above.append(max(0.0, high - k / n))
    axes.errorbar(centres, fractions, yerr=[below, above], fmt="o", color=colour, capsize=3,
                  label=f"{label} (95 % Wilson intervals)")  # fmt: skip
    axes.set_xscale("log")
    axes.set_ylim(-0.02, 1.05)


def coverage_png(label: str, records: Records) -> bytes:
    """Share of the detected runs within their R90, in bins of the source counts found."""
    figure = _figure()
    axes = figure.subplots()
    detected = [r for r in records if r["detected"] and r["counts_found"]]
    if detected:
        counts = np.array([float(r["counts_found"]) for r in detected])
        inside = np.array([bool(r["in_r90"]) for r in detected])
        _binned_fraction(axes, counts, inside, _COLOURS[0], label)
        axes.axhline(0.9, color="k", linestyle="--", linewidth=1, label="expected: 0.9")
        axes.legend(fontsize="small", loc="lower right")
    else:
        _empty(axes, "no detected run")
    axes.set_xlabel("source counts found by mxt-detect (ct)")
    axes.set_ylabel("R90 coverage (offset ≤ R90)")
    return _png(figure)


def efficiency_png(label: str, records: Records) -> bytes:
    """Share of the runs whose GRB was detected, in bins of its true count rate."""
    figure = _figure()
    axes = figure.subplots()
    drawn = [r for r in records if r["rate_cts_s"] and r["rate_cts_s"] > 0]
    if drawn:
        rates = np.array([float(r["rate_cts_s"]) for r in drawn])
        found = np.array([bool(r["detected"]) for r in drawn])
        _binned_fraction(axes, rates, found, _COLOURS[0], label)
        axes.legend(fontsize="small", loc="lower right")
    else:
        _empty(axes, "no run")
    axes.set_xlabel("true count rate at the start of the data (ct / s)")
    axes.set_ylabel("detection efficiency")
    return _png(figure)


def _found_against_true(axes: Axes, records: Records, found: str, true: str, colour: str) -> int:
    """``found`` (with its error bar) against ``true`` for the runs fitted, and y = x."""
    rows = [r for r in records if r.get(found) is not None and r.get(true) is not None]
    if not rows:
        _empty(axes, "no fitted run")
        return 0
    x = np.array([float(r[true]) for r in rows])
    y = np.array([float(r[found]) for r in rows])
    errors = np.array([float(r[f"{found}_err"]) for r in rows])
    low, high = float(min(x.min(), (y - errors).min())), float(max(x.max(), (y + errors).max()))
    margin = 0.05 * max(high - low, 0.1)
    line = np.array([low - margin, high + margin])
    axes.plot(line, line, color="k", linewidth=1, label="found = true")
    axes.errorbar(x, y, yerr=errors, fmt="o", color=colour, capsize=2, markersize=4,
                  label=f"{len(rows)} runs (1 sigma errors)")  # fmt: skip
    axes.set_xlim(*line)
    axes.set_ylim(*line)
    axes.legend(fontsize="small", loc="upper left")
    return len(rows)


def recovery_png(label: str, records: Records) -> bytes:
    """Photon index (spectral fit) and decay index (light-curve fit) found against true."""
    figure = _figure()
    photon, decay = figure.subplots(1, 2)
    _found_against_true(photon, records, "gamma_found", "gamma", _COLOURS[0])
    _found_against_true(decay, records, "decay_found", "decay", _COLOURS[0])
    photon.set_xlabel("true photon index")
    photon.set_ylabel("photon index fitted to the spectrum")
    decay.set_xlabel("true decay index")
    decay.set_ylabel("decay index fitted to the light curve")
    figure.suptitle(label, fontsize="small")
    return _png(figure)
