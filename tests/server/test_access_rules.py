"""Every endpoint declares who may call it; reads are public unless CALDB_PUBLIC_READ=false."""

from datetime import timedelta

import jwt
import pytest
from flask import Flask

from caldb_server.auth.access import check_access_rules, public
from caldb_server.db import utcnow
from tests.conftest import SECRET
from tests.helpers import MXT_GAIN, assert_problem, bearer, calfile_bytes, upload

# Each endpoint of create_app() and its rule: a new endpoint must be classified here.
EXPECTED_RULES = {
    "api_docs.asset_view": "public",
    "api_docs.docs_view": "public",
    "auth.revoke_view": "admin",
    "auth.token_view": "public",
    "auth.tokens_view": "admin",
    "auth.whoami_view": "authenticated",
    "changes.changes_view": "read",
    "datasets.get_dataset_view": "read",
    "datasets.list_datasets_view": "read",
    "feeds.changes_feed_view": "read",
    "onboard.upload_onboard_view": "uploader",
    "datasets.patch_dataset_view": "uploader",
    "files.file_content_view": "read",
    "files.upload_file_view": "uploader",
    "heasarc.caldb_tree_view": "read",
    "heasarc.caldb_root_view": "read",
    "instruments.instruments_view": "read",
    "meta.health_view": "public",
    "meta.openapi_view": "public",
    "metrics.metrics_view": "public",
    "search.search_view": "read",
    "usage.impact_view": "authenticated",
    "usage.list_usage_view": "authenticated",
    "usage.post_usage_view": "authenticated",
    "users.create_user_view": "admin",
    "users.update_user_view": "admin",
    "users.user_view": "admin",
    "users.users_view": "admin",
    "webhooks.create_subscription_view": "authenticated",
    "webhooks.delete_subscription_view": "authenticated",
    "webhooks.deliveries_view": "authenticated",
    "webhooks.subscription_view": "authenticated",
    "webhooks.subscriptions_view": "authenticated",
    "webhooks.update_subscription_view": "authenticated",
    "ui.dataset": "read",
    "ui.dataset_download": "read",
    "ui.dataset_thumbnail": "read",
    "ui.home": "read",
    "ui.instrument": "read",
    "ui.codename": "read",
    "ui.search": "read",
    "ui.sign_in": "public",
    "ui.sign_in_submit": "public",
    "ui.sign_out": "public",
    "ui.sign_out_page": "public",
    "ui.static": "public",
    "ui.upload": "uploader",
    "ui.upload_submit": "uploader",
    "ui.upload_onboard": "uploader",
    "ui.set_dataset_quality": "uploader",
    "ui.account": "authenticated",
    "ui.create_token": "authenticated",
    "ui.revoke_token": "authenticated",
    "ui.admin_users": "admin",
    "ui.admin_create_user": "admin",
    "ui.admin_update_user": "admin",
}
ALWAYS_PUBLIC = ["/api/v1/health", "/api/v1/openapi.json", "/api/v1/docs"]
CONTENT = calfile_bytes(MXT_GAIN)


@pytest.fixture
def app_config(app_config, request):
    """``@pytest.mark.parametrize("app_config", ["false"], indirect=True)`` sets PUBLIC_READ."""
    if hasattr(request, "param"):
        app_config["PUBLIC_READ"] = request.param
    return app_config


private = pytest.mark.parametrize("app_config", ["false"], indirect=True)


@pytest.fixture
def reads(client, uploader):
    """Every kind of read, on a real uploaded file: {path: expected bytes or None}."""
    response = upload(client, CONTENT, "mxt_gain_v1.fits", headers=uploader)
    assert response.status_code == 201, response.get_json()
    (dataset,) = response.get_json()["datasets"]
    return {
        "/api/v1/search?instrument=MXT&codename=GAIN&date=-": None,
        f"/api/v1/datasets/{dataset['id']}": None,
        "/api/v1/datasets?instrument=MXT": None,
        "/api/v1/changes?since=0": None,
        "/feeds/changes.atom": None,
        f"/api/v1/files/{dataset['file_id']}/content": CONTENT,
        "/api/v1/instruments": None,
        "/caldb/data/svom/mxt/caldb.indx": None,
        "/caldb//data/svom/mxt/caldb.indx": None,
        "/caldb/software/tools/caldb.config": None,
        "/caldb/software/tools/alias_config.fits": None,
        f"/caldb/{dataset['cal_dir']}/{dataset['cal_file']}": CONTENT,
    }


