"""``GET /metrics``: the server's metrics in Prometheus text format.

Public like ``/api/v1/health``: endpoint names, methods, statuses, counts, durations and
byte totals, nothing about datasets, files or users.
"""

from __future__ import annotations

import os

from flask import Blueprint, Response

from caldb_server.auth.access import public
from caldb_server.metrics.multiprocess import MULTIPROCESS_VARIABLE

__all__ = ["blueprint", "exposition"]

blueprint = Blueprint("metrics", __name__)


def exposition() -> tuple[bytes, str]:
    """The metrics as text, and its media type.

    With ``PROMETHEUS_MULTIPROC_DIR`` (gunicorn's workers), the sums of every worker's files;
    else this process's default registry (development server, tests).
    """
    # Imported here, as in definitions: not before `caldb-server serve` sets the directory.
    from prometheus_client import (  # noqa: PLC0415
        CONTENT_TYPE_PLAIN_0_0_4,
        REGISTRY,
        CollectorRegistry,
        generate_latest,
    )
    from prometheus_client.multiprocess import MultiProcessCollector  # noqa: PLC0415

    registry = REGISTRY
    if os.environ.get(MULTIPROCESS_VARIABLE):
        registry = CollectorRegistry()  # per scrape, as prometheus_client advises
        MultiProcessCollector(registry)
    return generate_latest(registry), CONTENT_TYPE_PLAIN_0_0_4


@blueprint.get("/metrics")
@public
def metrics_view() -> Response:
    """The metrics of the server (Prometheus text format 0.0.4)."""
    body, media_type = exposition()
    return Response(body, content_type=media_type, headers={"Cache-Control": "no-store"})
