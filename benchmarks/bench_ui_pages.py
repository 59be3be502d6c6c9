"""Server-side render time of the web interface's pages, against the API in the same run.

Every request goes through the Flask test client, in process (no HTTP, no browser): the
time is what the server spends on a page — routing, access check, queries, Jinja2 — and
nothing else. Two instances, each on a temporary SQLite database (and, when
``CALDB_BENCH_DATABASE_URL`` names a PostgreSQL database, on it too — its public schema
is DROPPED):

- **demo**: the demonstration set, generated and ingested as ``caldb-server demo-data``
  does (``caldb_demodata.generate``, then each file through the ingest service);
- **1 000 GAIN**: 1 000 MXT GAIN datasets of real catalogue rows, ingested from 10 files
  of 100 HDUs: 900 validity starts, then 100 of them issued again with ``supersede``
  (so 100 datasets are superseded, CAL_QUAL 5).

Per page: the first (cold) request, then the median and p95 of ``--requests`` requests
after a warm-up, the SQL statements per request (a SQLAlchemy ``before_cursor_execute``
listener), and the ratio of the median to the baseline ``GET /api/v1/health``, measured
in the same run (the API's search for the same codename is shown as a second reference).
The issue's target, under 50 ms server-side, applies to the instrument page (demo set)
and the codename page (1 000 datasets); the script says whether each meets it, and
prints the top of a cProfile of any page slower than that (``--profile``: of every page).

Run: ``.venv/bin/python benchmarks/bench_ui_pages.py [--requests 30] [--profile]``
"""

from __future__ import annotations

import argparse
import cProfile
import os
import platform
import pstats
import re
import statistics
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from astropy.io import fits
from flask import Flask
from flask.testing import FlaskClient
from harness import busy_share, percentile, reset_postgresql
from sqlalchemy import event, func, select

from caldb_demodata import generate
from caldb_server import create_app
from caldb_server.catalogue.models import Dataset
from caldb_server.db import make_engine, utcnow
from caldb_server.ingest.service import ingest_file
from caldb_server.migrate import upgrade
from caldb_server.onboard.service import ingest_onboard
from caldb_server.users.service import create_user
from caldb_server.web import Caldb, extension

SECRET = "bench-secret-key-that-is-long-enough-for-hs256-0123456789"  # noqa: S105 - a throwaway
PASSWORD = "bench-password-0123"  # noqa: S105 - a throwaway user of a temporary instance
TARGET_MS = 50.0
WARM_UP = 3
PROFILE_LINES = 12
STDLIB = sysconfig.get_paths()["stdlib"] + os.sep
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
GAIN_EPOCHS, GAIN_FILES, GAIN_REISSUED = 900, 9, 100
GAIN_HEADER = {
    "TELESCOP": "SVOM",
    "INSTRUME": "MXT",
    "CCLS0001": "BCF",
    "CDTP0001": "DATA",
    "CCNM0001": "GAIN",
    "CVST0001": "00:00:00",
    "CDES0001": "MXT per-column gain and offset",
}
SEARCH = "instrument=MXT&codename=GAIN&date=2025-07-01"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Page:
    """A page to time: its label, path, a text its body must hold, whether the target applies."""

    label: str
    path: str
    holds: str = ""
    targeted: bool = False


@dataclass(frozen=True)
class Timing:
    """What one page cost."""

    page: Page
    first_ms: float
    median_ms: float
    p95_ms: float
    statements: list[int]


# --- instances ---------------------------------------------------------------------------


@contextmanager
def instance(work: Path, postgresql_url: str | None) -> Iterator[Flask]:
    """A migrated, empty CalDB app: SQLite in ``work``, or the (emptied) PostgreSQL."""
    url = reset_postgresql(postgresql_url) if postgresql_url else f"sqlite:///{work / 'db.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    app = create_app(
        {
            "DATABASE_URL": url,
            "ROOT": work / "tree",
            "INSTANCE_PATH": work / "instance",
            "SECRET_KEY": SECRET,
        }
    )
    try:
        yield app
    finally:
        extension(app).database.dispose()


