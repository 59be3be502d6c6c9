"""The cluster of the deployment tests, shared by a module: nginx, two instances, PostgreSQL."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import PG_UNSET, PG_URL_VARIABLE, SECRET
from tests.deploy.cluster import (
    ACCEL_PREFIX,
    FAIL_TIMEOUT_S,
    PROGRAM,
    TEMPLATE,
    Cluster,
    Instance,
    Nginx,
    fresh_database,
    render_nginx_config,
)
from tests.server.test_cfitsio import fitscopy  # noqa: F401 - CFITSIO's check, reused here
from tests.server.test_processes import free_port

MAX_UPLOAD_MB = "8"
# nginx is often in /usr/sbin, outside an unprivileged user's PATH.
NGINX = shutil.which("nginx", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")


def _instance_environ(database_url: str, root: Path, instance: Path) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CALDB_")}
    return environ | {
        "CALDB_DATABASE_URL": database_url,
        "CALDB_ROOT": str(root),
        "CALDB_INSTANCE_PATH": str(instance),
        "CALDB_SECRET_KEY": SECRET,
        "CALDB_ACCEL_REDIRECT": ACCEL_PREFIX,
        "CALDB_MAX_UPLOAD_MB": MAX_UPLOAD_MB,
        "CALDB_PUBLIC_READ": "true",
    }


def _nginx(directory: Path, root: Path, instances: list[Instance]) -> Nginx:
    state = directory / "nginx"
    state.mkdir()
    port = free_port()
    servers = " ".join(
        f"server {i.address} max_fails=1 fail_timeout={FAIL_TIMEOUT_S}s;" for i in instances
    )
    values = {
        "LISTEN": f"127.0.0.1:{port}",
        "SERVER_NAME": "_",
        "UPSTREAM_SERVERS": servers,
        "CALDB_ROOT": str(root),
        "STATE_DIR": str(state),
        "MAX_UPLOAD_MB": MAX_UPLOAD_MB,
    }
    config = directory / "nginx.conf"
    config.write_text(render_nginx_config(TEMPLATE.read_text(), values))
    return Nginx(config, state, port, program=str(NGINX))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Instances A and B (public reads) behind nginx, on a database of their own."""
    if NGINX is None:
        pytest.skip("nginx is not installed (make system-deps installs it)")
    server_url = os.environ.get(PG_URL_VARIABLE)
    if not server_url:
        pytest.skip(PG_UNSET)
    if not PROGRAM.is_file():
        pytest.skip(f"{PROGRAM} is not installed (pip install -e .[server])")
    directory = tmp_path_factory.mktemp("deploy")
    root = directory / "tree"
    with ExitStack() as stack:
        try:
            database_url = stack.enter_context(fresh_database(server_url))
        except sa.exc.OperationalError as error:
            pytest.skip(f"PostgreSQL at {PG_URL_VARIABLE} is unreachable: {error.orig}")
        instances = []
        for name in ("A", "B"):
            (directory / name).mkdir()
            environ = _instance_environ(database_url, root, directory / name / "instance")
            instances.append(Instance(name, free_port(), environ, directory / name))
        cluster = Cluster(instances, _nginx(directory, root, instances), root)
        stack.callback(cluster.shutdown)
        init = subprocess.run(
            [PROGRAM, "init"],
            env=instances[0].environ,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert init.returncode == 0, init.stdout + init.stderr
        for instance in instances:
            instance.start()
        cluster.nginx.start()
        yield cluster
