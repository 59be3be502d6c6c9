"""Throughput of the MXT brick science cores against a memory-bound floor, on one core.

For 10^4, 10^5 and 10^6 seeded events (spread over the CCD plus a point source, 1000 s of
0.1 s frames, attitude at 1 s with arc-second jitter, PHAS = a split charge cloud on an
offset of ~4 ADU) it times, best of several repeats, what each brick does to the events:

- ``mxt-calibrate``: :func:`calibrate_events` (patterns, gain, CTI, PI, STATUS);
- ``mxt-coordinates``: RAW -> DET (randomised in the pixel), attitude interpolation,
  DET -> RA/Dec, the SKY WCS and RA/Dec -> SKY;
- ``mxt-screen``: BADPIX mask, attitude GTIs, :func:`find_hot_pixels` on the events in
  them (BADPIX pixels known bad), then :func:`screen_events` (also timed alone).

The floor, measured in the same run, copies the columns the brick reads and fills arrays
of the columns it writes: the least any implementation must move through memory. The
demonstration calibration files (TELDEF, GAIN and CTI of the second epoch, BADPIX) are
generated in a temporary directory and read with the bricks' own readers.

Run: ``.venv/bin/python benchmarks/bench_bricks.py [--sizes 10000 100000 1000000]``
"""

from __future__ import annotations

import os

# one core: BLAS and OpenMP threads are fixed before numpy is imported
os.environ.update(
    dict.fromkeys(("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"), "1")
)

import argparse
import platform
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from harness import busy_share

from caldb_demodata import EPOCH_2, generate
from caldb_demodata.common import file_name
from pipeline_bricks.mxt import coordinates as co
from pipeline_bricks.mxt import gti as gt
from pipeline_bricks.mxt import screen as sc
from pipeline_bricks.mxt import sky as sk
from pipeline_bricks.mxt.caldata import (
    BadPixels,
    ColumnGains,
    CtiLaw,
    read_badpix,
    read_cti,
    read_gain,
    read_teldef,
)
from pipeline_bricks.mxt.calibrate import calibrate_events

SEED = 20240622
SIZES = (10_000, 100_000, 1_000_000)
TARGET = 1e6  # events/s on one core, for calibrate and coordinates at 10^6 events
TARGETED = ("mxt-calibrate", "mxt-coordinates")
SPAN_S, FRAME_S, T0 = 1000.0, 0.1, 3.0e8  # observation length, FRAMETIM, mission time [s]
N_FRAMES = round(SPAN_S / FRAME_S)
POINTING = (150.0, 40.0, 63.0)  # RA_PNT, DEC_PNT, PA_PNT [deg]
SPLIT_ADU, SOURCE_SHARE, CLOUD_PX = 12.0, 0.3, 0.12


@dataclass(frozen=True)
class Calibration:
    """What the bricks would fetch from the CalDB: TELDEF, GAIN, CTI of 2025-06-01, BADPIX."""

    teldef: co.Teldef
    gains: ColumnGains
    cti: CtiLaw
    badpix: BadPixels


@dataclass(frozen=True)
class Observation:
    """The event columns a brick reads and the attitude table."""

    time: np.ndarray
    frame: np.ndarray
    rawx: np.ndarray
    rawy: np.ndarray
    phas: np.ndarray
    status: np.ndarray
    attitude: dict[str, np.ndarray]


def read_calibration(directory: Path) -> Calibration:
    """Write the demonstration set and read its MXT files with the bricks' readers."""
    generate(directory, seed=2024)
    path = {name: directory / file_name("mxt", name, EPOCH_2) for name in ("teldef", "gain")}
    path |= {"cti": directory / file_name("mxt", "cti", EPOCH_2)}
    badpix = next(directory.glob("svmxt_badpix_*.fits"))
    return Calibration(
        read_teldef(path["teldef"]), read_gain(path["gain"]), read_cti(path["cti"]),
        read_badpix(badpix),
    )  # fmt: skip


def split_fractions(sub: np.ndarray) -> np.ndarray:
    """(n, 3) share of a cloud at ``sub`` [pixel] in the pixels -1, 0, +1 (logistic edges)."""
    low = 1.0 / (1.0 + np.exp((sub + 0.5) / CLOUD_PX))
    high = 1.0 / (1.0 + np.exp((0.5 - sub) / CLOUD_PX))
    return np.stack([low, 1.0 - low - high, high], axis=-1)


