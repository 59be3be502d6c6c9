"""Shared by the benchmarks: servers in subprocesses, timed HTTP requests, load generation.

Load comes from ``wrk`` when it is installed (``apt-get install wrk``: one C thread can
saturate a 2-core server), otherwise from Python client processes.
"""

from __future__ import annotations

import http.client
import itertools
import json
import multiprocessing
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

Load = tuple[float, float, float]  # requests/s, p50 ms, p99 ms
WRK_SCRIPT = """local paths = {%s}
local i = 0
function request()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
"""


def connect(port: int, timeout: float = 120) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)


def timed_get(connection: http.client.HTTPConnection, path: str) -> tuple[float, bytes]:
    """GET ``path`` (HTTP 200 required); return (milliseconds, body)."""
    started = time.perf_counter()
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status != 200:
        raise RuntimeError(f"GET {path}: HTTP {response.status} {body[:300]!r}")
    return elapsed, body


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running(argv: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[None]:
    """Run a server in its own process group until it answers; kill the group on exit."""
    with log.open("w") as out:
        server = subprocess.Popen(argv, env=env, stdout=out, stderr=out, start_new_session=True)
        try:
            for _ in range(300):
                if server.poll() is not None:
                    raise RuntimeError(f"{argv[0]} exited:\n{log.read_text()}")
                try:
                    timed_get(connect(port, 2), "/api/v1/health")
                    break
                except OSError:
                    time.sleep(0.1)
            yield
        finally:
            os.killpg(server.pid, signal.SIGINT)  # quick shutdown for gunicorn too
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def busy_share(seconds: float = 1.0) -> float:
    """Share of the machine's CPU busy over ``seconds`` (others' jobs skew every measure)."""
    before = [int(v) for v in Path("/proc/stat").read_text().split()[1:11]]
    time.sleep(seconds)
    after = [int(v) for v in Path("/proc/stat").read_text().split()[1:11]]
    spent = [a - b for a, b in zip(after, before, strict=True)]
    return 1 - (spent[3] + spent[4]) / max(1, sum(spent))


def load_client(job: tuple[int, list[str], float, float]) -> list[float]:
    """One client process: searches from ``start`` until ``end`` (epoch seconds)."""
    port, paths, start, end = job
    connection, latencies = connect(port, 30), []
    time.sleep(max(0.0, start - time.time()))
    for path in itertools.cycle(paths):
        if time.time() >= end:
            break
        latencies.append(timed_get(connection, path)[0])
    return latencies


def python_load(port: int, paths: list[str], seconds: int, _work: Path, clients: int) -> Load:
    """Load from ``clients`` client processes, one connection each."""
    start = time.time() + 1.0
    jobs = [(port, paths[n::clients], start, start + seconds) for n in range(clients)]
    with multiprocessing.Pool(clients) as pool:
        latencies = [ms for part in pool.map(load_client, jobs) for ms in part]
    return len(latencies) / seconds, percentile(latencies, 0.5), percentile(latencies, 0.99)


def wrk_load(port: int, paths: list[str], seconds: int, work: Path, clients: int) -> Load:
    """Load from wrk (one thread, ``clients`` connections) cycling through ``paths``."""
    script = work / "searches.lua"
    script.write_text(WRK_SCRIPT % ",\n".join(json.dumps(path) for path in paths))
    argv = ["wrk", "-t1", f"-c{clients}", f"-d{seconds}s", "--latency", "-s", str(script)]
    output = subprocess.run(
        [*argv, f"http://127.0.0.1:{port}"], check=True, capture_output=True, text=True
    ).stdout
    if "Non-2xx" in output or "Socket errors" in output:
        print(f"!!! wrk saw errors:\n{output}")
    units = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    found = re.findall(r"(\d+)%\s+([\d.]+)(us|ms|s)\b", output)
    quantiles = {share: float(value) * units[unit] for share, value, unit in found}
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])
    return rate, quantiles["50"], quantiles["99"]


@contextmanager
def embedded_caldb(work: Path) -> Iterator[tuple[str, str]]:
    """A CalDB on the embedded default (SQLite + local tree) with the demonstration set.

    ``caldb-server init`` and ``demo-data`` in ``work/instance``, then ``serve`` on a free
    port until the block ends. Yields the URL and a reader token.
    """
    server = str(Path(sys.executable).parent / "caldb-server")
    env = {**os.environ, "CALDB_INSTANCE_PATH": str(work / "instance")}
    for command in (["init"], ["demo-data"]):
        subprocess.run([server, *command], env=env, check=True, capture_output=True)
    token = subprocess.run(
        [server, "create-token", "--role", "reader", "--sub", "benchmark"],
        env=env, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    port = free_port()
    with running([server, "serve", "--port", str(port)], env, port, work / "server.log"):
        yield f"http://127.0.0.1:{port}", token


def reset_postgresql(url: str) -> str:
    """Create the database if missing and empty its public schema; the URL for psycopg 3.

    The benchmarks measure a fresh catalogue: whatever the database held is DROPPED.
    """
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = text("SELECT 1 FROM pg_database WHERE datname = :name")
        if not connection.scalar(exists, {"name": target.database}):
            connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()
    engine = create_engine(target)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url
