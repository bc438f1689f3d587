"""Script planted in everything a list's people and visitors can write -- a member's name, a
held post's subject and sender, a ban's reason, a list's own texts, a post sent from the web --
stays text on every page that shows it to owners, moderators and members."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from moot.accounts import create_user
from moot.app import Moot
from moot.core.member import Member
from moot.expulsion import ban
from moot.storage import lists as list_store
from moot.storage import templates as texts
from moot.storage.store import now_utc
from moot.web.app import create_app
from tests.web.test_accounts import PASSWORD, log_in
from tests.web.test_admin_pages import hold
from tests.web.test_hostile_input import XSS, assert_inert

LIST = "dev@example.org"
OWNER = "owner@example.org"
PAYLOAD = " ".join(XSS)


@pytest.fixture
def client(moot: Moot) -> Iterator[TestClient]:
    moot.store.create_list(LIST)
    moot.membership  # noqa: B018 - its signing key is made outside our transaction
    with moot.engine.begin() as conn:
        config = list_store.update_settings(conn, LIST, {
            "display_name": XSS[1][:150], "description": PAYLOAD,
            "footer": XSS[0], "posting_policy": "moderated"}, by=XSS[2])
        moot.membership.subscribe_now(conn, config, Member(OWNER, role="owner"), now_utc(),
                                      welcome=False)
        moot.membership.subscribe_now(conn, config, Member("mal@example.org",
                                      name=XSS[1][:100]), now_utc(), welcome=False)
        create_user(conn, OWNER, PASSWORD, admin=False, now=now_utc())
        ban(conn, config, "spam@example.org", reason=PAYLOAD, by=OWNER, now=now_utc())
        texts.save(conn, config, "welcome", "Welcome {email} " + XSS[0].replace("{", "")
                   + XSS[1], by=OWNER, now=now_utc())
    hold(moot, "held@example.org", address=LIST, subject=PAYLOAD[:200], body=PAYLOAD,
         sender="eve@example.org")
    with TestClient(create_app(moot)) as c:
        assert log_in(c, OWNER) == 303
        yield c


def test_owners_and_moderators_pages_show_script_as_text(client: TestClient) -> None:
    # A post from the web with script in its subject and text, held by the moderated list.
    page = client.get(f"/l/{LIST}/post").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    r = client.post(f"/l/{LIST}/post", data={"from": OWNER, "subject": XSS[0],
                                              "body": PAYLOAD, "csrf": csrf})
    assert r.status_code in (200, 202), r.text
    assert_inert(r.text, "the post's outcome")
    admin = f"/l/{LIST}/admin"
    pages = [f"{admin}/", f"{admin}/held", f"{admin}/bans", f"{admin}/audit",
             f"{admin}/settings", f"{admin}/members", f"{admin}/members?q={XSS[1][:20]}",
             f"{admin}/templates", f"{admin}/templates/welcome", f"{admin}/templates/footer",
             "/me", "/me/posts", f"/l/{LIST}/", f"/l/{LIST}/post",
             f"/l/{LIST}/post?reply={XSS[1]}"]
    for url in pages:
        r = client.get(url)
        assert r.status_code in (200, 404), (url, r.status_code)
        assert_inert(r.text, url)
    # The planted words are there, as text: on the queue, the roster, the bans, the audit log.
    for url in (f"{admin}/held", f"{admin}/bans", f"{admin}/audit"):
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get(url).text, url
    assert "&lt;img src=x onerror=alert(2)&gt;" in client.get(f"{admin}/members").text
    # A preview of a template holding script shows it as text too.
    page = client.get(f"{admin}/templates/goodbye").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    r = client.post(f"{admin}/templates/goodbye",
                    data={"action": "preview", "body": "Bye " + XSS[1], "csrf": csrf})
    assert r.status_code in (200, 400)
    assert_inert(r.text, "template preview")
    # The CSV export neutralises a name that a spreadsheet would run as a formula.
    csv = client.get(f"{admin}/members.csv").text
    assert "\n=" not in csv and ",=" not in csv
