"""nginx in front of two CalDB instances on one PostgreSQL and one tree (deploy/nginx).

The cluster (tests/deploy/conftest.py) is real processes on loopback ports: nginx running
``deploy/nginx/caldb.conf``, and two ``caldb-server serve`` with two workers each, with
``CALDB_ACCEL_REDIRECT`` so that nginx sends the files. Each test uploads files of its own
codename; those that stop an instance start it again before they end.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar
from unittest.mock import ANY

import pytest
import requests
from astropy.io import fits

from caldb_server.auth.tokens import issue_token
from caldb_server.db import utcnow
from caldb_server.heasarc.cif import read_cif
from tests.conftest import SECRET
from tests.deploy.cluster import ACCEL_PREFIX, Cluster
from tests.deploy.conftest import MAX_UPLOAD_MB
from tests.deploy.load import SteadyLoad, concurrent_uploads, serial_catalogue
from tests.helpers import MXT_GAIN, bearer, calfile_bytes
from tests.server.test_cfitsio import _fitscopy

pytestmark = pytest.mark.slow
TIMEOUT_S = 30
LOG_WAIT_S = 10
T = TypeVar("T")


def _token(*roles: str) -> dict[str, str]:
    issued = issue_token(
        SECRET,
        subject="deploy-test",
        roles=roles,
        issuer="svom-caldb",
        now=utcnow(),
        lifetime=timedelta(hours=1),
    )
    return bearer(issued.token)


UPLOADER = _token("uploader")
READER = _token("reader")


def _mxt_file(codename: str, **keywords: str) -> bytes:
    return calfile_bytes(
        {**MXT_GAIN, "CCNM0001": codename, "CDES0001": f"MXT {codename}"} | keywords
    )


def _upload(base_url: str, content: bytes, name: str) -> dict:
    response = requests.post(
        f"{base_url}/api/v1/files",
        headers=UPLOADER,
        files={"file": (name, content)},
        timeout=TIMEOUT_S,
    )
    assert response.status_code == 201, response.text
    return response.json()


def _found(base_url: str, codename: str) -> list[int]:
    response = requests.get(
        f"{base_url}/api/v1/search",
        params={"instrument": "MXT", "codename": codename, "date": "-"},
        timeout=TIMEOUT_S,
    )
    assert response.status_code == 200, response.text
    return [result["id"] for result in response.json()["results"]]


def _new_log_lines(cluster: Cluster, seen: int) -> list[str]:
    return cluster.nginx.log_lines()[seen:]


def _eventually(read: Callable[[], T], done: Callable[[T], bool]) -> T:
    """``read()`` once ``done`` with it: a log line is written after the answer is sent."""
    deadline = time.monotonic() + LOG_WAIT_S
    while not done(value := read()):
        assert time.monotonic() < deadline, f"still {value!r} after {LOG_WAIT_S} s"
        time.sleep(0.05)
    return value


def test_an_upload_through_one_instance_is_found_through_the_other_at_once(cluster):
    cluster.ensure_running(CALDB_PUBLIC_READ="true")
    first, second = cluster.instances
    uploaded = _upload(first.url, _mxt_file("GAIN"), "mxt_gain_deploy.fits")
    dataset_id = uploaded["datasets"][0]["id"]
    assert _found(second.url, "GAIN") == [dataset_id]
    for _ in range(4):  # through nginx, whichever instance answers
        assert _found(cluster.url, "GAIN") == [dataset_id]


def test_a_heasarc_client_reads_the_index_and_a_file_through_nginx(cluster, fitscopy, tmp_path):
    cluster.ensure_running(CALDB_PUBLIC_READ="true")
    content = _mxt_file("CTI")
    _upload(cluster.url, content, "mxt_cti_deploy.fits")  # through nginx's buffering
    seen = len(cluster.nginx.log_lines())
    index, copy = tmp_path / "caldb.indx", tmp_path / "cti.fits"
    _fitscopy(fitscopy, f"{cluster.url}/caldb/data/svom/mxt/caldb.indx", index)
    _fitscopy(fitscopy, f"{cluster.url}/caldb/data/svom/mxt/bcf/cti/mxt_cti_deploy.fits[1]", copy)
    rows = read_cif(index).rows
    assert ("data/svom/mxt/bcf/cti", "mxt_cti_deploy.fits", "CTI") in {
        (row.cal_dir, row.cal_file, row.cal_cnam) for row in rows
    }
    with fits.open(copy) as copied, fits.open(io.BytesIO(content)) as original:
        assert copied[1].header["CCNM0001"] == "CTI"
        assert list(copied[1].data["RAWX"]) == list(original[1].data["RAWX"])
    sent = [line for line in _new_log_lines(cluster, seen) if '" 200 ' in line]
    assert {"caldb.indx", "mxt_cti_deploy.fits"} == {
        re.search(r"/([^/ ]+) HTTP", line)[1] for line in sent
    }
    assert all(line.endswith("sent_from_tree=tree") for line in sent)  # by nginx, not the app


def test_a_body_over_the_upload_limit_is_refused_by_nginx_before_any_instance(cluster):
    cluster.ensure_running(CALDB_PUBLIC_READ="true")
    seen = len(cluster.nginx.log_lines())
    too_big = b"\0" * (int(MAX_UPLOAD_MB) * 1024 * 1024 + 1)
    response = requests.post(
        f"{cluster.url}/api/v1/files",
        headers=UPLOADER,
        files={"file": ("mxt_gain_huge.fits", too_big)},
        timeout=TIMEOUT_S,
    )
    assert response.status_code == 413
    [line] = _eventually(lambda: _new_log_lines(cluster, seen), bool)  # once nginx read it all
    assert "upstream=- " in line  # no instance read any of it


def test_metrics_are_scraped_on_each_instance_never_through_nginx(cluster):
    cluster.ensure_running(CALDB_PUBLIC_READ="true")
    assert requests.get(f"{cluster.url}/metrics", timeout=TIMEOUT_S).status_code == 404
    for instance in cluster.instances:
        answer = requests.get(f"{instance.url}/metrics", timeout=TIMEOUT_S)
        assert answer.status_code == 200
        assert "caldb_http_requests_total" in answer.text


def test_with_one_instance_stopped_nginx_answers_from_the_other(cluster):
    cluster.ensure_running(CALDB_PUBLIC_READ="true")
    content = _mxt_file("VIGNET")
    uploaded = _upload(cluster.url, content, "mxt_vignet_deploy.fits")
    running, stopped = cluster.instances
    stopped.stop()
    try:
        seen = len(cluster.nginx.log_lines())
        for _ in range(6):
            assert _found(cluster.url, "VIGNET") == [uploaded["datasets"][0]["id"]]
            download = requests.get(
                f"{cluster.url}/api/v1/files/{uploaded['file_id']}/content", timeout=TIMEOUT_S
            )
            assert (download.status_code, download.content) == (200, content)
        upstreams = [re.search(r"upstream=(.*) upstream_status", line)[1] for line in
                     _new_log_lines(cluster, seen)]  # fmt: skip
        assert len(upstreams) == 12
        assert {upstream.split(", ")[-1] for upstream in upstreams} == {running.address}
    finally:
        stopped.start()
        cluster.wait_routed_to(stopped)


def test_a_rolling_restart_under_load_loses_no_request(cluster):
    cluster.ensure_running(CALDB_PUBLIC_READ="true")
    content = _mxt_file("PSF")
    uploaded = _upload(cluster.url, content, "mxt_psf_deploy.fits")
    load = SteadyLoad(
        cluster.url,
        search={"instrument": "MXT", "codename": "PSF", "date": "-"},
        found=[uploaded["datasets"][0]["id"]],
        download=f"/api/v1/files/{uploaded['file_id']}/content",
        content=content,
    )
    with load.running(threads=3):
        load.wait_for(load.answered() + 10)
        for instance in cluster.instances:  # one after the other, as an operator does
            instance.stop()
            load.wait_for(load.answered() + 10)  # served by the other meanwhile
            instance.start()
            cluster.wait_routed_to(instance)
        load.wait_for(load.answered() + 10)
    assert load.failures == []
    assert load.answered() >= 40


def test_concurrent_uploads_to_one_codename_give_the_catalogue_of_a_serial_order(cluster, tmp_path):
    cluster.ensure_running(CALDB_PUBLIC_READ="true")
    outcome = concurrent_uploads(cluster, UPLOADER)
    # One after the other, in the order the cluster committed them, on a fresh CalDB.
    serial = serial_catalogue(outcome.commit_order, tmp_path, UPLOADER)
    assert outcome.catalogue == serial
    assert outcome.serials == sorted(outcome.serials)  # readers never see an index go back
    assert outcome.serials[-1] == len(outcome.commit_order)
    assert outcome.fsck_code == 0, outcome.fsck_report


def test_private_reads_through_nginx_are_authorised_by_the_instances(cluster):
    content = _mxt_file("BADPIX")
    uploaded = _upload(cluster.url, content, "mxt_badpix_deploy.fits")
    cluster.ensure_running(CALDB_PUBLIC_READ="false")  # a rolling restart into private mode
    urls = [
        f"{cluster.url}/api/v1/files/{uploaded['file_id']}/content",
        f"{cluster.url}/caldb/data/svom/mxt/bcf/badpix/mxt_badpix_deploy.fits",
    ]
    for url in urls:
        anonymous = requests.get(url, timeout=TIMEOUT_S)
        assert anonymous.status_code == 401
        assert anonymous.headers["Content-Type"] == "application/problem+json"
        assert "X-Caldb-Sent-From" not in anonymous.headers
        signed = requests.get(url, headers=READER, timeout=TIMEOUT_S)
        assert (signed.status_code, signed.content) == (200, content)
        assert signed.headers["X-Caldb-Sent-From"] == "tree"  # nginx sent the bytes
        assert signed.headers["ETag"] == f'"{uploaded["sha256"]}"'
        assert "Authorization" in signed.headers["Vary"]
        assert "private" in signed.headers["Cache-Control"]
    # The instances answered the signed requests with an empty body: nginx sent the file.
    paths = [url.removeprefix(cluster.url) for url in urls]

    def answers() -> list[tuple[str, ...]]:  # (status, body bytes) the instances logged
        return [
            re.search(r'" (\d+) (\d+) ', line).groups()
            for instance in cluster.instances
            for line in instance.access_log.read_text().splitlines()
            if any(f'"GET {path} HTTP' in line for path in paths)
        ]

    logged = _eventually(answers, lambda found: len(found) == 2 * len(paths))
    assert sorted(logged) == [("200", "0"), ("200", "0"), ("401", ANY), ("401", ANY)]
    # The tree itself is not reachable from outside.
    direct = requests.get(
        f"{cluster.url}{ACCEL_PREFIX}data/svom/mxt/bcf/badpix/mxt_badpix_deploy.fits",
        headers=READER,
        timeout=TIMEOUT_S,
    )
    assert direct.status_code == 404
    assert direct.content != content
