"""Where CaDBIO finds its token (SPEC §4 order), the token file, and password exchange.

The first half tests :class:`caldbio.tokens.TokenProvider` alone, with an explicit
environment, config dir, exchange callable and clock; the second half runs the client
against the real test server with a real user whose password is exchanged for a token.
"""

from __future__ import annotations

import json
import re
import socket
from datetime import UTC, datetime, timedelta

import pytest

from caldb_server.auth.records import revoke_subject
from caldb_server.db import utcnow
from caldb_server.web import extension
from caldbio import AuthError, CaDBIO
from caldbio.tokens import RENEW_BEFORE, TOKEN_FILE, TokenProvider, save_token
from tests.helpers import MXT_GAIN, add_user, calfile_bytes

URL = "http://caldb.example:5000"
T0 = datetime(2025, 7, 1, 12, 0, tzinfo=UTC)
VALUES = {
    "explicit": "tok-explicit-1111",
    "environment": "tok-environment-2222",
    "runtime_data": "tok-runtime-3333",
    "token_file": "tok-file-4444",
    "exchange": "tok-exchanged-5555",
}
SOURCES = list(VALUES)


class Exchange:
    """A fake ``/auth/token``: counts calls, each token valid for ``lifetime`` from the clock."""

    def __init__(self, clock, lifetime=timedelta(minutes=10), expires=True):
        self.clock, self.lifetime, self.expires = clock, lifetime, expires
        self.calls: list[tuple[str, str]] = []

    def __call__(self, username, password):
        self.calls.append((username, password))
        expires_at = (self.clock() + self.lifetime).isoformat() if self.expires else None
        token = VALUES["exchange"] if len(self.calls) == 1 else f"tok-renewed-{len(self.calls)}"
        return {"access_token": token, "expires_at": expires_at}


class Clock:
    def __init__(self, now=T0):
        self.now = now

    def __call__(self):
        return self.now


def provider(tmp_path, present, url=URL, clock=None):
    """A provider with the sources named in ``present`` (and the exchange it may call)."""
    clock = clock or Clock()
    exchange = Exchange(clock)
    environ: dict[str, str] = {}
    if "environment" in present:
        environ["CALDB_TOKEN"] = VALUES["environment"]
    if "runtime_data" in present:
        runtime = tmp_path / "runtime_data.json"
        runtime.write_text(json.dumps({"brick": "x", "caldb": {"token": VALUES["runtime_data"]}}))
        environ["RUNTIME_DATA"] = str(runtime)
    if "token_file" in present:
        save_token(tmp_path / "config", url, VALUES["token_file"], None)
    if "exchange" in present:
        environ |= {"CALDB_USERNAME": "bob", "CALDB_PASSWORD": "pw-bob-secret"}
    tokens = TokenProvider(
        url,
        explicit=VALUES["explicit"] if "explicit" in present else None,
        environ=environ,
        config_dir=tmp_path / "config",
        exchange=exchange,
        clock=clock,
    )
    return tokens, exchange


@pytest.mark.parametrize("winner", range(len(SOURCES)), ids=SOURCES)
def test_each_source_wins_over_every_later_one(tmp_path, winner):
    tokens, exchange = provider(tmp_path, SOURCES[winner:])
    token = tokens.token()
    assert token is not None
    assert token.value == VALUES[SOURCES[winner]]
    assert exchange.calls == ([("bob", "pw-bob-secret")] if SOURCES[winner] == "exchange" else [])
    for value in VALUES.values():
        assert value not in token.source  # an error message may show the source, never the token
    assert tokens.token() == token


def test_sources_say_where_the_token_came_from(tmp_path):
    expected = {
        "explicit": "token= argument",
        "environment": "CALDB_TOKEN",
        "runtime_data": "RUNTIME_DATA",
        "token_file": TOKEN_FILE,
        "exchange": "CALDB_USERNAME/CALDB_PASSWORD (bob)",
    }
    for index, name in enumerate(SOURCES):
        (tmp_path / name).mkdir()
        token = provider(tmp_path / name, SOURCES[index:])[0].token()
        assert expected[name] in token.source
    assert "pw-bob-secret" not in token.source


