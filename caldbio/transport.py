"""HTTP with retries: one ``requests.Session`` whose adapter retries with urllib3's ``Retry``.

Retried, up to ``max_tries`` attempts in all, with exponential backoff and jitter:
connection errors, timeouts, and the answers 429, 502, 503 and 504 (``Retry-After`` is
honoured, capped at :data:`MAX_RETRY_AFTER_S`). Never retried: any other 4xx, which a
second attempt would not change. Every method is retried, uploads included: the server
makes them idempotent by content. A download whose body breaks off after the headers is
retried by :mod:`caldbio.client`, which owns the file being written.

With ``give_up_when_refused`` (the client sets it in ``CALDBIO_OFFLINE=auto`` mode), a
connection refused, or a network said to be unreachable, is final at the first attempt:
that answer comes at once and would not change within the backoff, so the client falls back
to its offline copy without waiting. Resets, timeouts and 5xx/429 answers are still retried.
"""

from __future__ import annotations

import errno
import random
import re
import time
from collections.abc import Callable
from typing import Any, Self

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError
from urllib3.util.retry import Retry

from caldb_common.api import API_PREFIX
from caldbio.errors import TransportError, error_from_response

__all__ = ["RETRY_STATUSES", "Transport", "backoff_delays"]

RETRY_STATUSES = frozenset({429, 502, 503, 504})
MAX_RETRY_AFTER_S = 120.0
BACKOFF_S = 0.5
MAX_BACKOFF_S = 30.0


class _CappedRetry(Retry):
    """urllib3 ``Retry`` that never waits longer than :data:`MAX_RETRY_AFTER_S`."""

    def get_retry_after(self, response: Any) -> float | None:
        wait = super().get_retry_after(response)
        return None if wait is None else min(wait, MAX_RETRY_AFTER_S)


class _RefusedIsFinalRetry(_CappedRetry):
    """``_CappedRetry`` that does not retry a connection the server's host refused."""

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> Self:
        if error is not None and is_refused(error):
            raise MaxRetryError(_pool, url or "", error) from error
        return super().increment(method, url, response, error, _pool, _stacktrace)


_REFUSED_ERRNOS = frozenset({errno.ECONNREFUSED, errno.ENETUNREACH, errno.EHOSTUNREACH})


def is_refused(error: BaseException) -> bool:
    """Whether ``error``, or an error it wraps, is a refused or unroutable connection."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _REFUSED_ERRNOS:
            return True
        if isinstance(current, MaxRetryError) and current.reason is not None:
            current = current.reason
        else:
            current = current.__cause__ or current.__context__
    return False


def backoff_delays(max_tries: int, *, base: float = BACKOFF_S) -> list[float]:
    """Waits between attempts: exponential, with full jitter, capped (for body retries)."""
    return [
        random.uniform(0, min(MAX_BACKOFF_S, base * 2**attempt))  # noqa: S311 - jitter
        for attempt in range(max_tries - 1)
    ]


class Transport:
    """Requests to one CalDB, with retries and typed errors."""

    def __init__(
        self,
        base_url: str,
        *,
        max_tries: int,
        timeout: float | tuple[float, float],
        backoff_s: float = BACKOFF_S,
        user_agent: str = "caldbio",
        give_up_when_refused: bool = False,
    ) -> None:
        if max_tries < 1:
            raise ValueError("max_tries must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.max_tries = max_tries
        self.timeout = timeout
        self.backoff_s = backoff_s
        self.give_up_when_refused = give_up_when_refused
        retries = max_tries - 1
        retry_class = _RefusedIsFinalRetry if give_up_when_refused else _CappedRetry
        retry = retry_class(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            other=retries,
            allowed_methods=None,  # every method: uploads are idempotent by content
            status_forcelist=RETRY_STATUSES,
            backoff_factor=backoff_s,
            backoff_jitter=backoff_s,
            backoff_max=MAX_BACKOFF_S,
            respect_retry_after_header=True,
            raise_on_status=False,  # the last answer is turned into a typed error below
        )
        self.session = requests.Session()
        adapter = HTTPAdapter(max_retries=retry, pool_maxsize=8)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = user_agent

    def url(self, path: str) -> str:
        """Absolute URL of an API path such as ``search`` or ``files/3/content``."""
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}{API_PREFIX}/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        stream: bool = False,
        **kwargs: Any,
    ) -> requests.Response:
        """Send a request (retried as described above); raise a typed error unless 2xx/3xx.

        Raises
        ------
        TransportError
            If no answer came after every attempt.
        CaDBIOError
            The typed error of the server's problem document for a 4xx or 5xx.
        """
        try:
            response = self.session.request(
                method,
                self.url(path),
                headers=headers,
                timeout=self.timeout,
                stream=stream,
                **kwargs,
            )
        except requests.RequestException as error:
            if self.give_up_when_refused and is_refused(error):
                attempts = "at the first attempt (not retried)"
            else:
                attempts = f"after {self.max_tries} attempt(s)"
            raise TransportError(
                f"no answer from {self.base_url} {attempts}: {_reason(error)}"
            ) from error
        if response.status_code >= 400:
            raise _error_of(response)
        return response

    def with_retries(
        self, attempt: Callable[[], Any], retriable: tuple[type[Exception], ...]
    ) -> Any:
        """Run ``attempt`` up to ``max_tries`` times while it raises ``retriable`` errors."""
        delays = backoff_delays(self.max_tries, base=self.backoff_s)
        for delay in delays:
            try:
                return attempt()
            except retriable:
                time.sleep(delay)
        return attempt()

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()


def _reason(error: Exception) -> str:
    # urllib3 wraps the cause several times; the innermost message is the useful one.
    while error.__context__ is not None and isinstance(error.__context__, Exception):
        if str(error.__context__):
            error = error.__context__
        else:
            break
    return re.sub(r"^\[Errno -?\d+\] ", "", str(error)) or type(error).__name__


def _error_of(response: requests.Response) -> Exception:
    try:
        body = response.json()
    except ValueError:
        body = None
    finally:
        response.close()
    return error_from_response(response.status_code, body, response.reason or "")
