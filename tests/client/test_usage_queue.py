"""CaDBIO's usage-record queue against a real server: none lost, none stored twice.

The CalDB is reached through a TCP proxy the test cuts: down while records are made, its
answer lost after it stored one, back again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from caldbio import CaDBIO, Dataset
from caldbio.cli import main
from caldbio.usage import REJECTED_DIR, new_record_id
from tests.helpers import MXT_GAIN, calfile_bytes
from tests.tcp_proxy import TcpProxy


@pytest.fixture
def gain(
    server: Any, make_client: Callable[..., CaDBIO], make_token: Any, tmp_path: Path
) -> Dataset:
    """A GAIN dataset on the server, as a search finds it."""
    path = tmp_path / "gain_v1.fits"
    path.write_bytes(calfile_bytes(MXT_GAIN))
    make_client(token=make_token("uploader")).upload(path)
    return make_client().search("MXT", "GAIN", date="2025-07-01T12:00:00")[0]


@pytest.fixture
def proxy(server: Any) -> Iterator[TcpProxy]:
    """A proxy in front of the server, to lose it on demand."""
    address = urlsplit(server.url)
    with TcpProxy((address.hostname, address.port)) as started:
        yield started


@pytest.fixture
def pipeline(proxy: TcpProxy, make_client: Callable[..., CaDBIO], make_token: Any) -> CaDBIO:
    """A pipeline's client (reader token) through the proxy."""
    return make_client(url=f"http://127.0.0.1:{proxy.port}", token=make_token("reader"))


def record(dataset: Dataset, observation: str = "sb25070101") -> dict[str, Any]:
    """A usage record of one selection of ``dataset``."""
    return {
        "record_id": new_record_id(),
        "observation": observation,
        "brick": "mxt-pipeline",
        "brick_version": "1.0.0",
        "finished_at": "2026-12-07T21:00:00+00:00",
        "selections": [
            {
                "instrument": "MXT",
                "codename": "GAIN",
                "date": "2025-07-01T12:00:00",
                "detector": "-",
                "filter": "-",
                "expr": "-",
                "as_of": None,
                "dataset_id": dataset.id,
                "cal_file": dataset.cal_file,
                "cal_xno": dataset.cal_xno,
                "sha256": dataset.sha256,
            }
        ],
    }


def stored(client: CaDBIO) -> list[dict[str, Any]]:
    """Every usage record the server holds, in arrival order."""
    records: list[dict[str, Any]] = client.request("GET", "usage").json()["records"]
    return records


def test_a_record_is_sent_at_once_when_the_caldb_answers(pipeline, gain):
    made = record(gain)
    report = pipeline.report_usage(made)
    assert (report.sent, report.remaining, report.rejected) == (1, 0, [])
    assert pipeline.usage_queue().pending() == []
    assert [r["record_id"] for r in stored(pipeline)] == [made["record_id"]]


def test_records_made_while_the_caldb_is_down_arrive_once_in_order(pipeline, proxy, gain):
    proxy.cut()
    made = [record(gain, f"sb2507010{n}") for n in range(3)]
    for item in made:
        report = pipeline.report_usage(item)
        assert report.sent == 0
        assert report.stopped_by
    assert len(pipeline.usage_queue().pending()) == 3
    proxy.restore()
    assert pipeline.usage_queue().flush(pipeline).sent == 3
    assert pipeline.usage_queue().flush(pipeline).sent == 0
    assert [r["record_id"] for r in stored(pipeline)] == [m["record_id"] for m in made]


def test_a_lost_answer_makes_a_resend_the_server_does_not_store_twice(pipeline, proxy, gain):
    proxy.cut_on(b" 201 ", from_server=True)  # stored, but the answer never arrives
    made = record(gain)
    assert pipeline.report_usage(made).remaining == 1  # so the client keeps it
    assert proxy.tripped.is_set()
    proxy.restore()
    assert pipeline.usage_queue().flush(pipeline).sent == 1  # answered: the stored record
    assert pipeline.usage_queue().pending() == []
    assert [r["record_id"] for r in stored(pipeline)] == [made["record_id"]]


def test_a_refused_record_is_set_aside_and_does_not_block_the_others(pipeline, proxy, gain):
    proxy.cut()
    bad = record(gain)
    bad["selections"][0]["dataset_id"] = 999999
    good = record(gain)
    pipeline.report_usage(bad)
    pipeline.report_usage(good)
    proxy.restore()
    report = pipeline.usage_queue().flush(pipeline)
    assert (report.sent, len(report.rejected)) == (1, 1)
    rejected = pipeline.usage_queue().directory / REJECTED_DIR
    reasons = [p.read_text() for p in rejected.glob("*.reason.txt")]
    assert len(reasons) == 1
    assert "not valid" in reasons[0]
    assert [r["record_id"] for r in stored(pipeline)] == [good["record_id"]]


def test_a_record_without_a_token_stays_queued(proxy, make_client, gain):
    anonymous = make_client(url=f"http://127.0.0.1:{proxy.port}")
    report = anonymous.report_usage(record(gain))
    assert (report.sent, report.remaining) == (0, 1)
    assert "401" in report.line() or "token" in report.line()


def test_the_command_lists_and_flushes_the_queue(
    pipeline, proxy, gain, monkeypatch, make_token, capsys, tmp_path
):
    proxy.cut()
    pipeline.report_usage(record(gain))
    monkeypatch.setenv("CALDB_TOKEN", make_token("reader"))
    options = ["--url", f"http://127.0.0.1:{proxy.port}", "--cache-dir", str(tmp_path / "cache")]
    assert main(["usage", "pending", *options]) == 0
    assert "1 usage record(s) waiting" in capsys.readouterr().out
    assert main(["usage", "flush", "--max-tries", "1", *options]) == 8  # still down
    capsys.readouterr()
    proxy.restore()
    assert main(["usage", "flush", "--json", *options]) == 0
    assert json.loads(capsys.readouterr().out)["sent"] == 1
    assert len(stored(pipeline)) == 1
