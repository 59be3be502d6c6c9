"""The line ``pipeline-bricks run`` prints: what a scientist wants from a finished brick.

Made from the processing_status.json the runner wrote (its ``results`` and ``outputs``),
so it says what the scheduler reads. Pure dictionaries: no science module is imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["result_line"]

_DETECT = "mxt-detect"
# What each brick's results say, in the order of the chain.
_STAGES = ("mxt-calibrate", "mxt-coordinates", "mxt-screen", "mxt-detect", "mxt-products")


def _sources(results: Mapping[str, Any]) -> str:
    n = int(results.get("n_sources", 0))
    if n == 0:
        return "no source found"
    best = results["sources"][0]
    return (
        f"{n} source{'s' if n > 1 else ''} found; brightest at RA {best['ra_deg']:.5f} "
        f"Dec {best['dec_deg']:+.5f} deg, R90 {best['err_r90_arcsec']:.1f} arcsec, "
        f"{best['rate_cps']:.3g} counts/s"
    )


def _stage(name: str, results: Mapping[str, Any]) -> str | None:
    if name == "mxt-calibrate" and "events" in results:
        return f"{results['events']} events calibrated"
    if name == "mxt-coordinates" and "events" in results:
        without = results.get("without_attitude", 0)
        return f"{results['events']} events on the sky" + (
            f" ({without} outside the attitude)" if without else ""
        )
    if name == "mxt-screen" and "events_kept" in results:
        return (
            f"{results['events_kept']} of {results['events_in']} events kept, "
            f"exposure {results['exposure_s']:g} s"
        )
    if name == _DETECT and "n_sources" in results:
        return _sources(results)
    if name == "mxt-products" and "source" in results:
        source = results["source"]
        return (
            f"{source['source_counts_total']:g} +/- {source['source_counts_total_err']:g} "
            "source counts extracted"
        )
    return None


def _outputs(outputs: Mapping[str, list[str]]) -> str:
    kinds = [f"{len(files)} {kind}" if len(files) > 1 else kind for kind, files in outputs.items()]
    total = sum(len(files) for files in outputs.values())
    return f"{total} file{'s' if total != 1 else ''} written ({', '.join(kinds)})"


def result_line(status: Mapping[str, Any], *, directory: str) -> str:
    """One line: the brick, its status, its findings and the files written in ``directory``.

    For ``mxt-pipeline`` (its stages' results filed under their names): the sources found
    and the products extracted, or what the last two stages said when the chain ended earlier.
    """
    brick, results = status["brick"], status.get("results") or {}
    if brick == "mxt-pipeline":
        stages = [name for name in _STAGES if name in results]
        if _DETECT in stages:  # the sources and the products are what the chain is for
            stages = stages[stages.index(_DETECT) :]
        found = [_stage(name, results[name]) for name in stages[-2:]]
    else:
        found = [_stage(brick, results)]
    parts = [f"{brick}: {status['status']}", *(text for text in found if text)]
    outputs = status.get("outputs") or {}
    if outputs:
        parts.append(f"{_outputs(outputs)} in {directory}")
    else:
        parts.append(f"status in {directory}")
    return "; ".join(parts)
