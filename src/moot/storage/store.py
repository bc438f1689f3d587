"""Writing to the archive: lists, messages with their raw bytes, threads, rejects.

Messages arrive in batches (an import hands over a thousand at a time; a post by LMTP is a
batch of one).  A batch is one transaction: either every message in it is stored with its raw
bytes, its thread and its attachments' descriptions, or none is.  The same bytes stored twice
for a list are one message (``UNIQUE(list_id, sha256)``), which makes imports idempotent.
Two *different* messages with the same Message-ID are both kept.

Threads are assigned as messages arrive (see :mod:`moot.core.threads`): every Message-ID a
list has seen, as a message or only as a reference, is recorded in ``thread_ids`` with its
thread, so a later message that mentions any of them lands in that thread, and a message that
links two threads merges them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Table, bindparam, func, insert, select, update
from sqlalchemy.engine import Connection

from moot.core.errors import ListExists
from moot.core.message import ParsedMessage, base_subject, is_reply_subject
from moot.core.references import hyperkitty_id
from moot.core.threads import connect
from moot.storage import schema as s
from moot.storage.codec import CODEC, compress_many
from moot.storage.db import writing

_SUBJECT_WINDOW = timedelta(days=60)
_CHUNK = 500  # rows per IN (...) lookup, well under every database's parameter limit


def now_utc() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def sha256(raw: bytes) -> bytes:
    return hashlib.sha256(raw).digest()


@dataclass
class Incoming:
    """One message on its way into the archive."""

    raw: bytes
    parsed: ParsedMessage
    digest: bytes
    mbox_from: str | None = None
    envelope_date: datetime | None = None
    compressed: bytes | None = None  # zstd of ``raw``, when the caller has made it already
    identity: str | None = None  # JSON: what was found about the sender (posts only)


@dataclass
class _ThreadState:
    id: int
    subject: str = ""
    root_message_id: str = ""
    started_at: datetime | None = None
    last_at: datetime | None = None
    message_count: int = 0
    new: bool = False

    def absorb(self, date: datetime, message_id: str, subject: str, count: int = 1) -> None:
        if self.started_at is None or date < self.started_at:
            self.started_at, self.root_message_id, self.subject = date, message_id, subject
        if self.last_at is None or date > self.last_at:
            self.last_at = date
        self.message_count += count


@dataclass
class BatchResult:
    stored: list[int] = field(default_factory=list)
    duplicates: int = 0
    threads: list[int] = field(default_factory=list)  # thread of each stored message
    items: list[Incoming] = field(default_factory=list)  # the stored messages, in order


class Store:
    """The archive's write side.  Only :mod:`moot.app` builds one."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- lists -------------------------------------------------------------------------------

    def create_list(self, address: str, *, display_name: str = "", description: str = "",
                    posting_policy: str = "members", archive_policy: str = "public") -> int:
        address = address.strip().lower()
        with self.engine.begin() as conn:
            if conn.execute(select(s.mailing_lists.c.id)
                            .where(s.mailing_lists.c.address == address)).first():
                raise ListExists(address)
            return int(conn.execute(
                insert(s.mailing_lists).returning(s.mailing_lists.c.id),
                {"address": address, "display_name": display_name or address.split("@")[0],
                 "description": description, "posting_policy": posting_policy,
                 "archive_policy": archive_policy, "created_at": now_utc()},
            ).scalar_one())

    # -- messages ----------------------------------------------------------------------------

    def known_digests(self, list_id: int, digests: Sequence[bytes],
                      conn: Connection | None = None) -> set[bytes]:
        """Which of these raw-byte digests the list already holds."""
        if conn is None:
            with self.engine.connect() as own:
                return self.known_digests(list_id, digests, own)
        found: set[bytes] = set()
        for chunk in _chunks(list(digests)):
            found.update(conn.execute(
                select(s.messages.c.sha256).where(s.messages.c.list_id == list_id,
                                                  s.messages.c.sha256.in_(chunk))).scalars())
        return found

    def add_messages(self, list_id: int, batch: Sequence[Incoming],
                     conn: Connection | None = None) -> BatchResult:
        """Store a batch in one transaction; returns the new messages' keys in batch order.

        With ``conn``, the work joins the caller's transaction (the posting pipeline archives a
        post and queues its delivery together)."""
        if conn is None:
            with writing(self.engine) as own:
                return self._add_messages(list_id, batch, own)
        return self._add_messages(list_id, batch, conn)

    def _add_messages(self, list_id: int, batch: Sequence[Incoming],
                      conn: Connection) -> BatchResult:
        result = BatchResult()
        fresh: list[Incoming] = []
        seen: set[bytes] = set()
        # One writer per list at a time across processes (nodes on one PostgreSQL database,
        # an import beside the server): the Message-IDs and threads read here stay true until
        # this transaction commits.  Without it two nodes storing posts of one new thread at
        # once both record its Message-IDs and one fails (451, retried by its MTA).  NO KEY
        # UPDATE leaves inserts that refer to the list free; SQLite has one writer anyway.
        conn.execute(select(s.mailing_lists.c.id).where(s.mailing_lists.c.id == list_id)
                     .with_for_update(key_share=True))
        known = self.known_digests(list_id, [i.digest for i in batch], conn)
        for item in batch:
            if item.digest in known or item.digest in seen:
                result.duplicates += 1
                continue
            seen.add(item.digest)
            fresh.append(item)
        if not fresh:
            return result
        received = now_utc()
        thread_of = self._assign_threads(conn, list_id, fresh, received)
        # _assign_threads has written, so this transaction holds the write lock (SQLite)
        # or draws from the sequence (PostgreSQL): the keys cannot collide.
        keys = _reserve_ids(conn, s.messages, len(fresh))
        rows = [_message_row(k, list_id, item, thread_of[n], received)
                for n, (k, item) in enumerate(zip(keys, fresh, strict=True))]
        bulk_insert(conn, s.messages, _MESSAGE_COLUMNS, rows)
        bulk_insert(conn, s.raw_messages, ("message_pk", "codec", "data"), [
            (k, CODEC, data)
            for k, data in zip(keys, _compressed(fresh), strict=True)])
        bulk_insert(
            conn, s.attachments, ("message_pk", "position", "filename", "content_type", "size"),
            [(k, a.position, a.filename, a.content_type, a.size)
             for k, item in zip(keys, fresh, strict=True) for a in item.parsed.attachments])
        result.stored, result.threads, result.items = keys, thread_of, list(fresh)
        return result

    def add_reject(self, list_id: int, raw: bytes, source: str, reason: str,
                   conn: Connection | None = None) -> bool:
        """Keep bytes that are not a message at all, with the reason.  False if already kept."""
        if conn is None:
            with self.engine.begin() as own:
                return self.add_reject(list_id, raw, source, reason, own)
        digest = sha256(raw)
        if conn.execute(select(s.rejects.c.id).where(
                s.rejects.c.list_id == list_id, s.rejects.c.sha256 == digest)).first():
            return False
        conn.execute(insert(s.rejects), {
            "list_id": list_id, "sha256": digest, "source": source, "reason": reason,
            "codec": CODEC, "data": compress_many([raw])[0], "received_at": now_utc()})
        return True

    # -- threading ---------------------------------------------------------------------------

    def _assign_threads(self, conn: Connection, list_id: int, fresh: Sequence[Incoming],
                        received: datetime) -> list[int]:
        ids_of = [[i.parsed.message_id, *i.parsed.parent_candidates] for i in fresh]
        all_ids = {mid for ids in ids_of for mid in ids}
        known = _lookup_thread_ids(conn, list_id, all_ids)
        groups = connect((ids[0], ids[1:]) for ids in ids_of)
        group_of = {mid: g for g, members in enumerate(groups) for mid in members}
        states: dict[int, _ThreadState] = {}
        merged_away: dict[int, int] = {}
        group_thread: dict[int, int] = {}
        subject_threads: dict[str, int] = {}
        result: list[int] = []

        for item in fresh:
            p = item.parsed
            g = group_of[p.message_id]
            date = _sort_date(item, received)
            if g not in group_thread:
                existing = sorted({known[m] for m in groups[g] if m in known})
                existing = sorted({merged_away.get(t, t) for t in existing})
                if existing:
                    target = existing[0]
                    self._load_states(conn, states, existing)
                    for other in existing[1:]:
                        self._merge(conn, states, merged_away, target, other)
                else:
                    target = None
                    key = base_subject(p.subject)[:200]
                    if (not p.parent_candidates and key and is_reply_subject(p.subject)):
                        target = subject_threads.get(key) or self._thread_by_subject(
                            conn, list_id, key, date)
                        if target is not None:
                            target = merged_away.get(target, target)
                            self._load_states(conn, states, [target])
                    if target is None:
                        # A new thread: numbered negative until the batch inserts them all.
                        target = -1 - len([t for t in states if t < 0])
                        states[target] = _ThreadState(target, new=True)
                        subject_threads.setdefault(key, target)
                group_thread[g] = target
            target = merged_away.get(group_thread[g], group_thread[g])
            group_thread[g] = target
            states[target].absorb(date, p.message_id, p.subject)
            result.append(target)

        def row(st: _ThreadState) -> dict[str, object]:
            return {"list_id": list_id, "subject": st.subject,
                    "subject_key": base_subject(st.subject)[:200],
                    "root_message_id": st.root_message_id, "started_at": st.started_at,
                    "last_at": st.last_at, "message_count": st.message_count}

        created = [st for st in states.values() if st.new]
        real: dict[int, int] = {}
        if created:
            ids = conn.execute(
                insert(s.threads).returning(s.threads.c.id, sort_by_parameter_order=True),
                [row(st) for st in created]).scalars()
            real = {st.id: int(i) for st, i in zip(created, ids, strict=True)}

        def final(t: int) -> int:
            t = merged_away.get(t, t)
            return real.get(t, t)

        # Record every Message-ID not seen before.
        bulk_insert(conn, s.thread_ids, ("list_id", "message_id", "thread_id"),
                     [(list_id, mid, final(group_thread[group_of[mid]]))
                      for mid in all_ids if mid not in known])
        changed = [st for st in states.values() if not st.new and st.id not in merged_away]
        if changed:
            conn.execute(
                update(s.threads).where(s.threads.c.id == bindparam("tid")).values(
                    subject=bindparam("subject"), subject_key=bindparam("subject_key"),
                    root_message_id=bindparam("root_message_id"),
                    started_at=bindparam("started_at"), last_at=bindparam("last_at"),
                    message_count=bindparam("message_count")),
                [{"tid": st.id, **{k: v for k, v in row(st).items() if k != "list_id"}}
                 for st in changed])
        return [final(t) for t in result]

    def _load_states(self, conn: Connection, states: dict[int, _ThreadState],
                     ids: Iterable[int]) -> None:
        missing = [t for t in ids if t not in states]
        if not missing:
            return
        # Locked until the batch commits: another writer (another node, an import beside the
        # server) adding to the same thread waits, then reads the count this one wrote, instead
        # of writing back its own stale count (PostgreSQL; SQLite has one writer anyway).
        for row in conn.execute(select(s.threads).where(s.threads.c.id.in_(missing))
                                .order_by(s.threads.c.id).with_for_update()):
            states[row.id] = _ThreadState(row.id, row.subject, row.root_message_id,
                                          row.started_at, row.last_at, row.message_count)

    def _merge(self, conn: Connection, states: dict[int, _ThreadState],
               merged_away: dict[int, int], target: int, other: int) -> None:
        """Fold thread ``other`` into ``target``: the missing link has arrived."""
        src = states[other]
        if src.started_at is not None:
            states[target].absorb(src.started_at, src.root_message_id, src.subject,
                                  src.message_count)
            assert src.last_at is not None
            states[target].absorb(src.last_at, "", "", 0)
        conn.execute(update(s.messages).where(s.messages.c.thread_id == other)
                     .values(thread_id=target))
        conn.execute(update(s.thread_ids).where(s.thread_ids.c.thread_id == other)
                     .values(thread_id=target))
        conn.execute(s.threads.delete().where(s.threads.c.id == other))
        for k, v in list(merged_away.items()):
            if v == other:
                merged_away[k] = target
        merged_away[other] = target

    def _thread_by_subject(self, conn: Connection, list_id: int, key: str,
                           date: datetime) -> int | None:
        row = conn.execute(
            select(s.threads.c.id).where(
                s.threads.c.list_id == list_id, s.threads.c.subject_key == key,
                s.threads.c.last_at >= date - _SUBJECT_WINDOW,
                s.threads.c.started_at <= date + _SUBJECT_WINDOW)
            .order_by(s.threads.c.last_at.desc()).limit(1)).first()
        return int(row.id) if row else None


