"""Usage records on their way to the CalDB: a local queue that loses none and sends none twice.

A record is written to the queue (one JSON file, atomically) before it is sent, and its
file is removed only once the CalDB has answered that it holds the record. A run whose
CalDB is down, or a machine that is offline, keeps its records; the next flush (the next
run, or ``caldbio usage flush``) sends them in the order they were made. A resend (the
answer was lost, two flushes raced) is harmless: the record's ``record_id`` makes the
CalDB answer the stored record instead of storing a second one.

A record the CalDB refuses (it can never be accepted) moves to ``rejected/`` with the
reason, so that it neither blocks the queue nor disappears unseen.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from caldb_common.atomic import write_text_atomically
from caldbio.errors import AuthError, CaDBIOError, Forbidden, ServerError, TransportError

__all__ = ["FlushReport", "UsageQueue", "UsageSender", "new_record_id", "usage_queue_dir"]

QUEUE_DIR = "usage-queue"
REJECTED_DIR = "rejected"


def new_record_id() -> str:
    """A fresh ``record_id`` (a random UUID, as the record schema wants it)."""
    return str(uuid.uuid4())


def usage_queue_dir(cache_root: Path) -> Path:
    """Where a client whose cache is ``cache_root`` keeps its unsent usage records."""
    return cache_root / QUEUE_DIR


class UsageSender(Protocol):
    """What sends a usage record (:meth:`caldbio.CaDBIO.send_usage`)."""

    def send_usage(self, record: dict[str, Any]) -> dict[str, Any]:
        """Send one record; the CalDB's stored record."""
        ...


@dataclass
class FlushReport:
    """What one flush did: records the CalDB now holds, those still queued, and why."""

    sent: int = 0
    remaining: int = 0
    rejected: list[str] = field(default_factory=list)
    stopped_by: str | None = None  # why records remain: the CalDB's answer or its silence

    def line(self) -> str:
        """One sentence for a log or a terminal."""
        text = f"{self.sent} usage record(s) sent, {self.remaining} queued"
        if self.rejected:
            text += f", {len(self.rejected)} refused (kept in {REJECTED_DIR}/)"
        return text + (f": {self.stopped_by}" if self.stopped_by else "")


class UsageQueue:
    """The usage records of one client, waiting in ``directory`` until the CalDB has them."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def put(self, record: dict[str, Any]) -> Path:
        """Queue ``record`` (which has its ``record_id``); return its file."""
        self.directory.mkdir(parents=True, exist_ok=True)
        # Names sort in the order records were made: a flush sends them in that order.
        path = self.directory / f"{time.time_ns():020d}-{record['record_id']}.json"
        write_text_atomically(path, json.dumps(record, sort_keys=True))
        return path

    def pending(self) -> list[Path]:
        """The queued records' files, oldest first."""
        if not self.directory.is_dir():
            return []
        return sorted(self.directory.glob("*.json"))

    def flush(self, client: UsageSender) -> FlushReport:
        """Send the queued records, oldest first; stop at the first one the CalDB cannot take now.

        A transport failure, a server error or a refused token leaves that record and the
        later ones queued (sent by a later flush); a record the CalDB refuses as invalid or
        conflicting is moved to ``rejected/``.
        """
        report = FlushReport()
        pending = self.pending()
        for number, path in enumerate(pending):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:  # a concurrent flush sent it
                continue
            except (OSError, ValueError) as error:
                self._reject(path, f"unreadable: {error}")
                report.rejected.append(path.name)
                continue
            try:
                client.send_usage(record)
            except (TransportError, ServerError, AuthError, Forbidden) as error:
                report.remaining = len(pending) - number
                report.stopped_by = error.detail
                break
            except CaDBIOError as error:  # refused for good: invalid, conflicting
                self._reject(path, error.detail)
                report.rejected.append(path.name)
                continue
            path.unlink(missing_ok=True)
            report.sent += 1
        return report

    def _reject(self, path: Path, reason: str) -> None:
        rejected = self.directory / REJECTED_DIR
        rejected.mkdir(exist_ok=True)
        write_text_atomically(rejected / f"{path.stem}.reason.txt", reason + "\n")
        path.replace(rejected / path.name)
