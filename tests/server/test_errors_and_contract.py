"""Errors are problem+json everywhere; responses follow the OpenAPI document."""

import logging
import re

import jsonschema
import pytest
from referencing import Registry, Resource

from caldb_server import create_app
from caldb_server.meta.views import openapi_document
from caldb_server.web import extension
from tests.helpers import MXT_GAIN, assert_problem, calfile_bytes, upload


def validator(name):
    document = openapi_document()
    registry = Registry().with_resource("urn:openapi", Resource.opaque(document))
    schema = {"$ref": f"urn:openapi#/components/schemas/{name}"}
    return jsonschema.Draft202012Validator(schema, registry=registry)


def _placeholder(match: re.Match) -> str:
    name = match.group(1)
    return "{id}" if name.endswith("_id") else "{" + name + "}"


def test_every_route_is_documented(app):
    documented = set(openapi_document()["paths"])
    routes = {
        re.sub(r"<(?:[^>]+:)?([a-z_]+)>", _placeholder, rule.rule.removeprefix("/api/v1"))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1")
    }
    assert routes == documented


def test_openapi_is_served_as_json(client):
    body = client.get("/api/v1/openapi.json").get_json()
    assert body["openapi"].startswith("3.1")
    assert body == openapi_document()


def test_responses_match_their_schemas(client, uploader):
    uploaded = upload(client, calfile_bytes(MXT_GAIN), "gain_v1.fits", headers=uploader)
    validator("UploadResult").validate(uploaded.get_json())
    dataset_id = uploaded.get_json()["datasets"][0]["id"]
    validator("DatasetDetail").validate(client.get(f"/api/v1/datasets/{dataset_id}").get_json())
    search = client.get("/api/v1/search?instrument=MXT&codename=GAIN&date=2025-01-01&explain=true")
    validator("SearchResult").validate(search.get_json())
    validator("Instruments").validate(client.get("/api/v1/instruments").get_json())
    validator("Health").validate(client.get("/api/v1/health").get_json())
    validator("Problem").validate(client.get("/api/v1/search").get_json())


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/api/v1/nothing", 404),
        ("get", "/api/v1/datasets/abc", 404),
        ("delete", "/api/v1/search", 405),
        ("put", "/api/v1/files", 405),
        ("get", "/api/v1/files/77/content", 404),
    ],
)
def test_http_errors_are_problems(client, method, path, status):
    assert_problem(getattr(client, method)(path), status)


def test_method_not_allowed_keeps_allow_header(client):
    response = client.delete("/api/v1/search")
    assert "GET" in response.headers["Allow"]


def test_unexpected_errors_give_a_generic_500_with_an_id_and_no_traceback(
    app_config, monkeypatch, caplog
):
    app = create_app(app_config | {"TESTING": False})
    try:

        def explode(*_args, **_kwargs):
            raise RuntimeError("secret internal detail: password=hunter2")

        monkeypatch.setattr("caldb_server.instruments.views.describe_instruments", explode)
        with caplog.at_level(logging.ERROR):
            response = app.test_client().get("/api/v1/instruments")
        body = assert_problem(response, 500)
        assert "hunter2" not in response.get_data(as_text=True)
        assert "RuntimeError" not in response.get_data(as_text=True)
        assert len(body["error_id"]) == 32
        assert body["error_id"] in caplog.text  # operators find the traceback by its id
    finally:
        extension(app).database.dispose()


def test_an_unreachable_database_is_503_with_retry_after(app_config, tmp_path):
    app = create_app(app_config | {"DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"})
    try:
        client = app.test_client()
        response = client.get("/api/v1/health")
        assert response.status_code == 503
        assert response.get_json()["database"] == "unreachable"
        search = client.get("/api/v1/search?instrument=MXT&codename=GAIN")
        body = assert_problem(search, 503)
        assert search.headers["Retry-After"] == "5"
        assert "nobody" not in body["detail"]
    finally:
        extension(app).database.dispose()


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/datasets/2147483648",
        "/api/v1/datasets/99999999999999999999",
        "/api/v1/files/2147483648/content",
    ],
)
def test_ids_beyond_the_database_integers_are_404(client, path):
    assert_problem(client.get(path), 404)


@pytest.mark.parametrize("as_of", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_as_of_outside_the_representable_years_is_422(client, as_of):
    body = assert_problem(
        client.get(
            "/api/v1/search", query_string={"instrument": "MXT", "codename": "GAIN", "as_of": as_of}
        ),
        422,
    )
    assert body["errors"][0]["field"] == "as_of"


def test_quality_change_bodies_are_small_and_flat(client, uploader):
    dataset = upload(client, calfile_bytes(MXT_GAIN), "g.fits", headers=uploader).get_json()[
        "datasets"
    ][0]
    path = f"/api/v1/datasets/{dataset['id']}"
    nested = client.patch(
        path, data="[" * 60_000, content_type="application/json", headers=uploader
    )
    assert_problem(nested, 422)
    huge = client.patch(
        path, data=b"{" + b" " * 70_000 + b"}", content_type="application/json", headers=uploader
    )
    assert_problem(huge, 413)


def test_public_url_setting_makes_answer_urls(app_config, uploader):
    app = create_app(app_config | {"PUBLIC_URL": "https://caldb.example.org/"})
    try:
        client = app.test_client()
        body = upload(client, calfile_bytes(MXT_GAIN), "g.fits", headers=uploader).get_json()
        assert body["datasets"][0]["url"].startswith("https://caldb.example.org/api/v1/files/")
    finally:
        extension(app).database.dispose()