def _compressed(items: Sequence[Incoming]) -> list[bytes]:
    missing = [i.raw for i in items if i.compressed is None]
    made = iter(compress_many(missing) if missing else [])
    return [i.compressed if i.compressed is not None else next(made) for i in items]


def bulk_insert(conn: Connection, table: Table, columns: tuple[str, ...],
                 rows: list[tuple[object, ...]]) -> None:
    """INSERT many rows straight through the driver's executemany.

    SQLAlchemy's generic per-row parameter handling costs more than SQLite's insert itself, so
    an import's bulk rows skip it: the statement is still compiled by SQLAlchemy for the
    connection's dialect, and each column's own type adapter is still applied.
    """
    if not rows:
        return
    sql, procs, order = _insert_plan(conn.dialect, table, columns)
    if procs:
        converted = []
        for r in rows:
            row = list(r)
            for n, f in procs:
                if row[n] is not None:
                    row[n] = f(row[n])
            converted.append(tuple(row))
        rows = converted  # type: ignore[assignment]
    if order is None:
        params: list = [dict(zip(columns, r, strict=True)) for r in rows]
    else:
        params = rows if order == list(range(len(columns))) else [
            tuple(r[i] for i in order) for r in rows]
    conn.exec_driver_sql(sql, params)


_PLANS: dict[tuple[str, str, tuple[str, ...]], tuple[str, list, list[int] | None]] = {}


