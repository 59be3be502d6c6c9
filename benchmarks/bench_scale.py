"""Operations at scale: a 100 000-dataset catalogue on PostgreSQL, served behind nginx.

In one run, on one machine:

1. a synthetic SVOM MXT CIF of ``--rows`` rows (``bench_import``'s, 17 codenames, files of
   32 HDUs) is imported by ``caldb-server import-cif`` into a fresh PostgreSQL database;
2. ``caldb-server serve --workers 4`` serves it, with nginx in front (``deploy/nginx/caldb.conf``
   rendered into a temporary directory on an unprivileged port, files by X-Accel-Redirect);
3. on one fixed list of seeded searches, after a warm-up, it measures: p50/p99 per request with
   ``http.client`` on one keep-alive connection, to the instance and through nginx, and with
   ``requests``; ``wrk`` throughput through nginx; and the baseline, the remote-CALDB way
   (GET ``caldb.indx`` through nginx, parse, select);
4. every API answer is checked against the SQL path (:func:`caldb_server.search.service.search`,
   the reference the in-memory search must agree with), and the remote way's against the API's.

Targets (issue 17): import <= 15 s (goal 5), search p50 with http.client <= 2 ms (goal 1),
throughput through nginx >= 1 500/s (goal 3 000).

Run: ``CALDB_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1/caldb_bench \
.venv/bin/python benchmarks/bench_scale.py [--rows 100000]`` (the database is DROPPED).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import pwd
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests
from bench_import import CODENAMES, START, synthetic_rows
from bench_search import remote_run
from harness import (
    busy_share,
    connect,
    free_port,
    percentile,
    reset_postgresql,
    running,
    timed_get,
    wrk_load,
)
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from caldb_server.config import DEFAULT_REGISTRY
from caldb_server.db import make_engine
from caldb_server.heasarc.cif import write_cif
from caldb_server.registry import load_registry
from caldb_server.search.params import parse_search_params
from caldb_server.search.service import search

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the deployment tests' renderer of the nginx template
from tests.deploy.cluster import ACCEL_PREFIX, TEMPLATE, render_nginx_config  # noqa: E402

BIN = Path(sys.executable).parent
NGINX = shutil.which("nginx", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin") or "nginx"
DEFAULT_URL = "postgresql://postgres@127.0.0.1/caldb_bench_scale"
SEED = 20261207
WORKERS = 4
DISTINCT_QUERIES, SEQUENTIAL, WITH_REQUESTS = 500, 2000, 500
# The warm-up lets every worker load every codename (~0.1 s each) before the measure.
LOAD_CLIENTS, LOAD_SECONDS, WARM_SECONDS = 8, 10, 12
EXPRS = ("-", "-", "energ.eq.1.5.and.datamode.eq.PHOTON", "energ.eq.5", "datamode.eq.WINDOWED")
DETECTORS = ("-", "-", "FM1", "FM2", "FM3")
TARGETS = {"import_s": 15.0, "p50_ms": 2.0, "throughput": 1500.0}
GOALS = {"import_s": 5.0, "p50_ms": 1.0, "throughput": 3000.0}


def make_queries(rng: random.Random, count: int, span_hours: int) -> list[dict[str, str]]:
    """Seeded MXT searches over the catalogue's span: codename, date, time, detector, expr."""
    queries = []
    for _ in range(count):
        moment = START + timedelta(hours=rng.uniform(-24, span_hours + 24))
        queries.append(
            {
                "instrument": "MXT",
                "codename": rng.choice(CODENAMES),
                "date": f"{moment:%Y-%m-%d}",
                "time": f"{moment:%H:%M:%S}",
                "detector": rng.choice(DETECTORS),
                "expr": rng.choice(EXPRS),
            }
        )
    return queries


def caldb_server(env: dict[str, str], *args: str) -> float:
    """Run ``caldb-server ARGS``; its wall time in seconds."""
    started = time.perf_counter()
    result = subprocess.run(
        [str(BIN / "caldb-server"), *args], env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"caldb-server {' '.join(args)} failed:\n{result.stderr}")
    return time.perf_counter() - started


