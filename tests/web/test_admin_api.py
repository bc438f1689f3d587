"""The REST API's list administration: refused without the admin token, complete with it;
joining is open to anyone and always confirmed by mail; the web forms need their own token."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from moot.app import Moot
from moot.storage import schema as s
from moot.web.app import create_app

LIST = "dev@example.org"
TOKEN = "s3cret-admin-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(moot: Moot) -> Iterator[TestClient]:
    moot.settings = dataclasses.replace(moot.settings, admin_token=TOKEN)
    with TestClient(create_app(moot)) as c:
        yield c


def outbox_rcpts(moot: Moot) -> list[str]:
    with moot.engine.connect() as conn:
        return list(conn.execute(select(s.outbox_recipients.c.rcpt)).scalars())


def test_every_admin_call_needs_the_token(client: TestClient, moot: Moot) -> None:
    moot.store.create_list(LIST)
    calls = [("post", "/api/v1/lists", {"address": "x@example.org"}),
             ("patch", f"/api/v1/lists/{LIST}", {"reply_to": "list"}),
             ("delete", f"/api/v1/lists/{LIST}", None),
             ("get", f"/api/v1/lists/{LIST}/settings", None),
             ("get", f"/api/v1/lists/{LIST}/members", None),
             ("post", f"/api/v1/lists/{LIST}/members", {"email": "a@example.org"}),
             ("patch", f"/api/v1/lists/{LIST}/members/a@example.org", {"nomail": True}),
             ("delete", f"/api/v1/lists/{LIST}/members/a@example.org", None),
             ("get", f"/api/v1/lists/{LIST}/held", None),
             ("post", f"/api/v1/lists/{LIST}/held/1", {"decision": "approve"})]
    for method, url, body in calls:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            r = client.request(method, url, json=body, headers=headers)
            assert r.status_code == 401, (method, url, headers, r.text)
            assert "token" in r.json()["error"] or "log in" in r.json()["error"]
    assert moot.archive.find_list("x@example.org") is None
    assert moot.archive.find_list(LIST) is not None


def test_without_a_configured_admin_token_no_token_is_the_admins(moot: Moot) -> None:
    moot.store.create_list(LIST)
    with TestClient(create_app(moot)) as c:
        for token in ("", "anything"):
            r = c.get(f"/api/v1/lists/{LIST}/members",
                      headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 401 and "token" in r.json()["error"]


def test_lists_and_members_through_the_api(client: TestClient, moot: Moot) -> None:
    r = client.post("/api/v1/lists", json={"address": LIST, "reply_to": "list"}, headers=AUTH)
    assert r.status_code == 201 and r.json()["reply_to"] == "list"
    assert client.post("/api/v1/lists", json={"address": LIST}, headers=AUTH).status_code == 409
    r = client.post("/api/v1/lists", json={"address": "y@example.org", "max_size": "big"},
                    headers=AUTH)
    assert r.status_code == 400 and "max_size" in r.json()["error"]
    assert moot.archive.find_list("y@example.org") is None  # nothing half-made
    r = client.patch(f"/api/v1/lists/{LIST}", json={"subject_prefix": "[x]\r\nBcc: a@b.c"},
                     headers=AUTH)
    assert r.status_code == 400
    r = client.post(f"/api/v1/lists/{LIST}/members",
                    json={"email": "ann@example.org", "confirm": False, "role": "owner"},
                    headers=AUTH)
    assert r.status_code == 201 and r.json()["status"] == "subscribed"
    r = client.patch(f"/api/v1/lists/{LIST}/members/ann@example.org",
                     json={"delivery": "digest", "nomail": 1}, headers=AUTH)
    assert r.status_code == 400  # 1 is not a boolean
    r = client.patch(f"/api/v1/lists/{LIST}/members/ann@example.org",
                     json={"delivery": "digest", "nomail": True}, headers=AUTH)
    assert r.json()["delivery"] == "digest" and r.json()["nomail"] is True
    members = client.get(f"/api/v1/lists/{LIST}/members", headers=AUTH).json()["members"]
    assert [m["email"] for m in members] == ["ann@example.org"]
    r = client.delete(f"/api/v1/lists/{LIST}/members/ann@example.org", headers=AUTH)
    assert r.json()["status"] == "unsubscribed"
    assert client.delete(f"/api/v1/lists/{LIST}", headers=AUTH).json() == {"deleted": LIST}
    assert moot.archive.find_list(LIST) is None


def test_anyone_may_ask_to_join_but_only_by_confirmation(client: TestClient,
                                                         moot: Moot) -> None:
    moot.store.create_list(LIST)
    r = client.post(f"/api/v1/lists/{LIST}/subscribe", json={"email": "zed@example.org"})
    assert r.status_code == 202 and r.json()["status"] == "confirmation sent"
    assert client.get(f"/api/v1/lists/{LIST}/members", headers=AUTH).json()["members"] == []
    assert outbox_rcpts(moot) == ["zed@example.org"]
    r = client.post(f"/api/v1/lists/{LIST}/subscribe", json={"email": "zed"})
    assert r.status_code == 400


def test_web_forms_refuse_posts_from_elsewhere(client: TestClient, moot: Moot) -> None:
    moot.store.create_list(LIST)
    page = client.get(f"/l/{LIST}/subscribe").text
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    # Right token, but the browser says the form was on another site.
    r = client.post(f"/l/{LIST}/subscribe", data={"email": "a@example.org", "csrf": token},
                    headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    # A token that is not this visitor's.
    r = client.post(f"/l/{LIST}/leave", data={"email": "a@example.org", "csrf": "x" * 32})
    assert r.status_code == 403
    assert outbox_rcpts(moot) == []
    r = client.post(f"/l/{LIST}/subscribe", data={"email": "a@example.org", "csrf": token})
    assert r.status_code == 200 and "Check your mail" in r.text
    assert outbox_rcpts(moot) == ["a@example.org"]
    # The page says the same for a member and a stranger: it tells nobody who is subscribed.
    r = client.post(f"/l/{LIST}/leave", data={"email": "b@example.org", "csrf": token})
    assert "If b@example.org is subscribed" in r.text
    assert outbox_rcpts(moot) == ["a@example.org"]


def test_queue_over_the_api_needs_the_token(client: TestClient, moot: Moot) -> None:
    moot.store.create_list(LIST)
    client.post(f"/api/v1/lists/{LIST}/subscribe", json={"email": "zed@example.org"})
    assert client.get("/api/v1/queue").status_code == 401
    doc = client.get("/api/v1/queue", headers=AUTH).json()
    assert doc["lists"] == [{"list": LIST, "pending": 1, "retrying": 0, "failed": 0,
                             "sent": 0}]


def test_metrics_count_without_naming_anyone(client: TestClient, moot: Moot) -> None:
    moot.store.create_list(LIST)
    client.post(f"/api/v1/lists/{LIST}/subscribe", json={"email": "zed@example.org"})
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    lines = {name: float(value) for name, value in (
        line.rsplit(" ", 1) for line in r.text.splitlines() if not line.startswith("#"))}
    assert lines["moot_lists"] == 1
    assert lines['moot_outbound_recipients{status="pending"}'] == 1
    assert lines["moot_held_posts"] == 0
    assert all(name.startswith("moot_") for name in lines)
    assert "zed" not in r.text


def test_the_join_page_has_a_plain_title(client: TestClient, moot: Moot) -> None:
    moot.store.create_list(LIST)
    page = client.get(f"/l/{LIST}/subscribe").text
    title = page.split("<title>")[1].split("</title>")[0]
    assert title == "Join dev · moot"
    assert page.count('action="/l/dev@example.org/leave"') == 1
