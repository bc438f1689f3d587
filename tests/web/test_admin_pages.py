"""The owners' and moderators' pages of a list, over HTTP against the real app and database: who
may open which page, the settings form, members (pages, search, bulk add, invitations, removal,
changes, the last owner, CSV), the held-posts queue, bans and expulsions, the audit log, and the
form token every POST needs.  Also the REST API's CSV export and bulk add."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from moot.accounts import create_user
from moot.app import Moot
from moot.authz import create_token
from moot.core.address import parse_recipient
from moot.core.mailinglist import SETTINGS, ListConfig
from moot.core.member import Member
from moot.inbound.service import Job
from moot.storage import audit, held
from moot.storage import members as member_store
from moot.storage.lists import get_config
from moot.storage.store import now_utc
from moot.web import accounts as web_accounts
from moot.web.admin_pages import parse_pasted
from moot.web.app import create_app
from tests.helpers import make_message
from tests.test_moderation import mail_to, text
from tests.web.test_accounts import PASSWORD, log_in

LIST = "dev@example.org"
OTHER = "ops@example.org"
ADMIN = f"/l/{LIST}/admin"
OWNER, MOD, MEMBER, STRANGER = ("owner@example.org", "mod@example.org", "mem@example.org",
                                "boss@example.org")
MOD_PAGES = ("/", "/held", "/bans", "/audit")
OWNER_PAGES = ("/settings", "/members", "/members.csv")


def config(moot: Moot, address: str = LIST) -> ListConfig:
    with moot.engine.connect() as conn:
        found = get_config(conn, address)
    assert found is not None
    return found


@pytest.fixture
def site(moot: Moot) -> Moot:
    """dev@ with an owner, a moderator and a member, each with an account; ops@ whose owner
    has an account too."""
    moot.store.create_list(LIST)
    moot.store.create_list(OTHER)
    with moot.engine.begin() as conn:
        dev, ops = get_config(conn, LIST), get_config(conn, OTHER)
        assert dev is not None and ops is not None
        for cfg, email, role in ((dev, OWNER, "owner"), (dev, MOD, "moderator"),
                                 (dev, MEMBER, "member"), (ops, STRANGER, "owner")):
            moot.membership.subscribe_now(conn, cfg, Member(email, role=role), now_utc(),
                                          welcome=False)
        for email in (OWNER, MOD, MEMBER, STRANGER):
            create_user(conn, email, PASSWORD, admin=False, now=now_utc())
    web_accounts._failures.clear()
    return moot


@pytest.fixture
def client(site: Moot) -> Iterator[TestClient]:
    with TestClient(create_app(site)) as c:
        yield c


def as_user(client: TestClient, email: str) -> TestClient:
    client.cookies.clear()
    assert log_in(client, email) == 303
    return client


def token(client: TestClient, path: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert found, path
    return found.group(1)


def members_of(moot: Moot, address: str = LIST) -> dict[str, Member]:
    with moot.engine.connect() as conn:
        return {m.email: m for m in member_store.all_members(conn, config(moot, address).id)}


def log(moot: Moot) -> list[dict[str, str]]:
    with moot.engine.connect() as conn:
        return audit.entries(conn, config(moot).id, limit=1000)


def add_many(moot: Moot, n: int) -> None:
    """Members user001@example.org, user002@... (one INSERT for them all)."""
    from sqlalchemy import insert

    from moot.storage import schema as s

    list_id, now = config(moot).id, now_utc()
    with moot.engine.begin() as conn:
        conn.execute(insert(s.members), [
            {"list_id": list_id, "email": f"user{i:03d}@example.org", "name": "",
             "role": "member", "delivery": "regular", "nomail": False, "receive_own": True,
             "moderated": False, "subscribed_at": now} for i in range(1, n + 1)])


class FormFields(HTMLParser):
    """What a browser sends for the form with a given action: text fields, ticked boxes and
    radios, chosen options, textareas."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action, self.inside, self.fields = action, False, {}
        self._select: str | None = None
        self._first: str | None = None
        self._chosen: str | None = None
        self._area: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("action") == self.action
        if not self.inside:
            return
        if tag == "input" and a.get("name"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields[a["name"]] = a.get("value") or ""
        elif tag == "select":
            self._select, self._first, self._chosen = a["name"], None, None
        elif tag == "option" and self._select:
            self._first = self._first if self._first is not None else a["value"]
            if "selected" in a:
                self._chosen = a["value"]
        elif tag == "textarea":
            self._area, self._text = a["name"], []

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select" and self._select:
            self.fields[self._select] = self._chosen or self._first or ""
            self._select = None
        elif tag == "textarea" and self._area:
            value = "".join(self._text)
            self.fields[self._area] = value[1:] if value.startswith("\n") else value
            self._area = None

    def handle_data(self, data: str) -> None:
        if self._area:
            self._text.append(data)


def form_fields(page: str, action: str) -> dict[str, str]:
    parser = FormFields(action)
    parser.feed(page)
    assert parser.fields, f"no form posting to {action}"
    return dict(parser.fields)


# -- who may see what ---------------------------------------------------------------------------


def test_each_page_is_for_its_roles_only(client: TestClient, site: Moot) -> None:
    every = MOD_PAGES + OWNER_PAGES
    for page in every:
        r = client.get(ADMIN + page, follow_redirects=False)
        assert r.status_code == 303, page
        assert r.headers["location"].startswith("/login?next=")
        assert unquote(r.headers["location"].split("next=", 1)[1]) in (
            ADMIN + page, f"{ADMIN}/members")
    home = client.get(f"/l/{LIST}/").text
    assert "Administration" not in home
    as_user(client, MEMBER)
    for page in every:
        r = client.get(ADMIN + page)
        assert r.status_code == 403 and "Only the" in r.text, page
    assert "Administration" not in client.get(f"/l/{LIST}/").text
    as_user(client, MOD)
    for page in MOD_PAGES:
        assert client.get(ADMIN + page).status_code == 200, page
    for page in OWNER_PAGES:
        r = client.get(ADMIN + page)
        assert r.status_code == 403 and "owners of dev@example.org" in r.text, page
    assert f'href="{ADMIN}/"' in client.get(f"/l/{LIST}/").text
    nav = client.get(ADMIN + "/").text
    assert f"{ADMIN}/held" in nav and f"{ADMIN}/settings" not in nav
    as_user(client, STRANGER)  # owns ops@, not dev@
    for page in every:
        assert client.get(ADMIN + page).status_code == 403, page
    assert client.get(f"/l/{OTHER}/admin/settings").status_code == 200
    as_user(client, OWNER)
    for page in every:
        r = client.get(ADMIN + page)
        assert r.status_code == 200, page
        assert "no-store" in r.headers["cache-control"]
    assert f"{ADMIN}/settings" in client.get(ADMIN + "/").text
    assert client.get("/l/nope@example.org/admin/").status_code == 404


def test_site_admins_run_every_list(client: TestClient, site: Moot) -> None:
    with site.engine.begin() as conn:
        create_user(conn, "root@example.org", PASSWORD, admin=True, now=now_utc())
    as_user(client, "root@example.org")
    for page in MOD_PAGES + OWNER_PAGES:
        assert client.get(ADMIN + page).status_code == 200, page


def test_the_overview_counts_and_names_the_addresses(client: TestClient, site: Moot) -> None:
    as_user(client, MOD)
    page = client.get(ADMIN + "/").text
    assert "3 members" in page and "0 held posts" in page
    for sub in ("dev-request@example.org", "dev-join@example.org", "dev-leave@example.org",
                "dev-owner@example.org", "dev-bounces@example.org"):
        assert sub in page


def test_every_post_needs_the_pages_form_token(client: TestClient, site: Moot) -> None:
    hold_id = hold(site, "tok@example.org")
    as_user(client, OWNER)
    good = token(client, ADMIN + "/held")
    posts = [("/settings", {"display_name": "Changed"}),
             ("/members/add", {"addresses": "new@example.org"}),
             ("/members/remove", {"email": MEMBER}),
             ("/members/edit", {"email": MEMBER, "role": "owner", "delivery": "regular"}),
             (f"/held/{hold_id}", {"decision": "approve"}),
             ("/bans", {"pattern": "*@spam.example"}),
             ("/bans/lift", {"pattern": "*@spam.example"}),
             ("/bans/expel", {"email": MEMBER, "reason": "x", "notify": "1"}),
             ("/bans/readmit", {"email": MEMBER})]
    for path, data in posts:
        for bad in ({}, {"csrf": "x" * 32}):
            r = client.post(ADMIN + path, data={**data, **bad}, follow_redirects=False)
            assert r.status_code == 403, (path, bad)
            assert "Reload the page" in r.text
        r = client.post(ADMIN + path, data={**data, "csrf": good},
                        headers={"Origin": "https://evil.example"}, follow_redirects=False)
        assert r.status_code == 403, path
    assert config(site).display_name == "dev"
    assert set(members_of(site)) == {OWNER, MOD, MEMBER}
    assert members_of(site)[MEMBER].role == "member"
    with site.engine.connect() as conn:
        assert [r.id for r in held.waiting(conn, config(site).id)] == [hold_id]
    assert [e for e in log(site) if e["action"] != "settings"] == []
    # Logged out, a form with its token leads to the log-in page, and changes nothing.
    client.cookies.pop("moot_session")
    r = client.post(ADMIN + "/bans", data={"pattern": "*@spam.example", "csrf": good},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    assert log(site) == []


# -- settings -----------------------------------------------------------------------------------


def test_the_settings_form_shows_and_saves_every_setting(client: TestClient,
                                                         site: Moot) -> None:
    as_user(client, OWNER)
    page = client.get(ADMIN + "/settings").text
    for name, (_, help_text) in SETTINGS.items():
        assert f'name="{name}"' in page and str(escape(help_text)) in page, name
        assert f'id="help-{name}"' in page and f'aria-describedby="help-{name}"' in page
    assert page.index("Joining") < page.index('name="posting_policy"')
    fields = form_fields(page, f"{ADMIN}/settings")
    assert set(SETTINGS) | {"csrf"} == set(fields)
    # Sent back as it is, the form changes nothing.
    r = client.post(ADMIN + "/settings", data=fields, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"{ADMIN}/settings?saved=1"
    assert config(site) == config(site) and log(site) == []
    fields.update(display_name="Developers", max_size="1000", description="Line one\r\nTwo",
                  content_types="text/plain\ntext/html", subscriptions="closed",
                  subject_prefix="[dev-list] ")
    r = client.post(ADMIN + "/settings", data=fields)
    assert r.status_code == 200 and "Settings saved." in r.text
    assert 'value="Developers"' in r.text and 'value="1000"' in r.text
    after = config(site)
    assert (after.display_name, after.max_size, after.description, after.content_types,
            after.subscriptions, after.prefix) == (
        "Developers", 1000, "Line one\nTwo", ("text/plain", "text/html"), "closed",
        "[dev-list] ")
    [entry] = log(site)
    assert entry["actor"] == OWNER and entry["action"] == "settings"
    assert "max_size=1000" in entry["detail"] and "reply_to" not in entry["detail"]


def test_a_bad_value_is_shown_next_to_its_field_and_nothing_changes(client: TestClient,
                                                                     site: Moot) -> None:
    as_user(client, OWNER)
    fields = form_fields(client.get(ADMIN + "/settings").text, f"{ADMIN}/settings")
    before = config(site)
    fields.update(display_name="Renamed", max_size="abc", subject_prefix="[x]\nBcc: a@b.org")
    r = client.post(ADMIN + "/settings", data=fields)
    assert r.status_code == 400 and "Nothing was saved" in r.text
    assert re.search(r'id="err-max_size">max_size: [^<]*abc[^<]* is not a whole number', r.text)
    assert 'id="err-subject_prefix">subject_prefix: no line breaks' in r.text
    assert 'aria-describedby="help-max_size err-max_size" aria-invalid="true"' in r.text
    assert 'value="abc"' in r.text and 'value="Renamed"' in r.text  # what was typed stays
    assert "err-display_name" not in r.text
    assert config(site) == before and log(site) == []


def test_closing_the_list_stops_requests_to_join(client: TestClient, site: Moot) -> None:
    as_user(client, OWNER)
    r = client.post(ADMIN + "/settings", data={"subscriptions": "closed",
                                               "csrf": token(client, ADMIN + "/settings")})
    assert r.status_code == 200 and config(site).subscriptions == "closed"
    client.cookies.clear()
    r = client.post(f"/l/{LIST}/subscribe", data={"email": "newbie@example.org",
                                                  "csrf": token(client, f"/l/{LIST}/subscribe")})
    assert r.status_code == 403 and "does not take requests" in r.text
    assert mail_to(site, "newbie@example.org") == []


# -- members ------------------------------------------------------------------------------------


def links(page: str) -> dict[str, str]:
    return {m.group(2): m.group(1).replace("&amp;", "&")
            for m in re.finditer(r'<a (?:rel="next" )?href="([^"]+)">([^<]+)</a>', page)}


def listed(page: str) -> list[str]:
    return re.findall(r'<th scope="row">([^<]+)</th>', page)


def test_members_come_a_hundred_a_page(client: TestClient, site: Moot) -> None:
    add_many(site, 250)  # with mem@, mod@ and owner@: 253, sorted by address
    as_user(client, OWNER)
    first = client.get(ADMIN + "/members").text
    shown = listed(first)
    assert shown[:4] == [MEMBER, MOD, OWNER, "user001@example.org"]
    assert len(shown) == 100 and shown[-1] == "user097@example.org"
    assert "Members 1–100 of 253" in first and "First page" not in links(first)
    second = client.get(links(first)["Next page"]).text
    assert listed(second)[0] == "user098@example.org"
    assert listed(second)[-1] == "user197@example.org" and len(listed(second)) == 100
    assert "Members 101–200 of 253" in second and links(second)["First page"] == (
        f"{ADMIN}/members")
    third = client.get(links(second)["Next page"]).text
    assert listed(third) == [f"user{i}@example.org" for i in range(198, 251)]
    assert "Members 201–253 of 253" in third and "Next page" not in links(third)
    # A search finds part of an address, and the role filter one role.
    found = client.get(ADMIN + "/members", params={"q": "R12"}).text
    assert listed(found) == [f"user{i}@example.org" for i in range(120, 130)]
    assert "of 10 that match" in found
    assert listed(client.get(ADMIN + "/members", params={"role": "moderator"}).text) == [MOD]
    assert "No member matches" in client.get(ADMIN + "/members", params={"q": "zzz"}).text


def test_bulk_add_reports_each_address(client: TestClient, site: Moot) -> None:
    from moot.expulsion import ban

    with site.engine.begin() as conn:
        ban(conn, config(site), "*@spam.example", reason="spam", by="test", now=now_utc())
    as_user(client, OWNER)
    paste = ("new1@example.org\n\"Lovelace, Ada\" <Ada@Example.org>, mem@example.org\n"
             "not-an-address\nbad@spam.example\nnew1@example.org\n")
    r = client.post(ADMIN + "/members/add", data={
        "addresses": paste, "welcome": "1", "csrf": token(client, ADMIN + "/members")})
    assert r.status_code == 200
    page = r.text
    assert "Subscribed: 2" in page and "Already members: 1" in page
    assert "Banned, so not added: 1" in page and "Not addresses, so not added: 1" in page
    assert "<code>not-an-address</code>: no @ in it" in page
    after = members_of(site)
    assert "new1@example.org" in after and after["ada@example.org"].name == "Lovelace, Ada"
    assert "bad@spam.example" not in after
    assert mail_to(site, "new1@example.org", "Welcome")
    assert [(e["actor"], e["target"]) for e in log(site) if e["action"] == "member:add"] == [
        (OWNER, "ada@example.org"), (OWNER, "new1@example.org")]
    # Without the welcome box, nobody is welcomed.
    client.post(ADMIN + "/members/add", data={"addresses": "quiet@example.org",
                                              "csrf": token(client, ADMIN + "/members")})
    assert "quiet@example.org" in members_of(site)
    assert mail_to(site, "quiet@example.org") == []


def test_an_invitation_asks_to_confirm_instead(client: TestClient, site: Moot) -> None:
    as_user(client, OWNER)
    r = client.post(ADMIN + "/members/add", data={
        "addresses": "guest@example.org, mem@example.org", "invite": "1", "welcome": "1",
        "csrf": token(client, ADMIN + "/members")})
    assert "Sent an invitation to confirm: 1" in r.text and "Already members: 1" in r.text
    assert "guest@example.org" not in members_of(site)
    [invitation] = mail_to(site, "guest@example.org")
    assert "confirm" in text(invitation).lower()
    assert [e["action"] for e in log(site)] == ["member:invite"]


def test_a_paste_of_more_than_ten_thousand_is_refused(client: TestClient, site: Moot) -> None:
    as_user(client, OWNER)
    paste = "\n".join(f"p{i}@example.org" for i in range(10_001))
    r = client.post(ADMIN + "/members/add", data={"addresses": paste,
                                                  "csrf": token(client, ADMIN + "/members")})
    assert r.status_code == 400 and "10,001 addresses; add at most 10,000" in r.text
    assert len(members_of(site)) == 3


def test_remove_change_and_the_last_owner(client: TestClient, site: Moot) -> None:
    add_many(site, 3)
    as_user(client, OWNER)
    csrf = token(client, ADMIN + "/members")
    r = client.post(ADMIN + "/members/remove", data={
        "email": ["user001@example.org", "user002@example.org"], "goodbye": "1",
        "csrf": csrf, "back": "q=user"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"{ADMIN}/members?q=user&removed=2"
    assert "Removed 2 members." in client.get(r.headers["location"]).text
    assert set(members_of(site)) == {OWNER, MOD, MEMBER, "user003@example.org"}
    assert mail_to(site, "user001@example.org")  # the goodbye box was ticked
    r = client.post(ADMIN + "/members/edit", data={
        "email": "user003@example.org", "role": "moderator", "delivery": "digest",
        "nomail": "1", "csrf": csrf})
    assert r.status_code == 200 and "Saved the options of user003@example.org" in r.text
    changed = members_of(site)["user003@example.org"]
    assert (changed.role, changed.delivery, changed.nomail, changed.moderated) == (
        "moderator", "digest", True, False)
    # The only owner can be neither removed nor demoted.
    r = client.post(ADMIN + "/members/remove", data={"email": [OWNER, MEMBER], "csrf": csrf})
    assert r.status_code == 409 and "last owner of dev@example.org" in r.text
    r = client.post(ADMIN + "/members/edit", data={"email": OWNER, "role": "member",
                                                   "delivery": "regular", "csrf": csrf})
    assert r.status_code == 409 and "last owner" in r.text
    assert members_of(site)[OWNER].role == "owner" and MEMBER in members_of(site)
    # With a second owner, the first may step down.
    client.post(ADMIN + "/members/edit", data={"email": MOD, "role": "owner",
                                               "delivery": "regular", "csrf": csrf})
    r = client.post(ADMIN + "/members/remove", data={"email": [OWNER, MOD], "csrf": csrf})
    assert r.status_code == 409 and "You chose every owner of dev@example.org" in r.text
    r = client.post(ADMIN + "/members/edit", data={"email": OWNER, "role": "member",
                                                   "delivery": "regular", "csrf": csrf},
                    follow_redirects=False)
    assert r.status_code == 303 and members_of(site)[OWNER].role == "member"
    assert client.get(ADMIN + "/members").status_code == 403  # no longer an owner
    assert [(e["actor"], e["action"], e["target"]) for e in reversed(log(site))] == [
        (OWNER, "member:remove", "user001@example.org"),
        (OWNER, "member:remove", "user002@example.org"),
        (OWNER, "member:change", "user003@example.org"),
        (OWNER, "member:change", MOD), (OWNER, "member:change", OWNER)]


def read_csv(body: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body)))


def test_the_csv_has_every_member_and_no_formulas(client: TestClient, site: Moot) -> None:
    add_many(site, 2500)  # more than one batch of the streamed export
    with site.engine.begin() as conn:
        member_store.add_member(conn, config(site).id, Member(
            "calc@example.org", name="=cmd|' /C calc'!A0"), now_utc())
        member_store.add_member(conn, config(site).id, Member(
            "-plus@example.org", name="@SUM(1+1)"), now_utc())
    as_user(client, OWNER)
    r = client.get(ADMIN + "/members.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"] == (
        'attachment; filename="dev.example.org-members.csv"')
    assert r.text.splitlines()[0] == "email,name,role,delivery,nomail,moderated,subscribed_at"
    rows = read_csv(r.text)
    assert len(rows) == 2505
    assert {x["email"] for x in rows} >= {OWNER, MOD, MEMBER, "user2500@example.org"}
    by = {x["email"]: x for x in rows}
    assert by["calc@example.org"]["name"] == "'=cmd|' /C calc'!A0"
    assert by["'-plus@example.org"]["name"] == "'@SUM(1+1)"
    assert by[OWNER]["role"] == "owner" and by[OWNER]["nomail"] == "false"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", by[OWNER]["subscribed_at"])


def test_the_api_exports_csv_and_adds_in_bulk(client: TestClient, site: Moot) -> None:
    with site.engine.begin() as conn:
        from moot.accounts import find_user

        owner_token = create_token(conn, find_user(conn, OWNER).id, "script", now_utc())
        mod_token = create_token(conn, find_user(conn, MOD).id, "script", now_utc())
    auth = {"Authorization": f"Bearer {owner_token}"}
    url = f"/api/v1/lists/{LIST}/members"
    assert client.get(url + ".csv").status_code == 401
    r = client.get(url + ".csv", headers={"Authorization": f"Bearer {mod_token}"})
    assert r.status_code == 403 and "owner" in r.json()["error"]
    r = client.post(url + "/bulk", json={"addresses": "a@example.org"},
                    headers={"Authorization": f"Bearer {mod_token}"})
    assert r.status_code == 403
    r = client.post(url + "/bulk", headers=auth, json={
        "addresses": "a@example.org\nB <b@example.org>\nmem@example.org\nnope", "welcome": False})
    assert r.status_code == 200
    assert r.json() == {"added": ["a@example.org", "b@example.org"],
                        "already": [MEMBER], "invited": [],
                        "invalid": [{"address": "nope", "why": "no @ in it"}], "banned": []}
    r = client.post(url + "/bulk", headers=auth, json={"addresses": "c@example.org",
                                                       "invite": True})
    assert r.json()["invited"] == ["c@example.org"] and mail_to(site, "c@example.org")
    assert client.post(url + "/bulk", headers=auth, json={"addresses": 5}).status_code == 400
    r = client.post(url + "/bulk", headers=auth,
                    json={"addresses": "\n".join(f"x{i}@example.org" for i in range(10_001))})
    assert r.status_code == 400 and "at most 10,000" in r.json()["error"]
    r = client.get(url + ".csv", headers=auth)
    assert r.status_code == 200
    assert [x["email"] for x in read_csv(r.text)] == [
        "a@example.org", "b@example.org", MEMBER, MOD, OWNER]
    assert read_csv(r.text)[1]["name"] == "B"


def test_parse_pasted_reads_names_quotes_and_commas() -> None:
    got = parse_pasted('"Doe; \\"JD\\" Jane" <jane@example.org>; x\n'
                       "  Bob Quill <BOB@example.org>  ,, a@b@c.org\n"
                       "<bare@example.org>\n" + "x" * 330 + "@example.org")
    assert got.addresses == [("jane@example.org", 'Doe; "JD" Jane'),
                             ("bob@example.org", "Bob Quill"), ("bare@example.org", "")]
    assert [why for _, why in got.invalid] == [
        "no @ in it", "more than one @", "longer than 320 characters"]
    assert parse_pasted('"Doe, Jane" <jane@example.org>').addresses == [
        ("jane@example.org", "Doe, Jane")]


# -- held posts ---------------------------------------------------------------------------------


def hold(moot: Moot, message_id: str, *, address: str = LIST, subject: str = "Cheap watches",
         body: str = "Buy now.\n", sender: str = "eve@example.org") -> int:
    """A post from a non-member, held for the moderators; its hold number."""
    raw = make_message(message_id, sender=f"Eve <{sender}>", subject=subject, body=body)
    raw = raw.replace(b"To: list@example.org", f"To: {address}".encode())
    target = parse_recipient(address, {address}.__contains__)
    assert target is not None
    with moot.engine.begin() as conn:
        assert moot.inbound.handle(conn, Job(sender, target, raw)).status == "held"
    with moot.engine.connect() as conn:
        return int(held.waiting(conn, config(moot, address).id)[-1].id)


def test_the_queue_shows_each_post_safely(client: TestClient, site: Moot) -> None:
    first = hold(site, "h1@example.org", subject="Win <b>big</b>",
                 body="<script>alert(1)</script>\nhttps://spam.example/x\n")
    second = hold(site, "h2@example.org", subject="Second")
    as_user(client, MOD)
    r = client.get(ADMIN + "/held")
    page = r.text
    assert r.status_code == 200 and "2 posts waiting" in page
    assert "Win &lt;b&gt;big&lt;/b&gt;" in page and "<b>big</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page
    assert "eve@example.org" in page and "is not a member of dev@example.org" in page
    for n in (first, second):
        assert f'action="{ADMIN}/held/{n}"' in page and f'id="reason-{n}"' in page
    for value, label in (("approve", "Approve"), ("reject", "Reject"), ("discard", "Discard"),
                         ("defer", "Defer"),
                         ("approve+unmoderate", "Approve and unmoderate sender"),
                         ("approve+accept", "Approve and always accept sender")):
        assert f'value="{value}">{label}</button>' in page


def test_deciding_from_the_queue(client: TestClient, site: Moot) -> None:
    approved = hold(site, "ok@example.org", subject="Fine post")
    rejected = hold(site, "no@example.org", subject="Ads")
    elsewhere = hold(site, "ops@example.org", address=OTHER)
    as_user(client, MOD)
    csrf = token(client, ADMIN + "/held")
    r = client.post(f"{ADMIN}/held/{approved}", data={"decision": "approve", "csrf": csrf},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"{ADMIN}/held?decided={approved}"
    page = client.get(r.headers["location"]).text
    assert f"Post #{approved} (Fine post): approve by {MOD}." in page
    assert site.archive.messages_by_id(config(site).id, "ok@example.org")
    assert mail_to(site, MEMBER, "Fine post")  # delivered to the members
    r = client.post(f"{ADMIN}/held/{rejected}", data={
        "decision": "reject", "reason": "no   ads\nhere", "csrf": csrf})
    assert r.status_code == 200 and "Nothing is waiting" in r.text
    [told] = mail_to(site, "eve@example.org", "was not sent")
    assert "no ads here" in text(told)
    assert not site.archive.messages_by_id(config(site).id, "no@example.org")
    # Decided already: said so; another list's post: not found here.
    r = client.post(f"{ADMIN}/held/{rejected}", data={"decision": "approve", "csrf": csrf})
    assert r.status_code == 200 and f"Post #{rejected} (Ads): reject by {MOD}" in r.text
    r = client.post(f"{ADMIN}/held/{elsewhere}", data={"decision": "approve", "csrf": csrf})
    assert r.status_code == 404
    r = client.post(f"{ADMIN}/held/{approved}", data={"decision": "maybe", "csrf": csrf})
    assert r.status_code == 400
    with site.engine.connect() as conn:
        assert [x.id for x in held.waiting(conn, config(site, OTHER).id)] == [elsewhere]
    assert [(e["actor"], e["action"]) for e in reversed(log(site))] == [
        (MOD, "moderate:approve"), (MOD, "moderate:reject")]


def test_defer_keeps_a_post_waiting(client: TestClient, site: Moot) -> None:
    later = hold(site, "later@example.org", subject="Later")
    as_user(client, OWNER)
    r = client.post(f"{ADMIN}/held/{later}", data={"decision": "defer", "csrf": token(
        client, ADMIN + "/held")})
    assert f"Post #{later} (Later) stays in the queue." in r.text
    assert "1 post waiting" in r.text


def test_a_long_queue_comes_a_page_at_a_time(client: TestClient, site: Moot,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from moot.web import admin_pages

    monkeypatch.setattr(admin_pages, "HELD_PER_PAGE", 2)
    ids = [hold(site, f"q{n}@example.org", subject=f"Queued {n}") for n in range(3)]
    as_user(client, MOD)
    first = client.get(ADMIN + "/held").text
    assert "3 posts waiting" in first and "Queued 0" in first and "Queued 1" in first
    assert "Queued 2" not in first and "First page" not in first
    second = client.get(links(first)["Next page"]).text
    assert links(first)["Next page"] == f"{ADMIN}/held?after={ids[1]}"
    assert "Queued 2" in second and "Queued 1" not in second and "Next page" not in second
    assert links(second)["First page"] == f"{ADMIN}/held"
    edited = client.get(ADMIN + "/held?after=junk&decided=-1")  # an edited link: page one
    assert edited.status_code == 200 and "Queued 0" in edited.text


# -- bans and expulsions ------------------------------------------------------------------------


def test_bans_and_expulsions_from_the_page(client: TestClient, site: Moot) -> None:
    as_user(client, MOD)
    csrf = token(client, ADMIN + "/bans")
    r = client.post(ADMIN + "/bans", data={"pattern": "*@Spam.example", "reason": "spam",
                                           "days": "", "csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    page = client.get(r.headers["location"]).text
    assert "Ban added." in page and "<code>*@spam.example</code>" in page
    # The banned address cannot join.
    client.cookies.pop("moot_session")
    client.post(f"/l/{LIST}/subscribe", data={"email": "joe@spam.example",
                                              "csrf": token(client, f"/l/{LIST}/subscribe")})
    assert mail_to(site, "joe@spam.example") == []
    as_user(client, MOD)
    csrf = token(client, ADMIN + "/bans")
    # A bad pattern is refused on the page, with what was typed.
    r = client.post(ADMIN + "/bans", data={"pattern": "^(a+)+@x\\.org$", "reason": "r",
                                           "days": "3", "csrf": csrf})
    assert r.status_code == 400 and "can take forever" in r.text
    assert 'value="^(a+)+@x\\.org$"' in r.text and 'value="3"' in r.text
    r = client.post(ADMIN + "/bans", data={"pattern": "a@b.org", "days": "soon",
                                           "csrf": csrf})
    assert r.status_code == 400 and "Days is a number" in r.text
    r = client.post(ADMIN + "/bans", data={"pattern": "*@spam.example", "csrf": csrf})
    assert r.status_code == 409 and "already banned" in r.text
    # Expel a member: gone, banned, told why.
    r = client.post(ADMIN + "/bans/expel", data={"email": MEMBER, "reason": "abuse",
                                                 "notify": "1", "appeal": "", "csrf": csrf})
    assert r.status_code == 200 and "Expelled" in r.text
    assert MEMBER not in members_of(site)
    [told] = mail_to(site, MEMBER)
    assert "abuse" in text(told)
    assert "expulsion" in r.text and f'name="email" value="{MEMBER}"' in r.text
    r = client.post(ADMIN + "/bans/expel", data={"email": "x@example.org", "reason": "",
                                                 "csrf": csrf})
    assert r.status_code == 400 and "needs a reason" in r.text
    # A moderator cannot put an owner out; an owner cannot put out the last owner.
    r = client.post(ADMIN + "/bans/expel", data={"email": OWNER, "reason": "coup",
                                                 "csrf": csrf})
    assert r.status_code == 400 and "only an owner may expel an owner" in r.text
    as_user(client, OWNER)
    r = client.post(ADMIN + "/bans/expel", data={"email": OWNER, "reason": "tired",
                                                 "csrf": token(client, ADMIN + "/bans")})
    assert r.status_code == 400 and "last owner" in r.text
    assert members_of(site)[OWNER].role == "owner"
    as_user(client, MOD)
    csrf = token(client, ADMIN + "/bans")
    r = client.post(ADMIN + "/bans/readmit", data={"email": MEMBER, "csrf": csrf})
    assert "Readmitted" in r.text and f"<code>{MEMBER}</code>" not in r.text
    r = client.post(ADMIN + "/bans/lift", data={"pattern": "*@spam.example", "csrf": csrf})
    assert "Ban lifted." in r.text and "No bans." in r.text
    r = client.post(ADMIN + "/bans/lift", data={"pattern": "*@spam.example", "csrf": csrf})
    assert r.status_code == 400 and "is not banned" in r.text
    assert [(e["actor"], e["action"]) for e in reversed(log(site))] == [
        (MOD, "ban"), (MOD, "expel"), (MOD, "readmit"), (MOD, "unban")]


# -- the audit log ------------------------------------------------------------------------------


def listed_audit(page: str) -> list[tuple[str, ...]]:
    """(who, what, target, detail) of each row of the audit log's table."""
    return re.findall(r"<tr><td><time[^>]*>[^<]+</time></td><td>([^<]*)</td><td>([^<]*)</td>"
                      r"<td>([^<]*)</td><td>([^<]*)</td></tr>", page)


def test_the_audit_log_names_who_did_what(client: TestClient, site: Moot) -> None:
    as_user(client, OWNER)
    csrf = token(client, ADMIN + "/members")
    client.post(ADMIN + "/members/add", data={
        "addresses": "\n".join(f"a{i:03d}@example.org" for i in range(120)), "csrf": csrf})
    client.post(ADMIN + "/bans", data={"pattern": "*@spam.example", "reason": "spam <now>",
                                       "csrf": csrf})
    as_user(client, MOD)
    page = client.get(ADMIN + "/audit").text
    rows = listed_audit(page)
    assert len(rows) == 100
    assert rows[0] == (OWNER, "ban", "*@spam.example", "spam &lt;now&gt;")
    assert rows[1] == (OWNER, "member:add", "a119@example.org", "no welcome message")
    older = links(page)["Older entries"]
    rest = client.get(older).text
    assert "a000@example.org" in rest and "Older entries" not in rest
    assert "Newest entries" in rest
    assert listed_audit(client.get(ADMIN + "/audit?before=soon").text) == rows
