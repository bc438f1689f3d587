"""Moderation as a service, on a real database: every decision and its line in the audit log,
sender rules, non-members, new members, expiry, withdrawal and decisions by signed mail, and
the moderators' notices batched with a clock the test moves."""

from __future__ import annotations

import base64
import email
import email.policy
from collections.abc import Iterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import select

from moot.app import Moot
from moot.core.address import parse_recipient
from moot.core.errors import AlreadyDecided
from moot.core.mailinglist import ListConfig
from moot.core.member import Member
from moot.core.moderation import read_hold_token
from moot.inbound.service import Job, Outcome
from moot.moderation import expire_held, send_hold_summaries
from moot.storage import audit, held, senders
from moot.storage import members as member_store
from moot.storage import schema as s
from moot.storage.codec import decode
from moot.storage.lists import get_config, update_settings
from tests.helpers import make_message

LIST = "dev@example.org"
T0 = datetime(2026, 3, 2, 9, 0)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **kw: float) -> None:
        self.at += timedelta(**kw)


@pytest.fixture
def clock(moot: Moot) -> Iterator[Clock]:
    c = Clock(T0)
    moot.inbound.clock = c
    moot.store.create_list(LIST)
    with moot.engine.begin() as conn:
        config = get_config(conn, LIST)
        assert config is not None
        for who, role in (("ow@example.org", "owner"), ("mod@example.org", "moderator"),
                          ("bob@example.org", "member")):
            moot.membership.subscribe_now(conn, config, Member(who, role=role), T0,
                                          welcome=False)
    yield c


def config(moot: Moot, **settings: Any) -> ListConfig:
    with moot.engine.begin() as conn:
        found = update_settings(conn, LIST, settings) if settings else get_config(conn, LIST)
    assert found is not None
    return found


def send(moot: Moot, message_id: str, sender: str = "eve@example.org", *, to: str = LIST,
         subject: str = "Hello", body: str = "Hello, list.\n", extra: str = "",
         envelope: str | None = None) -> Outcome:
    """Mail to one of the list's addresses, through the pipeline."""
    raw = make_message(message_id, sender=sender, subject=subject, body=body, extra=extra)
    raw = raw.replace(b"To: list@example.org", f"To: {LIST}".encode())
    target = parse_recipient(to, {LIST}.__contains__)
    assert target is not None, to
    with moot.engine.begin() as conn:
        return moot.inbound.handle(conn, Job(sender if envelope is None else envelope,
                                             target, raw))


def waiting(moot: Moot) -> list[Any]:
    with moot.engine.connect() as conn:
        return held.waiting(conn, config(moot).id)


def decide(moot: Moot, hold_id: int, decision: str, reason: str = "") -> Outcome:
    with moot.engine.begin() as conn:
        return moot.inbound.moderate(conn, config(moot), hold_id, decision, by="cli",
                                     reason=reason)


def log(moot: Moot) -> list[dict[str, Any]]:
    """The audit log, newest first, without the tests' own setting changes."""
    with moot.engine.connect() as conn:
        return [e for e in audit.entries(conn, config(moot).id) if e["action"] != "settings"]


