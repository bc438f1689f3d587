"""A member's own pages and API over HTTP against the real app: linking an address by a mailed
link (bound to one account), the lists of every confirmed address with their delivery
options, leaving and joining at once, the posts page, API tokens, and the refusals (nobody
logged in, another account's link, a foreign address, a closed list, a ban, a missing form
token)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from moot.accounts import create_user
from moot.app import Moot
from moot.core.member import Member
from moot.core.parse import parse_message
from moot.expulsion import ban
from moot.storage import members as m
from moot.storage import schema as s
from moot.storage.lists import get_config, update_settings
from moot.storage.store import Incoming, now_utc, sha256
from moot.web import accounts as web_accounts
from moot.web.app import create_app
from tests.helpers import make_message
from tests.web.test_accounts import PASSWORD, csrf, link, log_in, mail_to

LIST = "dev@example.org"
CLOSED = "closed@example.org"
SECRET = "secret@example.org"


@pytest.fixture
def site(moot: Moot) -> Moot:
    moot.store.create_list(LIST)
    moot.store.create_list(CLOSED)
    moot.store.create_list(SECRET, archive_policy="private")
    with moot.engine.begin() as conn:
        update_settings(conn, CLOSED, {"subscriptions": "closed"})
        dev = get_config(conn, LIST)
        assert dev is not None
        # ann's work address is on the list before she links it to her account.
        m.add_member(conn, dev.id, Member("ann-work@example.org"), now_utc())
        m.add_member(conn, dev.id, Member("ann@example.org", role="owner"), now_utc())
        for email in ("ann@example.org", "bob@example.org"):
            create_user(conn, email, PASSWORD, admin=False, now=now_utc())
    web_accounts._failures.clear()
    return moot


@pytest.fixture
def client(site: Moot) -> Iterator[TestClient]:
    with TestClient(create_app(site)) as c:
        yield c


def member(site: Moot, address: str, email: str) -> m.Member | None:
    with site.engine.connect() as conn:
        config = get_config(conn, address)
        assert config is not None
        return m.get_member(conn, config.id, email)


def user_id(site: Moot, email: str) -> int:
    with site.engine.connect() as conn:
        return int(conn.execute(select(s.users.c.id).where(s.users.c.email == email))
                   .scalar_one())


def ask_to_link(client: TestClient, email: str) -> str:
    """Ask on /me to link ``email``; the text of the page the answer leads to."""
    r = client.post("/me/addresses", data={"email": email, "csrf": csrf(client, "/me")})
    assert r.status_code == 200, r.text  # after the 303 to /me
    return r.text


def test_link_an_address_confirm_it_and_see_its_lists(client: TestClient, site: Moot) -> None:
    assert log_in(client, "ann@example.org") == 303
    page = client.get("/me").text
    assert "ann-work@example.org" not in page
    assert "A message with a link is on its way" in ask_to_link(client, "Ann-Work@Example.org")
    page = client.get("/me").text
    assert "ann-work@example.org" in page and "waiting: follow the link" in page
    [mail] = mail_to(site, "ann-work@example.org")
    path = link(mail, "/me/addresses/confirm/")
    form = client.get(path)  # a GET changes nothing: it shows a button
    assert form.status_code == 200 and "Add ann-work@example.org to your account?" in form.text
    assert "waiting: follow the link" in client.get("/me").text
    done = client.post(path, data={"csrf": csrf(client, path)})
    assert done.status_code == 200 and "is now an address of your account" in done.text
    page = client.get("/me").text
    assert "waiting" not in page
    # Its membership shows among her lists, with a form to change its delivery.
    rows = re.findall(r'<tr>\s*<th scope="row"><a href="/l/dev@example.org/">.*?</tr>', page,
                      re.S)
    assert len(rows) == 2  # her log-in address and the new one, each with its forms
    assert any('<td>ann-work@example.org</td>' in r and '<td>member</td>' in r
               and 'name="address" value="ann-work@example.org"' in r for r in rows)
    api = client.get("/api/v1/me").json()
    assert {"email": "ann-work@example.org", "confirmed": True} in api["addresses"]
    assert {"list": LIST, "address": "ann-work@example.org", "role": "member",
            "delivery": "regular", "nomail": False} in api["lists"]
    assert {"list": LIST, "address": "ann@example.org", "role": "owner",
            "delivery": "regular", "nomail": False} in api["lists"]
    # A link works once the address is linked, and says so the second time.
    again = client.post(path, data={"csrf": csrf(client, path)})
    assert again.status_code == 200 and "is now an address" in again.text


def test_a_link_is_for_its_own_account_and_address_only(client: TestClient,
                                                        site: Moot) -> None:
    assert log_in(client, "ann@example.org") == 303
    ask_to_link(client, "shared@example.org")
    path = link(mail_to(site, "shared@example.org")[-1], "/me/addresses/confirm/")
    token = path.rsplit("/", 1)[1]
    client.cookies.clear()
    assert log_in(client, "bob@example.org") == 303
    # Bob holds ann's link: it will not give him the address.
    r = client.post(path, data={"csrf": csrf(client, path)})
    assert r.status_code == 403 and "made for another account" in r.text
    # Nor will the link with his account's id written into it, or another address.
    uid, rest = token.split(".", 1)
    forged = f"/me/addresses/confirm/{user_id(site, 'bob@example.org')}.{rest}"
    r = client.post(forged, data={"csrf": csrf(client, "/me")})
    assert r.status_code == 400 and "not valid" in r.text
    head, _, _ = token.rpartition(".")
    other = f"/me/addresses/confirm/{head}.Ym9iQGV4YW1wbGUub3Jn"  # base64 of another address
    assert client.post(other, data={"csrf": csrf(client, "/me")}).status_code == 400
    assert "shared@example.org" not in client.get("/me").text
    # Followed by someone not logged in (the address's owner, on a phone): it goes to ann.
    client.cookies.clear()
    r = client.post(path, data={"csrf": csrf(client, path)})
    assert r.status_code == 200 and "is now an address" in r.text
    assert log_in(client, "bob@example.org") == 303
    # An address another account proved is refused, without saying whose.
    r = client.post("/me/addresses", data={"email": "shared@example.org",
                                           "csrf": csrf(client, "/me")})
    assert r.status_code == 400 and "belongs to another account" in r.text
    assert "ann@example.org" not in r.text
    assert mail_to(site, "shared@example.org")[1:] == []


def test_an_unproved_claim_does_not_block_the_owner(client: TestClient, site: Moot) -> None:
    assert log_in(client, "bob@example.org") == 303
    ask_to_link(client, "contested@example.org")  # bob asks, never proves it
    client.cookies.clear()
    assert log_in(client, "ann@example.org") == 303
    ask_to_link(client, "contested@example.org")
    mails = mail_to(site, "contested@example.org")
    assert len(mails) == 2
    ann_link = link(mails[1], "/me/addresses/confirm/")
    r = client.post(ann_link, data={"csrf": csrf(client, ann_link)})
    assert "is now an address" in r.text
    bob_link = link(mails[0], "/me/addresses/confirm/")
    client.cookies.clear()
    r = client.post(bob_link, data={"csrf": csrf(client, bob_link)})
    assert r.status_code == 409 and "belongs to another account" in r.text


def test_remove_an_address_but_never_the_log_in_one(client: TestClient, site: Moot) -> None:
    assert log_in(client, "ann@example.org") == 303
    ask_to_link(client, "old@example.org")
    r = client.post("/me/addresses/remove", data={"email": "ann@example.org",
                                                  "csrf": csrf(client, "/me")})
    assert r.status_code == 400 and "you log in with ann@example.org" in r.text
    r = client.post("/me/addresses/remove", data={"email": "old@example.org",
                                                  "csrf": csrf(client, "/me")})
    assert r.status_code == 200 and "no longer on your account" in r.text
    assert "old@example.org" not in client.get("/me").text
    # Its link no longer works.
    path = link(mail_to(site, "old@example.org")[-1], "/me/addresses/confirm/")
    r = client.post(path, data={"csrf": csrf(client, path)})
    assert r.status_code == 409 and "no longer waiting" in r.text


def test_delivery_options_and_leaving(client: TestClient, site: Moot) -> None:
    assert log_in(client, "ann@example.org") == 303
    for mode, delivery, nomail in (("digest", "digest", False), ("nomail", "digest", True),
                                   ("regular", "regular", False)):
        r = client.post(f"/me/lists/{LIST}", data={"address": "ann@example.org", "mode": mode,
                                                   "csrf": csrf(client, "/me")})
        assert r.status_code == 200 and "Your delivery option is saved" in r.text
        x = member(site, LIST, "ann@example.org")
        assert x is not None and (x.delivery, x.nomail) == (delivery, nomail)
        assert re.search(rf'<option value="{mode}" selected>', r.text)
    # Another person's address (not proved by this account) is refused.
    r = client.post(f"/me/lists/{LIST}", data={"address": "ann-work@example.org",
                                               "mode": "nomail", "csrf": csrf(client, "/me")})
    assert r.status_code == 403 and "not a confirmed address of your account" in r.text
    assert member(site, LIST, "ann-work@example.org").nomail is False  # type: ignore[union-attr]
    r = client.post(f"/me/lists/{LIST}/leave", data={"address": "ann-work@example.org",
                                                     "csrf": csrf(client, "/me")})
    assert r.status_code == 403 and member(site, LIST, "ann-work@example.org") is not None
    r = client.post(f"/me/lists/{LIST}/leave", data={"address": "ann@example.org",
                                                     "csrf": csrf(client, "/me")})
    assert r.status_code == 200 and "You have left the list" in r.text
    assert member(site, LIST, "ann@example.org") is None
    assert any("unsubscribed" in t.lower() or "left" in t.lower() or "goodbye" in t.lower()
               for t in mail_to(site, "ann@example.org"))
    r = client.post(f"/me/lists/{LIST}/leave", data={"address": "ann@example.org",
                                                     "csrf": csrf(client, "/me")})
    assert r.status_code == 404 and "is not a member" in r.text


def test_join_an_open_list_at_once_but_not_a_closed_one_nor_when_banned(
        client: TestClient, site: Moot) -> None:
    assert log_in(client, "bob@example.org") == 303
    client.cookies.delete("moot_csrf")  # a browser restarted: the session outlives it
    page = client.get(f"/l/{LIST}/")
    assert 'action="/l/dev@example.org/join"' in page.text
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token and client.cookies.get("moot_csrf") == token.group(1)  # the page set it
    r = client.post(f"/l/{LIST}/join", data={"address": "bob@example.org", "mode": "digest",
                                             "csrf": token.group(1)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/me?done=joined"
    x = member(site, LIST, "bob@example.org")
    assert x is not None and x.delivery == "digest" and x.role == "member"
    assert mail_to(site, "bob@example.org")  # the welcome message
    page = client.get(f"/l/{LIST}/").text
    assert "You are a member (bob@example.org: member)" in page and "/join" not in page
    # A closed list: ask its owners.
    r = client.post(f"/l/{CLOSED}/join", data={"address": "bob@example.org",
                                               "csrf": csrf(client, "/me")})
    assert r.status_code == 403 and "closed-owner@example.org" in r.text
    assert member(site, CLOSED, "bob@example.org") is None
    assert "closed-owner@example.org" in client.get(f"/l/{CLOSED}/").text
    # Banned: may not join.
    with site.engine.begin() as conn:
        ban(conn, get_config(conn, SECRET), "bob@example.org", reason="spam", by="test",
            now=now_utc())
    r = client.post(f"/l/{SECRET}/join", data={"address": "bob@example.org",
                                               "csrf": csrf(client, "/me")})
    assert r.status_code == 403 and "may not join" in r.text and "secret-owner@" in r.text
    assert member(site, SECRET, "bob@example.org") is None
    # Someone else's address.
    r = client.post(f"/l/{CLOSED}/join", data={"address": "ann@example.org",
                                               "csrf": csrf(client, "/me")})
    assert r.status_code == 403 and member(site, CLOSED, "ann@example.org") is None


def add_post(site: Moot, address: str, n: int, sender: str) -> None:
    lst = site.archive.get_list(address)
    raws = [make_message(f"p{n}-{i}@{address}", subject=f"Post {i} on {address}",
                         sender=f"Ann <{sender}>",
                         date=f"Mon, {1 + i // 24:02d} Mar 2026 {i % 24:02d}:00:00 +0000")
            for i in range(n)]
    site.store.add_messages(lst.id, [Incoming(r, parse_message(r), sha256(r)) for r in raws])


def test_my_posts_are_those_i_may_read_newest_first(client: TestClient, site: Moot) -> None:
    add_post(site, LIST, 51, "ann@example.org")
    add_post(site, SECRET, 1, "ann@example.org")  # a private list she is not on
    add_post(site, CLOSED, 1, "someone@example.org")
    assert log_in(client, "ann@example.org") == 303
    page = client.get("/me/posts").text
    assert "51 posts" in page
    assert page.index("Post 50 on dev@example.org") < page.index("Post 49 on dev@example.org")
    assert "/l/dev@example.org/m/p51-50@dev@example.org/" in page
    assert "secret@example.org" not in page and "someone" not in page
    assert page.count("<th scope=\"row\">") == 50
    second = client.get("/me/posts?page=2").text
    assert "Post 0 on dev@example.org" in second and "Post 1 on" not in second
    api = client.get("/api/v1/me/posts?limit=50").json()
    assert api["total"] == 51 and len(api["posts"]) == 50
    assert api["posts"][0]["subject"] == "Post 50 on dev@example.org"
    assert api["next"] == "/api/v1/me/posts?limit=50&offset=50"
    with site.engine.begin() as conn:  # now she is a member of the private list
        m.add_member(conn, get_config(conn, SECRET).id,  # type: ignore[union-attr]
                     Member("ann@example.org"), now_utc())
    assert "52 posts" in client.get("/me/posts").text


def test_nobody_logged_in_is_sent_to_log_in(client: TestClient) -> None:
    for path in ("/me", "/me/posts", f"/l/{LIST}/post"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
        assert unquote(r.headers["location"].split("next=")[1]) == path
    assert "You and this list" not in client.get(f"/l/{LIST}/").text
    for method, url in (("get", "/api/v1/me"), ("get", "/api/v1/me/posts"),
                        ("post", "/api/v1/me/tokens"), ("patch", f"/api/v1/me/lists/{LIST}"),
                        ("post", f"/api/v1/lists/{LIST}/join")):
        r = client.request(method, url, json={"name": "x", "address": "a@example.org"})
        assert r.status_code == 401 and "log in" in r.json()["error"]


def test_forms_and_api_calls_need_their_csrf_token(client: TestClient, site: Moot) -> None:
    assert log_in(client, "ann@example.org") == 303
    for path, data in (("/me/addresses", {"email": "x@example.org"}),
                       (f"/me/lists/{LIST}", {"address": "ann@example.org", "mode": "nomail"}),
                       (f"/me/lists/{LIST}/leave", {"address": "ann@example.org"}),
                       ("/me/tokens", {"name": "x"}),
                       (f"/l/{CLOSED}/join", {"address": "ann@example.org"})):
        for token in ("", "forged-token-forged-token"):
            r = client.post(path, data={**data, "csrf": token})
            assert r.status_code == 403 and "Reload the page" in r.text
    assert mail_to(site, "x@example.org") == []
    assert member(site, LIST, "ann@example.org").nomail is False  # type: ignore[union-attr]
    # The API under a browser's session: the header, or nothing changes.
    r = client.patch(f"/api/v1/me/lists/{LIST}", json={"address": "ann@example.org",
                                                       "mode": "nomail"})
    assert r.status_code == 403 and "X-CSRF-Token" in r.json()["error"]
    r = client.patch(f"/api/v1/me/lists/{LIST}", json={"address": "ann@example.org",
                                                       "mode": "nomail"},
                     headers={"X-CSRF-Token": client.cookies.get("moot_csrf") or ""})
    assert r.status_code == 200 and r.json()["nomail"] is True


def test_api_tokens_made_shown_once_used_and_revoked(client: TestClient, site: Moot) -> None:
    assert log_in(client, "ann@example.org") == 303
    r = client.post("/me/tokens", data={"name": "backup script", "csrf": csrf(client, "/me")})
    assert r.status_code == 201 and "Copy it now" in r.text
    found = re.search(r'<code class="token">(moot_[^<]+)</code>', r.text)
    assert found
    token = found.group(1)
    page = client.get("/me").text
    assert "backup script" in page and token not in page  # shown once only
    client.cookies.clear()
    auth = {"Authorization": f"Bearer {token}"}
    r = client.get("/api/v1/me", headers=auth)
    assert r.status_code == 200 and r.json()["email"] == "ann@example.org"
    # The API makes and revokes tokens too (a script needs no CSRF token).
    r = client.post("/api/v1/me/tokens", json={"name": "ci"}, headers=auth)
    assert r.status_code == 201 and r.json()["token"].startswith("moot_")
    second, second_id = r.json()["token"], r.json()["id"]
    names = [t["name"] for t in client.get("/api/v1/me/tokens", headers=auth).json()["tokens"]]
    assert names == ["backup script", "ci"]
    assert client.delete(f"/api/v1/me/tokens/{second_id}", headers=auth).status_code == 200
    r = client.get("/api/v1/me", headers={"Authorization": f"Bearer {second}"})
    assert r.status_code == 401 and "not valid" in r.json()["error"]
    # Revoked on the page: the first one stops working too.
    assert log_in(client, "ann@example.org") == 303
    first_id = re.search(r'action="/me/tokens/(\d+)/revoke"', client.get("/me").text)
    assert first_id
    r = client.post(f"/me/tokens/{first_id.group(1)}/revoke", data={"csrf": csrf(client, "/me")})
    assert r.status_code == 200 and "The token is revoked" in r.text
    client.cookies.clear()
    assert client.get("/api/v1/me", headers=auth).status_code == 401
    # Another account cannot revoke someone's token.
    assert log_in(client, "bob@example.org") == 303
    r = client.post(f"/me/tokens/{first_id.group(1)}/revoke", data={"csrf": csrf(client, "/me")})
    assert r.status_code == 404


def test_the_api_for_addresses_lists_and_joining(client: TestClient, site: Moot) -> None:
    assert log_in(client, "bob@example.org") == 303
    r = client.post("/me/tokens", data={"name": "t", "csrf": csrf(client, "/me")})
    token = re.search(r'<code class="token">(moot_[^<]+)</code>', r.text).group(1)  # type: ignore[union-attr]
    client.cookies.clear()
    auth = {"Authorization": f"Bearer {token}"}
    r = client.post("/api/v1/me/addresses", json={"email": "Bob2@example.org"}, headers=auth)
    assert r.status_code == 202 and r.json() == {"email": "bob2@example.org",
                                                 "status": "confirmation sent"}
    assert link(mail_to(site, "bob2@example.org")[0], "/me/addresses/confirm/")
    assert {"email": "bob2@example.org", "confirmed": False} in client.get(
        "/api/v1/me", headers=auth).json()["addresses"]
    r = client.post("/api/v1/me/addresses", json={"email": "ann@example.org"}, headers=auth)
    assert r.status_code == 400 and "belongs to another account" in r.json()["error"]
    assert client.post("/api/v1/me/addresses", json=["x"], headers=auth).status_code == 400
    # Join, change delivery, leave.
    r = client.post(f"/api/v1/lists/{LIST}/join", json={"address": "bob@example.org"},
                    headers=auth)
    assert r.status_code == 201 and r.json() == {"list": LIST, "address": "bob@example.org",
                                                 "status": "subscribed"}
    r = client.post(f"/api/v1/lists/{LIST}/join", json={"address": "bob@example.org"},
                    headers=auth)
    assert r.status_code == 200 and r.json()["status"] == "already subscribed"
    r = client.post(f"/api/v1/lists/{CLOSED}/join", json={"address": "bob@example.org"},
                    headers=auth)
    assert r.status_code == 403 and "closed-owner@example.org" in r.json()["error"]
    r = client.post(f"/api/v1/lists/{LIST}/join", json={"address": "bob2@example.org"},
                    headers=auth)
    assert r.status_code == 403  # not confirmed yet
    r = client.patch(f"/api/v1/me/lists/{LIST}", json={"address": "bob@example.org",
                                                       "mode": "digest"}, headers=auth)
    assert r.status_code == 200 and r.json()["delivery"] == "digest"
    assert member(site, LIST, "bob@example.org").delivery == "digest"  # type: ignore[union-attr]
    r = client.patch(f"/api/v1/me/lists/{LIST}", json={"address": "bob@example.org",
                                                       "mode": "weekly"}, headers=auth)
    assert r.status_code == 400 and "regular" in r.json()["error"]
    r = client.delete(f"/api/v1/me/lists/{LIST}?address=ann@example.org", headers=auth)
    assert r.status_code == 403 and member(site, LIST, "ann@example.org") is not None
    r = client.delete(f"/api/v1/me/lists/{LIST}", headers=auth)
    assert r.status_code == 400 and "?address=" in r.json()["error"]
    r = client.delete(f"/api/v1/me/lists/{LIST}?address=bob@example.org", headers=auth)
    assert r.status_code == 200 and r.json()["status"] == "unsubscribed"
    assert member(site, LIST, "bob@example.org") is None
    assert client.delete("/api/v1/me/lists/nolist@example.org?address=bob@example.org",
                         headers=auth).status_code == 404
    r = client.delete("/api/v1/me/addresses/bob2@example.org", headers=auth)
    assert r.status_code == 200
    r = client.delete("/api/v1/me/addresses/bob@example.org", headers=auth)
    assert r.status_code == 400 and "you log in with" in r.json()["error"]


def test_the_openapi_document_describes_the_routes(client: TestClient) -> None:
    doc = client.get("/api/v1/openapi.json").json()
    for path, method in (("/me", "get"), ("/me/addresses", "post"),
                         ("/me/lists/{list_address}", "patch"),
                         ("/me/lists/{list_address}", "delete"),
                         ("/lists/{address}/join", "post"), ("/me/posts", "get"),
                         ("/lists/{address}/posts", "post"), ("/me/tokens", "get"),
                         ("/me/tokens", "post"), ("/me/tokens/{token_id}", "delete")):
        op = doc["paths"][path][method]
        assert op.get("description"), (path, method)
    body = doc["paths"]["/lists/{address}/posts"]["post"]["requestBody"]
    assert "from" in body["content"]["application/json"]["schema"]["properties"]
