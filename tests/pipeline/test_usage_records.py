"""After a run, the brick framework tells the CalDB what calibration it used: a usage record.

Against a real CalDB (the demonstration set, each backend) behind a TCP proxy that a brick
cuts in the middle of its run: the record waits in CaDBIO's queue and arrives once, when a
later flush finds the CalDB back.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from caldbio import CaDBIO
from pipeline_bricks.framework import BrickContext
from pipeline_bricks.framework.runner import run_brick
from tests.pipeline.test_framework import BRICKS, GainTable, job, status_of
from tests.tcp_proxy import TcpProxy


@pytest.fixture
def proxy(caldb):
    address = urlsplit(caldb)
    with TcpProxy((address.hostname, address.port)) as started:
        yield started


def through(proxy: TcpProxy) -> str:
    return f"http://127.0.0.1:{proxy.port}"


def usage_of(caldb: str, token: str, observation: str = "sb25070101") -> list[dict]:
    with CaDBIO(caldb, token=token, max_tries=1) as client:
        answer = client.request("GET", "usage", params={"observation": observation}).json()
    return answer["records"]


def test_a_successful_run_sends_what_it_selected_and_which_file(caldb, tmp_path, make_token):
    token = make_token("reader", subject="mxt-pipeline")
    runtime = job(tmp_path, caldb, caldb={"url": caldb, "token": token})
    status, path = run_brick(BRICKS, "test-gain", runtime, cache_dir=tmp_path / "c")
    document = status_of(path)
    assert status == "SUCCESS", document["messages"]
    assert document["messages"][-1] == {
        "level": "INFO",
        "text": "1 usage record(s) sent, 0 queued",
    }
    (used,) = document["calibration"]
    (record,) = usage_of(caldb, token)
    assert (record["brick"], record["submitted_by"]) == ("test-gain", "mxt-pipeline")
    (selection,) = record["selections"]
    assert selection | {"as_of": None} == {
        "instrument": "MXT",
        "codename": "GAIN",
        "date": "2025-07-01T00:00:00",
        "detector": "-",
        "filter": "-",
        "expr": "-",
        "as_of": None,
        "dataset_id": used["dataset_id"],
        "cal_file": used["file"],
        "cal_xno": used["extension"],
        "sha256": used["sha256"],
    }
    assert used["selection"] == {
        "instrument": "MXT",
        "date": "2025-07-01T00:00:00",
        "detector": "-",
        "filter": "-",
        "expr": "-",
    }


class GainThenOutage(GainTable):
    """GainTable, after which the CalDB goes away (the proxy is cut) before the run ends."""

    name = "test-gain-outage"
    proxy: TcpProxy

    def run(self, context: BrickContext) -> None:
        super().run(context)
        self.proxy.cut()


def test_a_record_made_while_the_caldb_is_down_arrives_once_when_it_is_back(
    caldb, proxy, tmp_path, make_token
):
    token = make_token("reader", subject="mxt-pipeline")
    GainThenOutage.proxy = proxy
    runtime = job(
        tmp_path, caldb, brick="test-gain-outage", caldb={"url": through(proxy), "token": token}
    )
    bricks = {GainThenOutage.name: GainThenOutage}
    status, path = run_brick(bricks, GainThenOutage.name, runtime, cache_dir=tmp_path / "c")
    document = status_of(path)
    assert status == "SUCCESS", document["messages"]  # reporting never fails a run
    assert document["messages"][-1]["level"] == "WARNING"
    assert "1 queued" in document["messages"][-1]["text"]
    assert usage_of(caldb, token) == []
    proxy.restore()
    with CaDBIO(through(proxy), token=token, cache_dir=tmp_path / "c") as client:
        assert client.usage_queue().flush(client).sent == 1
        assert client.usage_queue().flush(client).sent == 0
    assert len(usage_of(caldb, token)) == 1


def test_nothing_is_reported_without_a_token_or_when_the_job_opts_out(
    caldb, tmp_path, make_token, monkeypatch
):
    monkeypatch.delenv("CALDB_TOKEN", raising=False)
    monkeypatch.setenv("CALDBIO_CONFIG_DIR", str(tmp_path / "config"))
    _, path = run_brick(BRICKS, "test-gain", job(tmp_path, caldb), cache_dir=tmp_path / "c")
    assert status_of(path)["messages"][-1]["text"] == "usage record not reported: no CalDB token"
    token = make_token("reader")
    runtime = job(tmp_path, caldb, caldb={"url": caldb, "token": token, "report_usage": False})
    status, path = run_brick(BRICKS, "test-gain", runtime, cache_dir=tmp_path / "c")
    assert status == "SUCCESS"
    assert not any("usage" in m["text"] for m in status_of(path)["messages"])
    assert usage_of(caldb, token) == []


def test_a_failed_run_reports_nothing(caldb, tmp_path, make_token):
    token = make_token("reader")
    runtime = job(
        tmp_path, caldb, parameters={"no_data": True}, caldb={"url": caldb, "token": token}
    )
    status, _ = run_brick(BRICKS, "test-gain", runtime, cache_dir=tmp_path / "c")
    assert status == "NO_DATA"
    assert usage_of(caldb, token) == []
