"""``pipeline-bricks simulate``: an MXT L1 event list, attitude file and truth for one GRB.

``--extra-source`` adds more point sources to the field. Exit codes: 0 done, 1 the
simulation could not be made (CalDB unreachable, calibration missing or unreadable, output
directory not writable: one ``error:`` line on stderr), 2 usage error (argparse).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from caldb_common.console import help_summary, report_failure
from pipeline_bricks.cli import offer_completion
from pipeline_bricks.framework.errors import BrickError
from pipeline_bricks.simulator.calibration import (
    CODENAMES,
    SimulatorCalibration,
    absolute_override,
    load_calibration,
)
from pipeline_bricks.simulator.core import MAX_EXTRA_SOURCES, SimulationConfig, simulate
from pipeline_bricks.simulator.mission_time import from_mission_time, parse_utc, to_mission_time
from pipeline_bricks.simulator.source import Spectrum
from pipeline_bricks.simulator.truth import runtime_data_document, truth_document
from pipeline_bricks.simulator.writer import (
    ObservationHeader,
    write_attitude,
    write_events,
    write_json,
)

__all__ = ["add_arguments", "main", "parser", "run_simulate"]

DESCRIPTION = help_summary(__doc__)
DEFAULT_CALDB_URL = "http://127.0.0.1:5000"
POINTING_OFFSET_DEG = 5.0 / 60.0  # default: the source 5 arcmin north of the pointing
_OBS_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")
_BURST_ID = re.compile(r"sb[0-9]{8}")


def _number(low: float | None = None, high: float | None = None, *, strict: bool = False) -> Any:
    """An argparse type: a finite float in ``[low, high]`` (``(low, ...]`` when strict)."""

    def convert(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        too_low = low is not None and (value <= low if strict else value < low)
        if not math.isfinite(value) or too_low or (high is not None and value > high):
            bounds = f"{'>' if strict else '>='} {low}" if low is not None else ""
            bounds += f"{' and ' if bounds else ''}<= {high}" if high is not None else ""
            raise argparse.ArgumentTypeError(f"{text} must be a finite number {bounds}".strip())
        return value

    return convert


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} must be >= 0")
    return value


def _positive_count(text: str) -> int:
    value = _count(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be >= 1")
    return value


def _date(text: str) -> datetime:
    try:
        return parse_utc(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"bad date {text!r}: {error}") from None


def _interval(text: str) -> tuple[float, float]:
    start, separator, stop = text.partition(":")
    try:
        values = (float(start), float(stop)) if separator else None
    except ValueError:
        values = None
    if values is None or not all(map(math.isfinite, values)) or not 0 <= values[0] < values[1]:
        raise argparse.ArgumentTypeError(f"{text!r} is not START:STOP with 0 <= START < STOP")
    return values


def _lines(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEV[,KEV...]") from None
    if not all(math.isfinite(v) and 0.2 <= v < 10.0 for v in values):
        raise argparse.ArgumentTypeError(f"line energies must be in 0.2-10 keV, got {text}")
    return values


def _extra_source(text: str) -> tuple[float, float, float]:
    """``RA,DEC,RATE``: deg in 0-360, deg in -90-90, counts/s > 0."""
    parts = text.split(",")
    try:
        ra, dec, rate = (float(part) for part in parts) if len(parts) == 3 else (None,) * 3
    except ValueError:
        ra = dec = rate = None
    if ra is None or dec is None or rate is None or not all(map(math.isfinite, (ra, dec, rate))):
        raise argparse.ArgumentTypeError(f"{text!r} is not RA,DEC,RATE (three finite numbers)")
    if not (0 <= ra <= 360 and -90 <= dec <= 90 and rate > 0):
        raise argparse.ArgumentTypeError(
            f"{text}: RA must be in 0-360 deg, DEC in -90-90 deg and RATE > 0 counts/s"
        )
    return ra, dec, rate


class _ExtraSources(argparse.Action):
    """Append an extra source, at most ``MAX_EXTRA_SOURCES`` of them."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        sources = [*getattr(namespace, self.dest), values]
        if len(sources) > MAX_EXTRA_SOURCES:
            raise argparse.ArgumentError(self, f"at most {MAX_EXTRA_SOURCES} extra sources")
        setattr(namespace, self.dest, sources)


def _override(text: str) -> tuple[str, str]:
    codename, separator, path = text.partition("=")
    codename = codename.strip().upper()
    if not separator or not path or codename not in CODENAMES:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not CODENAME=PATH[xno] with CODENAME one of {', '.join(CODENAMES)}"
        )
    return codename, path


