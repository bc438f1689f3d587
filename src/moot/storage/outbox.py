"""The outbound queue: messages to send, one row per recipient, marked as the sender goes.

A message is queued in the same transaction as what caused it (an archived post, a
confirmation request), so a crash can never leave a post archived but undelivered, or a
confirmation promised but never sent.  The sender claims due rows, hands them to the relay and
marks them sent; one it could not hand over waits and is tried again later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from moot.storage import schema as s
from moot.storage.codec import CODEC, compress_many, decode
from moot.storage.store import bulk_insert


@dataclass(frozen=True)
class Delivery:
    """One queued message and the recipients of it that are due now."""

    outbox_id: int
    list_id: int | None
    kind: str
    mail_from: str
    data: bytes
    recipients: tuple[tuple[int, str, bool], ...]  # (row id, address, personal)
    message_pk: int | None = None  # the archived post it is a copy of, if any


def enqueue(conn: Connection, *, list_id: int | None, kind: str, mail_from: str, data: bytes,
            recipients: Sequence[str | tuple[str, bool]], now: datetime,
            message_pk: int | None = None) -> int | None:
    """Queue ``data`` for each recipient (``(address, personal)`` pairs or bare addresses).
    Nothing is queued for no recipients."""
    rcpts = [(r, False) if isinstance(r, str) else r for r in recipients]
    if not rcpts:
        return None
    oid = int(conn.execute(insert(s.outbox).returning(s.outbox.c.id), {
        "list_id": list_id, "kind": kind, "message_pk": message_pk, "mail_from": mail_from,
        "codec": CODEC, "data": compress_many([data])[0], "created_at": now}).scalar_one())
    bulk_insert(conn, s.outbox_recipients,
                ("outbox_id", "rcpt", "personal", "status", "attempts", "next_attempt_at"),
                [(oid, r, p, "pending", 0, now) for r, p in rcpts])
    return oid


def enqueue_each(conn: Connection, *, list_id: int | None, kind: str, mail_from: str,
                 messages: Sequence[tuple[str, bytes]], now: datetime) -> None:
    """Queue many one-recipient messages at once (``(recipient, data)`` pairs): the welcome
    messages of a pasted roster.  Two statements in all, not two a message."""
    if not messages:
        return
    datas = compress_many([data for _, data in messages])
    ids = conn.execute(insert(s.outbox).returning(s.outbox.c.id, sort_by_parameter_order=True),
                       [{"list_id": list_id, "kind": kind, "message_pk": None,
                         "mail_from": mail_from, "codec": CODEC, "data": data,
                         "created_at": now} for data in datas]).scalars().all()
    bulk_insert(conn, s.outbox_recipients,
                ("outbox_id", "rcpt", "personal", "status", "attempts", "next_attempt_at"),
                [(oid, rcpt, False, "pending", 0, now)
                 for oid, (rcpt, _) in zip(ids, messages, strict=True)])


CLAIM_FOR = timedelta(minutes=10)  # a claim a worker that died without releasing it holds


def due(conn: Connection, now: datetime, limit: int = 500, *, worker: str = "") -> list[Delivery]:
    """Claim pending recipients whose time has come for ``worker`` and return them grouped by
    message, oldest first.  A row another worker holds is skipped (PostgreSQL: ``FOR UPDATE
    SKIP LOCKED``; SQLite has one writer, so the claiming UPDATE is atomic anyway).  Call it in
    a transaction (``engine.begin()``)."""
    r = s.outbox_recipients
    pick = (select(r.c.id)
            .where(r.c.status == "pending", r.c.next_attempt_at <= now,
                   or_(r.c.claimed_until.is_(None), r.c.claimed_until < now))
            .order_by(r.c.id).limit(limit))
    if conn.dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    rows = conn.execute(
        update(r).where(r.c.id.in_(pick.scalar_subquery()))
        .values(claimed_by=worker or None, claimed_until=now + CLAIM_FOR)
        .returning(r.c.id, r.c.outbox_id, r.c.rcpt, r.c.personal)).all()
    by_outbox: dict[int, list[tuple[int, str, bool]]] = {}
    for row in sorted(rows, key=lambda x: x.id):
        by_outbox.setdefault(row.outbox_id, []).append((row.id, row.rcpt, row.personal))
    if not by_outbox:
        return []
    messages = {m.id: m for m in conn.execute(
        select(s.outbox).where(s.outbox.c.id.in_(list(by_outbox))))}
    return [Delivery(oid, messages[oid].list_id, messages[oid].kind, messages[oid].mail_from,
                     decode(messages[oid].codec, messages[oid].data), tuple(rcpts),
                     messages[oid].message_pk)
            for oid, rcpts in sorted(by_outbox.items())]


def release(conn: Connection, worker_prefix: str, *, exact: bool = False) -> int:
    """Give up the claims of workers whose names start with ``worker_prefix`` (this machine's
    workers, when the server starts: none of them is still running), or of the one worker so
    named (``exact``: one that died)."""
    r = s.outbox_recipients
    who = r.c.claimed_by == worker_prefix if exact else r.c.claimed_by.like(f"{worker_prefix}%")
    return conn.execute(update(r).where(who, r.c.status == "pending")
                        .values(claimed_by=None, claimed_until=None)).rowcount


def mark_sent(conn: Connection, ids: Sequence[int], now: datetime) -> None:
    if ids:
        conn.execute(update(s.outbox_recipients)
                     .where(s.outbox_recipients.c.id == bindparam("rid"))
                     .values(status="sent", sent_at=now, claimed_until=None,
                             attempts=s.outbox_recipients.c.attempts + 1),
                     [{"rid": i} for i in ids])


# Waits between attempts; after the last, the recipient is marked failed.
FIRST_RETRY = timedelta(minutes=1)  # then twice as long after each failed attempt...
LONGEST_WAIT = timedelta(hours=4)  # ...up to this
RETRY_FOR = timedelta(hours=48)  # after this long since it was queued, a recipient has failed


def retry_wait(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt.

    >>> [str(retry_wait(n)) for n in (1, 2, 3, 9, 30)]
    ['0:01:00', '0:02:00', '0:04:00', '4:00:00', '4:00:00']
    """
    return min(FIRST_RETRY * 2 ** min(max(attempts - 1, 0), 20), LONGEST_WAIT)


