"""gunicorn's workers count in files of one directory, which ``/metrics`` sums.

prometheus_client counts in files when ``PROMETHEUS_MULTIPROC_DIR`` is set as it is first
imported; the workers inherit the setting from the master, so ``caldb-server serve`` sets it
before any app (hence any metric) exists. The directory must start empty: files of a
previous run would be added to this one's counts.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["MULTIPROCESS_VARIABLE", "multiprocess_directory", "worker_exited"]

MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def multiprocess_directory() -> Iterator[Path]:
    """Count in files for the duration of the block: the operator's directory, or our own.

    An operator's ``PROMETHEUS_MULTIPROC_DIR`` is made if missing and emptied of metric
    files (``*.db``), and kept; otherwise a private temporary directory is made, named in
    the variable, and removed with its files at the end.

    Raises
    ------
    RuntimeError
        If prometheus_client was imported already, counting in memory: each worker would
        then answer ``/metrics`` with its own counts only.
    """
    given = os.environ.get(MULTIPROCESS_VARIABLE)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
        _check_not_counting_in_memory()
        yield path
        return
    path = Path(tempfile.mkdtemp(prefix="caldb-metrics-"))  # 0700: this account's only
    os.environ[MULTIPROCESS_VARIABLE] = str(path)
    owner = os.getpid()
    try:
        _check_not_counting_in_memory()
        yield path
    finally:
        # gunicorn's workers are forked inside this block and leave it by SystemExit when
        # they stop (a SIGHUP stops them all): only the master may remove the directory.
        if os.getpid() == owner:
            os.environ.pop(MULTIPROCESS_VARIABLE, None)
            shutil.rmtree(path, ignore_errors=True)


def _check_not_counting_in_memory() -> None:
    values = sys.modules.get("prometheus_client.values")
    if values is not None and not getattr(values.ValueClass, "_multiprocess", False):
        raise RuntimeError(
            f"prometheus_client was imported before {MULTIPROCESS_VARIABLE} was set: "
            "the workers would not share their counts"
        )


def worker_exited(pid: int) -> None:
    """Tell prometheus_client that worker ``pid`` is gone (gunicorn's ``child_exit``).

    Its counters stay in the sums (they count what it did); only live gauges are dropped.
    """
    if os.environ.get(MULTIPROCESS_VARIABLE):
        from prometheus_client import multiprocess  # noqa: PLC0415 - see the module doc

        multiprocess.mark_process_dead(pid)
