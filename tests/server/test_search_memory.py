"""The in-memory search path answers exactly as the SQL path, on random catalogues.

The SQL path (:func:`caldb_server.search.service.search`) is the reference. Catalogues are
drawn with ties of validity start, boundaries, qualities and their history, detectors and
filters, and indexing times that ``as_of`` cuts through, on both database backends.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from caldb_selection import Query, parse_expression
from caldb_server.catalogue.models import CalibrationFile, CatalogueIndex, Dataset, QualityChange
from caldb_server.search import memory, service
from caldb_server.search.service import SearchAnswer, SearchRequest
from caldb_server.web import extension
from tests.helpers import mxt_gain_dataset

BASE = datetime(2026, 1, 1, tzinfo=UTC)
EPOCHS = (60000.0, 60000.5, 60100.0, 60200.0)  # few values: many ties
ENERGIES = ("ENERG(0.2-10)", "ENERG(5-10)", "ENERG(0.2-2)", "NONE")
CODENAMES = ("GAIN", "TELDEF")


def _hours(count: int) -> datetime:
    return BASE + timedelta(hours=count)


datasets = st.fixed_dictionaries(
    {
        "cal_cnam": st.sampled_from(CODENAMES),
        "detnam": st.sampled_from(("NONE", "CCD1", "CCD2")),
        "filter": st.sampled_from(("NONE", "OPEN")),
        "cal_cbd": st.sampled_from(ENERGIES).map(lambda energy: [energy, *["NONE"] * 8]),
        "ref_time": st.sampled_from(EPOCHS),
        "cal_qual": st.sampled_from((0, 0, 0, 5, 1)),
        "indexed_at": st.integers(0, 6).map(_hours),
    }
)
# (which dataset, when, old quality): applied in time order to the drawn datasets.
changes = st.tuples(st.integers(0, 40), st.integers(1, 8), st.sampled_from((0, 5, 1)))
requests = st.fixed_dictionaries(
    {
        "codename": st.sampled_from(CODENAMES),
        "detector": st.sampled_from((None, "CCD1", "CCD2")),
        "filter": st.sampled_from((None, "OPEN", "CLOSED")),
        "expression": st.sampled_from((None, "energ.eq.1", "energ.eq.7", "energ.eq.1.5")),
        # exactly on an epoch, between epochs, before all of them, or no time
        "time_mjd": st.sampled_from((*EPOCHS, 60050.0, 60300.0, 59000.0, None)),
        "as_of": st.one_of(st.none(), st.integers(-1, 9).map(_hours)),
        "explain": st.booleans(),
        "maxret": st.integers(1, 6),
    }
)


def _store(database: Any, rows: list[dict[str, Any]], history: list[tuple[int, int, int]]) -> None:
    """Replace the catalogue by ``rows`` and a quality history consistent with them."""
    with database.unit_of_work() as session:
        for model in (QualityChange, Dataset, CalibrationFile, CatalogueIndex):
            session.execute(delete(model))
        session.add(CatalogueIndex(index_dir="data/svom/mxt", telescop="SVOM", serial=1))
        session.flush()
        stored = CalibrationFile(
            index_dir="data/svom/mxt",
            cal_dir="data/svom/mxt/bcf/gain",
            cal_file="many.fits",
            origin="import",
            uploaded_by="test",
        )
        added = [Dataset(file=stored, **mxt_gain_dataset(**row)) for row in rows]
        session.add_all(added)
        session.flush()
        for position, hours, old_qual in sorted(history, key=lambda change: change[1]):
            if not added:
                break
            dataset = added[position % len(added)]
            session.add(
                QualityChange(
                    dataset=dataset,
                    old_qual=old_qual,
                    new_qual=dataset.cal_qual,
                    reason="test",
                    changed_by="test",
                    changed_at=_hours(hours),
                )
            )


def _request(drawn: dict[str, Any]) -> SearchRequest:
    query = Query.create(
        "MXT",
        drawn["codename"],
        detector=drawn["detector"],
        filter=drawn["filter"],
        expression=parse_expression(drawn["expression"]),
        time_mjd=drawn["time_mjd"],
    )
    return SearchRequest(
        query, maxret=drawn["maxret"], as_of=drawn["as_of"], explain=drawn["explain"]
    )


def _comparable(answer: SearchAnswer) -> tuple[Any, ...]:
    rejections = [(r.candidate.id, r.reason, r.detail) for r in answer.rejections]
    return answer.nfound, answer.results, answer.epoch_mjd, rejections


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=st.lists(datasets, max_size=24),
    history=st.lists(changes, max_size=10),
    drawn=st.lists(requests, min_size=1, max_size=4),
)
def test_memory_answers_equal_the_sql_answers(app, monkeypatch, rows, history, drawn):
    database = extension(app).database
    _store(database, rows, history)
    with database.session() as session:
        indexes = {name: memory.load_codename(session, "SVOM", "MXT", name) for name in CODENAMES}
        for one in drawn:
            request = _request(one)
            from_memory = _comparable(memory.answer(indexes[one["codename"]], request))
            assert from_memory == _comparable(service.search(session, request)), one
            # a first page that cannot decide: the SQL path's second statement
            monkeypatch.setattr(service, "FIRST_PAGE", 2)
            assert from_memory == _comparable(service.search(session, request)), one
            monkeypatch.undo()


@pytest.mark.parametrize("maxret", [1, 50])
def test_an_empty_codename_answers_nothing(app, maxret):
    database = extension(app).database
    _store(database, [], [])
    request = _request(
        {"codename": "GAIN", "detector": None, "filter": None, "expression": None}
        | {"time_mjd": 60000.0, "as_of": None, "explain": False, "maxret": maxret}
    )
    with database.session() as session:
        index = memory.load_codename(session, "SVOM", "MXT", "GAIN")
        assert _comparable(memory.answer(index, request)) == (0, [], None, [])
