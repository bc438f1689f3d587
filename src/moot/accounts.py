"""Web accounts: a person, their password (argon2id, argon2-cffi), and whether they run the
site.  ``moot user create`` makes them; the web's sign-up, log-in and sessions (the accounts
issue) build on this.

What it won't do yet: sign-up by mail, sessions, log-in pages, linking more addresses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.engine import Connection

from moot.core.address import valid_email
from moot.core.errors import MootError
from moot.storage import schema as s

MIN_PASSWORD = 10  # characters
_HASHER = PasswordHasher()  # argon2id with the library's current recommended costs


class AccountError(MootError):
    """An account cannot be made or used as asked (the message says why)."""


@dataclass(frozen=True)
class User:
    id: int
    email: str
    is_admin: bool
    created_at: datetime
    disabled: bool = False

    def as_json(self) -> dict[str, Any]:
        return {"email": self.email, "admin": self.is_admin,
                "created": self.created_at.isoformat() + "Z", "disabled": self.disabled}


def _user(row: Row[Any]) -> User:
    return User(row.id, row.email, bool(row.is_admin), row.created_at, bool(row.disabled))


def check_password(password: str, email: str = "") -> None:
    """:class:`AccountError` for a password too easy to guess.

    >>> check_password("correct horse battery")
    >>> check_password("short")
    Traceback (most recent call last):
    ...
    moot.accounts.AccountError: a password needs at least 10 characters
    """
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
    if email and password.strip().lower() in (email.lower(), email.partition("@")[0].lower()):
        raise AccountError("a password must not be the address itself")
    if len(set(password)) < 4:
        raise AccountError("a password needs more than a few different characters")


def create_user(conn: Connection, email: str, password: str, *, admin: bool,
                now: datetime) -> User:
    """A new account whose address counts as proved (an operator made it)."""
    email = email.strip().lower()
    if not valid_email(email):
        raise AccountError(f"{email!r} is not an address like someone@example.org")
    check_password(password, email)
    if conn.execute(select(s.users.c.id).where(s.users.c.email == email)).first():
        raise AccountError(f"there is already an account for {email}")
    uid = int(conn.execute(insert(s.users).returning(s.users.c.id), {
        "email": email, "password_hash": _HASHER.hash(password), "is_admin": admin,
        "created_at": now, "confirmed_at": now, "disabled": False}).scalar_one())
    conn.execute(insert(s.user_addresses), {"user_id": uid, "email": email,
                                            "confirmed_at": now})
    return User(uid, email, admin, now)


def authenticate(conn: Connection, email: str, password: str) -> User | None:
    """The account these credentials open, or None (wrong address or password, disabled or
    unconfirmed account).  A hash made with older costs is brought up to date."""
    row = conn.execute(select(s.users).where(s.users.c.email == email.strip().lower())).first()
    if row is None:
        _HASHER.hash(password)  # about as slow as a real check: no timing oracle for addresses
        return None
    try:
        _HASHER.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if row.disabled or row.confirmed_at is None:
        return None
    if _HASHER.check_needs_rehash(row.password_hash):
        conn.execute(update(s.users).where(s.users.c.id == row.id)
                     .values(password_hash=_HASHER.hash(password)))
    return _user(row)


def all_users(conn: Connection) -> list[User]:
    return [_user(r) for r in conn.execute(select(s.users).order_by(s.users.c.email))]


def count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(s.users)).scalar_one())
