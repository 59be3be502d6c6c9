"""Every registered index exists for HEASoft, even before its first dataset."""

import io

from caldb_server.heasarc.cif import read_cif
from tests.helpers import assert_problem


def test_a_registered_index_without_datasets_is_an_empty_cif(client):
    with client.get("/caldb/data/svom/vt/caldb.indx") as response:
        assert response.status_code == 200
        index = read_cif(io.BytesIO(response.data))
    assert index.rows == []
    assert index.caldbver is not None
    assert_problem(client.get("/caldb/data/svom/nothing/caldb.indx"), 404)


def test_doubled_slashes_are_served_not_redirected(client):
    with client.get("/caldb//data/svom/vt//caldb.indx", follow_redirects=False) as response:
        assert response.status_code == 200
    assert client.get("/api/v1//search", follow_redirects=False).status_code == 404
