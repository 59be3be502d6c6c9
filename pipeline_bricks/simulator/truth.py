"""The truth of a simulation (``truth.json``) and the job reducing it (``runtime_data.json``)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np

from pipeline_bricks.mxt.coordinates import det_to_raw, off_axis_angle, radec_to_det
from pipeline_bricks.simulator.background import FLICKER_PROBABILITY
from pipeline_bricks.simulator.calibration import SimulatorCalibration
from pipeline_bricks.simulator.core import SimulatedObservation, SimulationConfig
from pipeline_bricks.simulator.mission_time import MJDREFF, MJDREFI, from_mission_time
from pipeline_bricks.simulator.source import FLUX_BAND_KEV, SIGMA_1KEV_CM2, SIGMA_INDEX
from pipeline_bricks.simulator.writer import CREATOR

__all__ = ["runtime_data_document", "truth_document"]

_BADPIX_KIND = {2: "badpix-hot", 4: "badpix-flickering"}


def _finite(value: Any) -> float | None:
    """A float for JSON, ``None`` when not finite (a source behind the telescope)."""
    number = float(value)
    return number if np.isfinite(number) else None


def _badpix_kinds(cal: SimulatorCalibration, rawx: np.ndarray, rawy: np.ndarray) -> list[str]:
    kinds = np.full(rawx.size, "badpix", dtype=object)
    for bit in sorted(_BADPIX_KIND, reverse=True):
        mask = cal.badpix.mask(bit)
        kinds[mask[rawy - 1, rawx - 1]] = _BADPIX_KIND[bit]
    return [str(kind) for kind in kinds]


def _noisy_pixels(
    config: SimulationConfig, cal: SimulatorCalibration, result: SimulatedObservation
) -> list[dict[str, Any]]:
    noisy = result.noisy
    kinds = _badpix_kinds(cal, noisy.rawx, noisy.rawy)
    counts = result.truth["noise_events_per_pixel"]
    pixels = []
    for index, kind in enumerate(noisy.kind):
        item: dict[str, Any] = {
            "rawx": int(noisy.rawx[index]),
            "rawy": int(noisy.rawy[index]),
            "kind": kinds[index] if kind == "badpix" else kind,
            "in_badpix": kind == "badpix",
            "events": int(counts[index]),
        }
        if kind == "flickering":
            start = int(noisy.burst_start[index])
            item |= {
                "burst_first_frame": start,
                "burst_frames": min(config.flicker_frames, result.n_frames),
                "burst_start_time": result.tstart + start * cal.thresholds.frame_time_s,
                "fire_probability_per_frame": FLICKER_PROBABILITY,
            }
        else:
            item["rate_cts_s"] = config.hot_rate_cts_s
        pixels.append(item)
    return pixels


def _normalisation(config: SimulationConfig, cal: SimulatorCalibration, rate: float) -> float:
    return config.spectrum.normalisation(rate, cal.arf) if rate > 0 else 0.0


def _position(
    config: SimulationConfig, cal: SimulatorCalibration, ra_deg: float, dec_deg: float
) -> dict[str, Any]:
    """A source's position and where it falls at the nominal pointing."""
    detx, dety = radec_to_det(ra_deg, dec_deg, cal.teldef, *config.pointing)
    rawx, rawy, on_ccd = det_to_raw(detx, dety, cal.teldef)
    return {
        "ra_deg": ra_deg,
        "dec_deg": dec_deg,
        "detx_nominal": _finite(detx),
        "dety_nominal": _finite(dety),
        "rawx_nominal": int(rawx) if on_ccd else None,
        "rawy_nominal": int(rawy) if on_ccd else None,
        "off_axis_arcmin": _finite(off_axis_angle(detx, dety, cal.teldef)),
    }


def _extra_sources(
    config: SimulationConfig, cal: SimulatorCalibration, result: SimulatedObservation
) -> list[dict[str, Any]]:
    """The extra sources: position, rate, spectrum normalisation and flux, counts."""
    extra = []
    for (ra, dec, rate), counts in zip(
        config.extra_sources, result.truth["extra_sources"], strict=True
    ):
        norm = _normalisation(config, cal, rate)
        extra.append(
            _position(config, cal, ra, dec)
            | {
                "rate_cts_s": rate,
                "normalisation": norm,
                "flux_erg_cm2_s_at_tstart": config.spectrum.energy_flux(norm),
                "counts": counts,
            }
        )
    return extra


