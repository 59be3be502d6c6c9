"""The runs of a campaign: each simulated, reduced, matched with its truth and kept.

A run's directory ``DIR/runs/NNNN`` holds the simulation, the chain's output, the products
of the source found for the truth (``products/``, fitted by :mod:`.recover`) and, written
last, ``result.json``: a run with that file is finished and a resumed campaign keeps it; a
run directory without it is made again from scratch. ``DIR/campaign.json`` records what the
runs were drawn from, so that a campaign resumes only with the same scenario and seed.

The runs are made one after the other, in local processes (``workers``), or on a Dask
distributed cluster (``scheduler``); all three call :func:`run_one`, so the records match.
"""

from __future__ import annotations

import json
import multiprocessing
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pipeline_bricks.campaign.locate import Located, simulate_and_locate
from pipeline_bricks.campaign.recover import RECOVERED, recover
from pipeline_bricks.campaign.scenario import Scenario, command_line
from pipeline_bricks.framework.errors import BrickError
from pipeline_bricks.mxt.sky import separation_arcsec
from pipeline_bricks.simulator.writer import write_json

__all__ = ["MATCH_ARCSEC", "RunJob", "compare", "finished_runs", "in_field", "run_campaign"]

# A found source is the truth's when it is the nearest within this: the MXT requirement on
# the 90 % radius is 2 arcmin, so a position further off is a miss (and a false detection).
MATCH_ARCSEC = 120.0
RESULT = "result.json"
CAMPAIGN = "campaign.json"


@dataclass(frozen=True)
class RunJob:
    """One run: its index, the simulator options drawn for it, its directory, the CalDB."""

    index: int
    options: tuple[str, ...]
    directory: str
    caldb_url: str


def run_directory(out: Path, index: int) -> Path:
    return out / "runs" / f"{index:04d}"


def compare(index: int, options: list[str], located: Located) -> dict[str, Any]:
    """The run's record: the truth, the source matched with it, the false detections.

    Every true source (the main one, then the extra ones) takes the nearest found source
    still free within ``MATCH_ARCSEC``; a found source left is a false detection. A true
    source off the CCD at the nominal pointing is outside the field: finding it is counted
    apart (``outside_detected``, which must stay 0), not as a detection nor a false one.
    """
    truth, sources = located.truth, located.sources
    truths = [truth["source"], *truth["extra_sources"]]
    unmatched = list(range(len(sources)))
    matches: list[dict[str, Any] | None] = []
    for item in truths:  # each truth takes the nearest source still free, within MATCH_ARCSEC
        offsets = [
            separation_arcsec(sources[i]["ra_deg"], sources[i]["dec_deg"],
                              item["ra_deg"], item["dec_deg"])
            for i in unmatched
        ]  # fmt: skip
        nearest = min(range(len(offsets)), key=offsets.__getitem__, default=None)
        if nearest is None or offsets[nearest] > MATCH_ARCSEC:
            matches.append(None)
            continue
        matches.append(sources[unmatched[nearest]] | {"offset_arcsec": float(offsets[nearest])})
        del unmatched[nearest]
    found = matches[0]
    extra = list(zip(truth["extra_sources"], matches[1:], strict=True))
    extra_inside = [match for item, match in extra if in_field(item)]
    extra_outside = [match for item, match in extra if not in_field(item)]
    true_counts = truth["counts"]["source"]["events"]
    record: dict[str, Any] = {
        "run": index,
        "simulator_seed": truth["seed"],
        "status": located.status,
        "ra_true_deg": truth["source"]["ra_deg"],
        "dec_true_deg": truth["source"]["dec_deg"],
        "off_axis_arcmin": truth["source"]["off_axis_arcmin"],
        "rate_cts_s": truth["rate_law"]["rate_cts_s"],
        "decay": truth["rate_law"]["decay_index"],
        "gamma": truth["spectrum"].get("gamma"),
        "nh_cm2": truth["spectrum"].get("nh_cm2"),
        "start_offset_s": truth["rate_law"]["start_offset_s"],
        "duration_s": truth["rate_law"]["duration_s"],
        "counts_true": true_counts,
        "detected": found is not None,
        "ra_found_deg": None,
        "dec_found_deg": None,
        "offset_arcsec": None,
        "r90_arcsec": None,
        "offset_over_r90": None,
        "in_r90": None,
        "counts_found": None,
        "counts_ratio": None,
        "n_found": len(sources),
        "false_detections": len(unmatched),
        "in_field": in_field(truth["source"]),
        "extra_in_field": len(extra_inside),
        "extra_detected": sum(match is not None for match in extra_inside),
        "outside_sources": len(extra_outside),
        "outside_detected": sum(match is not None for match in extra_outside),
        **dict.fromkeys(RECOVERED),  # from the products of the source found (run_one)
    }
    if found is not None:
        r90, offset = found["err_r90_arcsec"], found["offset_arcsec"]
        record |= {
            "ra_found_deg": found["ra_deg"],
            "dec_found_deg": found["dec_deg"],
            "offset_arcsec": round(offset, 3),
            "r90_arcsec": r90,
            "offset_over_r90": round(offset / r90, 4) if r90 > 0 else None,
            "in_r90": bool(offset <= r90),
            "counts_found": found["counts"],
            "counts_ratio": round(found["counts"] / true_counts, 4) if true_counts else None,
        }
    return record | {
        "seconds_simulate": round(located.seconds_simulate, 3),
        "seconds_chain": round(located.seconds_chain, 3),
        "seconds_products": 0.0,
        # with --out and --caldb-url, `pipeline-bricks simulate` makes the same observation
        "simulate": options,
    }


