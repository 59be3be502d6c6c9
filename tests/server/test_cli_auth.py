"""caldb-server create-user, create-token and revoke-token, as the server then sees them."""

import os
import select
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest
import requests
from click.testing import CliRunner

from caldb_server.cli import main
from tests.helpers import assert_problem, bearer
from tests.server.test_cli import PROGRAM, run_cli
from tests.server.test_processes import BIN, free_port, running, server_env

PASSWORD = "correct horse battery"
WHOAMI = "/api/v1/auth/whoami"


@pytest.fixture
def cli_env(app_config):
    """The CALDB_* variables of the test app (its database, tree and registry)."""
    return {f"CALDB_{key}": str(value) for key, value in app_config.items() if key != "TESTING"}


@pytest.fixture
def admin(make_token):
    return bearer(make_token("admin", subject="root"))


def create_user(env, name, role, password):
    """``create-user`` in process, the password on (non-terminal) standard input."""
    arguments = ["create-user", name, "--role", role, "--actor", "ops"]
    return CliRunner().invoke(main, arguments, env=env, input=f"{password}\n")


def login(client, name, password):
    return client.post("/api/v1/auth/token", json={"username": name, "password": password})


def listed(client, admin, query=""):
    response = client.get(f"/api/v1/auth/tokens{query}", headers=admin)
    assert response.status_code == 200, response.get_json()
    return {token["jti"]: token for token in response.get_json()["tokens"]}


def test_create_user_reads_the_password_from_stdin(cli_env, client, admin):
    result = create_user(cli_env, "alice", "uploader", PASSWORD)
    assert result.exit_code == 0, result.output
    assert result.stdout == "user alice created with role uploader\n"
    assert PASSWORD not in result.output
    user = client.get("/api/v1/users/alice", headers=admin).get_json()
    assert (user["role"], user["created_by"], user["disabled"]) == ("uploader", "ops", False)
    response = login(client, "alice", PASSWORD)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["roles"] == ["uploader"]


def test_create_user_refusals_have_their_exit_codes(cli_env, client, admin):
    assert create_user(cli_env, "alice", "reader", PASSWORD).exit_code == 0
    for name in ("alice", "ALICE"):
        taken = create_user(cli_env, name, "admin", "another long passphrase")
        assert taken.exit_code == 4, taken.output
        assert "already a user named" in taken.stderr
    short = create_user(cli_env, "bob", "reader", "short")
    assert short.exit_code == 3, short.output
    assert "password: must have 12 to 1024 characters" in short.stderr
    bad_name = create_user(cli_env, "bob smith", "reader", PASSWORD)
    assert bad_name.exit_code == 3, bad_name.output
    assert "name: must be" in bad_name.stderr
    role = create_user(cli_env, "bob", "superuser", PASSWORD)
    assert role.exit_code == 2, role.output
    assert "Invalid value for '--role'" in role.stderr
    users = client.get("/api/v1/users", headers=admin).get_json()["users"]
    assert [(u["name"], u["role"]) for u in users] == [("alice", "reader")]


def converse(args, env, answers, timeout=60):
    """Run the installed program on a pseudo-terminal, answering its prompts in order.

    ``answers`` are (prompt, reply) pairs; each reply is typed once its prompt has appeared.
    Returns the exit code and everything the program wrote to the terminal.
    """
    if not PROGRAM.is_file():
        pytest.skip(f"{PROGRAM} is not installed (pip install -e .[server])")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CALDB_")} | env
    master, terminal = os.openpty()
    process = subprocess.Popen(
        [str(PROGRAM), *args],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=environment,
        start_new_session=True,
    )
    os.close(terminal)
    output, answered, pending = b"", 0, list(answers)
    deadline = time.monotonic() + timeout
    try:
        while True:
            ready, _, _ = select.select([master], [], [], max(0, deadline - time.monotonic()))
            assert ready, f"the program is stuck; it wrote {output!r}"
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: every copy of the terminal is closed, the program is done
                break
            if not chunk:
                break
            output += chunk
            if pending and pending[0][0].encode() in output[answered:]:
                answered = len(output)
                os.write(master, pending.pop(0)[1].encode() + b"\n")
        assert pending == [], f"never prompted for {pending[0][0]!r}; got {output!r}"
        return process.wait(timeout=timeout), output.decode()
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
            process.wait()