def ingest(services: Caldb, path: Path, *, supersede: bool = False) -> None:
    """One file, one unit of work, as ``caldb-server ingest`` and ``demo-data`` do."""
    with (
        path.open("rb") as stream,
        services.storage.receive(stream, path.name) as incoming,
        services.database.unit_of_work() as session,
    ):
        if path.suffix == ".yaml":
            ingest_onboard(session, services.storage, services.registry, incoming, actor="bench")
            return
        ingest_file(
            session,
            services.storage,
            services.registry,
            incoming,
            actor="bench",
            supersede=supersede,
            max_hdus=services.settings.max_hdus,
        )


def load_demo(app: Flask, work: Path) -> int:
    """The demonstration set, generated and ingested file by file; the number of files."""
    paths = generate(work / "demo-files")
    for path in paths:
        ingest(extension(app), path)
    return len(paths)


def gain_file(path: Path, starts: list[date]) -> Path:
    """A primary HDU and one GAIN table per validity start."""
    tables = []
    for start in starts:
        header = fits.Header([*GAIN_HEADER.items(), ("CVSD0001", start.isoformat())])
        column = fits.Column(name="GAIN", format="E", unit="eV/ADU", array=np.full(4, 4.2))
        tables.append(fits.BinTableHDU.from_columns([column], header=header))
    fits.HDUList([fits.PrimaryHDU(), *tables]).writeto(path)
    return path


def load_gain_epochs(app: Flask, work: Path) -> None:
    """900 GAIN epochs in 9 files, then 100 of them again in a 10th file, superseding."""
    directory = work / "gain-files"
    directory.mkdir()
    starts = [date(2024, 6, 22) + timedelta(days=day) for day in range(GAIN_EPOCHS)]
    per_file = GAIN_EPOCHS // GAIN_FILES
    for number in range(GAIN_FILES):
        chunk = starts[number * per_file : (number + 1) * per_file]
        ingest(extension(app), gain_file(directory / f"mxt_gain_bench_{number:02d}.fits", chunk))
    again = gain_file(directory / "mxt_gain_bench_reissued.fits", starts[::9][:GAIN_REISSUED])
    ingest(extension(app), again, supersede=True)


def newest_dataset(app: Flask, codename: str) -> int:
    """The id of the good MXT ``codename`` dataset with the latest validity start."""
    with extension(app).database.unit_of_work(write=False) as session:
        return session.scalars(
            select(Dataset.id)
            .where(Dataset.instrume == "MXT", Dataset.cal_cnam == codename, Dataset.cal_qual == 0)
            .order_by(Dataset.ref_time.desc(), Dataset.id.desc())
            .limit(1)
        ).one()


def signed_in_client(app: Flask) -> FlaskClient:
    """A test client signed in as a reader through the Sign in form."""
    with extension(app).database.unit_of_work() as session:
        create_user(session, "bench-reader", "reader", PASSWORD, actor="bench", now=utcnow())
    client = app.test_client()
    token = _CSRF.search(client.get("/sign-in").get_data(as_text=True))
    assert token is not None, "no CSRF token on /sign-in"
    data = {"username": "bench-reader", "password": PASSWORD, "csrf_token": token.group(1)}
    response = client.post("/sign-in", data=data)
    if response.status_code != 303:
        raise RuntimeError(f"sign in: HTTP {response.status_code}")
    return client


# --- measuring ---------------------------------------------------------------------------


@contextmanager
def counting_statements(app: Flask) -> Iterator[list[int]]:
    """A one-item list counting the SQL statements the app sends while the block runs."""
    engine = extension(app).database.engine
    count = [0]

    def record(*_args: object) -> None:
        count[0] += 1

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield count
    finally:
        event.remove(engine, "before_cursor_execute", record)


