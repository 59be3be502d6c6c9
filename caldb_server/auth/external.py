"""Tokens from the ground segment's identity provider: RS256 or ES256, keys from a JWKS.

The provider's public keys come from ``CALDB_OIDC_JWKS``: a JWKS document (a local file or
an http(s) URL) or a PEM public key file. Keys rotate: a token names its key by ``kid``;
a URL's keys are cached and re-read when a token names a ``kid`` not in the cache (at most
once every :data:`MIN_REFRESH_S`, so that tokens with made-up key ids cannot make the
server hammer the provider) and at least every :data:`MAX_AGE_S`; a file is re-read when
it changes. Only RSA (2048 bits or more) and P-256 keys for signatures are used: a
symmetric (``oct``) key in the document is ignored, so the key set can never be used as
an HMAC secret (algorithm confusion).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from caldb_server.auth.tokens import (
    Principal,
    TokenError,
    check_subject_and_id,
    expiry,
    explain,
    known_roles,
)

__all__ = [
    "EXTERNAL_ALGORITHMS",
    "ExternalIssuer",
    "KeySet",
    "KeySetUnavailable",
    "VerificationKey",
    "parse_keys",
]

log = logging.getLogger(__name__)

EXTERNAL_ALGORITHMS = ("RS256", "ES256")
MIN_REFRESH_S = 10.0
MAX_AGE_S = 3600.0
FETCH_TIMEOUT_S = 5.0
MAX_DOCUMENT_BYTES = 1024 * 1024
MIN_RSA_BITS = 2048
_REQUIRED_CLAIMS = ("exp", "iat", "sub", "iss", "aud")


class KeySetUnavailable(RuntimeError):
    """The identity provider's keys cannot be read (and none are cached)."""


@dataclass(frozen=True)
class VerificationKey:
    """One public key, the one algorithm it verifies, and its ``kid`` (None for a PEM)."""

    kid: str | None
    algorithm: str
    key: Any


def _algorithm_of(key: Any) -> str | None:
    if isinstance(key, rsa.RSAPublicKey) and key.key_size >= MIN_RSA_BITS:
        return "RS256"
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    return None


def _jwk_key(jwk: Any) -> VerificationKey | None:
    """A usable signature key from one JWK, or None to skip it."""
    if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig":
        return None
    if jwk.get("kty") not in ("RSA", "EC"):  # never an 'oct' (HMAC) key
        return None
    try:
        parsed = jwt.PyJWK(jwk)
    except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
        return None
    key = parsed.key
    if hasattr(key, "public_key"):  # a private JWK published by mistake: use its public half
        key = key.public_key()
    algorithm = _algorithm_of(key)
    if algorithm is None or parsed.algorithm_name != algorithm:
        return None
    kid = jwk.get("kid")
    return VerificationKey(kid if isinstance(kid, str) else None, algorithm, key)


def parse_keys(text: bytes) -> dict[str | None, VerificationKey]:
    """The signature keys of a JWKS document or a PEM public key, by ``kid``.

    Raises
    ------
    ValueError
        If the document holds no usable key.
    """
    if text.lstrip().startswith(b"-----BEGIN"):
        key = serialization.load_pem_public_key(text)
        algorithm = _algorithm_of(key)
        if algorithm is None:
            raise ValueError("the PEM key is neither RSA of 2048+ bits nor EC P-256")
        return {None: VerificationKey(None, algorithm, key)}
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        raise ValueError("the key document is neither a PEM key nor JSON") from None
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValueError("the JWKS document has no 'keys' list")  # noqa: TRY004 - bad content
    keys = {key.kid: key for key in map(_jwk_key, entries) if key is not None}
    if not keys:
        raise ValueError("the JWKS document has no RS256/ES256 signature key")
    return keys


def _fetch_url(url: str) -> bytes:
    with requests.get(url, timeout=FETCH_TIMEOUT_S, stream=True) as response:
        response.raise_for_status()
        content = response.raw.read(MAX_DOCUMENT_BYTES + 1, decode_content=True)
    if len(content) > MAX_DOCUMENT_BYTES:
        raise ValueError(f"the key document is larger than {MAX_DOCUMENT_BYTES} bytes")
    return content


