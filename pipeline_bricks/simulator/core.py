"""One simulated MXT observation: photons from the source and the background, noise events.

:func:`simulate` is pure numpy on a :class:`SimulationConfig` and a
:class:`~pipeline_bricks.simulator.calibration.SimulatorCalibration`; it returns the event
columns, the attitude and the truth numbers. Each part draws from its own random stream
``numpy.random.default_rng([seed, k])`` so the parts do not shift each other (extra source
``i``: ``[seed, 5, i]``, so adding one leaves the main source's photons as they were).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pipeline_bricks.mxt.coordinates import (
    det_to_raw,
    interpolate_attitude,
    off_axis_angle,
    radec_to_det,
)
from pipeline_bricks.simulator import background as bkg
from pipeline_bricks.simulator.attitude import AttitudeTable, in_intervals, make_attitude
from pipeline_bricks.simulator.calibration import SimulatorCalibration
from pipeline_bricks.simulator.detector import cti_loss, detect_events, redistribute
from pipeline_bricks.simulator.source import (
    Spectrum,
    arrival_times,
    expected_counts,
    psf_offsets,
    sample_energies,
)

__all__ = ["SimulatedObservation", "SimulationConfig", "simulate"]

BACKGROUND_BAND_KEV = (0.2, 10.0)
ORIGIN_SOURCE, ORIGIN_BACKGROUND, ORIGIN_NOISE = 0, 1, 2
ORIGIN_EXTRA = 3  # extra source i has origin ORIGIN_EXTRA + i
MAX_EXTRA_SOURCES = 20
CHUNK = 1 << 18  # photons per pass of the detector response
_STREAMS = {"attitude": 0, "source": 1, "background": 2, "noise": 3, "detector": 4, "extra": 5}


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate (the ``simulate`` options; units in the names)."""

    ra_deg: float
    dec_deg: float
    rate_cts_s: float
    decay: float
    start_offset_s: float
    duration_s: float
    seed: int
    t0_mission_s: float
    pointing: tuple[float, float, float]  # RA, Dec, roll [deg]
    spectrum: Spectrum = field(default_factory=Spectrum)
    jitter_arcsec: float = 2.0
    bkg_rate_cts_s: float = 0.2
    hot_rate_cts_s: float = 0.01
    n_hot_pixels: int = 3
    n_flickering_pixels: int = 1
    flicker_frames: int = 50
    saa_s: tuple[tuple[float, float], ...] = ()
    cloud_sigma_um: float = 5.0
    cloud_model: str = "exponential"  # or "fixed"
    # more point sources, (RA [deg], Dec [deg], rate [counts/s]); same decay and spectrum
    extra_sources: tuple[tuple[float, float, float], ...] = ()


@dataclass
class SimulatedObservation:
    """The simulated events (sorted by frame, then RAWY, RAWX), attitude and truth."""

    tstart: float
    tstop: float
    n_frames: int
    frame: NDArray[np.int64]
    time: NDArray[np.float64]
    rawx: NDArray[np.int64]
    rawy: NDArray[np.int64]
    phas: NDArray[np.int16]
    origin: NDArray[np.int8]  # 0 main source, 1 background, 2 noise, 3 + i extra source i
    attitude: AttitudeTable
    noisy: bkg.NoisyPixels
    truth: dict[str, Any]


def _rng(seed: int, part: str, *index: int) -> np.random.Generator:
    return np.random.default_rng([seed, _STREAMS[part], *index])


