"""Who may call what, for every route the web app has: each route is classified here (a new
route that is not fails the first test), and each administrative one is called by nobody, a
plain member, a moderator, the owner of another list and the list's owner, over the API with
tokens and on the pages with sessions.  Each gets only what it may: nobody is sent to log in
(401 from the API), the others who lack the role get 403, and those who hold it get past the
check (whatever the call then answers: 200, 400, 404...)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.routing import Mount

from moot.accounts import create_user
from moot.app import Moot, build, init_data_dir
from moot.authz import create_token
from moot.config import load_settings
from moot.core.member import Member
from moot.storage.lists import get_config
from moot.storage.store import now_utc
from moot.web.app import create_app

LIST, OTHER = "dev@example.org", "other@example.org"
PASSWORD = "a long enough passphrase"
PEOPLE = {"member": "mem@example.org", "moderator": "mod@example.org",
          "other-owner": "oth@example.org", "owner": "own@example.org",
          "admin": "root@example.org"}
RANKS = {"member": 1, "moderator": 3, "other-owner": 1, "owner": 4, "admin": 5}
NEED_RANK = {"editor": 2, "moderator": 3, "owner": 4, "admin": 5}

# Routes anyone may use (reading public archives, joining by mail, logging in...).  Private
# archives are covered by tests/web/test_private_reading.py.
PUBLIC = {
    "GET /", "GET /healthz", "GET /metrics", "GET /search", "GET /login", "POST /login",
    "POST /logout", "GET /signup", "POST /signup", "GET /signup/confirm/{token}",
    "POST /signup/confirm/{token}", "GET /reset", "POST /reset", "GET /reset/{token}",
    "POST /reset/{token}", "GET /confirm/{token}", "POST /confirm/{token}",
    "GET /l/{address}/", "GET /l/{address}/atom.xml", "GET /l/{address}/subscribe",
    "POST /l/{address}/subscribe", "POST /l/{address}/leave",
    "GET /l/{address}/unsubscribe/{token}", "POST /l/{address}/unsubscribe/{token}",
    "GET /l/{address}/{year}/{month}/", "GET /l/{address}/{year}/{month}/mbox",
    "GET /l/{address}/m/{msgid}/", "GET /l/{address}/m/{msgid}/raw",
    "GET /l/{address}/m/{msgid}/a/{position}/{filename}", "GET /l/{address}/t/{msgid}/",
    "GET /l/{address}/t/{msgid}/mbox",
    # The signed link in a moderator's notice is the proof (tests/web/test_moderation_pages).
    "GET /l/{address}/moderate/{hold_id}/{token}", "POST /l/{address}/moderate/{hold_id}/{token}",
    "GET /api/v1/openapi.json", "GET /api/v1/lists", "GET /api/v1/search",
    "GET /api/v1/lists/{address}/threads/{message_id}", "POST /api/v1/lists/{address}/subscribe",
    "GET /api/v1/messages/{message_id}/links",
    # Edited issues: for whoever may read the publishing list (tests/web/test_issues_pages).
    "GET /l/{address}/issues/", "GET /l/{address}/issues/atom.xml",
    "GET /l/{address}/issues/{number}/", "GET /l/{address}/issues/{number}/v/{version}/",
    "GET /l/{address}/issues/{number}/print", "GET /api/v1/lists/{address}/issues",
    "GET /api/v1/lists/{address}/issues/{number}",
}
# Routes for anyone logged in, about themselves (tests/web/test_me.py covers what they do).
SIGNED_IN = {
    "GET /me", "GET /me/posts", "POST /me/addresses", "GET /me/addresses/confirm/{token}",
    "POST /me/addresses/confirm/{token}", "POST /me/addresses/remove",
    "POST /me/lists/{list_address}", "POST /me/lists/{list_address}/leave", "POST /me/tokens",
    "POST /me/tokens/{token_id}/revoke", "GET /l/{list_address}/post",
    "POST /l/{list_address}/post", "POST /l/{list_address}/join",
    "GET /api/v1/me", "GET /api/v1/me/posts", "POST /api/v1/me/addresses",
    "DELETE /api/v1/me/addresses/{email}", "PATCH /api/v1/me/lists/{list_address}",
    "DELETE /api/v1/me/lists/{list_address}", "GET /api/v1/me/tokens",
    "POST /api/v1/me/tokens", "DELETE /api/v1/me/tokens/{token_id}",
    "POST /api/v1/lists/{address}/join", "POST /api/v1/lists/{address}/posts",
}
# Routes that need a role on the list in the path (or the whole site).
ROLES = {
    "GET /l/{address}/admin/": "moderator",
    "GET /l/{address}/admin/held": "moderator",
    "POST /l/{address}/admin/held/{hold_id}": "moderator",
    "GET /l/{address}/admin/bans": "moderator",
    "POST /l/{address}/admin/bans": "moderator",
    "POST /l/{address}/admin/bans/lift": "moderator",
    "POST /l/{address}/admin/bans/expel": "moderator",
    "POST /l/{address}/admin/bans/readmit": "moderator",
    "GET /l/{address}/admin/audit": "moderator",
    "GET /l/{address}/m/{msgid}/remove": "moderator",
    "POST /l/{address}/m/{msgid}/remove": "moderator",
    "GET /l/{address}/admin/settings": "owner",
    "POST /l/{address}/admin/settings": "owner",
    "GET /l/{address}/admin/members": "owner",
    "GET /l/{address}/admin/members.csv": "owner",
    "POST /l/{address}/admin/members/add": "owner",
    "POST /l/{address}/admin/members/edit": "owner",
    "POST /l/{address}/admin/members/remove": "owner",
    "GET /l/{address}/admin/templates": "owner",
    "GET /l/{address}/admin/templates/{name}": "owner",
    "POST /l/{address}/admin/templates/{name}": "owner",
    "GET /api/v1/lists/{address}/held": "moderator",
    "POST /api/v1/lists/{address}/held/{hold_id}": "moderator",
    "GET /api/v1/lists/{address}/audit": "moderator",
    "GET /api/v1/lists/{address}/bans": "moderator",
    "POST /api/v1/lists/{address}/bans": "moderator",
    "DELETE /api/v1/lists/{address}/bans/{pattern}": "moderator",
    "POST /api/v1/lists/{address}/expel": "moderator",
    "POST /api/v1/lists/{address}/readmit": "moderator",
    "POST /api/v1/lists/{address}/messages/{msgid}/remove": "moderator",
    "GET /api/v1/lists/{address}/settings": "owner",
    "PATCH /api/v1/lists/{address}": "owner",
    "GET /api/v1/lists/{address}/members": "owner",
    "GET /api/v1/lists/{address}/members.csv": "owner",
    "POST /api/v1/lists/{address}/members": "owner",
    "POST /api/v1/lists/{address}/members/bulk": "owner",
    "PATCH /api/v1/lists/{address}/members/{email}": "owner",
    "DELETE /api/v1/lists/{address}/members/{email}": "owner",
    "GET /api/v1/lists/{address}/bounces": "owner",
    "GET /api/v1/lists/{address}/templates": "owner",
    "GET /api/v1/lists/{address}/templates/{name}": "owner",
    "PUT /api/v1/lists/{address}/templates/{name}": "owner",
    "DELETE /api/v1/lists/{address}/templates/{name}": "owner",
    "POST /api/v1/lists/{address}/templates/{name}/preview": "owner",
    "POST /api/v1/lists": "admin",
    "DELETE /api/v1/lists/{address}": "admin",
    "GET /api/v1/queue": "admin",
    "POST /l/{address}/issues/new": "editor",
    "GET /l/{address}/issues/{number}/edit": "editor",
    "POST /l/{address}/issues/{number}/edit": "editor",
    "POST /api/v1/lists/{address}/issues": "editor",
    "PATCH /api/v1/lists/{address}/issues/{number}": "editor",
    "POST /api/v1/lists/{address}/issues/{number}/items": "editor",
    "PATCH /api/v1/lists/{address}/issues/{number}/items/{position}": "editor",
    "DELETE /api/v1/lists/{address}/issues/{number}/items/{position}": "editor",
    "POST /api/v1/lists/{address}/issues/{number}/publish": "editor",
}
VALUES = {"address": LIST, "list_address": LIST, "msgid": "m1@example.org",
          "message_id": "m1@example.org", "hold_id": "1", "token_id": "1", "email":
          "mem@example.org", "pattern": "spam@example.org", "name": "welcome",
          "token": "not-a-token", "year": "2026", "month": "3", "position": "1",
          "filename": "f.txt", "number": "1", "version": "1"}


def _routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    for r in routes:
        if isinstance(r, Mount):
            yield from _routes(getattr(r.app, "routes", []), prefix + r.path)
        elif hasattr(r, "original_router"):  # FastAPI's included routers
            yield from _routes(r.original_router.routes, prefix)
        elif getattr(r, "methods", None):
            path = re.sub(r"\{(\w+):\w+\}", r"{\1}", prefix + r.path)
            for method in sorted(r.methods - {"HEAD"}):
                yield method, path


def every_route(moot: Moot) -> set[str]:
    return {f"{m} {p}" for m, p in _routes(create_app(moot).routes)}


@dataclass
class Site:
    """A copy of the prepared site: its moot, and each person's session cookie and token."""

    moot: Moot
    cookies: dict[str, str]
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str],
                                                                  dict[str, str]]:
    """The two lists, their people, each person's session and API token, made once (the
    password hashing costs a fifth of a second a person); each test works on a copy."""
    folder = tmp_path_factory.mktemp("authz") / "data"
    init_data_dir(folder)
    moot = build(load_settings(folder, env={}))
    try:
        moot.store.create_list(LIST)
        moot.store.create_list(OTHER)
        with moot.engine.begin() as conn:
            dev, other = get_config(conn, LIST), get_config(conn, OTHER)
            assert dev is not None and other is not None
            for who, role in (("mem@example.org", "member"), ("mod@example.org", "moderator"),
                              ("own@example.org", "owner")):
                moot.membership.subscribe_now(conn, dev, Member(who, role=role), now_utc(),
                                              welcome=False)
            moot.membership.subscribe_now(conn, other, Member("oth@example.org", role="owner"),
                                          now_utc(), welcome=False)
            tokens = {}
            for who, email in PEOPLE.items():
                user = create_user(conn, email, PASSWORD, admin=who == "admin", now=now_utc())
                tokens[who] = create_token(conn, user.id, "authz", now_utc())
        cookies = {}
        with TestClient(create_app(moot)) as client:
            for who, email in PEOPLE.items():
                client.cookies.clear()
                client.get("/login")
                r = client.post("/login", data={"email": email, "password": PASSWORD,
                                                "csrf": client.cookies.get("moot_csrf")},
                                follow_redirects=False)
                assert r.status_code == 303, r.text
                cookies[who] = client.cookies.get("moot_session") or ""
    finally:
        moot.close()
    return folder, cookies, tokens


