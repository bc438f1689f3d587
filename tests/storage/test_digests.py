"""The digest queue and digest numbers on real databases: SQLite files, and PostgreSQL when
MOOT_TEST_POSTGRES is set.  Posts come back byte for byte, oldest first, per list; only the
digest members who would receive mail are recipients; and an issue can be claimed once."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from moot.app import Moot
from moot.core.member import Member
from moot.storage import digests as d
from moot.storage import members as m
from moot.storage import schema as s

NOW = datetime(2026, 3, 2, 9, 0)


@pytest.fixture
def lid(moot: Moot) -> int:
    return moot.store.create_list("dev@example.org")


def test_posts_come_back_exactly_oldest_first_per_list(moot: Moot, lid: int) -> None:
    other = moot.store.create_list("ops@example.org")
    odd = b"Subject: caf\xe9\r\n\r\n\x00\xff no newline at the end"
    with moot.engine.begin() as conn:
        d.queue_post(conn, lid, b"Subject: one\n\nfirst\n", NOW)
        d.queue_post(conn, other, b"Subject: elsewhere\n\n", NOW)
        d.queue_post(conn, lid, odd, NOW + timedelta(minutes=1))
    with moot.engine.connect() as conn:
        posts = d.pending(conn, lid)
        assert [p for _, p in posts] == [b"Subject: one\n\nfirst\n", odd]
        assert d.pending_size(conn, lid) == len(b"Subject: one\n\nfirst\n") + len(odd)
        assert d.pending_sizes(conn, lid) == [(posts[0][0], 20), (posts[1][0], len(odd))]
        assert d.oldest_pending(conn, lid) == NOW
        assert d.lists_with_pending(conn) == sorted([lid, other])
        assert d.pending(conn, lid, [posts[1][0]]) == [posts[1]]
    with moot.engine.begin() as conn:
        assert d.take(conn, lid, [i for i, _ in posts]) == 2
        assert d.take(conn, lid, [i for i, _ in posts]) == 0  # already gone: nothing happens
    with moot.engine.connect() as conn:
        assert d.pending(conn, lid) == []
        assert (d.pending_size(conn, lid), d.oldest_pending(conn, lid)) == (0, None)
        assert d.lists_with_pending(conn) == [other]


def test_take_only_touches_its_own_list(moot: Moot, lid: int) -> None:
    other = moot.store.create_list("ops@example.org")
    with moot.engine.begin() as conn:
        d.queue_post(conn, other, b"x", NOW)
        [(pid, _)] = d.pending(conn, other)
        assert d.take(conn, lid, [pid]) == 0
        assert d.pending(conn, other) == [(pid, b"x")]


def test_many_ids_at_once(moot: Moot, lid: int) -> None:
    with moot.engine.begin() as conn:
        for n in range(1200):  # more than one IN (...) chunk
            d.queue_post(conn, lid, b"post %d" % n, NOW)
    with moot.engine.begin() as conn:
        ids = [i for i, _ in d.pending_sizes(conn, lid)]
        got = d.pending(conn, lid, ids[::-1])
        assert [p for _, p in got] == [b"post %d" % n for n in range(1200)]
        assert d.take(conn, lid, ids) == 1200


def test_recipients_are_digest_members_who_get_mail(moot: Moot, lid: int) -> None:
    with moot.engine.begin() as conn:
        assert not d.has_digest_members(conn, lid)
        for member in (Member("zoe@example.org", delivery="digest"),
                       Member("amy@example.org", delivery="digest", role="owner"),
                       Member("reg@example.org"),
                       Member("quiet@example.org", delivery="digest", nomail=True),
                       Member("gone@example.org", delivery="digest")):
            m.add_member(conn, lid, member, NOW)
        conn.execute(update(s.members).where(s.members.c.email == "gone@example.org")
                     .values(bounce_disabled_at=NOW))
    other = moot.store.create_list("ops@example.org")
    with moot.engine.connect() as conn:
        assert d.digest_recipients(conn, lid) == ["amy@example.org", "zoe@example.org"]
        assert d.has_digest_members(conn, lid)
        assert (d.digest_recipients(conn, other), d.has_digest_members(conn, other)) == ([], False)


def test_claim_advances_the_numbers_once(moot: Moot, lid: int) -> None:
    with moot.engine.connect() as conn:
        assert d.numbers(conn, lid) == d.Numbers(1, 1, None)
        assert d.numbers(conn, lid + 1000) is None
    with moot.engine.begin() as conn:
        assert d.claim_issue(conn, lid, 1, 1, NOW)
        assert not d.claim_issue(conn, lid, 1, 1, NOW)  # issue 1 is gone
    with moot.engine.begin() as conn:
        assert d.numbers(conn, lid) == d.Numbers(1, 2, NOW)
        # A new volume: issue 1 of volume 2 replaces the stored issue 2 of volume 1.
        later = NOW.replace(year=2027)
        assert not d.claim_issue(conn, lid, 2, 1, later)  # not what the table holds
        assert d.claim_issue(conn, lid, 2, 1, later, was=(1, 2))
        assert d.numbers(conn, lid) == d.Numbers(2, 2, later)


def test_a_claim_on_numbers_read_before_a_rival_sent_fails(moot: Moot, lid: int) -> None:
    """Two servers read the same numbers; the first to claim wins, the other must not send."""
    with moot.engine.connect() as late:
        seen = d.numbers(late, lid)
        assert seen is not None
        with moot.engine.begin() as first:
            assert d.claim_issue(first, lid, seen.volume, seen.issue, NOW)
        assert not d.claim_issue(late, lid, seen.volume, seen.issue, NOW)
        late.rollback()
    with moot.engine.connect() as conn:
        assert d.numbers(conn, lid) == d.Numbers(1, 2, NOW)
