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


# -- more addresses for one account -----------------------------------------------------------
#
# A person may read and post with several addresses (work, home, an old one).  An address is
# theirs once they follow a link mailed to it; until then it waits, and waiting proves
# nothing: another account may ask for the same address, and whoever follows a link first
# gets it.  An address proved by one account is refused to every other, without saying whose.

LINK_PURPOSE = "link-address"
MAX_ADDRESSES = 20  # per account, confirmed and waiting together


@dataclass(frozen=True)
class Address:
    """One of an account's addresses, as its owner sees it."""

    email: str
    confirmed: bool
    login: bool  # the address the account logs in with (it cannot be removed)


def all_addresses(conn: Connection, user_id: int) -> list[Address]:
    """Every address of the account, confirmed or waiting; the log-in address first."""
    row = user_row(conn, user_id)
    login = row.email if row is not None else ""
    a = s.user_addresses.c
    found = [Address(r.email, r.confirmed_at is not None, r.email == login)
             for r in conn.execute(select(a.email, a.confirmed_at)
                                   .where(a.user_id == user_id).order_by(a.email))]
    return sorted(found, key=lambda x: not x.login)


def _held_elsewhere(conn: Connection, user_id: int, email: str) -> bool:
    """Whether another account has proved ``email``, or logs in with it."""
    a = s.user_addresses.c
    proved = conn.execute(select(a.id).where(a.email == email, a.user_id != user_id,
                                             a.confirmed_at.is_not(None))).first()
    login = conn.execute(select(s.users.c.id).where(s.users.c.email == email,
                                                    s.users.c.id != user_id)).first()
    return proved is not None or login is not None


def request_link(conn: Connection, user_id: int, email: str) -> str:
    """Note ``email`` as waiting to be linked to the account, before a link is mailed to it;
    the address as stored (lower case).  :class:`AccountError` when it is not an address,
    is already this account's, or belongs to another account (never saying whose)."""
    email = email.strip().lower()
    if not valid_email(email):
        raise AccountError(f"{email!r} is not an address like someone@example.org")
    a = s.user_addresses.c
    row = conn.execute(select(a.user_id, a.confirmed_at).where(a.email == email)).first()
    if row is not None and row.user_id == user_id:
        if row.confirmed_at is not None:
            raise AccountError(f"{email} is already one of your addresses")
        return email  # still waiting: a fresh link goes out
    if _held_elsewhere(conn, user_id, email):
        raise AccountError(f"{email} belongs to another account here. If it is yours, log "
                           "in with it, or set a new password for it at /reset.")
    mine = conn.execute(select(func.count()).select_from(s.user_addresses)
                        .where(a.user_id == user_id)).scalar_one()
    if mine >= MAX_ADDRESSES:
        raise AccountError(f"an account may have at most {MAX_ADDRESSES} addresses; remove "
                           "one you no longer use first")
    from sqlalchemy import delete

    # Another account's claim that nobody proved: it does not stop the address's owner.
    conn.execute(delete(s.user_addresses).where(a.email == email))
    conn.execute(insert(s.user_addresses), {"user_id": user_id, "email": email,
                                            "confirmed_at": None})
    return email


def link_token(secret: bytes, user_id: int, email: str, expires: int) -> str:
    """The token in the link mailed to ``email``: good for this account and this address
    only, until ``expires`` (Unix seconds).  The address rides along (base64url) so that
    the link works by itself; the MAC covers it (:func:`moot.core.tokens.account_token`)."""
    import base64

    from moot.core.tokens import account_token

    tail = base64.urlsafe_b64encode(email.encode()).rstrip(b"=").decode("ascii")
    return f"{account_token(secret, LINK_PURPOSE, user_id, expires, email)}.{tail}"


def read_link_token(secret: bytes, token: str, *, now: int) -> tuple[int, str] | None:
    """(account id, address) a link token made by :func:`link_token` is good for now, or
    None (altered, expired, made for something else)."""
    import base64
    import binascii

    from moot.core.tokens import read_account_token

    head, dot, tail = token.strip().rpartition(".")
    if not dot or not tail or len(tail) > 1400:
        return None
    try:
        email = base64.urlsafe_b64decode(tail + "=" * (-len(tail) % 4)).decode()
    except (binascii.Error, ValueError):
        return None
    uid = read_account_token(secret, LINK_PURPOSE, head, now=now, bound=email)
    return None if uid is None else (uid, email)


def confirm_link(conn: Connection, user_id: int, email: str, now: datetime) -> bool:
    """The address is proved (its link was followed): it is the account's from now on.
    False when it already was; :class:`AccountError` when the account is gone, the request
    was withdrawn, or another account proved the address first."""
    row = user_row(conn, user_id)
    if row is None or row.disabled:
        raise AccountError("the account this link was made for no longer exists")
    a = s.user_addresses.c
    found = conn.execute(select(a.id, a.user_id, a.confirmed_at).where(a.email == email)).first()
    if found is not None and found.confirmed_at is not None and found.user_id == user_id:
        return False
    if _held_elsewhere(conn, user_id, email):
        raise AccountError(f"{email} belongs to another account now")
    if found is None:
        raise AccountError(f"{email} is no longer waiting to be linked (it was removed); "
                           "ask again on your account page")
    # Waiting for this account, or for another one that asked later: the link proves it.
    conn.execute(update(s.user_addresses).where(a.id == found.id)
                 .values(user_id=user_id, confirmed_at=now))
    return True


def unlink(conn: Connection, user_id: int, email: str) -> bool:
    """Remove an address from the account (False: it was not the account's).  Its list
    memberships stay as they are: they belong to the address.  The address the account
    logs in with cannot be removed (:class:`AccountError`)."""
    from sqlalchemy import delete

    email = email.strip().lower()
    row = user_row(conn, user_id)
    if row is not None and row.email == email:
        raise AccountError(f"you log in with {email}, so it stays on your account")
    a = s.user_addresses.c
    return conn.execute(delete(s.user_addresses).where(a.user_id == user_id,
                                                       a.email == email)).rowcount > 0
