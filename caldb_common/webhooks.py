"""Signing and verifying CalDB webhook deliveries (HMAC-SHA256, Stripe-style header).

The server signs each delivery's body with the subscription's secret; a receiver checks
the ``X-Caldb-Signature`` header with :func:`verify_signature` before trusting the body.
The header is ``t=<unix seconds>,v1=<hex>``, where the hex is the HMAC-SHA256 of
``"<t>." + body``: signing the time with the body lets the receiver refuse a delivery
recorded and replayed later (older than ``tolerance_s``, 5 minutes by default). A retry
is signed afresh, with its own time. Receivers should also drop a second delivery with an
``X-Caldb-Delivery`` id they have already handled: delivery is *at least* once.

This module depends on the standard library only, so that receivers (and ``caldbio``) can
use it without the server.
"""

from __future__ import annotations

import hashlib
import hmac
import time

__all__ = [
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "SIGNATURE_HEADER",
    "TOLERANCE_S",
    "WebhookSignatureError",
    "sign_payload",
    "signature_header",
    "verify_signature",
]

SIGNATURE_HEADER = "X-Caldb-Signature"
DELIVERY_HEADER = "X-Caldb-Delivery"  # stable across retries of one change: deduplicate on it
EVENT_HEADER = "X-Caldb-Event"  # the change's kind (upload, quality, release...)
TOLERANCE_S = 300
SCHEME = "v1"


class WebhookSignatureError(ValueError):
    """The signature header is missing, malformed, wrong, or too old (a replay)."""


def sign_payload(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>." + body`` under ``secret``."""
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Caldb-Signature`` value: ``t=<timestamp>,v1=<hex>``."""
    return f"t={timestamp},{SCHEME}={sign_payload(secret, timestamp, body)}"


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif key == SCHEME and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise WebhookSignatureError(f"malformed {SIGNATURE_HEADER} header: want t=...,v1=...")
    return timestamp, signatures


def verify_signature(
    secret: str,
    body: bytes,
    header: str | None,
    *,
    tolerance_s: int = TOLERANCE_S,
    now: float | None = None,
) -> int:
    """Check a delivery: the signature of ``body`` and the freshness of its time.

    Parameters
    ----------
    secret : str
        The subscription's secret (shown once, when it was created).
    body : bytes
        The request body exactly as received (not re-serialised JSON).
    header : str or None
        The ``X-Caldb-Signature`` header.
    tolerance_s : int
        How old (or how far in the future: clock skew), in seconds, a signature may be.
    now : float, optional
        The current Unix time (tests); the system clock by default.

    Returns
    -------
    int
        The signed timestamp (Unix seconds).

    Raises
    ------
    WebhookSignatureError
        If the header is missing or malformed, no ``v1`` signature matches, or the
        timestamp is further than ``tolerance_s`` from ``now``.
    """
    if not header:
        raise WebhookSignatureError(f"no {SIGNATURE_HEADER} header")
    timestamp, signatures = _parse(header)
    expected = sign_payload(secret, timestamp, body)
    # compare_digest on every candidate: the time taken says nothing about the secret.
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise WebhookSignatureError("the signature does not match the body")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise WebhookSignatureError(
            f"the signature's time is {int(current - timestamp)} s away from now "
            f"(more than {tolerance_s} s): a replay, or a wrong clock"
        )
    return timestamp
