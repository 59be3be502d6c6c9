"""Progress bars for people: tqdm on stderr, drawn only when stderr is a terminal.

Downloads, uploads and ``sync`` all take their bar from :func:`progress_bar`, so the rule
is one: the client's ``progress=True`` always draws, ``False`` never does, and ``None`` (the
default) draws when stderr is a terminal and the work is worth watching: a file of at least
:data:`PROGRESS_MIN_BYTES`, or any count of files. A script, a pipe or a log file gets no bar
text at all.
"""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm

__all__ = ["PROGRESS_MIN_BYTES", "progress_bar", "wants_bar"]

PROGRESS_MIN_BYTES = 16 * 1024 * 1024


def wants_bar(setting: bool | None, total: int | None, *, min_total: int) -> bool:
    """Whether to draw: ``setting`` if given, else a terminal and ``total >= min_total``."""
    if setting is not None:
        return setting
    return sys.stderr.isatty() and (total or 0) >= min_total


def progress_bar(
    setting: bool | None, *, total: int | None, desc: str, unit: str = "B"
) -> tqdm[Any]:
    """A bar of ``total`` bytes (``unit="B"``) or items, disabled when nobody is watching.

    A disabled bar draws nothing and ignores ``update``; the callers need no test of their
    own. Byte bars wait for :data:`PROGRESS_MIN_BYTES`; item bars draw for any count.
    """
    in_bytes = unit == "B"
    min_total = PROGRESS_MIN_BYTES if in_bytes else 1
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        unit_scale=in_bytes,
        leave=False,
        disable=not wants_bar(setting, total, min_total=min_total),
    )
