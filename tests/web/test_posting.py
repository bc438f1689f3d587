"""Posting from the web over HTTP against the real app: a post becomes real mail that the list's
rules judge as they judge mail (accepted and archived, queued for the members; held on a
moderated list until a moderator approves it; refused by a members-only list), a reply lands
in its parent's thread, and bad posts are refused before anything is kept: a From the account
has not proved, a subject with a line break, a text over the limit, no log-in, no form
token.  The same through the API."""

from __future__ import annotations

import email
import re
from collections.abc import Iterator
from email.policy import default
from urllib.parse import unquote, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from moot.accounts import create_user
from moot.app import Moot
from moot.core.member import Member
from moot.posting import MAX_BODY
from moot.storage import held as held_store
from moot.storage import members as m
from moot.storage import schema as s
from moot.storage.lists import get_config, update_settings
from moot.storage.store import now_utc
from moot.web import accounts as web_accounts
from moot.web.app import create_app
from tests.web.test_accounts import PASSWORD, csrf, log_in

LIST = "dev@example.org"
MODERATED = "calm@example.org"
QUIET = "quiet@example.org"  # archive_policy none


@pytest.fixture
def site(moot: Moot) -> Moot:
    moot.store.create_list(LIST)
    moot.store.create_list(MODERATED, posting_policy="moderated")
    moot.store.create_list(QUIET, archive_policy="none")
    membership = moot.membership  # made (with the site's key) before the transaction below
    with moot.engine.begin() as conn:
        update_settings(conn, LIST, {"nonmember_action": "reject"})
        for address, who in ((LIST, [("ann@example.org", "member"), ("bob@example.org", "member"),
                                     ("dana@example.org", "member")]),
                             (MODERATED, [("ann@example.org", "member"),
                                          ("mo@example.org", "moderator")]),
                             (QUIET, [("ann@example.org", "member"),
                                      ("bob@example.org", "member")])):
            config = get_config(conn, address)
            assert config is not None
            for email_, role in who:
                membership.subscribe_now(conn, config, Member(email_, role=role),
                                              now_utc(), welcome=False)
        dev = get_config(conn, LIST)
        assert dev is not None
        m.update_member(conn, dev.id, "dana@example.org", delivery="digest")
        for who_ in ("ann@example.org", "eve@example.org"):
            create_user(conn, who_, PASSWORD, admin=False, now=now_utc())
    web_accounts._failures.clear()
    return moot


@pytest.fixture
def client(site: Moot) -> Iterator[TestClient]:
    with TestClient(create_app(site)) as c:
        yield c


def send(client: TestClient, address: str, *, sender: str = "ann@example.org",
         subject: str = "Release 2.0 plans", body: str = "Shall we ship on Friday?\n",
         reply: str = "", token: str | None = None) -> object:
    data = {"from": sender, "subject": subject, "body": body, "reply": reply,
            "csrf": csrf(client, f"/l/{address}/post") if token is None else token}
    return client.post(f"/l/{address}/post", data=data, follow_redirects=False)


def _all(site: Moot, address: str) -> list[object]:
    with site.engine.connect() as conn:
        return list(conn.execute(select(s.messages).where(
            s.messages.c.list_id == site.archive.get_list(address).id).order_by(s.messages.c.id)))


def recipients(site: Moot, message_pk: int) -> set[str]:
    with site.engine.connect() as conn:
        return set(conn.execute(select(s.outbox_recipients.c.rcpt).join(s.outbox).where(
            s.outbox.c.message_pk == message_pk, s.outbox.c.kind == "post")).scalars())


