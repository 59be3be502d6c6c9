"""Searches held in memory stay current: the catalogue serial invalidates them everywhere."""

from __future__ import annotations

from sqlalchemy import select

from caldb_selection import Query
from caldb_server import create_app
from caldb_server.catalogue.indexes import catalogue_serial
from caldb_server.catalogue.models import Dataset
from caldb_server.datasets.service import set_quality
from caldb_server.search import cache as search_cache
from caldb_server.web import extension
from tests.helpers import insert_datasets, mxt_gain_dataset

SEARCH = "/api/v1/search?instrument=MXT&codename=GAIN&date=2025-06-01&time=00:00:00"
E1, E2 = 60000.0, 60100.0


def _catalogue(app):
    insert_datasets(
        extension(app).database, [mxt_gain_dataset(ref_time=E1), mxt_gain_dataset(ref_time=E2)]
    )


def _epoch(client) -> float:
    response = client.get(SEARCH)
    assert response.status_code == 200, response.json
    return response.json["epoch"]["ref_time"]


def _withdraw_newest(app) -> None:
    """Set the E2 dataset bad through the service, as a curation request does."""
    database = extension(app).database
    with database.unit_of_work() as session:
        newest = session.scalars(select(Dataset).where(Dataset.ref_time == E2)).one()
        set_quality(session, newest.id, 5, reason="test", actor="test")


def test_a_repeated_search_is_answered_from_the_cache(app, client):
    _catalogue(app)
    held = extension(app).search_cache
    first = client.get(SEARCH).json
    second = client.get(SEARCH).json
    assert (held.misses, held.hits) == (1, 1)
    assert first["results"] == second["results"]
    assert first["epoch"] == second["epoch"] == {"ref_time": E2, "start": first["epoch"]["start"]}


def test_a_change_made_by_another_process_is_seen_at_once(app, app_config, client):
    _catalogue(app)
    assert _epoch(client) == E2
    other = create_app(app_config)  # another server on the same database
    try:
        _withdraw_newest(other)
    finally:
        extension(other).database.dispose()
    assert _epoch(client) == E1  # the serial moved: nothing held is reused
    assert extension(app).search_cache.hits == 0


def test_an_index_loaded_across_a_commit_is_not_kept(app, monkeypatch):
    _catalogue(app)
    real_load = search_cache.load_codename

    def load_then_commit(session, *group):
        index = real_load(session, *group)
        _withdraw_newest(app)  # another request commits while this one loads
        return index

    monkeypatch.setattr(search_cache, "load_codename", load_then_commit)
    held = extension(app).search_cache
    request = _sql_request()
    with extension(app).database.session() as session:
        answer = held.search(session, request)
        reference = search_cache.service.search(session, request)
    # What the read saw: its snapshot (SQLite) or, on PostgreSQL, where each statement sees
    # the latest commit, the SQL path's answer since the index may mix two states.
    assert answer == reference
    with extension(app).database.session() as session:
        assert held.search(session, request).epoch_mjd == E1  # the commit is seen next


def test_a_read_older_than_what_is_held_goes_to_sql(app, monkeypatch):
    _catalogue(app)
    held = extension(app).search_cache
    database = extension(app).database
    with database.session() as session:
        held.search(session, _sql_request())
        current = catalogue_serial(session)
    monkeypatch.setattr(search_cache, "catalogue_serial", lambda session: current - 1)
    sql_calls = []
    real_search = search_cache.service.search
    monkeypatch.setattr(
        search_cache.service, "search", lambda *a: sql_calls.append(1) or real_search(*a)
    )
    with database.session() as session:
        assert held.search(session, _sql_request()).nfound == 1
    assert sql_calls == [1]
    assert held._serial == current  # what is held is kept for the current readers


def _sql_request():
    return search_cache.SearchRequest(Query.create("MXT", "GAIN", time_mjd=60200.0))
