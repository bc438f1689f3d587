"""The whole story in a real browser, against a real ``moot serve``: a person signs up, confirms
the account from the mail it gets, logs in, joins a moderated list and posts to it from the
web; a moderator, in a browser of their own, approves the post; the post is then in the
archive and in the members' mailboxes.  The main pages are screenshotted on the way into
docs/screenshots/."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.browser.conftest import PASSWORD, PHONE, log_in, shot
from tests.inbound.test_end_to_end import LIST, Server

pytestmark = pytest.mark.browser

NEWCOMER = "newcomer@example.org"
SUBJECT = "Proposal: weekly release notes"
BODY = "Hello all,\n\nshall we write short release notes every week?\n\nNew here"


def members(server: Server) -> list[str]:
    r = server.cli("member", "ls", LIST, "--json")
    assert r.returncode == 0, r.stderr
    return [m["email"] for m in json.loads(r.stdout)["members"]]


def mail_text(msg: Any) -> str:
    payload = msg.get_payload(decode=True)
    return payload.decode("utf-8", "replace") if payload else str(msg.get_payload())


def test_sign_up_join_post_moderate_and_read(server: Server, new_context: Callable[..., Any],
                                             accounts: Callable[..., None]) -> None:
    r = server.cli("list", "set", LIST, "posting_policy=moderated")
    assert r.returncode == 0, r.stderr
    accounts("mod@example.org", "owner@example.org")  # both already on the list's roster

    # -- sign up, confirm from the mail, log in ---------------------------------------------
    page = new_context().new_page()
    page.goto("/signup")
    shot(page, "signup.png")
    page.get_by_label("Email address").fill(NEWCOMER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    assert "Check your mail" in page.inner_text("main")

    mail = server.sink.to(NEWCOMER, "Confirm your account")
    link = re.search(rf"{re.escape(server.base)}/signup/confirm/\S+", mail_text(mail))
    assert link, mail_text(mail)
    page.goto(link.group(0))
    page.get_by_role("button", name="Confirm").click()
    assert "Your account is confirmed" in page.inner_text("main")
    log_in(page, NEWCOMER)

    # -- join the list from its page ------------------------------------------------------------
    page.goto(f"/l/{LIST}/")
    join = page.locator('form[action$="/join"]')
    assert join.count() == 1, "a logged-in visitor sees no join form on the list page"
    assert join.locator('[name="address"]').count() == 1
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        join.get_by_role("button", name="Join").click()
    assert answer.value.status < 400, answer.value.status
    page.wait_for_load_state()
    assert NEWCOMER in members(server)

    # -- post; the list is moderated, so it waits ----------------------------------------------
    page.goto(f"/l/{LIST}/post")
    shot(page, "post.png")
    page.get_by_label("Subject").fill(SUBJECT)
    # The form's words: "Body" or "Message" for the text, "Post" or "Send" on the button.
    page.get_by_role("textbox", name=re.compile(r"^(body|message)", re.I)).fill(BODY)
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name=re.compile(r"^(post|send)", re.I)).click()
    assert answer.value.status < 400, answer.value.status
    page.wait_for_load_state()
    said = page.inner_text("main")
    assert re.search(r"wait", said, re.I) and re.search(r"moderat", said, re.I), said
    assert SUBJECT not in page.goto(f"/l/{LIST}/").text()  # not archived yet

    # -- a moderator approves it, in a browser of their own -----------------------------------
    mod = new_context().new_page()
    log_in(mod, "mod@example.org")
    mod.goto(f"/l/{LIST}/admin/held")
    assert SUBJECT in mod.inner_text("main")
    shot(mod, "held.png")
    held = mod.locator("form").filter(has=mod.locator('[name="decision"][value="approve"]'))
    assert held.count() == 1, "one held post, one form with an Approve button"
    with mod.expect_response(lambda r: r.request.method == "POST") as answer:
        held.get_by_role("button", name="Approve", exact=True).click()
    assert answer.value.status < 400, answer.value.status
    mod.wait_for_load_state()
    assert held.count() == 0, "the approved post still waits"

    # -- the members get it by mail --------------------------------------------------------------
    for rcpt in ("bob@example.org", NEWCOMER):
        copy = server.sink.wait_for(lambda f, rs, m, rcpt=rcpt: rcpt in rs
                                    and m["Subject"] == f"[dev] {SUBJECT}")
        assert "release notes every week" in mail_text(copy)

    # -- and it is in the archive: list page, thread page, message page ------------------------
    deadline = time.monotonic() + 10
    while SUBJECT not in page.goto(f"/l/{LIST}/").text():
        assert time.monotonic() < deadline, "the approved post never reached the list page"
        time.sleep(0.2)
    shot(page, "list.png")
    page.get_by_role("link", name=SUBJECT).click()
    page.wait_for_load_state()
    assert "/t/" in page.url
    assert page.get_by_role("heading", level=1).inner_text() == SUBJECT
    shot(page, "thread.png")
    page.locator("ol.thread article header a").first.click()
    page.wait_for_load_state()
    assert "/m/" in page.url
    assert page.get_by_role("heading", level=1).inner_text() == SUBJECT
    assert "release notes every week" in page.inner_text("main")
    shot(page, "message.png")

    phone = new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    phone.goto(f"/l/{LIST}/")
    assert SUBJECT in phone.inner_text("main")
    shot(phone, "list-phone.png", full_page=False)

    # -- the member's own page, and the owner's pages --------------------------------------------
    page.goto("/me")
    assert LIST in page.inner_text("main")
    shot(page, "me.png")
    owner = new_context().new_page()
    log_in(owner, "owner@example.org")
    owner.goto(f"/l/{LIST}/admin/members")
    assert NEWCOMER in owner.inner_text("main")
    shot(owner, "admin-members.png")
    owner.goto(f"/l/{LIST}/admin/settings")
    # The form shows the setting made with `moot list set` before.
    assert owner.locator('select[name="posting_policy"]').input_value() == "moderated"
    shot(owner, "admin-settings.png")
