"""Users of the built-in issuer: creation, changes, and exchanging a password for a token.

Any change to a user (role, password, disabling) revokes the tokens already issued to
them, so that it takes effect at once instead of when those tokens expire.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from caldb_server.auth.records import record_issued, revoke_subject
from caldb_server.auth.tokens import ROLES, SignedToken, issue_token
from caldb_server.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from caldb_server.users.models import User
from caldb_server.users.passwords import (
    hash_password,
    needs_rehash,
    password_problems,
    verify_password,
    waste_time_like_a_check,
)

__all__ = [
    "NAME_RULE",
    "create_user",
    "get_user",
    "list_users",
    "login",
    "name_problems",
    "update_user",
]

log = logging.getLogger(__name__)

NAME_RULE = "1 to 64 characters among letters, digits and . _ @ -, starting with a letter or digit"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


def name_problems(name: object) -> list[str]:
    """Why ``name`` cannot be a user name (empty when it can)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        return [f"must be {NAME_RULE}"]
    return []


def _role_problems(role: object) -> list[str]:
    return [] if role in ROLES else [f"must be one of {', '.join(ROLES)}"]


def _check(**fields: list[str]) -> None:
    errors = [{"field": f, "reason": r} for f, reasons in fields.items() for r in reasons]
    if errors:
        raise ValidationFailed("the user is not valid", errors=errors)


def create_user(
    session: Session, name: str, role: str, password: str, *, actor: str, now: datetime
) -> User:
    """Add a user.

    Raises
    ------
    ValidationFailed
        If the name, role or password breaks the rules (all problems listed).
    Conflict
        If the name is taken (names are unique whatever their case).
    """
    _check(
        name=name_problems(name), role=_role_problems(role), password=password_problems(password)
    )
    if _find(session, name) is not None:
        raise Conflict(f"there is already a user named {name!r}")
    user = User(
        name=name,
        role=role,
        password_hash=hash_password(password),
        created_by=actor,
        created_at=now,
        updated_by=actor,
        updated_at=now,
    )
    session.add(user)
    session.flush()  # a concurrent creation of the same name fails here, as a 409
    log.info("user %s created with role %s by %s", name, role, actor)
    return user


def _find(session: Session, name: str) -> User | None:
    # The unique constraint is on the exact name; the check is case-blind so that 'Alice'
    # and 'alice' cannot be two accounts. Names are few: a lower() scan is fine.
    return session.scalar(select(User).where(func.lower(User.name) == name.lower()))


def get_user(session: Session, name: str) -> User:
    """The user named ``name``.

    Raises
    ------
    NotFound
        If there is none.
    """
    user = _find(session, name) if not name_problems(name) else None
    if user is None:
        raise NotFound(f"there is no user named {name!r}")
    return user


def list_users(session: Session) -> Sequence[User]:
    """Every user, by name."""
    return session.scalars(select(User).order_by(User.name)).all()


def update_user(
    session: Session,
    name: str,
    *,
    actor: str,
    now: datetime,
    role: str | None = None,
    disabled: bool | None = None,
    password: str | None = None,
) -> User:
    """Change a user's role, password or disabled state; revoke their tokens if anything changed.

    Raises
    ------
    NotFound
        If there is no such user.
    ValidationFailed
        If a new value breaks the rules.
    """
    _check(
        role=_role_problems(role) if role is not None else [],
        password=password_problems(password) if password is not None else [],
    )
    user = get_user(session, name)
    changed: list[str] = []
    if role is not None and role != user.role:
        user.role, changed = role, [*changed, f"role {role}"]
    if disabled is not None and disabled != user.disabled:
        user.disabled, changed = disabled, [*changed, "disabled" if disabled else "enabled"]
    if password is not None:
        user.password_hash, changed = hash_password(password), [*changed, "password"]
    if changed:
        user.updated_by, user.updated_at = actor, now
        revoked = revoke_subject(session, user.name, actor=actor, now=now)
        log.info(
            "user %s changed by %s (%s); %d token(s) revoked",
            name,
            actor,
            ", ".join(changed),
            revoked,
        )
    session.flush()
    return user


def login(
    session: Session,
    name: str,
    password: str,
    *,
    secret: str,
    issuer: str,
    lifetime: timedelta,
    now: datetime,
) -> SignedToken:
    """Exchange a user's password for an access token (recorded, so it can be revoked).

    Raises
    ------
    Unauthorized
        If the name is unknown, the password wrong or the user disabled; the answer is the
        same in each case, and takes as long, so that it does not reveal which names exist.
    """
    user = _find(session, name) if not name_problems(name) else None
    if user is None:
        waste_time_like_a_check(password)
        ok = False
    else:
        ok = verify_password(user.password_hash, password) and not user.disabled
    if not ok or user is None:
        log.info("login refused for %r", name)
        raise Unauthorized("the user name or the password is wrong", error=None)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    signed = issue_token(
        secret, subject=user.name, roles=[user.role], issuer=issuer, now=now, lifetime=lifetime
    )
    record_issued(session, signed, issued_by="login")
    log.info("token %s issued to %s (%s)", signed.jti, user.name, user.role)
    return signed
