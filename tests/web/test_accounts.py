"""Log-in, log-out and private archives over HTTP against the real app: only members (and site
admins) read a private list, a session ends when its owner logs out, forged cookies and CSRF
are refused, failed log-ins are limited, and `next` never leads off the site."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from moot.accounts import create_user
from moot.app import Moot
from moot.core.member import Member
from moot.core.parse import parse_message
from moot.storage import members as m
from moot.storage.lists import get_config
from moot.storage.store import Incoming, now_utc, sha256
from moot.web import accounts as web_accounts
from moot.web.app import create_app
from tests.helpers import make_message

LIST = "secret@example.org"
PASSWORD = "a long enough passphrase"


@pytest.fixture
def site(moot: Moot) -> Moot:
    return make_site(moot)


def make_site(moot: Moot) -> Moot:
    """A private list with one message, its member, an outsider and a site admin."""
    moot.store.create_list(LIST, archive_policy="private")
    raw = make_message("hidden@example.org", subject="Private matter")
    moot.store.add_messages(moot.archive.get_list(LIST).id,
                            [Incoming(raw, parse_message(raw), sha256(raw))])
    with moot.engine.begin() as conn:
        config = get_config(conn, LIST)
        m.add_member(conn, config.id, Member("mem@example.org"), now_utc())
        for email, admin in (("mem@example.org", False), ("out@example.org", False),
                             ("root@example.org", True)):
            create_user(conn, email, PASSWORD, admin=admin, now=now_utc())
    web_accounts._failures.clear()
    return moot


@pytest.fixture
def client(site: Moot) -> Iterator[TestClient]:
    with TestClient(create_app(site)) as c:
        yield c


def csrf(client: TestClient, path: str = "/login") -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert found
    return found.group(1)


def log_in(client: TestClient, email: str, password: str = PASSWORD, next: str = "/"
           ) -> int:  # noqa: A002
    r = client.post("/login", data={"email": email, "password": password,
                                    "csrf": csrf(client), "next": next},
                    follow_redirects=False)
    return r.status_code


def test_a_private_archive_is_for_members_and_admins_only(client: TestClient) -> None:
    page = f"/l/{LIST}/m/hidden@example.org/"
    for path in (f"/l/{LIST}/", page, page + "raw"):
        assert client.get(path).status_code == 404  # anonymous: it does not exist
    assert log_in(client, "out@example.org") == 303
    assert client.get(page).status_code == 404  # an account, but not a member
    client.cookies.clear()
    assert log_in(client, "mem@example.org") == 303
    r = client.get(page)
    assert r.status_code == 200 and "Private matter" in r.text
    assert r.headers["cache-control"] == "private, no-store"
    assert client.get(page + "raw").status_code == 200
    client.cookies.clear()
    assert log_in(client, "root@example.org") == 303
    assert client.get(f"/l/{LIST}/").status_code == 200


def test_logging_out_ends_the_session_everywhere(client: TestClient) -> None:
    assert log_in(client, "mem@example.org") == 303
    stolen = client.cookies.get(web_accounts.COOKIE)
    assert stolen
    r = client.post("/logout", data={"csrf": csrf(client)}, follow_redirects=False)
    assert r.status_code == 303
    client.cookies.set(web_accounts.COOKIE, stolen)  # the old cookie, kept by someone
    assert client.get(f"/l/{LIST}/").status_code == 404


def test_forged_cookies_and_forms_are_refused(client: TestClient) -> None:
    client.cookies.set(web_accounts.COOKIE, "made-up-token.0123456789abcdef0123456789abcdef")
    assert client.get(f"/l/{LIST}/").status_code == 404
    r = client.post("/login", data={"email": "mem@example.org", "password": PASSWORD,
                                    "csrf": "forged"})
    assert r.status_code == 403


def test_failed_log_ins_are_limited(client: TestClient) -> None:
    for _ in range(web_accounts.MAX_FAILURES):
        assert log_in(client, "mem@example.org", "wrong password!!") == 401
    r = client.post("/login", data={"email": "mem@example.org", "password": PASSWORD,
                                    "csrf": csrf(client)}, follow_redirects=False)
    assert r.status_code == 429  # even the right password, for a while
    assert "Too many failed log-ins" in r.text
    assert client.cookies.get(web_accounts.COOKIE) is None


def test_next_never_leads_off_the_site(client: TestClient) -> None:
    r = client.post("/login", data={"email": "mem@example.org", "password": PASSWORD,
                                    "csrf": csrf(client), "next": "//evil.example/x"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"


# -- sign-up and password reset --------------------------------------------------------------

def mail_to(site: Moot, who: str) -> list[str]:
    """The text of every message queued for ``who``, oldest first."""
    import email
    from email.policy import default

    from sqlalchemy import select

    from moot.storage import schema as s
    from moot.storage.codec import decode

    with site.engine.connect() as conn:
        rows = conn.execute(select(s.outbox.c.codec, s.outbox.c.data).join(s.outbox_recipients)
                            .where(s.outbox_recipients.c.rcpt == who)
                            .order_by(s.outbox.c.id)).all()
    return [email.message_from_bytes(decode(r.codec, r.data), policy=default).get_content()
            for r in rows]


def link(text: str, path: str) -> str:
    found = re.search(rf"http://[^/\s]+({re.escape(path)}\S+)", text)
    assert found, text
    return found.group(1)


def test_sign_up_confirm_by_mail_and_log_in(client: TestClient, site: Moot) -> None:
    r = client.post("/signup", data={"email": "New@Example.org", "password": PASSWORD,
                                     "csrf": csrf(client, "/signup")})
    assert r.status_code == 200 and "Check your mail" in r.text
    assert log_in(client, "new@example.org") == 401  # not confirmed yet
    [mail] = mail_to(site, "new@example.org")
    path = link(mail, "/signup/confirm/")
    assert "Confirm" in client.get(path).text  # a GET changes nothing
    assert log_in(client, "new@example.org") == 401
    token = csrf(client, path)
    assert "is confirmed" in client.post(path, data={"csrf": token}).text
    assert log_in(client, "new@example.org") == 303
    # A forged link does nothing.
    bad = path[:-3] + "abc"
    assert client.post(bad, data={"csrf": csrf(client, bad)}).status_code == 400


def test_sign_up_never_tells_whether_an_address_has_an_account(client: TestClient,
                                                               site: Moot) -> None:
    r = client.post("/signup", data={"email": "mem@example.org", "password": PASSWORD,
                                     "csrf": csrf(client, "/signup")})
    assert "Check your mail" in r.text
    [mail] = mail_to(site, "mem@example.org")
    assert "already has" in mail and "/signup/confirm/" not in mail
    weak = client.post("/signup", data={"email": "x@example.org", "password": "short",
                                        "csrf": csrf(client, "/signup")})
    assert weak.status_code == 400 and "at least 10 characters" in weak.text


def test_reset_a_password_once(client: TestClient, site: Moot) -> None:
    assert log_in(client, "mem@example.org") == 303
    old_session = client.cookies.get(web_accounts.COOKIE)
    client.cookies.clear()
    r = client.post("/reset", data={"email": "mem@example.org", "csrf": csrf(client, "/reset")})
    assert "If mem@example.org has an account" in r.text
    r = client.post("/reset", data={"email": "ghost@example.org",
                                    "csrf": csrf(client, "/reset")})
    assert "If ghost@example.org has an account" in r.text
    assert mail_to(site, "ghost@example.org") == []
    path = link(mail_to(site, "mem@example.org")[-1], "/reset/")
    new = "another long passphrase"
    r = client.post(path, data={"password": new, "csrf": csrf(client, path)})
    assert "Your password is set" in r.text
    # The link is spent, the old password and the old session are dead, the new one works.
    again = client.post(path, data={"password": "a third long passphrase",
                                    "csrf": csrf(client, path)})
    assert again.status_code == 400
    assert log_in(client, "mem@example.org", PASSWORD) == 401
    client.cookies.clear()
    client.cookies.set(web_accounts.COOKIE, old_session or "")
    assert client.get(f"/l/{LIST}/").status_code == 404
    client.cookies.clear()
    assert log_in(client, "mem@example.org", new) == 303


def test_every_page_says_who_is_logged_in(client: TestClient) -> None:
    assert '<a href="/login">Log in</a>' in client.get("/").text
    assert log_in(client, "mem@example.org") == 303
    page = client.get("/").text
    assert '<a href="/me">mem@example.org</a>' in page and "Log in</a>" not in page
