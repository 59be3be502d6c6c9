"""The logs of ``caldb-server serve``: gunicorn's error and access logs, and the app's own.

Text (the default) keeps gunicorn's error-log lines and writes one readable access line per
request, with its duration. JSON (``--log-format json`` or ``CALDB_LOG_FORMAT=json``) writes
one JSON object per line for both, for a log collector. The app's loggers (``caldb_server``:
sign-ins, tokens, unhandled errors) write to the error log in the same format, from INFO
up. Only the standard library is used: a formatter is a few lines.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from gunicorn import glogging

__all__ = [
    "ACCESS_FORMAT",
    "LOG_FORMATS",
    "JsonFormatter",
    "JsonServerLogs",
    "TextServerLogs",
    "configure_app_logs",
    "dev_server_logs",
]

LOG_FORMATS = ("text", "json")
APP_LOGGER = "caldb_server"
# Remote address, local time, request line, status, bytes sent, seconds taken, user agent.
ACCESS_FORMAT = '%(h)s %(t)s "%(r)s" %(s)s %(b)s %(L)ss "%(a)s"'


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines in values are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as ``{"time", "level", "logger", "pid", "message"...}``."""
        document: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        document.update(getattr(record, "fields", {}))
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str)


def configure_app_logs(handlers: list[logging.Handler]) -> None:
    """Send the app's records (INFO and up) to ``handlers`` only.

    Not through the root logger: raising the root to INFO would also turn on SQLAlchemy's
    statement log, which checks the effective level of its own loggers.
    """
    logger = logging.getLogger(APP_LOGGER)
    logger.handlers = list(handlers)
    logger.setLevel(logging.INFO)
    logger.propagate = False


class TextServerLogs(glogging.Logger):
    """gunicorn's logs as text; the app's records join the error log."""

    def setup(self, cfg: Any) -> None:
        """Set gunicorn's handlers up (again on SIGHUP), then the app's."""
        super().setup(cfg)
        configure_app_logs(self.error_log.handlers)


class JsonServerLogs(TextServerLogs):
    """gunicorn's logs and the app's as JSON lines; access records carry the request's fields."""

    def setup(self, cfg: Any) -> None:
        """Give every handler gunicorn made the JSON formatter."""
        super().setup(cfg)
        for handler in (*self.error_log.handlers, *self.access_log.handlers):
            handler.setFormatter(JsonFormatter())

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        """One record per request, its fields unescaped (gunicorn's text atoms quote them)."""
        if not self.access_log_enabled:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        fields = {
            "remote": atoms["h"],
            "method": atoms["m"],
            "path": atoms["U"],
            "query": atoms["q"] or "",
            "status": _status_code(atoms["s"]),
            "bytes": atoms["B"],
            "duration_ms": round(atoms["D"] / 1000, 3),
            "user_agent": atoms["a"],
        }
        message = f"{atoms['m']} {atoms['U']} {atoms['s']}"
        self.access_log.info(message, extra={"fields": fields})


def _status_code(status: Any) -> int | str:
    text = str(status)
    return int(text) if text.isdigit() else text


def dev_server_logs(log_format: str) -> None:
    """The development server's logs: the app's and werkzeug's request lines on stderr."""
    if log_format != "json":
        return  # werkzeug's own request lines, as ever
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    configure_app_logs([handler])
    werkzeug = logging.getLogger("werkzeug")
    werkzeug.handlers = [handler]
    werkzeug.setLevel(logging.INFO)
    werkzeug.propagate = False
