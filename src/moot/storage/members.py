"""Members, pending confirmations and bans, each function on an open connection."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.engine import Connection

from moot.core.member import Member
from moot.storage import schema as s


def _member(row: Row[Any]) -> Member:
    return Member(email=row.email, role=row.role, delivery=row.delivery, nomail=row.nomail,
                  receive_own=row.receive_own, moderated=row.moderated, name=row.name)


def get_member(conn: Connection, list_id: int, email: str) -> Member | None:
    row = conn.execute(select(s.members).where(s.members.c.list_id == list_id,
                                               s.members.c.email == email.lower())).first()
    return _member(row) if row else None


def all_members(conn: Connection, list_id: int) -> list[Member]:
    return [_member(r) for r in conn.execute(
        select(s.members).where(s.members.c.list_id == list_id).order_by(s.members.c.email))]


def page(conn: Connection, list_id: int, *, query: str = "", role: str = "",
         after: str = "", limit: int = 100) -> tuple[list[Member], int]:
    """One page of a list's members in address order, after the address ``after`` (keyset:
    as fast on page 1,000 as on page 1), and how many match in all.  ``query`` matches part of
    the address or name."""
    m = s.members.c
    where = _matching(list_id, query, role)
    total = count(conn, list_id, query=query, role=role)
    q = select(s.members).where(*where, m.email > after).order_by(m.email).limit(limit)
    return [_member(r) for r in conn.execute(q)], total


def _matching(list_id: int, query: str = "", role: str = "") -> list[Any]:
    """The conditions of :func:`page`: the list, part of the address or name, one role."""
    m = s.members.c
    where = [m.list_id == list_id]
    if query:
        needle = "%" + query.lower().replace("\\", "\\\\").replace("%", "\\%").replace(
            "_", "\\_") + "%"
        where.append(m.email.like(needle, escape="\\") | m.name.like(needle, escape="\\"))
    if role:
        where.append(m.role == role)
    return where


def count(conn: Connection, list_id: int, *, query: str = "", role: str = "",
          upto: str = "") -> int:
    """How many members match (as :func:`page` filters); with ``upto``, only those whose
    address sorts at or before it: where a keyset page starts, for "101-200 of 250"."""
    from sqlalchemy import func

    where = _matching(list_id, query, role)
    if upto:
        where.append(s.members.c.email <= upto)
    return int(conn.execute(select(func.count()).select_from(s.members).where(*where))
               .scalar_one())


def export_batch(conn: Connection, list_id: int, *, after: str = "",
                 limit: int = 1000) -> list[Row[Any]]:
    """The next ``limit`` members after the address ``after``, with when they joined: a CSV
    export reads a big list a batch at a time instead of all at once."""
    m = s.members.c
    return list(conn.execute(
        select(m.email, m.name, m.role, m.delivery, m.nomail, m.moderated, m.subscribed_at)
        .where(m.list_id == list_id, m.email > after).order_by(m.email).limit(limit)))


def moderators(conn: Connection, list_id: int) -> list[Member]:
    return [_member(r) for r in conn.execute(
        select(s.members).where(s.members.c.list_id == list_id,
                                s.members.c.role.in_(("moderator", "owner")))
        .order_by(s.members.c.email))]


def owners(conn: Connection, list_id: int) -> list[Member]:
    return [m for m in moderators(conn, list_id) if m.role == "owner"]


def post_recipients(conn: Connection, list_id: int) -> list[tuple[str, bool]]:
    """Who gets a post now: regular-delivery members with mail on, each with whether they
    want their own posts."""
    q = select(s.members.c.email, s.members.c.receive_own).where(
        s.members.c.list_id == list_id, s.members.c.delivery == "regular",
        s.members.c.nomail.is_(False), s.members.c.bounce_disabled_at.is_(None)
    ).order_by(s.members.c.email)
    return [(e, bool(own)) for e, own in conn.execute(q)]


def add_member(conn: Connection, list_id: int, member: Member, now: datetime) -> bool:
    """Subscribe; False (and nothing changed) when already a member."""
    if get_member(conn, list_id, member.email) is not None:
        return False
    conn.execute(insert(s.members), {
        "list_id": list_id, "email": member.email.lower(), "name": member.name,
        "role": member.role, "delivery": member.delivery, "nomail": member.nomail,
        "receive_own": member.receive_own, "moderated": member.moderated,
        "subscribed_at": now})
    return True


def existing(conn: Connection, list_id: int, emails: list[str]) -> set[str]:
    """Which of these (lower-case) addresses are members, looked up 500 at a time."""
    found: set[str] = set()
    for i in range(0, len(emails), 500):
        found.update(conn.execute(select(s.members.c.email).where(
            s.members.c.list_id == list_id, s.members.c.email.in_(emails[i:i + 500])))
            .scalars())
    return found


def add_members(conn: Connection, list_id: int, members: list[Member], now: datetime) -> None:
    """Subscribe many new members in one statement (the caller made sure none is a member:
    :func:`existing`); no welcome, no ban check: see :meth:`moot.membership.Membership.
    subscribe_now` for one at a time."""
    if members:
        conn.execute(insert(s.members), [{
            "list_id": list_id, "email": x.email.lower(), "name": x.name, "role": x.role,
            "delivery": x.delivery, "nomail": x.nomail, "receive_own": x.receive_own,
            "moderated": x.moderated, "subscribed_at": now} for x in members])


def update_member(conn: Connection, list_id: int, email: str, **changes: Any) -> bool:
    done = conn.execute(update(s.members).where(
        s.members.c.list_id == list_id, s.members.c.email == email.lower()).values(**changes))
    return done.rowcount > 0


def remove_member(conn: Connection, list_id: int, email: str) -> bool:
    done = conn.execute(delete(s.members).where(s.members.c.list_id == list_id,
                                                s.members.c.email == email.lower()))
    return done.rowcount > 0


# -- pending confirmations ----------------------------------------------------------------------

def add_pending(conn: Connection, *, token: str, list_id: int, email: str, action: str,
                delivery: str, now: datetime, expires: datetime) -> None:
    # One open request per address and action: a second request replaces the first.
    conn.execute(delete(s.pending).where(s.pending.c.list_id == list_id,
                                         s.pending.c.email == email.lower(),
                                         s.pending.c.action == action))
    conn.execute(insert(s.pending), {
        "token": token, "list_id": list_id, "email": email.lower(), "action": action,
        "delivery": delivery, "created_at": now, "expires_at": expires})


def recent_pending(conn: Connection, list_id: int, email: str, action: str,
                   since: datetime) -> bool:
    """Whether the same request was made (and mailed) since ``since``."""
    return conn.execute(select(s.pending.c.token).where(
        s.pending.c.list_id == list_id, s.pending.c.email == email.lower(),
        s.pending.c.action == action, s.pending.c.created_at > since)).first() is not None


def take_pending(conn: Connection, token: str, now: datetime) -> Row[Any] | None:
    """The request a token confirms, removed; None if unknown or expired."""
    row = conn.execute(select(s.pending).where(s.pending.c.token == token)).first()
    if row is None:
        return None
    conn.execute(delete(s.pending).where(s.pending.c.token == token))
    return row if row.expires_at > now else None


def purge_expired(conn: Connection, now: datetime) -> int:
    return conn.execute(delete(s.pending).where(s.pending.c.expires_at <= now)).rowcount


# -- bans ---------------------------------------------------------------------------------------

def ban_patterns(conn: Connection, list_id: int, now: datetime) -> list[str]:
    """The list's bans and the site's (see :mod:`moot.storage.bans`)."""
    from moot.storage.bans import patterns

    return patterns(conn, list_id, now)


# -- who posts: names for look-alike checks, authentication record ------------------------------

def names_and_addresses(conn: Connection, list_id: int) -> list[tuple[str, str]]:
    """(display name, address) of every member, for :class:`moot.core.identity.Roster`."""
    return [(n or "", e) for n, e in conn.execute(
        select(s.members.c.name, s.members.c.email).where(s.members.c.list_id == list_id))]


def auth_passes(conn: Connection, list_id: int, email: str) -> int:
    """How many of the member's posts passed authentication so far."""
    return int(conn.execute(select(s.members.c.auth_passes).where(
        s.members.c.list_id == list_id, s.members.c.email == email.lower())).scalar() or 0)


def count_auth_pass(conn: Connection, list_id: int, email: str, now: datetime) -> None:
    conn.execute(update(s.members).where(s.members.c.list_id == list_id,
                                         s.members.c.email == email.lower())
                 .values(auth_passes=s.members.c.auth_passes + 1, last_auth_pass_at=now))
