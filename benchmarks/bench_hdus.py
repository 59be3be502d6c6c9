"""Ingestion time against the number of HDUs of an uploaded file, to see that it is linear.

For each size (250, 500, 1000 HDUs by default) a file is built whose every extension is
one MXT GAIN dataset, then uploaded through ``POST /api/v1/files`` (Flask test client,
in process, an empty SQLite CalDB each time, ``CALDB_MAX_HDUS`` raised to the largest
size). Two layouts:

- **epochs**: each HDU has its own validity start (CVSD0001): the usual multi-epoch file;
- **boundaries**: one validity start, each HDU its own boundary ``CHAN(i-i)``: datasets
  that only their boundaries tell apart (the in-file duplicate check's hard case).

It prints the best of ``--repeats`` runs, the time per HDU, and the ratio of the time per
HDU to that of the smallest size: about 1 when ingestion is linear. Before duplicates
within a file were found by grouping and sweeping (``caldb_server/ingest/within.py``), the
boundaries layout gave 4.4 at 1000 HDUs (every pair of HDUs compared); see
docs/benchmarks.md.

Run: ``.venv/bin/python benchmarks/bench_hdus.py [--sizes 250 500 1000] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import io
import platform
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from astropy.io import fits
from harness import busy_share

from caldb_server import create_app
from caldb_server.auth.tokens import issue_token
from caldb_server.db import make_engine, utcnow
from caldb_server.migrate import upgrade

SECRET = "bench-secret-key-that-is-long-enough-for-hs256-0123456789"  # noqa: S105 - a throwaway
GAIN = {
    "TELESCOP": "SVOM",
    "INSTRUME": "MXT",
    "CCLS0001": "BCF",
    "CDTP0001": "DATA",
    "CCNM0001": "GAIN",
    "CVST0001": "00:00:00",
    "CDES0001": "MXT per-column gain and offset",
}


def calibration_file(hdus: int, layout: str) -> bytes:
    """A primary HDU and ``hdus - 1`` GAIN tables, distinct by epoch or by boundary."""
    tables = []
    for number in range(hdus - 1):
        header = fits.Header(list(GAIN.items()))
        if layout == "epochs":
            header["CVSD0001"] = (date(2000, 1, 1) + timedelta(days=number)).isoformat()
        else:
            header["CVSD0001"] = "2024-06-22"
            header["CBD10001"] = f"CHAN({number}-{number})"
        column = fits.Column(name="RAWX", format="J", array=np.arange(4))
        tables.append(fits.BinTableHDU.from_columns([column], header=header))
    buffer = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), *tables]).writeto(buffer)
    return buffer.getvalue()


def upload_seconds(content: bytes, max_hdus: int) -> float:
    """Seconds to upload ``content`` into a fresh CalDB (201 required)."""
    with tempfile.TemporaryDirectory() as directory:
        base = Path(directory)
        url = f"sqlite:///{base / 'caldb.sqlite'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        app = create_app(
            {
                "DATABASE_URL": url,
                "ROOT": base / "tree",
                "INSTANCE_PATH": base / "instance",
                "SECRET_KEY": SECRET,
                "MAX_HDUS": max_hdus,
            }
        )
        token = issue_token(
            SECRET,
            subject="bench",
            roles=("uploader",),
            issuer="svom-caldb",
            now=utcnow(),
            lifetime=timedelta(hours=1),
        ).token
        client = app.test_client()
        started = time.perf_counter()
        response = client.post(
            "/api/v1/files",
            data={"file": (io.BytesIO(content), "mxt_gain_bench.fits")},
            headers={"Authorization": f"Bearer {token}"},
        )
        elapsed = time.perf_counter() - started
        if response.status_code != 201:
            raise RuntimeError(f"upload: HTTP {response.status_code} {response.get_data()[:300]!r}")
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[250, 500, 1000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--layouts", nargs="+", default=["epochs", "boundaries"])
    arguments = parser.parse_args()
    print(f"# {platform.node()}, Python {sys.version.split()[0]}, {busy_share():.0%} busy")
    for layout in arguments.layouts:
        print(f"\nlayout: {layout}\n  HDUs   seconds   ms/HDU   ratio per HDU")
        first = None
        for size in arguments.sizes:
            content = calibration_file(size, layout)
            best = min(
                upload_seconds(content, max(arguments.sizes)) for _ in range(arguments.repeats)
            )
            per_hdu = best / size
            first = first or per_hdu
            print(f"  {size:5d}  {best:8.2f}  {per_hdu * 1000:7.2f}   {per_hdu / first:5.2f}")


if __name__ == "__main__":
    main()
