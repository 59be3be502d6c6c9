"""Search benchmark: the JSON API against the remote-CALDB way, under load, and the export.

Builds a seeded synthetic SVOM catalogue in PostgreSQL (3 instruments x 17 codenames, ~60
epochs each, 32 datasets per epoch differing by DETNAM and CAL_CBD, ~10% CAL_QUAL 5), starts
the real server and measures on one fixed list of requests: ``GET /api/v1/search`` on one
keep-alive connection (Flask dev server); the remote-CALDB way (download ``caldb.indx``,
parse, ``caldb_selection.select``) and whether both ways agree; throughput on
``gunicorn -w 4`` (``wrk`` if installed, else client processes); ``export_tree``.

Run: ``.venv/bin/python benchmarks/bench_search.py [--datasets 100000] [--database-url URL]``
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import platform
import random
import shutil
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import fmean
from typing import Any
from urllib.parse import urlencode

from harness import (
    busy_share,
    connect,
    free_port,
    percentile,
    python_load,
    reset_postgresql,
    running,
    timed_get,
    wrk_load,
)
from sqlalchemy import Engine, insert, text
from sqlalchemy.orm import Session

from caldb_selection import Query, parse_expression, ref_time, requested_mjd, select
from caldb_server.catalogue.models import CalibrationFile, CatalogueIndex, Dataset
from caldb_server.config import DEFAULT_REGISTRY
from caldb_server.db import make_engine
from caldb_server.heasarc.cif import read_cif
from caldb_server.heasarc.tree import export_tree
from caldb_server.migrate import upgrade
from caldb_server.registry import load_registry
from caldb_server.storage import Storage

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1/caldb_bench"
BIN = Path(sys.executable).parent
SEED = 20240622
DETECTORS = {"MXT": ("FM1", "FM2", "FM3"), "ECL": ("X1", "X2", "X3"), "VT": ("BLUE", "RED", "NIR")}
ENERGIES = ("ENERG(0.2-2)keV", "ENERG(2-10)keV", "ENERG(10-50)keV", "ENERG(50-150)keV")
MODES = ("DATAMODE(PHOTON)", "DATAMODE(WINDOWED)")
EXPRS = ("-", "-", "energ.eq.1.5.and.datamode.eq.PHOTON", "energ.eq.5", "datamode.eq.WINDOWED")
PER_EPOCH = 4 * len(ENERGIES) * len(MODES)  # DETNAM NONE and 3 detectors
SPAN_START, SPAN_DAYS = datetime(2024, 1, 1, tzinfo=UTC), 3 * 365
LOADED_AT = datetime(2026, 12, 31, tzinfo=UTC)
FILE_FIELDS = {"sha256": None, "size_bytes": None, "origin": "import", "uploaded_by": "bench"}
DATASET_FIELDS = {"telescop": "SVOM", "filter": "NONE", "cal_dev": "ONLINE", "cal_clas": "BCF"}
DISTINCT_QUERIES, API_REQUESTS, REMOTE_QUERIES = 500, 2000, 12
LOAD_CLIENTS, LOAD_SECONDS, WARM_SECONDS = 8, 10, 3
INDEX = "/caldb/data/svom/{}/caldb.indx"
Row = dict[str, Any]


def codenames() -> dict[str, list[str]]:
    """17 codenames per instrument: the registry's real ones, then CAL01, CAL02..."""
    registry, names = load_registry(DEFAULT_REGISTRY), {}
    for instrument in DETECTORS:
        real = list(registry.instrument("SVOM", instrument).codenames)
        names[instrument] = real + [f"CAL{n:02d}" for n in range(1, 18 - len(real))]
    return names


def epoch_starts(rng: random.Random, count: int) -> list[datetime]:
    """``count`` validity starts on distinct days of the span, a third of them at midnight."""
    days = sorted(rng.sample(range(SPAN_DAYS), count))
    seconds = [0 if rng.random() < 1 / 3 else rng.randrange(86400) for _ in days]
    return [SPAN_START + timedelta(days=d, seconds=s) for d, s in zip(days, seconds, strict=True)]


