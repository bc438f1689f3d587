"""The sender against a real SMTP server on 127.0.0.1: what it hands over is marked sent, a
refusal for now waits, a refusal for good fails, and a relay that is down costs nobody an
attempt."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from moot.app import Moot
from moot.core.mailinglist import ListConfig
from moot.delivery.sender import RelayDown, Sender
from moot.storage import outbox
from moot.storage import schema as s
from moot.storage.store import now_utc
from tests.web.test_serve import free_port

MESSAGE = b"From: dev-request@example.org\r\nSubject: hi\r\n\r\nhello\r\n"


class Relay:
    """Accepts everyone except the addresses it was told to refuse."""

    def __init__(self, refuse: dict[str, str]) -> None:
        self.refuse = refuse
        self.got: list[tuple[str, list[str], bytes]] = []

    async def handle_RCPT(self, server, session, envelope, address, options):  # type: ignore[no-untyped-def]
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.got.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def rows(moot: Moot) -> dict[str, tuple[str, int]]:
    with moot.engine.connect() as conn:
        return {r.rcpt: (r.status, r.attempts) for r in conn.execute(
            select(s.outbox_recipients.c.rcpt, s.outbox_recipients.c.status,
                   s.outbox_recipients.c.attempts))}


def queue(moot: Moot, list_id: int, rcpts: list[str | tuple[str, bool]]) -> None:
    with moot.engine.begin() as conn:
        outbox.enqueue(conn, list_id=list_id, kind="notice", mail_from="dev-bounces@example.org",
                       data=MESSAGE, recipients=rcpts, now=now_utc())


def sender(moot: Moot, port: int) -> Sender:
    def url(config: ListConfig, email: str) -> str:
        return f"http://x/l/{config.address}/unsubscribe/{email}"
    return Sender(moot.engine, ("127.0.0.1", port), url)


def once(snd: Sender) -> int:
    async def go() -> int:
        try:
            return await snd.run_once()
        finally:
            await snd.close()
    return asyncio.run(go())


def test_sent_refused_for_now_and_for_good(moot: Moot) -> None:
    lid = moot.store.create_list("dev@example.org")
    relay = Relay({"gone@example.org": "550 5.1.1 no such user",
                   "full@example.org": "452 4.2.2 mailbox full"})
    port = free_port()
    ctl = Controller(relay, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        queue(moot, lid, ["ok@example.org", "gone@example.org", "full@example.org",
                          ("me@example.org", True)])
        done = once(sender(moot, port))
    finally:
        ctl.stop()
    assert done == 4
    assert rows(moot) == {"ok@example.org": ("sent", 1), "me@example.org": ("sent", 1),
                          "gone@example.org": ("failed", 1), "full@example.org": ("pending", 1)}
    personal = next(d for _, r, d in relay.got if r == ["me@example.org"])
    assert b"List-Unsubscribe: <http://x/l/dev@example.org/unsubscribe/me@example.org>" \
        in personal
    # Shared copies come from the list's bounce address, personal ones from the member's own.
    assert {(f, tuple(r)) for f, r, _ in relay.got if r != ["me@example.org"]} == {
        ("dev-bounces@example.org", ("ok@example.org",))}
    assert [f for f, r, _ in relay.got if r == ["me@example.org"]] == [
        "dev-bounces+me=example.org@example.org"]
    # The one refused for now is not due again before its wait is over...
    with moot.engine.connect() as conn:
        assert outbox.due(conn, now_utc()) == []
        later = outbox.due(conn, now_utc() + timedelta(minutes=2))
    assert [r[1] for d in later for r in d.recipients] == ["full@example.org"]


def test_relay_down_charges_nobody(moot: Moot) -> None:
    lid = moot.store.create_list("dev@example.org")
    queue(moot, lid, ["ok@example.org"])
    with pytest.raises(RelayDown, match="cannot reach the relay"):
        once(sender(moot, free_port()))
    assert rows(moot) == {"ok@example.org": ("pending", 0)}


def test_the_queue_as_the_operator_sees_it(moot: Moot) -> None:
    from typer.testing import CliRunner

    from moot.cli.main import app

    lid = moot.store.create_list("dev@example.org")
    relay = Relay({"gone@example.org": "550 5.1.1 no such user",
                   "full@example.org": "452 4.2.2 mailbox full"})
    port = free_port()
    ctl = Controller(relay, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        queue(moot, lid, ["ok@example.org", "gone@example.org", "full@example.org"])
        once(sender(moot, port))
        queue(moot, lid, ["later@example.org"])
    finally:
        ctl.stop()
    with moot.engine.connect() as conn:
        assert outbox.summary(conn) == [{"list": "dev@example.org", "pending": 1,
                                         "retrying": 1, "failed": 1, "sent": 1}]
        problems = {p["rcpt"]: p for p in outbox.failures(conn)}
    assert problems["gone@example.org"]["status"] == "failed"
    assert "550" in str(problems["gone@example.org"]["error"])
    assert problems["full@example.org"]["next_attempt"] is not None
    result = CliRunner().invoke(app, ["--data", str(moot.settings.data_dir), "queue"],
                                env={"MOOT_DATABASE_URL": moot.settings.database_url})
    assert result.exit_code == 0, result.output
    assert "pending 1\tretrying 1\tfailed 1\tsent 1" in result.output
    assert "failed: gone@example.org" in result.output


def test_workers_claim_disjoint_rows_and_a_dead_workers_claims_are_released(moot: Moot) -> None:
    lid = moot.store.create_list("dev@example.org")
    queue(moot, lid, [f"m{i}@example.org" for i in range(30)])
    now = now_utc()
    with moot.engine.begin() as conn:
        a = outbox.due(conn, now, 10, worker="hostA:1")
    with moot.engine.begin() as conn:
        b = outbox.due(conn, now, 100, worker="hostB:2")
    got_a = {r[1] for d in a for r in d.recipients}
    got_b = {r[1] for d in b for r in d.recipients}
    assert len(got_a) == 10 and len(got_b) == 20 and not got_a & got_b
    with moot.engine.begin() as conn:
        assert outbox.due(conn, now, 100, worker="hostC:3") == []  # all held by claims
        assert outbox.release(conn, "hostA:") == 10  # host A's server starts again
        again = outbox.due(conn, now, 100, worker="hostA:4")
    assert {r[1] for d in again for r in d.recipients} == got_a
    # A claim that was never released runs out.
    with moot.engine.begin() as conn:
        late = outbox.due(conn, now + outbox.CLAIM_FOR + timedelta(seconds=1), 100,
                          worker="hostC:3")
    assert {r[1] for d in late for r in d.recipients} == got_a | got_b


def test_two_senders_deliver_each_copy_once(moot: Moot) -> None:
    lid = moot.store.create_list("dev@example.org")
    relay = Relay({})
    port = free_port()
    ctl = Controller(relay, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        queue(moot, lid, [(f"m{i}@example.org", True) for i in range(200)])

        async def both() -> None:
            s1, s2 = sender(moot, port), sender(moot, port)
            s1.name, s2.name, s1.batch, s2.batch = "h:1", "h:2", 25, 25
            try:
                while sum(await asyncio.gather(s1.run_once(), s2.run_once())):
                    pass
            finally:
                await s1.close()
                await s2.close()
        asyncio.run(both())
    finally:
        ctl.stop()
    delivered = [r for _, rs, _ in relay.got for r in rs]
    assert sorted(delivered) == sorted(f"m{i}@example.org" for i in range(200))
    assert set(rows(moot).values()) == {("sent", 1)}


def test_refused_for_now_until_the_retry_time_is_over(moot: Moot) -> None:
    lid = moot.store.create_list("dev@example.org")
    queue(moot, lid, ["full@example.org"])
    start = now_utc()
    with moot.engine.begin() as conn:
        (rid,) = [r[0] for d in outbox.due(conn, start) for r in d.recipients]
        waits = []
        when = start
        for _ in range(6):
            outbox.mark_retry(conn, [rid], "452 full", when, retry_for=timedelta(hours=1))
            status, nxt = conn.execute(
                select(s.outbox_recipients.c.status, s.outbox_recipients.c.next_attempt_at)
                .where(s.outbox_recipients.c.id == rid)).one()
            waits.append((status, round((nxt - when).total_seconds() / 60)))
            when = nxt
    # Waits double from a minute; once the next try would fall past the hour, it has failed.
    assert waits == [("pending", 1), ("pending", 2), ("pending", 4), ("pending", 8),
                     ("pending", 16), ("failed", 32)]