def sql_answers(database_url: str, queries: list[dict[str, str]]) -> list[tuple[int, list[int]]]:
    """(nfound, result ids) of each query by the SQL path, the reference."""
    registry, now = load_registry(DEFAULT_REGISTRY), datetime.now(UTC)
    engine = make_engine(database_url)
    answers = []
    with Session(engine) as session:
        for query in queries:
            answer = search(session, parse_search_params(MultiDict(query), registry, now))
            answers.append((answer.nfound, [row["id"] for row in answer.results]))
    engine.dispose()
    return answers


def sequential(port: int, paths: list[str]) -> tuple[list[float], list[Any]]:
    """Warm-up, then SEQUENTIAL searches on one keep-alive http.client connection."""
    connection, latencies, answers = connect(port), [], []
    for path in paths:
        answers.append(json.loads(timed_get(connection, path)[1]))
    for number in range(SEQUENTIAL):
        latencies.append(timed_get(connection, paths[number % len(paths)])[0])
    return latencies, answers


def with_requests(port: int, paths: list[str]) -> list[float]:
    """WITH_REQUESTS searches with a ``requests.Session`` (what most scripts use)."""
    latencies = []
    with requests.Session() as client:
        for number in range(WITH_REQUESTS):
            started = time.perf_counter()
            response = client.get(f"http://127.0.0.1:{port}{paths[number % len(paths)]}")
            response.raise_for_status()
            latencies.append((time.perf_counter() - started) * 1000)
    return latencies


@contextmanager
def nginx(work: Path, upstream_port: int, root: Path) -> Iterator[int]:
    """Run nginx with the deployment template in front of one instance; yield its port."""
    port, state = free_port(), work / "nginx"
    state.mkdir()
    values = {
        "LISTEN": f"127.0.0.1:{port}",
        "SERVER_NAME": "_",
        "UPSTREAM_SERVERS": f"server 127.0.0.1:{upstream_port};",
        "CALDB_ROOT": str(root),
        "STATE_DIR": str(state),
        "MAX_UPLOAD_MB": "512",
    }
    config = state / "nginx.conf"
    config.write_text(render_nginx_config(TEMPLATE.read_text(), values))
    # Workers as this user: run by root, nginx makes them 'nobody', who cannot read the tree.
    user = pwd.getpwuid(os.geteuid()).pw_name
    argv = [NGINX, "-c", str(config), "-p", str(state), "-e", str(state / "error.log")]
    with running([*argv, "-g", f"daemon off; user {user};"], {**os.environ}, port, state / "log"):
        yield port


def measure(database_url: str, cif: Path, queries: list[dict[str, str]], work: Path) -> dict:
    """Import, then every measurement on the served catalogue."""
    env = {**os.environ, "CALDB_DATABASE_URL": database_url, "CALDB_ROOT": str(work / "caldb")}
    env |= {"CALDB_INSTANCE_PATH": str(work / "instance"), "CALDB_SECRET_KEY": "s" * 40}
    env |= {"CALDB_ACCEL_REDIRECT": ACCEL_PREFIX}
    caldb_server(env, "init")
    results: dict[str, Any] = {"import_s": caldb_server(env, "import-cif", str(cif))}
    results["sql"] = sql_answers(database_url, queries)
    paths = ["/api/v1/search?" + urlencode(query) for query in queries]
    port = free_port()
    serve = [str(BIN / "caldb-server"), "serve", "--port", str(port), "--workers", str(WORKERS)]
    with running(serve, env, port, work / "serve.log"), nginx(work, port, work / "caldb") as front:
        results["direct"], answers = sequential(port, paths)
        results["api"] = [(a["nfound"], [r["id"] for r in a["results"]]) for a in answers]
        results["requests"] = with_requests(port, paths)
        results["nginx"], _ = sequential(front, paths)
        results["remote"], results["remote_mismatches"] = remote_run(front, queries, answers)
        wrk_load(front, paths, WARM_SECONDS, work, LOAD_CLIENTS)
        results["load"] = wrk_load(front, paths, LOAD_SECONDS, work, LOAD_CLIENTS)
    return results


def verdict(value: float, name: str, at_most: bool) -> str:
    target, goal = TARGETS[name], GOALS[name]
    meets = (lambda limit: value <= limit) if at_most else (lambda limit: value >= limit)
    return "goal met" if meets(goal) else "target met" if meets(target) else "MISSED"


