"""Server settings, read from ``CALDB_*`` environment variables.

Every setting has a safe embedded default so that ``caldb-server init`` works on a fresh
machine: a SQLite database and a file tree inside the instance folder, and a secret key
generated once into that folder (mode 600) by ``init``. Reading the settings creates
nothing: a command refused on a never-initialised instance leaves it as it was. Production
sets ``CALDB_DATABASE_URL`` to PostgreSQL and shares ``CALDB_ROOT`` and
``CALDB_SECRET_KEY`` between processes.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

__all__ = [
    "ConfigError",
    "MissingSecret",
    "OidcSettings",
    "Settings",
    "load_settings",
    "parse_flag",
]

DEFAULT_REGISTRY = Path(__file__).parent / "registry" / "svom.yaml"


class ConfigError(ValueError):
    """A setting with a value the server cannot use."""


class MissingSecret(ConfigError):
    """No ``CALDB_SECRET_KEY`` and no instance secret: the instance was never initialised."""


@dataclass(frozen=True)
class OidcSettings:
    """An external identity provider whose tokens are accepted (``CALDB_OIDC_*``)."""

    issuer: str
    audience: str
    jwks: str  # a JWKS or PEM file path, or an http(s) URL of a JWKS document
    roles_claim: str = "roles"


@dataclass(frozen=True)
class Settings:
    """Validated server settings (each variable is described in the README)."""

    instance_path: Path
    database_url: str
    root: Path
    secret_key: str
    registry_path: Path
    max_upload_mb: int = 512
    max_hdus: int = 1000  # HDUs per uploaded FITS file, the primary included
    token_issuer: str = "svom-caldb"  # noqa: S105 - an issuer name, not a secret
    token_days: int = 30
    public_url: str | None = None
    public_read: bool = True
    oidc: OidcSettings | None = None
    login_attempts: int = 5
    login_window_s: int = 300
    access_token_minutes: int = 60
    accel_redirect: str | None = None  # nginx's internal location of the tree (X-Accel-Redirect)
    webhook_allow_private: bool = False  # webhooks to loopback/private/link-local addresses

    @property
    def max_upload_bytes(self) -> int:
        """Largest accepted request body, in bytes."""
        return self.max_upload_mb * 1024 * 1024


def _positive_int(name: str, value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be an integer, got {value!r}") from None
    if number <= 0:
        raise ConfigError(f"{name} must be positive, got {number}")
    return number


def _secret_from_file(path: Path, *, create: bool) -> str:
    """Read the instance secret; with ``create``, make it first if it is missing.

    Several processes may initialise at once: the secret is written in full to a private
    file, then linked into place, which only one of them can do; the others read it.
    """
    if not create and not path.exists():
        raise MissingSecret(
            f"there is no secret key ({path} is missing): run 'caldb-server init', "
            "or set CALDB_SECRET_KEY (the same for every host of one CalDB)"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        candidate = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        descriptor = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        try:
            os.link(candidate, path)
        except FileExistsError:
            pass  # another process was first: use its secret
        finally:
            candidate.unlink()
    return path.read_text().strip()


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    create_secret: bool = False,
) -> Settings:
    """Build the settings from the environment, then ``overrides`` (used by tests).

    Parameters
    ----------
    overrides : mapping, optional
        Keys without the ``CALDB_`` prefix (``DATABASE_URL``, ``ROOT``...), which win over
        the environment.
    environ : mapping, optional
        The environment to read; ``os.environ`` by default.
    create_secret : bool
        Generate ``<instance>/secret_key`` if there is neither it nor ``CALDB_SECRET_KEY``
        (``caldb-server init``); otherwise that is a :class:`MissingSecret`.

    Raises
    ------
    ConfigError
        If a value is malformed, or (:class:`MissingSecret`) there is no secret key.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {
        key.removeprefix("CALDB_"): value
        for key, value in environ.items()
        if key.startswith("CALDB_")
    }
    values.update(overrides or {})
    instance = Path(values.get("INSTANCE_PATH") or Path.cwd() / "instance").resolve()
    secret = values.get("SECRET_KEY") or _secret_from_file(
        instance / "secret_key", create=create_secret
    )
    if len(secret) < 32:
        raise ConfigError("CALDB_SECRET_KEY must be at least 32 characters long")
    return Settings(
        instance_path=instance,
        database_url=_database_url(values.get("DATABASE_URL"), instance),
        root=Path(values.get("ROOT") or instance / "caldb").resolve(),
        secret_key=secret,
        registry_path=Path(values.get("REGISTRY") or DEFAULT_REGISTRY).resolve(),
        max_upload_mb=_positive_int("CALDB_MAX_UPLOAD_MB", values.get("MAX_UPLOAD_MB", 512)),
        max_hdus=_positive_int("CALDB_MAX_HDUS", values.get("MAX_HDUS", 1000)),
        token_issuer=values.get("TOKEN_ISSUER") or "svom-caldb",
        token_days=_positive_int("CALDB_TOKEN_DAYS", values.get("TOKEN_DAYS", 30)),
        public_url=_public_url(values.get("PUBLIC_URL")),
        public_read=_flag("CALDB_PUBLIC_READ", values.get("PUBLIC_READ", True)),
        oidc=_oidc(values),
        login_attempts=_positive_int("CALDB_LOGIN_ATTEMPTS", values.get("LOGIN_ATTEMPTS", 5)),
        login_window_s=_positive_int("CALDB_LOGIN_WINDOW", values.get("LOGIN_WINDOW", 300)),
        access_token_minutes=_positive_int(
            "CALDB_ACCESS_TOKEN_MINUTES", values.get("ACCESS_TOKEN_MINUTES", 60)
        ),
        accel_redirect=_accel_redirect(values.get("ACCEL_REDIRECT")),
        webhook_allow_private=_flag(
            "CALDB_WEBHOOK_ALLOW_PRIVATE", values.get("WEBHOOK_ALLOW_PRIVATE", False)
        ),
    )