def _pattern(regex: re.Pattern[str], what: str) -> Any:
    def convert(text: str) -> str:
        if not regex.fullmatch(text):
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        return text

    return convert


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the ``simulate`` options on ``parser`` (docs/simulator.md)."""
    source = parser.add_argument_group("source")
    source.add_argument("--ra", type=_number(0, 360), default=204.8665, help="deg")
    source.add_argument("--dec", type=_number(-90, 90), default=45.1204, help="deg")
    source.add_argument("--rate", type=_number(0), default=1.0,
                        help="on-axis count rate at the observation start [counts/s]")  # fmt: skip
    source.add_argument("--decay", type=_number(), default=1.2, help="temporal index")
    source.add_argument("--gamma", type=_number(), default=2.0, help="photon index")
    source.add_argument("--nh", type=_number(0), default=3e21, help="column density [cm-2]")
    source.add_argument("--lines", type=_lines, help="monochromatic lines KEV[,KEV...]")
    source.add_argument("--extra-source", type=_extra_source, action=_ExtraSources, default=[],
                        dest="extra_sources", metavar="RA,DEC,RATE",
                        help="another point source [deg, deg, counts/s at the observation "
                        "start], same decay and spectrum (repeatable)")  # fmt: skip
    timing = parser.add_argument_group("observation")
    timing.add_argument("--date", type=_date, required=True, help="trigger time T0 (ISO, UTC)")
    timing.add_argument("--start-offset", type=_number(0, strict=True), default=120.0,
                        help="observation start after T0 [s]")  # fmt: skip
    timing.add_argument("--duration", type=_number(0, strict=True), default=1000.0, help="s")
    timing.add_argument("--saa", type=_interval, action="append", default=[],
                        metavar="START:STOP", help="SAA passage [s from the start]")  # fmt: skip
    timing.add_argument("--pointing-ra", type=_number(0, 360), help="deg (default --ra)")
    timing.add_argument("--pointing-dec", type=_number(-90, 90),
                        help="deg (default --dec - 5 arcmin)")  # fmt: skip
    timing.add_argument("--roll", type=_number(0, 360), default=287.0, help="deg")
    timing.add_argument("--jitter-arcsec", type=_number(0), default=2.0, help="rms per axis")
    noise = parser.add_argument_group("background and detector")
    noise.add_argument("--bkg-rate", type=_number(0), default=0.2, help="counts/s on the CCD")
    noise.add_argument("--hot-rate", type=_number(0), default=0.01,
                       help="counts/s of each noisy pixel")  # fmt: skip
    noise.add_argument("--hot-pixels", type=_count, default=3, help="new hot pixels")
    noise.add_argument("--flickering-pixels", type=_count, default=1,
                       help="new flickering pixels")  # fmt: skip
    noise.add_argument("--flicker-frames", type=_positive_count, default=50,
                       help="length of a flickering burst [frames]")  # fmt: skip
    noise.add_argument("--cloud-sigma-um", type=_number(0), default=5.0,
                       help="charge cloud sigma [um] (mean of the exponential model)")  # fmt: skip
    noise.add_argument("--cloud-model", choices=("exponential", "fixed"), default="exponential",
                       help="sigma varies from photon to photon, or is one for all")  # fmt: skip
    run = parser.add_argument_group("run")
    run.add_argument("--seed", type=_count, default=1, help="same seed, same events")
    run.add_argument("--out", type=Path, required=True, help="output directory")
    run.add_argument("--burst-id", type=_pattern(_BURST_ID, "sbYYMMDDNN"),
                     help="sbYYMMDDNN (default: sb<date of --date>01)")  # fmt: skip
    run.add_argument("--obs-id", type=_pattern(_OBS_ID, "1-40 of [A-Za-z0-9_-]"),
                     help="observation id, names the files (default: the burst id)")  # fmt: skip
    run.add_argument("--calibration", type=_override, action="append", default=[],
                     metavar="CODENAME=PATH", help="local file instead of the CalDB")  # fmt: skip
    run.add_argument("--caldb-url", help=f"default $CALDB_URL or {DEFAULT_CALDB_URL}")
    run.add_argument("--max-tries", type=_positive_count, default=5, help="CalDB attempts")
    run.add_argument("--as-of", help="use the calibration the CalDB served at this instant")


def _prepare_output(out: Path) -> Path:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BrickError(f"cannot create the output directory {out}: {error.strerror}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise BrickError(f"the output directory {out} is not writable")
    return out.resolve()


def _config(args: argparse.Namespace, t0: float, cal: SimulatorCalibration) -> SimulationConfig:
    lines = args.lines or ()
    low, high = cal.arf.energ_lo_kev[0], cal.arf.energ_hi_kev[-1]
    if any(not low <= line < high for line in lines):
        raise BrickError(f"the lines must be inside the ARF, {low:g}-{high:g} keV")
    default_dec = args.dec - POINTING_OFFSET_DEG
    pointing = (
        args.ra if args.pointing_ra is None else args.pointing_ra,
        (default_dec if default_dec >= -90 else args.dec + POINTING_OFFSET_DEG)
        if args.pointing_dec is None
        else args.pointing_dec,
        args.roll,
    )
    return SimulationConfig(
        ra_deg=args.ra, dec_deg=args.dec, rate_cts_s=args.rate, decay=args.decay,
        start_offset_s=args.start_offset, duration_s=args.duration, seed=args.seed,
        t0_mission_s=t0, pointing=pointing,
        spectrum=Spectrum(gamma=args.gamma, nh_cm2=args.nh, lines_kev=tuple(lines)),
        jitter_arcsec=args.jitter_arcsec, bkg_rate_cts_s=args.bkg_rate,
        hot_rate_cts_s=args.hot_rate, n_hot_pixels=args.hot_pixels,
        n_flickering_pixels=args.flickering_pixels, flicker_frames=args.flicker_frames,
        saa_s=tuple(args.saa), cloud_sigma_um=args.cloud_sigma_um, cloud_model=args.cloud_model,
        extra_sources=tuple(args.extra_sources),
    )  # fmt: skip


def _simulate(args: argparse.Namespace) -> str:
    """Make the four files; returns the summary line."""
    out = _prepare_output(args.out)
    t0 = to_mission_time(args.date)
    burst_id = args.burst_id or f"sb{args.date:%y%m%d}01"
    identity = {
        "trigger_date": args.date.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3],
        "burst_id": burst_id,
        "obs_id": args.obs_id or burst_id,
    }
    caldb = {
        "url": args.caldb_url or os.environ.get("CALDB_URL") or DEFAULT_CALDB_URL,
        "token": os.environ.get("CALDB_TOKEN") or None,
        "max_tries": args.max_tries,
        "as_of": args.as_of,
    }
    overrides = {code: absolute_override(path, Path.cwd()) for code, path in args.calibration}
    date_obs = from_mission_time(t0 + args.start_offset)
    cal = load_calibration(out, date_obs, caldb, overrides)
    config = _config(args, t0, cal)
    result = simulate(config, cal)
    files = {
        "events": f"{identity['obs_id']}_mxt_l1_evt.fits",
        "attitude": f"{identity['obs_id']}_att.fits",
        "truth": "truth.json",
        "runtime_data": "runtime_data.json",
    }
    header = ObservationHeader(
        obs_id=identity["obs_id"], burst_id=burst_id, tstart=result.tstart,
        tstop=result.tstop, trigger_time=t0, pointing=config.pointing, seed=config.seed,
    )  # fmt: skip
    thresholds = cal.thresholds
    write_events(
        out / files["events"], header, result.time, result.frame, result.rawx, result.rawy,
        result.phas, frame_time_s=thresholds.frame_time_s,
        thresholds=(thresholds.event_adu, thresholds.split_adu, thresholds.upper_adu),
        calibration=list(cal.used),
    )  # fmt: skip
    write_attitude(out / files["attitude"], header, result.attitude)
    public_caldb = {"url": caldb["url"], "as_of": args.as_of}
    truth = truth_document(config, cal, result, identity=identity, caldb=public_caldb, files=files)
    write_json(out / files["truth"], truth)
    write_json(  # holds the CalDB token when CALDB_TOKEN is set
        out / files["runtime_data"],
        runtime_data_document(identity, files, caldb, overrides),
        private=True,
    )
    counts = truth["counts"]
    extra = sum(source["counts"]["events"] for source in truth["extra_sources"])
    return (
        f"simulate: {counts['total_events']} events ({counts['source']['events']} source, "
        + (f"{extra} extra-source, " if truth["extra_sources"] else "")
        + f"{counts['background']['events']} background, {counts['noise']['events']} noise) "
        f"in {out}"
    )


def run_simulate(args: argparse.Namespace) -> int:
    """Run a parsed ``simulate`` command; returns the exit code (0 or 1)."""
    try:
        print(_simulate(args))
    except BrickError as error:
        return report_failure(error, 1)
    except OSError as error:
        where = f" {error.filename}" if error.filename else ""
        return report_failure(f"cannot write{where}: {error.strerror or error}", 1)
    return 0


def parser() -> argparse.ArgumentParser:
    """The parser of the command on its own (``mxt-simulate``)."""
    command = argparse.ArgumentParser(prog="mxt-simulate", description=DESCRIPTION)
    add_arguments(command)
    return command


def main(argv: Sequence[str] | None = None) -> int:
    """The command on its own (``mxt-simulate``); returns the exit code."""
    command = parser()
    offer_completion(command)
    return run_simulate(command.parse_args(argv))


def run() -> None:
    """Console entry point of ``mxt-simulate``."""
    sys.exit(main())
