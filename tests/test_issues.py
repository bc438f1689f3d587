"""Edited issues, the use cases over a real database: numbering, publishing and its refusals,
versions, what the mail carries (never a private list's text), and which issues a post is
"republished in" (only what the latest published version carries)."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import default

import pytest
from sqlalchemy import select

from moot import issues as uc
from moot.accounts import create_user
from moot.app import Moot
from moot.authz import viewer_for
from moot.core.issues import IssueError
from moot.core.member import Member
from moot.core.parse import parse_message
from moot.storage import audit
from moot.storage import issues as store
from moot.storage import schema as s
from moot.storage.codec import decode
from moot.storage.lists import get_config
from moot.storage.store import Incoming, now_utc, sha256
from tests.helpers import make_message

LIST, INNER = "news@example.org", "inner@example.org"


@pytest.fixture
def site(moot: Moot) -> Moot:
    moot.store.create_list(LIST, display_name="Nouvelles")
    moot.store.create_list(INNER, archive_policy="private")
    for address, mid, subject in ((LIST, "n1@example.org", "Café opens"),
                                  (LIST, "n2@example.org", "Second"),
                                  (INNER, "i1@example.org", "Inside story")):
        raw = make_message(mid, subject=subject, body=f"Text of {subject}.\n")
        moot.store.add_messages(moot.archive.get_list(address).id,
                                [Incoming(raw, parse_message(raw), sha256(raw))])
    with moot.engine.begin() as conn:
        news, inner = get_config(conn, LIST), get_config(conn, INNER)
        assert news is not None and inner is not None
        moot.membership.subscribe_now(conn, news, Member("ed@example.org", role="editor"),
                                      now_utc(), welcome=False)
        moot.membership.subscribe_now(conn, news, Member("reader@example.org"), now_utc(),
                                      welcome=False)
        moot.membership.subscribe_now(conn, inner, Member("ed@example.org"), now_utc(),
                                      welcome=False)
        create_user(conn, "ed@example.org", "a long enough passphrase", admin=False,
                    now=now_utc())
    return moot


def editor(moot: Moot):  # type: ignore[no-untyped-def]
    from moot.accounts import find_user

    with moot.engine.connect() as conn:
        return viewer_for(conn, find_user(conn, "ed@example.org"), "session")


def test_an_issue_goes_from_draft_to_versions(site: Moot) -> None:
    who = editor(site)
    with site.engine.begin() as conn:
        config = get_config(conn, LIST)
        assert config is not None
        first = uc.create(conn, config, "  Issue   one ", "Hello.", by=who.actor, now=now_utc())
        second = uc.create(conn, config, "Issue two", "", by=who.actor, now=now_utc())
        assert (first.number, first.title, second.number) == (1, "Issue one", 2)
        with pytest.raises(IssueError, match="at least one post"):
            uc.publish(conn, config, first, by=who.actor, now=now_utc())
        uc.add_post(conn, who, first, "n1@example.org", "Good news.", publishing_list=LIST,
                    now=now_utc())
        uc.add_post(conn, who, first, f"/l/{INNER}/m/i1@example.org/", publishing_list=LIST,
                    now=now_utc())
        done = uc.publish(conn, config, first, by=who.actor, now=now_utc(), mail=True,
                          base_url="https://lists.example.org")
        assert (done.version, done.recipients) == (1, 2)
        issue = store.get(conn, config.id, 1)
        assert issue is not None and issue.status == "published"
        with pytest.raises(IssueError, match="nothing changed"):
            uc.publish(conn, config, issue, by=who.actor, now=now_utc(), change_note="x")
        uc.remove(conn, issue, 1, by=who.actor, now=now_utc())
        uc.add_post(conn, who, issue, "n2@example.org", publishing_list=LIST, now=now_utc())
        done = uc.publish(conn, config, issue, by=who.actor, now=now_utc(),
                          change_note="Swapped a post.")
        assert done.version == 2 and done.changes == ["post 2 removed", "post 2 added"]
        pks = {m: pk for m, pk in conn.execute(select(s.messages.c.message_id,
                                                      s.messages.c.id))}
        # Only the latest version's posts say "republished in".
        assert store.republished(conn, [pks["i1@example.org"]]) == []
        assert [(a, n, t) for a, _, _, n, t in store.republished(conn, [pks["n2@example.org"]])
                ] == [(LIST, 1, "Issue one")]
        actions = [e["action"] for e in audit.entries(conn, config.id)]
        assert "issue-publish" in actions and "issue-mail" in actions


def test_the_mail_never_carries_a_private_lists_text(site: Moot) -> None:
    who = editor(site)
    with site.engine.begin() as conn:
        config = get_config(conn, LIST)
        assert config is not None
        issue = uc.create(conn, config, "Été", "Bonjour.", by=who.actor, now=now_utc())
        uc.add_post(conn, who, issue, "<n1@example.org>", "Lisez-le.", publishing_list=LIST,
                    now=now_utc())
        uc.add_post(conn, who, issue, f"https://x.example/l/{INNER}/m/i1@example.org/",
                    publishing_list=LIST, now=now_utc())
        uc.publish(conn, config, issue, by=who.actor, now=now_utc(), mail=True,
                   base_url="https://lists.example.org/")
        row = conn.execute(select(s.outbox)).one()
        rcpts = sorted(conn.execute(select(s.outbox_recipients.c.rcpt)).scalars())
    assert rcpts == ["ed@example.org", "reader@example.org"]
    msg = message_from_bytes(decode(row.codec, row.data), policy=default)
    assert msg["Subject"] == "[news] Été (issue 1)"
    assert msg.get_content_charset() == "utf-8"
    body = msg.get_content()
    assert "Text of Café opens." in body and "[Editor's note: Lisez-le.]" in body
    assert "https://lists.example.org/l/news@example.org/m/n1@example.org/" in body
    assert "Inside story" not in body and "Text of Inside story" not in body
    assert "a post from a private list" in body


def test_an_editor_adds_only_posts_they_may_read(site: Moot) -> None:
    with site.engine.begin() as conn:
        config = get_config(conn, LIST)
        assert config is not None
        create_user(conn, "out@example.org", "a long enough passphrase", admin=False,
                    now=now_utc())
        from moot.accounts import find_user

        outsider = viewer_for(conn, find_user(conn, "out@example.org"), "session")
        issue = uc.create(conn, config, "T", "", by="x", now=now_utc())
        with pytest.raises(IssueError, match="no list inner@example.org"):
            uc.add_post(conn, outsider, issue, f"/l/{INNER}/m/i1@example.org/",
                        publishing_list=LIST, now=now_utc())
        with pytest.raises(IssueError, match="no post <i1@example.org>"):
            uc.add_post(conn, outsider, issue, "i1@example.org", publishing_list=LIST,
                        now=now_utc())
