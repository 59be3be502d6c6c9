"""Recording: each request counted and timed per endpoint, uploads; search-cache lookups.

One ``before_request`` hook notes the time, one ``after_request`` hook records the answer.
The label children of each (endpoint, method, status) are bound on its first request and
reused: a request costs two dictionary lookups and a few increments.
"""

from __future__ import annotations

from dataclasses import dataclass
from time import perf_counter
from typing import TYPE_CHECKING

from flask import Flask, Response, g, request

from caldb_server.metrics.definitions import ServerMetrics, server_metrics
from caldb_server.metrics.views import blueprint

if TYPE_CHECKING:
    from prometheus_client import Counter, Histogram

__all__ = ["UNMATCHED", "UPLOAD_ENDPOINTS", "init_app", "record_search_cache"]

UNMATCHED = "unmatched"  # the endpoint label of a request no route took (404, 405)
OTHER_METHOD = "OTHER"  # any method not below: clients choose methods, labels must be bounded
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Where files are received: the API's and the web interface's upload forms.
UPLOAD_ENDPOINTS = frozenset(
    {
        "files.upload_file_view",
        "onboard.upload_onboard_view",
        "ui.upload_submit",
        "ui.upload_onboard",
    }
)
_STARTED = "metrics_started"  # in flask.g: perf_counter() when the request's hooks began


@dataclass(frozen=True)
class _Series:
    """What one (endpoint, method, status) records."""

    requests: Counter
    duration: Histogram
    upload_accepted: bool
    upload_refused: Counter | None


class _RequestRecorder:
    """The two request hooks, with the series they have bound so far."""

    def __init__(self, metrics: ServerMetrics) -> None:
        self.metrics = metrics
        self.series: dict[tuple[str, str, int], _Series] = {}

    def start(self) -> None:
        setattr(g, _STARTED, perf_counter())

    def finish(self, response: Response) -> Response:
        rule, method = request.url_rule, request.method
        key = (
            UNMATCHED if rule is None else rule.endpoint,
            method if method in KNOWN_METHODS else OTHER_METHOD,
            response.status_code,
        )
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = self._bind(*key)
        series.requests.inc()
        started = g.pop(_STARTED, None)
        if started is not None:  # None only if a hook before ours answered
            series.duration.observe(perf_counter() - started)
        if series.upload_refused is not None:
            series.upload_refused.inc()
        elif series.upload_accepted:
            # The body of a chunked upload has no Content-Length: it is not counted.
            self.metrics.upload_bytes.inc(request.content_length or 0)
        return response

    def _bind(self, endpoint: str, method: str, status: int) -> _Series:
        upload = endpoint in UPLOAD_ENDPOINTS and method == "POST"
        refused = upload and status >= 400
        return _Series(
            requests=self.metrics.requests.labels(endpoint, method, str(status)),
            duration=self.metrics.duration.labels(endpoint, method),
            upload_accepted=upload and not refused,  # 2xx (API) or 303 (web interface)
            upload_refused=self.metrics.uploads_refused.labels(str(status)) if refused else None,
        )


def init_app(app: Flask) -> None:
    """Record every request of ``app`` and serve ``/metrics``.

    Call it before the unit-of-work hooks are registered (:func:`caldb_server.web.init_app`):
    Flask runs ``after_request`` hooks in reverse, so ours sees the status that a failed
    commit gives, and its ``before_request`` hook runs before the access check.
    """
    recorder = _RequestRecorder(server_metrics())
    app.before_request(recorder.start)
    app.after_request(recorder.finish)
    app.register_blueprint(blueprint)


def record_search_cache(hit: bool) -> None:
    """Count one search answered from the search-answer cache (``hit``) or computed."""
    metrics = server_metrics()
    (metrics.search_cache_hits if hit else metrics.search_cache_misses).inc()
