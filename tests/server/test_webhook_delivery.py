"""Webhook deliveries to a real receiver that checks every signature (issue 19).

The worker runs pass by pass (``run_once``, as ``caldb-server deliver --once``) on a test
clock, so that hours of backoff take no time; the receiver checks signatures against the
same clock.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner

from caldb_common.webhooks import WebhookSignatureError, verify_signature
from caldb_server.changes.service import QUALITY, record_event
from caldb_server.cli import main
from caldb_server.db import utcnow
from caldb_server.web import extension
from caldb_server.webhooks.delivery import LOG_KEPT, WorkerOptions
from caldb_server.webhooks.schedule import GIVE_UP_AFTER
from caldb_server.webhooks.worker import RoundResult, run_once
from tests.conftest import SECRET
from tests.helpers import bearer
from tests.server.webhook_receiver import Receiver


class Clock:
    """A clock the test moves on (a little ahead: subscriptions made now are due at once)."""

    def __init__(self) -> None:
        self.now = utcnow() + timedelta(seconds=30)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def app_config(app_config):
    app_config["WEBHOOK_ALLOW_PRIVATE"] = "true"  # the receiver is on 127.0.0.1
    return app_config


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def receiver(clock):
    server = Receiver(clock).start()
    yield server
    server.stop()


OPTIONS = WorkerOptions(
    secret_key=SECRET, allow_private=True, connect_timeout_s=2, read_timeout_s=8, threads=4
)


def record(app, count, instrument="MXT"):
    """``count`` catalogue events about ``instrument``, one unit of work each."""
    for number in range(count):
        with extension(app).database.unit_of_work() as session:
            record_event(
                session,
                QUALITY,
                actor="ops",
                now=utcnow(),
                subjects=[("SVOM", instrument, "GAIN")],
                details={"number": number},
            )


def subscribe(client, receiver, hook, token, **filters):
    response = client.post(
        "/api/v1/subscriptions",
        json={"url": receiver.url(hook), **filters},
        headers=bearer(token),
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    receiver.secrets[hook] = body["secret"]
    return body


def deliver(app, clock, options=OPTIONS):
    return run_once(extension(app).database, options, clock=clock)


def test_failures_and_an_absence_lose_nothing_and_keep_the_order(
    app, client, make_token, receiver, clock
):
    token = make_token("reader")
    subscription = subscribe(client, receiver, "a", token)
    receiver.answer = 500
    record(app, 3)
    assert deliver(app, clock) == RoundResult(claimed=1, delivered=0)  # 500: retried later
    receiver.stop()  # ... and then the receiver goes away for a while
    record(app, 2)
    assert deliver(app, clock).claimed == 0  # backing off: nothing is due yet
    for _ in range(4):
        clock.advance(timedelta(minutes=5))
        assert deliver(app, clock).delivered == 0  # connection refused
    receiver.answer = 204
    receiver.start()
    clock.advance(timedelta(hours=1))
    assert deliver(app, clock).delivered == 5
    assert receiver.seqs("a") == [1, 2, 3, 4, 5]
    assert receiver.refused == []  # every signature checked out
    assert [r.delivery_id for r in receiver.received] == [
        f"{subscription['id']}-{n}" for n in range(1, 6)
    ]
    log = client.get(
        f"/api/v1/subscriptions/{subscription['id']}/deliveries", headers=bearer(token)
    ).get_json()["deliveries"]
    outcomes = [(a["seq"], a["ok"], a["status_code"]) for a in log]
    assert outcomes[:2] == [(1, False, 500), (1, False, None)]  # answered 500, then gone
    assert all(a["error"] for a in log if not a["ok"])
    assert [a["seq"] for a in log if a["ok"]] == [1, 2, 3, 4, 5]
    state = client.get(f"/api/v1/subscriptions/{subscription['id']}", headers=bearer(token))
    assert state.get_json()["delivered_seq"] == 5
    assert state.get_json()["failures"] == 0


def test_a_stale_signature_is_refused_by_the_receivers_check(
    app, client, make_token, receiver, clock
):
    subscribe(client, receiver, "a", make_token("reader"))
    record(app, 1)
    deliver(app, clock)
    [delivery] = receiver.received
    signed_at = clock().timestamp()
    verify_signature(receiver.secrets["a"], delivery.body, delivery.signature, now=signed_at + 299)
    with pytest.raises(WebhookSignatureError, match="replay"):  # replayed 5 minutes later
        verify_signature(
            receiver.secrets["a"], delivery.body, delivery.signature, now=signed_at + 301
        )
    with pytest.raises(WebhookSignatureError, match="does not match"):
        verify_signature(
            receiver.secrets["a"], delivery.body + b" ", delivery.signature, now=signed_at
        )
    with pytest.raises(WebhookSignatureError, match="does not match"):
        verify_signature("whsec_other", delivery.body, delivery.signature, now=signed_at)


def test_filters_choose_the_changes_and_the_cursor_skips_the_others(
    app, client, make_token, receiver, clock
):
    token = make_token("reader")
    subscribe(client, receiver, "mxt", token, instrument="MXT")
    subscribe(client, receiver, "ecl", token, instrument="ECLAIRS")  # an alias of ECL
    subscribe(client, receiver, "all", token)
    record(app, 2, "MXT")
    record(app, 1, "ECL")
    record(app, 1, "MXT")
    assert deliver(app, clock).delivered == 4 + 1 + 3
    assert receiver.seqs("mxt") == [1, 2, 4]
    assert receiver.seqs("ecl") == [3]
    assert receiver.seqs("all") == [1, 2, 3, 4]
    listed = client.get("/api/v1/subscriptions", headers=bearer(token)).get_json()
    assert [s["delivered_seq"] for s in listed["subscriptions"]] == [4, 4, 4]
    assert deliver(app, clock).claimed == 0  # caught up


def test_a_subscription_failing_for_24_hours_is_disabled_and_can_be_resumed(
    app, client, make_token, receiver, clock
):
    token = make_token("reader")
    subscription = subscribe(client, receiver, "a", token)
    path = f"/api/v1/subscriptions/{subscription['id']}"
    receiver.answer = 503
    record(app, 2)
    deliver(app, clock)
    clock.advance(GIVE_UP_AFTER - timedelta(seconds=1))
    deliver(app, clock)
    assert client.get(path, headers=bearer(token)).get_json()["active"] is True  # still trying
    clock.advance(timedelta(hours=1))
    deliver(app, clock)
    state = client.get(path, headers=bearer(token)).get_json()
    assert state["active"] is False
    assert "24 hours" in state["disabled_reason"]
    receiver.answer = 204
    clock.advance(timedelta(days=2))
    assert deliver(app, clock).claimed == 0  # disabled: no more attempts
    resumed = client.patch(path, json={"active": True}, headers=bearer(token))
    assert resumed.status_code == 200, resumed.get_json()
    assert resumed.get_json()["disabled_reason"] is None
    deliver(app, clock)  # from where it stopped: nothing lost
    assert receiver.seqs("a") == [1, 2]


def test_a_slow_receiver_does_not_hold_up_the_others(app, client, make_token, receiver, clock):
    token = make_token("reader")
    subscribe(client, receiver, "slow", token)  # claimed first
    subscribe(client, receiver, "fast", token)
    receiver.holds["slow"] = lambda: len(receiver.seqs("fast")) == 3
    record(app, 3)
    deliver(app, clock)
    assert receiver.held[0] is True  # fast got all three while slow was still answering
    assert receiver.seqs("fast") == [1, 2, 3]


def test_a_private_target_is_refused_at_delivery_without_the_setting(
    app, client, make_token, receiver, clock
):
    subscription = subscribe(client, receiver, "a", make_token("reader"))
    record(app, 1)
    result = deliver(app, clock, WorkerOptions(secret_key=SECRET, allow_private=False))
    assert result.delivered == 0
    assert receiver.received == []
    assert receiver.refused == []
    log = client.get(
        f"/api/v1/subscriptions/{subscription['id']}/deliveries",
        headers=bearer(make_token("reader")),
    ).get_json()["deliveries"]
    assert "loopback" in log[0]["error"]


def test_two_workers_at_once_deliver_each_change_once_in_order(
    app, client, make_token, receiver, clock
):
    token = make_token("reader")
    hooks = [f"h{n}" for n in range(6)]
    for hook in hooks:
        subscribe(client, receiver, hook, token)
    record(app, 8)
    options = WorkerOptions(secret_key=SECRET, allow_private=True, threads=3, changes_per_claim=2)
    failures: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(20):
                deliver(app, clock, options)
        except BaseException as error:  # reported by the test
            failures.append(error)

    workers = [threading.Thread(target=work) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not failures, failures
    for hook in hooks:
        assert receiver.seqs(hook) == list(range(1, 9)), hook


def test_the_deliver_command_once(app, app_config, client, make_token, receiver):
    receiver.clock = utcnow  # the command signs with the real clock
    subscribe(client, receiver, "a", make_token("reader"))
    record(app, 2)
    env = {f"CALDB_{key}": str(value) for key, value in app_config.items() if key != "TESTING"}
    result = CliRunner().invoke(main, ["deliver", "--once"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "2 changes delivered to 1 subscriptions" in result.output
    assert receiver.seqs("a") == [1, 2]


def test_a_redirect_is_not_followed(app, client, make_token, receiver, clock):
    subscription = subscribe(client, receiver, "a", make_token("reader"))
    receiver.secrets["redirected"] = receiver.secrets["a"]
    receiver.answer = 307
    record(app, 1)
    assert deliver(app, clock).delivered == 0
    assert receiver.seqs("redirected") == []
    log = client.get(
        f"/api/v1/subscriptions/{subscription['id']}/deliveries",
        headers=bearer(make_token("reader")),
    ).get_json()["deliveries"]
    assert [(a["ok"], a["status_code"], a["error"]) for a in log] == [(False, 307, "HTTP 307")]


def test_a_secret_sealed_under_a_former_server_key_disables_the_subscription(
    app, client, make_token, receiver, clock
):
    token = make_token("reader")
    subscription = subscribe(client, receiver, "a", token)
    record(app, 1)
    rotated = WorkerOptions(secret_key="a-new-server-key-of-enough-length-0123456789")
    assert deliver(app, clock, rotated).delivered == 0
    state = client.get(f"/api/v1/subscriptions/{subscription['id']}", headers=bearer(token))
    assert state.get_json()["active"] is False
    assert "CALDB_SECRET_KEY" in state.get_json()["disabled_reason"]
    assert receiver.received == []


def test_the_delivery_log_keeps_30_days(app, client, make_token, receiver, clock):
    token = make_token("reader")
    subscription = subscribe(client, receiver, "a", token)
    record(app, 1)
    deliver(app, clock)
    clock.advance(LOG_KEPT - timedelta(minutes=1))
    record(app, 1)
    deliver(app, clock)
    path = f"/api/v1/subscriptions/{subscription['id']}/deliveries"
    assert [a["seq"] for a in client.get(path, headers=bearer(token)).get_json()["deliveries"]] == [
        1,
        2,
    ]
    clock.advance(timedelta(minutes=2))
    deliver(app, clock)  # nothing to send; the log is pruned all the same
    assert [a["seq"] for a in client.get(path, headers=bearer(token)).get_json()["deliveries"]] == [
        2
    ]