def file_datasets(start: datetime, instrument: str, codename: str) -> list[Row]:
    """The datasets (HDUs) of one multi-HDU file: every DETNAM x energy x data mode."""
    vsd, vst = f"{start:%Y-%m-%d}", f"{start:%H:%M:%S}"
    common = {**DATASET_FIELDS, "instrume": instrument, "cal_cnam": codename, "cal_dtyp": "DATA"}
    common |= {"cal_vsd": vsd, "cal_vst": vst, "ref_time": ref_time(vsd, vst), "cal_date": vsd}
    common |= {"cal_desc": f"{instrument} {codename} (benchmark)", "indexed_by": "bench"}
    variants = itertools.product(("NONE", *DETECTORS[instrument]), ENERGIES, MODES)
    return [
        {**common, "detnam": detector, "cal_cbd": [energy, mode, *["NONE"] * 7], "cal_xno": xno}
        for xno, (detector, energy, mode) in enumerate(variants, 1)
    ]


def catalogue(size: int, rng: random.Random) -> tuple[list[Row], list[Row]]:
    """Files and exactly ``size`` datasets, in upload (index) order: oldest epoch first."""
    names = codenames()
    epochs = -(-size // (PER_EPOCH * sum(len(codes) for codes in names.values())))
    plan = sorted(
        (start, instrument, codename, version)
        for instrument, codes in names.items()
        for codename in codes
        for version, start in enumerate(epoch_starts(rng, epochs), 1)
    )
    files: list[Row] = []
    datasets: list[Row] = []
    for file_id, (start, instrument, codename, version) in enumerate(plan, 1):
        inst, code = instrument.lower(), codename.lower()
        files.append({"id": file_id, "index_dir": f"data/svom/{inst}", **FILE_FIELDS})
        files[-1] |= {"cal_dir": f"data/svom/{inst}/bcf/{code}", "uploaded_at": LOADED_AT}
        files[-1] |= {"cal_file": f"{inst}_{code}_{start:%Y%m%d}v{version:03d}.fits"}
        for row in file_datasets(start, instrument, codename)[: size - len(datasets)]:
            row |= {"id": len(datasets) + 1, "file_id": file_id, "indexed_at": LOADED_AT}
            datasets.append(row | {"cal_qual": 5 if rng.random() < 0.1 else 0})
        if len(datasets) == size:
            break
    return files, datasets


def reset_database(url: str) -> Engine:
    """An empty, migrated PostgreSQL catalogue (whatever the database held is dropped)."""
    engine = make_engine(reset_postgresql(url))
    upgrade(engine)
    return engine


def load(engine: Engine, files: list[Row], datasets: list[Row]) -> tuple[float, float]:
    """Bulk-insert the catalogue (executemany), then VACUUM ANALYZE; return both durations."""
    started = time.perf_counter()
    index = {"telescop": "SVOM", "serial": 1, "updated_at": LOADED_AT}
    with engine.begin() as connection:
        indexes = [{**index, "index_dir": f"data/svom/{i.lower()}"} for i in DETECTORS]
        connection.execute(insert(CatalogueIndex.__table__), indexes)
        connection.execute(insert(CalibrationFile.__table__), files)
        for first in range(0, len(datasets), 10000):
            connection.execute(insert(Dataset.__table__), datasets[first : first + 10000])
        setval = text("SELECT setval(pg_get_serial_sequence(:table, 'id'), :count)")
        connection.execute(setval, {"table": "calibration_files", "count": len(files)})
        connection.execute(setval, {"table": "datasets", "count": len(datasets)})
    inserted = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))  # no autovacuum during the measurements
    return inserted - started, time.perf_counter() - inserted


def make_queries(rng: random.Random, count: int) -> list[dict[str, str]]:
    """Seeded requests: any codename, a date in the span, sometimes a time, detector, expr."""
    names, queries = codenames(), []
    for _ in range(count):
        instrument = rng.choice(list(names))
        day = SPAN_START + timedelta(days=rng.randrange(SPAN_DAYS))
        clock = f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}"
        query = {"instrument": instrument, "codename": rng.choice(names[instrument])}
        query |= {"date": f"{day:%Y-%m-%d}", "time": rng.choice(("-", clock))}
        query |= {"detector": rng.choice(("-", "-", *DETECTORS[instrument]))}
        queries.append(query | {"expr": rng.choice(EXPRS)})
    return queries


