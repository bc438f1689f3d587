"""Edited issues through the real app: an editor composes an issue from list posts, publishes
it (and mails it to the members), readers see it with the editor's notes and links back to the
originals, the originals say where they were republished, the feed lists it, and an edit after
publication is version 2 while version 1 stays readable.  Only editors may compose; forms need
their token; what editors type is shown as text."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from email import message_from_bytes
from email.policy import default

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from moot.accounts import create_user
from moot.app import Moot
from moot.core.member import Member
from moot.core.parse import parse_message
from moot.storage import schema as s
from moot.storage.codec import decode
from moot.storage.lists import get_config
from moot.storage.store import Incoming, now_utc, sha256
from moot.web import accounts as web_accounts
from moot.web.app import create_app
from tests.helpers import make_message
from tests.web.test_accounts import PASSWORD, log_in

LIST, PRIVATE = "dev@example.org", "inner@example.org"
ISSUES = f"/l/{LIST}/issues/"
XSS = "<script>alert(1)</script>"


def _add(moot: Moot, address: str, mid: str, subject: str, body: str) -> None:
    raw = make_message(mid, subject=subject, body=body)
    moot.store.add_messages(moot.archive.get_list(address).id,
                            [Incoming(raw, parse_message(raw), sha256(raw))])


@pytest.fixture
def site(moot: Moot) -> Moot:
    moot.store.create_list(LIST, display_name="Dev Team")
    moot.store.create_list(PRIVATE, archive_policy="private")
    _add(moot, LIST, "a1@example.org", "Faster builds", "Builds now take a minute.\n")
    _add(moot, LIST, "a2/x@example.org", "Release plan", "We release on Friday.\n")
    _add(moot, PRIVATE, "p1@example.org", "Secret budget", "The budget is 42.\n")
    with moot.engine.begin() as conn:
        dev, inner = get_config(conn, LIST), get_config(conn, PRIVATE)
        assert dev is not None and inner is not None
        for email, role, delivery in (("ed@example.org", "editor", "regular"),
                                      ("mem@example.org", "member", "regular"),
                                      ("dig@example.org", "member", "digest")):
            moot.membership.subscribe_now(conn, dev, Member(email, role=role, delivery=delivery),
                                          now_utc(), welcome=False)
            create_user(conn, email, PASSWORD, admin=False, now=now_utc())
        moot.membership.subscribe_now(conn, inner, Member("ed@example.org"), now_utc(),
                                      welcome=False)
    web_accounts._failures.clear()
    return moot


@pytest.fixture
def client(site: Moot) -> Iterator[TestClient]:
    with TestClient(create_app(site)) as c:
        yield c


def token(client: TestClient, path: str) -> str:
    r = client.get(path)
    assert r.status_code == 200, r.text
    found = re.search(r'name="csrf" value="([^"]+)"', r.text)
    assert found
    return found.group(1)


def compose(client: TestClient, number: int, **data: str) -> object:
    edit = f"{ISSUES}{number}/edit"
    return client.post(edit, data={"csrf": token(client, edit), **data}, follow_redirects=False)


def start(client: TestClient, title: str = "Weekly news", intro: str = "Hello readers.") -> int:
    r = client.post(f"{ISSUES}new", data={"csrf": token(client, ISSUES), "title": title,
                                          "introduction": intro}, follow_redirects=False)
    assert r.status_code == 303, r.text
    found = re.search(r"/issues/(\d+)/edit", r.headers["location"])
    assert found
    return int(found.group(1))


def published_issue(client: TestClient, *, mail: bool = False) -> int:
    """Issue 1: two posts, each with a note, the second listed first."""
    assert log_in(client, "ed@example.org") == 303
    n = start(client, f"Weekly {XSS}", f"Intro {XSS}")
    assert compose(client, n, action="add", reference="<a1@example.org>",
                   note=f"Worth it {XSS}").status_code == 303
    link = f"https://lists.example.org/l/{LIST}/m/a2%2Fx@example.org/"
    assert compose(client, n, action="add", reference=link,
                   note="Mark the date.").status_code == 303
    assert compose(client, n, action="up", position="2").status_code == 303
    r = compose(client, n, action="publish", **({"mail": "1"} if mail else {}))
    assert r.status_code == 303, r.text  # type: ignore[attr-defined]
    client.cookies.clear()
    return n


def test_a_published_issue_shows_notes_and_permalinks(client: TestClient, site: Moot) -> None:
    n = published_issue(client)
    page = client.get(f"{ISSUES}{n}/")
    assert page.status_code == 200
    text = page.text
    assert "Weekly &lt;script&gt;alert(1)&lt;/script&gt;" in text and XSS not in text
    assert "Intro &lt;script&gt;" in text
    assert "[Editor's note: Worth it &lt;script&gt;" in text
    assert "[Editor's note: Mark the date.]" in text
    # The second post was moved up: it comes first, then the first one.
    assert text.index("Release plan") < text.index("Faster builds")
    assert f'href="/l/{LIST}/m/a1@example.org/"' in text
    assert f'href="/l/{LIST}/m/a2%2Fx@example.org/"' in text
    assert "We release on Friday." in text and "Ada Quill" in text
    # The printable page has the same content without the site's header.
    printable = client.get(f"{ISSUES}{n}/print").text
    assert "Release plan" in printable and 'class="site"' not in printable
    # The list's page of issues and its home page link it; the feed lists it.
    assert f'href="{ISSUES}{n}/"' in client.get(ISSUES).text
    assert f'href="{ISSUES}"' in client.get(f"/l/{LIST}/").text
    feed = client.get(f"{ISSUES}atom.xml")
    assert feed.headers["content-type"].startswith("application/atom+xml")
    assert f"{ISSUES}{n}/</id>" in feed.text and XSS not in feed.text
    # The original post says where it was republished.
    original = client.get(f"/l/{LIST}/m/a1@example.org/").text
    assert "Republished in" in original and f'href="{ISSUES}{n}/"' in original
    assert "Republished in" not in client.get(f"/l/{LIST}/m/a2%2Fx@example.org/raw").text


def test_drafts_are_for_editors_only(client: TestClient) -> None:
    assert log_in(client, "ed@example.org") == 303
    n = start(client, "Not yet")
    assert compose(client, n, action="add", reference="a1@example.org").status_code == 303
    assert "Not yet" in client.get(ISSUES).text
    assert "Draft" in client.get(f"{ISSUES}{n}/").text
    client.cookies.clear()
    assert "Not yet" not in client.get(ISSUES).text
    assert client.get(f"{ISSUES}{n}/").status_code == 404
    assert "Republished in" not in client.get(f"/l/{LIST}/m/a1@example.org/").text


def test_publishing_by_mail_queues_one_message_for_regular_members(client: TestClient,
                                                                   site: Moot) -> None:
    n = published_issue(client, mail=True)
    with site.engine.connect() as conn:
        rows = conn.execute(select(s.outbox).where(s.outbox.c.kind == "issue")).all()
        assert len(rows) == 1
        rcpts = set(conn.execute(select(s.outbox_recipients.c.rcpt).where(
            s.outbox_recipients.c.outbox_id == rows[0].id)).scalars())
    assert rcpts == {"ed@example.org", "mem@example.org"}  # not the digest reader
    msg = message_from_bytes(decode(rows[0].codec, rows[0].data), policy=default)
    assert msg["From"].addresses[0].addr_spec == LIST
    assert f"(issue {n})" in msg["Subject"]
    assert msg.get_content_type() == "text/plain"
    body = msg.get_content()
    assert "[Editor's note: Mark the date.]" in body
    assert f"/l/{LIST}/m/a2%2Fx@example.org/" in body and "We release on Friday." in body
    assert f"/l/{LIST}/issues/{n}/" in body


def test_an_edit_after_publication_is_version_2(client: TestClient) -> None:
    n = published_issue(client)
    assert log_in(client, "ed@example.org") == 303
    assert compose(client, n, action="save", title="Weekly news, corrected",
                   introduction="Hello again.").status_code == 303
    assert compose(client, n, action="note", position="1",
                   note="Moved to Monday.").status_code == 303
    # Readers still see version 1 until the change is published, with a change note.
    assert "corrected" not in client.get(f"{ISSUES}{n}/").text
    r = compose(client, n, action="publish")
    assert r.status_code == 400 and "change note" in r.text  # type: ignore[attr-defined]
    assert compose(client, n, action="publish",
                   change_note="The release moved.").status_code == 303
    client.cookies.clear()
    page = client.get(f"{ISSUES}{n}/").text
    assert "Weekly news, corrected" in page and "[Editor's note: Moved to Monday.]" in page
    assert "Edited after publication: version 2" in page and "The release moved." in page
    assert f'href="{ISSUES}{n}/v/1/"' in page
    old = client.get(f"{ISSUES}{n}/v/1/").text
    assert "Weekly &lt;script&gt;" in old and "Mark the date." in old and "corrected" not in old
    assert client.get(f"{ISSUES}{n}/v/3/").status_code == 404


def test_only_editors_may_compose(client: TestClient) -> None:
    r = client.get(f"{ISSUES}1/edit", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    assert log_in(client, "mem@example.org") == 303
    assert client.get(f"{ISSUES}1/edit").status_code == 403
    client.get(ISSUES)  # sets the form token's cookie, though the page has no form for them
    r = client.post(f"{ISSUES}new", data={"csrf": client.cookies.get("moot_csrf"),
                                          "title": "Mine"})
    assert r.status_code == 403 and "editors" in r.text
    assert "New issue" not in client.get(ISSUES).text


def test_a_form_without_its_token_is_refused(client: TestClient) -> None:
    assert log_in(client, "ed@example.org") == 303
    token(client, ISSUES)
    r = client.post(f"{ISSUES}new", data={"title": "Forged"}, follow_redirects=False)
    assert r.status_code == 403
    assert "Forged" not in client.get(ISSUES).text


def test_a_private_post_is_shown_only_to_its_readers(client: TestClient) -> None:
    assert log_in(client, "ed@example.org") == 303
    n = start(client, "Mixed")
    r = compose(client, n, action="add", reference=f"/l/{PRIVATE}/m/p1@example.org/",
                note="From inside.")
    assert r.status_code == 303  # type: ignore[attr-defined]
    assert compose(client, n, action="publish").status_code == 303
    assert "Secret budget" in client.get(f"{ISSUES}{n}/").text  # the editor reads that list
    client.cookies.clear()
    page = client.get(f"{ISSUES}{n}/").text
    assert "A post from a private list" in page
    assert "Secret budget" not in page and "budget is 42" not in page
    assert log_in(client, "mem@example.org") == 303  # a member of dev only
    assert "budget is 42" not in client.get(f"{ISSUES}{n}/").text


def test_a_post_that_is_not_there_is_refused_with_a_reason(client: TestClient) -> None:
    assert log_in(client, "ed@example.org") == 303
    n = start(client, "Tries")
    r = compose(client, n, action="add", reference="nothere@example.org")
    assert r.status_code == 400  # type: ignore[attr-defined]
    assert "no post <nothere@example.org>" in html.unescape(r.text)  # type: ignore[attr-defined]
    r = compose(client, n, action="add", reference="/l/nolist@example.org/m/a1@example.org/")
    assert "no list nolist@example.org" in html.unescape(r.text)  # type: ignore[attr-defined]


# -- the API ------------------------------------------------------------------------------

def bearer(site: Moot, email: str) -> dict[str, str]:
    from moot.accounts import find_user
    from moot.authz import create_token

    with site.engine.begin() as conn:
        user = find_user(conn, email)
        assert user is not None
        return {"Authorization": f"Bearer {create_token(conn, user.id, 't', now_utc())}"}


def test_the_api_mirrors_the_pages(client: TestClient, site: Moot) -> None:
    api = f"/api/v1/lists/{LIST}/issues"
    ed, mem = bearer(site, "ed@example.org"), bearer(site, "mem@example.org")
    r = client.post(api, json={"title": "By script"}, headers=mem)
    assert r.status_code == 403 and "editors" in r.json()["error"]
    assert client.post(api, json={"title": "x"}).status_code == 401
    r = client.post(api, json={"title": "By script", "introduction": "Hi."}, headers=ed)
    assert r.status_code == 201, r.text
    n = r.json()["number"]
    assert client.post(api, json={"title": 5}, headers=ed).status_code == 422
    one = f"{api}/{n}"
    for ref in ("<a1@example.org>", f"/l/{LIST}/m/a2%2Fx@example.org/"):
        assert client.post(f"{one}/items", json={"reference": ref}, headers=ed
                           ).status_code == 201
    r = client.post(f"{one}/items", json={"reference": "a1@example.org"}, headers=ed)
    assert r.status_code == 400 and "already" in r.json()["error"]
    assert client.patch(f"{one}/items/2", json={"move": -1, "note": "First!"},
                        headers=ed).status_code == 200
    assert client.delete(f"{one}/items/2", headers=ed).status_code == 200
    assert client.get(one).status_code == 404  # a draft: not for readers
    r = client.post(f"{one}/publish", json={"mail": True}, headers=ed)
    assert r.status_code == 200 and r.json()["version"] == 1 and r.json()["mailed_to"] == 2
    doc = client.get(one).json()
    assert doc["title"] == "By script" and doc["version"] == 1
    assert [(i["message_id"], i["note"]) for i in doc["items"]] == [("a2/x@example.org",
                                                                    "First!")]
    assert client.patch(one, json={"title": "By script, v2"}, headers=ed).status_code == 200
    r = client.post(f"{one}/publish", json={}, headers=ed)
    assert r.status_code == 400 and "change note" in r.json()["error"]
    r = client.post(f"{one}/publish", json={"change_note": "Retitled."}, headers=ed)
    assert r.json()["version"] == 2 and r.json()["changes"] == ["title changed"]
    doc = client.get(one).json()
    assert doc["title"] == "By script, v2" and [v["version"] for v in doc["versions"]] == [1, 2]
    assert client.get(one, params={"version": 1}).json()["title"] == "By script"
    listed = client.get(api).json()["issues"]
    assert [(i["number"], i["title"]) for i in listed] == [(n, "By script, v2")]


def test_an_editor_sees_the_list_page_with_their_role(client: TestClient) -> None:
    """The list page's join/post box ranks an editor's roles like any other (it once knew
    only member, moderator and owner, and failed for an editor)."""
    assert log_in(client, "ed@example.org") == 303
    r = client.get(f"/l/{LIST}/")
    assert r.status_code == 200 and "You are a member" in r.text
