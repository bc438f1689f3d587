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
from tests.helpers import dkim_keypair
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


class Scripted(Relay):
    """A relay that, on chosen recipients, stalls (answers nothing for a while) or drops the
    connection in the middle of the transaction."""

    def __init__(self, refuse: dict[str, str], *, stall: set[str] = frozenset(),
                 drop: set[str] = frozenset()) -> None:
        super().__init__(refuse)
        self.stall, self.drop = set(stall), set(drop)

    async def handle_RCPT(self, server, session, envelope, address, options):  # type: ignore[no-untyped-def]
        if address in self.stall:
            self.stall.discard(address)  # once: the retry goes through
            await asyncio.sleep(3)
        if address in self.drop:
            self.drop.discard(address)
            server.transport.close()
            return "421 4.4.2 closing"
        return await super().handle_RCPT(server, session, envelope, address, options)


def test_a_stalled_or_dropped_transaction_is_retried_and_the_rest_go_on(moot: Moot) -> None:
    lid = moot.store.create_list("dev@example.org")
    relay = Scripted({}, stall={"slow@a.example"}, drop={"cut@b.example"})
    port = free_port()
    ctl = Controller(relay, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        queue(moot, lid, [("slow@a.example", True), ("cut@b.example", True),
                          ("fine@c.example", True), ("also@d.example", True)])
        snd = sender(moot, port)
        snd.timeout = 1.0
        assert once(snd) == 4
        first = rows(moot)
        # Everyone else is through; the two that hit trouble wait for a retry, charged once.
        assert first == {"slow@a.example": ("pending", 1), "cut@b.example": ("pending", 1),
                         "fine@c.example": ("sent", 1), "also@d.example": ("sent", 1)}
        with moot.engine.begin() as conn:
            conn.execute(s.outbox_recipients.update().values(next_attempt_at=now_utc()))
        assert once(sender(moot, port)) == 2
    finally:
        ctl.stop()
    assert {r: st for r, (st, _) in rows(moot).items()} == dict.fromkeys(
        ["slow@a.example", "cut@b.example", "fine@c.example", "also@d.example"], "sent")
    got = sorted(r for _, rs, _ in relay.got for r in rs)
    assert got == ["also@d.example", "cut@b.example", "fine@c.example", "slow@a.example"]


def test_posts_from_domains_with_a_strict_dmarc_policy_go_out_from_the_list(moot: Moot) -> None:
    from moot.delivery.dmarc import DmarcPolicies
    from moot.storage.lists import update_settings

    answers = {"_dmarc.strict.example": ["v=DMARC1; p=reject"],
               "_dmarc.wary.example": ["v=DMARC1; p=quarantine"],
               "_dmarc.relaxed.example": ["v=DMARC1; p=none"]}

    async def lookup(name: str) -> list[str]:
        return answers.get(name, [])

    lid = moot.store.create_list("dev@example.org")
    relay = Relay({})
    port = free_port()
    ctl = Controller(relay, hostname="127.0.0.1", port=port)
    ctl.start()

    def post(author: str) -> None:
        data = (f"From: Ann Author <{author}>\r\nTo: dev@example.org\r\n"
                f"Subject: [dev] from {author}\r\nMessage-ID: <{author}>\r\n\r\nhello\r\n")
        with moot.engine.begin() as conn:
            outbox.enqueue(conn, list_id=lid, kind="post", mail_from="dev-bounces@example.org",
                           data=data.encode(), recipients=["m@example.net"], now=now_utc())
    try:
        for author in ("ann@strict.example", "ann@relaxed.example", "ann@nowhere.example"):
            post(author)
        snd = sender(moot, port)
        snd.dmarc = DmarcPolicies(lookup)
        once(snd)
        with moot.engine.begin() as conn:
            update_settings(conn, "dev@example.org", {"dmarc_mitigation": "wrap"})
        post("ann@wary.example")
        snd = sender(moot, port)
        snd.dmarc = DmarcPolicies(lookup)
        once(snd)
    finally:
        ctl.stop()
    import email
    from email.policy import default

    got = {email.message_from_bytes(d, policy=default)["Message-ID"]: email.message_from_bytes(
        d, policy=default) for _, _, d in relay.got}
    strict = got["<ann@strict.example>"]
    assert strict["From"].addresses[0].addr_spec == "dev@example.org"
    assert "Ann Author" in strict["From"].addresses[0].display_name
    assert strict["Reply-To"].addresses[0].addr_spec == "ann@strict.example"
    for author in ("ann@relaxed.example", "ann@nowhere.example"):
        assert got[f"<{author}>"]["From"].addresses[0].addr_spec == author
    wrapped = got["<ann@wary.example>"]
    assert wrapped["From"].addresses[0].addr_spec == "dev@example.org"
    inner = [p for p in wrapped.walk() if p.get_content_type() == "message/rfc822"]
    assert inner and inner[0].get_content()["From"].addresses[0].addr_spec == "ann@wary.example"


def test_metrics_count_what_was_sent_deferred_and_failed(moot: Moot) -> None:
    from starlette.testclient import TestClient

    from moot.web.app import create_app

    lid = moot.store.create_list("dev@example.org")
    relay = Relay({"gone@example.org": "550 5.1.1 no such user",
                   "full@example.org": "452 4.2.2 mailbox full"})
    port = free_port()
    ctl = Controller(relay, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        queue(moot, lid, ["ok@example.org", "gone@example.org", "full@example.org",
                          ("me@example.org", True)])
        once(sender(moot, port))
        with moot.engine.begin() as conn:  # the wait is over: refused for now once more
            conn.execute(s.outbox_recipients.update().values(next_attempt_at=now_utc()))
        once(sender(moot, port))
    finally:
        ctl.stop()
    text = TestClient(create_app(moot)).get("/metrics").text
    lines = {name: float(value) for name, value in (
        line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))}
    assert {k: lines[f'moot_outbound_recipients{{status="{k}"}}']
            for k in ("pending", "retrying", "sent", "failed")} == {
        "pending": 0, "retrying": 1, "sent": 2, "failed": 1}
    assert lines["moot_outbound_deferrals"] == 2
    assert lines["moot_outbound_queue_depth"] == 1


def test_the_queue_forgets_what_was_done_two_weeks_ago(moot: Moot) -> None:
    lid = moot.store.create_list("dev@example.org")
    queue(moot, lid, ["a@example.org", "b@example.org"])
    with moot.engine.begin() as conn:
        [first, second] = conn.execute(select(s.outbox_recipients.c.id)
                                       .order_by(s.outbox_recipients.c.id)).scalars()
        outbox.mark_sent(conn, [first], now_utc())
        assert outbox.purge(conn, now_utc() + timedelta(days=13)) == 0
        assert outbox.purge(conn, now_utc() + timedelta(days=15)) == 1
        # b is still waiting: its message stays.
        assert conn.execute(select(s.outbox.c.id)).all()
        outbox.mark_sent(conn, [second], now_utc())
        assert outbox.purge(conn, now_utc() + timedelta(days=15)) == 1
        assert conn.execute(select(s.outbox.c.id)).all() == []


def test_each_member_gets_a_footer_of_their_own(moot: Moot) -> None:
    import email
    from email.policy import default

    from moot.core.decorate import decorate
    from moot.storage.lists import get_config, update_settings

    lid = moot.store.create_list("dev@example.org")
    with moot.engine.begin() as conn:
        config = update_settings(conn, "dev@example.org",
                                 {"footer": "Sent to {address}. Leave: {unsubscribe_url}"})
    raw = (b"From: ann@example.com\r\nTo: dev@example.org\r\nSubject: hi\r\n"
           b"Message-ID: <foot@example.com>\r\n\r\nhello\r\n")
    # What the posting pipeline stores for a personalizing list: no footer yet...
    stored = decorate(raw, config, base_url="http://x", message_id="foot@example.com",
                      archived=True, member_footer=True)
    assert b"Leave:" not in stored
    # ...and for a list that shares one copy: the footer filled in for anyone.
    shared = decorate(raw, config, base_url="http://x", message_id="foot@example.com",
                      archived=True)
    assert b"Sent to you. Leave: http://x/l/dev@example.org/subscribe" in shared
    relay = Relay({})
    port = free_port()
    ctl = Controller(relay, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        with moot.engine.begin() as conn:
            outbox.enqueue(conn, list_id=lid, kind="post", mail_from="dev-bounces@example.org",
                           data=stored, now=now_utc(),
                           recipients=[("bob@example.net", True), ("cy@example.org", True)])
            assert get_config(conn, "dev@example.org") == config
        once(sender(moot, port))
    finally:
        ctl.stop()
    bodies = {rcpts[0]: email.message_from_bytes(data, policy=default).get_content()
              for _, rcpts, data in relay.got}
    for who in ("bob@example.net", "cy@example.org"):
        assert bodies[who].startswith("hello")
        assert (f"Sent to {who}. Leave: http://x/l/dev@example.org/unsubscribe/{who}"
                in bodies[who])


def test_copies_are_dkim_signed_by_the_lists_domain(moot: Moot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    import dkim

    from tests.delivery.test_signing import dns

    key = dkim_keypair()
    pem = key[0]

    (moot.settings.data_dir / "dkim.pem").write_bytes(pem)
    settings = dataclasses.replace(moot.settings, dkim_key="dkim.pem", dkim_selector="moot1",
                                   dkim_domain="lists.example.org")
    lid = moot.store.create_list("dev@lists.example.org")
    other = moot.store.create_list("dev@elsewhere.example")
    relay = Relay({})
    port = free_port()
    ctl = Controller(relay, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        with moot.engine.begin() as conn:
            for list_id in (lid, other):
                outbox.enqueue(conn, list_id=list_id, kind="post",
                               mail_from="dev-bounces@lists.example.org", data=MESSAGE,
                               now=now_utc(), recipients=[("a@example.net", True),
                                                          ("b@example.net", False)])
        snd = sender(moot, port)
        snd.signer = settings.signer()
        once(snd)
    finally:
        ctl.stop()
    assert len(relay.got) == 4
    signed = [d for _, _, d in relay.got if d.startswith(b"DKIM-Signature:")]
    assert len(signed) == 2  # the two copies of the list at the signing domain
    for data in signed:
        assert dkim.verify(data, dnsfunc=dns(key))
    personal = next(d for _, r, d in relay.got if r == ["a@example.net"] and d in signed)
    # The member's own one-click link is covered (RFC 8058 section 4).
    assert b"list-unsubscribe" in personal.split(b"\r\n\r\n")[0].lower().split(b"h=")[1][:400]


def test_posts_go_out_arc_sealed_with_what_was_found_on_arrival(moot: Moot) -> None:
    import dataclasses

    import dkim

    from moot.core.identity import Identity
    from moot.core.member import Member
    from moot.inbound.service import Job
    from moot.storage.lists import get_config
    from tests.delivery.test_signing import dns

    key = dkim_keypair()
    pem = key[0]
    (moot.settings.data_dir / "dkim.pem").write_bytes(pem)
    settings = dataclasses.replace(moot.settings, dkim_key="dkim.pem", dkim_selector="moot1",
                                   dkim_domain="lists.example.org")
    moot.store.create_list("dev@lists.example.org", posting_policy="open")
    with moot.engine.begin() as conn:
        config = get_config(conn, "dev@lists.example.org")
        moot.membership.subscribe_now(conn, config, Member("m@example.net"), now_utc(),
                                      welcome=False)
        raw = (b"From: Ann <ann@example.com>\r\nTo: dev@lists.example.org\r\nSubject: hi\r\n"
               b"Message-ID: <arc@example.com>\r\n\r\nhello\r\n")
        target = moot.resolve("dev@lists.example.org")
        assert target is not None
        found = Identity("verified", "DKIM signature by example.com", ("example.com",))
        assert moot.inbound.handle(conn, Job("ann@example.com", target, raw, found)).status \
            == "accepted"
    relay = Relay({})
    port = free_port()
    ctl = Controller(relay, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        snd = sender(moot, port)
        snd.signer = settings.signer()
        once(snd)
    finally:
        ctl.stop()
    [(_, _, data)] = relay.got
    assert b"ARC-Seal: i=1;" in data
    assert b"dkim=pass header.d=example.com" in data
    result, _, why = dkim.arc_verify(data, dnsfunc=dns(key))
    assert result == b"pass", why
    assert dkim.verify(data, dnsfunc=dns(key))
