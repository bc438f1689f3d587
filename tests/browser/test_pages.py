"""The pages in a real browser: they work with JavaScript turned off (logging in, joining, the
subscribe form and its confirmation), each has one h1 and a label for every field, none asks
for a script, and the reading pages fit a phone's width."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.browser.conftest import PHONE, log_in
from tests.inbound.test_end_to_end import LIST, Server, post

pytestmark = pytest.mark.browser

LONG_SUBJECT = ("A rather long subject line about the configuration of the nightly build "
                "machines and what to do when they fail")
LONG_BODY = ("See https://builds.example.org/nightly/2026/03/02/logs/" + "x" * 120 + ".txt\n\n"
             + "averyveryverylongwordwithoutanyspacesthatmustwrap" * 4 + "\n\n"
             + "    an indented line of code, as people paste them " * 3 + "\n")
# Fields a person fills in or picks; hidden fields and buttons are not asked to have labels.
UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(el => !['hidden', 'submit', 'button', 'reset', 'image'].includes(el.type))
  .filter(el => el.labels.length === 0 && !el.getAttribute('aria-label')
                && !el.getAttribute('aria-labelledby'))
  .map(el => el.outerHTML)"""


def seed(server: Server) -> None:
    """A thread of two posts, one of them long and unbroken, and one post held for a
    moderator."""
    for raw in (post("p1@example.org", subject=LONG_SUBJECT, body=LONG_BODY),
                post("p2@example.org", sender="Owner <owner@example.org>",
                     subject="Re: " + LONG_SUBJECT, body="Agreed.\n")
                .replace(b"MIME-Version", b"In-Reply-To: <p1@example.org>\nMIME-Version")):
        sender = "owner@example.org" if b"p2@" in raw else "bob@example.org"
        assert server.lmtp(sender, [LIST], raw)[LIST][0] == 250
    held = post("h1@example.org", sender="eve@example.org", subject="Cheap watches")
    assert server.lmtp("eve@example.org", [LIST], held)[LIST][0] == 250


def test_log_in_and_join_work_without_javascript(server: Server,
                                                 new_context: Callable[..., Any],
                                                 accounts: Callable[..., None]) -> None:
    accounts("carol@example.org")
    page = new_context(java_script_enabled=False).new_page()
    log_in(page, "carol@example.org")
    page.goto(f"/l/{LIST}/")
    join = page.locator('form[action$="/join"]')
    assert join.count() == 1, "a logged-in visitor sees no join form on the list page"
    join.get_by_role("button", name="Join").click()
    page.wait_for_load_state()
    r = server.cli("member", "ls", LIST, "--json")
    assert '"carol@example.org"' in r.stdout.decode()


def test_subscribe_form_and_its_confirmation_work_without_javascript(
        server: Server, new_context: Callable[..., Any]) -> None:
    page = new_context(java_script_enabled=False).new_page()
    page.goto(f"/l/{LIST}/subscribe")
    page.get_by_label("Your email address").first.fill("dan@example.org")
    page.get_by_role("button", name="Send me a confirmation").click()
    assert "Check your mail" in page.inner_text("main")
    ask = server.sink.to("dan@example.org", "confirm")
    text = ask.get_payload(decode=True).decode()
    link = re.search(rf"{re.escape(server.base)}/confirm/\S+", text)
    assert link, text
    page.goto(link.group(0))
    page.get_by_role("button", name="Confirm").click()
    assert "now subscribed" in page.inner_text("main")
    server.sink.to("dan@example.org", "Welcome")


def main_pages(page: Any) -> list[str]:
    """The pages a reader, a member and an owner of the list see most (the month's page is
    found from the list page's links)."""
    page.goto(f"/l/{LIST}/")
    month = page.locator("aside.months a").first.get_attribute("href")
    assert month
    return ["/", f"/l/{LIST}/", month, f"/l/{LIST}/t/p1@example.org/",
            f"/l/{LIST}/m/p1@example.org/", "/search?q=build", f"/l/{LIST}/subscribe",
            "/login", "/signup", "/reset", "/me", f"/l/{LIST}/post",
            f"/l/{LIST}/admin/", f"/l/{LIST}/admin/held", f"/l/{LIST}/admin/bans",
            f"/l/{LIST}/admin/audit", f"/l/{LIST}/admin/settings",
            f"/l/{LIST}/admin/members", f"/l/{LIST}/admin/templates"]


def test_main_pages_have_one_h1_labelled_fields_and_no_scripts(
        server: Server, new_context: Callable[..., Any], accounts: Callable[..., None]) -> None:
    seed(server)
    accounts("owner@example.org")
    context = new_context()
    scripts: list[str] = []
    failed: list[str] = []  # stylesheets, images... that did not load

    def seen(response: Any) -> None:
        kind = response.request.resource_type
        if kind == "script":
            scripts.append(response.url)
        # No favicon is served; browsers ask for one on their own, and that is not the page's.
        elif (kind != "document" and response.status >= 400
              and not response.url.endswith("/favicon.ico")):
            failed.append(f"{response.url}: HTTP {response.status}")

    context.on("response", seen)
    context.on("requestfailed", lambda r: failed.append(f"{r.url}: {r.failure}"))
    refused: list[str] = []
    page = context.new_page()
    page.on("console", lambda m: refused.append(f"{page.url}: {m.text}")
            if "Content Security Policy" in m.text or "Refused" in m.text else None)
    pages = main_pages(page)
    problems: list[str] = []
    for anonymous in (True, False):
        if not anonymous:
            log_in(page, "owner@example.org")
        for path in pages:
            if anonymous and (path in ("/me", f"/l/{LIST}/post") or "/admin/" in path):
                continue  # for members and owners only
            response = page.goto(path)
            who = "anonymous" if anonymous else "owner"
            if response is None or response.status != 200:
                problems.append(f"{path} ({who}): HTTP {response.status if response else '?'}")
                continue
            h1 = page.locator("h1").count()
            if h1 != 1:
                problems.append(f"{path} ({who}): {h1} h1 elements, not one")
            for field in page.evaluate(UNLABELLED):
                problems.append(f"{path} ({who}): a field without a label: {field}")
            csp = response.headers.get("content-security-policy", "")
            if "default-src 'none'" not in csp or "script-src" in csp:
                problems.append(f"{path} ({who}): Content-Security-Policy allows scripts: {csp}")
    assert not scripts, f"pages asked for scripts: {scripts}"
    assert not refused, f"the browser refused something the page asked for: {refused}"
    assert not failed, f"parts of pages did not load: {failed}"
    assert not problems, "\n".join(problems)


def test_reading_pages_fit_a_phone(server: Server, new_context: Callable[..., Any]) -> None:
    seed(server)
    page = new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    too_wide: list[str] = []
    for path in (f"/l/{LIST}/", f"/l/{LIST}/t/p1@example.org/", f"/l/{LIST}/m/p1@example.org/"):
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        assert LONG_SUBJECT in page.inner_text("main")
        width = page.evaluate("document.scrollingElement.scrollWidth")
        if width > PHONE["width"] + 2:
            too_wide.append(f"{path}: {width} px wide on a {PHONE['width']} px screen")
    assert not too_wide, "\n".join(too_wide)
