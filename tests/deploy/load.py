"""Clients of the deployment tests: a steady read load, and concurrent uploads to one codename.

:func:`concurrent_uploads` sends several ECLAIRs GAIN files at the same moment through both
instances, some of them for one validity slot (each supersedes the good one before it), while
a reader follows the index through nginx. :func:`serial_catalogue` uploads the same files one
after the other on a fresh in-process CalDB, in the order the cluster committed them: the two
catalogues must be equal, ids and times aside.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from caldb_server import create_app
from caldb_server.db import make_engine
from caldb_server.heasarc.cif import read_cif
from caldb_server.migrate import upgrade
from caldb_server.web import extension
from tests.conftest import SECRET
from tests.deploy.cluster import PROGRAM, Cluster
from tests.helpers import calfile_bytes

TIMEOUT_S = 30
LOAD_S = 120  # the longest a load runs, whatever happens
ECL_INDEX = "/caldb/data/svom/ecl/caldb.indx"
ECL_GAIN = {
    "TELESCOP": "SVOM",
    "INSTRUME": "ECL",
    "CCLS0001": "BCF",
    "CDTP0001": "DATA",
    "CCNM0001": "GAIN",
    "CVST0001": "00:00:00",
}
# Three files of their own validity start, three of one slot (same start, boundaries...).
UPLOADS = {
    "ecl_gain_jan.fits": {"CVSD0001": "2025-01-01", "CDES0001": "ECL gain from January"},
    "ecl_gain_feb.fits": {"CVSD0001": "2025-02-01", "CDES0001": "ECL gain from February"},
    "ecl_gain_mar.fits": {"CVSD0001": "2025-03-01", "CDES0001": "ECL gain from March"},
    "ecl_gain_apr_a.fits": {"CVSD0001": "2025-04-01", "CDES0001": "ECL gain from April, a"},
    "ecl_gain_apr_b.fits": {"CVSD0001": "2025-04-01", "CDES0001": "ECL gain from April, b"},
    "ecl_gain_apr_c.fits": {"CVSD0001": "2025-04-01", "CDES0001": "ECL gain from April, c"},
}
_DATASET_ID = re.compile(r" \(dataset \d+\)")


@dataclass
class SteadyLoad:
    """Client threads alternating a search and a download through nginx, checking each."""

    url: str
    search: Mapping[str, str]
    found: list[int]
    download: str
    content: bytes
    failures: list[str] = field(default_factory=list)
    _count: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)

    def answered(self) -> int:
        """Requests answered so far, right or wrong."""
        with self._lock:
            return self._count

    def wait_for(self, count: int) -> None:
        """Until ``count`` requests are answered (bounded)."""
        deadline = time.monotonic() + TIMEOUT_S
        while self.answered() < count:
            assert time.monotonic() < deadline, f"the load stalled at {self.answered()}"
            time.sleep(0.02)

    @contextmanager
    def running(self, threads: int) -> Iterator[None]:
        """The load, from ``threads`` clients, stopped (and joined) at the end."""
        workers = [threading.Thread(target=self._client, daemon=True) for _ in range(threads)]
        for worker in workers:
            worker.start()
        try:
            yield
        finally:
            self._stop.set()
            for worker in workers:
                worker.join(timeout=TIMEOUT_S)
            assert not any(worker.is_alive() for worker in workers)

    def _client(self) -> None:
        deadline = time.monotonic() + LOAD_S
        with requests.Session() as session:
            while not self._stop.is_set() and time.monotonic() < deadline:
                self._record(self._search(session))
                self._record(self._download(session))

    def _search(self, session: requests.Session) -> str | None:
        try:
            response = session.get(
                f"{self.url}/api/v1/search", params=self.search, timeout=TIMEOUT_S
            )
        except requests.RequestException as error:
            return f"search: {error}"
        if response.status_code != 200:
            return f"search: {response.status_code} {response.text[:200]}"
        found = [result["id"] for result in response.json()["results"]]
        return None if found == self.found else f"search found {found}"

    def _download(self, session: requests.Session) -> str | None:
        try:
            response = session.get(f"{self.url}{self.download}", timeout=TIMEOUT_S)
        except requests.RequestException as error:
            return f"download: {error}"
        if response.status_code != 200 or response.content != self.content:
            return f"download: {response.status_code}, {len(response.content)} bytes"
        return None

    def _record(self, failure: str | None) -> None:
        with self._lock:
            self._count += 1
            if failure is not None:
                self.failures.append(failure)


@dataclass
class ConcurrentOutcome:
    """What the cluster made of the concurrent uploads."""

    commit_order: list[str]  # the file names, by the time each was indexed
    catalogue: dict[str, Any]
    serials: list[int]  # the index serials a reader saw through nginx, in order
    fsck_code: int
    fsck_report: str


def concurrent_uploads(cluster: Cluster, uploader: Mapping[str, str]) -> ConcurrentOutcome:
    """Upload :data:`UPLOADS` at once, alternately through each instance (supersede=true)."""
    barrier = threading.Barrier(len(UPLOADS))
    statuses: dict[str, int | str] = {}
    done = threading.Event()
    serials: list[int] = []

    def send(name: str, base_url: str) -> None:
        content = calfile_bytes(ECL_GAIN | UPLOADS[name])
        barrier.wait(timeout=TIMEOUT_S)
        try:
            response = requests.post(
                f"{base_url}/api/v1/files",
                headers=uploader,
                data={"supersede": "true"},
                files={"file": (name, content)},
                timeout=TIMEOUT_S,
            )
            statuses[name] = response.status_code
        except requests.RequestException as error:
            statuses[name] = str(error)

    def follow() -> None:  # the index as HEASoft reads it, while the uploads commit
        deadline = time.monotonic() + LOAD_S
        while not done.is_set() and time.monotonic() < deadline:
            serials.append(_index_serial(cluster.url))

    senders = [
        threading.Thread(target=send, args=(name, cluster.instances[n % 2].url))
        for n, name in enumerate(UPLOADS)
    ]
    follower = threading.Thread(target=follow)
    follower.start()
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join(timeout=2 * TIMEOUT_S)
    done.set()
    follower.join(timeout=2 * TIMEOUT_S)
    assert statuses == dict.fromkeys(UPLOADS, 201)
    serials.append(_index_serial(cluster.url))
    catalogue = _catalogue(lambda path: requests.get(f"{cluster.url}{path}", timeout=TIMEOUT_S))
    fsck = subprocess.run(
        [PROGRAM, "fsck", "--json"],
        env=cluster.instances[0].environ,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return ConcurrentOutcome(
        commit_order=catalogue.pop("commit_order"),
        catalogue=catalogue,
        serials=serials,
        fsck_code=fsck.returncode,
        fsck_report=fsck.stdout + fsck.stderr,
    )


def _index_serial(base_url: str) -> int:
    """The serial of the ECL index, from its ETag, checked against its rows."""
    response = requests.get(f"{base_url}{ECL_INDEX}", timeout=TIMEOUT_S)
    assert response.status_code == 200, response.text
    serial = int(response.headers["ETag"].strip('"').rsplit(".", 1)[1])
    rows = read_cif(io.BytesIO(response.content)).rows
    assert len(rows) == serial, f"serial {serial} with {len(rows)} rows"  # one row per upload
    return serial


def _catalogue(get: Any) -> dict[str, Any]:
    """The ECL catalogue, ids and times aside: datasets and their histories, the CIF, serial.

    ``get(path)`` answers a GET (requests or a Flask test client response).
    """
    listing = get("/api/v1/datasets?instrument=ECL&limit=100")
    datasets = _json(listing)["datasets"]
    by_name: dict[str, Any] = {}
    for dataset in datasets:
        detail = _json(get(f"/api/v1/datasets/{dataset['id']}"))
        by_name[dataset["cal_file"]] = {
            "cal_qual": dataset["cal_qual"],
            "cal_vsd": dataset["cal_vsd"],
            "cal_cbd": dataset["cal_cbd"],
            "sha256": dataset["sha256"],
            "history": [
                (change["old_qual"], change["new_qual"], _DATASET_ID.sub("", change["reason"]))
                for change in detail["quality_history"]
            ],
        }
    index = get(ECL_INDEX)
    cif = read_cif(io.BytesIO(_body(index)))
    return {
        "commit_order": [d["cal_file"] for d in sorted(datasets, key=lambda d: d["indexed_at"])],
        "datasets": by_name,
        "cif_rows": cif.rows,
        "caldbver": cif.caldbver,
        "serial": index.headers["ETag"],
    }


def _json(response: Any) -> dict[str, Any]:
    assert response.status_code == 200
    document: dict[str, Any] = json.loads(_body(response))
    return document


def _body(response: Any) -> bytes:
    return response.content if isinstance(response, requests.Response) else response.get_data()


def serial_catalogue(order: list[str], directory: Path, uploader: Mapping[str, str]) -> dict:
    """The ECL catalogue after uploading ``order`` one by one on a fresh SQLite CalDB."""
    database = f"sqlite:///{directory / 'serial.sqlite'}"
    engine = make_engine(database)
    upgrade(engine)
    engine.dispose()
    app = create_app(
        {
            "DATABASE_URL": database,
            "ROOT": directory / "serial-tree",
            "INSTANCE_PATH": directory / "serial-instance",
            "SECRET_KEY": SECRET,
            "TESTING": True,
        }
    )
    try:
        client = app.test_client()
        for name in order:
            response = client.post(
                "/api/v1/files",
                headers=dict(uploader),
                data={
                    "supersede": "true",
                    "file": (io.BytesIO(calfile_bytes(ECL_GAIN | UPLOADS[name])), name),
                },
            )
            assert response.status_code == 201, response.get_json()

        def get(path: str) -> Any:
            with client.get(path) as response:
                response.get_data()
                return response

        catalogue = _catalogue(get)
    finally:
        extension(app).database.dispose()
    assert catalogue.pop("commit_order") == order
    return catalogue