def mark_retry(conn: Connection, ids: Sequence[int], error: str, now: datetime,
               *, permanent: bool = False, retry_for: timedelta = RETRY_FOR) -> None:
    """Note a failed attempt: try again later with exponential backoff, or give up once the
    recipient has waited ``retry_for`` since it was queued (or at once when the relay said the
    failure is permanent)."""
    r = s.outbox_recipients
    for rid in ids:
        row = conn.execute(select(r.c.attempts, s.outbox.c.created_at)
                           .join(s.outbox, s.outbox.c.id == r.c.outbox_id)
                           .where(r.c.id == rid)).one()
        attempts = row.attempts + 1
        wait = retry_wait(attempts)
        failed = permanent or now + wait - row.created_at > retry_for
        conn.execute(update(r).where(r.c.id == rid).values(
            attempts=attempts, last_error=error[:2000], claimed_until=None,
            status="failed" if failed else "pending", next_attempt_at=now + wait))


def counts(conn: Connection) -> dict[str, int]:
    return {status: int(n) for status, n in conn.execute(
        select(s.outbox_recipients.c.status, func.count()).group_by(
            s.outbox_recipients.c.status))}


def summary(conn: Connection) -> list[dict[str, object]]:
    """Per list: recipients waiting for a first try, waiting to be tried again, failed, sent."""
    state = s.outbox_recipients.c.status
    retrying = (state == "pending") & (s.outbox_recipients.c.attempts > 0)
    q = (select(s.mailing_lists.c.address, state, retrying.label("retrying"),
                func.count().label("n"))
         .select_from(s.outbox_recipients.join(s.outbox).outerjoin(s.mailing_lists))
         .group_by(s.mailing_lists.c.address, state, retrying)
         .order_by(s.mailing_lists.c.address))
    out: dict[str, dict[str, object]] = {}
    for address, st, again, n in conn.execute(q):
        row = out.setdefault(address or "", {"list": address or "", "pending": 0,
                                             "retrying": 0, "failed": 0, "sent": 0})
        key = "retrying" if st == "pending" and again else st
        row[key] = int(row.get(key, 0)) + int(n)  # type: ignore[call-overload]
    return list(out.values())


def failures(conn: Connection, limit: int = 50) -> list[dict[str, object]]:
    """The latest recipients that failed for good or are being retried, with the reason."""
    q = (select(s.mailing_lists.c.address, s.outbox_recipients.c.rcpt,
                s.outbox_recipients.c.status, s.outbox_recipients.c.attempts,
                s.outbox_recipients.c.last_error, s.outbox_recipients.c.next_attempt_at)
         .select_from(s.outbox_recipients.join(s.outbox).outerjoin(s.mailing_lists))
         .where(s.outbox_recipients.c.last_error.is_not(None),
                s.outbox_recipients.c.status != "sent")
         .order_by(s.outbox_recipients.c.id.desc()).limit(limit))
    return [{"list": r.address or "", "rcpt": r.rcpt, "status": r.status,
             "attempts": r.attempts, "error": r.last_error,
             "next_attempt": r.next_attempt_at.isoformat() + "Z" if r.status == "pending"
             else None} for r in conn.execute(q)]


KEEP_DONE = timedelta(days=14)  # sent and failed recipients stay this long, for `moot queue`


def purge(conn: Connection, now: datetime, keep: timedelta = KEEP_DONE) -> int:
    """Forget recipients sent or failed more than ``keep`` ago, and messages nobody is left to
    receive; how many recipients went."""
    r = s.outbox_recipients
    done = conn.execute(delete(r).where(r.c.status.in_(("sent", "failed")),
                                        func.coalesce(r.c.sent_at, r.c.next_attempt_at)
                                        < now - keep)).rowcount
    if done:
        left = select(r.c.id).where(r.c.outbox_id == s.outbox.c.id).exists()
        conn.execute(delete(s.outbox).where(~left, s.outbox.c.created_at < now - keep))
    return done


def next_due(conn: Connection) -> datetime | None:
    return conn.execute(select(func.min(s.outbox_recipients.c.next_attempt_at)).where(
        s.outbox_recipients.c.status == "pending")).scalar()
