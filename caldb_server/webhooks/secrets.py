"""Subscription secrets: made once, shown once, stored sealed under ``CALDB_SECRET_KEY``.

Why stored at all: HMAC is symmetric, so the server needs the very key the receiver
checks with (a hash, as for passwords and API tokens, could not sign). Why sealed: a
database dump or backup alone then gives no one the means to forge deliveries. The seal
is Fernet (``cryptography``: AES-128-CBC with HMAC-SHA256, authenticated), its key derived
from ``CALDB_SECRET_KEY`` by HKDF-SHA256 for this one purpose. Changing ``CALDB_SECRET_KEY``
makes the sealed secrets unreadable: the worker then disables those subscriptions with a
reason, and their owners make new ones.
"""

from __future__ import annotations

import base64
import secrets
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["SecretUnreadable", "new_secret", "seal", "secret_prefix", "unseal"]

PREFIX = "whsec_"
_VERSION = "v2"  # a Fernet token under the HKDF-derived key


class SecretUnreadable(ValueError):
    """A sealed secret that this ``CALDB_SECRET_KEY`` did not seal (or was altered)."""


def new_secret() -> str:
    """A new subscription secret: ``whsec_`` and 256 random bits."""
    return PREFIX + secrets.token_urlsafe(32)


def secret_prefix(secret: str) -> str:
    """What ``GET`` shows of a secret: enough to tell two apart, not to sign."""
    return secret[: len(PREFIX) + 4]


@lru_cache(maxsize=4)
def _fernet(server_key: str) -> Fernet:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"caldb-webhook-secret"
    ).derive(server_key.encode("utf-8"))
    return Fernet(base64.urlsafe_b64encode(derived))


def seal(server_key: str, secret: str) -> str:
    """``secret`` encrypted and authenticated under ``server_key``, as ASCII text."""
    return f"{_VERSION}." + _fernet(server_key).encrypt(secret.encode("utf-8")).decode("ascii")


def unseal(server_key: str, sealed: str) -> str:
    """The secret :func:`seal` sealed.

    Raises
    ------
    SecretUnreadable
        If it was sealed under another key, or altered.
    """
    version, _, token = sealed.partition(".")
    if version != _VERSION or not token.isascii():
        raise SecretUnreadable("the sealed secret is malformed")
    try:
        return _fernet(server_key).decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise SecretUnreadable(
            "the secret was sealed under another CALDB_SECRET_KEY, or altered"
        ) from None