class KeySet:
    """The provider's keys, cached and re-read as described in the module docstring."""

    def __init__(
        self,
        location: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        fetch: Callable[[str], bytes] = _fetch_url,
    ) -> None:
        self.location = location
        self.is_url = location.startswith(("http://", "https://"))
        self._clock = clock
        self._fetch = fetch
        self._lock = threading.Lock()
        self._keys: dict[str | None, VerificationKey] = {}
        self._loaded_at: float | None = None
        self._file_state: tuple[int, int, int] | None = None

    def key_for(self, kid: str | None) -> VerificationKey:
        """The key a token with header ``kid`` must be verified with.

        Raises
        ------
        TokenError
            If no known key matches ``kid``, even after re-reading the keys.
        KeySetUnavailable
            If the keys cannot be read at all.
        """
        with self._lock:
            if self._stale():
                self._reload()
            key = self._lookup(kid)
            if key is None and self._may_reload_early():
                self._reload()
                key = self._lookup(kid)
            if key is None and not self._keys:
                # A failed read is retried later; until then, the token is not the problem.
                raise KeySetUnavailable("the identity provider's keys cannot be read at the moment")
        if key is None:
            if kid is None:
                raise TokenError("the token names no key (kid) and the provider has several")
            raise TokenError("the token is signed with a key the provider does not publish")
        return key

    def _lookup(self, kid: str | None) -> VerificationKey | None:
        if kid in self._keys:
            return self._keys[kid]
        if list(self._keys) == [None] or (kid is None and len(self._keys) == 1):
            return next(iter(self._keys.values()))  # one key, used whatever the token says
        return None

    def _stale(self) -> bool:
        if self._loaded_at is None:
            return True
        if self.is_url:
            return self._clock() - self._loaded_at >= MAX_AGE_S
        return self._current_file_state() != self._file_state

    def _may_reload_early(self) -> bool:
        if not self.is_url:
            return False  # a file is re-read whenever it changes, never on a token's say
        return self._loaded_at is None or self._clock() - self._loaded_at >= MIN_REFRESH_S

    def _current_file_state(self) -> tuple[int, int, int] | None:
        try:
            status = Path(self.location).stat()
        except OSError:
            return None
        return (status.st_ino, status.st_mtime_ns, status.st_size)

    def _reload(self) -> None:
        self._loaded_at = self._clock()  # also after a failure: retried after MIN_REFRESH_S
        try:
            if self.is_url:
                content = self._fetch(self.location)
            else:
                self._file_state = self._current_file_state()
                content = Path(self.location).read_bytes()
            keys = parse_keys(content)
        except (OSError, ValueError, requests.RequestException) as error:
            log.warning(
                "cannot read the identity provider's keys from %s: %s", self.location, error
            )
            if not self._keys:
                raise KeySetUnavailable(
                    "the identity provider's keys cannot be read at the moment"
                ) from None
            return  # keep verifying with the keys we have
        if set(keys) != set(self._keys):
            log.info("identity provider keys from %s: %s", self.location, sorted(map(str, keys)))
        self._keys = keys


def _claim_at(claims: dict[str, Any], path: str) -> Any:
    """A claim by dotted path (``realm_access.roles`` for Keycloak), or None."""
    value: Any = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


@dataclass(frozen=True)
class ExternalIssuer:
    """An identity provider whose tokens the CalDB accepts."""

    issuer: str
    audience: str
    keys: KeySet
    roles_claim: str = "roles"

    def verify(self, token: str, header: dict[str, Any]) -> Principal:
        """Verify a token of this provider and map its roles claim to CalDB roles.

        Raises
        ------
        TokenError
            If the token is not acceptable.
        KeySetUnavailable
            If the provider's keys cannot be read.
        """
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise TokenError("the token's kid header is not a string")
        key = self.keys.key_for(kid)
        if header.get("alg") != key.algorithm:
            raise TokenError("the token's algorithm does not match its key")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[key.algorithm],
                issuer=self.issuer,
                audience=self.audience,
                options={"require": list(_REQUIRED_CLAIMS)},
                leeway=0,
            )
        except jwt.InvalidTokenError as error:
            raise explain(error) from None
        subject, token_id = check_subject_and_id(claims)
        granted = _claim_at(claims, self.roles_claim)
        if isinstance(granted, str):
            granted = granted.split()  # a space-separated list, like OAuth 'scope'
        roles = known_roles(granted) if isinstance(granted, list) else frozenset()
        return Principal(subject, roles, token_id, self.issuer, expiry(claims))
