"""Who may do what: a visitor's roles on each list, and the tokens scripts use for the API.

A person is known by an account (a session on the web, or an API token for scripts); what they
may do on a list follows from the roles that their account's confirmed addresses hold there
(member < moderator < owner).  A site admin (``moot user create --admin``, or a script holding
the site's ``admin_token``) may do everything everywhere.  No I/O beyond the connection given;
the web and the API turn a refusal into 401/403/404.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from moot.accounts import User, _user, addresses
from moot.storage import schema as s

# An editor composes the list's edited issues (moot.issues); moderators and owners may too.
RANK = {"member": 1, "editor": 2, "moderator": 3, "owner": 4}
TOKEN_PREFIX = "moot_"


@dataclass(frozen=True)
class Viewer:
    """Whoever is asking: an account, the holder of the site's admin token, or nobody."""

    user: User | None = None
    via: str = "anonymous"  # anonymous | session | token | admin_token
    addresses: tuple[str, ...] = ()
    _roles: dict[int, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def site_admin(self) -> bool:
        return self.via == "admin_token" or bool(self.user and self.user.is_admin)

    @property
    def anonymous(self) -> bool:
        return self.via == "anonymous"

    @property
    def actor(self) -> str:
        """How the audit log names them."""
        if self.user is not None:
            return self.user.email
        return "api" if self.via == "admin_token" else "anonymous"


ANONYMOUS = Viewer()


def viewer_for(conn: Connection, user: User | None, via: str) -> Viewer:
    """A viewer for an account (its confirmed addresses looked up once)."""
    if user is None:
        return ANONYMOUS
    return Viewer(user, via, tuple(addresses(conn, user.id)))


def roles(conn: Connection, viewer: Viewer) -> dict[int, str]:
    """list id -> the viewer's highest role there, for every list they are on."""
    if not viewer.addresses:
        return {}
    found: dict[int, str] = {}
    q = select(s.members.c.list_id, s.members.c.role).where(
        s.members.c.email.in_(viewer.addresses))
    for list_id, role in conn.execute(q):
        if RANK.get(role, 0) > RANK.get(found.get(list_id, ""), 0):
            found[list_id] = role
    return found


def role_on(conn: Connection, viewer: Viewer, list_id: int) -> str | None:
    """The viewer's role on one list (a site admin counts as an owner everywhere)."""
    if viewer.site_admin:
        return "owner"
    if list_id not in viewer._roles and viewer.addresses:
        viewer._roles.update(roles(conn, viewer))
    return viewer._roles.get(list_id)


def may(conn: Connection, viewer: Viewer, list_id: int, need: str) -> bool:
    """Whether the viewer holds at least role ``need`` (member|editor|moderator|owner) on a
    list."""
    return RANK.get(role_on(conn, viewer, list_id) or "", 0) >= RANK[need]


def may_read_archive(conn: Connection, viewer: Viewer, list_id: int, archive_policy: str
                     ) -> bool:
    """Public archives: anyone; private ones: members and site admins; none: nobody."""
    if archive_policy == "public":
        return True
    if archive_policy == "private":
        return may(conn, viewer, list_id, "member")
    return False


def readable_lists(conn: Connection, viewer: Viewer) -> dict[str, int]:
    """address -> id of every list whose archive this viewer may read (for search)."""
    q = select(s.mailing_lists.c.address, s.mailing_lists.c.id,
               s.mailing_lists.c.archive_policy)
    mine = roles(conn, viewer) if not viewer.site_admin else {}
    out: dict[str, int] = {}
    for address, list_id, policy in conn.execute(q):
        if policy == "public" or (policy == "private"
                                  and (viewer.site_admin or list_id in mine)):
            out[address] = list_id
    return out


# -- API tokens ---------------------------------------------------------------------------

def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(conn: Connection, user_id: int, name: str, now: datetime) -> str:
    """A new API token for an account; shown once (only its hash is kept)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    conn.execute(insert(s.api_tokens), {"user_id": user_id, "name": name[:200],
                                        "token_hash": _digest(token), "created_at": now})
    return token


def token_user(conn: Connection, token: str, now: datetime) -> User | None:
    """The account an API token belongs to, if the token is live (its use is noted)."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    t = s.api_tokens.c
    row = conn.execute(select(s.users, t.id.label("token_id"))
                       .join(s.api_tokens, t.user_id == s.users.c.id)
                       .where(t.token_hash == _digest(token), t.revoked_at.is_(None),
                              s.users.c.disabled.is_(False))).first()
    if row is None:
        return None
    conn.execute(update(s.api_tokens).where(t.id == row.token_id).values(last_used_at=now))
    return _user(row)


def tokens(conn: Connection, user_id: int) -> list[dict[str, Any]]:
    t = s.api_tokens.c
    rows = conn.execute(select(t.id, t.name, t.created_at, t.last_used_at)
                        .where(t.user_id == user_id, t.revoked_at.is_(None)).order_by(t.id))
    return [{"id": r.id, "name": r.name, "created": r.created_at.isoformat() + "Z",
             "last_used": r.last_used_at.isoformat() + "Z" if r.last_used_at else None}
            for r in rows]


def revoke_token(conn: Connection, user_id: int, token_id: int, now: datetime) -> bool:
    t = s.api_tokens.c
    return conn.execute(update(s.api_tokens).where(t.id == token_id, t.user_id == user_id,
                                                   t.revoked_at.is_(None))
                        .values(revoked_at=now)).rowcount > 0