@pytest.fixture
def site(prepared: tuple[Path, dict[str, str], dict[str, str]], tmp_path: Path
         ) -> Iterator[Site]:
    folder, cookies, tokens = prepared
    copy = tmp_path / "data"
    shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("index"))
    moot = build(load_settings(copy, env={}))
    yield Site(moot, cookies, tokens)
    moot.close()


def test_every_route_is_classified(site: Site) -> None:
    routes = every_route(site.moot)
    unknown = routes - PUBLIC - SIGNED_IN - set(ROLES)
    assert not unknown, f"say who may use these routes (here and in the route): {unknown}"
    gone = (PUBLIC | SIGNED_IN | set(ROLES)) - routes
    assert not gone, f"no longer routes: {gone}"


def _url(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: VALUES[m.group(1)], path)


CSRF = "form-token-for-the-authorization-tests"


@pytest.mark.parametrize("route", sorted(ROLES))
def test_each_role_gets_only_what_it_may(site: Site, route: str) -> None:
    method, path = route.split(" ", 1)
    need = NEED_RANK[ROLES[route]]
    api = path.startswith("/api/")
    url = _url(path)
    with TestClient(create_app(site.moot)) as client:
        client.cookies.set("moot_csrf", CSRF)  # a form token the pages' forms would carry
        # Nobody: the API says to log in or send a token; a page leads to the log-in page.
        if api:
            r = client.request(method, url, json={})
            assert r.status_code == 401, (route, r.status_code, r.text)
        else:
            r = client.request(method, url, data={"csrf": CSRF}, follow_redirects=False)
            assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
        # In rank order, so that a call that changes things is made last by those who may.
        for who in ("member", "other-owner", "moderator", "owner", "admin"):
            if api:
                r = client.request(method, url, json={},
                                   headers={"Authorization": f"Bearer {site.tokens[who]}"})
            else:
                client.cookies.set("moot_session", site.cookies[who])
                r = client.request(method, url, data={"csrf": CSRF}, follow_redirects=False)
            allowed = RANKS[who] >= need
            if allowed:
                assert r.status_code not in (401, 403), (route, who, r.status_code, r.text)
            else:
                assert r.status_code == 403, (route, who, r.status_code, r.text[:300])


# The one exception: a member's own unsubscribe link takes RFC 8058's one-click POST from
# their mail program, which has no form; the signed token in the link is the proof.
ONE_CLICK = "POST /l/{address}/unsubscribe/{token}"
HTML_POSTS = sorted(r for r in PUBLIC | SIGNED_IN | set(ROLES)
                    if r.startswith("POST ") and not r.startswith("POST /api/")
                    and r != ONE_CLICK)


@pytest.mark.parametrize("route", HTML_POSTS)
def test_every_form_post_needs_its_form_token(site: Site, route: str) -> None:
    """Even for the list's owner, a form sent without the page's token, or with another
    one, is refused (403) and changes nothing."""
    url = _url(route.split(" ", 1)[1])
    with TestClient(create_app(site.moot)) as client:
        client.cookies.set("moot_session", site.cookies["owner"])
        client.cookies.set("moot_csrf", CSRF)
        for data in ({}, {"csrf": "another-token-0123456789abcdef"}):
            r = client.post(url, data=data, follow_redirects=False)
            assert r.status_code == 403, (route, data, r.status_code, r.text[:200])