def first_index_gets(port: int) -> dict[str, tuple[float, int]]:
    """(ms, bytes) of the first, uncached (generated) GET of each served caldb.indx."""
    connection, gets = connect(port), {}
    for instrument in DETECTORS:
        elapsed, body = timed_get(connection, INDEX.format(instrument.lower()))
        gets[instrument] = elapsed, len(body)
    return gets


def api_run(port: int, paths: list[str]) -> tuple[list[float], list[Row]]:
    """Warm up, then API_REQUESTS sequential searches on one keep-alive connection."""
    connection, latencies, answers = connect(port), [], []
    for path in paths[:100]:
        timed_get(connection, path)
    for number in range(API_REQUESTS):
        elapsed, body = timed_get(connection, paths[number % len(paths)])
        latencies.append(elapsed)
        if number < len(paths):
            answers.append(json.loads(body))
    return latencies, answers


def remote_run(port: int, queries: list[Row], answers: list[Row]) -> tuple[list[float], list[str]]:
    """The HEASoft way per query: download caldb.indx, parse it, select; compare with the API."""
    connection, latencies, mismatches = connect(port), [], []
    for q, answer in zip(queries[:REMOTE_QUERIES], answers, strict=False):
        started = time.perf_counter()
        rows = read_cif(
            io.BytesIO(timed_get(connection, INDEX.format(q["instrument"].lower()))[1])
        ).rows
        when = requested_mjd(q["date"], q["time"], datetime.now(UTC))
        options = {"detector": q["detector"], "expression": parse_expression(q["expr"])}
        query = Query.create(q["instrument"], q["codename"], time_mjd=when, **options)
        selected = select(rows, query).selected
        latencies.append((time.perf_counter() - started) * 1000)
        remote = [(row.cal_file, row.cal_xno) for row in selected]
        api = [(row["cal_file"], row["cal_xno"]) for row in answer["results"]]
        if len(remote) != answer["nfound"] or remote[: len(api)] != api:
            mismatches.append(f"{q}: API {answer['nfound']} {api[:3]}, remote {remote[:3]}")
    return latencies, mismatches


def export_seconds(database_url: str, root: Path) -> float:
    """Seconds to write every caldb.indx and the configuration files (``export_tree``)."""
    engine = make_engine(database_url)
    with Session(engine) as session:
        started = time.perf_counter()
        export_tree(session, Storage(root), load_registry(DEFAULT_REGISTRY))
        elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def measure(database_url: str, queries: list[Row], work: Path) -> dict[str, Any]:
    """Every server-side measurement, on one tree in ``work``."""
    paths = ["/api/v1/search?" + urlencode(query) for query in queries]
    env = {**os.environ, "CALDB_DATABASE_URL": database_url, "CALDB_ROOT": str(work / "caldb")}
    env |= {"CALDB_INSTANCE_PATH": str(work / "instance"), "CALDB_SECRET_KEY": "b" * 40}
    results: dict[str, Any] = {}
    port = free_port()
    serve = [str(BIN / "caldb-server"), "serve", "--port", str(port)]
    with running(serve, env, port, work / "serve.log"):
        results["first_gets"] = first_index_gets(port)
        results["api"], results["answers"] = api_run(port, paths)
        results["remote"], results["mismatches"] = remote_run(port, queries, results["answers"])
    port = free_port()
    gunicorn = [str(BIN / "gunicorn"), "-w", "4", "--no-control-socket", "-b", f"127.0.0.1:{port}"]
    loader = wrk_load if shutil.which("wrk") else python_load
    results["client"] = "wrk -t1" if loader is wrk_load else "Python client processes"
    with running([*gunicorn, "caldb_server:create_app()"], env, port, work / "gunicorn.log"):
        # a warm-up first: every worker compiles its statements and fills its caches
        loader(port, paths, WARM_SECONDS, work, LOAD_CLIENTS)
        results["load"] = loader(port, paths, LOAD_SECONDS, work, LOAD_CLIENTS)
    results["export"] = export_seconds(database_url, work / "caldb")
    return results