def report(facts: dict[str, str], results: dict[str, Any]) -> None:
    """Print the machine, the parameters and the table."""
    direct, nginx_ms, by_requests = results["direct"], results["nginx"], results["requests"]
    rate, load_p50, load_p99 = results["load"]
    remote_p50, direct_p50 = percentile(results["remote"], 0.5), percentile(direct, 0.5)
    agree = sum(api == sql for api, sql in zip(results["api"], results["sql"], strict=True))
    found = sum(nfound > 0 for nfound, _ in results["sql"])
    rows = [
        ("import-cif, s", f"{results['import_s']:.1f}", "<= 15 (5)", "import_s", 1),
        ("search p50, ms, http.client to gunicorn", f"{direct_p50:.2f}", "<= 2 (1)", "p50_ms", 1),
        ("search p99, ms, http.client to gunicorn", f"{percentile(direct, 0.99):.2f}", "", "", 0),
        ("search p50 / p99, ms, http.client via nginx",
         f"{percentile(nginx_ms, 0.5):.2f} / {percentile(nginx_ms, 0.99):.2f}", "", "", 0),
        ("search p50 / p99, ms, requests to gunicorn",
         f"{percentile(by_requests, 0.5):.2f} / {percentile(by_requests, 0.99):.2f}", "", "", 0),
        (f"wrk via nginx, {WORKERS} workers, searches/s", f"{rate:.0f}", ">= 1500 (3000)",
         "throughput", False),
        ("wrk p50 / p99, ms", f"{load_p50:.1f} / {load_p99:.1f}", "", "", 0),
        ("remote CALDB way p50, ms (baseline)", f"{remote_p50:.0f}", "", "", 0),
        ("remote way / API p50", f"{remote_p50 / direct_p50:.0f}x", "", "", 0),
    ]  # fmt: skip
    print("\n" + "\n".join(f"{key:<22} {value}" for key, value in facts.items()))
    print(f"\n{'measure':<48} {'value':>13} {'target (goal)':>15}  verdict\n{'-' * 96}")
    for name, value, target, key, at_most in rows:
        judged = verdict(float(value), key, bool(at_most)) if key else ""
        print(f"{name:<48} {value:>13} {target:>15}  {judged}")
    mismatched = len(results["sql"]) - agree
    print(f"\nAPI answers equal to the SQL path: {agree}/{len(results['sql'])} ({found} found)")
    remote_agree = len(results["remote"]) - len(results["remote_mismatches"])
    print(f"remote way equal to the API: {remote_agree}/{len(results['remote'])}")
    for mismatch in results["remote_mismatches"]:
        print(f"!!! remote way differs: {mismatch}")
    if mismatched:
        print(f"!!! {mismatched} API answers differ from the SQL path")


def main() -> None:
    """Write the CIF, import it, serve it, measure, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="datasets in the catalogue")
    options = parser.parse_args()
    if not Path(NGINX).is_absolute() or shutil.which("wrk") is None:
        sys.exit("nginx and wrk are needed (make system-deps installs them)")
    database_url = reset_postgresql(os.environ.get("CALDB_BENCH_DATABASE_URL", DEFAULT_URL))
    busy = busy_share()
    with tempfile.TemporaryDirectory(prefix="caldb-bench-scale-") as directory:
        work = Path(directory)
        rows = synthetic_rows(options.rows)
        cif = work / "caldb.indx"
        write_cif(rows, cif, caldbver="20260101")
        span_hours = int((max(r.ref_time for r in rows) - min(r.ref_time for r in rows)) * 24)
        queries = make_queries(random.Random(SEED), DISTINCT_QUERIES, span_hours)
        results = measure(database_url, cif, queries, work)
    nginx_version = subprocess.run([NGINX, "-v"], capture_output=True, text=True, check=True).stderr
    report(
        {
            "machine": f"{os.cpu_count()} cores, {platform.platform()}, {busy:.0%} busy at start",
            "Python, nginx": f"{platform.python_version()}, {nginx_version.strip()}",
            "catalogue": f"{len(rows)} MXT datasets, {len(CODENAMES)} codenames, PostgreSQL",
            "queries": f"seed {SEED}: {len(queries)} distinct, {SEQUENTIAL} sequential, "
            f"{WITH_REQUESTS} with requests",
            "load": f"wrk -t1, {LOAD_CLIENTS} connections, {LOAD_SECONDS} s after "
            f"{WARM_SECONDS} s warm-up",
        },
        results,
    )


if __name__ == "__main__":
    main()
