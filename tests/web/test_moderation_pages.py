"""The moderators' page for one held post, through the ASGI app: the signed link shows the post
safely and changes nothing; the buttons need the page's form token; a link works for its own
post only, and only while it waits.  Also the REST API's new decisions and the audit log."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from moot.app import Moot
from moot.core.address import parse_recipient
from moot.core.member import Member
from moot.inbound.service import Job
from moot.moderation import expire_held
from moot.storage import audit, held
from moot.storage.lists import get_config
from moot.web.app import create_app
from tests.helpers import make_message
from tests.test_moderation import mail_to, text

LIST = "dev@example.org"
TOKEN = "s3cret-admin-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(moot: Moot) -> Iterator[TestClient]:
    moot.settings = dataclasses.replace(moot.settings, admin_token=TOKEN)
    moot.store.create_list(LIST)
    with moot.engine.begin() as conn:
        config = get_config(conn, LIST)
        assert config is not None
        for who, role in (("mod@example.org", "moderator"), ("bob@example.org", "member")):
            moot.membership.subscribe_now(conn, config, Member(who, role=role),
                                          moot.inbound.clock(), welcome=False)
    with TestClient(create_app(moot), base_url="http://testserver") as c:
        yield c


def hold(moot: Moot, message_id: str, *, subject: str = "Cheap watches",
         body: str = "Buy now.\n", sender: str = "eve@example.org") -> tuple[int, str]:
    """A held post and the path of its moderation page, from the moderator's notice."""
    raw = make_message(message_id, sender=f"Eve <{sender}>", subject=subject, body=body)
    raw = raw.replace(b"To: list@example.org", f"To: {LIST}".encode())
    target = parse_recipient(LIST, {LIST}.__contains__)
    assert target is not None
    with moot.engine.begin() as conn:
        assert moot.inbound.handle(conn, Job(sender, target, raw)).status == "held"
    notice = mail_to(moot, "mod@example.org", "waits for approval")[-1]
    url = re.search(r"https?://\S+/moderate/\S+", text(notice)).group(0)  # type: ignore[union-attr]
    path = "/" + url.split("/", 3)[3]
    return int(path.split("/")[4]), path


def list_id(moot: Moot) -> int:
    with moot.engine.connect() as conn:
        config = get_config(conn, LIST)
    assert config is not None
    return config.id


def waiting(moot: Moot) -> list[int]:
    with moot.engine.connect() as conn:
        return [r.id for r in held.waiting(conn, list_id(moot))]


def entries(moot: Moot) -> list[dict[str, str]]:
    with moot.engine.connect() as conn:
        return [e for e in audit.entries(conn, list_id(moot)) if e["action"] != "settings"]