def count(site: Moot, table: object) -> int:
    with site.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_post_a_thread_and_a_reply_that_lands_in_it(client: TestClient, site: Moot) -> None:
    assert log_in(client, "ann@example.org") == 303
    form = client.get(f"/l/{LIST}/post")
    assert form.status_code == 200 and '<option value="ann@example.org" selected>' in form.text
    r = send(client, LIST, body="Shall we ship on Friday?\nGrüße, Ann\n")
    assert r.status_code == 303  # type: ignore[attr-defined]
    location = r.headers["location"]  # type: ignore[attr-defined]
    [first] = _all(site, LIST)
    assert unquote(location) == f"/l/{LIST}/m/{first.message_id}/"  # type: ignore[attr-defined]
    page = client.get(location).text
    assert "Release 2.0 plans" in page and "Grüße, Ann" in page
    assert "posted on the web by the logged-in account" in page
    # Real mail: the site's host in its Message-ID, the list in To, UTF-8 text.
    raw = site.archive.raw(first.id)  # type: ignore[attr-defined]
    msg = email.message_from_bytes(raw, policy=default)
    host = urlsplit(site.settings.base_url).hostname
    assert msg["Message-ID"].endswith(f"@{host}>") and msg["To"] == LIST
    assert msg["From"] == "ann@example.org" and "moot web" in msg["User-Agent"]
    assert msg.get_content_type() == "text/plain" and "Grüße" in msg.get_content()
    # Queued for the members who get each post (dana takes the digest).
    assert recipients(site, first.id) == {"ann@example.org", "bob@example.org"}  # type: ignore[attr-defined]
    # The post's page offers a reply on the web; the form quotes it.
    assert "Reply on the web" in page
    reply_link = re.search(r'href="(/l/[^"]+/post\?reply=[^"]+)">Reply on the web', page)
    assert reply_link
    form = client.get(reply_link.group(1).replace("&amp;", "&")).text
    assert 'value="Re: Release 2.0 plans"' in form
    assert "&gt; Shall we ship on Friday?" in form
    # A mistake keeps the answer an answer: the form comes back with what was written.
    r = send(client, LIST, subject="Re: Release\n2.0", body="Friday is fine.\n",
             reply=first.message_id)  # type: ignore[attr-defined]
    assert r.status_code == 400 and "Reply to" in r.text  # type: ignore[attr-defined]
    assert f'name="reply" value="{first.message_id}"' in r.text  # type: ignore[attr-defined]
    assert "Friday is fine." in r.text  # type: ignore[attr-defined]
    r = send(client, LIST, subject="Re: Release 2.0 plans", body="Friday is fine.\n",
             reply=first.message_id)  # type: ignore[attr-defined]
    assert r.status_code == 303  # type: ignore[attr-defined]
    second = _all(site, LIST)[1]
    assert second.in_reply_to == first.message_id  # type: ignore[attr-defined]
    assert second.thread_id == first.thread_id  # type: ignore[attr-defined]
    r = send(client, LIST, subject="Re: Release 2.0 plans", body="Agreed.\n",
             reply=second.message_id)  # type: ignore[attr-defined]
    third = _all(site, LIST)[2]
    raw = site.archive.raw(third.id)  # type: ignore[attr-defined]
    msg = email.message_from_bytes(raw, policy=default)
    assert msg["In-Reply-To"] == f"<{second.message_id}>"  # type: ignore[attr-defined]
    assert msg["References"].split() == [f"<{first.message_id}>",  # type: ignore[attr-defined]
                                         f"<{second.message_id}>"]  # type: ignore[attr-defined]
    thread = client.get(f"/l/{LIST}/t/{first.message_id}/").text  # type: ignore[attr-defined]
    assert "Friday is fine." in thread and "Agreed." in thread
    # Nobody logged in: no reply link.
    client.cookies.clear()
    assert "Reply on the web" not in client.get(location).text


def test_a_moderated_list_holds_the_post_until_a_moderator_approves(
        client: TestClient, site: Moot) -> None:
    assert log_in(client, "ann@example.org") == 303
    r = send(client, MODERATED, subject="Minutes", body="Here are the minutes.\n")
    assert r.status_code == 200  # type: ignore[attr-defined]
    assert "Your post is waiting for a moderator" in r.text  # type: ignore[attr-defined]
    assert _all(site, MODERATED) == []
    with site.engine.begin() as conn:
        config = get_config(conn, MODERATED)
        assert config is not None
        [row] = held_store.waiting(conn, config.id)
        assert row.subject == "Minutes" and row.sender == "ann@example.org"
        outcome = site.inbound.moderate(conn, config, row.id, "approve", by="mo@example.org")
    assert outcome.status == "accepted" and outcome.message_pk is not None
    [post] = _all(site, MODERATED)
    assert post.subject == "Minutes"  # type: ignore[attr-defined]
    assert "Here are the minutes." in client.get(f"/l/{MODERATED}/m/{post.message_id}/").text  # type: ignore[attr-defined]
    assert "ann@example.org" in recipients(site, outcome.message_pk)


def test_a_list_without_archive_sends_the_post_on(client: TestClient, site: Moot) -> None:
    assert log_in(client, "ann@example.org") == 303
    r = send(client, QUIET)
    assert r.status_code == 200 and "on its way to the members" in r.text  # type: ignore[attr-defined]
    with site.engine.connect() as conn:
        rcpts = set(conn.execute(select(s.outbox_recipients.c.rcpt).join(s.outbox).where(
            s.outbox.c.kind == "post")).scalars())
    assert rcpts == {"ann@example.org", "bob@example.org"}


def test_the_lists_rules_refuse_a_non_member(client: TestClient, site: Moot) -> None:
    assert log_in(client, "eve@example.org") == 303  # an account, not a member of dev
    r = send(client, LIST, sender="eve@example.org")
    assert r.status_code == 403 and "The list did not take your post" in r.text  # type: ignore[attr-defined]
    assert _all(site, LIST) == [] and count(site, s.outbox_recipients) == 0


def test_a_banned_address_is_refused_as_by_mail(client: TestClient, site: Moot) -> None:
    from moot.expulsion import ban

    with site.engine.begin() as conn:
        ban(conn, get_config(conn, LIST), "ann@example.org", reason="flooding", by="test",
            now=now_utc())
    site.inbound.forget_sender_lists()
    assert log_in(client, "ann@example.org") == 303
    r = send(client, LIST)
    assert r.status_code == 403 and "banned" in r.text  # type: ignore[attr-defined]
    assert _all(site, LIST) == [] and count(site, s.outbox_recipients) == 0