# The backends this project installs drivers for (setup.cfg: the stdlib sqlite3, psycopg 3).
_BACKENDS = ("sqlite", "sqlite+pysqlite", "postgresql", "postgres", "postgresql+psycopg")


def _database_url(text: str | None, instance: Path) -> str:
    """``CALDB_DATABASE_URL``, checked now.

    A malformed one is a one-line configuration error, never a traceback from deep in
    SQLAlchemy; its text is not echoed (it may hold a password).
    """
    if not text:
        return f"sqlite:///{instance / 'caldb.sqlite'}"
    problem = "CALDB_DATABASE_URL must be sqlite:///PATH or postgresql://USER@HOST[:PORT]/NAME"
    try:
        url = make_url(text)
        _ = url.port  # a port that is not a number raises here
    except (ArgumentError, ValueError):
        raise ConfigError(problem) from None
    if url.drivername not in _BACKENDS:
        raise ConfigError(f"{problem}, not {url.drivername}://")
    return text


_FLAGS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def parse_flag(text: str) -> bool:
    """A boolean setting or request value: true/false, 1/0, yes/no (any case).

    Raises
    ------
    ValueError
        For anything else.
    """
    try:
        return _FLAGS[text.strip().lower()]
    except KeyError:
        raise ValueError("must be true or false") from None


def _flag(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    try:
        return parse_flag(str(value))
    except ValueError:
        raise ConfigError(f"{name} must be true or false, got {value!r}") from None


_OIDC_REQUIRED = ("OIDC_ISSUER", "OIDC_AUDIENCE", "OIDC_JWKS")


def _oidc(values: Mapping[str, Any]) -> OidcSettings | None:
    """The identity provider, when its issuer, audience and keys are all set."""
    present = [name for name in _OIDC_REQUIRED if values.get(name)]
    if not present:
        return None
    if len(present) < len(_OIDC_REQUIRED):
        missing = ", ".join(f"CALDB_{n}" for n in _OIDC_REQUIRED if n not in present)
        raise ConfigError(f"an external identity provider also needs {missing}")
    jwks = str(values["OIDC_JWKS"])
    if not jwks.startswith(("http://", "https://")):
        path = Path(jwks).expanduser().resolve()
        if not path.is_file():
            raise ConfigError(f"CALDB_OIDC_JWKS names no file: {jwks}")
        jwks = str(path)
    roles_claim = str(values.get("OIDC_ROLES_CLAIM") or "roles")
    if not all(part.strip() for part in roles_claim.split(".")):
        raise ConfigError(f"CALDB_OIDC_ROLES_CLAIM must be a claim name, got {roles_claim!r}")
    return OidcSettings(
        issuer=str(values["OIDC_ISSUER"]),
        audience=str(values["OIDC_AUDIENCE"]),
        jwks=jwks,
        roles_claim=roles_claim,
    )


def _public_url(value: Any) -> str | None:
    """The URL clients reach the server at (behind a proxy), without a trailing slash."""
    if not value:
        return None
    url = str(value).rstrip("/")
    if not url.startswith(("http://", "https://")) or any(c.isspace() for c in url):
        raise ConfigError(f"CALDB_PUBLIC_URL must be an http(s) URL, got {value!r}")
    return url


# A location path: segments not starting with a dot (so no '..'), no '?', '%' or '//'.
_ACCEL_PREFIX = re.compile(r"/(?:[A-Za-z0-9_-][A-Za-z0-9_.-]*/)+")


def _accel_redirect(value: Any) -> str | None:
    """The prefix of nginx's internal location of the tree, e.g. ``/_caldb_files/``.

    Set, the server answers a file it serves with an empty body and ``X-Accel-Redirect:
    <prefix><path in the tree>``, which nginx sends from that location (its ``alias`` is
    ``CALDB_ROOT``). Unset (the default), the server sends the bytes itself.
    """
    if not value:
        return None
    prefix = str(value)
    if not _ACCEL_PREFIX.fullmatch(prefix):
        raise ConfigError(
            f"CALDB_ACCEL_REDIRECT must be a location path such as /_caldb_files/ "
            f"(starting and ending with /), got {value!r}"
        )
    return prefix