def form_token(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def test_the_page_shows_the_post_safely_and_changes_nothing(client: TestClient,
                                                            moot: Moot) -> None:
    hold_id, path = hold(moot, "p1@example.org", subject="Win <b>big</b>",
                         body="<script>alert(1)</script>\nhttps://spam.example/x\n")
    assert path == f"/l/{LIST}/moderate/{hold_id}/{path.rsplit('/', 1)[1]}"
    r = client.get(path)
    assert r.status_code == 200
    page = r.text
    assert "Win &lt;b&gt;big&lt;/b&gt;" in page and "<b>big</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page
    assert 'rel="nofollow noopener"' in page
    assert "eve@example.org" in page and "is not a member of dev@example.org" in page
    for value in ("approve", "reject", "discard", "defer", "approve+unmoderate",
                  "approve+accept"):
        assert f'value="{value}"' in page
    assert r.headers["Cache-Control"] == "no-store"
    assert "noindex" in r.headers["X-Robots-Tag"]
    assert waiting(moot) == [hold_id] and entries(moot) == []


def test_a_button_decides_once_and_needs_the_pages_token(client: TestClient,
                                                         moot: Moot) -> None:
    hold_id, path = hold(moot, "p2@example.org")
    csrf = form_token(client.get(path).text)
    assert client.post(path, data={"decision": "approve", "csrf": "x" * 32}).status_code == 403
    r = client.post(path, data={"decision": "approve", "csrf": csrf},
                    headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    assert waiting(moot) == [hold_id]
    r = client.post(path, data={"decision": "maybe", "csrf": csrf})
    assert r.status_code == 400
    r = client.post(path, data={"decision": "approve", "csrf": csrf})
    assert r.status_code == 200 and "approve" in r.text
    assert waiting(moot) == []
    assert moot.archive.messages_by_id(list_id(moot), "p2@example.org")
    assert [(e["actor"], e["action"]) for e in entries(moot)] == [("web", "moderate:approve")]
    # The link has done its work.
    again = client.get(path)
    assert again.status_code == 409 and "already" in again.text and "by web" in again.text
    r = client.post(path, data={"decision": "discard", "csrf": csrf})
    assert r.status_code == 409


def test_defer_keeps_it_and_reject_tells_the_author_the_reason(client: TestClient,
                                                               moot: Moot) -> None:
    hold_id, path = hold(moot, "p3@example.org")
    csrf = form_token(client.get(path).text)
    r = client.post(path, data={"decision": "defer", "reason": "ask the owner", "csrf": csrf})
    assert r.status_code == 200 and "stays in the queue" in r.text
    assert waiting(moot) == [hold_id]
    r = client.post(path, data={"decision": "reject", "reason": "no ads here", "csrf": csrf})
    assert r.status_code == 200
    [told] = mail_to(moot, "eve@example.org", "was not sent")
    assert "no ads here" in text(told)
    assert [(e["action"], e["detail"]) for e in reversed(entries(moot))] == [
        ("moderate:defer", "ask the owner"), ("moderate:reject", "no ads here")]


def test_a_link_works_for_its_own_post_and_list_only(client: TestClient, moot: Moot) -> None:
    first, path1 = hold(moot, "p4@example.org")
    second, path2 = hold(moot, "p5@example.org")
    token1, token2 = path1.rsplit("/", 1)[1], path2.rsplit("/", 1)[1]
    moot.store.create_list("ops@example.org")
    for bad in (f"/l/{LIST}/moderate/{second}/{token1}",  # another post
                f"/l/ops@example.org/moderate/{first}/{token1}",  # another list
                f"/l/nope@example.org/moderate/{first}/{token1}",
                f"/l/{LIST}/moderate/{first}/{token1[:-2]}aa",  # altered
                f"/l/{LIST}/moderate/{first}/not-a-token"):
        assert client.get(bad).status_code == 404, bad
        assert client.post(bad, data={"decision": "approve", "csrf": "x"}).status_code in (
            403, 404)
    # A decision address's token (sent by mail) does not open the page.
    notice = text(mail_to(moot, "mod@example.org", "waits for approval")[0])
    mail_token = notice.split("send any message to:\n")[1].split()[0].split("+")[1].split("@")[0]
    assert client.get(f"/l/{LIST}/moderate/{first}/{mail_token}").status_code == 404
    assert client.get(path2).status_code == 200 and token1 != token2
    assert waiting(moot) == [first, second]


def test_an_expired_post_is_no_longer_open(client: TestClient, moot: Moot) -> None:
    _, path = hold(moot, "p6@example.org")
    expire_held(moot.engine, moot.inbound.clock() + timedelta(days=15))
    r = client.get(path)
    assert r.status_code == 409 and "expire" in r.text


# -- the REST API -------------------------------------------------------------------------------


def test_the_api_takes_the_new_decisions_and_shows_the_audit_log(client: TestClient,
                                                                 moot: Moot) -> None:
    a, _ = hold(moot, "api1@example.org")
    b, _ = hold(moot, "api2@example.org", sender="zed@example.org")
    url = f"/api/v1/lists/{LIST}/held"
    first = client.get(f"{url}?limit=1", headers=AUTH).json()
    assert [h["id"] for h in first["held"]] == [a] and first["next"]
    second = client.get(first["next"], headers=AUTH).json()
    assert [h["id"] for h in second["held"]] == [b]
    assert client.post(f"{url}/{a}", json={"decision": "defer"}).status_code == 401
    r = client.post(f"{url}/{a}", json={"decision": "defer", "reason": "later"}, headers=AUTH)
    assert r.status_code == 200 and r.json()["outcome"] == "held: later"
    r = client.post(f"{url}/{a}", json={"decision": "approve+accept"}, headers=AUTH)
    assert r.status_code == 200 and r.json()["outcome"] == "accepted"
    r = client.post(f"{url}/{b}", json={"decision": "approve+unmoderate"}, headers=AUTH)
    assert r.status_code == 200
    r = client.post(f"{url}/{b}", json={"decision": "withdraw"}, headers=AUTH)
    assert r.status_code == 400 and "approve+accept" in r.json()["error"]
    assert client.get(f"/api/v1/lists/{LIST}/audit").status_code == 401
    r = client.get(f"/api/v1/lists/{LIST}/audit", headers=AUTH)
    assert r.status_code == 200
    got = [(e["actor"], e["action"]) for e in r.json()["entries"]]
    assert got == [("api", "moderate:approve+unmoderate"), ("api", "sender-rule:accept"),
                   ("api", "moderate:approve+accept"), ("api", "moderate:defer")]
    assert set(r.json()["entries"][0]) == {"id", "at", "actor", "action", "target", "detail"}
    assert r.json()["next"] is None
    # A page at a time: following "next" walks the whole log, newest first, once.
    seen, page = [], f"/api/v1/lists/{LIST}/audit?limit=3"
    while page:
        doc = client.get(page, headers=AUTH).json()
        seen += [(e["actor"], e["action"]) for e in doc["entries"]]
        page = doc["next"]
    assert seen == got
    assert client.get("/api/v1/lists/nope@example.org/audit", headers=AUTH).status_code == 404