def in_field(source: dict[str, Any]) -> bool:
    """Whether a true source falls on the CCD at the nominal pointing (the 57' square field).

    From the simulator's truth, not the off-axis angle alone: the field is square, so a
    source 30-40' off-axis is outside it along the sides but on the CCD near the corners.
    """
    return source["rawx_nominal"] is not None


def run_one(job: RunJob) -> dict[str, Any]:
    """Make run ``job`` from scratch and keep its record in its ``result.json``."""
    directory = Path(job.directory)
    if directory.exists():  # an unfinished run: nothing of it is trusted
        shutil.rmtree(directory)
    located = simulate_and_locate(directory, [*job.options, "--caldb-url", job.caldb_url])
    record = compare(job.index, list(job.options), located)
    if record["detected"]:  # the products of the source found, fitted: kept in products/
        record |= recover(directory, located.truth, record["ra_found_deg"], record["dec_found_deg"])
    write_json(directory / RESULT, record)
    return record


def finished_runs(out: Path) -> dict[int, dict[str, Any]]:
    """The records of the finished runs of the campaign in ``out``, by run index."""
    records = {}
    for path in sorted((out / "runs").glob(f"[0-9][0-9][0-9][0-9]*/{RESULT}")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # a run being written, or broken: made again
        records[int(record["run"])] = record
    return records


def _campaign_document(scenario: Scenario, seed: int, caldb_url: str) -> dict[str, Any]:
    described = asdict(scenario)
    if not described["extra_sources"]:  # as before extra sources were: older campaigns resume
        del described["extra_sources"]
    return {"scenario": described, "seed": seed, "caldb_url": caldb_url,
            "match_radius_arcsec": MATCH_ARCSEC}  # fmt: skip


def _check_same_campaign(out: Path, document: dict[str, Any]) -> None:
    """Refuse to add runs to a campaign drawn from another scenario or seed."""
    path = out / CAMPAIGN
    if not path.exists():
        write_json(path, document)
        return
    before = json.loads(path.read_text())
    for key in ("scenario", "seed"):
        if before.get(key) != document[key]:
            raise BrickError(
                f"{out} holds a campaign of another {key}; resume it with the same scenario "
                "and seed, or give another --out"
            )


def run_campaign(
    scenario: Scenario,
    *,
    runs: int,
    seed: int,
    out: Path,
    workers: int,
    caldb_url: str,
    scheduler: str | None = None,
    on_done: Callable[[dict[str, Any]], object] = lambda record: None,
) -> int:
    """Make the runs ``0 .. runs - 1`` of ``out`` not finished yet; returns how many were made.

    ``workers`` > 1 runs them in as many processes (spawned: a fresh interpreter each);
    ``scheduler`` (a Dask scheduler's address) runs them on that cluster's workers instead,
    which must import this package and see ``out`` and the CalDB at the same path and URL.
    Each run depends on ``(seed, index)`` alone, so the records are those of a sequential
    campaign. ``on_done`` is called with each new record (a progress bar).
    """
    out.mkdir(parents=True, exist_ok=True)
    _check_same_campaign(out, _campaign_document(scenario, seed, caldb_url))
    done = finished_runs(out)
    # absolute: a Dask worker's working directory is its own
    jobs = [
        RunJob(index, tuple(command_line(scenario.draw_run(seed, index))),
               str(run_directory(out.absolute(), index)), caldb_url)
        for index in range(runs)
        if index not in done
    ]  # fmt: skip
    records = _records(jobs, workers) if scheduler is None else _dask_records(jobs, scheduler)
    for record in records:
        on_done(record)
    return len(jobs)


def _dask_records(jobs: list[RunJob], scheduler: str) -> Iterator[dict[str, Any]]:
    """The records of ``jobs`` made on the Dask cluster at ``scheduler``, as they finish.

    The first failure stops the campaign: its exception (pickled back from the worker) is
    raised here and the runs not started are cancelled; the finished ones are kept.
    """
    # only here: the pipeline extra's Dask is neither needed nor loaded otherwise
    from distributed import Client, as_completed  # noqa: PLC0415

    try:
        client = Client(scheduler, set_as_default=False)
    except (OSError, ValueError) as error:  # unreachable, or not an address
        raise BrickError(f"no Dask scheduler at {scheduler}: {error}") from None
    with client:
        # pure=False: a run writes files, so the scheduler must never reuse an earlier result
        futures = [client.submit(run_one, job, pure=False) for job in jobs]
        try:
            for future in as_completed(futures, loop=client.loop):
                yield future.result()
        finally:
            client.cancel(futures)


def _records(jobs: list[RunJob], workers: int) -> Iterator[dict[str, Any]]:
    """The records of ``jobs`` as they finish; the first failure stops the campaign."""
    if workers <= 1 or len(jobs) <= 1:
        yield from map(run_one, jobs)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=context) as pool:
        pending = {pool.submit(run_one, job) for job in jobs}
        try:
            while pending:
                finished, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for future in finished:
                    yield future.result()
        finally:
            for future in pending:
                future.cancel()
