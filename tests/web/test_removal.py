"""Taking archived messages down on the web and over the API, through the real app: a
moderator deletes or redacts a message; everyone then sees a placeholder where it was, and
the old words are on no page, download, feed or search; nobody else may do it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from moot.accounts import create_user
from moot.app import Moot
from moot.authz import create_token
from moot.core.member import Member
from moot.core.parse import parse_message
from moot.storage import audit
from moot.storage.lists import get_config
from moot.storage.store import Incoming, now_utc, sha256
from moot.web import accounts as web_accounts
from moot.web.app import create_app
from moot.web.archive import removed_on
from tests.test_removal import REPLY, ROOT
from tests.web.test_accounts import PASSWORD, log_in

LIST = "dev@example.org"
PAGE = f"/l/{LIST}/m/root@example.org/"
THREAD = f"/l/{LIST}/t/root@example.org/"
REMOVE = PAGE + "remove"
SECRETS = ("Quokka", "555-0199", "Zanzibar", "map.bin")


@pytest.fixture
def site(moot: Moot) -> Moot:
    moot.store.create_list(LIST)
    list_id = moot.archive.get_list(LIST).id
    moot.store.add_messages(list_id, [Incoming(r, parse_message(r), sha256(r))
                                      for r in (ROOT, REPLY)])
    moot.search.catch_up()
    with moot.engine.begin() as conn:
        config = get_config(conn, LIST)
        assert config is not None
        for email, role in (("mod@example.org", "moderator"), ("mem@example.org", "member")):
            moot.membership.subscribe_now(conn, config, Member(email, role=role), now_utc(),
                                          welcome=False)
            create_user(conn, email, PASSWORD, admin=False, now=now_utc())
    web_accounts._failures.clear()
    return moot


@pytest.fixture
def client(site: Moot) -> Iterator[TestClient]:
    with TestClient(create_app(site)) as c:
        yield c


def form_token(client: TestClient, path: str) -> str:
    r = client.get(path)
    assert r.status_code == 200, r.text
    found = re.search(r'name="csrf" value="([^"]+)"', r.text)
    assert found
    return found.group(1)


def root(moot: Moot) -> Any:
    return moot.archive.messages_by_id(moot.archive.get_list(LIST).id, "root@example.org")[0]


def everything_public(client: TestClient) -> dict[str, str]:
    """Every page, download, feed and search a reader could use to see the message (of a
    search, its hits: the page repeats the query itself)."""
    out = {}
    for path in (PAGE, THREAD, THREAD + "mbox", f"/l/{LIST}/2026/03/mbox", f"/l/{LIST}/",
                 f"/l/{LIST}/2026/03/", f"/l/{LIST}/atom.xml",
                 "/search?q=Quokka", "/search?q=Zanzibar", "/search?q=meeting",
                 "/api/v1/search?q=Quokka", "/api/v1/search?q=555",
                 "/api/v1/lists/dev@example.org/threads/root@example.org"):
        r = client.get(path)
        assert r.status_code == 200, (path, r.status_code)
        out[path] = r.text
        if path.startswith("/search"):
            out[path] = r.text.partition('<ol class="hits"')[2]
        elif path.startswith("/api/v1/search"):
            out[path] = str(r.json()["hits"])
    return out


def test_a_moderator_deletes_a_message_and_a_placeholder_takes_its_place(
        client: TestClient, site: Moot) -> None:
    assert "Remove or redact" not in client.get(PAGE).text  # not for readers
    before = everything_public(client)
    assert "Quokka" in before[PAGE] and "<mark>Quokka</mark>" in before["/search?q=Quokka"]
    assert "555-0199" in before["/api/v1/search?q=555"]
    assert log_in(client, "mod@example.org") == 303
    page = client.get(PAGE)
    assert f'href="{REMOVE}">Remove or redact</a>' in page.text
    assert page.headers["cache-control"] == "private, no-store"
    token = form_token(client, REMOVE)
    r = client.post(REMOVE, data={"kind": "delete", "reason": "posted by mistake",
                                  "csrf": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == PAGE
    client.cookies.clear()  # everyone, logged in or not, sees the same
    after = everything_public(client)
    placeholder = f"Removed by the moderators on {removed_on(root(site).removed_at)}."
    assert placeholder in after[PAGE] and placeholder in after[THREAD]
    for path, text in after.items():
        for word in SECRETS:
            assert word not in text, (path, word)
    assert "wombat" in after[THREAD] and "wombat" in after[THREAD + "mbox"]
    assert ">raw message<" not in after[PAGE]
    assert after["/api/v1/search?q=Quokka"] == "[]" and "Nothing found" in after[
        "/search?q=Zanzibar"]
    # The thread keeps its shape: the reply still hangs under the removed message.
    items = re.findall(r'<li class="d(\d+)" id="([^"]+)">', after[THREAD])
    assert items == [("0", "root@example.org"), ("1", "reply@example.org")]
    for path in (PAGE + "raw", PAGE + "a/2/map.bin"):
        r = client.get(path)
        assert r.status_code == 410, path
        assert "removed by the moderators" in r.text and "Quokka" not in r.text
    with site.engine.connect() as conn:
        entry = audit.entries(conn, site.archive.get_list(LIST).id)[0]
    assert (entry["actor"], entry["action"], entry["target"], entry["detail"]) == (
        "mod@example.org", "remove:deleted", "root@example.org", "posted by mistake")


def test_a_redaction_leaves_the_rest_readable(client: TestClient, site: Moot) -> None:
    assert log_in(client, "mod@example.org") == 303
    token = form_token(client, REMOVE)
    form = {"kind": "redact", "reason": "phone number",
            "passages": "555-0199\r\n\r\nQuokka Lane\r\nZanzibar\r\n", "csrf": token}
    r = client.post(REMOVE, data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == PAGE
    client.cookies.clear()
    after = everything_public(client)
    note = f"Redacted by the moderators on {removed_on(root(site).removed_at)}."
    assert note in after[PAGE] and note in after[THREAD]
    assert "The meeting is at 12 [redacted]." in after[PAGE]
    assert "Plans for [redacted]" in after[f"/l/{LIST}/atom.xml"]
    assert "meeting" in after["/search?q=meeting"] and "Nothing found" not in after[
        "/search?q=meeting"]
    for path, text in after.items():
        for word in SECRETS:
            assert word not in text, (path, word)
    assert client.get(PAGE + "raw").status_code == 410


def test_a_passage_that_is_not_there_changes_nothing(client: TestClient, site: Moot) -> None:
    assert log_in(client, "mod@example.org") == 303
    page = client.get(REMOVE).text  # the text as stored, to copy passages from
    assert "<pre>The meeting is at 12 Quokka Lane.\nCall 555-0199 for details" in page
    token = form_token(client, REMOVE)
    r = client.post(REMOVE, data={"kind": "redact", "passages": "quokka lane",
                                  "reason": "", "csrf": token})
    assert r.status_code == 400
    assert "Nothing was changed" in r.text and "quokka lane" in r.text  # typed text kept
    assert root(site).removed_kind is None
    assert client.get(PAGE + "raw").status_code == 200


def test_only_moderators_may_remove(client: TestClient, site: Moot) -> None:
    r = client.get(REMOVE, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    token = form_token(client, f"/l/{LIST}/subscribe")
    r = client.post(REMOVE, data={"kind": "delete", "csrf": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    assert log_in(client, "mem@example.org") == 303
    assert client.get(REMOVE).status_code == 403
    token = form_token(client, f"/l/{LIST}/subscribe")
    r = client.post(REMOVE, data={"kind": "delete", "csrf": token})
    assert r.status_code == 403 and "moderator" in r.text
    assert "Remove or redact" not in client.get(PAGE).text
    client.cookies.clear()
    assert log_in(client, "mod@example.org") == 303
    r = client.post(REMOVE, data={"kind": "delete", "csrf": "forged"})
    assert r.status_code == 403
    r = client.post(REMOVE, data={"kind": "delete"})
    assert r.status_code == 403
    assert root(site).removed_kind is None and "Quokka" in client.get(PAGE).text


def test_removal_over_the_api(client: TestClient, site: Moot) -> None:
    with site.engine.begin() as conn:
        tokens = {email: create_token(conn, uid, "t", now_utc()) for email, uid in
                  conn.exec_driver_sql("SELECT email, id FROM users").all()}
    url = f"/api/v1/lists/{LIST}/messages/root@example.org/remove"
    body = {"kind": "redact", "passages": ["Quokka Lane"], "reason": "address"}
    assert client.post(url, json=body).status_code == 401
    r = client.post(url, json=body,
                    headers={"Authorization": f"Bearer {tokens['mem@example.org']}"})
    assert r.status_code == 403 and "moderator" in r.json()["error"]
    mod = {"Authorization": f"Bearer {tokens['mod@example.org']}"}
    r = client.post(url, json={"kind": "redact", "passages": ["nowhere"]}, headers=mod)
    assert r.status_code == 400 and "do not occur" in r.json()["error"]
    r = client.post(url, json={"kind": "redact", "passages": "Quokka"}, headers=mod)
    assert r.status_code == 400
    r = client.post(url, json=body, headers=mod)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["message_id"] == "root@example.org" and doc["kind"] == "redacted"
    assert doc["removed_at"].endswith("Z") and doc["search_index_updated"] is True
    assert "Quokka" not in client.get(PAGE).text
    r = client.post(url, json={"kind": "delete"}, headers=mod)
    assert r.status_code == 200 and r.json()["kind"] == "deleted"
    r = client.post(url, json={"kind": "delete"}, headers=mod)
    assert r.status_code == 409 and "deleted already" in r.json()["error"]
    r = client.post(f"/api/v1/lists/{LIST}/messages/nobody@example.org/remove",
                    json={"kind": "delete"}, headers=mod)
    assert r.status_code == 404
    # A browser session must send its CSRF token in a header to use the API.
    assert log_in(client, "mod@example.org") == 303
    r = client.post(f"/api/v1/lists/{LIST}/messages/reply@example.org/remove",
                    json={"kind": "delete"})
    assert r.status_code == 403 and "X-CSRF-Token" in r.json()["error"]
    assert "wombat" in client.get(THREAD).text


def test_the_page_says_when_the_search_index_lags(client: TestClient, site: Moot,
                                                   data_dir: Path) -> None:
    from moot.search.tantivy_index import TantivyIndex

    if not isinstance(site.search.index, TantivyIndex):
        pytest.skip("only the embedded index has one writer at a time")
    assert log_in(client, "mod@example.org") == 303
    token = form_token(client, REMOVE)
    site.search.index.close()
    other = TantivyIndex(data_dir / "index")
    other._w()  # another process (an import) writing to the index
    try:
        r = client.post(REMOVE, data={"kind": "delete", "csrf": token})
    finally:
        other.close()
    assert r.status_code == 503 and "moot reindex" in r.text
    assert "nothing of it is left to remove" in r.text  # the removal itself stands
    assert root(site).removed_kind == "deleted"
