"""Prometheus metrics of the server, served at ``GET /metrics`` (text format).

- :mod:`.definitions`: the metrics, made once per process;
- :mod:`.recording`: every request counted and timed per endpoint, uploads accepted (bytes)
  and refused (by status), from one pair of request hooks; :func:`record_search_cache` for
  the search cache;
- :mod:`.views`: ``GET /metrics``, summed over gunicorn's workers when they count in files;
- :mod:`.multiprocess`: the directory of those files, for ``caldb-server serve``.

Importing this package does not import prometheus_client: it chooses between counting in
memory and counting in files (``PROMETHEUS_MULTIPROC_DIR``) when it is first imported, so
``caldb-server serve`` must set the variable before any metric exists
(:func:`.multiprocess.multiprocess_directory`).
"""

from caldb_server.metrics.recording import init_app, record_search_cache

__all__ = ["init_app", "record_search_cache"]
