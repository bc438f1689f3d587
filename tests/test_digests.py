"""The digest service on real databases: when a digest is due, how it is numbered and split,
who gets it, that two senders never send the same issue, and (end to end) that the sender
hands it to an SMTP relay on 127.0.0.1."""

from __future__ import annotations

import email
import email.policy
import threading
from datetime import datetime, timedelta
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from moot.app import Moot
from moot.core.mailinglist import ListConfig
from moot.core.member import Member
from moot.digests import MAX_DIGEST_BYTES, Digests
from moot.membership import Urls
from moot.storage import digests as store
from moot.storage import lists
from moot.storage import members as m
from moot.storage import schema as s
from tests.delivery.test_sender import Relay, once, sender
from tests.helpers import make_message
from tests.web.test_serve import free_port

LIST = "dev@example.org"
NOW = datetime(2026, 3, 2, 10, 0)  # a Monday


def setup(moot: Moot, *members: Member, **settings: object) -> ListConfig:
    """A list with these members and settings."""
    moot.store.create_list(LIST)
    with moot.engine.begin() as conn:
        config = lists.update_settings(conn, LIST, dict(settings))
        for member in members:
            m.add_member(conn, config.id, member, NOW)
    return config


def digest_member(email_: str = "dana@example.org", **kw: object) -> Member:
    return Member(email_, delivery="digest", **kw)  # type: ignore[arg-type]


def queue(moot: Moot, config: ListConfig, *posts: bytes, at: datetime = NOW) -> None:
    with moot.engine.begin() as conn:
        for p in posts:
            store.queue_post(conn, config.id, p, at)


