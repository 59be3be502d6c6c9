"""Settings from the environment, and the registry file with its schema."""

import copy

import pytest

from caldb_server.config import ConfigError, MissingSecret, load_settings
from caldb_server.registry import RegistryError, load_registry, parse_registry

GOOD = {
    "missions": [
        {
            "name": "SVOM",
            "aliases": {"ECLAIRS": ["ECL"]},
            "instruments": [
                {"name": "MXT", "dir": "data/svom/mxt"},
                {"name": "ECL", "dir": "data/svom/ecl"},
            ],
        }
    ]
}


def test_defaults_are_an_embedded_instance(tmp_path):
    environ = {"CALDB_INSTANCE_PATH": str(tmp_path)}
    settings = load_settings(environ=environ, create_secret=True)  # what init does
    assert settings.database_url == f"sqlite:///{tmp_path / 'caldb.sqlite'}"
    assert settings.root == tmp_path / "caldb"
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    again = load_settings(environ=environ)
    assert again.secret_key == settings.secret_key  # generated once, then kept
    assert load_settings(environ=environ, create_secret=True).secret_key == settings.secret_key


def test_reading_the_settings_creates_nothing(tmp_path):
    instance = tmp_path / "instance"
    with pytest.raises(MissingSecret, match="caldb-server init"):
        load_settings(environ={"CALDB_INSTANCE_PATH": str(instance)})
    assert not instance.exists()
    given = load_settings(
        environ={"CALDB_INSTANCE_PATH": str(instance), "CALDB_SECRET_KEY": "k" * 40}
    )
    assert given.secret_key == "k" * 40
    assert not instance.exists()


def test_environment_wins_and_overrides_win_over_it(tmp_path):
    environ = {
        "CALDB_INSTANCE_PATH": str(tmp_path),
        "CALDB_MAX_UPLOAD_MB": "7",
        "CALDB_SECRET_KEY": "k" * 40,
    }
    assert load_settings(environ=environ).max_upload_mb == 7
    assert load_settings({"MAX_UPLOAD_MB": 3}, environ=environ).max_upload_mb == 3


@pytest.mark.parametrize(
    "environ",
    [
        {"CALDB_MAX_UPLOAD_MB": "lots"},
        {"CALDB_MAX_UPLOAD_MB": "0"},
        {"CALDB_SECRET_KEY": "short"},
        {"CALDB_TOKEN_DAYS": "-1"},
    ],
)
def test_bad_settings_are_refused(tmp_path, environ):
    base = {"CALDB_INSTANCE_PATH": str(tmp_path), "CALDB_SECRET_KEY": "k" * 40}
    with pytest.raises(ConfigError) as raised:
        load_settings(environ=base | environ)
    assert not isinstance(raised.value, MissingSecret)
    assert next(iter(environ)) in str(raised.value)


def test_registry_expands_aliases_and_resolves_single_targets():
    registry = parse_registry(GOOD)
    assert registry.expand("SVOM", "ECLAIRS") == ("ECL",)
    assert registry.expand("SVOM", "MXT") == ("MXT",)
    assert registry.expand("SVOM", "VT") is None
    assert registry.expand("NOPE", "MXT") is None
    assert registry.resolve("SVOM", "ECLAIRS") == "ECL"
    assert registry.resolve("SVOM", "OTHER") == "OTHER"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["missions"][0].update(name="svom"), "name"),
        (lambda d: d["missions"][0]["instruments"][0].update(dir="/etc/passwd"), "dir"),
        (lambda d: d["missions"][0]["instruments"][0].update(dir="data/../x"), "dir"),
        (
            lambda d: d["missions"][0]["instruments"].append({"name": "MXT", "dir": "data/svom/x"}),
            "twice",
        ),
        (lambda d: d["missions"][0]["aliases"].update(ECLAIRS=["NOPE"]), "unknown instrument"),
        (lambda d: d["missions"][0]["aliases"].update(MXT=["ECL"]), "also an instrument"),
        (lambda d: d["missions"].append(dict(d["missions"][0])), "declared twice"),
        (lambda d: d.update(extra=1), "extra"),
        (
            lambda d: d["missions"][0]["instruments"][0].update(
                codenames={"GAIN": "x"}, onboard={"GAIN": "x"}
            ),
            "both calibration and onboard",
        ),
        (
            lambda d: d["missions"][0]["instruments"][0].update(onboard={"EVT_THR": "x"}),
            "onboard",
        ),
    ],
)
def test_invalid_registries_are_refused_with_the_reason(change, message):
    document = copy.deepcopy(GOOD)
    change(document)
    with pytest.raises(RegistryError, match=message):
        parse_registry(document)


def test_unreadable_registry_file(tmp_path):
    path = tmp_path / "registry.yaml"
    path.write_text("missions: [unclosed")
    with pytest.raises(RegistryError, match="cannot read"):
        load_registry(path)
    with pytest.raises(RegistryError, match="cannot read"):
        load_registry(tmp_path / "missing.yaml")


def test_postgresql_urls_use_the_installed_psycopg_driver():
    from caldb_server.db import make_engine  # noqa: PLC0415 - only this test needs it

    engine = make_engine("postgresql://user@127.0.0.1:1/caldb")
    assert engine.url.drivername == "postgresql+psycopg"
    engine.dispose()


def test_secret_is_created_once_even_when_processes_race(tmp_path):
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

    environ = {"CALDB_INSTANCE_PATH": str(tmp_path)}
    with ThreadPoolExecutor(8) as pool:
        secrets = set(
            pool.map(
                lambda _: load_settings(environ=environ, create_secret=True).secret_key, range(32)
            )
        )
    assert len(secrets) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]  # no leftover candidate


@pytest.mark.parametrize("url", ["ftp://x", "caldb.example.org", "https://a b"])
def test_public_url_must_be_http(tmp_path, url):
    with pytest.raises(ConfigError, match="PUBLIC_URL"):
        load_settings(
            environ={
                "CALDB_INSTANCE_PATH": str(tmp_path),
                "CALDB_SECRET_KEY": "k" * 40,
                "CALDB_PUBLIC_URL": url,
            }
        )


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://alice:hunter2-secret@db:notaport/caldb",
        "not a url",
        "mysql://alice:hunter2-secret@db/caldb",
        "postgresql+asyncpg://alice:hunter2-secret@db/caldb",
    ],
)
def test_a_malformed_database_url_is_a_configuration_error_that_hides_it(url, tmp_path):
    environ = {"CALDB_DATABASE_URL": url, "CALDB_SECRET_KEY": "k" * 40}
    with pytest.raises(ConfigError, match="CALDB_DATABASE_URL must be") as caught:
        load_settings({"INSTANCE_PATH": tmp_path}, environ=environ)
    assert "hunter2" not in str(caught.value)
