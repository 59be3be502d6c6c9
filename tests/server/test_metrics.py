"""``GET /metrics``: requests per endpoint, uploads, the search cache, in Prometheus text.

The in-process tests share prometheus_client's default registry with every app of the
process, so each compares the counts before and after what it does.
"""

from __future__ import annotations

import io
import json
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.parser import text_string_to_metric_families

from caldb_server.metrics import record_search_cache
from caldb_server.metrics.definitions import DURATION_BUCKETS_S
from caldb_server.metrics.recording import UPLOAD_ENDPOINTS
from tests.helpers import MXT_GAIN, calfile_bytes, upload
from tests.server.test_serve import STARTUP_S, Server, instance, serving  # noqa: F401 - a fixture
from tests.server.test_ui_upload import uploader_client  # noqa: F401 - a fixture
from tests.server.ui_client import csrf_token

SEARCH = "/api/v1/search?instrument=MXT&codename=GAIN&date=2025-01-01"
SEARCH_ENDPOINT = {"endpoint": "search.search_view", "method": "GET"}
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of a Prometheus text exposition, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(client) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200, response.get_data(as_text=True)
    return parse(response.get_data(as_text=True))


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def increase(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def total(samples: Samples, name: str) -> float:
    """The sum of ``name`` over all its label values."""
    return sum(count for (sample, _labels), count in samples.items() if sample == name)


@pytest.fixture
def app_config(app_config, request):
    """``indirect=True`` parametrisation: settings to change before the app is made."""
    return app_config | getattr(request, "param", {})


def test_a_search_is_counted_and_timed_under_its_endpoint(client):
    before = scrape(client)
    assert client.get(SEARCH).status_code == 200
    after = scrape(client)
    requests, duration = "caldb_http_requests_total", "caldb_http_request_duration_seconds"
    assert increase(before, after, requests, **SEARCH_ENDPOINT, status="200") == 1
    assert increase(before, after, f"{duration}_count", **SEARCH_ENDPOINT) == 1
    bounds = [*map(str, DURATION_BUCKETS_S), "+Inf"]
    buckets = [
        increase(before, after, f"{duration}_bucket", **SEARCH_ENDPOINT, le=le) for le in bounds
    ]
    assert buckets == sorted(buckets)  # cumulative: 0 below the search's duration, 1 from it
    assert buckets[-1] == 1
    assert set(buckets) <= {0, 1}
    # the first scrape is counted by the second
    scrapes = {"endpoint": "metrics.metrics_view", "method": "GET", "status": "200"}
    assert increase(before, after, requests, **scrapes) == 1


def test_labels_name_endpoints_never_paths(client):
    before = scrape(client)
    assert client.get("/api/v1/datasets/98765").status_code == 404
    assert client.get("/no/such/path-4242").status_code == 404
    assert client.open("/api/v1/search", method="BREW").status_code == 405
    response = client.get("/metrics")
    text = response.get_data(as_text=True)
    after = parse(text)
    requests = "caldb_http_requests_total"
    dataset = {"endpoint": "datasets.get_dataset_view", "method": "GET", "status": "404"}
    assert increase(before, after, requests, **dataset) == 1
    assert increase(before, after, requests, endpoint="unmatched", method="GET", status="404") == 1
    assert (
        increase(before, after, requests, endpoint="unmatched", method="OTHER", status="405") == 1
    )
    # The paths asked for: never a label (bare digits could be part of a timestamp).
    assert "datasets/98765" not in text
    assert "path-4242" not in text
    assert "BREW" not in text


def test_an_upload_counts_its_bytes(client, uploader):
    content = calfile_bytes(MXT_GAIN)
    before = scrape(client)
    assert upload(client, content, "mxt_gain.fits", headers=uploader).status_code == 201
    after = scrape(client)
    received = increase(before, after, "caldb_upload_bytes_total")
    assert len(content) < received < len(content) + 1024  # the file and its multipart envelope
    upload_request = {"endpoint": "files.upload_file_view", "method": "POST", "status": "201"}
    assert increase(before, after, "caldb_http_requests_total", **upload_request) == 1
    refused = "caldb_uploads_refused_total"
    assert total(after, refused) == total(before, refused)


def test_refused_uploads_are_counted_by_status_and_add_no_bytes(client, uploader):
    before = scrape(client)
    refused = calfile_bytes(MXT_GAIN | {"CCNM0001": None})
    assert upload(client, refused, "mxt_gain.fits", headers=uploader).status_code == 422
    assert upload(client, refused, "mxt_gain.fits", headers=uploader).status_code == 422
    assert upload(client, calfile_bytes(MXT_GAIN), "mxt_gain.fits").status_code == 401
    after = scrape(client)
    assert increase(before, after, "caldb_uploads_refused_total", status="422") == 2
    assert increase(before, after, "caldb_uploads_refused_total", status="401") == 1
    assert increase(before, after, "caldb_upload_bytes_total") == 0


def test_the_web_interfaces_uploads_are_counted_too(uploader_client):  # noqa: F811
    client = uploader_client
    content = calfile_bytes(MXT_GAIN)

    def post(file_content: bytes):
        data = {"file": (io.BytesIO(file_content), "mxt_gain.fits")}
        return client.post("/upload", data=data | {"csrf_token": csrf_token(client, "/upload")})

    before = scrape(client)
    assert post(calfile_bytes(MXT_GAIN | {"CCNM0001": None})).status_code == 422
    assert post(content).status_code == 303
    after = scrape(client)
    assert increase(before, after, "caldb_uploads_refused_total", status="422") == 1
    assert len(content) < increase(before, after, "caldb_upload_bytes_total") < len(content) + 1024


def test_every_upload_endpoint_is_one_of_the_app(app):
    """A renamed upload view would silently stop being counted."""
    assert set(app.view_functions) >= UPLOAD_ENDPOINTS


@pytest.mark.parametrize("hit", [True, False])
def test_record_search_cache_counts_hits_and_misses(client, hit):
    before = scrape(client)
    record_search_cache(hit=hit)
    record_search_cache(hit=hit)
    after = scrape(client)
    counted, other = ("hit", "miss") if hit else ("miss", "hit")
    assert increase(before, after, "caldb_search_cache_lookups_total", result=counted) == 2
    assert increase(before, after, "caldb_search_cache_lookups_total", result=other) == 0


@pytest.mark.parametrize("app_config", [{"PUBLIC_READ": "false"}], indirect=True)
def test_metrics_are_public_prometheus_text_that_parses(client):
    """Like /api/v1/health: no token needed, even when reads need one."""
    assert client.get(SEARCH).status_code == 401
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert response.headers["Cache-Control"] == "no-store"
    families = {f.name: f for f in text_string_to_metric_families(response.get_data(as_text=True))}
    assert families["caldb_http_requests"].type == "counter"
    assert families["caldb_http_request_duration_seconds"].type == "histogram"
    assert families["caldb_upload_bytes"].type == "counter"
    assert families["caldb_uploads_refused"].type == "counter"
    assert families["caldb_search_cache_lookups"].type == "counter"
    refused = {"endpoint": "search.search_view", "method": "GET", "status": "401"}
    assert (
        value(parse(response.get_data(as_text=True)), "caldb_http_requests_total", **refused) >= 1
    )


# gunicorn: `caldb-server serve --workers 2`, whose workers count in files that /metrics sums.


def _search_pids(server: Server) -> list[int]:
    """The worker that answered each search so far (JSON access log; complete lines only)."""
    lines = server.stdout.read_text().split("\n")[:-1]
    records = [json.loads(line) for line in lines]
    return [r["pid"] for r in records if r.get("path") == "/api/v1/search"]


def _served_search(url: str) -> int:
    params = {"instrument": "MXT", "codename": "GAIN", "date": "-"}
    return requests.get(f"{url}/api/v1/search", params=params, timeout=10).status_code


def _searches_counted(url: str) -> float:
    response = requests.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    return value(parse(response.text), "caldb_http_requests_total", **SEARCH_ENDPOINT, status="200")


@pytest.mark.slow
def test_metrics_sum_the_counts_of_every_gunicorn_worker(instance, tmp_path):  # noqa: F811
    temporary = tmp_path / "tmp"  # where serve makes its metrics directory (TMPDIR)
    temporary.mkdir()
    options = ("--workers", "2", "--graceful-timeout", "5", "--log-format", "json")
    with serving(instance, tmp_path, *options, TMPDIR=str(temporary)) as server:
        assert len(list(temporary.glob("caldb-metrics-*"))) == 1
        sent = 0
        deadline = time.monotonic() + STARTUP_S
        with ThreadPoolExecutor(4) as pool:  # concurrent: both workers take some
            while len(set(_search_pids(server))) < 2:
                assert time.monotonic() < deadline, "one worker answered every search"
                assert list(pool.map(_served_search, [server.url] * 8)) == [200] * 8
                sent += 8
        assert len(_search_pids(server)) == sent  # each search logged once, by its worker
        assert _searches_counted(server.url) == sent  # whichever worker answers /metrics
        # SIGHUP: new workers; the old ones' counts stay in the sums
        before = server.workers()
        server.process.send_signal(signal.SIGHUP)
        while (after := server.workers()) & before or len(after) != 2:
            assert time.monotonic() < deadline + STARTUP_S, f"workers {before} still there"
            time.sleep(0.05)
        assert _searches_counted(server.url) == sent
        assert server.stop() == 0
    assert list(temporary.glob("caldb-metrics-*")) == []  # removed with the server


@pytest.mark.slow
def test_an_operators_directory_is_emptied_of_old_counts_and_kept(instance, tmp_path):  # noqa: F811
    directory = tmp_path / "metrics"
    directory.mkdir()
    stale = MmapedDict(str(directory / "counter_1.db"))  # a previous run's searches
    labels = [*SEARCH_ENDPOINT.values(), "200"]
    key = mmap_key(
        "caldb_http_requests",
        "caldb_http_requests_total",
        ["endpoint", "method", "status"],
        labels,
        "old",
    )
    stale.write_value(key, 1000.0, 0.0)
    stale.close()
    (directory / "notes.txt").write_text("the operator's")
    settings = {"PROMETHEUS_MULTIPROC_DIR": str(directory)}
    with serving(instance, tmp_path, "--workers", "2", **settings) as server:
        assert not (directory / "counter_1.db").exists()
        assert _served_search(server.url) == 200
        assert _searches_counted(server.url) == 1
        assert server.stop() == 0
    assert (directory / "notes.txt").read_text() == "the operator's"
