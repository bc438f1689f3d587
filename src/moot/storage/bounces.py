"""Bounces as the storage keeps them: the raw reports that came back, what each member's record
says, and the history the owner reads.  Every function takes an open connection."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, insert, select, update
from sqlalchemy.engine import Connection

from moot.core.bounce_score import BounceState
from moot.storage import schema as s
from moot.storage.codec import decode

EVENT_KINDS = ("bounce", "delayed", "unrecognized", "disabled", "warning", "probe-bounced",
               "enabled", "removed")


def unprocessed(conn: Connection, limit: int = 100) -> list[tuple[int, int, str, bytes]]:
    """(id, list id, token, raw bytes) of reports not read yet, oldest first."""
    rows = conn.execute(select(s.bounces.c.id, s.bounces.c.list_id, s.bounces.c.token,
                               s.bounces.c.codec, s.bounces.c.data)
                        .where(s.bounces.c.processed.is_(False))
                        .order_by(s.bounces.c.id).limit(limit)).all()
    return [(r.id, r.list_id, r.token, decode(r.codec, r.data)) for r in rows]


def claim(conn: Connection, bounce_id: int) -> bool:
    """Mark one report read; False when another process read it first."""
    return conn.execute(update(s.bounces).where(s.bounces.c.id == bounce_id,
                                                s.bounces.c.processed.is_(False))
                        .values(processed=True)).rowcount == 1


def add_event(conn: Connection, list_id: int, email: str, kind: str, now: datetime,
              detail: str = "", bounce_id: int | None = None) -> int:
    assert kind in EVENT_KINDS, kind
    return int(conn.execute(insert(s.bounce_events).returning(s.bounce_events.c.id), {
        "list_id": list_id, "email": email.lower(), "at": now, "kind": kind,
        "detail": detail[:2000], "bounce_id": bounce_id}).scalar_one())


def event(conn: Connection, event_id: int) -> Row[Any] | None:
    return conn.execute(select(s.bounce_events).where(s.bounce_events.c.id == event_id)).first()


def history(conn: Connection, list_id: int, email: str | None = None,
            limit: int = 500) -> list[dict[str, object]]:
    """What happened to members' delivery because of bounces, newest first."""
    e = s.bounce_events.c
    q = select(s.bounce_events).where(e.list_id == list_id)
    if email is not None:
        q = q.where(e.email == email.lower())
    return [{"email": r.email, "at": r.at.isoformat() + "Z", "kind": r.kind,
             "detail": r.detail} for r in conn.execute(q.order_by(e.id.desc()).limit(limit))]


def state(conn: Connection, list_id: int, email: str) -> BounceState | None:
    m = s.members.c
    row = conn.execute(select(m.bounce_score, m.last_bounce_at, m.bounce_disabled_at,
                              m.bounce_warnings_sent, m.last_warning_at)
                       .where(m.list_id == list_id, m.email == email.lower())).first()
    if row is None:
        return None
    return BounceState(row.bounce_score, row.last_bounce_at, row.bounce_disabled_at,
                       row.bounce_warnings_sent, row.last_warning_at)


def set_state(conn: Connection, list_id: int, email: str, new: BounceState) -> None:
    conn.execute(update(s.members).where(s.members.c.list_id == list_id,
                                         s.members.c.email == email.lower()).values(
        bounce_score=new.score, last_bounce_at=new.last_bounce,
        bounce_disabled_at=new.disabled_at, bounce_warnings_sent=new.warnings_sent,
        last_warning_at=new.last_warning))


def count_warning(conn: Connection, list_id: int, email: str, sent: int, now: datetime) -> bool:
    """Record one more notice, if nobody else has sent it (``sent`` is the count as read)."""
    m = s.members.c
    return conn.execute(update(s.members).where(
        m.list_id == list_id, m.email == email.lower(), m.bounce_warnings_sent == sent)
        .values(bounce_warnings_sent=sent + 1, last_warning_at=now)).rowcount == 1


def disabled(conn: Connection) -> list[tuple[int, str, BounceState]]:
    """Every member, on every list, whose delivery bounces stopped."""
    m = s.members.c
    return [(r.list_id, r.email, BounceState(r.bounce_score, r.last_bounce_at,
                                             r.bounce_disabled_at, r.bounce_warnings_sent,
                                             r.last_warning_at))
            for r in conn.execute(select(s.members).where(m.bounce_disabled_at.is_not(None))
                                  .order_by(m.id))]


def probe_returned(conn: Connection, list_id: int, email: str, since: datetime) -> bool:
    e = s.bounce_events.c
    return conn.execute(select(e.id).where(and_(
        e.list_id == list_id, e.email == email.lower(), e.kind == "probe-bounced",
        e.at >= since)).limit(1)).first() is not None