def timed_request(app: Flask, client: FlaskClient, page: Page) -> tuple[float, int]:
    """One GET (HTTP 200 and the expected text required): milliseconds and statements."""
    with counting_statements(app) as count:
        started = time.perf_counter()
        response = client.get(page.path, headers=BROWSER)
        body = response.get_data(as_text=True)
        elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200 or page.holds not in body:
        raise RuntimeError(f"GET {page.path}: HTTP {response.status_code} {body[:300]!r}")
    return elapsed, count[0]


def measure(app: Flask, client: FlaskClient, page: Page, requests: int) -> Timing:
    """The first request, a warm-up, then ``requests`` timed ones."""
    first, _ = timed_request(app, client, page)
    for _ in range(WARM_UP - 1):
        timed_request(app, client, page)
    times, statements = [], []
    for _ in range(requests):
        elapsed, count = timed_request(app, client, page)
        times.append(elapsed)
        statements.append(count)
    return Timing(page, first, statistics.median(times), percentile(times, 0.95), statements)


def profile(app: Flask, client: FlaskClient, page: Page, requests: int) -> None:
    """Print where the time of ``requests`` requests goes: our code, then any function.

    Per request: cumulative and own milliseconds, calls. "Our code" is caldb_server's
    modules and templates (compiled Jinja2 templates carry the template's path).
    """
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        timed_request(app, client, page)
    profiler.disable()
    # The raw table: pstats prints it, but has no public accessor for it (nor type hints).
    entries = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    rows = [
        (where, calls / requests, own * 1000 / requests, cumulative * 1000 / requests)
        for where, (_, calls, own, cumulative, _callers) in entries.items()
    ]
    ours = [row for row in rows if f"{os.sep}caldb_server{os.sep}" in row[0][0]]
    print(f"\n  cProfile of {page.label} ({page.path}), per request:")
    print(f"    {'cum ms':>7} {'own ms':>7} {'calls':>7}  our code, by cumulative time")
    for row in sorted(ours, key=lambda row: -row[3])[:PROFILE_LINES]:
        print(_profile_line(row))
    print(f"    {'cum ms':>7} {'own ms':>7} {'calls':>7}  any code, by own time")
    for row in sorted(rows, key=lambda row: -row[2])[:PROFILE_LINES]:
        print(_profile_line(row))


def _profile_line(row: tuple[tuple[str, int, str], float, float, float]) -> str:
    (filename, line, function), calls, own, cumulative = row
    where = filename.removeprefix(STDLIB).split(f"{os.sep}site-packages{os.sep}")[-1]
    where = where.split(f"{os.sep}caldb_server{os.sep}")[-1]
    return f"    {cumulative:7.2f} {own:7.2f} {calls:7.0f}  {where}:{line}({function})"


def statements_text(counts: list[int]) -> str:
    low, high = min(counts), max(counts)
    return str(low) if low == high else f"{low}-{high}"


def print_table(title: str, timings: list[Timing], baseline_ms: float) -> None:
    print(f"\n{title}")
    print(f"  {'page':44} {'first':>7} {'median':>7} {'p95':>7} {'SQL':>5} {'ratio':>6}  target")
    for timing in timings:
        verdict = ""
        if timing.page.targeted:
            met = timing.median_ms < TARGET_MS
            verdict = f"< {TARGET_MS:.0f} ms: {'MET' if met else 'NOT MET'}"
        print(
            f"  {timing.page.label:44} {timing.first_ms:7.1f} {timing.median_ms:7.2f}"
            f" {timing.p95_ms:7.2f} {statements_text(timing.statements):>5}"
            f" {timing.median_ms / baseline_ms:5.1f}x  {verdict}"
        )


