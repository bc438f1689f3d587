"""The moderation queue: posts held with the raw bytes as received and the reasons; which of
them are old enough to expire; and how far the moderators' summary of a list has got."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.engine import Connection

from moot.storage import schema as s
from moot.storage.codec import CODEC, compress_many, decode

_SUMMARY = (s.held.c.id, s.held.c.list_id, s.held.c.message_id, s.held.c.sender,
            s.held.c.envelope_sender, s.held.c.subject, s.held.c.reasons, s.held.c.received_at)


def hold(conn: Connection, *, list_id: int, message_id: str, sender: str, envelope_sender: str,
         subject: str, reasons: list[str], raw: bytes, now: datetime) -> int:
    return int(conn.execute(insert(s.held).returning(s.held.c.id), {
        "list_id": list_id, "message_id": message_id, "sender": sender,
        "envelope_sender": envelope_sender, "subject": subject, "reasons": "\n".join(reasons),
        "received_at": now, "codec": CODEC, "data": compress_many([raw])[0]}).scalar_one())


def waiting(conn: Connection, list_id: int) -> list[Row[Any]]:
    return list(conn.execute(select(*_SUMMARY).where(
        s.held.c.list_id == list_id, s.held.c.decision.is_(None)).order_by(s.held.c.id)))


def summary_json(row: Row[Any]) -> dict[str, Any]:
    """One waiting post as ``moot held --json`` and the API show it."""
    return {"id": row.id, "message_id": row.message_id, "from": row.sender,
            "subject": row.subject, "reasons": [x for x in row.reasons.split("\n") if x],
            "received": row.received_at.isoformat() + "Z"}


def get_held(conn: Connection, list_id: int, hold_id: int) -> Row[Any] | None:
    return conn.execute(select(*_SUMMARY, s.held.c.decision, s.held.c.decided_by,
                               s.held.c.codec, s.held.c.data)
                        .where(s.held.c.list_id == list_id, s.held.c.id == hold_id)).first()


def raw_of(row: Row[Any]) -> bytes:
    return decode(row.codec, row.data)


def decide(conn: Connection, hold_id: int, *, decision: str, by: str, reason: str,
           now: datetime) -> bool:
    """Record a decision once; False when someone decided first."""
    done = conn.execute(update(s.held).where(s.held.c.id == hold_id, s.held.c.decision.is_(None))
                        .values(decision=decision, decided_by=by, decided_at=now,
                                decision_reason=reason))
    return done.rowcount == 1


# -- expiry and the moderators' notices ---------------------------------------------------------


def received_since(conn: Connection, list_id: int, since: datetime) -> int:
    """How many posts of the list were held (decided since or not) after ``since``."""
    h = s.held.c
    return int(conn.execute(select(func.count()).select_from(s.held).where(
        h.list_id == list_id, h.received_at > since)).scalar_one())


def waiting_before(conn: Connection, list_id: int, before: datetime) -> list[Row[Any]]:
    """Undecided posts held before ``before``, oldest first."""
    h = s.held.c
    return list(conn.execute(select(*_SUMMARY, h.decision).where(
        h.list_id == list_id, h.decision.is_(None), h.received_at < before).order_by(h.id)))


def lists_waiting(conn: Connection) -> list[int]:
    """The lists with anything waiting for a moderator."""
    h = s.held.c
    return list(conn.execute(select(h.list_id).where(h.decision.is_(None)).distinct()
                             .order_by(h.list_id)).scalars())


def waiting_after(conn: Connection, list_id: int, after_id: int, limit: int | None = None
                  ) -> list[Row[Any]]:
    """Undecided posts with a number above ``after_id``, oldest first (at most ``limit``)."""
    h = s.held.c
    return list(conn.execute(select(*_SUMMARY).where(
        h.list_id == list_id, h.decision.is_(None), h.id > after_id).order_by(h.id)
        .limit(limit)))


def arrivals_since(conn: Connection, list_id: int, since: datetime) -> list[tuple[int, datetime]]:
    """(id, received_at) of every post held after ``since``, decided or not."""
    h = s.held.c
    return [(r.id, r.received_at) for r in conn.execute(
        select(h.id, h.received_at).where(h.list_id == list_id, h.received_at > since)
        .order_by(h.id))]


def _summary_key(list_id: int) -> str:
    return f"held-summary:{list_id}"


def summarised_through(conn: Connection, list_id: int) -> int:
    """The highest hold number the moderators' last summary covered (0: none yet).  Kept
    in the ``site`` table, so that every worker agrees."""
    value = conn.execute(select(s.site.c.value).where(s.site.c.name == _summary_key(list_id))
                         ).scalar()
    return int(bytes(value).decode("ascii")) if value is not None else 0


def set_summarised_through(conn: Connection, list_id: int, hold_id: int) -> None:
    value = str(hold_id).encode("ascii")
    done = conn.execute(update(s.site).where(s.site.c.name == _summary_key(list_id))
                        .values(value=value))
    if done.rowcount == 0:
        conn.execute(insert(s.site), {"name": _summary_key(list_id), "value": value})
