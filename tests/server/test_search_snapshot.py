"""A search answers from one state of the catalogue, even with a write in the middle."""

from caldb_selection import Query, parse_expression, requested_mjd
from caldb_server.catalogue.models import CalibrationFile, Dataset
from caldb_server.db import utcnow
from caldb_server.search import service
from caldb_server.web import extension
from tests.helpers import insert_datasets, mxt_gain_dataset

E1, E2, E3, E4, E5 = 60000.0, 60100.0, 60200.0, 60300.0, 60400.0


def gain(ref_time, energy="ENERG(0.2-10)"):
    return mxt_gain_dataset(ref_time=ref_time, cal_cbd=[energy, *["NONE"] * 8])


def test_a_write_between_statements_gives_the_before_or_the_after_answer(app, monkeypatch):
    database = extension(app).database
    # E5 and E3 rows do not admit energy 1; E2 and E1 do. Before the write: E2. A first
    # page of 4 holds E5, E5, E3, E3 and cuts epoch E3.
    narrow = "ENERG(5-10)"
    insert_datasets(
        database, [gain(E5, narrow), gain(E5, narrow), *[gain(E3, narrow)] * 3, gain(E2), gain(E1)]
    )
    monkeypatch.setattr(service, "FIRST_PAGE", 4)  # the first page cannot decide

    def concurrent_write():  # adds a good E4 dataset and withdraws E2, in another transaction
        with database.unit_of_work() as other:
            other.add(Dataset(file=other.query(CalibrationFile).one(), **gain(E4)))
            other.query(Dataset).filter(Dataset.ref_time == E2).one().cal_qual = 5

    query = Query.create(
        "MXT",
        "GAIN",
        expression=parse_expression("energ.eq.1"),
        time_mjd=requested_mjd("2025-06-01", None, utcnow()),
    )
    # The kind of session a search request uses (autocommit reads on PostgreSQL).
    with database.session() as session:
        real_execute, calls = session.execute, []

        def execute_then_write(*args, **kwargs):
            result = real_execute(*args, **kwargs)
            if not calls:
                result = result.all()
                concurrent_write()
            calls.append(1)
            return _Fetched(result) if isinstance(result, list) else result

        monkeypatch.setattr(session, "execute", execute_then_write)
        answer = service.search(session, service.SearchRequest(query))
    epochs = {row["ref_time"] for row in answer.results}
    assert epochs in ({E2}, {E4})  # never E1, which no state of the catalogue answered


class _Fetched:
    """A result already fetched (so that the write happens after the first statement)."""

    def __init__(self, rows):
        self._rows = rows

    def all(self):
        return self._rows
