"""A search answers from one state of the catalogue, even with a write in the middle."""

from caldb_selection import Query, parse_expression, requested_mjd
from caldb_server.catalogue.models import CalibrationFile, CatalogueIndex, Dataset
from caldb_server.db import utcnow
from caldb_server.search import service
from caldb_server.web import extension

E1, E2, E3, E4, E5 = 60000.0, 60100.0, 60200.0, 60300.0, 60400.0


def dataset(stored, ref_time, cal_qual=0, energy="ENERG(0.2-10)"):
    return Dataset(
        file=stored,
        telescop="SVOM",
        instrume="MXT",
        detnam="NONE",
        filter="NONE",
        cal_dev="ONLINE",
        cal_clas="BCF",
        cal_dtyp="DATA",
        cal_cnam="GAIN",
        cal_cbd=[energy, *["NONE"] * 8],
        cal_xno=1,
        cal_vsd="2023-01-01",
        cal_vst="00:00:00",
        ref_time=ref_time,
        cal_qual=cal_qual,
        cal_date="2026-01-01",
        cal_desc="snapshot test",
        indexed_by="t",
        indexed_at=utcnow(),
    )


def test_a_write_between_statements_gives_the_before_or_the_after_answer(app, monkeypatch):
    database = extension(app).database
    with database.unit_of_work() as session:
        session.add(
            CatalogueIndex(
                index_dir="data/svom/mxt", telescop="SVOM", serial=1, updated_at=utcnow()
            )
        )
        session.flush()
        stored = CalibrationFile(
            index_dir="data/svom/mxt",
            cal_dir="data/svom/mxt/bcf/gain",
            cal_file="g.fits",
            origin="import",
            uploaded_by="t",
            uploaded_at=utcnow(),
        )
        # E5 and E3 rows do not admit energy 1; E2 and E1 do. Before the write: E2. A first
        # page of 4 holds E5, E5, E3, E3 and cuts epoch E3.
        session.add_all([dataset(stored, E5, energy="ENERG(5-10)") for _ in range(2)])
        session.add_all([dataset(stored, E3, energy="ENERG(5-10)") for _ in range(3)])
        session.add_all([dataset(stored, E2), dataset(stored, E1)])
    monkeypatch.setattr(service, "FIRST_PAGE", 4)  # the first page cannot decide

    def concurrent_write():  # adds a good E4 dataset and withdraws E2, in another transaction
        with database.unit_of_work() as other:
            stored = other.query(CalibrationFile).one()
            other.add(dataset(stored, E4))
            other.query(Dataset).filter(Dataset.ref_time == E2).one().cal_qual = 5

    query = Query.create(
        "MXT",
        "GAIN",
        expression=parse_expression("energ.eq.1"),
        time_mjd=requested_mjd("2025-06-01", None, utcnow()),
    )
    with database.unit_of_work(write=False) as session:
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