def test_no_source_gives_none_and_an_exchange_needs_both_variables(tmp_path):
    assert provider(tmp_path, [])[0].token() is None
    exchange = Exchange(Clock())
    only_name = TokenProvider(
        URL, environ={"CALDB_USERNAME": "bob"}, config_dir=tmp_path, exchange=exchange
    )
    assert only_name.token() is None
    assert exchange.calls == []


def test_runtime_data_without_a_caldb_token_falls_through(tmp_path):
    save_token(tmp_path / "config", URL, VALUES["token_file"], None)
    for document in ({"brick": "x"}, {"caldb": {"url": URL}}, {"caldb": "not a section"}):
        runtime = tmp_path / "runtime_data.json"
        runtime.write_text(json.dumps(document))
        tokens = TokenProvider(
            URL, environ={"RUNTIME_DATA": str(runtime)}, config_dir=tmp_path / "config"
        )
        assert tokens.token().value == VALUES["token_file"], document


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", None], ids=["bad", "list", "missing"])
def test_a_malformed_runtime_data_is_an_error_naming_the_file(tmp_path, monkeypatch, content):
    runtime = tmp_path / "runtime_data.json"
    if content is not None:
        runtime.write_text(content)
    tokens = TokenProvider(URL, environ={"RUNTIME_DATA": str(runtime)}, config_dir=tmp_path)
    with pytest.raises(ValueError, match="RUNTIME_DATA") as raised:
        tokens.token()
    assert str(runtime) in str(raised.value)
    monkeypatch.setenv("RUNTIME_DATA", str(runtime))
    with pytest.raises(ValueError, match=re.escape(str(runtime))):
        CaDBIO("http://127.0.0.1:1", cache_dir=tmp_path / "cache")


def test_the_token_file_is_private_and_keeps_every_server(tmp_path):
    config = tmp_path / "xdg" / "caldbio"
    path = save_token(config, URL, "tok-a", "2030-01-01T00:00:00+00:00")
    assert path == config / TOKEN_FILE
    assert config.stat().st_mode & 0o777 == 0o700
    assert path.stat().st_mode & 0o777 == 0o600
    save_token(config, "http://other:5000", "tok-b", None)
    save_token(config, URL, "tok-a2", None)  # replaces this URL's entry only
    assert path.stat().st_mode & 0o777 == 0o600
    assert json.loads(path.read_text()) == {
        URL: {"token": "tok-a2", "expires_at": None},
        "http://other:5000": {"token": "tok-b", "expires_at": None},
    }
    assert [p.name for p in config.iterdir()] == [TOKEN_FILE]  # no temporary file left
    assert TokenProvider(URL, environ={}, config_dir=config).token().value == "tok-a2"
    assert (
        TokenProvider("http://other:5000", environ={}, config_dir=config).token().value == "tok-b"
    )
    assert TokenProvider("http://third:5000", environ={}, config_dir=config).token() is None


def test_a_broken_token_file_is_ignored(tmp_path):
    (tmp_path / TOKEN_FILE).write_text("{broken")
    assert TokenProvider(URL, environ={}, config_dir=tmp_path).token() is None
    path = save_token(tmp_path, URL, "tok-new", None)
    assert json.loads(path.read_text()) == {URL: {"token": "tok-new", "expires_at": None}}


def test_an_exchanged_token_is_reused_then_renewed_before_it_expires(tmp_path):
    clock = Clock()
    tokens, exchange = provider(tmp_path, ["exchange"], clock=clock)
    first = tokens.token()
    assert first.expires_at == T0 + timedelta(minutes=10)
    clock.now = first.expires_at - RENEW_BEFORE - timedelta(seconds=1)
    assert tokens.token() is first
    assert len(exchange.calls) == 1
    clock.now = first.expires_at - RENEW_BEFORE  # within RENEW_BEFORE: renewed
    second = tokens.token()
    assert len(exchange.calls) == 2
    assert second.value == "tok-renewed-2"
    assert second.expires_at == clock.now + timedelta(minutes=10)
    assert tokens.token() is second
    tokens.forget_exchanged()  # the server refused it
    assert tokens.token().value == "tok-renewed-3"
    assert len(exchange.calls) == 3


