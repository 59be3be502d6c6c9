"""The OpenAPI document and the server agree on the cases where they used to disagree.

schemathesis (test_schemathesis.py) explores at large; these pin down each disagreement it
or a reviewer found, so that a regression names itself.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource

from caldb_common.text import NONBLANK_TEXT_PATTERN, TEXT_PATTERN
from caldb_server.meta.views import openapi_document
from caldb_server.search import params
from tests.helpers import MXT_GAIN, assert_problem, bearer, calfile_bytes, upload
from tests.server.test_onboard import EVTTHR, send


def _operation(path: str, method: str) -> dict[str, Any]:
    return openapi_document()["paths"][path][method]


def _parameter(path: str, method: str, name: str) -> dict[str, Any]:
    parameters = [  # new list: the document is cached and served, it must not change
        *_operation(path, method).get("parameters", []),
        *openapi_document()["paths"][path].get("parameters", []),
    ]
    return next(p for p in parameters if p["name"] == name)["schema"]


def _body(path: str, method: str) -> dict[str, Any]:
    content = _operation(path, method)["requestBody"]["content"]
    return next(iter(content.values()))["schema"]["properties"]


def _validator(name: str) -> jsonschema.Draft202012Validator:
    registry = Registry().with_resource("urn:openapi", Resource.opaque(openapi_document()))
    schema = {"$ref": f"urn:openapi#/components/schemas/{name}"}
    return jsonschema.Draft202012Validator(schema, registry=registry)


def test_the_documented_patterns_are_the_servers():
    search = {name: _parameter("/search", "get", name)["pattern"] for name in params.PARAMETERS
              if "pattern" in _parameter("/search", "get", name)}  # fmt: skip
    assert search == {
        "mission": params.name_pattern(10),
        "instrument": params.name_pattern(10),
        "codename": params.name_pattern(20),
        "detector": params.name_pattern(20),
        "filter": params.name_pattern(10),
        "date": params.DATE_PATTERN,
        "time": params.TIME_PATTERN,
        "expr": params.EXPR_PATTERN,
        "as_of": params.AS_OF_PATTERN,
    }
    assert _parameter("/datasets", "get", "instrument")["pattern"] == params.name_pattern(10)
    assert _parameter("/datasets", "get", "codename")["items"]["pattern"] == params.name_pattern(20)
    assert _parameter("/auth/tokens", "get", "subject")["pattern"] == TEXT_PATTERN
    assert {p["pattern"] for p in _body("/auth/token", "post").values()} == {TEXT_PATTERN}
    assert _body("/datasets/{id}", "patch")["reason"]["pattern"] == NONBLANK_TEXT_PATTERN
    assert _body("/users", "post")["password"]["pattern"] == NONBLANK_TEXT_PATTERN


def test_onboard_datasets_follow_the_dataset_schema(client, uploader):
    response = send(client, "MXT_EVTTHR_20250301T120000_V01.yaml", EVTTHR, uploader)
    _validator("UploadResult").validate(response.get_json())
    (dataset,) = response.get_json()["datasets"]
    assert (dataset["cal_clas"], dataset["cal_dtyp"]) == ("UPLOAD", "ONBOARD")
    detail = client.get(f"/api/v1/datasets/{dataset['id']}").get_json()
    _validator("DatasetDetail").validate(detail)


@pytest.mark.parametrize(
    ("path", "field", "role"),
    [
        ("/api/v1/search?instrument=&codename=GAIN", "instrument", None),
        ("/api/v1/search?instrument=MXT&codename=GAIN&as_of=", "as_of", None),
        ("/api/v1/search?instrument=MXT&codename=GAIN&mission=", "mission", None),
        ("/api/v1/search?instrument=MXT&codename=GAIN&time=", "time", None),
        ("/api/v1/search?instrument=MXT&codename=GAIN&expr=", "expr", None),
        ("/api/v1/search?instrument=MXT&codename=GAIN&explain=1", "explain", None),
        ("/api/v1/datasets?instrument=", "instrument", None),
        ("/api/v1/auth/tokens?subject=", "subject", "admin"),
        ("/api/v1/auth/tokens?all=yes", "all", "admin"),
    ],
)
def test_values_the_document_excludes_are_422(client, make_token, path, field, role):
    """Empty values (minLength, patterns) and flags other than true/false."""
    headers = bearer(make_token(role)) if role else {}
    body = assert_problem(client.get(path, headers=headers), 422)
    assert [e["field"] for e in body["errors"]] == [field]


def test_names_and_flags_the_document_allows_are_accepted(client):
    query = (
        "instrument=mxt&codename=gain&date=NOW&time=Now&explain=TRUE&mission=svom"
        "&as_of=2025-06-01 12:00:00.250000%2B00:00"  # str() of a datetime: a blank for T
    )
    response = client.get(f"/api/v1/search?{query}")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["query"]["instrument"] == "MXT"


@pytest.mark.parametrize("quality", [0.0, 5.0, 1e0])
def test_a_quality_written_as_a_whole_float_is_an_integer(client, uploader, quality):
    """JSON Schema counts 5.0 as an integer; so does the server."""
    uploaded = upload(client, calfile_bytes(MXT_GAIN), "mxt_gain.fits", headers=uploader)
    dataset_id = uploaded.get_json()["datasets"][0]["id"]
    body = {"cal_qual": quality, "reason": "checked"}
    response = client.patch(f"/api/v1/datasets/{dataset_id}", json=body, headers=uploader)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["cal_qual"] == int(quality)


def test_a_long_jti_is_422_not_an_unlisted_404(client, make_token):
    admin = bearer(make_token("admin"))
    body = assert_problem(client.delete("/api/v1/auth/tokens/" + "j" * 201, headers=admin), 422)
    assert body["errors"][0]["field"] == "jti"
    assert client.delete("/api/v1/auth/tokens/" + "j" * 200, headers=admin).status_code == 204


@pytest.mark.parametrize("method", ["get", "patch"])
def test_an_id_beyond_the_database_integers_is_404_for_every_method(client, uploader, method):
    """A PATCH used to be answered 405, which the document does not list."""
    response = getattr(client, method)(
        "/api/v1/datasets/2147483648", json={"cal_qual": 0, "reason": "x"}, headers=uploader
    )
    assert_problem(response, 404)


def test_every_operation_documents_its_refusals_as_problems():
    """Every operation that takes input lists 422, and each problem status its schema."""
    for path, item in openapi_document()["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            responses = operation["responses"]
            assert "422" in responses, (method, path)
            for status, response in responses.items():
                if int(status) >= 400 and path != "/health":
                    ref = response.get("$ref", "")
                    content = response.get("content", {})
                    assert ref or "application/problem+json" in content, (method, path, status)