def _det_to_continuous_raw(
    detx: NDArray[np.float64], dety: NDArray[np.float64], cal: SimulatorCalibration
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Inverse of ``DET = A + B RAWX + C RAWY`` without rounding (sub-pixel positions)."""
    ax, bx, cx = cal.teldef.coe_x
    ay, by, cy = cal.teldef.coe_y
    inverse = np.linalg.inv(np.array([[bx, cx], [by, cy]]))
    dx, dy = detx - ax, dety - ay
    return inverse[0, 0] * dx + inverse[0, 1] * dy, inverse[1, 0] * dx + inverse[1, 1] * dy


def _vignetting_kept(
    theta: NDArray[np.float64],
    energy: NDArray[np.float64],
    cal: SimulatorCalibration,
    rng: np.random.Generator,
) -> NDArray[np.bool_]:
    """Thinning by VIGNET(theta, E): one pass per energy column of the table."""
    centres = 0.5 * (cal.vignet.energ_lo_kev + cal.vignet.energ_hi_kev)
    column = np.clip(np.searchsorted(centres, energy), 0, centres.size - 1)
    probability = np.ones(energy.size)
    for index in np.unique(column):
        chosen = column == index
        probability[chosen] = cal.vignet.at(theta[chosen], float(centres[index]))
    return rng.random(energy.size) < probability


def _source_photons(  # noqa: PLR0917 (the source, then where it is observed)
    source: tuple[float, float, float],
    config: SimulationConfig,
    cal: SimulatorCalibration,
    attitude: AttitudeTable,
    t_stop: float,
    rng: np.random.Generator,
) -> tuple[dict[str, NDArray[Any]], dict[str, Any]]:
    """Photons of ``source`` (RA, Dec [deg], rate) that reach a live pixel.

    Time, energy, pixel and sub-pixel position of each; the truth counts.
    """
    ra_deg, dec_deg, rate = source
    t1 = config.start_offset_s
    expected = expected_counts(rate, config.decay, t1, t_stop)
    n = int(rng.poisson(expected))
    time = config.t0_mission_s + arrival_times(n, config.decay, t1, t_stop, rng)
    energy = sample_energies(config.spectrum, cal.arf, n, rng)
    ra, dec, roll = interpolate_attitude(
        time, attitude.time, attitude.ra, attitude.dec, attitude.roll
    )
    detx, dety = radec_to_det(ra_deg, dec_deg, cal.teldef, ra, dec, roll)
    # The vignetting is the optic's effective area for the source's direction (the
    # off-axis angle of the source, not where its photons land: halo photons far from the
    # source pass through the same optic), as the ARF of mxt-products assumes.
    pointing_finite = np.isfinite(detx) & np.isfinite(dety)
    theta = off_axis_angle(
        np.where(pointing_finite, detx, 0.0), np.where(pointing_finite, dety, 0.0), cal.teldef
    )
    det_pixel_arcmin = np.degrees(cal.teldef.det_xscl / cal.teldef.focallen) * 60.0
    dx, dy = psf_offsets(cal.psf, n, rng)
    detx = detx + dx * cal.psf.pixel_arcmin / det_pixel_arcmin
    dety = dety + dy * cal.psf.pixel_arcmin / det_pixel_arcmin
    finite = np.isfinite(detx) & np.isfinite(dety)
    vignetted = _vignetting_kept(theta, energy, cal, rng)
    photons, on_ccd = _on_live_pixels(detx, dety, cal)
    keep = finite & vignetted & on_ccd
    counts = {
        "expected": expected,
        "photons_generated": n,
        "photons_lost_to_vignetting": int(np.count_nonzero(finite & ~vignetted)),
        "photons_on_live_pixels": int(np.count_nonzero(keep)),
    }
    photons |= {"time": time, "energy": energy}
    return {key: value[keep] for key, value in photons.items()}, counts


def _on_live_pixels(
    detx: NDArray[np.float64], dety: NDArray[np.float64], cal: SimulatorCalibration
) -> tuple[dict[str, NDArray[Any]], NDArray[np.bool_]]:
    """RAW pixel and sub-pixel position; whether the pixel is on the CCD and not dead."""
    safe_x, safe_y = np.nan_to_num(detx, nan=-1e6), np.nan_to_num(dety, nan=-1e6)
    rawx, rawy, on_ccd = det_to_raw(safe_x, safe_y, cal.teldef)
    raw_x, raw_y = _det_to_continuous_raw(safe_x, safe_y, cal)
    dead = cal.badpix.mask(1)
    row, column = np.clip(rawy, 1, dead.shape[0]) - 1, np.clip(rawx, 1, dead.shape[1]) - 1
    live = on_ccd & ~dead[row, column]
    sub_x, sub_y = np.clip(raw_x - rawx, -0.5, 0.5), np.clip(raw_y - rawy, -0.5, 0.5)
    return {"rawx": rawx, "rawy": rawy, "sub_x": sub_x, "sub_y": sub_y}, live


def _background_photons(
    config: SimulationConfig, cal: SimulatorCalibration, tstart: float, tstop: float
) -> tuple[dict[str, NDArray[Any]], dict[str, Any]]:
    """Background photons, uniform in time, over the CCD and in energy (0.2-10 keV)."""
    rng = _rng(config.seed, "background")
    expected = config.bkg_rate_cts_s * (tstop - tstart)
    n = int(rng.poisson(expected))
    time = np.sort(rng.uniform(tstart, tstop, n))
    energy = rng.uniform(*BACKGROUND_BAND_KEV, n)
    rawx, rawy, sub_x, sub_y = bkg.uniform_positions(n, rng, cal.teldef.raw_xsiz)
    live = ~cal.badpix.mask(1)[rawy - 1, rawx - 1]
    photons = {"time": time, "energy": energy, "rawx": rawx, "rawy": rawy}
    photons |= {"sub_x": sub_x, "sub_y": sub_y}
    counts = {"expected": expected, "photons_generated": n}
    counts["photons_on_live_pixels"] = int(np.count_nonzero(live))
    return {key: value[live] for key, value in photons.items()}, counts


def _detect(
    photons: dict[str, NDArray[Any]], config: SimulationConfig, cal: SimulatorCalibration
) -> tuple[NDArray[np.bool_], NDArray[np.int64], NDArray[np.int64], NDArray[np.int16]]:
    """The detector response of the photons: kept, central pixel, PHAS."""
    rng = _rng(config.seed, "detector")
    n = photons["energy"].size
    measured_kev, valid = redistribute(photons["energy"], cal.rmf, rng)
    charge = cti_loss(measured_kev * 1000.0, photons["energy"] * 1000.0, photons["rawy"], cal.cti)
    sigma_px = config.cloud_sigma_um / (cal.teldef.det_xscl * 1000.0)
    if config.cloud_model == "exponential":
        sigma = sigma_px * rng.exponential(1.0, n)
    else:
        sigma = np.full(n, sigma_px)
    kept, rawx, rawy = np.zeros(n, bool), np.zeros(n, np.int64), np.zeros(n, np.int64)
    phas = np.zeros((n, 9), np.int16)
    dead = cal.badpix.mask(1)
    for start in range(0, n, CHUNK):  # bounded memory: ~25 floats per photon per array
        part = slice(start, start + CHUNK)
        found = detect_events(
            photons["rawx"][part], photons["rawy"][part], photons["sub_x"][part],
            photons["sub_y"][part], charge[part], gains=cal.gains.gain_ev_per_adu,
            offsets=cal.gains.offset_adu, cloud_sigma_px=sigma[part],
            thresholds=cal.thresholds, dead=dead,
        )  # fmt: skip
        kept[part], rawx[part], rawy[part], phas[part] = (
            found.kept, found.rawx, found.rawy, found.phas,
        )  # fmt: skip
    return kept & valid, rawx, rawy, phas


def _events_per_pixel(
    noisy: bkg.NoisyPixels, rawx: NDArray[np.int64], rawy: NDArray[np.int64]
) -> NDArray[np.int64]:
    """Number of events of each noisy pixel (events given by their pixel)."""
    pixels = (noisy.rawy - 1) * 256 + noisy.rawx - 1
    order = np.argsort(pixels)
    position = np.searchsorted(pixels[order], (rawy - 1) * 256 + rawx - 1)
    return np.bincount(order[position], minlength=pixels.size)


def _nominal_pixels(
    sources: list[tuple[float, float, float]], config: SimulationConfig, cal: SimulatorCalibration
) -> list[tuple[float, float]]:
    """RAW pixel of each source at the nominal pointing (sources off the sky plane left out)."""
    pixels = []
    for ra_deg, dec_deg, _ in sources:
        nominal = radec_to_det(ra_deg, dec_deg, cal.teldef, *config.pointing)
        if np.all(np.isfinite(nominal)):
            rawx, rawy, _ = det_to_raw(*nominal, cal.teldef)
            pixels.append((float(rawx), float(rawy)))
    return pixels


def simulate(config: SimulationConfig, cal: SimulatorCalibration) -> SimulatedObservation:
    """Simulate the observation ``[TSTART, TSTOP)``, ``TSTART = T0 + start_offset``.

    The observation is a whole number of frames (``FRAMETIM`` of EVTTHR): ``TSTOP = TSTART
    + n_frames * FRAMETIM`` with ``n_frames = round(duration / FRAMETIM)``.

    Parameters
    ----------
    config : SimulationConfig
        What to simulate.
    cal : SimulatorCalibration
        The calibration to invert.

    Returns
    -------
    SimulatedObservation
        Events, attitude and truth counts.
    """
    frame_time = cal.thresholds.frame_time_s
    n_frames = max(1, round(config.duration_s / frame_time))
    tstart = config.t0_mission_s + config.start_offset_s
    tstop = tstart + n_frames * frame_time
    attitude = make_attitude(
        tstart, tstop, config.pointing, jitter_arcsec=config.jitter_arcsec,
        saa_s=config.saa_s, rng=_rng(config.seed, "attitude"),
    )  # fmt: skip
    end_after_t0 = config.start_offset_s + n_frames * frame_time
    sources = [(config.ra_deg, config.dec_deg, config.rate_cts_s), *config.extra_sources]
    streams = [_rng(config.seed, "source")]
    streams += [_rng(config.seed, "extra", i) for i in range(len(config.extra_sources))]
    made = [
        _source_photons(source, config, cal, attitude, end_after_t0, rng)
        for source, rng in zip(sources, streams, strict=True)
    ]
    background, background_counts = _background_photons(config, cal, tstart, tstop)
    parts = [photons for photons, _ in made] + [background]
    photons = {key: np.concatenate([part[key] for part in parts]) for key in background}
    codes = [ORIGIN_SOURCE, *(ORIGIN_EXTRA + i for i in range(len(made) - 1)), ORIGIN_BACKGROUND]
    origin = np.repeat(codes, [part["time"].size for part in parts]).astype(np.int8)
    kept, rawx, rawy, phas = _detect(photons, config, cal)
    frame = np.clip(((photons["time"] - tstart) / frame_time).astype(np.int64), 0, n_frames - 1)
    # Noise events of hot and flickering pixels.
    rng = _rng(config.seed, "noise")
    noisy = bkg.choose_noisy_pixels(
        cal.badpix, n_hot=config.n_hot_pixels, n_flickering=config.n_flickering_pixels,
        n_frames=n_frames, burst_frames=config.flicker_frames,
        avoid=_nominal_pixels(sources, config, cal), rng=rng,
    )  # fmt: skip
    noise_frame, noise_x, noise_y = bkg.noise_events(
        noisy, hot_rate=config.hot_rate_cts_s, n_frames=n_frames, frame_time_s=frame_time,
        burst_frames=config.flicker_frames, rng=rng,
    )  # fmt: skip
    noise_phas = bkg.noise_phas(noise_x, noise_y, cal.gains.offset_adu, cal.thresholds, rng)
    # One event per pixel and frame: the first of the sources (main, then extra), background,
    # noise wins.
    frame = np.concatenate([frame[kept], noise_frame])
    rawx, rawy = np.concatenate([rawx[kept], noise_x]), np.concatenate([rawy[kept], noise_y])
    phas = np.concatenate([phas[kept], noise_phas])
    origin = np.concatenate([origin[kept], np.full(noise_frame.size, ORIGIN_NOISE, np.int8)])
    key = (frame * 257 + rawy) * 257 + rawx
    _, first = np.unique(key, return_index=True)  # sorted by frame, RAWY, RAWX
    frame, rawx, rawy = frame[first], rawx[first], rawy[first]
    phas, origin = phas[first], origin[first]
    time = np.asarray(tstart + frame * frame_time + 0.5 * frame_time, dtype=np.float64)
    saa = in_intervals(time - tstart, config.saa_s)
    events = {
        name: int(np.count_nonzero(origin == code))
        for name, code in (("background", 1), ("noise", 2))
    }
    per_source = [
        counts
        | {
            "events": int(np.count_nonzero(origin == code)),
            "events_in_saa": int(np.count_nonzero(saa & (origin == code))),
        }
        for (_, counts), code in zip(made, codes[:-1], strict=True)
    ]
    truth = {
        "n_frames": n_frames,
        "source": per_source[0],
        "extra_sources": per_source[1:],
        "background": background_counts | {"events": events["background"]},
        "noise": {"events": events["noise"]},
        "total_events": int(frame.size),
        "events_in_saa": int(np.count_nonzero(saa)),
        "noise_events_per_pixel": _events_per_pixel(noisy, rawx[origin == 2], rawy[origin == 2]),
    }
    return SimulatedObservation(
        tstart, tstop, n_frames, frame, time, rawx, rawy, phas, origin, attitude, noisy, truth
    )