def test_an_exchanged_token_without_expiry_is_kept_until_forgotten(tmp_path):
    clock = Clock()
    tokens, exchange = provider(tmp_path, ["exchange"], clock=clock)
    exchange.expires = False
    first = tokens.token()
    clock.now = T0 + timedelta(days=30)
    assert tokens.token() is first
    tokens.forget_exchanged()
    assert tokens.token().value == "tok-renewed-2"


# -- against the real server ---------------------------------------------------------------


def gain_file(tmp_path, name, valid_from):
    path = tmp_path / name
    path.write_bytes(calfile_bytes(MXT_GAIN | {"CVSD0001": valid_from}))
    return path


@pytest.fixture
def bob(server, make_client, monkeypatch):
    """A real uploader whose name and password are in the environment."""
    add_user(extension(server.app).database, "bob", "correct horse battery", "uploader")
    monkeypatch.setenv("CALDB_USERNAME", "bob")
    monkeypatch.setenv("CALDB_PASSWORD", "correct horse battery")
    return make_client()


def exchanges(server):
    return server.meter.paths.count("/api/v1/auth/token")


def test_a_password_is_exchanged_once_for_several_uploads(bob, server, tmp_path):
    first = bob.upload(gain_file(tmp_path, "gain_v1.fits", "2024-06-22"))
    second = bob.upload(gain_file(tmp_path, "gain_v2.fits", "2025-06-01"))
    assert first.created
    assert second.created
    assert exchanges(server) == 1
    assert bob.tokens.token().source == "CALDB_USERNAME/CALDB_PASSWORD (bob)"
    history = bob.dataset(second.datasets[0].id)
    assert history["uploaded_by"] == "bob"


def test_a_revoked_exchanged_token_names_its_source_then_is_exchanged_again(bob, server, tmp_path):
    bob.upload(gain_file(tmp_path, "gain_v1.fits", "2024-06-22"))
    with extension(server.app).database.unit_of_work() as session:
        assert revoke_subject(session, "bob", actor="test", now=utcnow()) == 1
    with pytest.raises(AuthError) as raised:
        bob.upload(gain_file(tmp_path, "gain_v2.fits", "2025-06-01"))
    assert raised.value.status == 401
    assert "CALDB_USERNAME" in raised.value.token_source
    assert "CALDB_USERNAME" in str(raised.value)
    assert "correct horse" not in str(raised.value)
    assert bob.upload(gain_file(tmp_path, "gain_v2.fits", "2025-06-01")).created
    assert exchanges(server) == 2


def test_a_refused_password_says_it_came_from_caldb_username(bob, monkeypatch, tmp_path):
    monkeypatch.setenv("CALDB_PASSWORD", "wrong password")
    with pytest.raises(AuthError) as raised:
        bob.upload(gain_file(tmp_path, "gain_v1.fits", "2024-06-22"))
    assert "wrong password" not in str(raised.value)
    assert "CALDB_USERNAME" in (raised.value.token_source or "")


def closed_url():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def test_the_url_comes_from_caldb_url_then_runtime_data(
    server, clean_environment, monkeypatch, tmp_path
):
    runtime = tmp_path / "runtime_data.json"
    runtime.write_text(json.dumps({"caldb": {"url": server.url + "/", "as_of": "2025-01-01"}}))
    monkeypatch.setenv("RUNTIME_DATA", str(runtime))
    with CaDBIO(cache_dir=tmp_path / "cache", max_tries=1) as client:
        assert client.url == server.url
        assert client.default_as_of == "2025-01-01"
        assert "SVOM" in {m["name"] for m in client.instruments()["missions"]}
    assert "/api/v1/instruments" in server.meter.paths
    monkeypatch.setenv("CALDB_URL", closed_url())
    with CaDBIO(cache_dir=tmp_path / "cache", max_tries=1) as client:
        assert client.url != server.url  # CALDB_URL wins over RUNTIME_DATA
    monkeypatch.setenv("CALDB_URL", server.url)
    monkeypatch.delenv("RUNTIME_DATA")
    with CaDBIO(cache_dir=tmp_path / "cache", max_tries=1) as client:
        assert client.url == server.url
        assert client.instruments()["missions"]
    with CaDBIO("http://explicit:1/", cache_dir=tmp_path / "cache") as client:
        assert client.url == "http://explicit:1"
