"""Reading the archive: what the web pages, the feeds and ``moot thread``/``moot export`` show.

Every query is bounded (a page, a month, a thread) except the exports, which stream.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, and_, func, or_, select

from moot.core.errors import ListNotFound
from moot.storage import codec
from moot.storage import schema as s

_LIST_MESSAGE_COLUMNS = (
    s.messages.c.id, s.messages.c.message_id, s.messages.c.thread_id, s.messages.c.from_name,
    s.messages.c.from_addr, s.messages.c.date_utc, s.messages.c.sort_date, s.messages.c.subject,
    s.messages.c.in_reply_to, s.messages.c.references, s.messages.c.size,
    s.messages.c.attachment_count, s.messages.c.has_html, s.messages.c.removed_kind,
    s.messages.c.removed_at,
)
# A message the moderators deleted is not searchable (a redacted one is, by its redacted text).
_SEARCHABLE = or_(s.messages.c.removed_kind.is_(None), s.messages.c.removed_kind != "deleted")


def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    """The first instant of a month and of the next one.

    >>> month_bounds(2019, 12)
    (datetime.datetime(2019, 12, 1, 0, 0), datetime.datetime(2020, 1, 1, 0, 0))
    """
    start = datetime(year, month, 1)
    end = datetime(year + month // 12, month % 12 + 1, 1)
    return start, end


class Archive:
    """The archive's read side."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- lists -------------------------------------------------------------------------------

    def lists(self) -> list[Row[Any]]:
        counts = (select(s.threads.c.list_id,
                         func.coalesce(func.sum(s.threads.c.message_count), 0).label("messages"),
                         func.count().label("threads"),
                         func.max(s.threads.c.last_at).label("last_at"))
                  .group_by(s.threads.c.list_id).subquery())
        q = (select(s.mailing_lists, func.coalesce(counts.c.messages, 0).label("messages"),
                    func.coalesce(counts.c.threads, 0).label("threads"), counts.c.last_at)
             .outerjoin(counts, counts.c.list_id == s.mailing_lists.c.id)
             .order_by(s.mailing_lists.c.address))
        with self.engine.connect() as conn:
            return list(conn.execute(q))

    def public_lists(self) -> dict[str, int]:
        """Address -> id of the lists whose archive anyone may read (one small query)."""
        q = select(s.mailing_lists.c.address, s.mailing_lists.c.id).where(
            s.mailing_lists.c.archive_policy == "public")
        with self.engine.connect() as conn:
            return {a: int(i) for a, i in conn.execute(q)}

    def get_list(self, address: str) -> Row[Any]:
        with self.engine.connect() as conn:
            row = conn.execute(select(s.mailing_lists).where(
                s.mailing_lists.c.address == address.strip().lower())).first()
        if row is None:
            raise ListNotFound(address)
        return row

    def find_list(self, address: str) -> Row[Any] | None:
        try:
            return self.get_list(address)
        except ListNotFound:
            return None

    # -- threads -----------------------------------------------------------------------------

    def latest_threads(self, list_id: int, limit: int = 30, offset: int = 0) -> list[Row[Any]]:
        q = (select(s.threads).where(s.threads.c.list_id == list_id)
             .order_by(s.threads.c.last_at.desc(), s.threads.c.id.desc())
             .limit(limit).offset(offset))
        with self.engine.connect() as conn:
            return list(conn.execute(q))

    def new_threads(self, list_id: int, limit: int = 30) -> list[Row[Any]]:
        q = (select(s.threads).where(s.threads.c.list_id == list_id)
             .order_by(s.threads.c.started_at.desc(), s.threads.c.id.desc()).limit(limit))
        with self.engine.connect() as conn:
            return list(conn.execute(q))

    def months(self, list_id: int) -> list[Row[Any]]:
        """(year, month, messages) for every month that has a message, newest first."""
        year = func.extract("year", s.messages.c.sort_date)
        month = func.extract("month", s.messages.c.sort_date)
        q = (select(year.label("year"), month.label("month"), func.count().label("messages"))
             .where(s.messages.c.list_id == list_id)
             .group_by(year, month).order_by(year.desc(), month.desc()))
        with self.engine.connect() as conn:
            return list(conn.execute(q))

    def month_threads(self, list_id: int, year: int, month: int) -> list[Row[Any]]:
        """Threads with messages in a month: their subject, and the month's share of them."""
        start, end = month_bounds(year, month)
        inner = (select(s.messages.c.thread_id, func.count().label("in_month"),
                        func.min(s.messages.c.sort_date).label("first_in_month"))
                 .where(s.messages.c.list_id == list_id, s.messages.c.sort_date >= start,
                        s.messages.c.sort_date < end)
                 .group_by(s.messages.c.thread_id).subquery())
        q = (select(s.threads, inner.c.in_month, inner.c.first_in_month)
             .join(inner, inner.c.thread_id == s.threads.c.id)
             .order_by(inner.c.first_in_month.desc()))
        with self.engine.connect() as conn:
            return list(conn.execute(q))

    def thread_messages(self, thread_id: int, *, with_body: bool = True) -> list[Row[Any]]:
        cols = [*_LIST_MESSAGE_COLUMNS]
        if with_body:
            cols.append(s.messages.c.body_text)
        q = (select(*cols).where(s.messages.c.thread_id == thread_id)
             .order_by(s.messages.c.sort_date, s.messages.c.id))
        with self.engine.connect() as conn:
            return list(conn.execute(q))

    def thread(self, thread_id: int) -> Row[Any] | None:
        with self.engine.connect() as conn:
            return conn.execute(select(s.threads).where(s.threads.c.id == thread_id)).first()

    # -- messages ----------------------------------------------------------------------------

    def messages_by_id(self, list_id: int, message_id: str) -> list[Row[Any]]:
        """Every message of the list with this Message-ID (two different ones may share it)."""
        q = (select(s.messages).where(s.messages.c.list_id == list_id,
                                      s.messages.c.message_id == message_id)
             .order_by(s.messages.c.id))
        with self.engine.connect() as conn:
            return list(conn.execute(q))

    def find_message_everywhere(self, message_id: str) -> list[Row[Any]]:
        q = (select(s.messages.c.id, s.messages.c.thread_id, s.mailing_lists.c.address)
             .join(s.mailing_lists, s.mailing_lists.c.id == s.messages.c.list_id)
             .where(s.messages.c.message_id == message_id).order_by(s.messages.c.id))
        with self.engine.connect() as conn:
            return list(conn.execute(q))

    def attachments(self, message_pk: int) -> list[Row[Any]]:
        q = (select(s.attachments).where(s.attachments.c.message_pk == message_pk)
             .order_by(s.attachments.c.position))
        with self.engine.connect() as conn:
            return list(conn.execute(q))

    def raw(self, message_pk: int) -> bytes:
        with self.engine.connect() as conn:
            row = conn.execute(select(s.raw_messages.c.codec, s.raw_messages.c.data)
                               .where(s.raw_messages.c.message_pk == message_pk)).one()
        return codec.decode(row.codec, row.data)

    def month_neighbours(self, list_id: int, sort_date: datetime,
                         pk: int) -> tuple[Row[Any] | None, Row[Any] | None]:
        """The messages just before and after this one in the list, within its month."""
        start, end = month_bounds(sort_date.year, sort_date.month)
        m = s.messages.c
        cols = (m.id, m.message_id, m.subject, m.from_name, m.from_addr, m.sort_date)
        before = (select(*cols).where(
            m.list_id == list_id, m.sort_date >= start,
            (m.sort_date < sort_date) | and_(m.sort_date == sort_date, m.id < pk))
            .order_by(m.sort_date.desc(), m.id.desc()).limit(1))
        after = (select(*cols).where(
            m.list_id == list_id, m.sort_date < end,
            (m.sort_date > sort_date) | and_(m.sort_date == sort_date, m.id > pk))
            .order_by(m.sort_date, m.id).limit(1))
        with self.engine.connect() as conn:
            return conn.execute(before).first(), conn.execute(after).first()

    # -- exports -----------------------------------------------------------------------------

    def iter_raw(self, list_id: int, *, thread_id: int | None = None,
                 month: tuple[int, int] | None = None) -> Iterator[tuple[Row[Any], bytes]]:
        """Messages with their raw bytes, oldest first, fetched a page at a time."""
        m = s.messages.c
        conds = [m.list_id == list_id]
        if thread_id is not None:
            conds.append(m.thread_id == thread_id)
        if month is not None:
            start, end = month_bounds(*month)
            conds += [m.sort_date >= start, m.sort_date < end]
        last: tuple[datetime, int] | None = None
        while True:
            q = (select(m.id, m.mbox_from, m.from_addr, m.sort_date, s.raw_messages.c.codec,
                        s.raw_messages.c.data)
                 .join(s.raw_messages, s.raw_messages.c.message_pk == m.id)
                 .where(*conds).order_by(m.sort_date, m.id).limit(200))
            if last is not None:
                q = q.where((m.sort_date > last[0]) | and_(m.sort_date == last[0],
                                                             m.id > last[1]))
            with self.engine.connect() as conn:
                rows = list(conn.execute(q))
            if not rows:
                return
            for row in rows:
                yield row, codec.decode(row.codec, row.data)
            last = (rows[-1].sort_date, rows[-1].id)


