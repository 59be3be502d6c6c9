"""``/api/v1/subscriptions``: who may do what, what is refused, and how the secret is kept.

Deliveries themselves, to a real receiver: test_webhook_delivery.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from caldb_common.webhooks import signature_header, verify_signature
from caldb_server.web import extension
from caldb_server.webhooks.models import Subscription
from caldb_server.webhooks.schedule import GIVE_UP_AFTER, MAX_DELAY, backoff_delay, next_attempt
from caldb_server.webhooks.secrets import SecretUnreadable, seal, unseal
from caldb_server.webhooks.service import MAX_PER_OWNER
from caldb_server.webhooks.targets import TargetRefused, parse_target, resolve_target
from tests.conftest import SECRET
from tests.helpers import assert_problem, bearer

PUBLIC_URL = "http://93.184.215.14/hook"  # an address literal: no DNS needed


@pytest.fixture
def alice(make_token):
    return bearer(make_token("reader", subject="alice"))


def create(client, headers, **body):
    return client.post("/api/v1/subscriptions", json={"url": PUBLIC_URL, **body}, headers=headers)


def test_the_secret_is_shown_once_and_stored_sealed(app, client, alice):
    response = create(client, alice, instrument="mxt", codenames=["gain", "GAIN"])
    assert response.status_code == 201, response.get_json()
    made = response.get_json()
    assert made["secret"].startswith("whsec_")
    assert made["secret"].startswith(made["secret_prefix"])
    assert len(made["secret_prefix"]) < 12
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Location"].endswith(f"/api/v1/subscriptions/{made['id']}")
    assert (made["owner"], made["instrument"], made["codenames"]) == ("alice", "MXT", ["GAIN"])
    assert made["delivered_seq"] == 0  # from now on
    shown = client.get(f"/api/v1/subscriptions/{made['id']}", headers=alice).get_json()
    listed = client.get("/api/v1/subscriptions", headers=alice).get_json()["subscriptions"]
    assert "secret" not in shown
    assert listed == [shown]
    assert shown == {key: value for key, value in made.items() if key != "secret"}
    with extension(app).database.unit_of_work(write=False) as session:
        sealed = session.scalars(select(Subscription.secret_sealed)).one()
    assert made["secret"] not in sealed
    assert unseal(SECRET, sealed) == made["secret"]


def test_others_see_nothing_and_an_admin_sees_all(client, alice, make_token):
    made = create(client, alice).get_json()
    bob = bearer(make_token("uploader", subject="bob"))
    admin = bearer(make_token("admin", subject="root"))
    path = f"/api/v1/subscriptions/{made['id']}"
    assert client.get("/api/v1/subscriptions", headers=bob).get_json() == {"subscriptions": []}
    for method in (client.get, client.delete):
        assert_problem(method(path, headers=bob), 404)
    assert_problem(client.get(f"{path}/deliveries", headers=bob), 404)
    assert_problem(client.patch(path, json={"active": False}, headers=bob), 404)
    assert [
        s["id"]
        for s in client.get("/api/v1/subscriptions", headers=admin).get_json()["subscriptions"]
    ] == [made["id"]]
    assert_problem(client.get("/api/v1/subscriptions"), 401)
    assert_problem(client.post("/api/v1/subscriptions", json={"url": PUBLIC_URL}), 401)
    assert client.delete(path, headers=admin).status_code == 204
    assert_problem(client.get(path, headers=alice), 404)


def test_pause_and_resume(client, alice):
    made = create(client, alice).get_json()
    path = f"/api/v1/subscriptions/{made['id']}"
    paused = client.patch(path, json={"active": False}, headers=alice)
    assert paused.get_json()["active"] is False
    problem = assert_problem(client.patch(path, json={"active": "no"}, headers=alice), 422)
    assert problem["errors"][0]["field"] == "active"
    assert client.patch(path, json={"active": True}, headers=alice).get_json()["active"] is True


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:8080/hook", "loopback"),
        ("http://localhost/hook", "loopback"),
        ("http://[::1]/hook", "loopback"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),
        ("http://10.1.2.3/hook", "private"),
        ("https://192.168.0.10/hook", "private"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://100.64.0.1/hook", "not global"),
        ("http://0.0.0.0/hook", "unspecified"),
        ("http://224.0.0.1/hook", "multicast"),
        ("ftp://93.184.215.14/hook", "http"),
        ("http://user:pw@93.184.215.14/hook", "user name"),
        ("/hook", "http"),
        ("http://93.184.215.14:99999/hook", "valid URL"),
        ("http://nowhere.invalid/hook", "does not resolve"),
    ],
)
def test_targets_that_are_refused(client, alice, url, reason):
    problem = assert_problem(create(client, alice, url=url), 422)
    assert problem["errors"][0]["field"] == "url"
    assert reason in problem["errors"][0]["reason"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": 5}, "url"),
        ({"instrument": "M X T"}, "instrument"),
        ({"codenames": "GAIN"}, "codenames"),
        ({"codenames": [1]}, "codenames"),
        ({"since": "3"}, "since"),
        ({"since": -1}, "since"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_subscriptions(client, alice, body, field):
    problem = assert_problem(
        client.post("/api/v1/subscriptions", json={"url": PUBLIC_URL, **body}, headers=alice), 422
    )
    assert [error["field"] for error in problem["errors"]] == [field]


def test_the_delivery_log_pages(client, alice):
    made = create(client, alice).get_json()
    path = f"/api/v1/subscriptions/{made['id']}/deliveries"
    assert client.get(path, headers=alice).get_json() == {"deliveries": [], "last_id": 0}
    for query in ("limit=0", "after=-1", "limit=5&limit=6", "page=2"):
        assert_problem(client.get(f"{path}?{query}", headers=alice), 422)


def test_the_backoff_keeps_trying_for_at_least_24_hours():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    now, failures, gaps = start, 1, []
    while (retry := next_attempt(failures, start, now)) is not None:
        gaps.append(retry - now)
        now, failures = retry, failures + 1
    assert now - start >= GIVE_UP_AFTER  # the last attempt came after 24 h of failures
    assert gaps[0] == timedelta(seconds=10)
    assert max(gaps) == MAX_DELAY
    assert gaps == sorted(gaps)
    assert 24 < len(gaps) < 40  # hourly at most, once the backoff is at its cap
    assert backoff_delay(10**6) == MAX_DELAY


def test_a_secret_sealed_under_another_key_is_unreadable():
    sealed = seal(SECRET, "whsec_abc")
    assert seal(SECRET, "whsec_abc") != sealed  # a fresh nonce each time
    with pytest.raises(SecretUnreadable):
        unseal("another-server-key-of-enough-length-0123456789", sealed)
    with pytest.raises(SecretUnreadable):
        unseal(SECRET, sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1])


def test_a_redirecting_or_rebinding_name_is_checked_on_each_resolution():
    target = parse_target("https://example.invalid:8443/a?b=1")
    assert (target.port, target.path, target.host_header) == (
        8443,
        "/a?b=1",
        "example.invalid:8443",
    )
    with pytest.raises(TargetRefused):
        resolve_target(parse_target("http://127.0.0.1/"), allow_private=False)
    assert resolve_target(parse_target("http://127.0.0.1/"), allow_private=True) == "127.0.0.1"


def test_the_signature_header_round_trips():
    header = signature_header("whsec_x", 1000, b"{}")
    assert verify_signature("whsec_x", b"{}", header, now=1000) == 1000
    rotated = f"{header},v1={'0' * 64}"  # several signatures: any one may match
    assert verify_signature("whsec_x", b"{}", rotated, now=1000) == 1000


def test_an_owner_has_at_most_so_many_subscriptions(client, alice, make_token):
    for _ in range(MAX_PER_OWNER):
        assert create(client, alice).status_code == 201
    assert_problem(create(client, alice), 409)
    assert create(client, bearer(make_token("reader", subject="bob"))).status_code == 201


def test_an_id_past_the_column_is_not_found(client, alice):
    assert_problem(client.get(f"/api/v1/subscriptions/{2**31}", headers=alice), 404)
    assert_problem(client.get(f"/api/v1/subscriptions/{10**30}/deliveries", headers=alice), 404)
