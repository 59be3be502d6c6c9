"""The quzcif selection: which datasets answer a calibration request.

Reference semantics: HEASoft ``quzcif`` -> ``gtcalf`` -> ``cifsl2`` (Fortran), see
``reference/heasarc_caldb.md`` §4.3-4.4. For every dataset in index order:

- INSTRUME and CAL_CNAM equal the request (case-insensitive); other rows are not candidates;
- DETNAM and FILTER equal the request or are ``NONE`` (a request ``-`` accepts anything);
- CAL_QUAL is 0;
- the boundary expression holds (:mod:`caldb_selection.expression`);
- then, for a requested time t, the result is every remaining dataset whose REF_TIME equals
  the latest REF_TIME not after t (ties included, in index order); for no time (``-``), every
  remaining dataset of every epoch.

The function is pure: callers pass candidates in index order (the server reads them from
the database, the client's offline mode from its cached index) and get every dataset found;
``maxret`` is the caller's slice. With ``explain``, each rejected candidate comes back with
the reason a scientist needs to understand the answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, Protocol, TypeVar

from caldb_selection.boundaries import BoundaryError, parse_boundary
from caldb_selection.expression import ANY, Expression
from caldb_selection.timespec import mjd_to_datetime

__all__ = [
    "ANY_VALUE",
    "NONE",
    "Candidate",
    "Query",
    "Reason",
    "Rejection",
    "Selection",
    "select",
]

ANY_VALUE = "-"
NONE = "NONE"


class Candidate(Protocol):
    """What selection reads of a dataset (a catalogue row, a CIF row, a cached result).

    Read-only members, so that frozen dataclasses and ORM rows both qualify.
    """

    @property
    def instrume(self) -> str:
        """INSTRUME: the instrument."""

    @property
    def detnam(self) -> str:
        """DETNAM: the detector, or NONE."""

    @property
    def filter(self) -> str:
        """FILTER: the filter, or NONE."""

    @property
    def cal_cnam(self) -> str:
        """CAL_CNAM: the codename."""

    @property
    def cal_qual(self) -> int:
        """CAL_QUAL: 0 is good."""

    @property
    def cal_cbd(self) -> Sequence[str]:
        """CAL_CBD: the boundary strings."""

    @property
    def ref_time(self) -> float:
        """REF_TIME: the validity start (MJD, UTC)."""


RowT = TypeVar("RowT", bound=Candidate)


class Reason(StrEnum):
    """Why a candidate (same instrument and codename) was not selected."""

    DETECTOR = "detector"
    FILTER = "filter"
    QUALITY = "quality"
    BOUNDARY = "boundary"
    LATER_VALIDITY = "later_validity"
    SUPERSEDED = "superseded"


@dataclass(frozen=True, slots=True)
class Query:
    """A normalised calibration request (build it with :meth:`Query.create`)."""

    instrument: str
    codename: str
    detector: str = ANY_VALUE
    filter: str = ANY_VALUE
    expression: Expression = ANY
    time_mjd: float | None = None

    @classmethod
    def create(
        cls,
        instrument: str,
        codename: str,
        *,
        detector: str | None = None,
        filter: str | None = None,
        expression: Expression = ANY,
        time_mjd: float | None = None,
    ) -> Query:
        """Upper-case the names; None or blank detector/filter mean ``-`` (anything)."""
        return cls(
            instrument=instrument.strip().upper(),
            codename=codename.strip().upper(),
            detector=(detector or ANY_VALUE).strip().upper() or ANY_VALUE,
            filter=(filter or ANY_VALUE).strip().upper() or ANY_VALUE,
            expression=expression,
            time_mjd=time_mjd,
        )


@dataclass(frozen=True, slots=True)
class Rejection(Generic[RowT]):
    """A candidate that was not selected, with the reason and a sentence for people."""

    candidate: RowT
    reason: Reason
    detail: str


@dataclass(frozen=True, slots=True)
class Selection(Generic[RowT]):
    """Every selected dataset in index order, the chosen epoch, and (with explain) rejections."""

    selected: tuple[RowT, ...]
    epoch_mjd: float | None = None
    rejections: tuple[Rejection[RowT], ...] = field(default=())

    @property
    def nfound(self) -> int:
        """Number of datasets found (quzcif's ``nfound``)."""
        return len(self.selected)


def _matches_name(requested: str, value: str) -> bool:
    return requested == ANY_VALUE or value.upper() in (requested, NONE)


def _static_mismatch(row: Candidate, query: Query) -> Reason | None:
    """The first rule that rules a candidate out regardless of time, or None."""
    if not _matches_name(query.detector, row.detnam):
        return Reason.DETECTOR
    if not _matches_name(query.filter, row.filter):
        return Reason.FILTER
    if row.cal_qual != 0:
        return Reason.QUALITY
    if not query.expression.matches(row.cal_cbd):
        return Reason.BOUNDARY
    return None


def _boundary_name(cbd: str) -> str | None:
    """The parameter of a boundary; None for NONE or (as in selection) an unreadable one."""
    try:
        boundary = parse_boundary(cbd, lenient=True)
    except BoundaryError:
        return None
    return None if boundary is None else boundary.name


def _when(mjd: float) -> str:
    return f"{mjd_to_datetime(mjd):%Y-%m-%dT%H:%M:%S} (REF_TIME {mjd!r})"


def _describe(reason: Reason, row: Candidate, query: Query, epoch: float | None) -> str:
    if reason is Reason.DETECTOR:
        return f"DETNAM {row.detnam} is neither {query.detector} nor NONE"
    if reason is Reason.FILTER:
        return f"FILTER {row.filter} is neither {query.filter} nor NONE"
    if reason is Reason.QUALITY:
        return f"CAL_QUAL is {row.cal_qual}; only good datasets (0) are selected"
    if reason is Reason.BOUNDARY:
        term = query.expression.first_failure(row.cal_cbd)
        assert term is not None
        limits = [cbd for cbd in row.cal_cbd if _boundary_name(cbd) == term.name]
        return f"boundary {', '.join(limits)} does not admit {term}"
    if reason is Reason.LATER_VALIDITY:
        return f"valid from {_when(row.ref_time)}, after the requested time"
    assert epoch is not None
    return f"valid from {_when(row.ref_time)}, superseded by the later start {_when(epoch)}"


def select(candidates: Iterable[RowT], query: Query, *, explain: bool = False) -> Selection[RowT]:
    """Select datasets with the quzcif rules (see the module docstring).

    Parameters
    ----------
    candidates : iterable of Candidate
        Datasets in index order. Rows of other instruments or codenames are skipped
        silently; callers may pre-filter them away.
    query : Query
        The normalised request.
    explain : bool
        Also return, for each candidate of the same instrument and codename that was not
        selected, why.

    Returns
    -------
    Selection
        Every selected dataset (``nfound`` of them), the chosen validity start, and the
        rejections when asked for.
    """
    matching: list[tuple[int, RowT]] = []
    rejected: list[tuple[int, RowT, Reason]] = []
    for position, row in enumerate(candidates):
        if row.instrume.upper() != query.instrument or row.cal_cnam.upper() != query.codename:
            continue
        reason = _static_mismatch(row, query)
        if reason is None:
            matching.append((position, row))
        elif explain:
            rejected.append((position, row, reason))

    epoch = None
    selected = [row for _, row in matching]
    if query.time_mjd is not None:
        requested = query.time_mjd
        epoch = max((row.ref_time for row in selected if row.ref_time <= requested), default=None)
        selected = [row for row in selected if row.ref_time == epoch]
        if explain:
            rejected.extend(
                (
                    position,
                    row,
                    Reason.LATER_VALIDITY if row.ref_time > requested else Reason.SUPERSEDED,
                )
                for position, row in matching
                if row.ref_time != epoch
            )

    rejections = tuple(
        Rejection(row, reason, _describe(reason, row, query, epoch))
        for _, row, reason in sorted(rejected, key=lambda item: item[0])
    )
    return Selection(tuple(selected), epoch, rejections)
