"""Client benchmark: a 200 MB download by CaDBIO against curl, and the cached path.

Starts a fresh embedded CalDB (SQLite, local tree) under ``gunicorn -w 2``, uploads a
seeded 200 MB calibration file and a small GAIN file through CaDBIO, then measures in the
same run: time to first byte and throughput of ``curl -o FILE URL`` and of
``CaDBIO.download`` (temporary file, sha256 verified, fsync, atomic rename, into an empty
cache each time); and ``search(..., download_path=...)`` with a warm cache (HTTP requests
counted, latency percentiles) for the small file and the large one.

Run: ``.venv/bin/python benchmarks/bench_client.py [--megabytes 200] [--repeats 5]``
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

import numpy as np
from astropy.io import fits
from harness import free_port, percentile, running

from caldbio import CaDBIO

BIN = Path(sys.executable).parent
SEED = 20250601


def calibration_file(path: Path, megabytes: int, codename: str, valid_from: str) -> Path:
    """A valid MXT calibration file whose image extension holds ``megabytes`` of data."""
    rng = np.random.default_rng(SEED)
    side = int((megabytes * 1024 * 1024 / 4) ** 0.5)
    image = fits.ImageHDU(rng.standard_normal((side, side), dtype=np.float32))
    keywords = {
        "TELESCOP": "SVOM",
        "INSTRUME": "MXT",
        "CCLS0001": "BCF",
        "CDTP0001": "DATA",
        "CCNM0001": codename,
        "CVSD0001": valid_from,
        "CVST0001": "00:00:00",
        "CDES0001": f"benchmark {codename}",
    }
    image.header.update(keywords)
    fits.HDUList([fits.PrimaryHDU(), image]).writeto(path, overwrite=True)
    return path


def curl(url: str, output: Path) -> tuple[float, float, int]:
    """(time to first byte s, total s, bytes) of one curl download to a file."""
    result = subprocess.run(
        [
            "curl",
            "-sS",
            "-o",
            str(output),
            "-w",
            "%{time_starttransfer} %{time_total} %{size_download}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    first, total, size = result.stdout.split()
    return float(first), float(total), int(size)


def cadbio_download(url: str, dataset_id: int, work: Path) -> tuple[float, float]:
    """(time to first byte s, total s) of CaDBIO downloads into an empty cache."""
    cache = work / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    with CaDBIO(url, cache_dir=cache, use_tokens=False) as client:
        (dataset,) = [d for d in client.search("MXT", "PSF", date="-") if d.id == dataset_id]
        started = time.perf_counter()
        with client.request("GET", f"files/{dataset.file_id}/content", stream=True) as response:
            next(response.iter_content(1))
            first = time.perf_counter() - started
        started = time.perf_counter()
        client.download(dataset, work / "out")
        return first, time.perf_counter() - started


def cached_path(url: str, work: Path, codename: str, repeats: int) -> tuple[list[float], float]:
    """Latencies (ms) of a warm search+download, and HTTP requests per call."""
    requests_seen = []
    with CaDBIO(url, cache_dir=work / "warm", use_tokens=False) as client:
        client.search("MXT", codename, date="-", download_path=work / "warm-out")
        client.transport.session.hooks["response"].append(
            lambda r, *a, **k: requests_seen.append(r.url)
        )
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            client.search("MXT", codename, date="-", download_path=work / "warm-out")
            times.append((time.perf_counter() - started) * 1000)
    return times, len(requests_seen) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-client-") as directory:
        work = Path(directory)
        env = {"CALDB_INSTANCE_PATH": str(work / "instance"), "PATH": str(BIN) + ":/usr/bin:/bin"}
        subprocess.run(
            [str(BIN / "caldb-server"), "init"], env=env, check=True, capture_output=True
        )
        token = subprocess.run(
            [str(BIN / "caldb-server"), "create-token", "--role", "uploader"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        large = calibration_file(work / "mxt_psf_bench.fits", args.megabytes, "PSF", "2024-06-22")
        small = calibration_file(work / "mxt_gain_bench.fits", 0, "GAIN", "2024-06-22")
        gunicorn = [
            str(BIN / "gunicorn"),
            "-w",
            "2",
            "--no-control-socket",
            "-b",
            f"127.0.0.1:{port}",
            "caldb_server:create_app()",
        ]
        with running(gunicorn, env, port, work / "server.log"):
            with CaDBIO(url, token=token, cache_dir=work / "upload-cache") as client:
                (dataset,) = client.upload(large).datasets
                client.upload(small)
            content_url = f"{url}/api/v1/files/{dataset.file_id}/content"
            size = dataset.size or 0
            curl_runs = [curl(content_url, work / "curl.out") for _ in range(args.repeats)]
            client_runs = [cadbio_download(url, dataset.id, work) for _ in range(args.repeats)]
            small_times, small_requests = cached_path(url, work / "s", "GAIN", 50)
            large_times, large_requests = cached_path(url, work / "l", "PSF", 5)
    curl_total = median(run[1] for run in curl_runs)
    client_total = median(run[1] for run in client_runs)
    mb = size / 1e6
    print(f"file: {mb:.1f} MB, {args.repeats} runs each, medians; gunicorn -w 2, SQLite")
    print(
        f"curl -o FILE          TTFB {median(r[0] for r in curl_runs) * 1000:7.1f} ms  "
        f"{mb / curl_total:7.0f} MB/s"
    )
    print(
        f"CaDBIO.download      TTFB {median(r[0] for r in client_runs) * 1000:7.1f} ms  "
        f"{mb / client_total:7.0f} MB/s  (verified, fsync'd, renamed)"
    )
    print(f"ratio CaDBIO/curl throughput: {curl_total / client_total:.2f} (target >= 0.80)")
    for name, times, calls in [
        ("small GAIN", small_times, small_requests),
        (f"{mb:.0f} MB PSF", large_times, large_requests),
    ]:
        print(
            f"cached search+download, {name}: p50 {percentile(times, 0.5):.1f} ms, "
            f"p95 {percentile(times, 0.95):.1f} ms, {calls:.0f} HTTP request(s) per call"
        )


if __name__ == "__main__":
    main()
