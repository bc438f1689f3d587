"""Web accounts: a person, their password (argon2id, argon2-cffi), and whether they run the
site.  ``moot user create`` makes them; the web's sign-up, log-in and sessions (the accounts
issue) build on this.

Sessions: the cookie holds a random token (signed by the web layer); the database keeps only
its hash, so a stolen database opens no session, and ending a session there ends it
everywhere.

Who may do what with an account is in moot.authz.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
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


# -- sessions -------------------------------------------------------------------------------

SESSION_FOR = timedelta(days=14)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(conn: Connection, user: User, now: datetime) -> str:
    """A new session for ``user``; the token for the cookie (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    conn.execute(insert(s.sessions), {"id": _digest(token), "user_id": user.id,
                                      "created_at": now, "expires_at": now + SESSION_FOR})
    return token


def session_user(conn: Connection, token: str, now: datetime) -> User | None:
    """The account a session token is for, if the session is still open."""
    q = (select(s.users).join(s.sessions, s.sessions.c.user_id == s.users.c.id)
         .where(s.sessions.c.id == _digest(token), s.sessions.c.revoked_at.is_(None),
                s.sessions.c.expires_at > now, s.users.c.disabled.is_(False)))
    row = conn.execute(q).first()
    return _user(row) if row else None


def end_session(conn: Connection, token: str, now: datetime) -> None:
    conn.execute(update(s.sessions).where(s.sessions.c.id == _digest(token))
                 .values(revoked_at=now))


def end_all_sessions(conn: Connection, user_id: int, now: datetime) -> int:
    """Log the account out everywhere (a password change, a stolen laptop)."""
    return conn.execute(update(s.sessions).where(s.sessions.c.user_id == user_id,
                                                 s.sessions.c.revoked_at.is_(None))
                        .values(revoked_at=now)).rowcount


def addresses(conn: Connection, user_id: int) -> list[str]:
    """The account's confirmed addresses."""
    a = s.user_addresses.c
    return list(conn.execute(select(a.email).where(a.user_id == user_id,
                                                   a.confirmed_at.is_not(None))).scalars())


# -- sign-up and password reset -------------------------------------------------------------

def find_user(conn: Connection, email: str) -> Row[Any] | None:
    return conn.execute(select(s.users).where(s.users.c.email == email.strip().lower())).first()


def user_row(conn: Connection, user_id: int) -> Row[Any] | None:
    return conn.execute(select(s.users).where(s.users.c.id == user_id)).first()


def sign_up(conn: Connection, email: str, password: str, now: datetime) -> int | None:
    """A new account waiting for its address to be confirmed; its id, or None when the
    address already has an account (the caller must not say so: see web/accounts.py)."""
    email = email.strip().lower()
    if not valid_email(email):
        raise AccountError(f"{email!r} is not an address like someone@example.org")
    check_password(password, email)
    if find_user(conn, email) is not None:
        return None
    uid = int(conn.execute(insert(s.users).returning(s.users.c.id), {
        "email": email, "password_hash": _HASHER.hash(password), "is_admin": False,
        "created_at": now, "confirmed_at": None, "disabled": False}).scalar_one())
    conn.execute(insert(s.user_addresses), {"user_id": uid, "email": email,
                                            "confirmed_at": None})
    return uid


def confirm(conn: Connection, user_id: int, now: datetime) -> bool:
    """The account's address is proved (its confirmation link was followed)."""
    done = conn.execute(update(s.users).where(s.users.c.id == user_id,
                                              s.users.c.confirmed_at.is_(None))
                        .values(confirmed_at=now)).rowcount
    # Only the address signed up with: others linked later are confirmed each by its own link.
    row = user_row(conn, user_id)
    if row is not None:
        conn.execute(update(s.user_addresses).where(s.user_addresses.c.user_id == user_id,
                                                    s.user_addresses.c.email == row.email,
                                                    s.user_addresses.c.confirmed_at.is_(None))
                     .values(confirmed_at=now))
    return done > 0


def set_password(conn: Connection, user_id: int, password: str, now: datetime) -> None:
    """A new password (a reset): every open session ends."""
    row = user_row(conn, user_id)
    if row is None:
        raise AccountError("no such account")
    check_password(password, row.email)
    conn.execute(update(s.users).where(s.users.c.id == user_id)
                 .values(password_hash=_HASHER.hash(password)))
    end_all_sessions(conn, user_id, now)
