"""The simulator's files: L1 event list, attitude file (docs/event_formats.md), JSON files.

Every file is written to a temporary name in the output directory and renamed
(:mod:`caldb_common.atomic`), so a failed run never leaves half a file under the final name.
They are not flushed to disk one by one: a run cut by a crash is simply run again.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

from caldb_common.atomic import atomic_writer, write_text_atomically
from pipeline_bricks.framework.calibration import CalibrationUsed, record_in_header
from pipeline_bricks.simulator.attitude import AttitudeTable
from pipeline_bricks.simulator.mission_time import MJDREFF, MJDREFI, from_mission_time

__all__ = [
    "CREATOR",
    "ObservationHeader",
    "write_attitude",
    "write_events",
    "write_json",
]

CREATOR = "pipeline_bricks.simulator"


class ObservationHeader:
    """The keywords shared by the headers of the event and attitude files."""

    def __init__(
        self,
        *,
        obs_id: str,
        burst_id: str,
        tstart: float,
        tstop: float,
        trigger_time: float,
        pointing: tuple[float, float, float],
        seed: int,
    ) -> None:
        self.obs_id, self.burst_id, self.seed = obs_id, burst_id, seed
        self.tstart, self.tstop, self.trigger_time = tstart, tstop, trigger_time
        self.pointing = pointing

    def identity(self) -> list[tuple[str, Any, str]]:
        """Mission, instrument, observation, creator and simulation keywords."""
        return [
            ("TELESCOP", "SVOM", "mission"),
            ("INSTRUME", "MXT", "instrument"),
            ("OBS_ID", self.obs_id, "observation identifier"),
            ("TARGET", self.burst_id, "SVOM burst identifier"),
            ("CREATOR", CREATOR, "program that made this file"),
            ("ORIGIN", "SVOM simulation", "origin of the data"),
            ("DATE", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "file creation (UTC)"),
            ("SIMULATD", True, "simulated data"),
            ("SIMSEED", self.seed, "seed of the simulation"),
            ("LONGSTRN", "OGIP 1.0", "long string keywords (CONTINUE) are used"),
        ]

    def timing(self, tstart: float, tstop: float) -> list[tuple[str, Any, str]]:
        """Time keywords of an interval (SVOM mission seconds, SPEC §2)."""
        return [
            ("TIMESYS", "TT", "time system"),
            ("MJDREFI", MJDREFI, "MJD of 2017-01-01T00:00:00 UTC in TT, integer"),
            ("MJDREFF", MJDREFF, "MJD of 2017-01-01T00:00:00 UTC in TT, fraction"),
            ("TIMEUNIT", "s", "unit of the time keywords and columns"),
            ("TIMEREF", "LOCAL", "times are not barycentred"),
            ("TASSIGN", "SATELLITE", "where the times are assigned"),
            ("TSTART", tstart, "[s] start, mission time"),
            ("TSTOP", tstop, "[s] stop, mission time"),
            ("TELAPSE", tstop - tstart, "[s] TSTOP - TSTART"),
            ("DATE-OBS", from_mission_time(tstart), "start (UTC)"),
            ("DATE-END", from_mission_time(tstop), "stop (UTC)"),
            ("TRIGTIME", self.trigger_time, "[s] trigger time T0, mission time"),
        ]

    def pointing_cards(self) -> list[tuple[str, Any, str]]:
        """Nominal pointing and sky-projection centre."""
        ra, dec, roll = self.pointing
        return [
            ("RA_PNT", ra, "[deg] nominal RA of the spacecraft +Z axis"),
            ("DEC_PNT", dec, "[deg] nominal Dec of the spacecraft +Z axis"),
            ("PA_PNT", roll, "[deg] position angle of the spacecraft +Y axis"),
            ("RA_NOM", ra, "[deg] RA of the sky-projection centre"),
            ("DEC_NOM", dec, "[deg] Dec of the sky-projection centre"),
            ("EQUINOX", 2000.0, "equinox of the coordinates"),
            ("RADECSYS", "FK5", "celestial reference frame"),
        ]


def _update(header: fits.Header, cards: list[tuple[str, Any, str]]) -> None:
    for key, value, comment in cards:
        header[key] = (value, comment)


def _write_fits(hdus: fits.HDUList, path: Path) -> None:
    with atomic_writer(path, durable=False) as stream:
        hdus.writeto(stream, checksum=True)


def write_events(  # noqa: PLR0917 (the event columns read best positionally)
    path: Path,
    header: ObservationHeader,
    time: np.ndarray,
    frame: np.ndarray,
    rawx: np.ndarray,
    rawy: np.ndarray,
    phas: np.ndarray,
    *,
    frame_time_s: float,
    thresholds: tuple[int, int, int],
    calibration: list[CalibrationUsed],
) -> None:
    """Write the MXT L1 event list (docs/event_formats.md §1).

    Parameters
    ----------
    path : pathlib.Path
        ``<obsid>_mxt_l1_evt.fits``.
    header : ObservationHeader
        Identity, times and pointing.
    time, frame, rawx, rawy, phas : numpy.ndarray
        Event columns: TIME [s], FRAME, RAWX, RAWY (1-based), PHAS (n, 9) [ADU].
    frame_time_s : float
        FRAMETIM [s].
    thresholds : tuple of int
        EVTTHR, SPLTHR, UPPERTHR [ADU].
    calibration : list of CalibrationUsed
        The calibration the simulator inverted (``CALFnnnn`` cards).
    """
    primary = fits.PrimaryHDU()
    common = header.identity() + header.timing(header.tstart, header.tstop)
    common += [*header.pointing_cards(), ("FRAMETIM", frame_time_s, "[s] frame time")]
    _update(primary.header, common)
    columns = [
        fits.Column(name="TIME", format="D", unit="s", array=time),
        fits.Column(name="FRAME", format="J", array=frame.astype(np.int32)),
        fits.Column(name="RAWX", format="I", unit="pixel", array=rawx.astype(np.int16)),
        fits.Column(name="RAWY", format="I", unit="pixel", array=rawy.astype(np.int16)),
        fits.Column(name="PHAS", format="9I", unit="adu", array=phas.astype(np.int16)),
        fits.Column(name="STATUS", format="I", array=np.zeros(time.size, np.int16)),
    ]
    events = fits.BinTableHDU.from_columns(columns, name="EVENTS")
    event_threshold, split_threshold, upper_threshold = thresholds
    _update(
        events.header,
        [
            ("HDUCLASS", "OGIP", "format conforms to OGIP standard"),
            ("HDUCLAS1", "EVENTS", "event list"),
            ("DATAMODE", "PHOTON", "photon counting"),
            *common,
            ("TIMEPIXR", 0.5, "TIME is the middle of the frame"),
            ("TIMEDEL", frame_time_s, "[s] time resolution"),
            ("ONTIME", header.tstop - header.tstart, "[s] sum of the GTIs"),
            ("EVTTHR", event_threshold, "[adu] onboard event threshold on a - OFFSET"),
            ("SPLTHR", split_threshold, "[adu] onboard split threshold on a - OFFSET"),
            ("UPPERTHR", upper_threshold, "[adu] onboard upper threshold on a - OFFSET"),
        ],
    )
    for number in (3, 4):  # RAWX, RAWY
        events.header[f"TLMIN{number}"] = 1
        events.header[f"TLMAX{number}"] = 256
    record_in_header(events.header, calibration)
    gti = fits.BinTableHDU.from_columns(
        [
            fits.Column(name="START", format="D", unit="s", array=[header.tstart]),
            fits.Column(name="STOP", format="D", unit="s", array=[header.tstop]),
        ],
        name="GTI",
    )
    _update(
        gti.header,
        [
            ("HDUCLASS", "OGIP", "format conforms to OGIP standard"),
            ("HDUCLAS1", "GTI", "good time intervals"),
            ("HDUCLAS2", "STANDARD", "observation interval"),
            *header.identity()[:3],
            *header.timing(header.tstart, header.tstop),
        ],
    )
    _write_fits(fits.HDUList([primary, events, gti]), path)


def write_attitude(path: Path, header: ObservationHeader, table: AttitudeTable) -> None:
    """Write the attitude file (docs/event_formats.md §2): ``ATTITUDE`` rows every second."""
    primary = fits.PrimaryHDU()
    timing = header.timing(float(table.time[0]), float(table.time[-1]))
    _update(primary.header, header.identity() + timing + header.pointing_cards())
    columns = [
        fits.Column(name="TIME", format="D", unit="s", array=table.time),
        fits.Column(name="RA", format="D", unit="deg", array=table.ra),
        fits.Column(name="DEC", format="D", unit="deg", array=table.dec),
        fits.Column(name="ROLL", format="D", unit="deg", array=table.roll),
        fits.Column(name="SETTLED", format="L", array=table.settled),
        fits.Column(name="IN_SAA", format="L", array=table.in_saa),
    ]
    attitude = fits.BinTableHDU.from_columns(columns, name="ATTITUDE")
    _update(
        attitude.header,
        [
            ("HDUCLASS", "OGIP", "format conforms to OGIP standard"),
            ("HDUCLAS1", "TEMPORALDATA", "time series"),
            ("HDUCLAS2", "ATTITUDE", "spacecraft attitude"),
            *header.identity()[:3],
            *timing,
        ],
    )
    _write_fits(fits.HDUList([primary, attitude]), path)


def write_json(path: Path, document: dict[str, Any], *, private: bool = False) -> None:
    """Write ``document`` as indented JSON (temporary file, then rename).

    ``private`` files (a ``runtime_data.json`` holds a bearer token) are created readable by
    their owner only (0600) from the start, not narrowed after being written; the others
    get a new file's usual mode (0666 less the umask), like the FITS files beside them.
    """
    text = json.dumps(document, indent=2, allow_nan=False) + "\n"
    write_text_atomically(path, text, mode=0o600 if private else None, durable=False)
