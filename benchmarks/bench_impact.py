"""Impact benchmark: one calibration change against 100 000 usage records, on PostgreSQL.

A fresh database (``CALDB_BENCH_DATABASE_URL``, default ``caldb_bench``: its public schema is
DROPPED) gets three MXT GAIN epochs uploaded through the API, then ``--records`` usage
records (one GAIN selection each, observations spread over 2024-06-22 .. 2026-12-01, each
with the dataset a search gives at its time) written straight into the tables. A fourth
epoch is uploaded (from 2025-09-01: it takes over a third of the observations), and
``GET /api/v1/impact?since=N`` is timed in process (best and median of ``--repeats``).

Baseline in the same run: replaying each selection with its own search (what a script
over ``/api/v1/usage`` and ``/api/v1/search`` would do), timed on a sample of 500 records
and scaled to all of them. Both must list the same observations on the sample.

Target (issue 19): impact of one change over 100 000 usage records in at most 1 s.

Run: ``.venv/bin/python benchmarks/bench_impact.py [--records 100000] [--repeats 5]``
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from harness import busy_share, reset_postgresql
from sqlalchemy import insert

from caldb_server import create_app
from caldb_server.auth.tokens import issue_token
from caldb_server.db import make_engine, utcnow
from caldb_server.migrate import upgrade
from caldb_server.usage.models import UsageRecord, UsageSelection
from caldb_server.web import extension

DEFAULT_URL = "postgresql://postgres@127.0.0.1/caldb_bench"
SECRET = "bench-secret-key-that-is-long-enough-for-hs256-0123456789"  # noqa: S105 - a test key
EPOCHS = ("2024-06-22", "2025-01-01", "2025-06-01")
NEW_EPOCH = "2025-09-01"
FIRST, LAST = datetime(2024, 6, 23, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
SAMPLE, BATCH, TARGET_S = 500, 10_000, 1.0


def gain_file(valid_from: str) -> bytes:
    """A small MXT GAIN calibration file valid from ``valid_from``."""
    header = fits.Header()
    for key, value in {
        "TELESCOP": "SVOM",
        "INSTRUME": "MXT",
        "CCLS0001": "BCF",
        "CDTP0001": "DATA",
        "CCNM0001": "GAIN",
        "CVSD0001": valid_from,
        "CVST0001": "00:00:00",
        "CDES0001": f"MXT gain from {valid_from}",
    }.items():
        header[key] = value
    table = fits.BinTableHDU.from_columns(
        [fits.Column(name="GAIN", format="E", array=np.ones(4))], header=header
    )
    buffer = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(buffer)
    return buffer.getvalue()


def upload(client: Any, headers: dict[str, str], valid_from: str) -> None:
    name = f"svmxt_gain_{valid_from.replace('-', '')}v001.fits"
    data = {"file": (io.BytesIO(gain_file(valid_from)), name)}
    response = client.post("/api/v1/files", data=data, headers=headers)
    assert response.status_code == 201, response.get_json()


def chosen(client: Any, date: str) -> dict[str, Any]:
    query = {"instrument": "MXT", "codename": "GAIN", "date": date}
    return client.get("/api/v1/search", query_string=query).get_json()["results"][0]


def write_records(app: Any, client: Any, count: int, rng: random.Random) -> list[str]:
    """``count`` usage records straight into the tables; their dates."""
    span = (LAST - FIRST).total_seconds()
    dates = sorted(
        (FIRST + timedelta(seconds=rng.uniform(0, span))).strftime("%Y-%m-%dT%H:%M:%S")
        for _ in range(count)
    )
    by_epoch = {epoch: chosen(client, f"{epoch}T12:00:00") for epoch in EPOCHS}
    now = utcnow()
    database = extension(app).database
    for start in range(0, count, BATCH):
        records, selections = [], []
        for number in range(start, min(start + BATCH, count)):
            date = dates[number]
            dataset = by_epoch[max(e for e in EPOCHS if e <= date[:10])]
            records.append(
                {
                    "id": number + 1,
                    "record_id": str(uuid.UUID(int=rng.getrandbits(128))),
                    "observation": f"ob{number:08d}",
                    "brick": "mxt-pipeline",
                    "brick_version": "1.0.0",
                    "finished_at": now,
                    "submitted_by": "bench",
                    "received_at": now,
                }
            )
            mjd = datetime.fromisoformat(date + "+00:00") - datetime(1858, 11, 17, tzinfo=UTC)
            selections.append(
                {
                    "usage_id": number + 1,
                    "mission": "SVOM",
                    "instrument": "MXT",
                    "codename": "GAIN",
                    "date": date,
                    "time_mjd": mjd.total_seconds() / 86400.0,
                    "detector": "-",
                    "filter": "-",
                    "expr": "-",
                    "as_of": None,
                    "dataset_id": dataset["id"],
                    "cal_file": dataset["cal_file"],
                    "cal_xno": dataset["cal_xno"],
                    "sha256": dataset["sha256"],
                }
            )
        with database.unit_of_work() as session:
            session.execute(insert(UsageRecord), records)
            session.execute(insert(UsageSelection), selections)
    return dates


def timed_impact(client: Any, headers: dict[str, str], since: int) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    response = client.get(f"/api/v1/impact?since={since}", headers=headers)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.get_json()
    return elapsed, response.get_json()


def naive_replay(client: Any, headers: dict[str, str], sample: list[int]) -> tuple[float, set[str]]:
    """One search per selection, as a script would do it; seconds and affected observations."""
    started, affected = time.perf_counter(), set()
    for usage_id in sample:
        listed = client.get(f"/api/v1/usage?after={usage_id - 1}&limit=1", headers=headers)
        (record,) = listed.get_json()["records"]
        selection = record["selections"][0]
        if chosen(client, selection["date"])["id"] != selection["dataset_id"]:
            affected.add(record["observation"])
    return time.perf_counter() - started, affected


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args()
    busy = busy_share()
    url = reset_postgresql(os.environ.get("CALDB_BENCH_DATABASE_URL", DEFAULT_URL))
    rng = random.Random(20261207)
    with tempfile.TemporaryDirectory() as work:
        config = {
            "DATABASE_URL": url,
            "ROOT": Path(work) / "tree",
            "INSTANCE_PATH": Path(work) / "instance",
            "SECRET_KEY": SECRET,
        }
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        app = create_app(config)
        client = app.test_client()
        token = issue_token(
            SECRET, subject="bench", roles=("uploader",), issuer="svom-caldb", now=utcnow(),
            lifetime=timedelta(hours=2),
        ).token  # fmt: skip
        headers = {"Authorization": f"Bearer {token}"}
        for epoch in EPOCHS:
            upload(client, headers, epoch)
        started = time.perf_counter()
        dates = write_records(app, client, options.records, rng)
        written = time.perf_counter() - started
        since = client.get("/api/v1/changes?since=0&limit=1").get_json()["latest"]
        upload(client, headers, NEW_EPOCH)
        runs = [timed_impact(client, headers, since) for _ in range(options.repeats)]
        seconds = [elapsed for elapsed, _ in runs]
        answer = runs[-1][1]
        expected = sum(1 for date in dates if date >= NEW_EPOCH)
        sample = sorted(rng.sample(range(1, options.records + 1), min(SAMPLE, options.records)))
        naive_s, naive_affected = naive_replay(client, headers, sample)
        listed = set(answer["observations"])
        agree = all(
            (f"ob{i - 1:08d}" in listed) == (f"ob{i - 1:08d}" in naive_affected) for i in sample
        )
        extension(app).database.dispose()
    naive_all = naive_s * options.records / len(sample)
    best, median = min(seconds), statistics.median(seconds)
    print(f"machine: {os.cpu_count()} cores, {platform.platform()}, {busy:.0%} busy at start")
    print(f"python {sys.version.split()[0]}; {options.records} usage records in {written:.1f} s")
    total, listed_n = answer["affected_total"], len(answer["affected"])
    print(f"affected: {total} (expected {expected}), {listed_n} listed; sample agrees: {agree}")
    print(
        f"impact of one change: best {best:.3f} s, median {median:.3f} s ({options.repeats} runs)"
    )
    print(
        f"baseline, a search per record: {naive_s:.2f} s for {len(sample)}, {naive_all:.0f} s all"
    )
    print(f"ratio baseline / impact: {naive_all / median:.0f}x")
    verdict = "met" if median <= TARGET_S * options.records / 100_000 else "MISSED"
    print(f"target <= {TARGET_S:.0f} s per 100 000 records: {verdict}")
    return 0 if total == expected and agree else 1


if __name__ == "__main__":
    sys.exit(main())
