"""The audit log: every moderation decision, ban, expulsion, re-admission and setting change,
who did it and when, for the owners to read.  Rows are only ever added."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from moot.storage import schema as s


def record(conn: Connection, list_id: int | None, actor: str, action: str, target: str = "",
           detail: str = "", now: datetime | None = None) -> None:
    """One entry, in the caller's transaction (so it exists exactly when the action does)."""
    from moot.storage.store import now_utc

    conn.execute(insert(s.audit_log), {
        "list_id": list_id, "at": now or now_utc(), "actor": actor[:320] or "unknown",
        "action": action[:40], "target": target[:1000], "detail": detail[:4000]})


def entries(conn: Connection, list_id: int | None, limit: int = 200) -> list[dict[str, Any]]:
    """The newest entries first; ``list_id`` None: the site-wide ones."""
    a = s.audit_log.c
    where = a.list_id.is_(None) if list_id is None else a.list_id == list_id
    return [{"at": r.at.isoformat() + "Z", "actor": r.actor, "action": r.action,
             "target": r.target, "detail": r.detail}
            for r in conn.execute(select(s.audit_log).where(where)
                                  .order_by(a.id.desc()).limit(limit))]


def entries_before(conn: Connection, list_id: int, *, before: int | None = None,
                   limit: int = 100) -> list[dict[str, Any]]:
    """A page of the log, newest first, with each entry's number: the entries numbered below
    ``before`` (None: from the newest), so the next page starts after the last one shown."""
    a = s.audit_log.c
    q = select(s.audit_log).where(a.list_id == list_id)
    if before is not None:
        q = q.where(a.id < before)
    return [{"id": r.id, "at": r.at, "actor": r.actor, "action": r.action, "target": r.target,
             "detail": r.detail} for r in conn.execute(q.order_by(a.id.desc()).limit(limit))]