def _index_columns() -> tuple:
    m = s.messages.c
    return (m.id, m.list_id, m.thread_id, m.sort_date, m.subject, m.from_name, m.from_addr,
            m.body_text)


class IndexFeed:
    """Messages in key order, a page at a time, for building the search index."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def ids_after(self, pk: int, limit: int = 20000) -> list[int]:
        q = (select(s.messages.c.id).where(s.messages.c.id > pk)
             .order_by(s.messages.c.id).limit(limit))
        with self.engine.connect() as conn:
            return list(conn.execute(q).scalars())

    def rows(self, pks: list[int]) -> list[Row[Any]]:
        q = (select(*_index_columns()).where(s.messages.c.id.in_(pks), _SEARCHABLE)
             .order_by(s.messages.c.id))
        with self.engine.connect() as conn:
            return list(conn.execute(q))

    def newest_pk(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.coalesce(func.max(s.messages.c.id), 0)))
                       .scalar_one())

    def count(self, list_id: int | None = None) -> int:
        q = select(func.count()).select_from(s.messages)
        if list_id is not None:
            q = q.where(s.messages.c.list_id == list_id)
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar_one())

    def threads_of(self, pks: list[int]) -> dict[int, int]:
        """Each message's current thread."""
        out: dict[int, int] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(pks), 500):
                chunk = pks[start : start + 500]
                out.update(conn.execute(select(s.messages.c.id, s.messages.c.thread_id)
                                        .where(s.messages.c.id.in_(chunk))).all())
        return out

    def hits(self, pks: list[int]) -> dict[int, Row[Any]]:
        """The rows a results page shows, by key."""
        if not pks:
            return {}
        m = s.messages.c
        q = (select(m.id, m.message_id, m.thread_id, m.subject, m.from_name, m.from_addr,
                    m.date_utc, m.sort_date, m.body_text, s.mailing_lists.c.address)
             .join(s.mailing_lists, s.mailing_lists.c.id == m.list_id)
             .where(m.id.in_(pks), _SEARCHABLE))
        with self.engine.connect() as conn:
            return {r.id: r for r in conn.execute(q)}