def post(n: int, size: int = 0) -> bytes:
    """A post with Message-ID <pN@example.org>, padded to about ``size`` bytes."""
    body = "Hello.\n" + ("x" * 75 + "\n") * max(0, (size - 300) // 76)
    return make_message(f"p{n}@example.org", subject=f"[dev] Post {n}", body=body)


def digests(moot: Moot, **kw: int) -> Digests:
    return Digests(moot.engine, Urls("http://moot.test"), **kw)


def is_due(moot: Moot, config: ListConfig, now: datetime) -> bool:
    with moot.engine.connect() as conn:
        return digests(moot).is_due(conn, config, now)


def send(moot: Moot, config: ListConfig, now: datetime = NOW, *, force: bool = True,
         service: Digests | None = None) -> int | None:
    with moot.engine.begin() as conn:
        return (service or digests(moot)).send(conn, config, now, force=force)


def sent_digests(moot: Moot) -> list[tuple[list[tuple[str, bool]], EmailMessage, bytes]]:
    """Each queued digest: its (recipient, personal) pairs, the parsed message and its bytes."""
    out = []
    with moot.engine.connect() as conn:
        from moot.storage.codec import decode

        for row in conn.execute(select(s.outbox).where(s.outbox.c.kind == "digest")
                                .order_by(s.outbox.c.id)):
            rcpts = [(r.rcpt, r.personal) for r in conn.execute(
                select(s.outbox_recipients).where(s.outbox_recipients.c.outbox_id == row.id)
                .order_by(s.outbox_recipients.c.id))]
            data = decode(row.codec, row.data)
            assert row.mail_from == msg_list(data) + "-bounces@example.org"
            msg = email.message_from_bytes(data, policy=email.policy.default)
            assert isinstance(msg, EmailMessage)
            out.append((rcpts, msg, data))
    return out


def msg_list(data: bytes) -> str:
    """The local part of the list a message says it comes from (its List-Id)."""
    list_id = email.message_from_bytes(data, policy=email.policy.default)["List-Id"]
    return str(list_id).rpartition("<")[2].partition(".")[0]


def waiting(moot: Moot, config: ListConfig) -> list[bytes]:
    with moot.engine.connect() as conn:
        return [p for _, p in store.pending(conn, config.id)]


def set_last_sent(moot: Moot, config: ListConfig, when: datetime) -> None:
    with moot.engine.begin() as conn:
        conn.execute(update(s.mailing_lists).where(s.mailing_lists.c.id == config.id)
                     .values(digest_last_sent_at=when))


# -- when a digest is due ------------------------------------------------------------------------

def test_due_by_size(moot: Moot) -> None:
    config = setup(moot, digest_member(), digest_size=2, digest_period="none")
    assert not is_due(moot, config, NOW)  # nothing waits
    queue(moot, config, post(1, 1200))
    assert not is_due(moot, config, NOW)
    queue(moot, config, post(2, 1200))
    assert is_due(moot, config, NOW)  # 2 KB reached
    with moot.engine.begin() as conn:
        config = lists.update_settings(conn, LIST, {"digest_size": 0})
    assert not is_due(moot, config, NOW + timedelta(days=400))  # no size limit, no period


def test_due_daily_when_the_utc_date_changes(moot: Moot) -> None:
    config = setup(moot, digest_member(), digest_size=0, digest_period="daily")
    queue(moot, config, post(1), at=NOW)
    # Never sent: counted from the oldest waiting post.
    assert not is_due(moot, config, NOW.replace(hour=23, minute=59, second=59))
    assert is_due(moot, config, NOW.replace(day=3, hour=0, minute=0))
    # Sent at 00:00:30 on the 3rd: the next one is due when the 4th begins.
    set_last_sent(moot, config, datetime(2026, 3, 3, 0, 0, 30))
    assert not is_due(moot, config, datetime(2026, 3, 3, 23, 59))
    assert is_due(moot, config, datetime(2026, 3, 4, 0, 0))


def test_a_quiet_daily_list_sends_its_post_the_next_day_not_at_once(moot: Moot) -> None:
    config = setup(moot, digest_member(), digest_size=0, digest_period="daily")
    set_last_sent(moot, config, NOW - timedelta(days=2))  # the last digest went on Saturday
    queue(moot, config, post(1), at=NOW)  # Monday's only post
    assert not is_due(moot, config, NOW + timedelta(minutes=1))
    assert not is_due(moot, config, NOW.replace(hour=23, minute=59))
    assert is_due(moot, config, NOW.replace(day=3, hour=0, minute=0))


def test_due_weekly_after_seven_days(moot: Moot) -> None:
    config = setup(moot, digest_member(), digest_size=0, digest_period="weekly")
    queue(moot, config, post(1), at=NOW)
    assert not is_due(moot, config, NOW + timedelta(days=7, seconds=-1))
    assert is_due(moot, config, NOW + timedelta(days=7))
    set_last_sent(moot, config, NOW + timedelta(days=3))
    assert not is_due(moot, config, NOW + timedelta(days=9))
    assert is_due(moot, config, NOW + timedelta(days=10))


def test_due_monthly_when_the_calendar_month_changes(moot: Moot) -> None:
    config = setup(moot, digest_member(), digest_size=0, digest_period="monthly")
    queue(moot, config, post(1), at=datetime(2026, 3, 1, 0, 0))
    assert not is_due(moot, config, datetime(2026, 3, 31, 23, 59))
    assert is_due(moot, config, datetime(2026, 4, 1, 0, 0))
    set_last_sent(moot, config, datetime(2026, 12, 31, 12, 0))
    assert not is_due(moot, config, datetime(2026, 12, 31, 23, 0))
    assert is_due(moot, config, datetime(2027, 1, 1, 0, 0))  # December to January too


def test_period_none_is_never_due_by_time_but_can_be_forced(moot: Moot) -> None:
    config = setup(moot, digest_member(), digest_size=0, digest_period="none")
    queue(moot, config, post(1), at=NOW)
    assert not is_due(moot, config, NOW + timedelta(days=3650))
    assert send(moot, config, NOW + timedelta(days=1), force=False) is None
    assert waiting(moot, config) == [post(1)]
    assert send(moot, config, NOW + timedelta(days=1)) == 1


# -- what a digest holds, its numbers and who gets it --------------------------------------------

def test_a_digest_holds_every_waiting_post_and_goes_to_digest_members(moot: Moot) -> None:
    config = setup(moot, digest_member("zoe@example.org"), digest_member("amy@example.org"),
                   Member("reg@example.org"), digest_member("off@example.org", nomail=True))
    queue(moot, config, post(1), post(2), post(3))
    assert send(moot, config) == 1
    [(rcpts, msg, data)] = sent_digests(moot)
    assert rcpts == [("amy@example.org", True), ("zoe@example.org", True)]
    assert msg["Subject"] == "dev Digest, Vol 1, Issue 1"
    assert msg.get_content_type() == "multipart/mixed"
    inner = [p for p in msg.walk() if p.get_content_type() == "message/rfc822"]
    ids = [p.get_content().get("Message-ID") for p in inner]
    assert ids == ["<p1@example.org>", "<p2@example.org>", "<p3@example.org>"]
    # Personal copies: the sender adds each member's own List-Unsubscribe, the only one.
    assert msg["List-Unsubscribe"] is None and msg["List-Id"] == '"dev" <dev.example.org>'
    assert msg["List-Archive"] == "<http://moot.test/l/dev%40example.org/>"
    assert b"http://moot.test/l/dev%40example.org/" in data  # in the masthead too
    assert waiting(moot, config) == []
    assert send(moot, config) is None  # nothing waits now
    assert len(sent_digests(moot)) == 1


def test_shared_copies_keep_the_lists_unsubscribe_field_and_plain_format(moot: Moot) -> None:
    config = setup(moot, digest_member(), personalize="none", digest_format="plain",
                   archive_policy="none")
    queue(moot, config, post(1))
    assert send(moot, config) == 1
    [(rcpts, msg, data)] = sent_digests(moot)
    assert rcpts == [("dana@example.org", False)]
    assert msg["List-Unsubscribe"] == "<mailto:dev-leave@example.org>"
    assert msg.get_content_type() == "text/plain"
    assert "Message-ID: <p1@example.org>" in msg.get_content()
    assert b"moot.test" not in data  # no archive to point at


def test_numbering_and_a_new_volume_each_year(moot: Moot) -> None:
    config = setup(moot, digest_member())
    for n, when in enumerate([datetime(2026, 3, 2), datetime(2026, 3, 3),
                              datetime(2026, 12, 31, 23, 59), datetime(2027, 1, 1, 0, 1),
                              datetime(2027, 1, 2)], 1):
        queue(moot, config, post(n), at=when)
        send(moot, config, when)
    subjects = [msg["Subject"] for _, msg, _ in sent_digests(moot)]
    assert subjects == ["dev Digest, Vol 1, Issue 1", "dev Digest, Vol 1, Issue 2",
                        "dev Digest, Vol 1, Issue 3", "dev Digest, Vol 2, Issue 1",
                        "dev Digest, Vol 2, Issue 2"]
    with moot.engine.connect() as conn:
        assert store.numbers(conn, config.id) == (2, 3, datetime(2027, 1, 2))


def test_over_ten_megabytes_the_rest_waits_for_the_next_digest(moot: Moot) -> None:
    config = setup(moot, digest_member(), digest_size=0)
    big = [post(n, 4_000_000) for n in (1, 2, 3)]
    queue(moot, config, *big)
    assert send(moot, config) == 1
    assert waiting(moot, config) == [big[2]]
    assert send(moot, config) == 2
    first, second = sent_digests(moot)
    assert 8_000_000 < len(first[2]) <= MAX_DIGEST_BYTES
    assert b"<p3@example.org>" in second[2] and b"<p3@example.org>" not in first[2]
    assert waiting(moot, config) == []


def test_a_split_measures_the_digest_built_not_only_the_posts(moot: Moot) -> None:
    """LF posts become CRLF and the digest adds a table of contents: what the sizes promised
    can come out bigger; posts are left out until the digest fits."""
    config = setup(moot, digest_member(), digest_size=0)
    posts = [post(n, 2000) for n in range(1, 9)]
    queue(moot, config, *posts)
    service = digests(moot, max_bytes=8 * 2000)
    assert send(moot, config, service=service) == 1
    [(_, _, data)] = sent_digests(moot)
    assert len(data) <= 8 * 2000
    left = waiting(moot, config)
    assert 0 < len(left) < 8 and left == posts[8 - len(left):]


def test_a_post_bigger_than_the_limit_goes_alone(moot: Moot) -> None:
    config = setup(moot, digest_member(), digest_size=0)
    queue(moot, config, post(1, 5000), post(2))
    assert send(moot, config, service=digests(moot, max_bytes=1000)) == 1
    assert waiting(moot, config) == [post(2)]


def test_no_digest_members_drops_what_waits(moot: Moot) -> None:
    config = setup(moot, Member("reg@example.org"), digest_member(nomail=True))
    queue(moot, config, post(1), post(2))
    assert send(moot, config) is None
    assert waiting(moot, config) == [] and sent_digests(moot) == []
    with moot.engine.connect() as conn:
        assert store.numbers(conn, config.id) == (1, 1, None)  # no issue was used up


# -- two senders ---------------------------------------------------------------------------------

def test_a_sender_that_read_the_numbers_before_a_rival_sent_sends_nothing(moot: Moot) -> None:
    config = setup(moot, digest_member())
    queue(moot, config, post(1))
    with moot.engine.connect() as late:
        seen = store.numbers(late, config.id)
        assert seen is not None
        assert send(moot, config) == 1
        assert not store.claim_issue(late, config.id, seen.volume, seen.issue, NOW)
        late.rollback()
    assert len(sent_digests(moot)) == 1


ROUNDS = 20


def test_two_senders_at_once_send_each_issue_once(moot: Moot) -> None:
    """Two threads (each with its own connection, as two servers would have) race for each
    issue: whichever way their reads and claims interleave, one sends and the other not."""
    config = setup(moot, digest_member())
    for rnd in range(ROUNDS):
        queue(moot, config, post(rnd))
        start = threading.Barrier(2)
        results: list[int | None] = []

        def go(start: threading.Barrier = start, results: list[int | None] = results) -> None:
            start.wait()
            results.append(send(moot, config))

        threads = [threading.Thread(target=go) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(results, key=str) == [rnd + 1, None]
    assert [msg["Subject"] for _, msg, _ in sent_digests(moot)] == [
        f"dev Digest, Vol 1, Issue {n}" for n in range(1, ROUNDS + 1)]


# -- the housekeeping pass -----------------------------------------------------------------------

def test_send_due_sends_what_is_due_each_list_on_its_own(moot: Moot) -> None:
    config = setup(moot, digest_member(), digest_size=1, digest_period="none")
    ops = moot.store.create_list("ops@example.org")
    with moot.engine.begin() as conn:
        m.add_member(conn, ops, digest_member(), NOW)
        lists.update_settings(conn, "ops@example.org", {"digest_period": "weekly"})
        store.queue_post(conn, ops, post(9), NOW)
    queue(moot, config, post(1, 2000))
    service = digests(moot)
    assert service.send_due(NOW) == 1  # dev by size; ops is not a week old
    assert service.send_due(NOW) == 0
    assert service.send_due(NOW + timedelta(days=7)) == 1
    assert [msg_list(data) for _, _, data in sent_digests(moot)] == ["dev", "ops"]


def test_send_due_goes_on_until_what_waits_is_under_the_size(moot: Moot) -> None:
    config = setup(moot, digest_member(), digest_size=1, digest_period="none")
    queue(moot, config, *(post(n, 1500) for n in range(1, 6)))
    assert digests(moot, max_bytes=3500).send_due(NOW) == 5
    assert waiting(moot, config) == []


# -- end to end ----------------------------------------------------------------------------------

def test_the_sender_hands_the_digest_to_the_relay(moot: Moot) -> None:
    config = setup(moot, digest_member(), Member("reg@example.org"))
    queue(moot, config, post(1), post(2))
    assert send(moot, config) == 1
    relay = Relay({})
    port = free_port()
    ctl = Controller(relay, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        assert once(sender(moot, port)) == 1
    finally:
        ctl.stop()
    [(mail_from, rcpts, data)] = relay.got
    assert (mail_from, rcpts) == ("dev-bounces+dana=example.org@example.org",
                                  ["dana@example.org"])
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert msg["Subject"] == "dev Digest, Vol 1, Issue 1"
    assert msg.get_all("List-Unsubscribe") == [
        "<http://x/l/dev@example.org/unsubscribe/dana@example.org>, "
        "<mailto:dev-leave@example.org>"]
    assert b"<p1@example.org>" in data and b"<p2@example.org>" in data


@pytest.mark.parametrize("period", ["daily", "weekly", "monthly", "none"])
def test_nothing_waiting_is_never_due(moot: Moot, period: str) -> None:
    config = setup(moot, digest_member(), digest_period=period)
    assert not is_due(moot, config, NOW + timedelta(days=400))
    assert send(moot, config) is None


def test_a_post_through_the_pipeline_waits_for_the_digest_members_digest(moot: Moot) -> None:
    from moot.inbound.service import Job
    from moot.storage.store import now_utc

    config = setup(moot, digest_member(), Member("reg@example.org"), digest_size=0,
                   digest_period="daily", posting_policy="open")
    raw = make_message("piped@example.org", subject="Through the pipeline").replace(
        b"To: list@example.org", f"To: {LIST}".encode())
    recipient = moot.resolve(LIST)
    assert recipient is not None
    with moot.engine.begin() as conn:
        assert moot.inbound.handle(conn, Job("x@example.org", recipient, raw)).status \
            == "accepted"
    with moot.engine.connect() as conn:
        rcpts = conn.execute(select(s.outbox_recipients.c.rcpt)).scalars().all()
    assert rcpts == ["reg@example.org"]  # the digest member gets no copy of their own
    assert len(waiting(moot, config)) == 1
    assert moot.digests.send_due(now_utc()) == 0  # a daily digest: not before tomorrow
    assert moot.digests.send_due(now_utc() + timedelta(days=1)) == 1
    [(to, digest, _)] = sent_digests(moot)
    assert [r for r, _ in to] == ["dana@example.org"]
    assert "<piped@example.org>" in digest.as_string()
    assert waiting(moot, config) == []
