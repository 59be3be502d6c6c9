"""Where CaDBIO finds its bearer token, in the order of SPEC §4.

1. ``token=`` given to :class:`~caldbio.CaDBIO`;
2. the ``CALDB_TOKEN`` environment variable;
3. ``caldb.token`` in the ``runtime_data.json`` named by ``RUNTIME_DATA`` (pipeline bricks);
4. the user's token file, written by ``caldbio login`` (mode 600), for this server URL;
5. ``CALDB_USERNAME``/``CALDB_PASSWORD``, exchanged at ``/api/v1/auth/token`` and renewed
   shortly before the token expires.

Each token remembers its source, so that an :class:`~caldbio.errors.AuthError` can say
which one the server refused.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from caldb_common.atomic import write_text_atomically
from caldbio.errors import AuthError

__all__ = [
    "Token",
    "TokenProvider",
    "default_config_dir",
    "read_runtime_data",
    "save_token",
]

RENEW_BEFORE = timedelta(seconds=60)
TOKEN_FILE = "tokens.json"  # noqa: S105 - a file name


@dataclass(frozen=True)
class Token:
    """A bearer token and where it came from (for error messages, never the token)."""

    value: str
    source: str
    expires_at: datetime | None = None

    def expires_soon(self, now: datetime) -> bool:
        """Whether the token should be renewed before it is used."""
        return self.expires_at is not None and self.expires_at - now <= RENEW_BEFORE


def default_config_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$CALDBIO_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/caldbio``, else ``~/.config/caldbio``."""
    environ = os.environ if environ is None else environ
    if environ.get("CALDBIO_CONFIG_DIR"):
        return Path(environ["CALDBIO_CONFIG_DIR"])
    base = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "caldbio"


def read_runtime_data(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``caldb`` section of a brick's ``runtime_data.json`` (empty if it has none).

    Raises
    ------
    ValueError
        If the file cannot be read or is not a JSON object.
    """
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read RUNTIME_DATA {path}: {error}") from None
    if not isinstance(document, dict):
        raise ValueError(f"RUNTIME_DATA {path} is not a JSON object")  # noqa: TRY004 - content
    section = document.get("caldb")
    return section if isinstance(section, dict) else {}


def _read_token_file(config_dir: Path) -> dict[str, Any]:
    try:
        document = json.loads((config_dir / TOKEN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}


def save_token(config_dir: Path, url: str, token: str, expires_at: str | None) -> Path:
    """Store ``token`` for ``url`` in the user's token file, readable by the user only."""
    config_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    tokens = _read_token_file(config_dir)
    tokens[url] = {"token": token, "expires_at": expires_at}
    path = config_dir / TOKEN_FILE
    # Created private (0600) before anything is written: never readable by others, even briefly.
    write_text_atomically(path, json.dumps(tokens, indent=2), mode=0o600)
    return path


def _parse_instant(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        return None
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


class TokenProvider:
    """Finds the token for one server, and renews password-exchanged ones."""

    def __init__(
        self,
        url: str,
        *,
        explicit: str | None = None,
        environ: Mapping[str, str] | None = None,
        config_dir: Path | None = None,
        exchange: Callable[[str, str], dict[str, Any]] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.url = url
        self._explicit = explicit
        self._environ = os.environ if environ is None else environ
        self._config_dir = config_dir or default_config_dir(self._environ)
        self._exchange = exchange
        self._clock = clock
        self._exchanged: Token | None = None
        self._lock = threading.Lock()

    def token(self) -> Token | None:
        """The token to send, or None when no source has one."""
        found = self._static_token()
        if found is not None:
            return found
        username = self._environ.get("CALDB_USERNAME")
        password = self._environ.get("CALDB_PASSWORD")
        if not (username and password and self._exchange):
            return None
        source = f"CALDB_USERNAME/CALDB_PASSWORD ({username})"
        with self._lock:
            if self._exchanged is None or self._exchanged.expires_soon(self._clock()):
                try:
                    answer = self._exchange(username, password)
                except AuthError as error:
                    error.token_source = source
                    error.detail = f"{error.detail} (the credentials from {source})"
                    raise
                self._exchanged = Token(
                    answer["access_token"], source, _parse_instant(answer.get("expires_at"))
                )
            return self._exchanged

    def configured(self) -> bool:
        """Whether some source can give a token (asks no server)."""
        if self._static_token() is not None:
            return True
        return bool(self._environ.get("CALDB_USERNAME") and self._environ.get("CALDB_PASSWORD"))

    def forget_exchanged(self) -> None:
        """Drop a password-exchanged token the server refused (it may have been revoked)."""
        with self._lock:
            self._exchanged = None

    def _static_token(self) -> Token | None:
        if self._explicit:
            return Token(self._explicit, "the token= argument")
        if self._environ.get("CALDB_TOKEN"):
            return Token(self._environ["CALDB_TOKEN"], "the CALDB_TOKEN environment variable")
        runtime_data = self._environ.get("RUNTIME_DATA")
        if runtime_data:
            token = read_runtime_data(runtime_data).get("token")
            if isinstance(token, str) and token:
                return Token(token, f"caldb.token in RUNTIME_DATA ({runtime_data})")
        entry = _read_token_file(self._config_dir).get(self.url)
        if isinstance(entry, dict) and isinstance(entry.get("token"), str):
            path = self._config_dir / TOKEN_FILE
            saved = Token(
                entry["token"],
                f"the token file {path} (caldbio login)",
                _parse_instant(entry.get("expires_at")),
            )
            if saved.expires_at is None or saved.expires_at > self._clock():
                return saved  # an expired login gives way to the next source
        return None
