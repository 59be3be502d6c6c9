"""The kill storm's clients: uploads and quality changes, and the record of what they learnt.

Used by :mod:`tests.server.test_kill_storm`; the server and its killer are in
:mod:`tests.server.storm`.
"""

from __future__ import annotations

import hashlib
import io
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import requests
from astropy.io import fits

from tests.helpers import MXT_GAIN
from tests.server.storm import MAX_STEPS_PER_CLIENT, SEED, UPLOAD_TRIES, UPLOADS_PER_CLIENT

# -- the clients ---------------------------------------------------------------------------


def calibration_file(client: int, number: int, rows: int) -> tuple[str, bytes]:
    """A new MXT GAIN dataset: its own validity date, so no upload duplicates another."""
    start = date(2024, 6, 22) + timedelta(days=client * 1000 + number)
    keywords = MXT_GAIN | {
        "CVSD0001": start.isoformat(),
        "CDES0001": f"kill storm client {client} file {number}",
    }
    table = fits.BinTableHDU.from_columns(
        [fits.Column(name="RAWX", format="J", array=np.arange(rows, dtype=np.int32))],
        header=fits.Header(list(keywords.items())),
    )
    buffer = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(buffer)
    return f"storm_c{client}_{number:03d}.fits", buffer.getvalue()


@dataclass
class Upload:
    """One file a client sent, and what it learnt."""

    name: str
    sha256: str
    content: bytes
    statuses: list[int | str] = field(default_factory=list)  # per try: status or error
    file_id: int | None = None
    dataset_id: int | None = None

    @property
    def acknowledged(self) -> bool:
        return self.file_id is not None


@dataclass
class QualityChange:
    """One PATCH of a dataset's quality.

    ``outcome``: "ok" (200), "unknown" (no answer), or what no client should get:
    "unknown-status" (5xx), "refused" (4xx), "wrong-answer" (200 with another quality).
    """

    dataset_id: int
    quality: int
    reason: str
    outcome: str
    status: int | str


@dataclass
class Tally:
    """Everything the clients did, shared between the threads (each appends its own)."""

    uploads: list[Upload] = field(default_factory=list)
    changes: list[QualityChange] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # answers no client should ever get
    lock: threading.Lock = field(default_factory=threading.Lock)


def _backoff(rng: random.Random, response: requests.Response | None) -> float:
    retry_after = response.headers.get("Retry-After", "") if response is not None else ""
    pause = rng.uniform(0.02, 0.2)
    return min(float(retry_after), 0.5) if retry_after.isdigit() else pause


def send_upload(
    session: requests.Session, url: str, upload: Upload, rng: random.Random, tally: Tally
) -> None:
    """POST one file until an answer says what happened (bounded tries)."""
    for _ in range(UPLOAD_TRIES):
        response = None
        try:
            response = session.post(
                f"{url}/api/v1/files",
                files={"file": (upload.name, upload.content, "application/octet-stream")},
                timeout=(5, 60),
            )
            with response:
                upload.statuses.append(response.status_code)
                if response.status_code in (200, 201):
                    body = response.json()
                    upload.file_id = body["file_id"]
                    upload.dataset_id = body["datasets"][0]["id"]
                    if body["sha256"] != upload.sha256:
                        with tally.lock:
                            tally.errors.append(f"{upload.name}: sha256 {body['sha256']} answered")
                    return
                # Only workers die: a lost answer is a connection error, never a status.
                with tally.lock:
                    tally.errors.append(f"{upload.name}: {response.status_code} {response.text}")
                if response.status_code < 500:
                    return
        except requests.RequestException as error:  # the worker died with the connection
            upload.statuses.append(type(error).__name__)
        time.sleep(_backoff(rng, response))


def send_quality_change(
    session: requests.Session, url: str, dataset_id: int, quality: int, reason: str
) -> QualityChange:
    """PATCH a dataset's quality once; a lost answer is an unknown outcome, not retried."""
    try:
        with session.patch(
            f"{url}/api/v1/datasets/{dataset_id}",
            json={"cal_qual": quality, "reason": reason},
            timeout=(5, 30),
        ) as response:
            status = response.status_code
            if status == 200 and response.json()["cal_qual"] != quality:
                return QualityChange(dataset_id, quality, reason, "wrong-answer", status)
    except requests.RequestException as error:
        return QualityChange(dataset_id, quality, reason, "unknown", type(error).__name__)
    outcome = "ok" if status == 200 else "unknown-status" if status >= 500 else "refused"
    return QualityChange(dataset_id, quality, reason, outcome, status)


def client_loop(
    number: int, url: str, token: str, tally: Tally, stop_event: threading.Event, deadline: float
) -> None:
    """Upload new files and change the quality of this client's own datasets, in turn.

    Once its uploads are all sent, a client goes on with quality changes only, so that the
    workers are busy for as long as they are being killed.
    """
    rng = random.Random(SEED + number)
    mine: list[Upload] = []
    changes_of: dict[int, int] = {}  # dataset id -> quality changes sent so far
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {token}"
        for step in range(MAX_STEPS_PER_CLIENT):
            if stop_event.is_set() or time.monotonic() > deadline:
                return
            if step < UPLOADS_PER_CLIENT:
                rows = rng.choice((4, 1000, 20_000, 100_000))
                name, content = calibration_file(number, step, rows)
                upload = Upload(name, hashlib.sha256(content).hexdigest(), content)
                with tally.lock:
                    tally.uploads.append(upload)
                send_upload(session, url, upload, rng, tally)
                if upload.acknowledged:
                    mine.append(upload)
            for _ in range(rng.randint(0, 2) if step < UPLOADS_PER_CLIENT else 1):
                if not mine or stop_event.is_set():
                    break
                dataset_id = rng.choice(mine).dataset_id
                assert dataset_id is not None
                sent = changes_of.get(dataset_id, 0)
                changes_of[dataset_id] = sent + 1
                quality = sent % 9 + 1  # 1..9 in turn: never 0 (no duplicate check to pass)
                reason = f"kill storm: client {number}, change {sent} of dataset {dataset_id}"
                change = send_quality_change(session, url, dataset_id, quality, reason)
                with tally.lock:
                    tally.changes.append(change)
                    if change.outcome not in ("ok", "unknown"):
                        tally.errors.append(f"{reason}: {change.outcome} ({change.status})")
