"""Bounces from report to member record: mail that came back to the list's bounce addresses
goes in through the posting pipeline, the housekeeping passes read it, and the members, the
outbound queue and the owner's history show what a list owner would see."""

from __future__ import annotations

import email
from datetime import datetime, timedelta
from email.policy import default

from sqlalchemy import select

from moot.app import Moot
from moot.core.member import Member
from moot.inbound.service import Job
from moot.storage import bounces as b
from moot.storage import members as m
from moot.storage import schema as s
from moot.storage.lists import get_config, update_settings

LIST = "dev@example.org"
DAY = datetime(2026, 11, 2, 9, 0)


def dsn(recipient: str, status: str = "5.1.1", action: str = "failed") -> bytes:
    """A delivery status notification (RFC 3464) as a receiving MTA writes one."""
    code = "550" if status[0] == "5" else "450"
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\n"
        "To: dev-bounces@example.org\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n'
        "\r\n--b1\r\nContent-Type: text/plain\r\n\r\n"
        f"Your message to <{recipient}> could not be delivered.\r\n"
        "\r\n--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.net\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; {code} {status} mailbox unavailable\r\n"
        "\r\n--b1--\r\n").encode()


def setup(moot: Moot, threshold: int = 2, warnings: int = 2) -> None:
    moot.store.create_list(LIST, posting_policy="open")
    with moot.engine.begin() as conn:
        update_settings(conn, LIST, {"bounce_threshold": threshold, "bounce_warnings": warnings})
        config = get_config(conn, LIST)
        for who in ("bob@example.net", "erin@example.net", "fay@example.com"):
            m.add_member(conn, config.id, Member(who), DAY)


def bounce_in(moot: Moot, to: str, raw: bytes) -> str:
    recipient = moot.resolve(to)
    assert recipient is not None
    with moot.engine.begin() as conn:
        out = moot.inbound.handle(conn, Job("", recipient, raw))
    return out.status


def state(moot: Moot, who: str):  # type: ignore[no-untyped-def]
    with moot.engine.connect() as conn:
        return b.state(conn, get_config(conn, LIST).id, who)


def queued_to(moot: Moot, who: str) -> list[tuple[str, bytes]]:
    from moot.storage.codec import decode

    with moot.engine.connect() as conn:
        rows = conn.execute(select(s.outbox.c.mail_from, s.outbox.c.codec, s.outbox.c.data)
                            .join(s.outbox_recipients)
                            .where(s.outbox_recipients.c.rcpt == who)).all()
    return [(r.mail_from, decode(r.codec, r.data)) for r in rows]


def recipients(moot: Moot) -> list[str]:
    with moot.engine.connect() as conn:
        return [e for e, _ in m.post_recipients(conn, get_config(conn, LIST).id)]


def history(moot: Moot, who: str) -> list[str]:
    with moot.engine.connect() as conn:
        return [h["kind"] for h in reversed(b.history(conn, get_config(conn, LIST).id, who))]


def test_a_members_own_return_address_names_them_and_repeated_bounces_stop_delivery(
        moot: Moot) -> None:
    setup(moot)
    # The report names some other address; the return address (VERP) is what counts.
    assert bounce_in(moot, "dev-bounces+bob=example.net@example.org",
                     dsn("forwarded-to@elsewhere.example")) == "accepted"
    assert moot.bounces.process_new(DAY) == 1
    assert state(moot, "bob@example.net").score == 1
    assert "bob@example.net" in recipients(moot)
    # Twice the same day counts once; the next day reaches the threshold of 2.
    bounce_in(moot, "dev-bounces+bob=example.net@example.org", dsn("bob@example.net"))
    moot.bounces.process_new(DAY + timedelta(hours=3))
    assert state(moot, "bob@example.net").score == 1
    bounce_in(moot, "dev-bounces+bob=example.net@example.org", dsn("bob@example.net"))
    moot.bounces.process_new(DAY + timedelta(days=1))
    st = state(moot, "bob@example.net")
    assert (st.score, st.disabled_at, st.warnings_sent) == (2, DAY + timedelta(days=1), 1)
    assert "bob@example.net" not in recipients(moot)
    assert history(moot, "bob@example.net") == ["bounce", "bounce", "bounce", "disabled",
                                                "warning"]
    # The member was told, from a return address of the notice's own (the probe).
    [(mail_from, data)] = queued_to(moot, "bob@example.net")
    assert mail_from.startswith("dev-bounces+probe-") and mail_from.endswith("@example.org")
    notice = email.message_from_bytes(data, policy=default)
    assert "stopped sending" in notice.get_content()
    assert "550 5.1.1" in notice.get_content()
    # Nothing else changed for the others.
    assert state(moot, "erin@example.net").score == 0


def test_a_notice_that_gets_through_starts_delivery_again(moot: Moot) -> None:
    setup(moot, threshold=1)
    bounce_in(moot, "dev-bounces+bob=example.net@example.org", dsn("bob@example.net"))
    moot.bounces.process_new(DAY)
    assert "bob@example.net" not in recipients(moot)
    assert moot.bounces.tick(DAY + timedelta(days=1)) == 0  # too early to tell
    assert moot.bounces.tick(DAY + timedelta(days=3)) == 1
    assert state(moot, "bob@example.net").disabled_at is None
    assert "bob@example.net" in recipients(moot)
    assert history(moot, "bob@example.net")[-1] == "enabled"


