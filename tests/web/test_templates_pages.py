"""A list's own texts, through the real app: an owner words the welcome (and the other notices,
and the footer) on the web or over the API, previews it with sample values, and the list's
mail then says it, fields filled in; a text with an unknown field, or one that tries to reach
Python objects through a field, is refused and can leak nothing; only owners may do any of it."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from moot.accounts import create_user
from moot.app import Moot
from moot.authz import create_token
from moot.core import notices
from moot.core.address import parse_recipient
from moot.core.mailinglist import ListConfig
from moot.core.member import Member
from moot.inbound.service import Job
from moot.storage import audit
from moot.storage import schema as s
from moot.storage import templates as texts
from moot.storage.lists import get_config
from moot.storage.store import now_utc
from moot.web import accounts as web_accounts
from moot.web.app import create_app
from tests.helpers import make_message
from tests.test_moderation import mail_to, text
from tests.web.test_accounts import PASSWORD, log_in

LIST = "dev@example.org"
ADMIN = f"/l/{LIST}/admin/templates"
API = f"/api/v1/lists/{LIST}/templates"
PEOPLE = (("owner@example.org", "owner"), ("mod@example.org", "moderator"),
          ("mem@example.org", "member"))


@pytest.fixture
def site(moot: Moot) -> Moot:
    moot.store.create_list(LIST, display_name="Dev Team")
    with moot.engine.begin() as conn:
        c = get_config(conn, LIST)
        assert c is not None
        for email, role in PEOPLE:
            moot.membership.subscribe_now(conn, c, Member(email, role=role), now_utc(),
                                          welcome=False)
            create_user(conn, email, PASSWORD, admin=False, now=now_utc())
    web_accounts._failures.clear()
    return moot


@pytest.fixture
def client(site: Moot) -> Iterator[TestClient]:
    with TestClient(create_app(site)) as c:
        yield c


def config(moot: Moot) -> ListConfig:
    with moot.engine.connect() as conn:
        found = get_config(conn, LIST)
    assert found is not None
    return found


def form_token(client: TestClient, path: str) -> str:
    r = client.get(path)
    assert r.status_code == 200, r.text
    found = re.search(r'name="csrf" value="([^"]+)"', r.text)
    assert found
    return found.group(1)


def post(client: TestClient, name: str, action: str, body: str = "", **kw: object
         ) -> object:
    token = form_token(client, f"{ADMIN}/{name}")
    return client.post(f"{ADMIN}/{name}", data={"action": action, "body": body, "csrf": token},
                       **kw)


def kept(moot: Moot) -> dict[str, str]:
    with moot.engine.connect() as conn:
        return dict(conn.execute(select(s.list_templates.c.name, s.list_templates.c.body)).all())


def textarea(page: str) -> str:
    found = re.search(r'<textarea id="body"[^>]*>\n(.*?)</textarea>', page, re.S)
    assert found
    return found.group(1)


def only(msgs: list[EmailMessage]) -> str:
    assert len(msgs) == 1, [m["Subject"] for m in msgs]
    return text(msgs[0])


def tokens(moot: Moot) -> dict[str, dict[str, str]]:
    with moot.engine.begin() as conn:
        return {email: {"Authorization": f"Bearer {create_token(conn, uid, 't', now_utc())}"}
                for email, uid in conn.execute(select(s.users.c.email, s.users.c.id)).all()}


WELCOME = ("Hello {email}, and welcome to {list_name}!\r\n"
           "Our code of conduct: be kind.\r\n\r\n"
           "Leave at any time: {unsubscribe_url}\r\n")


def test_an_owner_words_the_welcome_and_new_members_get_it(client: TestClient,
                                                           site: Moot) -> None:
    assert log_in(client, "owner@example.org") == 303
    page = client.get(ADMIN)
    assert page.status_code == 200 and 'aria-current="page">Templates' in page.text
    assert re.search(r'welcome</a></th>\s*<td>Sent to a new member[^<]*</td>\s*<td>built-in',
                     page.text)
    edit = client.get(f"{ADMIN}/welcome").text
    assert textarea(edit).startswith("Welcome to the list {list_name} &lt;{list_address}&gt;.")
    assert "<code>{unsubscribe_url}</code>" in edit and "<code>{email}</code>" in edit
    r = post(client, "welcome", "save", WELCOME, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"{ADMIN}/welcome?done=saved"
    edit = client.get(r.headers["location"]).text
    assert "Saved: the list now uses this text." in edit
    assert textarea(edit) == WELCOME.replace("\r\n", "\n")  # kept with plain line ends
    assert re.search(r"welcome</a>.*?the list's own.*? UTC by owner@example.org",
                     client.get(ADMIN).text, re.S)
    with site.engine.begin() as conn:
        site.membership.subscribe_now(conn, config(site), Member("new@example.org"),
                                      now_utc())
    body = only(mail_to(site, "new@example.org", "Welcome"))
    assert body.startswith("Hello new@example.org, and welcome to Dev Team!\n"
                           "Our code of conduct: be kind.\n\n")
    url = site.membership.unsubscribe_url(config(site), "new@example.org")
    assert f"Leave at any time: {url}\n" in body and "{" not in body
    with site.engine.connect() as conn:
        entry = audit.entries(conn, config(site).id)[0]
    assert (entry["actor"], entry["action"], entry["target"]) == (
        "owner@example.org", "template:save", "welcome")


def test_preview_shows_the_filled_in_text_and_saves_nothing(client: TestClient,
                                                           site: Moot) -> None:
    assert log_in(client, "owner@example.org") == 303
    typed = "Bye {email}, from {list_name}. <b>Come back</b>: {join_address}"
    r = post(client, "goodbye", "preview", typed)
    assert r.status_code == 200
    shown = re.search(r'<pre class="preview">(.*?)</pre>', r.text, re.S)
    assert shown and shown.group(1) == (
        "Bye someone@example.org, from Dev Team. &lt;b&gt;Come back&lt;/b&gt;: "
        "dev-join@example.org\n")
    assert textarea(r.text) == typed.replace("<", "&lt;").replace(">", "&gt;")  # kept typed
    assert kept(site) == {}
    assert "The list uses the built-in text" in client.get(f"{ADMIN}/goodbye").text
    with site.engine.begin() as conn:
        site.membership.unsubscribe_now(conn, config(site), "mem@example.org", now_utc())
    assert "has left the list" in only(mail_to(site, "mem@example.org", "You have left"))


ATTACKS = ("{email.__class__.__mro__}", "{email.__class__}", "{0}", "{email!r}",
           "{email:>40}", "{list_name[0]}", "{ email }", "{}")


@pytest.mark.parametrize("field", ATTACKS)
def test_fields_that_are_not_the_templates_own_are_refused(client: TestClient, site: Moot,
                                                           field: str) -> None:
    assert log_in(client, "owner@example.org") == 303
    for action in ("save", "preview"):
        r = post(client, "welcome", action, f"Hi {field}, welcome.\n")
        assert r.status_code == 400
        page = html.unescape(r.text)
        alert = page.split('role="alert">')[1].split("</p>")[0]
        assert f"unknown field {field}" in alert and "{unsubscribe_url}" in alert
        assert "<class " not in page and "someone@example.org" not in page  # nothing ran
        assert '<pre class="preview">' not in r.text
    assert kept(site) == {}


def test_filling_in_never_evaluates_anything() -> None:
    """Whatever reaches the builders (a text kept before a check existed, say), a field is
    only ever looked up by its whole name."""
    c = ListConfig(LIST, display_name="Dev")
    when = datetime(2026, 3, 2, tzinfo=UTC)
    raw = notices.goodbye(c, "ann@example.org", message_id="x@example.org", date=when,
                          text="{email.__class__.__mro__} {email.__init__.__globals__} "
                               "{{email}} {email}\n")
    msg = message_from_bytes(raw, policy=default)
    assert isinstance(msg, EmailMessage)
    assert text(msg) == ("{email.__class__.__mro__} {email.__init__.__globals__} {email} "
                    "ann@example.org\n")


@pytest.mark.parametrize(("name", "body", "says"), [
    ("welcome", "", "empty text"),
    ("welcome", "Hi {email}\nunsubscribe\n", "mail command"),
    ("welcome", "x" * (texts.MAX_CHARS + 1), "at most 20,000"),
    ("welcome", "Hi\x07 there", "control character"),
    ("confirm_subscribe", "Reply to confirm, {email}.", "must use {confirm_url}"),
    ("footer", "Sent to {email}", "unknown field {email}"),
])
def test_unusable_texts_are_refused_with_the_reason(client: TestClient, site: Moot,
                                                    name: str, body: str, says: str) -> None:
    assert log_in(client, "owner@example.org") == 303
    r = post(client, name, "save", body)
    assert r.status_code == 400 and says in r.text and "Not saved" in r.text
    assert kept(site) == {} and config(site).footer == ""


def test_restoring_the_built_in_text(client: TestClient, site: Moot) -> None:
    assert log_in(client, "owner@example.org") == 303
    assert post(client, "goodbye", "save", "So long, {email}.",
                follow_redirects=False).status_code == 303
    assert kept(site) == {"goodbye": "So long, {email}."}
    r = post(client, "goodbye", "reset", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("?done=reset")
    page = client.get(r.headers["location"]).text
    assert "The built-in text is back in use." in page
    assert textarea(page) == texts.KINDS["goodbye"].builtin.replace("<", "&lt;").replace(
        ">", "&gt;")
    assert kept(site) == {}
    with site.engine.begin() as conn:
        site.membership.unsubscribe_now(conn, config(site), "mem@example.org", now_utc())
    body = only(mail_to(site, "mem@example.org", "You have left"))
    assert "So long" not in body and "has left the list Dev Team" in body
    with site.engine.connect() as conn:
        actions = [e["action"] for e in audit.entries(conn, config(site).id)]
    assert actions[:2] == ["template:reset", "template:save"]


def test_the_footer_page_edits_the_lists_footer_setting(client: TestClient,
                                                        site: Moot) -> None:
    assert log_in(client, "owner@example.org") == 303
    body = "-- \r\nDev Team. Leave: {unsubscribe_url}"
    r = post(client, "footer", "preview", body)
    assert "Leave: http://" in r.text and "/unsubscribe/SAMPLE" in r.text
    assert config(site).footer == ""
    assert post(client, "footer", "save", body, follow_redirects=False).status_code == 303
    assert config(site).footer == "-- \nDev Team. Leave: {unsubscribe_url}"
    assert re.search(r"footer</a>.*?the list's own.*? by owner@example.org",
                     client.get(ADMIN).text, re.S)
    assert post(client, "footer", "reset", follow_redirects=False).status_code == 303
    assert config(site).footer == ""
    assert "The list adds no footer." in client.get(f"{ADMIN}/footer").text


def test_hold_rejection_and_confirmation_texts_are_used(client: TestClient,
                                                       site: Moot) -> None:
    owner = tokens(site)["owner@example.org"]
    for name, body in (
            ("held_for_moderation", "Dear {email}: \"{subject}\" waits.\n{reasons}\n{withdraw}"),
            ("rejected", "Not sent: {subject}. Because: {reason}"),
            ("confirm_subscribe", "To join {list_address}, open {confirm_url} by {expires}.")):
        r = client.put(f"{API}/{name}", json={"body": body}, headers=owner)
        assert r.status_code == 200 and r.json()["customised"] is True, r.text
    raw = make_message("spam@example.net", sender="Eve <eve@example.net>",
                       subject="Cheap watches").replace(b"list@example.org", LIST.encode())
    target = parse_recipient(LIST, {LIST}.__contains__)
    assert target is not None
    with site.engine.begin() as conn:
        assert site.inbound.handle(conn, Job("eve@example.net", target, raw)).status == "held"
    body = only(mail_to(site, "eve@example.net", "waits for a moderator"))
    assert body.startswith('Dear eve@example.net: "Cheap watches" waits.\n  - ')
    assert "reply to this message with the word withdraw" in body
    with site.engine.connect() as conn:
        hold_id = conn.execute(select(s.held.c.id)).scalar_one()
    r = client.post(f"/api/v1/lists/{LIST}/held/{hold_id}",
                    json={"decision": "reject", "reason": "off topic"}, headers=owner)
    assert r.status_code == 200, r.text
    assert only(mail_to(site, "eve@example.net", "was not sent")) == (
        "Not sent: Cheap watches. Because: off topic\n")
    r = client.post(f"/api/v1/lists/{LIST}/subscribe", json={"email": "joe@example.net"})
    assert r.status_code == 202
    body = only(mail_to(site, "joe@example.net", "confirm"))
    assert re.fullmatch(r"To join dev@example\.org, open http://\S+/confirm/\S+ by "
                        r"\d{4}-\d\d-\d\d \d\d:\d\d UTC\.\n", body), body


def test_the_templates_api(client: TestClient, site: Moot) -> None:
    owner = tokens(site)["owner@example.org"]
    r = client.get(API, headers=owner)
    assert r.status_code == 200
    listed = r.json()["templates"]
    assert [t["name"] for t in listed] == list(texts.KINDS)
    assert all(not t["customised"] and "body" not in t for t in listed)
    r = client.get(f"{API}/welcome", headers=owner)
    assert r.json()["body"] == texts.KINDS["welcome"].builtin
    assert "unsubscribe_url" in r.json()["fields"]
    r = client.post(f"{API}/welcome/preview", json={"body": "Hi {email} at {list_name}"},
                    headers=owner)
    assert r.status_code == 200 and r.json() == {"text": "Hi someone@example.org at Dev Team\n"}
    assert kept(site) == {}
    r = client.put(f"{API}/welcome", json={"body": "Hi {email.__class__}"}, headers=owner)
    assert r.status_code == 400 and "{unsubscribe_url}" in r.json()["error"]
    r = client.put(f"{API}/welcome", json={"text": "Hi"}, headers=owner)
    assert r.status_code == 400 and "body" in r.json()["error"]
    r = client.put(f"{API}/welcome", json={"body": "Hi {email}"}, headers=owner)
    doc = r.json()
    assert r.status_code == 200 and doc["customised"] and doc["body"] == "Hi {email}"
    assert doc["updated_by"] == "owner@example.org" and doc["updated_at"].endswith("Z")
    r = client.delete(f"{API}/welcome", headers=owner)
    assert r.status_code == 200 and not r.json()["customised"] and kept(site) == {}
    r = client.get(f"{API}/farewell", headers=owner)
    assert r.status_code == 404 and "welcome" in r.json()["error"]


def test_only_owners_may_see_or_change_the_texts(client: TestClient, site: Moot) -> None:
    r = client.get(f"{ADMIN}/welcome", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=/l/dev@example.org/admin/templates/welcome"
    assert client.get(ADMIN, follow_redirects=False).status_code == 303
    for who in ("mem@example.org", "mod@example.org"):
        client.cookies.clear()
        assert log_in(client, who) == 303
        for path in (ADMIN, f"{ADMIN}/welcome"):
            r = client.get(path)
            assert r.status_code == 403 and "owner" in r.text
        token = form_token(client, f"/l/{LIST}/subscribe")
        r = client.post(f"{ADMIN}/welcome",
                        data={"action": "save", "body": "Pwned {email}", "csrf": token})
        assert r.status_code == 403
    keys = tokens(site)
    for who in ("mem@example.org", "mod@example.org"):
        assert client.get(API, headers=keys[who]).status_code == 403
        r = client.put(f"{API}/welcome", json={"body": "Pwned"}, headers=keys[who])
        assert r.status_code == 403 and "owner" in r.json()["error"]
    client.cookies.clear()
    assert client.get(API).status_code == 401
    client.cookies.clear()
    assert log_in(client, "owner@example.org") == 303
    r = client.post(f"{ADMIN}/welcome", data={"action": "save", "body": "Pwned {email}"})
    assert r.status_code == 403  # no form token
    r = client.put(f"{API}/welcome", json={"body": "Pwned {email}"})
    assert r.status_code == 403  # a session needs X-CSRF-Token on the API
    assert kept(site) == {}
    assert client.get(f"/l/{LIST}/admin/templates/farewell").status_code == 404