def mail_to(moot: Moot, who: str, subject_part: str = "") -> list[EmailMessage]:
    with moot.engine.connect() as conn:
        rows = conn.execute(select(s.outbox.c.codec, s.outbox.c.data).join(s.outbox_recipients)
                            .where(s.outbox_recipients.c.rcpt == who)
                            .order_by(s.outbox.c.id)).all()
    out = []
    for r in rows:
        msg = email.message_from_bytes(decode(r.codec, r.data), policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        if subject_part in str(msg["Subject"]):
            out.append(msg)
    return out


def text(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def archived(moot: Moot, message_id: str) -> bool:
    return bool(moot.archive.messages_by_id(config(moot).id, message_id))


# -- decisions and the audit log ---------------------------------------------------------------


def test_every_decision_is_recorded_and_defer_leaves_it_waiting(moot: Moot,
                                                                clock: Clock) -> None:
    for n in range(5):
        assert send(moot, f"h{n}@x", subject=f"Post {n}").status == "held"
    ids = [r.id for r in waiting(moot)]
    decide(moot, ids[0], "approve", "fine")
    assert decide(moot, ids[1], "reject", "off topic").line() == "rejected: off topic"
    assert decide(moot, ids[2], "discard").status == "discarded"
    assert decide(moot, ids[3], "defer", "ask the owner").line() == "held: ask the owner"
    decide(moot, ids[3], "defer")  # may be deferred again...
    decide(moot, ids[3], "discard")  # ...and then decided
    with pytest.raises(AlreadyDecided):
        decide(moot, ids[3], "defer")
    with pytest.raises(AlreadyDecided):
        decide(moot, ids[0], "approve")
    assert [r.id for r in waiting(moot)] == [ids[4]]
    assert archived(moot, "h0@x") and not archived(moot, "h1@x")
    entries = log(moot)
    assert [(e["action"], e["target"], e["detail"]) for e in reversed(entries)] == [
        ("moderate:approve", f"hold {ids[0]} <h0@x>", "fine"),
        ("moderate:reject", f"hold {ids[1]} <h1@x>", "off topic"),
        ("moderate:discard", f"hold {ids[2]} <h2@x>", ""),
        ("moderate:defer", f"hold {ids[3]} <h3@x>", "ask the owner"),
        ("moderate:defer", f"hold {ids[3]} <h3@x>", ""),
        ("moderate:discard", f"hold {ids[3]} <h3@x>", ""),
    ]
    assert {e["actor"] for e in entries} == {"cli"}
    assert entries[0]["at"] == T0.isoformat() + "Z"
    # The author hears of the reject, with its reason; of the discard, nothing.
    [no] = mail_to(moot, "eve@example.org", "was not sent")
    assert "off topic" in text(no) and '"Post 1"' in text(no)


def test_unknown_decisions_are_refused(moot: Moot, clock: Clock) -> None:
    send(moot, "u@x")
    with pytest.raises(ValueError):
        decide(moot, waiting(moot)[0].id, "maybe")


def test_approve_and_unmoderate_frees_a_moderated_member(moot: Moot, clock: Clock) -> None:
    with moot.engine.begin() as conn:
        member_store.update_member(conn, config(moot).id, "bob@example.org", moderated=True)
    assert send(moot, "m1@x", "bob@example.org").status == "held"
    decide(moot, waiting(moot)[0].id, "approve+unmoderate")
    assert archived(moot, "m1@x")
    with moot.engine.connect() as conn:
        bob = member_store.get_member(conn, config(moot).id, "bob@example.org")
    assert bob is not None and not bob.moderated
    assert send(moot, "m2@x", "bob@example.org").status == "accepted"
    assert log(moot)[0]["action"] == "moderate:approve+unmoderate"


def test_approve_and_unmoderate_trusts_a_new_member(moot: Moot, clock: Clock) -> None:
    config(moot, new_member_posts=3)
    out = send(moot, "n1@x", "bob@example.org")
    assert out.line() == "held: new member: first 3 posts are moderated"
    decide(moot, waiting(moot)[0].id, "approve+unmoderate")
    with moot.engine.connect() as conn:
        assert senders.accepted_posts(conn, config(moot).id, "bob@example.org") == 3
    assert send(moot, "n2@x", "bob@example.org").status == "accepted"


def test_a_new_members_first_posts_wait_until_enough_were_accepted(moot: Moot,
                                                                   clock: Clock) -> None:
    config(moot, new_member_posts=2)
    assert send(moot, "f1@x", "bob@example.org").status == "held"
    decide(moot, waiting(moot)[0].id, "approve")  # an approval counts
    assert send(moot, "f2@x", "bob@example.org").status == "held"
    decide(moot, waiting(moot)[0].id, "approve")
    assert send(moot, "f3@x", "bob@example.org").status == "accepted"
    with moot.engine.connect() as conn:
        assert senders.accepted_posts(conn, config(moot).id, "bob@example.org") == 3
    # Moderators are not new members, and posts accepted before counted too.
    assert send(moot, "f4@x", "mod@example.org").status == "accepted"


def test_approve_and_accept_always_accepts_the_sender(moot: Moot, clock: Clock) -> None:
    send(moot, "a1@x", "Eve <Eve@Example.org>")
    decide(moot, waiting(moot)[0].id, "approve+accept")
    assert archived(moot, "a1@x")
    with moot.engine.connect() as conn:
        assert senders.listed(conn, config(moot).id)[0]["pattern"] == "eve@example.org"
        assert senders.rule_for(conn, config(moot).id, "eve@example.org") == "accept"
    assert send(moot, "a2@x", "eve@example.org").status == "accepted"
    assert [e["action"] for e in log(moot)[:2]] == ["sender-rule:accept",
                                                   "moderate:approve+accept"]


# -- the pipeline: sender rules, non-members --------------------------------------------------


def add_rule(moot: Moot, pattern: str, action: str) -> None:
    with moot.engine.begin() as conn:
        senders.add(conn, config(moot).id, pattern, action, by="test", now=T0)


def test_sender_rules_come_before_membership(moot: Moot, clock: Clock) -> None:
    add_rule(moot, "*@spam.example", "discard")
    add_rule(moot, "jo@spam.example", "accept")  # more specific than the domain
    add_rule(moot, "bob@example.org", "hold")
    add_rule(moot, "^troll", "reject")
    assert send(moot, "r1@x", "jo@spam.example").status == "accepted"
    out = send(moot, "r2@x", "al@spam.example")
    assert out.status == "accepted" and out.line().startswith("discarded: ")
    assert "sender rules hold" in send(moot, "r3@x", "bob@example.org").line()
    assert send(moot, "r4@x", "troll9@example.net").status == "rejected"
    assert [r.message_id for r in waiting(moot)] == ["r3@x"]
    assert archived(moot, "r1@x") and not archived(moot, "r2@x")
    assert mail_to(moot, "al@spam.example") == []  # discarded silently


def test_an_accepted_sender_still_meets_loops_and_limits(moot: Moot, clock: Clock) -> None:
    add_rule(moot, "eve@example.org", "accept")
    config(moot, max_size=2000)
    assert send(moot, "l1@x", extra=f"X-Loop: {LIST}").status == "rejected"
    assert "larger than" in send(moot, "l2@x", body="x" * 3000).line()


@pytest.mark.parametrize(("action", "status"), [("hold", "held"), ("reject", "rejected"),
                                                ("discard", "accepted")])
def test_non_members_follow_nonmember_action(moot: Moot, clock: Clock, action: str,
                                             status: str) -> None:
    config(moot, nonmember_action=action)
    out = send(moot, "nm@x")
    assert out.status == status
    assert bool(waiting(moot)) == (action == "hold")
    told = mail_to(moot, "eve@example.org")
    assert bool(told) == (action == "hold")  # a reject is told by the mail server's bounce
    if action == "discard":
        assert out.line().startswith("discarded: eve@example.org is not a member")
        assert mail_to(moot, "mod@example.org") == []


# -- expiry ---------------------------------------------------------------------------------


def test_held_posts_expire_silently_after_the_lists_days(moot: Moot, clock: Clock) -> None:
    config(moot, held_expire_days=2)
    send(moot, "old@x")
    clock.advance(days=1, hours=12)
    send(moot, "new@x")
    before = len(mail_to(moot, "eve@example.org"))
    assert expire_held(moot.engine, T0 + timedelta(days=2)) == 0  # not quite yet
    assert expire_held(moot.engine, T0 + timedelta(days=2, minutes=1)) == 1
    assert [r.message_id for r in waiting(moot)] == ["new@x"]
    [entry] = log(moot)
    assert (entry["actor"], entry["action"]) == ("system", "moderate:expire")
    assert entry["target"].endswith("<old@x>") and "2 days" in entry["detail"]
    assert len(mail_to(moot, "eve@example.org")) == before  # the author is not told
    assert expire_held(moot.engine, T0 + timedelta(days=2, minutes=1)) == 0


def test_held_posts_never_expire_with_zero_days(moot: Moot, clock: Clock) -> None:
    config(moot, held_expire_days=0)
    send(moot, "keep@x")
    assert expire_held(moot.engine, T0 + timedelta(days=3650)) == 0
    assert len(waiting(moot)) == 1


# -- withdrawal and decisions by mail ----------------------------------------------------------


def reply_to(msg: EmailMessage) -> str:
    return str(msg["Reply-To"].addresses[0].addr_spec)


def test_the_author_withdraws_by_replying_withdraw(moot: Moot, clock: Clock) -> None:
    send(moot, "w1@x", subject="Oops")
    [notice] = mail_to(moot, "eve@example.org", "waits for a moderator")
    assert "To withdraw it, reply to this message with the word withdraw." in text(notice)
    address = reply_to(notice)
    assert address.startswith("dev-confirm+")
    # Thanks, or the notice quoted back, withdraw nothing.
    quoted = "\n".join("> " + line for line in text(notice).splitlines())
    for body in ("Thanks!\n", "ok\n" + quoted, "ok\n" + text(notice)):
        out = send(moot, "r@x", "eve@example.org", to=address, subject="Re: x", body=body)
        assert "nothing done" in out.detail
        assert len(waiting(moot)) == 1
    out = send(moot, "r2@x", "eve@example.org", to=address, subject="Re: x",
               body="Withdraw, please.\n\n" + quoted)
    assert out.status == "accepted" and "withdraw" in out.detail
    assert waiting(moot) == []
    assert (log(moot)[0]["actor"], log(moot)[0]["action"]) == ("eve@example.org",
                                                               "moderate:withdraw")
    assert not archived(moot, "w1@x")


def test_a_moderator_approves_by_replying_and_rejects_or_discards_by_writing(
        moot: Moot, clock: Clock) -> None:
    for n in range(3):
        send(moot, f"mm{n}@x", subject=f"Post {n}")
    notices = mail_to(moot, "mod@example.org", "waits for approval")
    assert len(notices) == 3
    body = text(notices[0])
    assert "To approve it, reply to this message" in body
    approve = reply_to(notices[0])
    assert approve in body
    reject = body.split("To turn it down (the author is told), send any message to:\n")[1] \
        .split()[0]
    discard = body.split("To discard it (nobody is told), send any message to:\n")[1].split()[0]
    assert len({approve, reject, discard}) == 3
    assert f"/l/{LIST}/moderate/" in body
    ids = [r.id for r in waiting(moot)]
    assert send(moot, "a@x", "mod@example.org", to=approve, subject="Re: x").status == "accepted"
    assert archived(moot, "mm0@x")
    # Another hold's tokens come from its own notice; this one's work for no other.
    body1, body2 = text(notices[1]), text(notices[2])
    reject1 = body1.split("send any message to:\n")[1].split()[0]
    discard2 = body2.split("To discard it (nobody is told), send any message to:\n")[1].split()[0]
    send(moot, "b@x", "mod@example.org", to=reject1, subject="Re: x")
    send(moot, "c@x", "mod@example.org", to=discard2, subject="Re: x")
    assert waiting(moot) == []
    actions = [(e["actor"], e["action"], e["target"].split()[1]) for e in reversed(log(moot))]
    assert actions == [("mod@example.org", "moderate:approve", str(ids[0])),
                       ("mod@example.org", "moderate:reject", str(ids[1])),
                       ("mod@example.org", "moderate:discard", str(ids[2]))]
    # Used again, an address decides nothing more.
    out = send(moot, "d@x", "mod@example.org", to=reject, subject="Re: x")
    assert "already decided" in out.detail
    assert len(mail_to(moot, "eve@example.org", "was not sent")) == 1


def test_tokens_are_bound_to_their_hold_and_list(moot: Moot, clock: Clock) -> None:
    send(moot, "t1@x")
    send(moot, "t2@x")
    first = text(mail_to(moot, "mod@example.org", "waits for approval")[0])
    token = first.split("send any message to:\n")[1].split()[0].split("+")[1].split("@")[0]
    claimed = read_hold_token(token)
    assert claimed is not None and claimed[1] == "reject"
    # Swap in the other hold's number: the MAC no longer fits.
    data = bytearray(base64.b32decode(token.upper() + "=" * (-len(token) % 8)))
    data[-1] += 1
    forged = base64.b32encode(bytes(data)).decode().rstrip("=").lower()
    assert read_hold_token(forged) == (claimed[0] + 1, "reject")
    out = send(moot, "f@x", "mod@example.org", to=f"dev-confirm+{forged}@example.org")
    assert out.detail == "unknown or expired token"  # read as a subscription code: none
    assert len(waiting(moot)) == 2


def test_automatic_replies_decide_nothing(moot: Moot, clock: Clock) -> None:
    send(moot, "auto@x")
    [notice] = mail_to(moot, "mod@example.org", "waits for approval")
    out = send(moot, "v@x", "mod@example.org", to=reply_to(notice), subject="Out of office",
               extra="Auto-Submitted: auto-replied")
    assert out.detail == "automatic mail: nothing done"
    assert len(waiting(moot)) == 1


def test_subscription_confirmations_still_work(moot: Moot, clock: Clock) -> None:
    send(moot, "j@x", "carol@example.org", to="dev-join@example.org")
    [ask] = mail_to(moot, "carol@example.org", "confirm")
    out = send(moot, "c@x", "carol@example.org", to=reply_to(ask), subject=f"Re: {ask['Subject']}")
    assert out.detail == "confirmed"
    with moot.engine.connect() as conn:
        assert member_store.get_member(conn, config(moot).id, "carol@example.org") is not None


# -- the moderators' notices, batched ----------------------------------------------------------


def test_moderators_are_told_of_three_holds_in_ten_minutes_then_summarised(
        moot: Moot, clock: Clock) -> None:
    for n in range(6):
        send(moot, f"b{n}@x", subject=f"Burst {n}")
        clock.advance(minutes=1)
    assert len(mail_to(moot, "mod@example.org", "waits for approval")) == 3
    assert len(mail_to(moot, "eve@example.org", "waits for a moderator")) == 6  # every author
    # The summary goes out once, a window after the first hold it covers (minute 3).
    assert send_hold_summaries(moot.engine, moot.membership, T0 + timedelta(minutes=12)) == 0
    assert send_hold_summaries(moot.engine, moot.membership, T0 + timedelta(minutes=13)) == 1
    assert send_hold_summaries(moot.engine, moot.membership, T0 + timedelta(minutes=14)) == 0
    for who in ("mod@example.org", "ow@example.org"):
        [summary] = mail_to(moot, who, "more posts are waiting")
        body = text(summary)
        assert "3 more posts are waiting for a moderator" in body and "(6 in all)" in body
        assert f"moot held {LIST}" in body
        assert '"Burst 3"' in body and '"Burst 5"' in body and '"Burst 0"' not in body
        assert body.count(f"/l/{LIST}/moderate/") == 3
    # Once it is quiet again, each hold is told at once.
    clock.advance(minutes=30)
    send(moot, "later@x", subject="Later")
    assert len(mail_to(moot, "mod@example.org", "waits for approval")) == 4
    assert send_hold_summaries(moot.engine, moot.membership, clock.at + timedelta(hours=1)) == 0


def test_holds_decided_before_the_summary_are_left_out(moot: Moot, clock: Clock) -> None:
    for n in range(5):
        send(moot, f"d{n}@x")
    ids = [r.id for r in waiting(moot)]
    decide(moot, ids[3], "discard")
    decide(moot, ids[4], "discard")
    assert send_hold_summaries(moot.engine, moot.membership, T0 + timedelta(hours=1)) == 0
    assert mail_to(moot, "mod@example.org", "more posts") == []
