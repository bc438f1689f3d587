"""Bans, per list and site-wide (``list_id`` NULL), and expulsions (a ban that records that a
member was put out).  Patterns are :mod:`moot.core.ban`'s: an address, ``*@domain`` or
``^regex$``.  Every function takes an open connection."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.engine import Connection

from moot.storage import schema as s


def patterns(conn: Connection, list_id: int, now: datetime) -> list[str]:
    """The patterns in force for a list: its own and the site's, expired ones left out."""
    b = s.bans.c
    return list(conn.execute(select(b.pattern).where(
        or_(b.list_id == list_id, b.list_id.is_(None)),
        or_(b.expires.is_(None), b.expires > now)).order_by(b.id)).scalars())


def reason_for(conn: Connection, list_id: int, pattern: str) -> str:
    b = s.bans.c
    row = conn.execute(select(b.reason).where(or_(b.list_id == list_id, b.list_id.is_(None)),
                                              b.pattern == pattern)).first()
    return row.reason if row else ""


def add(conn: Connection, list_id: int | None, pattern: str, *, reason: str, by: str,
        now: datetime, expires: datetime | None = None, expulsion: bool = False) -> bool:
    """A ban; False (nothing changed) when the pattern is already banned there."""
    b = s.bans.c
    where = b.list_id.is_(None) if list_id is None else b.list_id == list_id
    if conn.execute(select(b.id).where(where, b.pattern == pattern)).first():
        return False
    conn.execute(insert(s.bans), {"list_id": list_id, "pattern": pattern, "reason": reason,
                                  "by": by, "at": now, "expires": expires,
                                  "expulsion": expulsion})
    return True


def remove(conn: Connection, list_id: int | None, pattern: str) -> bool:
    b = s.bans.c
    where = b.list_id.is_(None) if list_id is None else b.list_id == list_id
    return conn.execute(delete(s.bans).where(where, b.pattern == pattern)).rowcount > 0


def listed(conn: Connection, list_id: int | None) -> list[dict[str, Any]]:
    """As ``moot ban ls --json`` shows them: pattern, reason, by, at, expires, expulsion
    (``list_id`` None: the site-wide ones)."""
    b = s.bans.c
    where = b.list_id.is_(None) if list_id is None else b.list_id == list_id
    return [{"pattern": r.pattern, "reason": r.reason, "by": r.by,
             "at": r.at.isoformat() + "Z",
             "expires": r.expires.isoformat() + "Z" if r.expires else None,
             "expulsion": bool(r.expulsion)}
            for r in conn.execute(select(s.bans).where(where).order_by(b.id))]
