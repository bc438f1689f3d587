"""Sending digests: when a list's digest is due, and numbering, building and queueing it.

Why: digest members get one message now and then instead of every post.  The posting
pipeline keeps each post for them (:func:`moot.storage.digests.queue_post`); this service
gathers what waits into one digest (:func:`moot.core.digest.build_digest`), numbers it, queues
it in the outbox for the digest members and removes the posts it holds, all in the caller's
transaction: a crash leaves either the posts waiting or the digest queued, never both or
neither.

A digest is due when the posts waiting reach the list's ``digest_size`` (kilobytes), or when
its ``digest_period`` has passed since the last digest (since the oldest waiting post when
none was ever sent): ``daily``, the UTC date changed; ``weekly``, seven days; ``monthly``, the
calendar month changed; ``none``, never by time.  The volume is the year's: the first digest
of a new year starts a new volume at issue 1.  A digest stays under :data:`MAX_DIGEST_BYTES`
(relays refuse bigger mail); posts that do not fit wait for the next one.

Two servers sharing a PostgreSQL database may both find a digest due; only the one whose
claim on the issue number succeeds sends it (:func:`moot.storage.digests.claim_issue`).

What it won't do: send mail itself (the sender hands the outbox to the relay, adding each
member's own List-Unsubscribe link when the list is personalised), run on a timer (the
server's housekeeping calls :meth:`Digests.send_due`), or decide who is a digest member.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from moot.core.digest import build_digest
from moot.core.mailinglist import ListConfig
from moot.membership import Urls, aware, new_message_id
from moot.storage import digests as store
from moot.storage import outbox
from moot.storage.lists import get_config_by_id
from moot.storage.store import now_utc

log = logging.getLogger("moot.digests")

# Postfix refuses mail over 10,240,000 bytes by default (message_size_limit), and a personal
# copy grows by a few hundred bytes of headers on its way: stay a little under.
MAX_DIGEST_BYTES = 10_000_000
# Digests one list may send in one pass of send_due (its posts did not fit in one).
_MOST_PER_PASS = 20


@dataclass(frozen=True)
class Sent:
    """What one call to :meth:`Digests.send_digest` did."""

    volume: int | None = None  # the digest's numbers; None: none was sent
    issue: int | None = None
    recipients: int = 0
    posts: int = 0  # in the digest
    dropped: int = 0  # posts thrown away: nobody receives digests
    left: int = 0  # posts that did not fit and wait for the next digest

    @property
    def sent(self) -> bool:
        return self.issue is not None


def period_passed(period: str, since: datetime, now: datetime) -> bool:
    """Whether a digest period has passed between ``since`` and ``now`` (both UTC).

    >>> from datetime import datetime as dt
    >>> period_passed("daily", dt(2026, 3, 2, 23, 59), dt(2026, 3, 3, 0, 0))
    True
    >>> period_passed("weekly", dt(2026, 3, 2, 12), dt(2026, 3, 9, 11, 59))
    False
    >>> period_passed("monthly", dt(2026, 3, 31), dt(2026, 4, 1))
    True
    >>> period_passed("none", dt(2000, 1, 1), dt(2026, 1, 1))
    False
    """
    if period == "daily":
        return now.date() != since.date()
    if period == "weekly":
        return now - since >= timedelta(days=7)
    if period == "monthly":
        return (now.year, now.month) != (since.year, since.month)
    return False


def _first_posts(sizes: list[tuple[int, int]], budget: int) -> list[int]:
    """The ids of the oldest posts whose sizes fit in ``budget`` bytes; at least one (a post
    bigger than the budget went to the regular members as it is: it goes alone).

    >>> _first_posts([(1, 40), (2, 50), (3, 20)], 100), _first_posts([(7, 500)], 100)
    ([1, 2], [7])
    """
    ids: list[int] = []
    total = 0
    for pid, size in sizes:
        if ids and total + size > budget:
            break
        ids.append(pid)
        total += size
    return ids


def _without_field(data: bytes, name: bytes) -> bytes:
    """The message without its header field ``name`` (lower case), folded lines included.

    >>> _without_field(b"A: 1\\r\\nList-Unsubscribe: <x>,\\r\\n <y>\\r\\nB: 2\\r\\n\\r\\nA: 3",
    ...                b"list-unsubscribe")
    b'A: 1\\r\\nB: 2\\r\\n\\r\\nA: 3'
    """
    head, sep, body = data.partition(b"\r\n\r\n")
    kept: list[bytes] = []
    dropping = False
    for line in head.split(b"\r\n"):
        if line[:1] not in (b" ", b"\t"):
            dropping = line.partition(b":")[0].strip().lower() == name
        if not dropping:
            kept.append(line)
    return b"\r\n".join(kept) + sep + body


class Digests:
    def __init__(self, engine: Engine, urls: Urls, *,
                 max_bytes: int = MAX_DIGEST_BYTES) -> None:
        self.engine = engine
        self.urls = urls
        self.max_bytes = max_bytes

    def is_due(self, conn: Connection, config: ListConfig, now: datetime) -> bool:
        """Whether the list's digest should go out now (never when nothing waits)."""
        oldest = store.oldest_pending(conn, config.id)
        if oldest is None:
            return False
        if config.digest_size > 0 and \
                store.pending_size(conn, config.id) >= config.digest_size * 1024:
            return True
        state = store.numbers(conn, config.id)
        # From the later of the last digest and the oldest waiting post: a quiet daily list
        # gets its post the next day, not in a digest of one a minute after it came.
        since = max(state.last_sent_at, oldest) if state and state.last_sent_at else oldest
        return period_passed(config.digest_period, since, now)

    def send(self, conn: Connection, config: ListConfig, now: datetime, *,
             force: bool = False) -> int | None:
        """Send the list's digest if it is due (``force``: due or not); the issue number sent,
        or None when nothing was (nothing waits, or nobody receives digests: then what
        waited is dropped)."""
        return self.send_digest(conn, config, now, force=force).issue

    def send_digest(self, conn: Connection, config: ListConfig, now: datetime, *,
                    force: bool = False) -> Sent:
        """:meth:`send`, saying what it did."""
        # The numbers first, then the posts, then the claim: a rival that sends between the
        # first read and the claim changes the numbers, and the claim fails.  (Read the other
        # way round, on PostgreSQL's READ COMMITTED, posts a rival already sent could be read
        # and the claim still succeed.)
        state = store.numbers(conn, config.id)
        if state is None or (not force and not self.is_due(conn, config, now)):
            return Sent()
        sizes = store.pending_sizes(conn, config.id)
        if not sizes:
            return Sent()
        rcpts = store.digest_recipients(conn, config.id)
        if not rcpts:
            return Sent(dropped=store.take(conn, config.id, [pid for pid, _ in sizes]))

        volume, issue = state.volume, state.issue
        if state.last_sent_at is not None and state.last_sent_at.year != now.year:
            volume, issue = volume + 1, 1
        chosen = _first_posts(sizes, self.max_bytes)
        posts = store.pending(conn, config.id, chosen)
        if len(posts) < len(chosen):  # a rival took them since we looked: it sends them
            return Sent()
        data = self._build(config, posts, volume, issue, now)
        while len(data) > self.max_bytes and len(posts) > 1:
            # Line ends made CRLF, the table of contents: the estimate was short.  Leave out
            # enough of the newest posts to make up the difference and build again.
            excess, cut = len(data) - self.max_bytes, len(posts) - 1
            while cut > 1 and sum(len(p) for _, p in posts[cut:]) < excess:
                cut -= 1
            posts = posts[:cut]
            data = self._build(config, posts, volume, issue, now)
        if not store.claim_issue(conn, config.id, volume, issue, now,
                                 was=(state.volume, state.issue)):
            log.info("%s: another process sent digest Vol %d, Issue %d", config.address,
                     volume, issue)
            return Sent()

        personal = config.personalize == "member"
        if personal:  # the sender puts the member's own one on top (RFC 8058: only one)
            data = _without_field(data, b"list-unsubscribe")
        outbox.enqueue(conn, list_id=config.id, kind="digest", mail_from=config.bounces_address,
                       data=data, recipients=[(r, personal) for r in rcpts], now=now)
        store.take(conn, config.id, [pid for pid, _ in posts])
        return Sent(volume=volume, issue=issue, recipients=len(rcpts), posts=len(posts),
                    left=len(sizes) - len(posts))

    def _build(self, config: ListConfig, posts: list[tuple[int, bytes]], volume: int,
               issue: int, now: datetime) -> bytes:
        archive = self.urls.list_home(config) if config.archive_policy != "none" else ""
        return build_digest(config, [p for _, p in posts], volume=volume, issue=issue,
                            date=aware(now), message_id=new_message_id(config),
                            fmt=config.digest_format, archive_url=archive)

    def send_due(self, now: datetime | None = None) -> int:
        """Send every digest that is due, each list in a transaction of its own; how many
        were sent.  A list whose digest fails is logged and left for the next call."""
        now = now or now_utc()
        with self.engine.connect() as conn:
            waiting = store.lists_with_pending(conn)
        count = 0
        for list_id in waiting:
            for _ in range(_MOST_PER_PASS):
                try:
                    with self.engine.begin() as conn:
                        config = get_config_by_id(conn, list_id)
                        result = self.send_digest(conn, config, now) if config else Sent()
                except Exception:  # noqa: BLE001 - one list's trouble must not stop the rest
                    log.exception("digest of list %d failed; trying again later", list_id)
                    break
                if result.sent:
                    count += 1
                if not result.left:
                    break
        return count
