"""A private archive is read by its members (and site admins) only, by every way in: pages,
search (page and API), raw and mbox downloads, the Atom feed, the list of lists, and the API,
whether the reader comes with a session or an API token."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from moot.accounts import find_user
from moot.app import Moot
from moot.authz import create_token
from moot.storage.store import now_utc
from moot.web.app import create_app
from tests.web.test_accounts import LIST, log_in, make_site

PAGE = f"/l/{LIST}/m/hidden@example.org/"
DATE_PATHS = [f"/l/{LIST}/atom.xml", f"/l/{LIST}/t/hidden@example.org/mbox", PAGE + "raw"]


@pytest.fixture
def site(moot: Moot) -> Moot:
    return make_site(moot)


@pytest.fixture
def client(site: Moot) -> Iterator[TestClient]:
    site.search.catch_up()
    with TestClient(create_app(site)) as c:
        yield c


def token_for(moot: Moot, email: str) -> dict[str, str]:
    with moot.engine.begin() as conn:
        row = find_user(conn, email)
        assert row is not None
        return {"Authorization": f"Bearer {create_token(conn, row.id, 'test', now_utc())}"}


def hits(client: TestClient, **kw: object) -> list[str]:
    r = client.get("/api/v1/search", params={"q": "Private"}, **kw)  # type: ignore[arg-type]
    assert r.status_code == 200, r.text
    return [h["subject"] for h in r.json()["hits"]]


def test_search_finds_private_posts_for_members_only(client: TestClient, site: Moot) -> None:
    assert hits(client) == []
    assert "Private matter" not in client.get("/search", params={"q": "Private"}).text
    assert hits(client, headers=token_for(site, "out@example.org")) == []
    assert hits(client, headers=token_for(site, "mem@example.org")) == ["Private matter"]
    assert log_in(client, "mem@example.org") == 303
    r = client.get("/search", params={"q": "Private"})
    assert "Private matter" in r.text
    assert r.headers["cache-control"] == "private, no-store"  # never in a shared cache


def test_downloads_and_feeds_follow_the_same_rule(client: TestClient, site: Moot) -> None:
    for path in DATE_PATHS:
        assert client.get(path).status_code == 404, path
        assert client.get(path, headers=token_for(site, "out@example.org")).status_code == 404
        r = client.get(path, headers=token_for(site, "mem@example.org"))
        assert r.status_code == 200, path
        assert r.headers["cache-control"] == "private, no-store"


def test_the_list_of_lists_shows_a_private_list_to_its_members(client: TestClient,
                                                                site: Moot) -> None:
    def listed(**kw: object) -> list[str]:
        return [x["address"] for x in client.get("/api/v1/lists", **kw).json()["lists"]]  # type: ignore[arg-type]

    assert listed() == []
    assert listed(headers=token_for(site, "out@example.org")) == []
    assert listed(headers=token_for(site, "mem@example.org")) == [LIST]
    assert listed(headers=token_for(site, "root@example.org")) == [LIST]  # a site admin
    assert LIST not in client.get("/").text
    assert log_in(client, "mem@example.org") == 303
    assert LIST in client.get("/").text
    r = client.get(f"/api/v1/lists/{LIST}/threads/hidden@example.org")
    assert r.status_code == 200 and r.json()["messages"][0]["subject"] == "Private matter"


def test_a_bad_or_revoked_token_is_refused_not_ignored(client: TestClient, site: Moot) -> None:
    r = client.get("/api/v1/search", params={"q": "Private"},
                   headers={"Authorization": "Bearer moot_not-a-real-token"})
    assert r.status_code == 401 and "token" in r.json()["error"]
    from moot.authz import revoke_token, tokens

    auth = token_for(site, "mem@example.org")
    with site.engine.begin() as conn:
        uid = find_user(conn, "mem@example.org").id  # type: ignore[union-attr]
        for t in tokens(conn, uid):
            revoke_token(conn, uid, t["id"], now_utc())
    assert client.get("/api/v1/lists", headers=auth).status_code == 401
