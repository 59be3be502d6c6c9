"""The CalDB's own bearer tokens (PyJWT, HS256) and the principal a token speaks for.

Claims: ``iss`` (``CALDB_TOKEN_ISSUER``), ``sub`` (who), ``roles``, ``iat``, ``nbf``, ``exp``
and ``jti`` (an id, so that a token can be revoked). Verification pins the algorithm list
and requires every one of those claims. Tokens of an external identity provider are
verified by :mod:`caldb_server.auth.external`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from caldb_common.text import control_characters

__all__ = [
    "BUILTIN_SOURCE",
    "MAX_TOKEN_DAYS",
    "ROLES",
    "Principal",
    "SignedToken",
    "TokenError",
    "issue_token",
    "verify_token",
]

ALGORITHM = "HS256"
# Each role includes the ones after it.
ROLES = ("admin", "uploader", "reader")
BUILTIN_SOURCE = "caldb"
_REQUIRED_CLAIMS = ("exp", "iat", "nbf", "sub", "iss", "jti", "roles")
MAX_SUBJECT = 200  # who uploaded or changed what is recorded in columns of this width
MAX_TOKEN_DAYS = 3650  # longest lifetime of a token made for a pipeline (create-token, /account)
MAX_TOKEN_ID = 200


class TokenError(ValueError):
    """A token that cannot be accepted; the message says why (never the secret)."""


@dataclass(frozen=True)
class Principal:
    """Who a verified token speaks for, and where the token comes from.

    ``source`` is ``"caldb"`` for the CalDB's own tokens, else the external issuer.
    ``token_id`` is the ``jti`` (``None`` for an external token without one).
    """

    subject: str
    roles: frozenset[str]
    token_id: str | None
    source: str = BUILTIN_SOURCE
    expires_at: datetime | None = None

    def has_role(self, role: str) -> bool:
        """Whether the principal holds ``role`` or a role that includes it."""
        rank = ROLES.index(role)
        return any(r in ROLES and ROLES.index(r) <= rank for r in self.roles)


@dataclass(frozen=True)
class SignedToken:
    """A token just issued, with the claims the CalDB records about it."""

    token: str
    jti: str
    subject: str
    roles: tuple[str, ...]
    issued_at: datetime
    expires_at: datetime


def known_roles(roles: Iterable[object]) -> frozenset[str]:
    """The CalDB roles among ``roles`` (a token may carry other services' roles)."""
    return frozenset(r for r in roles if isinstance(r, str) and r in ROLES)


def issue_token(
    secret: str,
    *,
    subject: str,
    roles: Sequence[str],
    issuer: str,
    now: datetime,
    lifetime: timedelta,
) -> SignedToken:
    """Sign a token for ``subject`` with ``roles``, valid from ``now`` for ``lifetime``."""
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise TokenError(f"roles must be among {', '.join(ROLES)}; got {sorted(roles)}")
    if not 0 < len(subject) <= MAX_SUBJECT:
        raise TokenError(f"the subject must have 1 to {MAX_SUBJECT} characters")
    now = now.replace(microsecond=0)  # JWT times are whole seconds
    jti, names, expires = uuid.uuid4().hex, tuple(sorted(set(roles))), now + lifetime
    claims = {
        "iss": issuer,
        "sub": subject,
        "roles": list(names),
        "iat": now,
        "nbf": now,
        "exp": expires,
        "jti": jti,
    }
    token = jwt.encode(claims, secret, algorithm=ALGORITHM)
    return SignedToken(token, jti, subject, names, now, expires)


def check_subject_and_id(claims: dict[str, object]) -> tuple[str, str | None]:
    """The validated ``sub`` and ``jti`` of decoded claims."""
    subject, token_id = claims.get("sub"), claims.get("jti")
    # A signed token is still input: its subject and jti become columns and log lines.
    if (
        not isinstance(subject, str)
        or not 0 < len(subject) <= MAX_SUBJECT
        or control_characters(subject)
    ):
        raise TokenError(f"the token's subject must be a name of 1 to {MAX_SUBJECT} characters")
    if token_id is not None and (
        not isinstance(token_id, str)
        or not 0 < len(token_id) <= MAX_TOKEN_ID
        or control_characters(token_id)
    ):
        raise TokenError(f"the token's jti must be a string of 1 to {MAX_TOKEN_ID} characters")
    return subject, token_id


def expiry(claims: dict[str, object]) -> datetime | None:
    """The ``exp`` claim (already verified to be a number) as an aware datetime."""
    exp = claims.get("exp")
    return datetime.fromtimestamp(exp, UTC) if isinstance(exp, int | float) else None


def explain(error: jwt.InvalidTokenError) -> TokenError:
    """A verification failure as a sentence that names no key and no secret."""
    if isinstance(error, jwt.ExpiredSignatureError):
        return TokenError("the token has expired")
    if isinstance(error, jwt.ImmatureSignatureError):
        return TokenError("the token is not valid yet")
    if isinstance(error, jwt.InvalidIssuerError):
        return TokenError("the token was issued by someone else")
    if isinstance(error, jwt.InvalidAudienceError):
        return TokenError("the token is meant for another service (audience)")
    if isinstance(error, jwt.MissingRequiredClaimError):
        return TokenError(f"the token lacks the {error.claim!r} claim")
    return TokenError("the token is malformed or its signature is wrong")


def verify_token(token: str, secret: str, *, issuer: str) -> Principal:
    """Check signature, algorithm, issuer and times of a CalDB token; return the principal.

    Raises
    ------
    TokenError
        For a malformed, forged, expired, not-yet-valid or foreign token.
    """
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=issuer,
            options={"require": list(_REQUIRED_CLAIMS)},
            leeway=0,
        )
    except jwt.InvalidTokenError as error:
        raise explain(error) from None
    roles = claims["roles"]
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise TokenError("the token's roles claim is not a list of names")
    subject, token_id = check_subject_and_id(claims)
    if token_id is None:
        raise TokenError("the token lacks the 'jti' claim")
    return Principal(subject, frozenset(roles), token_id, BUILTIN_SOURCE, expiry(claims))
