"""The application factory.

``create_app()`` reads the settings, opens the database, loads the registry, removes what
dead processes left in the tree's ``.incoming``, registers the blueprints (all JSON
endpoints under ``/api/v1``, the HEASARC tree under ``/caldb``, the web interface at
``/``, Prometheus metrics at ``/metrics``), the response headers, the error handlers and
the access rules. It creates nothing: the database, the tree and the instance secret are
made by ``caldb-server init`` (a server started on a never-initialised instance leaves it as
it was). Importing this module has no side effect.
Production: ``caldb-server serve`` runs it in gunicorn workers (:mod:`caldb_server.production`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from caldb_common.api import API_PREFIX
from caldb_server import headers, metrics, ui, web
from caldb_server.auth.access import check_access_rules
from caldb_server.auth.verification import build_verifier
from caldb_server.auth.views import blueprint as auth_blueprint
from caldb_server.changes.views import blueprint as changes_blueprint
from caldb_server.changes.views import feeds_blueprint
from caldb_server.config import load_settings
from caldb_server.datasets.views import blueprint as datasets_blueprint
from caldb_server.db import Database
from caldb_server.errors import register_error_handlers
from caldb_server.files.views import blueprint as files_blueprint
from caldb_server.heasarc import listing_page
from caldb_server.heasarc.views import blueprint as heasarc_blueprint
from caldb_server.instruments.views import blueprint as instruments_blueprint
from caldb_server.meta.docs import blueprint as api_docs_blueprint
from caldb_server.meta.views import blueprint as meta_blueprint
from caldb_server.onboard.views import blueprint as onboard_blueprint
from caldb_server.registry import load_registry
from caldb_server.request_class import CaldbRequest
from caldb_server.search.cache import SearchCache
from caldb_server.search.views import blueprint as search_blueprint
from caldb_server.storage import Storage
from caldb_server.usage.views import blueprint as usage_blueprint
from caldb_server.users.views import blueprint as users_blueprint
from caldb_server.webhooks.views import blueprint as webhooks_blueprint

__all__ = ["create_app"]

API_BLUEPRINTS = (
    search_blueprint,
    datasets_blueprint,
    changes_blueprint,
    files_blueprint,
    onboard_blueprint,
    instruments_blueprint,
    meta_blueprint,
    api_docs_blueprint,  # /api/v1/docs: an HTML page, with its own CSP
    auth_blueprint,
    users_blueprint,
    usage_blueprint,
    webhooks_blueprint,
)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the CalDB server.

    Parameters
    ----------
    config : mapping, optional
        Settings without the ``CALDB_`` prefix (``DATABASE_URL``, ``ROOT``, ``REGISTRY``,
        ``SECRET_KEY``...) overriding the environment, and ``TESTING``.
    """
    config = dict(config or {})
    settings = load_settings(config)
    app = Flask("caldb_server", instance_path=str(settings.instance_path), static_folder=None)
    app.request_class = CaldbRequest  # closes the spool files of malformed uploads
    app.config.update(
        TESTING=bool(config.get("TESTING", False)),
        MAX_CONTENT_LENGTH=settings.max_upload_bytes,
        JSON_SORT_KEYS=False,
    )
    app.json = DefaultJSONProvider(app)
    app.json.sort_keys = False  # keep the CIF column order in dataset documents
    # Werkzeug would answer '//' in a path with a redirect, which CFITSIO does not follow.
    app.url_map.merge_slashes = False
    storage = Storage(settings.root)
    storage.remove_stale_parts()  # a killed upload's bytes do not wait for fsck --repair
    headers.init_app(app)  # first: its hook runs last, after the commit hook (see headers)
    metrics.init_app(app)  # then: it times the access check, and sees a failed commit's answer
    web.init_app(
        app,
        web.Caldb(
            settings,
            Database(settings.database_url),
            load_registry(settings.registry_path),
            storage,
            build_verifier(settings),
            SearchCache(),
        ),
    )
    for blueprint in API_BLUEPRINTS:
        app.register_blueprint(blueprint, url_prefix=API_PREFIX)
    app.register_blueprint(heasarc_blueprint)
    app.register_blueprint(feeds_blueprint)  # /feeds/changes.atom, for feed readers
    ui.init_app(app, settings.secret_key)  # the web interface, at /
    listing_page.init_app(app, heasarc_blueprint.name)  # the tree's pages use the interface's
    register_error_handlers(app)
    check_access_rules(app)  # every endpoint has a rule, enforced before each request
    # After the access check: an anonymous client must not make the server parse a body.
    app.before_request(web.refuse_control_characters)
    return app
