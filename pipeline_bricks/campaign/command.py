"""``pipeline-bricks campaign`` and ``campaign-report``: the options and what they run.

The options are declared without importing numpy or the simulator (``pipeline-bricks
--help`` stays light); the commands import them when they run.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from caldb_common.console import report_failure

__all__ = ["add_campaign_arguments", "add_report_arguments", "campaign", "campaign_report"]

DEFAULT_CALDB_URL = "http://127.0.0.1:5000"  # as pipeline-bricks simulate


def _at_least(low: int) -> Any:
    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{text} must be >= {low}")
        return value

    return convert


def add_campaign_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the ``campaign`` options on ``parser``."""
    parser.add_argument("--scenario", default="grb", metavar="grb|gp|FILE.yaml",
                        help="a shipped scenario (grb: GRB afterglows; gp: 1-3 constant sources "
                        "in or just outside the field), or a YAML file of the same form "
                        "(default grb)")  # fmt: skip
    parser.add_argument("--runs", type=_at_least(1), required=True,
                        help="runs 0 .. RUNS-1 are made (finished ones are kept)")  # fmt: skip
    parser.add_argument("--seed", type=_at_least(0), default=1,
                        help="campaign seed: run i depends on (seed, i) alone")  # fmt: skip
    parser.add_argument("--out", type=Path, required=True,
                        help="campaign directory: runs/NNNN/, report.json, runs.ecsv, "
                        "report.html")  # fmt: skip
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=_at_least(1), default=1,
                       help="local processes running the runs (same results as one)")  # fmt: skip
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="run on the Dask cluster of this scheduler (tcp://HOST:8786), "
                       "whose workers see --out at the same path; same results as "
                       "one process")  # fmt: skip
    parser.add_argument("--caldb-url", help=f"default $CALDB_URL or {DEFAULT_CALDB_URL}; "
                        "$CALDB_TOKEN is used when set")  # fmt: skip


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the ``campaign-report`` options on ``parser``."""
    parser.add_argument("directory", type=Path, help="the --out of a campaign")
    parser.add_argument("--compare", type=Path, metavar="OTHER_DIR",
                        help="another campaign's directory: also write DIRECTORY/compare.html, "
                        "both campaigns side by side (OTHER_DIR is only read)")  # fmt: skip


def _headline(report: dict[str, Any], where: Path) -> str:
    coverage, median = report["r90_coverage"], report["median_offset_arcsec"]
    return (
        f"campaign {report['scenario']}: {report['runs']} runs, {report['detected']} detected, "
        f"R90 coverage {'-' if coverage is None else f'{coverage:.0%}'}, median offset "
        f"{'-' if median is None else f'{median:.1f}'} arcsec, "
        f"{report['false_detections']} false detections; {where / 'report.json'}, "
        f"{where / 'report.html'}"
    )


def campaign(args: argparse.Namespace) -> int:
    """Run a parsed ``campaign`` command; returns the exit code (0, or 1 with a message)."""
    # one BLAS/OpenMP thread per process, fixed before numpy loads (spawned workers inherit)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    from caldbio.progress import progress_bar  # noqa: PLC0415 (tqdm)
    from pipeline_bricks.campaign.html_report import write_page  # noqa: PLC0415 (matplotlib)
    from pipeline_bricks.campaign.report import build_report  # noqa: PLC0415 (numpy, astropy)
    from pipeline_bricks.campaign.runs import finished_runs, run_campaign  # noqa: PLC0415
    from pipeline_bricks.campaign.scenario import load_scenario  # noqa: PLC0415
    from pipeline_bricks.framework.errors import BrickError  # noqa: PLC0415

    caldb_url = args.caldb_url or os.environ.get("CALDB_URL") or DEFAULT_CALDB_URL
    try:
        scenario = load_scenario(args.scenario)
        with progress_bar(None, total=args.runs, desc="campaign", unit="run") as bar:
            bar.update(sum(index < args.runs for index in finished_runs(args.out)))
            run_campaign(
                scenario, runs=args.runs, seed=args.seed, out=args.out, workers=args.workers,
                caldb_url=caldb_url, scheduler=args.scheduler, on_done=lambda record: bar.update(),
            )  # fmt: skip
        report = build_report(args.out)
        write_page(args.out, report)
    except BrickError as error:
        return report_failure(error, 1)
    except OSError as error:
        where = f" {error.filename}" if error.filename else ""
        return report_failure(f"cannot write{where}: {error.strerror or error}", 1)
    print(_headline(report, args.out))
    return 0


def campaign_report(args: argparse.Namespace) -> int:
    """Run a parsed ``campaign-report``: rebuild report.json, runs.ecsv, report.html.

    With ``--compare OTHER_DIR``, also DIRECTORY/compare.html; OTHER_DIR's report is made
    from its runs in memory, nothing is written there.
    """
    from pipeline_bricks.campaign import html_report  # noqa: PLC0415 (matplotlib)
    from pipeline_bricks.campaign.report import (  # noqa: PLC0415 (numpy, astropy)
        build_report,
        campaign_document,
    )
    from pipeline_bricks.framework.errors import BrickError  # noqa: PLC0415

    compared = None
    try:
        report = build_report(args.directory)
        html_report.write_page(args.directory, report)
        if args.compare is not None:
            other = campaign_document(args.compare)
            compared = html_report.write_compare(args.directory, report, args.compare, other)
    except BrickError as error:
        return report_failure(error, 1)
    except OSError as error:
        where = f" {error.filename}" if error.filename else ""
        return report_failure(f"cannot write{where}: {error.strerror or error}", 1)
    print(_headline(report, args.directory))
    if compared is not None:
        print(f"compared with {args.compare}: {compared}")
    return 0