def _insert_plan(dialect: Any, table: Table, columns: tuple[str, ...]
                 ) -> tuple[str, list, list[int] | None]:
    """The compiled INSERT for these columns, their bind processors and the parameter order
    (None: named parameters), made once per dialect, table and columns."""
    key = (dialect.name, table.name, columns)
    plan = _PLANS.get(key)
    if plan is None:
        compiled = insert(table).compile(dialect=dialect, column_keys=list(columns))
        # The column types' own adapters (e.g. SQLite's datetime format), applied column-wise.
        procs = [(n, f) for n, name in enumerate(columns)
                 if (f := table.c[name].type._cached_bind_processor(dialect)) is not None]
        order = ([columns.index(name) for name in compiled.positiontup or ()]
                 if compiled.positional else None)
        plan = _PLANS[key] = (str(compiled), procs, order)
    return plan


def _lookup_thread_ids(conn: Connection, list_id: int, ids: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for chunk in _chunks(list(ids)):
        for mid, tid in conn.execute(
                select(s.thread_ids.c.message_id, s.thread_ids.c.thread_id).where(
                    s.thread_ids.c.list_id == list_id, s.thread_ids.c.message_id.in_(chunk))):
            out[mid] = tid
    return out


def _sort_date(item: Incoming, received: datetime) -> datetime:
    return item.parsed.date_utc or item.envelope_date or received


_MESSAGE_COLUMNS = (
    "id", "list_id", "sha256", "message_id", "message_id_generated", "thread_id", "from_name",
    "from_addr", "date_utc", "date_raw", "sort_date", "subject", "in_reply_to", "references",
    "size", "body_text", "has_html", "attachment_count", "problems", "mbox_from", "received_at",
    "identity", "hyperkitty_id",
)


def _message_row(key: int, list_id: int, item: Incoming, thread_id: int,
                 received: datetime) -> tuple[object, ...]:
    p = item.parsed
    return (key, list_id, item.digest, p.message_id, p.message_id_generated, thread_id,
            p.from_name, p.from_addr, p.date_utc, p.date_raw, _sort_date(item, received),
            p.subject, p.in_reply_to, " ".join(p.references), p.size, p.body_text, p.has_html,
            len(p.attachments), "\n".join(p.problems), item.mbox_from, received, item.identity,
            hyperkitty_id(p.message_id))


def _reserve_ids(conn: Connection, table: Table, n: int) -> list[int]:
    """``n`` fresh primary keys for ``table``."""
    if conn.dialect.name == "postgresql":
        seq = f"{table.name}_id_seq"
        return [int(i) for i in conn.execute(
            select(func.nextval(seq)).select_from(func.generate_series(1, n))).scalars()]
    top = conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
    return list(range(int(top) + 1, int(top) + 1 + n))


def _chunks(values: list, size: int = _CHUNK) -> Iterable[list]:
    for i in range(0, len(values), size):
        yield values[i : i + size]
