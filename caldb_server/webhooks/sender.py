"""One signed POST of a delivery, to the address that was checked, never redirected.

urllib3 is used directly so that the connection goes to the resolved, checked address
(:func:`caldb_server.webhooks.targets.resolve_target`) while the ``Host`` header, TLS
server name and certificate check use the URL's host name: resolving again inside the
HTTP library would let a rebinding name slip a private address in.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import urllib3

from caldb_common.webhooks import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, signature_header
from caldb_server.webhooks.targets import Target

__all__ = ["USER_AGENT", "Outcome", "post_delivery"]

USER_AGENT = "svom-caldb-webhooks/1"
MAX_ERROR = 200
_ANSWER_READ = 1024  # what is read of the answer: only its status matters


@dataclass(frozen=True)
class Outcome:
    """What became of one attempt: acknowledged (2xx) or not, and why."""

    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: int


def _pool(target: Target, address: str, timeout: urllib3.Timeout) -> urllib3.HTTPConnectionPool:
    if target.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            address,
            target.port,
            timeout=timeout,
            retries=False,
            maxsize=1,
            cert_reqs="CERT_REQUIRED",
            server_hostname=target.host,
            assert_hostname=target.host,
        )
    return urllib3.HTTPConnectionPool(
        address, target.port, timeout=timeout, retries=False, maxsize=1
    )


def post_delivery(
    target: Target,
    address: str,
    body: bytes,
    *,
    secret: str,
    delivery_id: str,
    event: str,
    timestamp: int,
    connect_timeout_s: float,
    read_timeout_s: float,
) -> Outcome:
    """POST ``body`` signed with ``secret`` at ``timestamp``; 2xx is an acknowledgement.

    Every failure (refused connection, timeout, TLS error, 3xx included: redirects are
    not followed) is an :class:`Outcome` with ``ok`` false, never an exception.
    """
    headers = {
        "Host": target.host_header,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: signature_header(secret, timestamp, body),
        DELIVERY_HEADER: delivery_id,
        EVENT_HEADER: event,
    }
    timeout = urllib3.Timeout(connect=connect_timeout_s, read=read_timeout_s)
    started = time.monotonic()
    status: int | None = None
    error: str | None = None
    try:
        with _pool(target, address, timeout) as pool:
            response = pool.urlopen(
                "POST",
                target.path,
                body=body,
                headers=headers,
                redirect=False,
                assert_same_host=False,
                preload_content=False,
            )
            try:
                response.read(_ANSWER_READ)
                status = response.status
            finally:
                response.release_conn()
    except Exception as failure:
        error = f"{type(failure).__name__}: {failure}"[:MAX_ERROR]
    duration_ms = round((time.monotonic() - started) * 1000)
    ok = status is not None and 200 <= status < 300
    if status is not None and not ok:
        error = f"HTTP {status}"
    return Outcome(ok, status, error, duration_ms)
