"""Issuing and verifying the CalDB's own bearer tokens (PyJWT, HS256).

Claims: ``iss`` (``CALDB_TOKEN_ISSUER``), ``sub`` (who), ``roles``, ``iat``, ``nbf``, ``exp``
and ``jti`` (an id, so that a token can be revoked). Verification pins the algorithm list
and requires every one of those claims.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

__all__ = ["ROLES", "Principal", "TokenError", "issue_token", "verify_token"]

ALGORITHM = "HS256"
# Each role includes the ones after it.
ROLES = ("admin", "uploader", "reader")
_REQUIRED_CLAIMS = ("exp", "iat", "nbf", "sub", "iss", "jti", "roles")
MAX_SUBJECT = 200  # who uploaded or changed what is recorded in columns of this width


class TokenError(ValueError):
    """A token that cannot be accepted; the message says why (never the secret)."""


@dataclass(frozen=True)
class Principal:
    """Who a verified token speaks for."""

    subject: str
    roles: frozenset[str]
    token_id: str

    def has_role(self, role: str) -> bool:
        """Whether the principal holds ``role`` or a role that includes it."""
        rank = ROLES.index(role)
        return any(r in ROLES and ROLES.index(r) <= rank for r in self.roles)


def issue_token(
    secret: str,
    *,
    subject: str,
    roles: Sequence[str],
    issuer: str,
    now: datetime,
    lifetime: timedelta,
) -> str:
    """Sign a token for ``subject`` with ``roles``, valid from ``now`` for ``lifetime``."""
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise TokenError(f"roles must be among {', '.join(ROLES)}; got {sorted(roles)}")
    if not 0 < len(subject) <= MAX_SUBJECT:
        raise TokenError(f"the subject must have 1 to {MAX_SUBJECT} characters")
    claims = {
        "iss": issuer,
        "sub": subject,
        "roles": sorted(set(roles)),
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(token: str, secret: str, *, issuer: str) -> Principal:
    """Check signature, algorithm, issuer and times; return the principal.

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
    except jwt.ExpiredSignatureError:
        raise TokenError("the token has expired") from None
    except jwt.ImmatureSignatureError:
        raise TokenError("the token is not valid yet") from None
    except jwt.InvalidIssuerError:
        raise TokenError("the token was issued by someone else") from None
    except jwt.MissingRequiredClaimError as error:
        raise TokenError(f"the token lacks the {error.claim!r} claim") from None
    except jwt.InvalidTokenError:
        raise TokenError("the token is malformed or its signature is wrong") from None
    roles = claims["roles"]
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise TokenError("the token's roles claim is not a list of names")
    if not isinstance(claims["sub"], str) or not 0 < len(claims["sub"]) <= MAX_SUBJECT:
        raise TokenError(f"the token's subject must be a name of 1 to {MAX_SUBJECT} characters")
    return Principal(str(claims["sub"]), frozenset(roles), str(claims["jti"]))
