"""The archive's store on real databases: SQLite files, and PostgreSQL when configured.

Threading is incremental: whatever order messages arrive in, and however many imports they
are spread over, each ends in the thread its references say.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select

from moot.app import Moot
from moot.core.errors import ListExists
from moot.core.parse import parse_message
from moot.reading import thread_rows
from moot.storage import schema as s
from moot.storage.store import Incoming, sha256
from tests.helpers import make_message


def add(moot: Moot, list_id: int, *raws: bytes) -> list[int]:
    batch = [Incoming(r, parse_message(r), sha256(r)) for r in raws]
    return moot.store.add_messages(list_id, batch).stored


def thread_of(moot: Moot, list_id: int, message_id: str) -> int:
    rows = moot.archive.messages_by_id(list_id, message_id)
    assert rows, message_id
    return int(rows[0].thread_id)


def thread_count(moot: Moot) -> int:
    with moot.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(s.threads)).scalar_one())


@pytest.fixture
def lid(moot: Moot) -> int:
    return moot.store.create_list("dev@example.org")


def test_migrated_schema_matches_the_code(moot: Moot) -> None:
    with moot.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), s.metadata_for(conn.dialect.name))
    assert diff == []


def test_a_list_address_is_unique(moot: Moot, lid: int) -> None:
    with pytest.raises(ListExists):
        moot.store.create_list("DEV@example.org")


def test_raw_bytes_come_back_exactly(moot: Moot, lid: int) -> None:
    raw = make_message("x@example.org", body="caf\xe9\r\n").replace(b"\n", b"\r\n")
    raw = raw.replace("café".encode(), b"caf\xe9") + b"\x00\xff tail without newline"
    [pk] = add(moot, lid, raw)
    assert moot.archive.raw(pk) == raw


def test_same_bytes_twice_are_one_message(moot: Moot, lid: int) -> None:
    raw = make_message("once@example.org")
    assert len(add(moot, lid, raw)) == 1
    assert add(moot, lid, raw) == []
    assert len(moot.archive.messages_by_id(lid, "once@example.org")) == 1


def test_same_message_id_different_bytes_both_kept(moot: Moot, lid: int) -> None:
    a = make_message("dup@example.org", body="first\n")
    b = make_message("dup@example.org", body="second, different\n")
    add(moot, lid, a)
    add(moot, lid, b)
    found = moot.archive.messages_by_id(lid, "dup@example.org")
    assert [moot.archive.raw(m.id) for m in found] == [a, b]
    assert found[0].thread_id == found[1].thread_id


def test_same_bytes_in_two_lists_are_kept_in_each(moot: Moot, lid: int) -> None:
    other = moot.store.create_list("users@example.org")
    raw = make_message("cross@example.org")
    assert add(moot, lid, raw) and add(moot, other, raw)


def test_reply_before_parent_joins_when_parent_arrives(moot: Moot, lid: int) -> None:
    add(moot, lid, make_message("child@x", subject="Re: plan", in_reply_to="root@x",
                                references=["root@x"], date="Tue, 03 Mar 2026 10:00:00 +0000"))
    add(moot, lid, make_message("root@x", subject="plan"))
    assert thread_of(moot, lid, "child@x") == thread_of(moot, lid, "root@x")
    assert thread_count(moot) == 1
    thread = moot.archive.thread(thread_of(moot, lid, "root@x"))
    assert thread.root_message_id == "root@x"
    assert thread.subject == "plan"
    assert thread.message_count == 2


def test_threads_merge_when_the_missing_link_arrives(moot: Moot, lid: int) -> None:
    # a <- b <- c, where c names only b; c and a arrive first, in separate imports.
    add(moot, lid, make_message("a@x", subject="start"))
    add(moot, lid, make_message("c@x", subject="Re: start", in_reply_to="b@x",
                                references=["b@x"], date="Thu, 05 Mar 2026 10:00:00 +0000"))
    assert thread_of(moot, lid, "a@x") != thread_of(moot, lid, "c@x")
    assert thread_count(moot) == 2
    add(moot, lid, make_message("b@x", subject="Re: start", in_reply_to="a@x",
                                references=["a@x"], date="Wed, 04 Mar 2026 10:00:00 +0000"))
    tid = thread_of(moot, lid, "a@x")
    assert thread_of(moot, lid, "b@x") == tid == thread_of(moot, lid, "c@x")
    assert thread_count(moot) == 1
    assert moot.archive.thread(tid).message_count == 3
    rows = thread_rows(moot.archive, tid)
    assert [(r.message_id, r.depth) for r in rows] == [("a@x", 0), ("b@x", 1), ("c@x", 2)]


def test_merge_inside_one_batch_and_across_batches(moot: Moot, lid: int) -> None:
    add(moot, lid, make_message("p1@x"), make_message("p2@x", subject="other"))
    # One message that references both threads merges them.
    add(moot, lid, make_message("m@x", references=["p1@x", "p2@x"], in_reply_to="p2@x",
                                date="Fri, 06 Mar 2026 10:00:00 +0000"))
    assert thread_of(moot, lid, "p1@x") == thread_of(moot, lid, "p2@x") == thread_of(
        moot, lid, "m@x")
    assert thread_count(moot) == 1
    assert moot.archive.thread(thread_of(moot, lid, "m@x")).message_count == 3


def test_subject_grouping_only_without_references(moot: Moot, lid: int) -> None:
    add(moot, lid, make_message("topic@x", subject="Release schedule"))
    add(moot, lid, make_message("noref@x", subject="Re: Release schedule",
                                date="Tue, 03 Mar 2026 10:00:00 +0000"))
    add(moot, lid, make_message("withref@x", subject="Re: Release schedule",
                                in_reply_to="elsewhere@x", date="Tue, 03 Mar 2026 11:00:00 +0000"))
    assert thread_of(moot, lid, "noref@x") == thread_of(moot, lid, "topic@x")
    assert thread_of(moot, lid, "withref@x") != thread_of(moot, lid, "topic@x")


def test_subject_grouping_ignores_threads_years_apart(moot: Moot, lid: int) -> None:
    add(moot, lid, make_message("old@x", subject="Help", date="Mon, 02 Mar 2015 09:00:00 +0000"))
    add(moot, lid, make_message("new@x", subject="Re: Help"))
    assert thread_of(moot, lid, "old@x") != thread_of(moot, lid, "new@x")


def test_message_without_id_is_stable_and_reachable(moot: Moot, lid: int) -> None:
    raw = make_message(None, subject="anonymous")
    [pk] = add(moot, lid, raw)
    [row] = moot.archive.thread_messages(thread_of(moot, lid, parse_message(raw).message_id))
    assert row.id == pk
    assert row.message_id.endswith("@generated.invalid")
    assert parse_message(raw).message_id == row.message_id


def test_reject_is_kept_raw_with_reason(moot: Moot, lid: int) -> None:
    assert moot.store.add_reject(lid, b"\x89PNG\r\n", "x.png", "not an email message")
    assert not moot.store.add_reject(lid, b"\x89PNG\r\n", "x.png", "not an email message")
    with moot.engine.connect() as conn:
        row = conn.execute(select(s.rejects)).one()
    assert row.reason == "not an email message" and row.source == "x.png"


def test_many_threads_in_one_batch_get_distinct_ids(moot: Moot, lid: int) -> None:
    raws = [make_message(f"t{i}@x", subject=f"topic {i}") for i in range(300)]
    raws += [make_message(f"r{i}@x", subject=f"Re: topic {i}", in_reply_to=f"t{i}@x",
                          date="Tue, 03 Mar 2026 10:00:00 +0000") for i in range(300)]
    add(moot, lid, *raws)
    assert thread_count(moot) == 300
    for i in (0, 150, 299):
        assert thread_of(moot, lid, f"t{i}@x") == thread_of(moot, lid, f"r{i}@x")


def test_month_listing_and_neighbours(moot: Moot, lid: int, tmp_path: Path) -> None:
    add(moot, lid,
        make_message("m1@x", date="Mon, 02 Mar 2026 09:00:00 +0000"),
        make_message("m2@x", subject="b", date="Tue, 03 Mar 2026 09:00:00 +0000"),
        make_message("a1@x", subject="c", date="Wed, 01 Apr 2026 09:00:00 +0000"))
    months = [(int(m.year), int(m.month), m.messages) for m in moot.archive.months(lid)]
    assert months == [(2026, 4, 1), (2026, 3, 2)]
    [m2] = moot.archive.messages_by_id(lid, "m2@x")
    before, after = moot.archive.month_neighbours(lid, m2.sort_date, m2.id)
    assert before.message_id == "m1@x"
    assert after is None  # a1 is in April


def test_schema_head_constant_matches_alembic() -> None:
    from moot.storage.db import SCHEMA_HEAD, alembic_head

    assert alembic_head() == SCHEMA_HEAD
