"""Small hand-made MXT L1 event lists and attitude files for the brick tests
(docs/event_formats.md); the simulator makes the realistic ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

START = 268_000_000.0  # mission time of 2025-07-01T00:00 (about; only DATE-OBS matters)
POINTING = (204.8665, 45.1204, 287.0)


def write_l1(path: Path, n: int = 200, *, date: str = "2025-07-01T00:02:00", seed: int = 1,
             drop: tuple[str, ...] = (), duration: float = 100.0) -> Path:  # fmt: skip
    """An L1 event list of ``n`` single-pixel events of ~1 keV spread over the CCD."""
    rng = np.random.default_rng(seed)
    phas = np.full((n, 9), 5, np.int16)
    phas[:, 4] = 200 + rng.integers(-3, 4, n)
    frame = np.sort(rng.integers(0, int(duration / 0.1), n))
    columns = {
        "TIME": ("D", START + frame * 0.1 + 0.05),
        "FRAME": ("J", frame),
        "RAWX": ("I", rng.integers(2, 256, n)),
        "RAWY": ("I", rng.integers(2, 256, n)),
        "PHAS": ("9I", phas),
        "STATUS": ("I", np.zeros(n, np.int16)),
    }
    events = fits.BinTableHDU.from_columns(
        [fits.Column(name=k, format=f, array=v) for k, (f, v) in columns.items() if k not in drop],
        name="EVENTS",
    )
    header = events.header
    header.update(TELESCOP="SVOM", INSTRUME="MXT", TIMESYS="TT", MJDREFI=57754,
                  MJDREFF=0.00080074074, TSTART=START, TSTOP=START + duration, FRAMETIM=0.1,
                  EVTTHR=24, SPLTHR=12, UPPERTHR=3000, RA_PNT=POINTING[0], DEC_PNT=POINTING[1],
                  PA_PNT=POINTING[2], RA_NOM=POINTING[0], DEC_NOM=POINTING[1])  # fmt: skip
    if "DATE-OBS" not in drop:
        header["DATE-OBS"] = date
    gti = fits.BinTableHDU.from_columns(
        [fits.Column(name="START", format="D", array=[START]),
         fits.Column(name="STOP", format="D", array=[START + duration])], name="GTI",
    )  # fmt: skip
    primary = fits.PrimaryHDU()
    primary.header.update(TELESCOP="SVOM", INSTRUME="MXT", OBS_ID="sb25070101")
    fits.HDUList([primary, events, gti]).writeto(path, overwrite=True)
    return path


def write_attitude(path: Path, *, duration: float = 100.0, saa: tuple[float, float] | None = None,
                   settled: bool = True) -> Path:  # fmt: skip
    """A steady attitude at POINTING, one row per second, margin of 2 s each side."""
    time = START + np.arange(-2.0, duration + 3.0)
    in_saa = np.zeros(time.size, bool)
    if saa is not None:
        in_saa = (time >= START + saa[0]) & (time <= START + saa[1])
    table = fits.BinTableHDU.from_columns(
        [fits.Column(name="TIME", format="D", array=time),
         fits.Column(name="RA", format="D", array=np.full(time.size, POINTING[0])),
         fits.Column(name="DEC", format="D", array=np.full(time.size, POINTING[1])),
         fits.Column(name="ROLL", format="D", array=np.full(time.size, POINTING[2])),
         fits.Column(name="SETTLED", format="L", array=np.full(time.size, settled)),
         fits.Column(name="IN_SAA", format="L", array=in_saa)], name="ATTITUDE",
    )  # fmt: skip
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(path, overwrite=True)
    return path


def write_job(directory: Path, brick: str, url: str, inputs: dict[str, list[str]],
              **changes: Any) -> Path:  # fmt: skip
    """A runtime_data.json for ``brick`` in ``directory``."""
    document = {
        "brick": brick,
        "target": {"burst_id": "sb25070101", "obs_id": "sb25070101", "instrument": "MXT"},
        "inputs": inputs,
        "output_dir": "out",
        "parameters": {},
        "caldb": {"url": url, "max_tries": 2},
    } | changes
    path = directory / "runtime_data.json"
    path.write_text(json.dumps(document))
    return path
