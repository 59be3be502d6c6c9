"""The unit of work when things go wrong: commit outcome unknown, publish failures, lost files."""

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from caldb_server import create_app
from caldb_server.storage import StagedFile
from caldb_server.web import extension
from tests.helpers import MXT_GAIN, assert_problem, calfile_bytes, tree_files, upload

GAIN_PATH = "data/svom/mxt/bcf/gain/gain_v1.fits"
SEARCH = "/api/v1/search?instrument=MXT&codename=GAIN&date=-"


def test_commit_that_fails_after_the_server_committed_keeps_the_file(
    client, uploader, app_config, monkeypatch
):
    real_commit = Session.commit

    def commit_then_lose_the_connection(session):
        real_commit(session)
        raise OperationalError("COMMIT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(Session, "commit", commit_then_lose_the_connection)
    response = upload(client, calfile_bytes(MXT_GAIN), "gain_v1.fits", headers=uploader)
    monkeypatch.undo()
    body = assert_problem(response, 503)  # rendered by the handlers, with Retry-After
    assert response.headers["Retry-After"] == "5"
    assert "database" in body["detail"]
    assert tree_files(app_config["ROOT"]) == [GAIN_PATH]  # the committed row has its file
    assert client.get(SEARCH).get_json()["nfound"] == 1
    download = client.get(client.get(SEARCH).get_json()["results"][0]["url"])
    assert download.status_code == 200
    download.close()


def test_failure_to_publish_commits_nothing_and_leaves_nothing(app_config, uploader, monkeypatch):
    app = create_app(app_config | {"TESTING": False})
    try:

        def disk_full(self):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(StagedFile, "publish", disk_full)
        client = app.test_client()
        assert_problem(
            upload(client, calfile_bytes(MXT_GAIN), "gain_v1.fits", headers=uploader), 500
        )
        monkeypatch.undo()
        assert client.get(SEARCH).get_json()["nfound"] == 0
        assert tree_files(app_config["ROOT"]) == []  # nor the temporary copy in .incoming
    finally:
        extension(app).database.dispose()


@pytest.fixture
def lost_file(client, uploader, app_config):
    content = calfile_bytes(MXT_GAIN)
    uploaded = upload(client, content, "gain_v1.fits", headers=uploader).get_json()
    (app_config["ROOT"] / GAIN_PATH).unlink()
    return content, uploaded


def test_a_file_missing_from_the_tree_is_a_clear_error(client, lost_file, caplog):
    _content, uploaded = lost_file
    body = assert_problem(client.get(f"/api/v1/files/{uploaded['file_id']}/content"), 500)
    assert "missing from the tree" in body["detail"]
    assert "caldb-server fsck" in caplog.text


def test_uploading_the_same_bytes_again_restores_a_lost_file(client, uploader, lost_file):
    content, uploaded = lost_file
    again = upload(client, content, "gain_v1.fits", headers=uploader)
    assert again.status_code == 200
    assert any("restored" in note for note in again.get_json()["notes"])
    with client.get(f"/api/v1/files/{uploaded['file_id']}/content") as download:
        assert download.data == content