def test_bad_posts_are_refused_before_anything_is_kept(client: TestClient, site: Moot) -> None:
    assert log_in(client, "ann@example.org") == 303
    r = send(client, LIST, sender="bob@example.org")  # a member, but not ann's address
    assert r.status_code == 403 and "only from an address of your account" in r.text  # type: ignore[attr-defined]
    r = send(client, LIST, subject="Hi\r\nBcc: everyone@example.org")
    assert r.status_code == 400 and "one line without control characters" in r.text  # type: ignore[attr-defined]
    assert 'value="ann@example.org" selected' in r.text  # type: ignore[attr-defined]
    r = send(client, LIST, body="x" * (MAX_BODY + 1))
    assert r.status_code == 400 and "the limit is 100,000 bytes" in r.text  # type: ignore[attr-defined]
    r = send(client, LIST, body="   \n")
    assert r.status_code == 400 and "Write something" in r.text  # type: ignore[attr-defined]
    r = send(client, LIST, reply="nowhere@example.org")
    assert r.status_code == 404  # type: ignore[attr-defined]
    r = send(client, LIST, token="forged-token-that-is-long")
    assert r.status_code == 403 and "Reload the page" in r.text  # type: ignore[attr-defined]
    assert _all(site, LIST) == [] and count(site, s.held) == 0
    assert count(site, s.outbox_recipients) == 0
    # Nobody logged in: to the log-in page, with the way back.
    token = csrf(client, f"/l/{LIST}/post")
    client.cookies.delete(web_accounts.COOKIE)
    r = client.get(f"/l/{LIST}/post?reply=a@b", follow_redirects=False)
    assert r.status_code == 303 and unquote(r.headers["location"]) == (
        f"/login?next=/l/{LIST}/post?reply=a@b")
    r = send(client, LIST, token=token)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")  # type: ignore[attr-defined]
    assert _all(site, LIST) == []


def api_token(client: TestClient, email_: str) -> dict[str, str]:
    assert log_in(client, email_) == 303
    r = client.post("/me/tokens", data={"name": "poster", "csrf": csrf(client, "/me")})
    found = re.search(r'<code class="token">(moot_[^<]+)</code>', r.text)
    assert found
    client.cookies.clear()
    return {"Authorization": f"Bearer {found.group(1)}"}


def test_posting_through_the_api(client: TestClient, site: Moot) -> None:
    auth = api_token(client, "ann@example.org")
    doc = {"from": "ann@example.org", "subject": "From a script", "body": "Automated.\n"}
    r = client.post(f"/api/v1/lists/{LIST}/posts", json=doc, headers=auth)
    assert r.status_code == 201 and r.json()["outcome"] == "accepted"
    url = r.json()["url"]
    assert "From a script" in client.get(url).text
    [post] = _all(site, LIST)
    assert r.json()["message_id"] == post.message_id  # type: ignore[attr-defined]
    assert recipients(site, post.id) == {"ann@example.org", "bob@example.org"}  # type: ignore[attr-defined]
    r = client.post(f"/api/v1/lists/{LIST}/posts", headers=auth, json={
        **doc, "subject": "Re: From a script", "in_reply_to": post.message_id})  # type: ignore[attr-defined]
    assert r.status_code == 201
    assert _all(site, LIST)[1].in_reply_to == post.message_id  # type: ignore[attr-defined]
    r = client.post(f"/api/v1/lists/{MODERATED}/posts", json=doc, headers=auth)
    assert r.status_code == 202 and r.json()["outcome"] == "held"
    assert "waiting for a moderator" in r.json()["detail"]
    # Refusals, each JSON with an error to act on.
    for body, status, words in (({**doc, "from": "bob@example.org"}, 403, "only from"),
                                ({**doc, "subject": "a\nb"}, 400, "one line"),
                                ({**doc, "body": "y" * (MAX_BODY + 1)}, 400, "100,000"),
                                ({**doc, "in_reply_to": "gone@x"}, 404, "no message"),
                                ({"subject": "x", "body": "y"}, 400, '"from" is required')):
        r = client.post(f"/api/v1/lists/{LIST}/posts", json=body, headers=auth)
        assert r.status_code == status and words in r.json()["error"], (body, r.text)
    assert client.post("/api/v1/lists/nolist@example.org/posts", json=doc,
                       headers=auth).status_code == 404
    assert client.post(f"/api/v1/lists/{LIST}/posts", json=doc).status_code == 401
    eve = api_token(client, "eve@example.org")
    r = client.post(f"/api/v1/lists/{LIST}/posts", headers=eve,
                    json={**doc, "from": "eve@example.org"})
    assert r.status_code == 422 and r.json()["outcome"] == "rejected"
    assert "did not take your post" in r.json()["error"]
    assert len(_all(site, LIST)) == 2
