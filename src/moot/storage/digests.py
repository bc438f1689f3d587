"""The digest queue and each list's digest numbers, each function on an open connection.

Why: a post for digest members waits in ``digest_queue`` (compressed, like the outbox) until
its list's next digest takes it, and the posting pipeline queues it in the transaction that
archives it, so a crash can never lose a post from the digest or put it in twice.

The volume and issue numbers in ``mailing_lists`` are those of the NEXT digest.  Two servers
sharing a PostgreSQL database may both decide a digest is due; :func:`claim_issue` lets only
one of them have each issue (an optimistic update on the numbers it read), so the same posts
never go out twice.

What it won't do: decide when a digest is due, build it or send it (:mod:`moot.digests`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import ColumnElement, delete, exists, func, insert, select, update
from sqlalchemy.engine import Connection

from moot.storage import schema as s
from moot.storage.codec import CODEC, compress_many, decode

_CHUNK = 500  # ids per IN (...), well under every database's parameter limit


class Numbers(NamedTuple):
    """A list's digest state: the numbers of its next digest and when the last one went."""

    volume: int
    issue: int
    last_sent_at: datetime | None  # naive UTC; None: never


def _receiving_digest_members(list_id: int) -> tuple[ColumnElement[bool], ...]:
    m = s.members
    return (m.c.list_id == list_id, m.c.delivery == "digest", m.c.nomail.is_(False),
            m.c.bounce_disabled_at.is_(None))


def has_digest_members(conn: Connection, list_id: int) -> bool:
    """Whether anyone would receive a digest now (the same members as
    :func:`digest_recipients`): when nobody would, posts need not be queued."""
    return bool(conn.execute(select(exists().where(
        *_receiving_digest_members(list_id)))).scalar())


def digest_recipients(conn: Connection, list_id: int) -> list[str]:
    """Digest members with mail on whose delivery has not been stopped by bounces."""
    return list(conn.execute(select(s.members.c.email)
                             .where(*_receiving_digest_members(list_id))
                             .order_by(s.members.c.email)).scalars())


def queue_post(conn: Connection, list_id: int, data: bytes, now: datetime) -> None:
    """Keep a post (as members get it) for the list's next digest."""
    conn.execute(insert(s.digest_queue), {
        "list_id": list_id, "codec": CODEC, "data": compress_many([data])[0],
        "size": len(data), "queued_at": now})


def pending(conn: Connection, list_id: int, ids: Sequence[int] | None = None
            ) -> list[tuple[int, bytes]]:
    """(id, post) of the posts waiting, oldest first; only those in ``ids`` when given."""
    q = s.digest_queue
    base = (select(q.c.id, q.c.codec, q.c.data).where(q.c.list_id == list_id)
            .order_by(q.c.id))
    if ids is None:
        rows = list(conn.execute(base))
    else:
        wanted = list(ids)
        rows = [r for i in range(0, len(wanted), _CHUNK)
                for r in conn.execute(base.where(q.c.id.in_(wanted[i:i + _CHUNK])))]
        rows.sort(key=lambda r: r.id)
    return [(int(r.id), decode(r.codec, r.data)) for r in rows]


def pending_sizes(conn: Connection, list_id: int) -> list[tuple[int, int]]:
    """(id, size in bytes) of the posts waiting, oldest first, without reading the posts."""
    q = s.digest_queue
    return [(int(i), int(n)) for i, n in conn.execute(
        select(q.c.id, q.c.size).where(q.c.list_id == list_id).order_by(q.c.id))]


def pending_size(conn: Connection, list_id: int) -> int:
    """Bytes waiting for the list's next digest (the posts' own sizes, uncompressed)."""
    q = s.digest_queue
    return int(conn.execute(select(func.coalesce(func.sum(q.c.size), 0))
                            .where(q.c.list_id == list_id)).scalar_one())


def oldest_pending(conn: Connection, list_id: int) -> datetime | None:
    """When the oldest waiting post was queued; None when nothing waits."""
    q = s.digest_queue
    return conn.execute(select(func.min(q.c.queued_at)).where(q.c.list_id == list_id)).scalar()


def lists_with_pending(conn: Connection) -> list[int]:
    q = s.digest_queue
    return [int(i) for i in conn.execute(
        select(q.c.list_id).distinct().order_by(q.c.list_id)).scalars()]


def take(conn: Connection, list_id: int, ids: Sequence[int]) -> int:
    """Remove posts that went out (or were dropped); how many were still there."""
    q = s.digest_queue
    wanted = list(ids)
    return sum(conn.execute(delete(q).where(q.c.list_id == list_id,
                                            q.c.id.in_(wanted[i:i + _CHUNK]))).rowcount
               for i in range(0, len(wanted), _CHUNK))


def numbers(conn: Connection, list_id: int) -> Numbers | None:
    """The list's digest numbers; None when there is no such list."""
    ml = s.mailing_lists
    row = conn.execute(select(ml.c.digest_volume, ml.c.digest_issue, ml.c.digest_last_sent_at)
                       .where(ml.c.id == list_id)).first()
    return Numbers(int(row[0]), int(row[1]), row[2]) if row else None


def claim_issue(conn: Connection, list_id: int, volume: int, issue: int, now: datetime,
                *, was: tuple[int, int] | None = None) -> bool:
    """Take issue ``issue`` of volume ``volume`` for sending: the list's next digest becomes
    ``issue + 1`` of that volume and ``digest_last_sent_at`` becomes ``now``.

    ``was`` is the (volume, issue) read from the table, when it differs from the one being
    sent (a new volume starts at issue 1).  The update happens only while the table still
    holds those numbers; False when another process has changed them since (it sent a digest
    first: this one must not go out).  On PostgreSQL the row stays locked until the caller's
    transaction ends, so a rival claim waits and then fails.
    """
    old_volume, old_issue = was if was is not None else (volume, issue)
    ml = s.mailing_lists
    done = conn.execute(update(ml).where(
        ml.c.id == list_id, ml.c.digest_volume == old_volume, ml.c.digest_issue == old_issue)
        .values(digest_volume=volume, digest_issue=issue + 1, digest_last_sent_at=now))
    return done.rowcount == 1