def make_observation(n: int, calibration: Calibration, rng: np.random.Generator) -> Observation:
    """``n`` events, each a split charge cloud on the column offsets.

    70 % uniform over the CCD, 30 % a point source, 0.2 % on two hot pixels and 30 on a
    flickering one; in time order.
    """
    from_source = rng.random(n) < SOURCE_SHARE
    centre = rng.normal(128.5, 8.0, (2, n))  # PSF core ~19 pixels FWHM
    xy = np.where(from_source, centre, rng.uniform(0.5, 256.5, (2, n)))
    frame = rng.integers(0, N_FRAMES, n)
    hot = np.flatnonzero(rng.random(n) < 0.002)
    xy[:, hot] = np.array([[40.0, 210.0], [200.0, 60.0]])[:, hot % 2]
    xy[:, :30], frame[:30] = 100.0, N_FRAMES // 2 + np.arange(30) % 8  # a flickering pixel
    order = np.argsort(frame, kind="stable")
    xy, frame = xy[:, order], frame[order].astype(np.int32)
    rawx, rawy = (np.clip(np.rint(v), 1, 256).astype(np.int16) for v in xy)
    sub_x, sub_y = xy - np.rint(xy)
    energy_ev = np.clip(rng.lognormal(np.log(1500.0), 0.7, n), 200.0, 12000.0)
    share = (split_fractions(sub_y)[:, :, None] * split_fractions(sub_x)[:, None, :]).reshape(n, 9)
    columns = np.clip(rawx[:, None] + np.tile([-1, 0, 1], 3), 1, 256) - 1
    gains, offsets = calibration.gains.gain_ev_per_adu, calibration.gains.offset_adu
    adu = share * energy_ev[:, None] / gains[columns] + offsets[columns]
    phas = np.rint(adu + rng.normal(0.0, 1.5, (n, 9))).astype(np.int16)
    steps = np.arange(T0 - 1.0, T0 + SPAN_S + 2.0)  # 1 s attitude, arc-second jitter
    jitter = rng.normal(0.0, 2.0 / 3600.0, (3, steps.size))
    attitude = {"time": steps, "settled": np.ones(steps.size, bool)}
    attitude |= {"in_saa": (steps > T0 + 600.0) & (steps < T0 + 640.0)}  # an SAA passage
    attitude |= {k: p + j for k, p, j in zip(("ra", "dec", "roll"), POINTING, jitter, strict=True)}
    time_s = T0 + (frame + 0.5) * FRAME_S
    return Observation(time_s, frame, rawx, rawy, phas, np.zeros(n, np.int16), attitude)


def calibrate(obs: Observation, cal: Calibration) -> tuple[np.ndarray, ...]:
    result = calibrate_events(
        obs.phas, obs.rawx, obs.rawy, cal.gains.gain_ev_per_adu, cal.gains.offset_adu,
        split_threshold_adu=SPLIT_ADU, cti_norm=cal.cti.norm, cti_e0_kev=cal.cti.e0_kev,
        cti_index=cal.cti.index, cti_n_offset=cal.cti.n_offset, status=obs.status,
    )  # fmt: skip
    return result.pha, result.pattern, result.multiplicity, result.energy, result.pi, result.status


def coordinates(obs: Observation, cal: Calibration) -> tuple[np.ndarray, ...]:
    att = obs.attitude
    detx, dety = co.raw_to_det(obs.rawx, obs.rawy, cal.teldef, np.random.default_rng(SEED))
    pointing = co.interpolate_attitude(
        obs.time, att["time"], att["ra"], att["dec"], att["roll"], outside="nan"
    )
    ra, dec = co.det_to_radec(detx, dety, cal.teldef, *pointing)
    x, y = sk.radec_to_sky(ra, dec, sk.sky_wcs(cal.teldef, *POINTING[:2]))
    return detx, dety, ra, dec, x, y


def screen_masks(obs: Observation, cal: Calibration) -> tuple[Any, np.ndarray, np.ndarray]:
    """GTIs, BADPIX mask and hot/flickering pixels found in the events, as the brick does."""
    att = obs.attitude
    bad = cal.badpix.mask()
    good = gt.gti_from_attitude(att["time"], att["settled"], att["in_saa"])
    gti = gt.intersect_gtis(good, ([T0], [T0 + SPAN_S]))
    use = gt.in_gti(obs.time, *gti)
    hot = sc.find_hot_pixels(obs.rawx[use], obs.rawy[use], obs.frame[use], N_FRAMES, known_bad=bad)
    return gti, bad, sc.pixels_to_mask(hot, bad.shape)


def screen(obs: Observation, cal: Calibration, columns: Any, masks: Any = None) -> Any:
    """STATUS bits and the events kept (the masks are made first unless given)."""
    gti, bad, hot = screen_masks(obs, cal) if masks is None else masks
    pattern, energy = columns
    return sc.screen_events(
        obs.time, obs.rawx, obs.rawy, pattern, energy, gti=gti, bad_mask=bad,
        hot_mask=hot, status=obs.status,
    )  # fmt: skip


