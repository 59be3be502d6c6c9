"""The server's metrics, made once per process in prometheus_client's default registry.

Labels are bounded: the Flask endpoint (never the raw path), the method (known ones, else
``OTHER``) and the status code, which the app chooses.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client import Counter, Histogram

__all__ = ["DURATION_BUCKETS_S", "ServerMetrics", "server_metrics"]

# From a health check (a millisecond) to a large upload (tens of seconds).
DURATION_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass(frozen=True)
class ServerMetrics:
    """The metrics of one process (children of label values bound once where fixed)."""

    requests: Counter  # labels: endpoint, method, status
    duration: Histogram  # labels: endpoint, method
    upload_bytes: Counter
    uploads_refused: Counter  # label: status
    search_cache_hits: Counter
    search_cache_misses: Counter


@cache
def server_metrics() -> ServerMetrics:
    """The metrics of this process, made on first use (by ``create_app()``)."""
    # Imported here: prometheus_client fixes single- or multi-process counting when first
    # imported, and `caldb-server serve` imports the app before it sets the directory.
    from prometheus_client import Counter, Histogram  # noqa: PLC0415

    search_cache = Counter(
        "caldb_search_cache_lookups",
        "Searches answered from the search-answer cache (hit) or computed (miss)",
        ["result"],
    )
    return ServerMetrics(
        requests=Counter(
            "caldb_http_requests",
            "HTTP requests answered, per Flask endpoint ('unmatched': no route), method, status",
            ["endpoint", "method", "status"],
        ),
        duration=Histogram(
            "caldb_http_request_duration_seconds",
            "Time from the first request hook to the last, per endpoint and method",
            ["endpoint", "method"],
            buckets=DURATION_BUCKETS_S,
        ),
        upload_bytes=Counter(
            "caldb_upload_bytes",
            "Request bytes (Content-Length: the file and its multipart envelope) of accepted "
            "uploads, API and web interface",
        ),
        uploads_refused=Counter(
            "caldb_uploads_refused",
            "Uploads refused, API and web interface, per status code of the answer",
            ["status"],
        ),
        search_cache_hits=search_cache.labels(result="hit"),
        search_cache_misses=search_cache.labels(result="miss"),
    )