def foreign_token(roles):
    """A validly signed token whose roles are another service's, not the CalDB's."""
    now = utcnow()
    claims = {
        "iss": "svom-caldb",
        "sub": "pipeline",
        "roles": roles,
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(hours=1),
        "jti": "foreign-1",
    }
    return jwt.encode(claims, SECRET, algorithm="HS256")


def assert_read(client, path, expected, headers=None):
    with client.get(path, headers=headers) as response:
        assert response.status_code == 200, (path, response.get_data(as_text=True))
        if expected is not None:
            assert response.get_data() == expected, path


def test_every_endpoint_has_its_pinned_rule(app):
    routed = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert routed == set(app.view_functions) == set(EXPECTED_RULES)
    rules = {name: getattr(view, "access_rule", None) for name, view in app.view_functions.items()}
    assert rules == EXPECTED_RULES


def test_an_unmarked_endpoint_stops_the_app():
    application = Flask("unmarked", static_folder=None)
    application.add_url_rule("/ok", "ok", public(lambda: "ok"))
    application.add_url_rule("/forgotten", "forgotten", lambda: "secret")
    with pytest.raises(RuntimeError, match=r"without an access rule: forgotten$"):
        check_access_rules(application)


def test_an_endpoint_added_to_the_real_app_without_a_rule_is_named(app):
    app.add_url_rule("/api/v1/new", "extra.new_view", lambda: "x")
    with pytest.raises(RuntimeError, match=r"extra\.new_view"):
        check_access_rules(app)


def test_reads_are_public_by_default(client, reads):
    for path, expected in reads.items():
        assert_read(client, path, expected)


@private
def test_private_reads_need_the_reader_role(client, reads, make_token):
    reader, uploader = bearer(make_token("reader")), bearer(make_token("uploader"))
    for path, expected in reads.items():
        with client.get(path) as response:
            assert_problem(response, 401)
            assert response.headers["WWW-Authenticate"].startswith("Bearer"), path
        assert_read(client, path, expected, headers=reader)
        assert_read(client, path, expected, headers=uploader)  # uploader includes reader
    for path in ALWAYS_PUBLIC:
        assert_read(client, path, None)


@private
def test_private_trees_do_not_tell_what_exists(client, make_token):
    missing = "/caldb/data/svom/mxt/bcf/gain/nothing_here.fits"
    with client.get(missing) as response:
        assert_problem(response, 401)
    with client.get(missing, headers=bearer(make_token("reader"))) as response:
        assert_problem(response, 404)


@private
@pytest.mark.parametrize("roles", [["other-service"], []])
def test_tokens_without_a_caldb_role_cannot_read_private_data(client, reads, roles):
    headers = bearer(foreign_token(roles))
    for path in reads:
        with client.get(path, headers=headers) as response:
            assert "reader" in assert_problem(response, 403)["detail"], path
    for path in ALWAYS_PUBLIC:
        assert_read(client, path, None, headers=headers)


@pytest.mark.parametrize("parameter", ["access_token", "token", "jwt"])
def test_tokens_in_the_url_are_refused_even_on_public_reads(client, make_token, parameter):
    token = make_token("reader")
    for path in ["/api/v1/search?instrument=MXT", "/caldb/software/tools/caldb.config"]:
        separator = "&" if "?" in path else "?"
        with client.get(f"{path}{separator}{parameter}={token}") as response:
            assert "URL" in assert_problem(response, 401)["detail"], path
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
        with client.get(f"{path}{separator}{parameter}={token}", headers=bearer(token)) as response:
            assert_problem(response, 401)
    with client.get(f"/api/v1/health?{parameter}={token}") as response:
        assert_problem(response, 401)
