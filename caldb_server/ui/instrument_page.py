"""What the instrument page shows: its codenames with counts, and its validity timelines.

One statement reads every dataset of the instrument (a few columns each, the file name
joined): the counts per codename and the epochs of both timelines come from it, so the page
costs the same whatever the number of codenames.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from caldb_selection.timespec import mjd_to_datetime
from caldb_server.catalogue.models import ONBOARD_CLASS, CalibrationFile, Dataset
from caldb_server.catalogue.quality import GOOD
from caldb_server.ui.instrument_lookup import InstrumentEntry, codename_path
from caldb_server.ui.timeline import Epoch, render_timeline

__all__ = [
    "CodenameSummary",
    "InstrumentPage",
    "draw_timeline",
    "instrument_page",
    "lane_label",
]

TIMELINE_WIDTH = 1080  # px: the width of the page's main column (it scales down on phones)
_NO_VALUE = ("", "-", "NONE")  # DETNAM/FILTER values that name no particular one


@dataclass(frozen=True)
class CodenameSummary:
    """One codename of the instrument: its page, description and dataset counts."""

    name: str
    path: str
    description: str
    datasets: int
    good: int


@dataclass(frozen=True)
class InstrumentPage:
    """Everything the instrument page shows."""

    entry: InstrumentEntry
    codenames: list[CodenameSummary]
    onboard: list[CodenameSummary]
    timeline: str  # SVG markup; every text in it escaped by caldb_server.ui.timeline
    onboard_timeline: str


def lane_label(codename: str, detector: str, filter_: str) -> str:
    """A timeline lane: the codename, with the detector and filter when they name one."""
    parts = [codename, *(value for value in (detector, filter_) if value not in _NO_VALUE)]
    return " / ".join(parts)


def _rows(session: Session, entry: InstrumentEntry) -> list[Any]:
    """Every dataset of the instrument, oldest validity first: the columns the page needs."""
    return list(
        session.execute(
            select(
                Dataset.id,
                Dataset.cal_cnam,
                Dataset.cal_clas,
                Dataset.detnam,
                Dataset.filter,
                Dataset.ref_time,
                Dataset.cal_qual,
                Dataset.cal_desc,
                CalibrationFile.cal_file,
            )
            .join(CalibrationFile, CalibrationFile.id == Dataset.file_id)
            .where(Dataset.telescop == entry.mission, Dataset.instrume == entry.name)
            .order_by(Dataset.ref_time, Dataset.id)
        )
    )


def _summaries(
    entry: InstrumentEntry, registered: Mapping[str, str], rows: Iterable[Any]
) -> list[CodenameSummary]:
    """Registered codenames (even empty ones) and those the catalogue holds, by name."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    descriptions: dict[str, str] = {}
    for row in rows:
        counts[row.cal_cnam][0] += 1
        counts[row.cal_cnam][1] += row.cal_qual == GOOD
        descriptions[row.cal_cnam] = row.cal_desc  # the latest dataset's, if unregistered
    return [
        CodenameSummary(
            name,
            codename_path(entry, name),
            registered.get(name) or descriptions.get(name, ""),
            *counts.get(name, [0, 0]),
        )
        for name in sorted({*registered, *counts})
    ]


def _epochs(rows: Iterable[Any], order: list[str]) -> list[Epoch]:
    """One epoch per dataset, lanes grouped by codename in the order of the list of links."""
    rank = {name: index for index, name in enumerate(order)}
    ordered = sorted(
        rows, key=lambda r: (rank.get(r.cal_cnam, len(rank)), r.cal_cnam, r.detnam, r.filter)
    )
    return [
        Epoch(
            lane=lane_label(row.cal_cnam, row.detnam, row.filter),
            start=mjd_to_datetime(row.ref_time),
            quality=row.cal_qual,
            name=row.cal_file,
            href=f"/datasets/{row.id}",
        )
        for row in ordered
    ]


def draw_timeline(epochs: list[Epoch], *, dom_id: str, title: str, now: datetime) -> str:
    """The SVG of ``epochs`` (the one call into :mod:`caldb_server.ui.timeline`)."""
    return render_timeline(
        epochs,
        now=now,
        width=TIMELINE_WIDTH,
        title=title,
        dom_id=dom_id,
        empty_text="no datasets yet",
    )


def instrument_page(session: Session, entry: InstrumentEntry, now: datetime) -> InstrumentPage:
    """The codenames of ``entry`` with their counts, and its two timelines (one statement)."""
    rows = _rows(session, entry)
    calibration = [row for row in rows if row.cal_clas != ONBOARD_CLASS]
    onboard = [row for row in rows if row.cal_clas == ONBOARD_CLASS]
    registered_onboard = {k: v for k, v in entry.onboard.items() if k not in entry.codenames}
    codenames = _summaries(entry, entry.codenames, calibration)
    onboard_codenames = _summaries(entry, registered_onboard, onboard)
    return InstrumentPage(
        entry=entry,
        codenames=codenames,
        onboard=onboard_codenames,
        timeline=draw_timeline(
            _epochs(calibration, [c.name for c in codenames]),
            dom_id="calibration-timeline",
            title=f"Validity epochs of the {entry.name} calibration datasets",
            now=now,
        ),
        onboard_timeline=draw_timeline(
            _epochs(onboard, [c.name for c in onboard_codenames]),
            dom_id="onboard-timeline",
            title=f"Onboard configurations of {entry.name}",
            now=now,
        ),
    )