def verdict(value: float, target: float, at_most: bool = False) -> str:
    ok = value <= target if at_most else value >= target
    return f"{value / target:5.2f}x target  {'OK' if ok else 'MISSED'}"


def report(facts: dict[str, str], results: dict[str, Any]) -> None:
    """Print the parameters, the machine and the table of measures."""
    api, remote, mismatches = results["api"], results["remote"], results["mismatches"]
    found = fmean(answer["nfound"] > 0 for answer in results["answers"])
    api_p50, remote_p50, export = percentile(api, 0.5), percentile(remote, 0.5), results["export"]
    ratio, agree = remote_p50 / api_p50, f"{len(remote) - len(mismatches)}/{len(remote)}"
    rate, load_p50, load_p99 = results["load"]
    rows = [
        ("queries finding something", f"{found:.0%}", "most", "OK" if found > 0.5 else "MISSED"),
        ("API search p50, ms (dev server, 1 connection)", f"{api_p50:.2f}", "", ""),
        ("API search p99, ms", f"{percentile(api, 0.99):.2f}", "", ""),
        ("API search mean, ms", f"{fmean(api):.2f}", "", ""),
        ("remote CALDB way p50, ms (GET + parse + select)", f"{remote_p50:.0f}", "", ""),
        ("remote p50 / API p50", f"{ratio:.0f}x", ">= 50x", verdict(ratio, 50)),
        ("same datasets both ways", agree, "all", "MISMATCH" if mismatches else "OK"),
        ("gunicorn -w 4 throughput, searches/s", f"{rate:.0f}", ">= 500", verdict(rate, 500)),
        ("gunicorn p50 / p99 under load, ms", f"{load_p50:.1f} / {load_p99:.1f}", "", ""),
        ("export_tree (every caldb.indx), s", f"{export:.2f}", "<= 5", verdict(export, 5, True)),
    ]
    for instrument, (ms, size) in results["first_gets"].items():
        name = f"first GET {instrument} caldb.indx ({size / 1e6:.1f} MB, uncached), ms"
        rows.append((name, f"{ms:.0f}", "", ""))
    print("\n" + "\n".join(f"{key:<20} {value}" for key, value in facts.items()))
    print(f"\n{'measure':<50} {'value':>13} {'target':>8}  verdict\n{'-' * 96}")
    print("\n".join(f"{n:<50} {v:>13} {t:>8}  {j}" for n, v, t, j in rows))
    for mismatch in mismatches:
        print(f"!!! MISMATCH between the API and the remote way: {mismatch}")


def main() -> None:
    """Build the catalogue, run every measurement, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=100_000, help="catalogue size")
    parser.add_argument("--database-url", default=DEFAULT_URL, help="its schema is DROPPED")
    options = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that finally blocks run
    busy, rng = busy_share(), random.Random(SEED)
    engine = reset_database(options.database_url)
    files, datasets = catalogue(options.datasets, rng)
    insert_s, vacuum_s = load(engine, files, datasets)
    print(f"loaded {len(datasets)} datasets, {len(files)} files in {insert_s:.1f} s")
    queries = make_queries(rng, DISTINCT_QUERIES)
    with tempfile.TemporaryDirectory(prefix="caldb-bench-") as work:
        results = measure(options.database_url, queries, Path(work))
    with engine.connect() as connection:
        postgres = connection.scalar(text("SHOW server_version"))
    report(
        {
            "machine": f"{os.cpu_count()} cores, {platform.platform()}, {busy:.0%} busy at start",
            "Python, PostgreSQL": f"{platform.python_version()}, {postgres}",
            "catalogue": f"{len(datasets)} datasets, {len(files)} files, 3 x 17 codenames",
            "catalogue load": f"{insert_s:.2f} s bulk insert, then {vacuum_s:.2f} s VACUUM ANALYZE",
            "queries": f"seed {SEED}: {len(queries)} distinct, {API_REQUESTS} API, "
            f"{REMOTE_QUERIES} remote",
            "load": f"{results['client']}, {LOAD_CLIENTS} connections, {LOAD_SECONDS} s "
            f"(after {WARM_SECONDS} s warm-up)",
        },
        results,
    )


if __name__ == "__main__":
    main()