def test_create_user_prompts_twice_on_a_terminal_without_echo(cli_env, client):
    code, output = converse(
        ["create-user", "pat", "--role", "reader"],
        cli_env,
        [("Password: ", PASSWORD), ("Repeat for confirmation: ", PASSWORD)],
    )
    assert code == 0, output
    assert "user pat created with role reader" in output
    assert PASSWORD not in output
    assert login(client, "pat", PASSWORD).status_code == 200


def test_create_token_is_recorded_and_revoke_token_refuses_it(cli_env, client, admin):
    created = run_cli(cli_env, "create-token", "--role", "uploader", "--sub", "robot")
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    assert listed(client, admin)[jti]["subject"] == "robot"
    assert client.get(WHOAMI, headers=bearer(token)).get_json()["jti"] == jti
    revoked = run_cli(cli_env, "revoke-token", jti, "--actor", "ops")
    assert revoked.exit_code == 0, revoked.output
    assert revoked.stdout.startswith(f"token {jti} revoked at ")
    assert "revoked" in assert_problem(client.get(WHOAMI, headers=bearer(token)), 401)["detail"]
    assert jti not in listed(client, admin)
    record = listed(client, admin, "?all=true")[jti]
    assert (record["revoked_by"], record["subject"]) == ("ops", "robot")
    assert record["revoked_at"] is not None
    again = run_cli(cli_env, "revoke-token", jti)  # harmless, and keeps the first revocation
    assert again.exit_code == 0, again.output
    assert listed(client, admin, "?all=true")[jti] == record


def test_revoke_token_of_a_login_token(cli_env, client, admin):
    assert create_user(cli_env, "alice", "reader", PASSWORD).exit_code == 0
    issued = login(client, "alice", PASSWORD).get_json()
    assert run_cli(cli_env, "revoke-token", issued["jti"]).exit_code == 0
    assert_problem(client.get(WHOAMI, headers=bearer(issued["access_token"])), 401)
    assert listed(client, admin) == {}


@pytest.mark.parametrize("jti", ["x" * 201, "tab\there"], ids=["too long", "unprintable"])
def test_revoke_token_refuses_a_bad_token_id(cli_env, client, admin, jti):
    result = run_cli(cli_env, "revoke-token", jti)
    assert result.exit_code == 2, result.output
    assert "JTI" in result.stderr
    assert listed(client, admin, "?all=true") == {}


@pytest.mark.slow
@pytest.mark.postgresql
def test_every_worker_refuses_a_revoked_token_at_once(backend, app, app_config, cli_env):
    if backend["name"] != "postgresql":
        pytest.skip("several server processes share a PostgreSQL database, not a SQLite file")
    created = run_cli(cli_env, "create-token", "--role", "reader", "--sub", "robot")
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    port = free_port()
    command = [BIN / "gunicorn", "-w", "3", "--no-control-socket", "-b", f"127.0.0.1:{port}"]
    command.append("caldb_server:create_app()")

    def whoami(url):
        response = requests.get(f"{url}{WHOAMI}", headers=bearer(token), timeout=30)
        return response.status_code, response.json()

    with running(command, server_env(app_config), port) as (_process, url):
        with ThreadPoolExecutor(12) as pool:  # concurrent, so that every worker answers some
            before = list(pool.map(whoami, [url] * 12))
        assert [(status, body["jti"]) for status, body in before] == [(200, jti)] * 12
        assert run_cli(cli_env, "revoke-token", jti).exit_code == 0
        with ThreadPoolExecutor(12) as pool:
            after = list(pool.map(whoami, [url] * 12))
    assert [status for status, _ in after] == [401] * 12
    assert all("revoked" in body["detail"] for _, body in after)
