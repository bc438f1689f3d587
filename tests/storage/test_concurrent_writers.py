"""Several writers on one database (nodes on PostgreSQL, docs/scaling.md; an import or a pipe
delivery beside the server on SQLite): replies to one thread stored at the same moment by
different processes must all count.  The thread row is read, updated in Python and written
back, so without a row lock (PostgreSQL) or the write lock taken at the transaction's start
(SQLite, storage.db.writing) two writers each add one to the same old count and one reply is
lost from the thread's message count (the list's message total)."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from moot.app import Moot
from moot.core.parse import parse_message
from moot.storage import schema as s
from moot.storage.store import Incoming, sha256
from tests.helpers import make_message


def _incoming(mid: str, parent: str | None = None) -> Incoming:
    raw = make_message(mid, subject="Re: one thread" if parent else "one thread",
                       in_reply_to=parent)
    return Incoming(raw, parse_message(raw), sha256(raw))


def test_replies_stored_at_once_all_count(moot: Moot) -> None:
    lid = moot.store.create_list("dev@example.org")
    moot.store.add_messages(lid, [_incoming("root@example.org")])
    writers = 8
    go = threading.Barrier(writers)
    errors: list[BaseException] = []

    def reply(n: int) -> None:
        try:
            for k in range(5):
                item = _incoming(f"r{n}.{k}@example.org", "root@example.org")
                go.wait() if k == 0 else None
                moot.store.add_messages(lid, [item])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reply, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with moot.engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(s.messages)).scalar()
        counted = conn.execute(select(func.sum(s.threads.c.message_count))).scalar()
        threads_n = conn.execute(select(func.count()).select_from(s.threads)).scalar()
    assert (stored, threads_n) == (1 + writers * 5, 1)
    assert counted == stored