def best_seconds(run: Callable[[], Any], repeats: int) -> float:
    """Shortest wall-clock time of ``repeats`` calls (perf_counter)."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def floor(inputs: Sequence[np.ndarray], outputs: Sequence[np.ndarray]) -> None:
    """The memory-bound floor: copy every input column, fill arrays like every output."""
    for column in inputs:
        np.copy(column)
    for column in outputs:
        np.full_like(column, 1)


@dataclass(frozen=True)
class Row:
    """One measurement: a brick at one size, and the floor for the same columns."""

    brick: str
    n: int
    seconds: float
    floor_seconds: float

    @property
    def rate(self) -> float:
        """Events per second of the brick."""
        return self.n / self.seconds


def screen_columns(obs: Observation) -> tuple[np.ndarray, np.ndarray]:
    """PATTERN and ENERGY [keV] as mxt-calibrate would give them (made once, not timed)."""
    rng = np.random.default_rng(SEED)
    pattern = rng.choice([-1, 0, 1, 5, 9], obs.time.size, p=[0.02, 0.5, 0.3, 0.1, 0.08])
    return pattern.astype(np.int16), rng.lognormal(np.log(1.5), 0.7, obs.time.size)


def measure(sizes: Sequence[int], cal: Calibration) -> list[Row]:
    rows: list[Row] = []
    for n in sizes:
        obs = make_observation(n, cal, np.random.default_rng(SEED + n))
        columns, masks = screen_columns(obs), screen_masks(obs, cal)
        screen_read = (obs.time, obs.frame, obs.rawx, obs.rawy, *columns, obs.status)
        runs = {  # brick: (what it does, the columns it reads)
            "mxt-calibrate": (
                lambda o=obs: calibrate(o, cal),
                (obs.phas, obs.rawx, obs.rawy, obs.status),
            ),
            "mxt-coordinates": (lambda o=obs: coordinates(o, cal), (obs.rawx, obs.rawy, obs.time)),
            "mxt-screen": (lambda o=obs, c=columns: screen(o, cal, c), screen_read),
            "  screen_events alone": (
                lambda o=obs, c=columns, m=masks: screen(o, cal, c, m),
                screen_read,
            ),
        }
        print(f"{n} events: {int(masks[2].sum())} hot or flickering pixels found (3 planted)")
        repeats = 3 if n >= 1_000_000 else 7
        for brick, (run, inputs) in runs.items():
            outputs = run()
            seconds = best_seconds(run, repeats)
            floor_seconds = best_seconds(lambda i=inputs, o=outputs: floor(i, o), repeats)
            rows.append(Row(brick, n, seconds, floor_seconds))
            print(f"  {brick.strip():<22} {seconds * 1000:9.2f} ms", flush=True)
    return rows


def report(facts: dict[str, str], rows: list[Row]) -> None:
    """Print the facts, the table and the verdict on the 10^6 events/s target."""
    print("\n" + "\n".join(f"{key:<12} {value}" for key, value in facts.items()))
    header = f"{'brick':<24} {'events':>9} {'ms':>9} {'events/s':>10} {'floor ev/s':>11}"
    print(f"\n{header} {'brick/floor time':>17}\n{'-' * 84}")
    for row in rows:
        floor_rate, ratio = row.n / row.floor_seconds, row.seconds / row.floor_seconds
        print(
            f"{row.brick:<24} {row.n:>9} {row.seconds * 1000:>9.2f} {row.rate:>10.3g} "
            f"{floor_rate:>11.3g} {ratio:>16.1f}x"
        )
    largest = max(row.n for row in rows)
    print(f"\ntarget: >= {TARGET:.0e} events/s at {largest} events, one core")
    for row in rows:
        if row.brick in TARGETED and row.n == largest:
            verdict = "OK" if row.rate >= TARGET else "MISSED"
            share = f"{row.rate / TARGET:5.2f}x target"
            print(f"  {row.brick:<16} {row.rate:10.3g} events/s  {share}  {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="events")
    options = parser.parse_args()
    busy = busy_share()
    with tempfile.TemporaryDirectory(prefix="bench-bricks-") as work:
        cal = read_calibration(Path(work))
    rows = measure(options.sizes, cal)
    report(
        {
            "machine": f"{os.cpu_count()} cores, {platform.platform()}, {busy:.0%} busy at start",
            "Python": f"{platform.python_version()}, numpy {np.__version__}, one thread",
            "events": f"seed {SEED}, {SOURCE_SHARE:.0%} from a point source, {SPAN_S:.0f} s",
            "floor": "copy of the columns read + fill of the columns written",
        },
        rows,
    )


if __name__ == "__main__":
    main()
