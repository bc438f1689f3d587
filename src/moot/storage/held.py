"""The moderation queue: posts held with the raw bytes as received and the reasons."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, update
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
    return conn.execute(select(*_SUMMARY, s.held.c.decision, s.held.c.codec, s.held.c.data)
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
