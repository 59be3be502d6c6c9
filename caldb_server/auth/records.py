"""What the CalDB remembers about tokens: those it issued, and every revoked ``jti``.

A revoked token is refused by every server process at its next request: revocation is a
row in the shared database, read on each authenticated request (a primary-key lookup).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from caldb_server.auth.models import JTI_LENGTH, TokenRecord
from caldb_server.auth.tokens import SignedToken, issue_token
from caldb_server.db import upsert_statement

__all__ = [
    "is_revoked",
    "issue_recorded",
    "list_tokens",
    "record_issued",
    "revoke",
    "revoke_subject",
]


def record_issued(session: Session, signed: SignedToken, *, issued_by: str) -> None:
    """Remember a token this CalDB has just signed (for listing and bulk revocation)."""
    session.add(
        TokenRecord(
            jti=signed.jti,
            subject=signed.subject,
            roles=" ".join(signed.roles),
            issued_by=issued_by,
            issued_at=signed.issued_at,
            expires_at=signed.expires_at,
        )
    )


def issue_recorded(
    session: Session,
    *,
    secret: str,
    issuer: str,
    subject: str,
    roles: Sequence[str],
    lifetime: timedelta,
    issued_by: str,
    now: datetime,
) -> SignedToken:
    """Sign a token for a pipeline and record it (``create-token``, the ``/account`` page).

    Raises
    ------
    TokenError
        For unknown roles or a subject of the wrong length.
    """
    signed = issue_token(
        secret, subject=subject, roles=roles, issuer=issuer, now=now, lifetime=lifetime
    )
    record_issued(session, signed, issued_by=issued_by)
    return signed


def valid_token_id(jti: str) -> bool:
    """Whether ``jti`` can name a token: 1 to JTI_LENGTH printable ASCII characters.

    '.' and '..' are refused too: in a URL path they are no segments (clients resolve them
    away), so the API could never revoke such a token; the command line refuses them alike.
    """
    return (
        0 < len(jti) <= JTI_LENGTH
        and jti.isascii()
        and jti.isprintable()
        and jti not in (".", "..")
    )


def revoke(session: Session, jti: str, *, actor: str, now: datetime) -> TokenRecord:
    """Revoke the token ``jti``, ours or the identity provider's; revoking twice is harmless."""
    session.execute(upsert_statement(session, TokenRecord).values(jti=jti).on_conflict_do_nothing())
    session.execute(
        update(TokenRecord)
        .where(TokenRecord.jti == jti, TokenRecord.revoked_at.is_(None))
        .values(revoked_at=now, revoked_by=actor)
    )
    record = session.get(TokenRecord, jti, populate_existing=True)
    assert record is not None  # inserted above
    return record


def revoke_subject(session: Session, subject: str, *, actor: str, now: datetime) -> int:
    """Revoke every unexpired token this CalDB issued to ``subject``; how many."""
    result = session.execute(
        update(TokenRecord)
        .where(
            TokenRecord.subject == subject,
            TokenRecord.revoked_at.is_(None),
            TokenRecord.expires_at > now,
        )
        .values(revoked_at=now, revoked_by=actor)
    )
    assert isinstance(result, CursorResult)  # an UPDATE's result counts its rows
    return result.rowcount


def is_revoked(session: Session, jti: str) -> bool:
    """Whether the token ``jti`` has been revoked."""
    revoked_at = session.scalar(select(TokenRecord.revoked_at).where(TokenRecord.jti == jti))
    return revoked_at is not None


def list_tokens(
    session: Session,
    *,
    now: datetime,
    subject: str | None = None,
    include_inactive: bool = False,
    limit: int | None = None,
) -> Sequence[TokenRecord]:
    """Tokens issued here, newest first (at most ``limit``): by default only usable ones."""
    statement = select(TokenRecord).where(TokenRecord.issued_at.is_not(None))
    if subject is not None:
        statement = statement.where(TokenRecord.subject == subject)
    if not include_inactive:
        statement = statement.where(TokenRecord.revoked_at.is_(None), TokenRecord.expires_at > now)
    statement = statement.order_by(TokenRecord.issued_at.desc()).limit(limit)
    return session.scalars(statement).all()
