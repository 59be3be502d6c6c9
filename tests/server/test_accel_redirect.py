"""``CALDB_ACCEL_REDIRECT``: files are answered by an ``X-Accel-Redirect`` for nginx to send.

Only once the request is authorised, and only for files of the tree, whose path in the
header is the catalogue's (never the request's). nginx itself is in tests/deploy.
"""

from __future__ import annotations

import hashlib

import pytest

from caldb_server.config import ConfigError, load_settings
from caldb_server.db import utcnow
from caldb_server.heasarc.tree import release_index
from caldb_server.web import extension
from tests.conftest import SECRET
from tests.helpers import MXT_GAIN, assert_problem, bearer, calfile_bytes, upload

PREFIX = "/_caldb_files/"
CONTENT = calfile_bytes(MXT_GAIN)
SHA256 = hashlib.sha256(CONTENT).hexdigest()
TREE_PATH = "data/svom/mxt/bcf/gain/mxt_gain_v1.fits"


@pytest.fixture
def app_config(app_config, request):
    """The test app with ``ACCEL_REDIRECT`` set, then the settings of the parameter if any."""
    app_config["ACCEL_REDIRECT"] = PREFIX
    app_config.update(getattr(request, "param", {}))
    return app_config


private = pytest.mark.parametrize("app_config", [{"PUBLIC_READ": "false"}], indirect=True)
unset = pytest.mark.parametrize("app_config", [{"ACCEL_REDIRECT": None}], indirect=True)


@pytest.fixture
def uploaded(client, uploader):
    """The upload answer of one MXT file."""
    response = upload(client, CONTENT, "mxt_gain_v1.fits", headers=uploader)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture
def file_id(uploaded):
    return uploaded["file_id"]


def _file_urls(file_id, dataset_id):
    return [
        f"/api/v1/files/{file_id}/content",
        f"/caldb/{TREE_PATH}",
        f"/caldb//{TREE_PATH}",
        f"/datasets/{dataset_id}/download",
    ]


def test_file_reads_are_redirects_to_the_tree_with_the_file_headers(app, client, uploaded):
    for url in _file_urls(uploaded["file_id"], uploaded["datasets"][0]["id"]):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.get_data() == b""
        assert response.headers["X-Accel-Redirect"] == PREFIX + TREE_PATH
        assert (extension(app).storage.root / TREE_PATH).read_bytes() == CONTENT
        assert response.mimetype == "application/octet-stream"
        assert response.headers["Content-Disposition"] == "attachment; filename=mxt_gain_v1.fits"
        assert response.headers["ETag"] == f'"{SHA256}"'
        assert response.headers["X-Checksum-Sha256"] == SHA256
        assert response.headers["Repr-Digest"].startswith("sha-256=:")
        assert response.last_modified is not None
        assert response.cache_control.max_age == 3600


def test_a_matching_etag_is_a_304_without_a_redirect(client, file_id):
    response = client.get(
        f"/api/v1/files/{file_id}/content", headers={"If-None-Match": f'"{SHA256}"'}
    )
    assert response.status_code == 304
    assert "X-Accel-Redirect" not in response.headers
    other = client.get(f"/api/v1/files/{file_id}/content", headers={"If-None-Match": '"other"'})
    assert other.headers["X-Accel-Redirect"] == PREFIX + TREE_PATH


def test_indexes_and_releases_are_redirects_to_their_files(app, client, file_id):
    services = extension(app)
    with services.database.unit_of_work() as session:
        release_index(
            session, services.storage, "data/svom/mxt", caldbver="20260101", actor="t", now=utcnow()
        )
    root = services.storage.root
    for url in ("/caldb/data/svom/mxt/caldb.indx", "/caldb/data/svom/mxt/index/caldb.indx20260101"):
        response = client.get(url)
        assert (response.status_code, response.get_data()) == (200, b""), url
        assert response.mimetype == "application/fits"
        target = response.headers["X-Accel-Redirect"]
        assert target.startswith(PREFIX)
        served = root / target.removeprefix(PREFIX)
        assert served.resolve().is_relative_to(root.resolve())
        assert served.read_bytes()[:6] == b"SIMPLE"
    current = client.get("/caldb/data/svom/mxt/caldb.indx")
    assert current.headers["ETag"] == f'"{current.headers["X-Accel-Redirect"].rsplit("/")[-1]}"'


def test_generated_files_and_errors_carry_no_redirect(client, file_id):
    for url in ("/caldb/software/tools/caldb.config", "/caldb/software/tools/alias_config.fits"):
        response = client.get(url)
        assert response.status_code == 200
        assert response.get_data() != b""
        assert "X-Accel-Redirect" not in response.headers
    for url in (f"/caldb/{TREE_PATH}.gz", f"/caldb/{TREE_PATH.replace('gain/', 'gain/../')}"):
        response = client.get(url)
        assert_problem(response, 404)
        assert "X-Accel-Redirect" not in response.headers


@private
def test_private_reads_are_refused_before_any_redirect(client, file_id, make_token):
    for url in (f"/api/v1/files/{file_id}/content", f"/caldb/{TREE_PATH}"):
        anonymous = client.get(url)
        assert_problem(anonymous, 401)
        assert "X-Accel-Redirect" not in anonymous.headers
        allowed = client.get(url, headers=bearer(make_token("reader")))
        assert allowed.status_code == 200
        assert allowed.headers["X-Accel-Redirect"] == PREFIX + TREE_PATH
        assert "Authorization" in allowed.vary
        assert allowed.cache_control.private


@unset
def test_without_the_setting_the_server_sends_the_bytes(client, file_id):
    for url in (f"/api/v1/files/{file_id}/content", f"/caldb/{TREE_PATH}"):
        with client.get(url) as response:  # the file the server streams is closed after
            assert response.get_data() == CONTENT
            assert "X-Accel-Redirect" not in response.headers


@pytest.mark.parametrize("value", ["/_caldb_files", "_caldb_files/", "/a/../b/", "/a?b/", "//"])
def test_a_prefix_that_is_not_a_location_path_is_refused(value):
    with pytest.raises(ConfigError, match="CALDB_ACCEL_REDIRECT"):
        load_settings({"ACCEL_REDIRECT": value, "SECRET_KEY": SECRET}, environ={})


def test_the_setting_is_off_by_default():
    assert load_settings({"SECRET_KEY": SECRET}, environ={}).accel_redirect is None
    settings = load_settings({"SECRET_KEY": SECRET}, environ={"CALDB_ACCEL_REDIRECT": PREFIX})
    assert settings.accel_redirect == PREFIX