def _spectrum(config: SimulationConfig, cal: SimulatorCalibration) -> dict[str, Any]:
    spectrum = config.spectrum
    norm = _normalisation(config, cal, config.rate_cts_s)
    if spectrum.lines_kev:
        described: dict[str, Any] = {
            "model": "lines",
            "lines_kev": list(spectrum.lines_kev),
            "normalisation": norm,
            "normalisation_unit": "photons/cm2/s in each line at TSTART",
        }
    else:
        described = {
            "model": "absorbed power law",
            "gamma": spectrum.gamma,
            "nh_cm2": spectrum.nh_cm2,
            "absorption": f"exp(-NH * {SIGMA_1KEV_CM2:g} cm2 * (E/keV)**-{SIGMA_INDEX:g})",
            "normalisation": norm,
            "normalisation_unit": "photons/cm2/s/keV at 1 keV at TSTART",
        }
    unabsorbed = type(spectrum)(spectrum.gamma, 0.0, spectrum.lines_kev)
    return described | {
        "flux_band_kev": list(FLUX_BAND_KEV),
        "flux_erg_cm2_s_at_tstart": spectrum.energy_flux(norm),
        "unabsorbed_flux_erg_cm2_s_at_tstart": unabsorbed.energy_flux(norm),
    }


def truth_document(
    config: SimulationConfig,
    cal: SimulatorCalibration,
    result: SimulatedObservation,
    *,
    identity: dict[str, str],
    caldb: dict[str, Any],
    files: dict[str, str],
) -> dict[str, Any]:
    """Everything the simulation put in, for comparing with what the chain finds.

    Parameters
    ----------
    config, cal, result
        The simulation.
    identity : dict of str
        ``trigger_date`` (ISO UTC), ``burst_id``, ``obs_id``.
    caldb : dict
        ``url`` and ``as_of`` of the CalDB used.
    files : dict of str
        Names of the files written (relative to the output directory).
    """
    frame_time = cal.thresholds.frame_time_s
    ra_pnt, dec_pnt, roll = config.pointing
    counts = {key: result.truth[key] for key in ("source", "background", "noise")}
    counts |= {key: result.truth[key] for key in ("total_events", "events_in_saa")}
    counts["noise"] |= {"hot_rate_cts_s_per_pixel": config.hot_rate_cts_s}
    counts["background"] |= {"rate_cts_s": config.bkg_rate_cts_s, "band_kev": [0.2, 10.0]}
    return {
        "simulator": CREATOR,
        "seed": config.seed,
        "trigger": {"date": identity["trigger_date"], "mission_time": config.t0_mission_s},
        "burst_id": identity["burst_id"],
        "obs_id": identity["obs_id"],
        "time": {
            "timesys": "TT",
            "mjdrefi": MJDREFI,
            "mjdreff": MJDREFF,
            "t0": config.t0_mission_s,
            "tstart": result.tstart,
            "tstop": result.tstop,
            "date_obs": from_mission_time(result.tstart),
            "date_end": from_mission_time(result.tstop),
            "frame_time_s": frame_time,
            "n_frames": result.n_frames,
        },
        "source": _position(config, cal, config.ra_deg, config.dec_deg),
        "extra_sources": _extra_sources(config, cal, result),
        "pointing": {
            "ra_deg": ra_pnt,
            "dec_deg": dec_pnt,
            "roll_deg": roll,
            "jitter_arcsec_rms": config.jitter_arcsec,
        },
        "rate_law": {
            "formula": "R(t) = rate * (t / start_offset) ** -decay, t in s after T0",
            "rate_cts_s": config.rate_cts_s,
            "rate_definition": "on-axis counts/s at TSTART, integral of N(E) A(E) dE (ARF)",
            "decay_index": config.decay,
            "start_offset_s": config.start_offset_s,
            "duration_s": result.tstop - result.tstart,
        },
        "spectrum": _spectrum(config, cal),
        "counts": counts,
        "noisy_pixels": _noisy_pixels(config, cal, result),
        "saa": {
            "intervals_s_from_tstart": [list(interval) for interval in config.saa_s],
            "intervals_mission_time": [
                [result.tstart + start, result.tstart + stop] for start, stop in config.saa_s
            ],
        },
        "thresholds": asdict(cal.thresholds),
        "detector": {
            "cloud_sigma_um": config.cloud_sigma_um,
            "cloud_model": config.cloud_model,
            "pixel_um": cal.teldef.det_xscl * 1000.0,
        },
        "calibration": [asdict(used) for used in cal.used],
        "caldb": caldb,
        "files": files,
    }


def runtime_data_document(
    identity: dict[str, str],
    files: dict[str, str],
    caldb: dict[str, Any],
    overrides: dict[str, str],
) -> dict[str, Any]:
    """The ``runtime_data.json`` that runs ``mxt-pipeline`` on the simulated files.

    Paths are relative to the output directory; local calibration overrides (absolute
    paths) are passed on so the chain reduces with the files the simulator used.
    """
    settings = {key: caldb[key] for key in ("url", "token", "as_of") if caldb.get(key)}
    settings["max_tries"] = caldb.get("max_tries", 5)
    return {
        "brick": "mxt-pipeline",
        "target": {
            "burst_id": identity["burst_id"],
            "obs_id": identity["obs_id"],
            "instrument": "MXT",
        },
        "inputs": {"events": [files["events"]], "attitude": [files["attitude"]]},
        "output_dir": "pipeline",
        "parameters": {"calibration": dict(overrides)} if overrides else {},
        "caldb": settings,
    }