def test_notices_that_bounce_end_in_removal(moot: Moot) -> None:
    setup(moot, threshold=1, warnings=2)
    bounce_in(moot, "dev-bounces+bob=example.net@example.org", dsn("bob@example.net"))
    moot.bounces.process_new(DAY)

    def probe_bounces(when: datetime) -> None:
        probe = queued_to(moot, "bob@example.net")[-1][0]
        bounce_in(moot, probe, dsn("bob@example.net"))
        assert moot.bounces.process_new(when) == 1

    probe_bounces(DAY + timedelta(hours=1))
    assert moot.bounces.tick(DAY + timedelta(days=4)) == 0  # bounced: stays off, no notice yet
    assert moot.bounces.tick(DAY + timedelta(days=7)) == 1  # the second notice
    assert len(queued_to(moot, "bob@example.net")) == 2
    probe_bounces(DAY + timedelta(days=7, hours=1))
    assert moot.bounces.tick(DAY + timedelta(days=14)) == 1  # both bounced: removed
    with moot.engine.connect() as conn:
        assert m.get_member(conn, get_config(conn, LIST).id, "bob@example.net") is None
    assert history(moot, "bob@example.net")[-1] == "removed"


def test_the_member_can_start_delivery_again_themselves(moot: Moot) -> None:
    setup(moot, threshold=1)
    bounce_in(moot, "dev-bounces+bob=example.net@example.org", dsn("bob@example.net"))
    moot.bounces.process_new(DAY)
    [(_, data)] = queued_to(moot, "bob@example.net")
    notice = email.message_from_bytes(data, policy=default)
    # Replying to the notice is enough: it goes to the confirm address it names.
    reply_to = str(notice["Reply-To"])
    assert reply_to.startswith("dev-confirm+")
    reply = (f"From: bob@example.net\r\nTo: {reply_to}\r\nSubject: Re: {notice['Subject']}"
             "\r\n\r\nyes please\r\n").encode()
    assert bounce_in(moot, reply_to, reply) == "accepted"
    assert state(moot, "bob@example.net").disabled_at is None
    assert "bob@example.net" in recipients(moot)
    assert history(moot, "bob@example.net")[-1] == "enabled"


def test_shared_copies_are_matched_by_what_the_report_says(moot: Moot) -> None:
    setup(moot, threshold=1)
    bounce_in(moot, "dev-bounces@example.org", dsn("erin@example.net"))
    bounce_in(moot, "dev-bounces@example.org", dsn("stranger@example.net"))
    bounce_in(moot, "dev-bounces@example.org", dsn("fay@example.com", "4.2.2", "delayed"))
    vacation = (b"From: fay@example.com\r\nTo: dev-bounces@example.org\r\n"
                b"Subject: Out of office\r\nAuto-Submitted: auto-replied\r\n\r\n"
                b"I am away until Monday.\r\n")
    bounce_in(moot, "dev-bounces@example.org", vacation)
    assert moot.bounces.process_new(DAY) == 4
    assert moot.bounces.process_new(DAY) == 0  # each report is read once
    assert state(moot, "erin@example.net").disabled_at == DAY
    assert state(moot, "fay@example.com").score == 0  # delayed: still being tried
    assert history(moot, "fay@example.com") == ["delayed"]
    assert history(moot, "") == ["unrecognized"]


def test_the_owner_sees_the_history_on_the_command_line_and_in_the_api(moot: Moot) -> None:
    import json

    from starlette.testclient import TestClient
    from typer.testing import CliRunner

    from moot.cli.main import app
    from moot.web.app import create_app

    setup(moot, threshold=1)
    bounce_in(moot, "dev-bounces+bob=example.net@example.org", dsn("bob@example.net"))
    moot.bounces.process_new(DAY)
    data = str(moot.settings.data_dir)
    out = CliRunner().invoke(app, ["--data", data, "bounces", LIST, "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert [d["email"] for d in doc["disabled"]] == ["bob@example.net"]
    assert [e["kind"] for e in doc["events"]] == ["warning", "disabled", "bounce"]
    assert "5.1.1" in doc["events"][-1]["detail"]
    text = CliRunner().invoke(app, ["--data", data, "bounces", LIST, "erin@example.net"])
    assert text.exit_code == 0 and "no bounces on record for erin@example.net" in text.stdout
    client = TestClient(create_app(moot))
    assert client.get(f"/api/v1/lists/{LIST}/bounces").status_code == 401  # nobody logged in
    import dataclasses

    moot.settings = dataclasses.replace(moot.settings, admin_token="t0ken-for-tests-0123456789")
    client = TestClient(create_app(moot))
    got = client.get(f"/api/v1/lists/{LIST}/bounces", params={"email": "bob@example.net"},
                     headers={"Authorization": "Bearer t0ken-for-tests-0123456789"})
    assert got.status_code == 200
    assert got.json()["disabled"][0]["email"] == "bob@example.net"
    assert got.json() == doc
