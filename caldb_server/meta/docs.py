"""``GET /api/v1/docs``: the API documentation, Swagger UI over ``/api/v1/openapi.json``.

Swagger UI's files come from the ``flask-swagger-ui`` wheel (its ``dist/`` directory, the
``swagger-ui-dist`` build), installed with the ``server`` extra: no CDN, no npm, nothing
copied by hand. Only its dist files are used, not its blueprint, whose page starts Swagger UI
with an inline script; here the start is our own ``static/docs-init.js``, so that the page's
Content-Security-Policy allows scripts and styles from this server only, nothing inline.

Assets are served from a fixed table (:func:`assets`) read once into memory: the name in the
URL is only ever a key of that table, never part of a path, so no request can reach another
file. Each name carries a digest of the file's bytes (``swagger-ui-bundle.<digest>.js``),
which makes the answers immutable and cacheable for a year: a new version of Swagger UI or of
our script is a new URL. The page itself is revalidated on every visit.

The documentation is public even with ``CALDB_PUBLIC_READ=false``, like the OpenAPI document
it shows: it describes the API, not the calibration data.
"""

from __future__ import annotations

import hashlib
import importlib.resources
from dataclasses import dataclass
from functools import cache
from pathlib import PurePosixPath
from typing import cast

from flask import Blueprint, Flask, Response, render_template, request, url_for
from flask.blueprints import BlueprintSetupState

from caldb_server.auth.access import public
from caldb_server.errors import NotFound
from caldb_server.headers import set_content_security_policy

__all__ = ["DOCS_POLICY", "Asset", "assets", "blueprint"]

# Scripts and styles from this server only, none inline; images also as data: URIs (Swagger
# UI's stylesheet draws its icons so); fetches to this server only (the document and "Try it
# out"). Swagger UI's React code sets styles through the DOM (element.style), which CSP allows:
# tests/server/test_api_docs.py renders the page in Chromium and fails on any violation.
DOCS_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
ASSET_MAX_AGE_S = 365 * 24 * 3600  # fingerprinted names: a changed file is a new URL
VIEWER_PACKAGE = "flask_swagger_ui"  # its dist/ is swagger-ui-dist, version for version
# The files the page loads: (package, directory in it, file name).
ASSET_SOURCES = (
    (VIEWER_PACKAGE, "dist", "swagger-ui.css"),
    (VIEWER_PACKAGE, "dist", "swagger-ui-bundle.js"),
    (VIEWER_PACKAGE, "dist", "favicon-32x32.png"),
    ("caldb_server.meta", "static", "docs-init.js"),
    ("caldb_server.meta", "static", "docs.css"),
)
CONTENT_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".png": "image/png",
}
DIGEST_LENGTH = 12  # hex digits of the SHA-256 of the bytes kept in the served name

blueprint = Blueprint("api_docs", __name__, template_folder="templates")


@dataclass(frozen=True)
class Asset:
    """One file the documentation page loads, held in memory."""

    source: str  # its name in its package
    served_name: str  # its name in the URL, with the digest of its bytes
    content: bytes
    content_type: str


def _load(package: str, directory: str, name: str) -> Asset:
    content = importlib.resources.files(package).joinpath(directory, name).read_bytes()
    digest = hashlib.sha256(content).hexdigest()[:DIGEST_LENGTH]
    path = PurePosixPath(name)
    return Asset(name, f"{path.stem}.{digest}{path.suffix}", content, CONTENT_TYPES[path.suffix])


@cache
def assets() -> dict[str, Asset]:
    """Every asset of the page by its served name (read on first use, kept for the process)."""
    loaded = (_load(*source) for source in ASSET_SOURCES)
    return {asset.served_name: asset for asset in loaded}


def asset_url(source: str) -> str:
    """The URL of the asset whose name in its package is ``source``."""
    served = next(a.served_name for a in assets().values() if a.source == source)
    return url_for("api_docs.asset_view", name=served)


@blueprint.record_once
def _register_policy(state: BlueprintSetupState) -> None:
    set_content_security_policy(cast(Flask, state.app), blueprint.name, DOCS_POLICY)


@blueprint.get("/docs")
@public
def docs_view() -> Response:
    """The documentation page: Swagger UI showing the OpenAPI document."""
    page = render_template(
        "api_docs/docs.html",
        asset_url=asset_url,
        openapi_url=url_for("meta.openapi_view"),
    )
    response = Response(page, mimetype="text/html")
    response.cache_control.no_cache = True  # short-lived: it names the current asset URLs
    response.add_etag()
    response.make_conditional(request)  # a 304 when If-None-Match names this page
    return response


@blueprint.get("/docs/assets/<name>")
@public
def asset_view(name: str) -> Response:
    """One asset of the page, by its fingerprinted name; 404 for any other name."""
    asset = assets().get(name)
    if asset is None:
        raise NotFound("the API documentation has no such asset")
    response = Response(asset.content, content_type=asset.content_type)
    response.cache_control.public = True
    response.cache_control.max_age = ASSET_MAX_AGE_S
    response.cache_control.immutable = True
    response.set_etag(asset.served_name)
    response.make_conditional(request)
    return response
