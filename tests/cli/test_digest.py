"""`moot digest send`: what an operator types to send a list's digest now, against a real
database."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import select

from moot.app import Moot, build
from moot.config import load_settings
from moot.storage import digests
from moot.storage import schema as s
from moot.storage.codec import decode
from moot.storage.lists import get_config
from moot.storage.store import now_utc
from tests.cli.test_cli import LIST, Cli, one_error_line
from tests.helpers import make_message

__all__ = ["ready", "cli"]
from tests.cli.test_cli import cli, ready  # noqa: E402,F401 - fixtures


@contextmanager
def opened(cli: Cli) -> Iterator[Moot]:
    moot = build(load_settings(cli.data, env={"MOOT_DATABASE_URL":
                                              str(cli.env["MOOT_DATABASE_URL"])}))
    try:
        yield moot
    finally:
        moot.close()


def queue_posts(cli: Cli, *names: str) -> None:
    with opened(cli) as moot, moot.engine.begin() as conn:
        config = get_config(conn, LIST)
        assert config is not None
        for name in names:
            digests.queue_post(conn, config.id, make_message(f"{name}@example.org",
                                                             subject=f"[dev] {name}"), now_utc())


def queued_digests(cli: Cli) -> list[tuple[str, bytes]]:
    """(recipient, bytes) of each digest in the outbound queue."""
    with opened(cli) as moot, moot.engine.connect() as conn:
        return [(r.rcpt, decode(r.codec, r.data)) for r in conn.execute(
            select(s.outbox_recipients.c.rcpt, s.outbox.c.codec, s.outbox.c.data)
            .join(s.outbox, s.outbox.c.id == s.outbox_recipients.c.outbox_id)
            .where(s.outbox.c.kind == "digest").order_by(s.outbox_recipients.c.id))]


def waiting(cli: Cli) -> int:
    with opened(cli) as moot, moot.engine.connect() as conn:
        config = get_config(conn, LIST)
        assert config is not None
        return len(digests.pending(conn, config.id))


def test_send_queues_one_digest_for_the_digest_member(ready: Cli) -> None:
    ready.ok("list", "create", LIST)
    ready.ok("member", "add", LIST, "dana@example.org", "--digest", "--no-confirm")
    ready.ok("member", "add", LIST, "reg@example.org", "--no-confirm")
    queue_posts(ready, "p1", "p2", "p3")
    out = ready.ok("digest", "send", LIST)
    assert out.stdout == "sent digest Vol 1, Issue 1 to 1 member\n"
    [(rcpt, data)] = queued_digests(ready)
    assert rcpt == "dana@example.org"
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert msg["Subject"] == "dev Digest, Vol 1, Issue 1"
    assert not msg.defects
    inner = [p.get_content()["Message-ID"] for p in msg.walk()
             if p.get_content_type() == "message/rfc822"]
    assert inner == ["<p1@example.org>", "<p2@example.org>", "<p3@example.org>"]
    assert waiting(ready) == 0
    again = ready.ok("digest", "send", LIST)
    assert again.stdout == "nothing to send: no posts since the last digest\n"
    assert len(queued_digests(ready)) == 1


def test_send_json(ready: Cli) -> None:
    ready.ok("list", "create", LIST)
    ready.ok("member", "add", LIST, "dana@example.org", "eve@example.org", "--digest",
             "--no-confirm")
    assert ready.json("digest", "send", LIST) == {
        "sent": False, "volume": None, "issue": None, "recipients": 0}
    queue_posts(ready, "p1")
    ready.ok("digest", "send", LIST)
    queue_posts(ready, "p2")
    assert ready.json("digest", "send", LIST) == {
        "sent": True, "volume": 1, "issue": 2, "recipients": 2}


def test_without_digest_members_the_waiting_posts_are_dropped(ready: Cli) -> None:
    ready.ok("list", "create", LIST)
    ready.ok("member", "add", LIST, "reg@example.org", "--no-confirm")
    queue_posts(ready, "p1", "p2")
    out = ready.ok("digest", "send", LIST)
    assert out.stdout.startswith("nothing to send: ") and "dropped 2 waiting posts" in out.stdout
    assert waiting(ready) == 0 and queued_digests(ready) == []


def test_unknown_list(ready: Cli) -> None:
    result = ready("digest", "send", "nope@example.org")
    line = one_error_line(result)
    assert "no list 'nope@example.org'" in line and "moot list ls" in line
    assert result.stdout == ""
    assert "no list" in one_error_line(ready("digest", "send", "nope@example.org", "--json"))
