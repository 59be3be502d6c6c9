"""Password hashing with argon2id (argon2-cffi, RFC 9106 parameters); no hand-made crypto."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = [
    "MAX_PASSWORD",
    "MIN_PASSWORD",
    "hash_password",
    "needs_rehash",
    "password_problems",
    "verify_password",
    "waste_time_like_a_check",
]

MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # hashing cost does not grow with length, but bodies must stay small
_HASHER = PasswordHasher()


def password_problems(password: object) -> list[str]:
    """Why ``password`` cannot be used (empty when it can)."""
    if not isinstance(password, str):
        return ["must be a string"]
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        return [f"must have {MIN_PASSWORD} to {MAX_PASSWORD} characters"]
    if not password.strip():
        return ["must not be blank"]
    return []


def hash_password(password: str) -> str:
    """The argon2id hash to store (salted; encodes its own parameters)."""
    return _HASHER.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash`` (constant-time in the library)."""
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than today's."""
    return _HASHER.check_needs_rehash(stored_hash)


@lru_cache(maxsize=1)
def _decoy_hash() -> str:
    return _HASHER.hash("a password nobody has, hashed to spend the same time")


def waste_time_like_a_check(password: str) -> None:
    """Spend what a real check costs, so that timing does not tell which user names exist."""
    verify_password(_decoy_hash(), password)