def run_pages(
    app: Flask, pages: list[Page], requests: int, profile_all: bool, signed_in: list[Page]
) -> list[Timing]:
    """Time ``pages`` anonymously and ``signed_in`` as a reader; profile the slow ones."""
    clients = [(app.test_client(), page) for page in pages]
    if signed_in:
        reader = signed_in_client(app)
        clients += [(reader, page) for page in signed_in]
    timings = []
    for client, page in clients:
        timing = measure(app, client, page, requests)
        timings.append(timing)
        if profile_all or timing.median_ms >= TARGET_MS:
            profile(app, client, page, requests)
    return timings


def demo_pages(app: Flask) -> tuple[list[Page], list[Page]]:
    teldef, gain = newest_dataset(app, "TELDEF"), newest_dataset(app, "GAIN")
    pages = [
        Page("baseline: GET /api/v1/health", "/api/v1/health"),
        Page("reference: API search MXT GAIN", f"/api/v1/search?{SEARCH}"),
        Page("home /", "/", "MXT"),
        Page("instrument /instruments/MXT", "/instruments/MXT", "TELDEF", targeted=True),
        Page("codename /instruments/MXT/GAIN", "/instruments/MXT/GAIN", "GAIN"),
        Page("search MXT GAIN, Explain", f"/search?{SEARCH}&explain=true", 'class="losers"'),
        Page(f"dataset {teldef} (TELDEF) + comparison", f"/datasets/{teldef}", "Previous version:"),
        Page(f"dataset {gain} (GAIN) + comparison", f"/datasets/{gain}", "Previous version:"),
    ]
    signed_in = [Page("instrument /instruments/MXT, signed in", "/instruments/MXT", "TELDEF")]
    return pages, signed_in


def gain_pages() -> list[Page]:
    return [
        Page("baseline: GET /api/v1/health", "/api/v1/health"),
        Page("reference: API search MXT GAIN", f"/api/v1/search?{SEARCH}"),
        Page("codename /instruments/MXT/GAIN", "/instruments/MXT/GAIN", "GAIN", targeted=True),
        Page("instrument /instruments/MXT", "/instruments/MXT", "GAIN"),
        Page("search MXT GAIN, Explain", f"/search?{SEARCH}&explain=true", 'class="losers"'),
    ]


def backend(name: str, postgresql_url: str | None, options: argparse.Namespace) -> None:
    """Both instances on one backend: load, time, print."""
    with tempfile.TemporaryDirectory(prefix="caldb-bench-ui-") as directory:
        work = Path(directory)
        (work / "demo").mkdir()
        with instance(work / "demo", postgresql_url) as app:
            started = time.perf_counter()
            files = load_demo(app, work / "demo")
            seconds = time.perf_counter() - started
            print(f"\n[{name}] demonstration set: {files} files in {seconds:.1f} s")
            pages, signed_in = demo_pages(app)
            timings = run_pages(app, pages, options.requests, options.profile, signed_in)
        print_table(f"[{name}] demonstration set, ms", timings, timings[0].median_ms)
        (work / "gain").mkdir()
        with instance(work / "gain", postgresql_url) as app:
            started = time.perf_counter()
            load_gain_epochs(app, work / "gain")
            with extension(app).database.unit_of_work(write=False) as session:
                rows = session.scalar(select(func.count()).select_from(Dataset))
            print(f"\n[{name}] {rows} GAIN datasets in {time.perf_counter() - started:.1f} s")
            timings = run_pages(app, gain_pages(), options.requests, options.profile, [])
        print_table(f"[{name}] 1 000 GAIN datasets, ms", timings, timings[0].median_ms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page")
    parser.add_argument("--profile", action="store_true", help="profile every page")
    options = parser.parse_args()
    print(f"# {platform.node()}, Python {sys.version.split()[0]}, {busy_share():.0%} busy")
    print(f"# {options.requests} requests per page after {WARM_UP} (first = the cold one)")
    backend("SQLite", None, options)
    if url := os.environ.get("CALDB_BENCH_DATABASE_URL"):
        backend("PostgreSQL", url, options)


if __name__ == "__main__":
    main()
